// The h4mk Python package's native core: libh4mk's Reader, Writer and
// verify behind pybind11. Everything about the format is libh4mk's; this file
// converts between its types and Python's, and turns h4mk::Error into the
// package's exceptions (h4mk/errors.py) with their code and file offset.
// The GIL is held throughout: sources and sinks may call back into Python.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "h4mk/adapter.hpp"
#include "h4mk/decode.hpp"
#include "h4mk/h4mk.hpp"
#include "h4mk/rewrite.hpp"
#include "h4mk/transport.hpp"

namespace py = pybind11;
using namespace h4mk;

namespace {

// The code names the Python exceptions are chosen by (h4mk/errors.py).
const char* code_id(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kEndOfStream:
      return "end_of_stream";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kBadMagic:
      return "bad_magic";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorCode::kCrcMismatch:
      return "crc_mismatch";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kLimitExceeded:
      return "limit_exceeded";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kNotSeekable:
      return "not_seekable";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kOutOfMemory:
      return "out_of_memory";
    case ErrorCode::kBadState:
      return "bad_state";
    case ErrorCode::kVerifyFailed:
      return "verify_failed";
    case ErrorCode::kKeyMismatch:
      return "key_mismatch";
    case ErrorCode::kAuthFailed:
      return "auth_failed";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

// --- Python file objects as Source and Sink ---------------------------------

// A binary file object: read(n); seek/tell where seekable() says so.
class PyFileSource final : public Source {
 public:
  explicit PyFileSource(py::object file) : file_(std::move(file)) {
    seekable_ = py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>();
    if (seekable_) {
      const int64_t here = file_.attr("tell")().cast<int64_t>();
      size_ = uint64_t(file_.attr("seek")(0, 2).cast<int64_t>());
      file_.attr("seek")(here);
    }
  }
  size_t read(std::span<uint8_t> buf) override {
    py::object got = file_.attr("read")(buf.size());
    py::buffer_info info = py::buffer(got).request();
    const size_t n = size_t(info.size * info.itemsize);
    if (n > buf.size()) throw Error(ErrorCode::kIo, "read() returned more bytes than asked for");
    std::memcpy(buf.data(), info.ptr, n);
    return n;
  }
  bool seekable() const override { return seekable_; }
  void seek(uint64_t offset) override { file_.attr("seek")(offset); }
  std::optional<uint64_t> size() const override { return size_; }

 private:
  py::object file_;
  bool seekable_ = false;
  std::optional<uint64_t> size_;
};

class PyFileSink final : public Sink {
 public:
  explicit PyFileSink(py::object file) : file_(std::move(file)) {
    seekable_ = py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>();
    if (seekable_) start_ = file_.attr("tell")().cast<uint64_t>();
  }
  void write(std::span<const uint8_t> data) override {
    file_.attr("write")(py::memoryview::from_memory(data.data(), ssize_t(data.size())));
  }
  void flush() override {
    if (py::hasattr(file_, "flush")) file_.attr("flush")();
  }
  bool seekable() const override { return seekable_; }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override {
    py::object end = file_.attr("tell")();
    file_.attr("seek")(start_ + offset);
    write(data);
    file_.attr("seek")(end);
  }

 private:
  py::object file_;
  bool seekable_ = false;
  uint64_t start_ = 0;
};

// --- conversions ------------------------------------------------------------

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

// A contiguous byte view of any buffer (bytes, bytearray, memoryview, numpy).
std::span<const uint8_t> byte_view(const py::buffer& b, py::buffer_info& info) {
  info = b.request();
  py::ssize_t step = info.itemsize;
  for (py::ssize_t i = info.ndim - 1; i >= 0; --i) {
    if (info.shape[size_t(i)] > 1 && info.strides[size_t(i)] != step)
      throw Error(ErrorCode::kInvalidArgument, "a payload buffer must be C-contiguous");
    step *= info.shape[size_t(i)];
  }
  return {static_cast<const uint8_t*>(info.ptr), size_t(info.size * info.itemsize)};
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

// A block as read, as a struct sequence (a named tuple built in C): a dict
// and a Python constructor per block cost 6 us, pybind11 properties 190 ns a
// field read; this is a tuple's cost.
PyStructSequence_Field kBlockFields[] = {
    {"track", "track id"},
    {"type", "'I', 'P' or 'B'"},
    {"pts", "presentation time, in the track's ticks"},
    {"dts", "decode time, in the track's ticks"},
    {"duration", "in ticks; 0 when unknown"},
    {"data", "the payload (bytes)"},
    {"side_data", "side data entries (bytes; FORMAT.md 5.4), empty if none"},
    {"masked", "the payload is an h4mask envelope (the reader has no key for it)"},
    {"discardable", "the block may be dropped without affecting others"},
    {"damaged", "its group's CRC failed or a cut ended it (Reader(damaged_blocks=True))"},
    {"offset", "file offset of the payload"},
    {"chunk_offset", "file offset of the CORE chunk holding it"},
    {"index_in_group", "its position in that chunk's group"},
    {nullptr, nullptr}};
PyStructSequence_Desc kBlockDesc = {
    "h4mk.Block", "One block as read: its track, type, timing in the track's ticks and payload.",
    kBlockFields, 13};
PyTypeObject* g_block_type = nullptr;
PyObject* g_type_names[3] = {};

py::object make_block(const Block& b) {
  PyObject* o = PyStructSequence_New(g_block_type);
  if (!o) throw py::error_already_set();
  auto set = [&](int i, PyObject* v) {
    if (!v) {
      Py_DECREF(o);
      throw py::error_already_set();
    }
    PyStructSequence_SetItem(o, i, v);
  };
  auto flag = [](bool v) { return Py_NewRef(v ? Py_True : Py_False); };
  set(0, PyLong_FromUnsignedLong(b.info.track_id));
  set(1, Py_NewRef(g_type_names[int(b.info.type)]));
  set(2, PyLong_FromLongLong(b.info.pts));
  set(3, PyLong_FromLongLong(b.info.dts));
  set(4, PyLong_FromLongLong(b.info.duration));
  set(5, PyBytes_FromStringAndSize(reinterpret_cast<const char*>(b.data.data()),
                                   Py_ssize_t(b.data.size())));
  set(6, PyBytes_FromStringAndSize(reinterpret_cast<const char*>(b.side_data.data()),
                                   Py_ssize_t(b.side_data.size())));
  set(7, flag(b.info.masked));
  set(8, flag(b.info.discardable));
  set(9, flag(b.damaged));
  set(10, PyLong_FromUnsignedLongLong(b.data_offset));
  set(11, PyLong_FromUnsignedLongLong(b.chunk_offset));
  set(12, PyLong_FromUnsignedLong(b.index_in_group));
  return py::reinterpret_steal<py::object>(o);
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
  d["masked"] = t.mask.has_value();
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
  return t;
}

// --- Reader -----------------------------------------------------------------

// A sink for a path (str or os.PathLike) or a binary file object.
std::unique_ptr<Sink> open_sink(const py::object& target) {
  if (py::isinstance<py::str>(target) || py::hasattr(target, "__fspath__"))
    return std::make_unique<FileSink>(
        py::module_::import("os").attr("fsdecode")(target).cast<std::string>());
  if (py::hasattr(target, "write")) return std::make_unique<PyFileSink>(target);
  throw Error(ErrorCode::kInvalidArgument, "a path or a binary file object is needed to write to");
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

// A source for a path (str or os.PathLike), a bytes-like object (kept alive
// in `keep`, its memory read in place) or a binary file object.
std::unique_ptr<Source> open_source(const py::object& source, py::object& keep,
                                    py::buffer_info& buffer) {
  if (py::isinstance<py::str>(source) || py::hasattr(source, "__fspath__"))
    return std::make_unique<FileSource>(
        py::module_::import("os").attr("fsdecode")(source).cast<std::string>());
  if (PyObject_CheckBuffer(source.ptr())) {
    keep = source;
    buffer = py::buffer(source).request();
    return std::make_unique<MemorySource>(std::span<const uint8_t>(
        static_cast<const uint8_t*>(buffer.ptr), size_t(buffer.size * buffer.itemsize)));
  }
  if (py::hasattr(source, "read")) return std::make_unique<PyFileSource>(source);
  throw Error(ErrorCode::kInvalidArgument,
              "a path, a bytes-like object or a binary file object is needed");
}

class PyReader {
 public:
  // `source`: a path (str or os.PathLike), a bytes-like object, or a binary
  // file object.
  PyReader(py::object source, bool damaged_blocks) : source_(open_source(source, keep_, buffer_)) {
    reader_ = std::make_unique<Reader>(*source_);
    if (damaged_blocks) reader_->hand_out_damaged_groups(true);
  }

  Reader& r() {
    if (!reader_) throw Error(ErrorCode::kBadState, "the reader is closed");
    return *reader_;
  }
  void close() {
    reader_.reset();
    source_.reset();
    keep_ = py::none();
  }

  py::list tracks() {
    py::list out;
    for (const Track& t : r().tracks()) out.append(track_dict(t));
    return out;
  }

  // The next block, or None at the end; damage is recorded, not returned.
  py::object next_block() {
    Block b;
    for (;;) {
      switch (r().next(b)) {
        case ReadEvent::kBlock:
          return make_block(b);
        case ReadEvent::kDamage:
          continue;
        case ReadEvent::kEnd:
          return py::none();
      }
    }
  }

  py::list damage() { return damage_list(r().damage()); }

  py::dict seek(uint16_t track, int64_t t, const std::string& mode, bool all) {
    BlockInfo landed;
    const SeekPoint p = all ? r().seek_all(track, t, seek_mode(mode), &landed)
                            : r().seek(track, t, seek_mode(mode));
    py::dict d;
    d["track"] = p.track_id;
    d["pts"] = p.pts;
    d["dts"] = p.dts;
    d["chunk_offset"] = p.chunk_offset;
    d["index_in_group"] = p.index_in_group;
    return d;
  }

  py::list chain(uint16_t track, int64_t t) {
    py::list out;
    for (const ChainLink& link : r().decode_chain(track, t)) {
      py::dict d = block_dict(link.info);
      d["data"] =
          py::bytes(reinterpret_cast<const char*>(link.payload.data()), link.payload.size());
      d["chunk_offset"] = link.chunk_offset;
      d["index_in_group"] = link.index_in_group;
      out.append(d);
    }
    return out;
  }

  // One track as arrays, read from the start: timing, types, flags, and
  // every payload back to back in one buffer (offsets into it).
  py::dict read_track(uint16_t track) {
    std::vector<int64_t> pts, dts, duration;
    std::vector<uint8_t> types, flags;
    std::vector<uint64_t> offsets{0};
    std::vector<uint8_t> payload;
    // Sized from the file's own count where it has one (HINT or index;
    // reading the index moves the reader, hence the rewind after):
    // growing the arrays block by block was most of the time.
    if (const auto summary = r().summary(track)) {
      const size_t n = size_t(std::min<uint64_t>(summary->block_count, uint64_t(1) << 26));
      for (auto* v : {&pts, &dts, &duration}) v->reserve(n);
      types.reserve(n);
      flags.reserve(n);
      offsets.reserve(n + 1);
    }
    // The payloads fit in the file: reserving its size (address space; the
    // pages are touched only as they are written) spares the regrowth.
    if (const auto size = source_->size())
      payload.reserve(size_t(std::min<uint64_t>(*size, uint64_t(1) << 34)));
    r().rewind();
    Block b;
    for (ReadEvent ev; (ev = r().next(b)) != ReadEvent::kEnd;) {
      if (ev != ReadEvent::kBlock || b.info.track_id != track) continue;
      pts.push_back(b.info.pts);
      dts.push_back(b.info.dts);
      duration.push_back(b.info.duration);
      types.push_back(uint8_t(b.info.type));
      flags.push_back(
          uint8_t((b.info.masked ? 1 : 0) | (b.info.discardable ? 2 : 0) | (b.damaged ? 4 : 0)));
      payload.insert(payload.end(), b.data.begin(), b.data.end());
      offsets.push_back(payload.size());
    }
    r().rewind();
    // Each vector handed to numpy as it is: the array owns it, no copy.
    auto array = [](auto&& v) {
      using V = std::decay_t<decltype(v)>;
      auto* owned = new V(std::move(v));
      py::capsule free_it(owned, [](void* p) { delete static_cast<V*>(p); });
      return py::array_t<typename V::value_type>(py::ssize_t(owned->size()), owned->data(),
                                                 free_it);
    };
    py::dict d;
    d["pts"] = array(std::move(pts));
    d["dts"] = array(std::move(dts));
    d["duration"] = array(std::move(duration));
    d["types"] = array(std::move(types));
    d["flags"] = array(std::move(flags));
    d["offsets"] = array(std::move(offsets));
    d["payload"] = array(std::move(payload));
    return d;
  }

 private:
  py::object keep_ = py::none();
  py::buffer_info buffer_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Reader> reader_;
};

// --- Writer -----------------------------------------------------------------

class PyWriter {
 public:
  // target None: into memory, given back by take().
  PyWriter(py::object target, py::dict options)
      : sink_(target.is_none() ? std::make_unique<MemorySink>() : open_sink(target)) {
    WriterOptions o;
    o.veri_thread = false;  // the sink may call into Python, which needs the GIL
    for (auto [k, v] : options) {
      const std::string key = k.cast<std::string>();
      if (key == "max_group_bytes")
        o.max_group_bytes = v.cast<uint32_t>();
      else if (key == "max_group_blocks")
        o.max_group_blocks = v.cast<uint32_t>();
      else if (key == "max_group_duration_us")
        o.max_group_duration_us = v.cast<int64_t>();
      else if (key == "interleave_duration_us")
        o.interleave_duration_us = v.cast<int64_t>();
      else if (key == "write_veri")
        o.write_veri = v.cast<bool>();
      else if (key == "write_index")
        o.write_index = v.cast<bool>();
      else
        throw Error(ErrorCode::kInvalidArgument, "unknown Writer option '" + key + "'");
    }
    writer_ = std::make_unique<Writer>(*sink_, o);
  }

  Writer& w() {
    if (!writer_) throw Error(ErrorCode::kBadState, "the writer is finished");
    return *writer_;
  }

  void write_block(uint16_t track, const py::object& type, int64_t pts, std::optional<int64_t> dts,
                   int64_t duration, const py::buffer& payload, const py::buffer& side_data,
                   bool discardable) {
    BlockInfo info{track, block_type(type), pts, dts.value_or(pts), duration, false, discardable};
    py::buffer_info pi, si;
    w().write_block(info, byte_view(payload, pi), byte_view(side_data, si));
  }

  // Many blocks of one track in one call: per-block arrays (types, pts, and
  // optionally dts and durations) and one payload buffer cut at `offsets`
  // (n + 1 ascending positions) or into equal `size` pieces.
  void write_blocks(
      uint16_t track, py::array_t<uint8_t, py::array::c_style | py::array::forcecast> types,
      py::array_t<int64_t, py::array::c_style | py::array::forcecast> pts,
      const py::buffer& payload, std::optional<py::array_t<uint64_t>> offsets,
      std::optional<uint64_t> size,
      std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> dts,
      std::optional<py::array_t<int64_t, py::array::c_style | py::array::forcecast>> durations) {
    const size_t n = size_t(pts.size());
    auto need = [&](py::ssize_t got, const char* what) {
      if (size_t(got) != n)
        throw Error(ErrorCode::kInvalidArgument, std::string(what) + " has " + std::to_string(got) +
                                                     " entries for " + std::to_string(n) +
                                                     " blocks");
    };
    need(types.size(), "types");
    if (dts) need(dts->size(), "dts");
    if (durations) need(durations->size(), "durations");
    py::buffer_info pi;
    const std::span<const uint8_t> bytes = byte_view(payload, pi);
    std::vector<uint64_t> cut;
    if (offsets) {
      auto o = offsets->unchecked<1>();
      if (size_t(o.shape(0)) != n + 1)
        throw Error(ErrorCode::kInvalidArgument, "offsets has " + std::to_string(o.shape(0)) +
                                                     " entries; n + 1 = " + std::to_string(n + 1) +
                                                     " are needed");
      for (size_t i = 0; i <= n; ++i) cut.push_back(o(i));
    } else if (size) {
      for (size_t i = 0; i <= n; ++i) cut.push_back(*size * i);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "write_blocks needs offsets or size");
    }
    for (size_t i = 0; i < n; ++i)
      if (cut[i] > cut[i + 1] || cut[i + 1] > bytes.size())
        throw Error(ErrorCode::kInvalidArgument,
                    "block " + std::to_string(i) + "'s payload [" + std::to_string(cut[i]) + ", " +
                        std::to_string(cut[i + 1]) + ") is not inside the " +
                        std::to_string(bytes.size()) + "-byte buffer");
    const uint8_t* t = types.data();
    const int64_t* p = pts.data();
    const int64_t* d = dts ? dts->data() : nullptr;
    const int64_t* du = durations ? durations->data() : nullptr;
    for (size_t i = 0; i < n; ++i) {
      if (t[i] > 2)
        throw Error(ErrorCode::kInvalidArgument, "block " + std::to_string(i) + ": type " +
                                                     std::to_string(t[i]) +
                                                     " is not 0 (I), 1 (P) or 2 (B)");
      BlockInfo info{track, BlockType(t[i]), p[i], d ? d[i] : p[i], du ? du[i] : 0, false, false};
      w().write_block(info, bytes.subspan(cut[i], cut[i + 1] - cut[i]));
    }
  }

  void finish() {
    w().finish();
    writer_.reset();
    if (auto* memory = dynamic_cast<MemorySink*>(sink_.get())) bytes_ = memory->take();
    sink_.reset();
  }
  py::bytes take() {
    if (writer_) throw Error(ErrorCode::kBadState, "the writer is not finished");
    py::bytes out(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
    std::vector<uint8_t>().swap(bytes_);
    return out;
  }
  bool finished() const { return !writer_; }

 private:
  std::unique_ptr<Sink> sink_;
  std::unique_ptr<Writer> writer_;
  std::vector<uint8_t> bytes_;  // a memory writer's file, once finished
};

py::dict verify_source(py::object source, const std::string& public_key_pem) {
  py::object keep = py::none();
  py::buffer_info buffer;
  std::unique_ptr<Source> src = open_source(source, keep, buffer);
  VerifyOptions o;
  o.public_key_pem = public_key_pem;
  o.veri_thread = false;
  const VerifyReport v = verify(*src, o);
  py::list problems;
  for (const Problem& p : v.problems) {
    py::dict d;
    d["offset"] = p.offset;
    d["chunk"] = p.chunk;
    d["code"] = code_id(p.code);
    d["message"] = p.message;
    problems.append(d);
  }
  py::dict d;
  d["ok"] = v.ok();
  d["problems"] = problems;
  d["chunks"] = v.chunks;
  d["blocks"] = v.blocks;
  d["complete"] = v.complete;
  d["has_veri"] = v.has_veri;
  d["veri_ok"] = v.veri_ok;
  d["veri_hash"] = v.veri_hash;
  d["has_signature"] = v.has_signature;
  d["signature_ok"] = v.signature_ok;
  return d;
}

// --- adapters ---------------------------------------------------------------

// What an adapter's finalize() gave, as Python sees it: bytes; audio as a
// (samples, channels) int16 or float32 array; a picture as an (h, w) gray,
// (h, w, 3) RGB array, or the three planes of YUV 4:2:0.
py::object output_object(const AdapterOutput& o) {
  auto plane = [](const uint8_t* p, size_t linesize, uint32_t w, uint32_t h, uint32_t c) {
    py::array_t<uint8_t> a({py::ssize_t(h), py::ssize_t(w) * c});
    for (uint32_t y = 0; y < h; ++y)
      std::memcpy(a.mutable_data(y, 0), p + y * linesize, size_t(w) * c);
    return a;
  };
  switch (o.kind) {
    case H4MK_OUTPUT_AUDIO: {
      const py::ssize_t n = o.nb_samples, ch = o.channels;
      if (o.sample_format == H4MK_SAMPLE_S16) {
        py::array_t<int16_t> a({n, ch});
        std::memcpy(a.mutable_data(), o.data, size_t(n * ch) * sizeof(int16_t));
        return a;
      }
      py::array_t<float> a({n, ch});
      std::memcpy(a.mutable_data(), o.data, size_t(n * ch) * sizeof(float));
      return a;
    }
    case H4MK_OUTPUT_VIDEO:
      if (o.pixel_format == H4MK_PIXEL_YUV420P)
        return py::make_tuple(
            plane(o.planes[0], o.linesize[0], o.width, o.height, 1),
            plane(o.planes[1], o.linesize[1], (o.width + 1) / 2, (o.height + 1) / 2, 1),
            plane(o.planes[2], o.linesize[2], (o.width + 1) / 2, (o.height + 1) / 2, 1));
      if (o.pixel_format == H4MK_PIXEL_RGB24)
        return plane(o.planes[0], o.linesize[0], o.width, o.height, 3)
            .attr("reshape")(o.height, o.width, 3);
      return plane(o.planes[0], o.linesize[0], o.width, o.height, 1);
    default:
      return py::bytes(reinterpret_cast<const char*>(o.data), o.size);
  }
}

struct PyState final : DecodeState {
  explicit PyState(py::object o) : obj(std::move(o)) {}
  ~PyState() override {
    py::gil_scoped_acquire gil;
    obj = py::none();
  }
  py::object obj;
};

// A Python ModelAdapter (h4mk.adapters) behind libh4mk's interface, so that
// decode_range runs the very chain the C plugins run.
class PyModelAdapter final : public ModelAdapter {
 public:
  explicit PyModelAdapter(py::object adapter) : a_(std::move(adapter)) {
    py::object base = py::module_::import("h4mk.adapters").attr("ModelAdapter");
    supports_b_ = !py::type::of(a_).attr("apply_B").is(base.attr("apply_B"));
  }
  std::string name() const override { return py::str(py::type::of(a_).attr("__name__")); }
  StatePtr decode_I(const AdapterBlock& b) override { return wrap(a_.attr("decode_I")(bytes(b))); }
  StatePtr apply_P(const DecodeState& s, const AdapterBlock& b) override {
    return wrap(a_.attr("apply_P")(object(s), bytes(b)));
  }
  bool supports_B() const override { return supports_b_; }
  StatePtr apply_B(const DecodeState& prev, const DecodeState& next,
                   const AdapterBlock& b) override {
    return wrap(a_.attr("apply_B")(object(prev), object(next), bytes(b)));
  }
  AdapterOutput finalize(const DecodeState& s) override {
    last_output = a_.attr("finalize")(object(s));
    AdapterOutput o{};
    o.kind = H4MK_OUTPUT_BYTES;
    return o;
  }
  py::object last_output = py::none();

 private:
  static py::bytes bytes(const AdapterBlock& b) {
    return py::bytes(reinterpret_cast<const char*>(b.data.data()), b.data.size());
  }
  static const py::object& object(const DecodeState& s) {
    return static_cast<const PyState&>(s).obj;
  }
  static StatePtr wrap(py::object o) { return std::make_shared<PyState>(std::move(o)); }
  py::object a_;
  bool supports_b_ = false;
};

// A C plugin (by name from the adapter search path, or by a path the user
// gives), with the seeds' calls: states are opaque handles.
struct PluginState {
  StatePtr state;
};

class PyPlugin {
 public:
  PyPlugin(const std::string& name, const std::string& options, const std::string& config_json,
           bool by_path)
      : adapter_(by_path ? load_adapter_file(name, options, config_json)
                         : load_adapter(name, options, config_json)) {}
  ModelAdapter& adapter() { return *adapter_; }
  static AdapterBlock block(BlockType type, const std::string& data, int64_t pts) {
    return {type, pts, pts, 0, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}};
  }

 private:
  std::unique_ptr<ModelAdapter> adapter_;
};

// --- tokenizers -------------------------------------------------------------

py::tuple token_tuple(const TokenBlock& t) {
  return py::make_tuple(block_type_name(t.type), t.pts, t.dts, t.duration,
                        py::bytes(reinterpret_cast<const char*>(t.data.data()), t.data.size()));
}

// An adapter plugin's tokenizer (the dsp plugin's: audio to top-K FFT bins):
// float samples in, the blocks of an h4core track out.
class PyAudioTokenizer {
 public:
  PyAudioTokenizer(const std::string& name, const std::string& options, uint32_t sample_rate,
                   uint32_t channels)
      : channels_(channels) {
    if (channels == 0 || channels > 64)
      throw Error(ErrorCode::kInvalidArgument,
                  "channels must be 1..64; got " + std::to_string(channels));
    t_ = load_tokenizer(name, options, h4mk_tokenizer_params{sample_rate, channels});
  }
  // (samples, channels) interleaved, or (samples,) for one channel.
  void push(py::array_t<float, py::array::c_style | py::array::forcecast> samples) {
    const py::ssize_t n = samples.shape(0);
    const py::ssize_t c = samples.ndim() == 1 ? 1 : samples.shape(1);
    if (samples.ndim() > 2 || size_t(c) != channels_)
      throw Error(ErrorCode::kInvalidArgument,
                  "samples must be (n, " + std::to_string(channels_) + ") float32");
    planar_.resize(size_t(n * c));
    std::vector<const float*> planes(channels_);
    const float* in = samples.data();
    for (py::ssize_t ch = 0; ch < c; ++ch) {
      float* plane = planar_.data() + ch * n;
      for (py::ssize_t i = 0; i < n; ++i) plane[i] = in[i * c + ch];
      planes[size_t(ch)] = plane;
    }
    t_->push(planes.data(), size_t(n));
  }
  void finish() { t_->finish(); }
  py::list take() {
    py::list out;
    TokenBlock b;
    while (t_->next(b)) out.append(token_tuple(b));
    return out;
  }

 private:
  uint32_t channels_;
  std::vector<float> planar_;
  std::unique_ptr<Tokenizer> t_;
};

class PyTransportTokenizer {
 public:
  PyTransportTokenizer(uint32_t block_size, uint32_t gop) : t_(block_size, gop) {}
  void push(const py::buffer& data) {
    py::buffer_info info;
    t_.push(byte_view(data, info));
  }
  void finish() { t_.finish(); }
  py::list take() {
    py::list out;
    TokenBlock b;
    while (t_.next(b)) out.append(token_tuple(b));
    return out;
  }

 private:
  TransportTokenizer t_;
};

py::list decode_range_py(PyReader& reader, uint16_t track, int64_t t0, int64_t t1,
                         py::object adapter) {
  py::list frames;
  auto add = [&](const BlockInfo& info, py::object output) {
    frames.append(py::make_tuple(block_dict(info), std::move(output)));
  };
  if (py::isinstance<PyPlugin>(adapter)) {
    decode_range(
        reader.r(), track, t0, t1, adapter.cast<PyPlugin&>().adapter(),
        [&](const BlockInfo& info, const AdapterOutput& out) { add(info, output_object(out)); });
  } else {
    PyModelAdapter a(adapter);
    decode_range(reader.r(), track, t0, t1, a,
                 [&](const BlockInfo& info, const AdapterOutput&) { add(info, a.last_output); });
  }
  return frames;
}

}  // namespace

PYBIND11_MODULE(_h4mk, m) {
  m.doc() = "libh4mk's reader, writer and verify (the h4mk package wraps them)";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object errors = py::module_::import("h4mk.errors");
      py::object offset = py::none();
      if (e.offset() != kNoOffset) offset = py::int_(e.offset());
      py::object exc = errors.attr("from_code")(code_id(e.code()), e.what(), offset);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });

