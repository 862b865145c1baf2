// h4mk.Reader's core (PyReader), and its binding.
#include "reader.hpp"

#include "h4mk/h4mk.h"  // H4MK_BLOCK_FLAG_*: the flags read_tracks gives are the C API's

namespace h4mk::python {

template <class Blocks>
py::object PyReader::next_of(Blocks& blocks) {
  Block b;
  for (;;) {
    switch (blocks.next(b)) {
      case ReadEvent::kBlock:
        return make_block(b);
      case ReadEvent::kDamage:
        continue;
      case ReadEvent::kEnd:
        return py::none();
    }
  }
}

template <class OnBlock>
void PyReader::pass(const std::vector<uint16_t>& tracks, bool strict, std::optional<int64_t> from,
                    std::optional<int64_t> to, OnBlock&& on_block) {
  const bool runs = !from && !to;
  std::vector<bool> wanted(65536);
  for (uint16_t t : tracks) wanted[t] = true;
  Reader& reader = r();
  reader.rewind();
  if (from) {
    try {
      reader.seek(tracks.front(), *from, SeekMode::kKeyBefore);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      reader.rewind();  // from lies before the track's first keyframe
    }
  }
  Block b;
  uint32_t count = 1;
  uint64_t damaged = 0;
  std::optional<Damage> first_damage;
  try {
    for (ReadEvent ev;
         (ev = runs ? reader.next_run(b, count) : reader.next(b)) != ReadEvent::kEnd;) {
      if (ev == ReadEvent::kDamage) {
        if (!damaged++) first_damage = reader.last_damage();
        continue;
      }
      if (!wanted[b.info.track_id]) continue;
      // dts <= pts, and dts only grows: nothing later starts before `to`.
      if (to && b.info.dts >= *to) break;
      if ((from && b.info.pts < *from) || (to && b.info.pts >= *to)) continue;
      on_block(b, count);
    }
  } catch (...) {
    if (reader.seekable()) reader.rewind();
    throw;
  }
  if (reader.seekable()) reader.rewind();
  if (strict && damaged)
    throw Error(first_damage->code,
                "the file is damaged: " + std::to_string(damaged) +
                    " region(s) skipped while reading track(s), the first at offset " +
                    std::to_string(first_damage->offset) + " (" + first_damage->message +
                    "); strict=False returns the blocks left intact",
                first_damage->offset);
}

PyReader::PyReader(py::object source, bool damaged_blocks, const std::string& public_key_pem)
    : source_(open_source(source, keep_)) {
  ReaderOptions o;
  o.public_key_pem = public_key_pem;
  reader_ = std::make_unique<Reader>(*source_, o);
  if (damaged_blocks) reader_->hand_out_damaged_groups(true);
}

Reader& PyReader::r() {
  if (!reader_) throw Error(ErrorCode::kBadState, "the reader is closed");
  return *reader_;
}

Reader& PyReader::in_file_order() {
  packets_.reset();
  return r();
}

void PyReader::close() {
  turns_.with_gil([&] {
    packets_.reset();
    reader_.reset();
    source_.reset();
    keep_.reset();
  });
}

py::list PyReader::tracks() {
  return turns_.with_gil([&] {
    py::list out;
    for (const Track& t : r().tracks()) out.append(track_dict(t));
    return out;
  });
}

py::object PyReader::next_block() {
  return turns_.with_gil([&] { return next_of(in_file_order()); });
}

py::object PyReader::next_packet() {
  return turns_.with_gil([&] {
    if (!packets_) packets_ = std::make_unique<PacketReader>(r());
    return next_of(*packets_);
  });
}

void PyReader::warn_of_damage() {
  const auto [count, first] = turns_.with_gil([&] {
    const uint64_t n = r().damage_count();
    return std::make_pair(n, n > warned_ ? r().damage().back() : Damage{});
  });
  if (count <= warned_) return;
  const uint64_t skipped = count - warned_;
  warned_ = count;
  const py::object category = py::module_::import("h4mk.errors").attr("DamageWarning");
  const std::string text = "reading met " + std::to_string(skipped) +
                           " damaged region(s) of the file (the latest at offset " +
                           std::to_string(first.offset) + ": " + first.message +
                           "); Reader.damage lists them";
  if (PyErr_WarnEx(category.ptr(), text.c_str(), 1) < 0) throw py::error_already_set();
}

py::list PyReader::damage() {
  return turns_.with_gil([&] { return damage_list(r().damage()); });
}

uint64_t PyReader::damage_count() {
  return turns_.with_gil([&] { return r().damage_count(); });
}

py::dict PyReader::seek(uint16_t track, int64_t t, const std::string& mode, bool all) {
  const SeekMode how = seek_mode(mode);
  const SeekPoint p = turns_.without_gil([&] {
    Reader& reader = in_file_order();
    return all ? reader.seek_all(track, t, how) : reader.seek(track, t, how);
  });
  py::dict d;
  d["track"] = p.track_id;
  d["pts"] = p.pts;
  d["dts"] = p.dts;
  d["chunk_offset"] = p.chunk_offset;
  d["index_in_group"] = p.index_in_group;
  return d;
}

py::list PyReader::chain(uint16_t track, int64_t t) {
  py::list out;
  const std::vector<ChainLink> links =
      turns_.without_gil([&] { return in_file_order().decode_chain(track, t); });
  for (const ChainLink& link : links) {
    py::dict d = block_dict(link.info);
    d["data"] = py::bytes(reinterpret_cast<const char*>(link.payload.data()), link.payload.size());
    d["chunk_offset"] = link.chunk_offset;
    d["index_in_group"] = link.index_in_group;
    out.append(d);
  }
  return out;
}

py::dict PyReader::read_tracks(const std::vector<uint16_t>& tracks, bool strict,
                               std::optional<int64_t> from, std::optional<int64_t> to) {
  std::map<uint16_t, TrackArrays> arrays;
  for (uint16_t t : tracks) arrays[t];
  if (arrays.empty()) return py::dict();
  if ((from || to) && tracks.size() != 1)
    throw Error(ErrorCode::kInvalidArgument, "a time range is read from one track");
  turns_.without_gil([&] {
    in_file_order();
    fill(arrays, strict, from, to);
  });
  // Each vector handed to numpy as it is, the array owning it: no copy.
  auto array = [](auto&& v) {
    using V = std::decay_t<decltype(v)>;
    auto* owned = new V(std::move(v));
    py::capsule free_it(owned, [](void* p) { delete static_cast<V*>(p); });
    return py::array_t<typename V::value_type>(py::ssize_t(owned->size()), owned->data(), free_it);
  };
  py::dict out;
  for (auto& [track, a] : arrays) {
    py::dict d;
    d["pts"] = array(std::move(a.pts));
    d["dts"] = array(std::move(a.dts));
    d["duration"] = array(std::move(a.duration));
    d["types"] = array(std::move(a.types));
    d["flags"] = array(std::move(a.flags));
    d["offsets"] = array(std::move(a.offsets));
    d["payload"] = array(std::move(a.payload));
    out[py::int_(track)] = d;
  }
  return out;
}

py::array_t<uint8_t> PyReader::read_payloads(uint16_t track, uint32_t frame_bytes, bool strict,
                                             std::optional<int64_t> from,
                                             std::optional<int64_t> to) {
  if (frame_bytes == 0) throw Error(ErrorCode::kInvalidArgument, "frame_bytes is 0");
  auto out = std::make_unique<Bytes>();
  turns_.without_gil([&] {
    in_file_order();
    known(track);
    // A range starts small; either grows as it goes.
    const auto whole = file_bytes();
    out->reserve(whole && !from && !to ? *whole : size_t(1) << 16);
    uint64_t index = 0;
    // A whole track goes by runs (a FIXED_SIZE group in one call); a range
    // block by block, each pts compared.
    pass({track}, strict, from, to, [&](const Block& b, uint32_t count) {
      const size_t size = b.data.size() / count;
      if (size % frame_bytes)
        throw Error(ErrorCode::kCorrupt,
                    "track " + std::to_string(track) + ": block " + std::to_string(index) +
                        " (pts " + std::to_string(b.info.pts) + ") holds " + std::to_string(size) +
                        " bytes, not whole frames of " + std::to_string(frame_bytes) + " bytes",
                    b.data_offset);
      out->append(b.data);
      index += count;
    });
  });
  Bytes* owned = out.release();
  py::capsule free_it(owned, [](void* p) { delete static_cast<Bytes*>(p); });
  return py::array_t<uint8_t>(py::ssize_t(owned->size), owned->data, free_it);
}

void PyReader::fill(std::map<uint16_t, TrackArrays>& arrays, bool strict,
                    std::optional<int64_t> from, std::optional<int64_t> to) {
  std::vector<uint16_t> ids;
  for (auto& [track, a] : arrays) {
    ids.push_back(track);
    // Sized from the file's own count where it has one (HINT or index;
    // reading the index moves the reader, pass() rewinds): growing the
    // arrays block by block was most of the time.
    if (const auto summary = known(track).summary(track); summary && !from && !to) {
      const size_t n = size_t(std::min<uint64_t>(summary->block_count, uint64_t(1) << 26));
      for (auto* v : {&a.pts, &a.dts, &a.duration}) v->reserve(n);
      a.types.reserve(n);
      a.flags.reserve(n);
      a.offsets.reserve(n + 1);
    }
  }
  if (const auto whole = file_bytes(); whole && arrays.size() == 1 && !from && !to)
    arrays.begin()->second.payload.reserve(*whole);
  TrackArrays* one = arrays.size() == 1 ? &arrays.begin()->second : nullptr;
  pass(ids, strict, from, to, [&](const Block& b, uint32_t count) {
    TrackArrays& a = one ? *one : arrays.find(b.info.track_id)->second;
    const uint8_t flags = uint8_t((b.info.masked ? H4MK_BLOCK_FLAG_MASKED : 0) |
                                  (b.info.discardable ? H4MK_BLOCK_FLAG_DISCARDABLE : 0) |
                                  (b.damaged ? H4MK_BLOCK_FLAG_DAMAGED : 0));
    const size_t size = b.data.size() / count;
    // A run's blocks (FIXED_SIZE) follow each other a duration apart.
    for (uint32_t i = 0; i < count; ++i) {
      const int64_t pts = int64_t(uint64_t(b.info.pts) + uint64_t(i) * uint64_t(b.info.duration));
      a.pts.push_back(pts);
      a.dts.push_back(i ? pts : b.info.dts);
      a.duration.push_back(b.info.duration);
      a.types.push_back(uint8_t(b.info.type));
      a.flags.push_back(flags);
      a.offsets.push_back(a.payload.size() + (uint64_t(i) + 1) * size);
    }
    a.payload.insert(a.payload.end(), b.data.begin(), b.data.end());
  });
}

Reader& PyReader::known(uint16_t track) {
  if (!r().track(track))
    throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(track));
  return r();
}

