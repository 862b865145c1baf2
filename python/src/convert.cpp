// Conversions between libh4mk's types and Python's.
#include "binding.hpp"

namespace h4mk::python {

BlockType block_type(const py::object& t) {
  if (py::isinstance<py::str>(t)) {
    const std::string s = t.cast<std::string>();
    if (s == "I") return BlockType::kI;
    if (s == "P") return BlockType::kP;
    if (s == "B") return BlockType::kB;
  } else if (py::isinstance<py::int_>(t)) {
    const int v = t.cast<int>();
    if (v >= 0 && v <= 2) return BlockType(v);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "block type is 'I', 'P' or 'B' (or 0, 1, 2); got " + py::repr(t).cast<std::string>());
}

SeekMode seek_mode(const std::string& mode) {
  if (mode == "key_before") return SeekMode::kKeyBefore;
  if (mode == "key_after") return SeekMode::kKeyAfter;
  if (mode == "any_before") return SeekMode::kAnyBefore;
  throw Error(ErrorCode::kInvalidArgument,
              "seek mode is 'key_before', 'key_after' or 'any_before'; got '" + mode + "'");
}

MaskKey mask_key(const py::object& key) {
  if (py::isinstance<py::str>(key)) return parse_mask_key_hex(key.cast<std::string>());
  const std::string bytes = py::bytes(key).cast<std::string>();
  if (bytes.size() != kMaskKeySize)
    throw Error(ErrorCode::kInvalidArgument, "a mask key is 32 bytes (or 64 hex digits); got " +
                                                 std::to_string(bytes.size()) + " bytes");
  MaskKey k;
  std::memcpy(k.data(), bytes.data(), k.size());
  return k;
}

ByteBuffer::ByteBuffer(const py::handle& obj) {
  // PyBUF_FULL_RO: the exporter describes its layout (strides, suboffsets)
  // instead of refusing, and the layout decides whether to copy.
  if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_FULL_RO) != 0) throw py::error_already_set();
  const size_t n = size_t(view_.len);
  if (PyBuffer_IsContiguous(&view_, 'C')) {
    bytes_ = {static_cast<const uint8_t*>(view_.buf), n};
    return;
  }
  try {
    copy_.resize(n);
  } catch (...) {
    PyBuffer_Release(&view_);
    throw;
  }
  if (PyBuffer_ToContiguous(copy_.data(), &view_, view_.len, 'C') != 0) {
    PyBuffer_Release(&view_);
    throw py::error_already_set();
  }
  bytes_ = copy_;
}

ByteBuffer::~ByteBuffer() { PyBuffer_Release(&view_); }

IntArray integers(const py::handle& obj, const char* name) {
  auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, std::string(name) + " " + why);
  };
  py::array a;
  try {
    a = py::array::ensure(obj);
  } catch (const py::error_already_set&) {
  }
  if (!a) refuse("must be a sequence or array of integers");
  if (a.ndim() != 1)
    refuse("must be one-dimensional; it has " + std::to_string(a.ndim()) + " dimensions");
  const char kind = a.dtype().kind();
  if (a.size() == 0) return IntArray(py::array_t<int64_t, py::array::c_style>(0));
  if (kind != 'i' && kind != 'u')
    refuse("must hold integers; it holds " + py::str(a.dtype()).cast<std::string>() +
           " (convert it explicitly, e.g. with numpy's astype, if that is meant)");
  if (kind == 'u' && a.itemsize() == 8) {
    const auto u = py::array_t<uint64_t, py::array::c_style | py::array::forcecast>::ensure(a);
    for (py::ssize_t i = 0; i < u.size(); ++i)
      if (u.data()[i] > uint64_t(INT64_MAX))
        throw Error(ErrorCode::kInvalidArgument, std::string(name) + "[" + std::to_string(i) +
                                                     "] = " + std::to_string(u.data()[i]) +
                                                     " does not fit int64");
  }
  return IntArray(py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a));
}

py::dict block_dict(const BlockInfo& info) {
  py::dict d;
  d["track"] = info.track_id;
  d["type"] = block_type_name(info.type);
  d["pts"] = info.pts;
  d["dts"] = info.dts;
  d["duration"] = info.duration;
  d["masked"] = info.masked;
  d["discardable"] = info.discardable;
  return d;
}

py::dict track_dict(const Track& t) {
  py::dict d;
  d["id"] = t.id;
  d["kind"] = track_kind_name(t.kind);
  d["codec"] = t.codec;
  d["time_base"] = py::make_tuple(t.time_base.num, t.time_base.den);
  d["name"] = t.name;
  d["language"] = t.language;
  d["channel_layout"] = t.channel_layout;
  d["adapter"] = t.adapter;
  d["sample_rate"] = t.sample_rate;
  d["channels"] = t.channels;
  d["width"] = t.width;
  d["height"] = t.height;
  d["frame_rate"] = py::make_tuple(t.frame_rate.num, t.frame_rate.den);
  d["default_duration"] = t.default_duration;
  d["extradata"] = py::bytes(reinterpret_cast<const char*>(t.extradata.data()), t.extradata.size());
  d["notes"] = t.notes;
  d["tags"] = t.tags;
  d["max_chain_blocks"] = t.max_chain_blocks;
  d["masked"] = t.mask.has_value();
  d["compressed"] = t.compression.has_value();
  d["extra_json"] = t.extra_json;
  return d;
}

Track track_from(const py::handle& spec) {
  Track t;
  auto get = [&](const char* name) { return spec.attr(name); };
  t.id = get("id").cast<uint16_t>();
  t.kind = track_kind_from_name(get("kind").cast<std::string>());
  t.codec = get("codec").cast<std::string>();
  auto tb = get("time_base").cast<std::pair<int64_t, int64_t>>();
  t.time_base = {tb.first, tb.second};
  t.name = get("name").cast<std::string>();
  t.language = get("language").cast<std::string>();
  t.channel_layout = get("channel_layout").cast<std::string>();
  t.adapter = get("adapter").cast<std::string>();
  t.sample_rate = get("sample_rate").cast<uint32_t>();
  t.channels = get("channels").cast<uint32_t>();
  t.width = get("width").cast<uint32_t>();
  t.height = get("height").cast<uint32_t>();
  auto fr = get("frame_rate").cast<std::pair<int64_t, int64_t>>();
  t.frame_rate = {fr.first, fr.second};
  t.default_duration = get("default_duration").cast<int64_t>();
  const std::string extradata = py::bytes(get("extradata")).cast<std::string>();
  t.extradata.assign(extradata.begin(), extradata.end());
  t.notes = get("notes").cast<std::string>();
  t.tags = get("tags").cast<std::map<std::string, std::string>>();
  t.max_chain_blocks = get("max_chain_blocks").cast<uint32_t>();
  return t;
}

py::list damage_list(const std::vector<Damage>& damage) {
  py::list out;
  for (const Damage& d : damage) {
    py::dict e;
    e["offset"] = d.offset;
    e["length"] = d.length;
    e["code"] = code_id(d.code);
    e["message"] = d.message;
    out.append(e);
  }
  return out;
}

}  // namespace h4mk::python