  g_block_type = PyStructSequence_NewType(&kBlockDesc);
  if (!g_block_type) throw py::error_already_set();
  m.attr("Block") = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(g_block_type));
  for (int i = 0; i < 3; ++i)
    g_type_names[i] = PyUnicode_InternFromString(block_type_name(BlockType(i)));

  py::class_<PyReader>(m, "Reader")
      .def(py::init<py::object, bool>(), py::arg("source"), py::arg("damaged_blocks"))
      .def("close", &PyReader::close)
      .def("tracks", &PyReader::tracks)
      .def("metadata_json", [](PyReader& r) { return r.r().metadata_json(); })
      .def("safe_json", [](PyReader& r) { return r.r().safe_json(); })
      .def("note", [](PyReader& r) { return r.r().note(); })
      .def("veri_json", [](PyReader& r) { return r.r().veri_json(); })
      .def("next_block", &PyReader::next_block)
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__",
           [](PyReader& r) {
             py::object b = r.next_block();
             if (b.is_none()) throw py::stop_iteration();
             return b;
           })
      .def("damage", &PyReader::damage)
      .def("rewind", [](PyReader& r) { r.r().rewind(); })
      .def("has_index", [](PyReader& r) { return r.r().has_index(); })
      .def("seek", &PyReader::seek)
      .def("chain", &PyReader::chain)
      .def("read_track", &PyReader::read_track)
      .def("set_mask_key", [](PyReader& r, const py::object& key, uint16_t track) {
        r.r().set_mask_key(mask_key(key), track);
      });

  py::class_<PyWriter>(m, "Writer")
      .def(py::init<py::object, py::dict>())
      .def("add_track",
           [](PyWriter& w, const py::object& spec) { w.w().add_track(track_from(spec)); })
      .def("set_metadata_json",
           [](PyWriter& w, const std::string& j) { w.w().set_metadata_json(j); })
      .def("set_safe_json", [](PyWriter& w, const std::string& j) { w.w().set_safe_json(j); })
      .def("set_note", [](PyWriter& w, const std::string& s) { w.w().set_note(s); })
      .def("set_mask_key",
           [](PyWriter& w, uint16_t track, const py::object& key, const std::string& scheme,
              const std::string& kid) {
             if (scheme != "aes-256-gcm" && scheme != "aes-256-ctr")
               throw Error(ErrorCode::kInvalidArgument,
                           "mask scheme is 'aes-256-gcm' or 'aes-256-ctr'; got '" + scheme + "'");
             w.w().set_mask_key(
                 track, mask_key(key),
                 scheme == "aes-256-ctr" ? MaskScheme::kAes256Ctr : MaskScheme::kAes256Gcm, kid);
           })
      .def("write_block", &PyWriter::write_block)
      .def("write_blocks", &PyWriter::write_blocks)
      .def("close_group", [](PyWriter& w, uint16_t track) { w.w().close_group(track); })
      .def("flush", [](PyWriter& w) { w.w().flush(); })
      .def("finish", &PyWriter::finish)
      .def("finished", &PyWriter::finished)
      .def("take", &PyWriter::take)
      .def("bytes_written", [](PyWriter& w) { return w.w().bytes_written(); });

  m.def("verify", &verify_source, py::arg("source"), py::arg("public_key_pem") = "");
  auto rewrite_dict = [](const RewriteReport& r) {
    py::dict d;
    d["tracks"] = r.tracks;
    d["blocks"] = r.blocks;
    d["damage"] = damage_list(r.damage);
    return d;
  };
  m.def("mask_file",
        [rewrite_dict](py::object src, py::object dst, py::object key, const std::string& scheme,
                       const std::string& kid, std::vector<uint16_t> tracks) {
          const auto s = mask_scheme_from_name(scheme);
          if (!s)
            throw Error(ErrorCode::kInvalidArgument,
                        "mask scheme is 'aes-256-gcm' or 'aes-256-ctr'; got '" + scheme + "'");
          MaskKey k = mask_key(key);
          py::object keep = py::none();
          py::buffer_info buffer;
          auto in = open_source(src, keep, buffer);
          Reader r(*in);
          auto out = open_sink(dst);
          return rewrite_dict(mask_file(r, *out, k, *s, kid, tracks));
        });
  m.def("unmask_file", [rewrite_dict](py::object src, py::object dst, py::object key) {
    MaskKey k = mask_key(key);
    py::object keep = py::none();
    py::buffer_info buffer;
    auto in = open_source(src, keep, buffer);
    Reader r(*in);
    auto out = open_sink(dst);
    return rewrite_dict(unmask_file(r, *out, k));
  });
  m.def("sign_file", [](py::object src, py::object dst, const std::string& private_key_pem) {
    py::object keep = py::none();
    py::buffer_info buffer;
    auto in = open_source(src, keep, buffer);
    auto out = open_sink(dst);
    sign_file(*in, *out, private_key_pem);
  });
  m.def("repair_file", [](py::object src, py::object dst) {
    py::object keep = py::none();
    py::buffer_info buffer;
    auto in = open_source(src, keep, buffer);
    auto out = open_sink(dst);
    const RepairReport r = repair(*in, *out);
    py::dict d;
    d["blocks_kept"] = r.blocks_kept;
    d["blocks_rejected"] = r.blocks_rejected;
    d["damage"] = damage_list(r.damage);
    d["notes"] = r.notes;
    return d;
  });

  py::class_<PluginState>(m, "PluginState");
  py::class_<PyPlugin>(m, "Plugin")
      .def(py::init<const std::string&, const std::string&, const std::string&, bool>())
      .def("name", [](PyPlugin& p) { return p.adapter().name(); })
      .def("supports_B", [](PyPlugin& p) { return p.adapter().supports_B(); })
      .def("decode_I",
           [](PyPlugin& p, const std::string& data, int64_t pts) {
             return PluginState{p.adapter().decode_I(PyPlugin::block(BlockType::kI, data, pts))};
           })
      .def("apply_P",
           [](PyPlugin& p, const PluginState& s, const std::string& data, int64_t pts) {
             return PluginState{
                 p.adapter().apply_P(*s.state, PyPlugin::block(BlockType::kP, data, pts))};
           })
      .def("apply_B",
           [](PyPlugin& p, const PluginState& prev, const PluginState& next,
              const std::string& data, int64_t pts) {
             return PluginState{p.adapter().apply_B(*prev.state, *next.state,
                                                    PyPlugin::block(BlockType::kB, data, pts))};
           })
      .def("finalize", [](PyPlugin& p, const PluginState& s) {
        return output_object(p.adapter().finalize(*s.state));
      });
  m.def("decode_range", &decode_range_py);
  py::class_<PyAudioTokenizer>(m, "AudioTokenizer")
      .def(py::init<const std::string&, const std::string&, uint32_t, uint32_t>())
      .def("push", &PyAudioTokenizer::push)
      .def("finish", &PyAudioTokenizer::finish)
      .def("take", &PyAudioTokenizer::take);
  py::class_<PyTransportTokenizer>(m, "TransportTokenizer")
      .def(py::init<uint32_t, uint32_t>())
      .def("push", &PyTransportTokenizer::push)
      .def("finish", &PyTransportTokenizer::finish)
      .def("take", &PyTransportTokenizer::take);
  m.def("track_config_json", [](PyReader& r, uint16_t track) {
    const Track* t = r.r().track(track);
    if (!t) throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(track));
    return adapter_config_json(*t);
  });
  m.def("make_flags", [](uint32_t pts_ms, int type) {
    if (type < 0 || type > 2)
      throw Error(ErrorCode::kInvalidArgument,
                  "block type is 0 (I), 1 (P) or 2 (B); got " + std::to_string(type));
    return pack_gop_flags(pts_ms, BlockType(type));
  });
  m.def("parse_flags", [](uint32_t flags) {
    const GopFlags f = unpack_gop_flags(flags);
    return py::make_tuple(f.pts_ms, int(f.type));
  });
  m.attr("library_version") = H4MK_VERSION_STRING;
}