std::optional<size_t> PyReader::file_bytes() const {
  if (const auto size = source_->size(); size)
    return size_t(std::min<uint64_t>(*size, uint64_t(1) << 34));
  return std::nullopt;
}

void bind_reader(py::module_& m) {
  py::class_<PyReader>(m, "Reader")
      .def(py::init<py::object, bool, const std::string&>(), py::arg("source"),
           py::arg("damaged_blocks"), py::arg("public_key_pem") = "")
      .def("verified",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().verified(); }); })
      .def("close", &PyReader::close)
      .def("tracks", &PyReader::tracks)
      .def("metadata_json",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().metadata_json(); }); })
      .def("safe_json",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().safe_json(); }); })
      .def("note", [](PyReader& r) { return r.turns().with_gil([&] { return r.r().note(); }); })
      .def("veri_json",
           [](PyReader& r) { return r.turns().without_gil([&] { return r.r().veri_json(); }); })
      .def("next_block", &PyReader::next_block)
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__",
           [](PyReader& r) {
             py::object b = r.next_block();
             if (b.is_none()) {
               r.warn_of_damage();
               throw py::stop_iteration();
             }
             return b;
           })
      .def("damage", &PyReader::damage)
      .def("damage_count", &PyReader::damage_count)
      .def("next_packet", &PyReader::next_packet)
      .def("warn_of_damage", &PyReader::warn_of_damage)
      .def("rewind",
           [](PyReader& r) { r.turns().without_gil([&] { r.in_file_order().rewind(); }); })
      .def("has_index",
           [](PyReader& r) { return r.turns().without_gil([&] { return r.r().has_index(); }); })
      .def("seek", &PyReader::seek)
      .def("chain", &PyReader::chain)
      .def("read_tracks", &PyReader::read_tracks)
      .def("read_payloads", &PyReader::read_payloads)
      .def("set_mask_key", [](PyReader& r, const py::object& key, uint16_t track) {
        const MaskKey k = mask_key(key);
        r.turns().with_gil([&] { r.r().set_mask_key(k, track); });
      });
}

}  // namespace h4mk::python
