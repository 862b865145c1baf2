// h4mk.Writer's core: libh4mk's Writer into a path, a file object or memory.
#include "binding.hpp"

namespace h4mk::python {
namespace {

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
    const ByteBuffer p(payload), s(side_data);
    w().write_block(info, p.span(), s.span());
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
    const ByteBuffer buffer(payload);
    const std::span<const uint8_t> bytes = buffer.span();
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

}  // namespace

void bind_writer(py::module_& m) {
  py::class_<PyWriter>(m, "Writer")
      .def(py::init<py::object, py::dict>())
      // level 0: stored uncompressed; 1..19: zstd per group (FORMAT.md §5.7),
      // with `dictionary` (any bytes-like object; empty: none).
      .def("add_track",
           [](PyWriter& w, const py::object& spec, int level, const py::object& dictionary) {
             Track t = track_from(spec);
             if (level != 0) {
               t.compression.emplace();
               t.compression->level = level;
               const ByteBuffer dict(dictionary);
               t.compression->dictionary.assign(dict.span().begin(), dict.span().end());
             }
             w.w().add_track(t);
           })
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
}

}  // namespace h4mk::python
