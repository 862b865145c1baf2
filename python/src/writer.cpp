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

  Turns& turns() { return turns_; }
  Writer& w() {
    if (!writer_) throw Error(ErrorCode::kBadState, "the writer is finished");
    return *writer_;
  }

  void write_block(uint16_t track, const py::object& type, int64_t pts, std::optional<int64_t> dts,
                   int64_t duration, const py::buffer& payload, const py::buffer& side_data,
                   bool discardable) {
    BlockInfo info{track, block_type(type), pts, dts.value_or(pts), duration, false, discardable};
    const ByteBuffer p(payload), s(side_data);
    turns_.with_gil([&] { w().write_block(info, p.span(), s.span()); });
  }

  // Many blocks of one track in one call: per-block arrays (types, pts, and
  // optionally dts and durations) and one payload buffer cut at `offsets`
  // (n + 1 ascending positions from 0 to its length) or into equal `size`
  // pieces that fill it. Arrays must hold integers: a float, a bool or a
  // value out of range is refused by name, never cast.
  void write_blocks(uint16_t track, const py::handle& types_arg, const py::handle& pts_arg,
                    const py::buffer& payload, const py::handle& offsets_arg,
                    std::optional<uint64_t> size, const py::handle& dts_arg,
                    const py::handle& durations_arg) {
    const IntArray pts = integers(pts_arg, "pts");
    const size_t n = size_t(pts.size());
    auto need = [&](const IntArray& a, const char* what) {
      if (size_t(a.size()) != n)
        throw Error(ErrorCode::kInvalidArgument, std::string(what) + " has " +
                                                     std::to_string(a.size()) + " entries for " +
                                                     std::to_string(n) + " blocks");
    };
    const IntArray types = integers(types_arg, "types");
    need(types, "types");
    std::optional<IntArray> dts, durations;
    if (!dts_arg.is_none()) need(*(dts = integers(dts_arg, "dts")), "dts");
    if (!durations_arg.is_none())
      need(*(durations = integers(durations_arg, "durations")), "durations");
    const ByteBuffer buffer(payload);
    const std::span<const uint8_t> bytes = buffer.span();
    std::vector<uint64_t> cut;
    if (!offsets_arg.is_none()) {
      const IntArray o = integers(offsets_arg, "offsets");
      if (size_t(o.size()) != n + 1)
        throw Error(ErrorCode::kInvalidArgument, "offsets has " + std::to_string(o.size()) +
                                                     " entries; n + 1 = " + std::to_string(n + 1) +
                                                     " are needed");
      for (size_t i = 0; i <= n; ++i) {
        if (o.at(i) < 0)
          throw Error(ErrorCode::kInvalidArgument,
                      "offsets[" + std::to_string(i) + "] is negative: " + std::to_string(o.at(i)));
        cut.push_back(uint64_t(o.at(i)));
      }
      if (cut.front() != 0 || cut.back() != bytes.size())
        throw Error(ErrorCode::kInvalidArgument,
                    "offsets run from " + std::to_string(cut.front()) + " to " +
                        std::to_string(cut.back()) + "; they must cover the " +
                        std::to_string(bytes.size()) + "-byte payload, from 0 to its end");
    } else if (size) {
      if (n && (*size > bytes.size() / n || *size * n != bytes.size()))
        throw Error(ErrorCode::kInvalidArgument,
                    std::to_string(n) + " blocks of size " + std::to_string(*size) +
                        " do not fill the " + std::to_string(bytes.size()) + "-byte payload");
      for (size_t i = 0; i <= n; ++i) cut.push_back(*size * i);
    } else {
      throw Error(ErrorCode::kInvalidArgument, "write_blocks needs offsets or size");
    }
    for (size_t i = 0; i < n; ++i)
      if (cut[i] > cut[i + 1])
        throw Error(ErrorCode::kInvalidArgument, "offsets[" + std::to_string(i + 1) +
                                                     "] = " + std::to_string(cut[i + 1]) +
                                                     " goes back from " + std::to_string(cut[i]));
    for (size_t i = 0; i < n; ++i)
      if (types.at(i) < 0 || types.at(i) > 2)
        throw Error(ErrorCode::kInvalidArgument, "types[" + std::to_string(i) + "] is " +
                                                     std::to_string(types.at(i)) +
                                                     ", not 0 (I), 1 (P) or 2 (B)");
    // The arrays and the payload's buffer are held by this call.
    turns_.without_gil([&] {
      for (size_t i = 0; i < n; ++i) {
        const int64_t p = pts.at(i);
        BlockInfo info{track,
                       BlockType(types.at(i)),
                       p,
                       dts ? dts->at(i) : p,
                       durations ? durations->at(i) : 0,
                       false,
                       false};
        w().write_block(info, bytes.subspan(cut[i], cut[i + 1] - cut[i]));
      }
    });
  }

  void finish() {
    turns_.without_gil([&] {
      w().finish();
      writer_.reset();
      if (auto* memory = dynamic_cast<MemorySink*>(sink_.get())) bytes_ = memory->take();
    });
    turns_.with_gil([&] { sink_.reset(); });  // a file object's reference needs the GIL
  }
  py::bytes take() {
    if (writer_) throw Error(ErrorCode::kBadState, "the writer is not finished");
    return py::bytes(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
  }
  bool finished() const { return !writer_; }
  // Stops without finishing: the sink is closed with what it holds.
  void abandon() {
    writer_.reset();
    sink_.reset();
  }

 private:
  Turns turns_;
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
           [](PyWriter& w, const py::object& spec, int level, const py::object& dictionary,
              const std::string& extra_json) {
             Track t = track_from(spec);
             t.extra_json = extra_json;
             if (level != 0) {
               t.compression.emplace();
               t.compression->level = level;
               const ByteBuffer dict(dictionary);
               t.compression->dictionary.assign(dict.span().begin(), dict.span().end());
             }
             w.turns().with_gil([&] { w.w().add_track(t); });
           })
      .def("set_metadata_json",
           [](PyWriter& w, const std::string& j) {
             w.turns().with_gil([&] { w.w().set_metadata_json(j); });
           })
      .def("set_safe_json",
           [](PyWriter& w, const std::string& j) {
             w.turns().with_gil([&] { w.w().set_safe_json(j); });
           })
      .def("set_note", [](PyWriter& w,
                          const std::string& s) { w.turns().with_gil([&] { w.w().set_note(s); }); })
      .def("set_mask_key",
           [](PyWriter& w, uint16_t track, const py::object& key, const std::string& scheme,
              const std::string& kid) {
             const std::optional<MaskScheme> s = mask_scheme_from_name(scheme);
             if (!s)
               throw Error(ErrorCode::kInvalidArgument,
                           "mask scheme is 'aes-256-gcm' or 'aes-256-ctr'; got '" + scheme + "'");
             const MaskKey k = mask_key(key);
             w.turns().with_gil([&] { w.w().set_mask_key(track, k, *s, kid); });
           })
      .def("write_block", &PyWriter::write_block)
      .def("write_blocks", &PyWriter::write_blocks)
      .def("close_group",
           [](PyWriter& w, uint16_t track) {
             w.turns().with_gil([&] { w.w().close_group(track); });
           })
      .def("flush", [](PyWriter& w) { w.turns().without_gil([&] { w.w().flush(); }); })
      .def("finish", &PyWriter::finish)
      .def("finished", [](PyWriter& w) { return w.turns().with_gil([&] { return w.finished(); }); })
      .def("abandon", [](PyWriter& w) { w.turns().with_gil([&] { w.abandon(); }); })
      .def("take", [](PyWriter& w) { return w.turns().with_gil([&] { return w.take(); }); })
      .def("bytes_written",
           [](PyWriter& w) { return w.turns().with_gil([&] { return w.w().bytes_written(); }); });
}

}  // namespace h4mk::python
