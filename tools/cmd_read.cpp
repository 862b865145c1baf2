// inspect, list, chain, seek, block: reading commands.
#include <cstdio>
#include <iostream>
#include <map>

#include "commands.hpp"

namespace h4mk::cli {

using nlohmann::ordered_json;

namespace {

void print_json(const ordered_json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

// nlohmann's ordered_json looks every key up on insertion (a linear scan), so
// parsing an object of n keys into it takes n^2 steps: 200,000 META keys
// made inspect take 64 s. The text is parsed into a map-based json instead,
// whose keys are unique, and moved over in order without the lookups.
ordered_json to_ordered(nlohmann::json&& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::object: {
      ordered_json o = ordered_json::object();
      auto& members = o.get_ref<ordered_json::object_t&>();
      members.reserve(j.size());
      for (auto& [key, value] : j.items()) members.emplace_back(key, to_ordered(std::move(value)));
      return o;
    }
    case nlohmann::json::value_t::array: {
      ordered_json a = ordered_json::array();
      for (auto& v : j) a.push_back(to_ordered(std::move(v)));
      return a;
    }
    case nlohmann::json::value_t::string:
      return ordered_json(std::move(j.get_ref<std::string&>()));
    case nlohmann::json::value_t::boolean:
      return ordered_json(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return ordered_json(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return ordered_json(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return ordered_json(j.get<double>());
    case nlohmann::json::value_t::discarded:
      return ordered_json(ordered_json::value_t::discarded);
    default:
      return nullptr;
  }
}

ordered_json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return to_ordered(nlohmann::json::parse(text, nullptr, false));
}

ordered_json damage_json(const std::vector<Damage>& damage) {
  ordered_json a = ordered_json::array();
  for (const Damage& d : damage)
    a.push_back({{"offset", d.offset},
                 {"length", d.length},
                 {"error", error_code_name(d.code)},
                 {"message", d.message}});
  return a;
}

}  // namespace

ordered_json manifest_json(Reader& r, const std::string& file) {
  ordered_json j;
  j["file"] = file;
  j["format_version"] = std::to_string(r.version_major()) + "." + std::to_string(r.version_minor());
  // A stream's end is never read: whether it is complete is not known.
  const bool seekable = r.seekable();
  j["complete"] = seekable ? ordered_json(r.has_index()) : ordered_json(nullptr);
  j["data_offset"] = r.data_offset();
  ordered_json tracks = parse_or_null(r.tracks_json())["tracks"];
  for (auto& t : tracks) {
    auto id = t["id"].get<uint16_t>();
    auto s = r.summary(id);
    if (s)
      t["summary"] = {
          {"block_count", s->block_count},
          {"start_pts", s->start_pts},
          {"end_pts", s->end_pts},
          {"index_entries", seekable ? ordered_json(r.index(id).size()) : ordered_json(nullptr)}};
    else
      t["summary"] = nullptr;
  }
  j["tracks"] = tracks;
  j["metadata"] =
      r.metadata_json().empty() ? ordered_json::object() : parse_or_null(r.metadata_json());
  ordered_json chapters = ordered_json::array();
  for (const Chapter& c : r.chapters()) {
    ordered_json o = {{"time_base", {c.time_base.num, c.time_base.den}}, {"start", c.start}};
    o["end"] = c.end ? ordered_json(*c.end) : ordered_json(nullptr);
    if (c.id) o["id"] = *c.id;
    if (!c.title.empty()) o["title"] = c.title;
    if (!c.tags.empty()) o["tags"] = c.tags;
    chapters.push_back(std::move(o));
  }
  j["chapters"] = std::move(chapters);
  ordered_json attachments = ordered_json::array();
  for (const Attachment& a : r.attachments()) {
    ordered_json o = {{"filename", a.filename}, {"mimetype", a.mimetype}, {"size", a.data.size()}};
    if (!a.description.empty()) o["description"] = a.description;
    if (a.track) o["track"] = a.track;
    attachments.push_back(std::move(o));
  }
  j["attachments"] = std::move(attachments);
  j["safe"] = parse_or_null(r.safe_json());
  j["note"] = r.note().empty() ? ordered_json(nullptr) : ordered_json(r.note());
  j["veri"] = parse_or_null(r.veri_json());
  j["signature"] = parse_or_null(r.signature_json());
  j["damage"] = damage_json(r.damage());
  j["damage_count"] = r.damage_count();
  // Those before the first group: a manifest reads no further.
  ordered_json unknown = ordered_json::array();
  for (const UnknownChunk& c : r.head_unknown_chunks()) unknown.push_back(unknown_chunk_json(c));
  j["head_unknown_chunks"] = std::move(unknown);
  j["head_unknown_chunks_unlisted"] = r.head_unknown_chunks_unlisted();
  return j;
}

namespace {

// What the end of the file says: whether it was finished, and which tracks
// seek with a TSEK (FORMAT.md §10; the others bisect).
std::string completeness(Reader& r, const ordered_json& manifest) {
  if (manifest["complete"].is_null()) return "read as a stream (its end and index are not read)";
  // An unusable index region is recorded as damage; without damage, no TAIL.
  if (!manifest["complete"].get<bool>())
    return r.damage().empty() ? "incomplete (no TAIL)"
                              : "no usable index (no TAIL, or see the damage below)";
  size_t tables = 0;
  for (const auto& t : manifest["tracks"]) tables += !t["summary"].is_null();
  const size_t n = r.tracks().size();
  if (tables == n) return "complete, indexed";
  if (tables == 0) return "complete, no seek tables (seeks bisect)";
  return "complete, seek tables for " + std::to_string(tables) + " of " + std::to_string(n) +
         " tracks (the others seek by bisection)";
}

}  // namespace

int inspect(const Options& o, const std::string& file) {
  auto src = open_input(file);
  Reader r(*src);
  ordered_json j = manifest_json(r, file);
  if (o.json) {
    print_json(j);
    return kExitOk;
  }
  std::printf("%s: H4MK %s, %s\n", file.c_str(), j["format_version"].get<std::string>().c_str(),
              completeness(r, j).c_str());
  for (const Track& t : r.tracks()) {
    std::printf("  track %u: %s %s, time base %lld/%lld", t.id, track_kind_name(t.kind),
                printable(t.codec).c_str(), (long long)t.time_base.num, (long long)t.time_base.den);
    if (!t.name.empty()) std::printf(", \"%s\"", printable(t.name).c_str());
    if (t.mask)
      std::printf(", masked %s (key id %s)", mask_scheme_name(t.mask->scheme),
                  printable(t.mask->kid).c_str());
    if (auto s = r.summary(t.id))
      std::printf(", %llu blocks, %.3f..%.3f s, %zu index entries",
                  (unsigned long long)s->block_count, seconds(s->start_pts, t.time_base),
                  seconds(s->end_pts, t.time_base), r.index(t.id).size());
    std::printf("\n");
  }
  if (!r.metadata_json().empty())
    std::printf("  metadata: %s\n", printable(r.metadata_json()).c_str());
  for (size_t i = 0; i < r.chapters().size(); ++i) {
    const Chapter& c = r.chapters()[i];
    std::printf("  chapter %zu: %.3f", i + 1, seconds(c.start, c.time_base));
    if (c.end) std::printf("..%.3f", seconds(*c.end, c.time_base));
    std::printf(" s%s%s%s\n", c.title.empty() ? "" : ", \"", printable(c.title).c_str(),
                c.title.empty() ? "" : "\"");
  }
  for (const Attachment& a : r.attachments()) {
    std::printf("  attachment \"%s\": %s, %zu bytes", printable(a.filename).c_str(),
                a.mimetype.empty() ? "no type" : printable(a.mimetype).c_str(), a.data.size());
    if (a.track) std::printf(", picture of track %u", a.track);
    std::printf("\n");
  }
  if (!r.safe_json().empty()) std::printf("  safe: %s\n", printable(r.safe_json()).c_str());
  if (!r.note().empty()) std::printf("  note: %s\n", printable(r.note()).c_str());
  std::printf("  veri: %s\n", r.veri_json().empty() ? "absent" : r.veri_json().c_str());
  if (!r.signature_json().empty()) std::printf("  signature: %s\n", r.signature_json().c_str());
  for (const Damage& d : r.damage()) std::printf("  damage: %s\n", printable(d.message).c_str());
  for (const UnknownChunk& c : r.head_unknown_chunks())
    std::printf("  unknown chunk %s\n", describe_unknown_chunk(c).c_str());
  if (r.head_unknown_chunks_unlisted())
    std::printf("  and %llu more chunks of unknown tags before the first group\n",
                (unsigned long long)r.head_unknown_chunks_unlisted());
  return kExitOk;
}

// Side data entries by name, values in hex; malformed side data as null.
ordered_json side_data_json(std::span<const uint8_t> blob) {
  ordered_json j = ordered_json::object();
  try {
    size_t pos = 0;
    for (SideDataEntry e; next_side_data(blob, pos, e);) j[std::string(e.key)] = hex(e.value);
  } catch (const Error&) {
    return nullptr;
  }
  return j;
}

// The registered entries laid out in fields (FORMAT.md §6.1), by field
// name; an entry that does not fit its layout as null.
ordered_json side_data_values(std::span<const uint8_t> blob) {
  ordered_json j = ordered_json::object();
  try {
    size_t pos = 0;
    for (SideDataEntry e; next_side_data(blob, pos, e);) {
      const SideDataLayout* l = find_side_data_layout(e.key);
      if (!l || l->kind != SideDataKind::kFields) continue;
      try {
        j[std::string(e.key)] = ordered_json::parse(side_data_values_json(*l, e.value));
      } catch (const Error&) {
        j[std::string(e.key)] = nullptr;
      }
    }
  } catch (const Error&) {
  }
  return j;
}

int list(const Options& o, const std::string& file, std::optional<uint16_t> track,
         const std::string& from, const std::string& to, bool packets, bool damaged) {
  for (const std::string* time : {&from, &to})  // reject bad syntax before any output
    if (!time->empty()) parse_time(*time, {1, 1});
  auto src = open_input(file);
  Reader r(*src);
  if (track) require_track(r, *track, file);
  r.hand_out_damaged_groups(damaged);
  std::optional<PacketReader> merged;
  if (packets) {
    merged.emplace(r);
    for (const Track& t : r.tracks())
      if (track && t.id != *track) merged->set_discarded(t.id);
  }
  std::map<uint16_t, std::pair<int64_t, int64_t>> bounds;
  // JSON is written as blocks are read, so memory stays that of one group
  // however many blocks the file holds; damage is the reader's bounded record.
  const auto text = [](const ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  size_t listed = 0;
  if (o.json)
    std::printf("{\n  \"file\": %s,\n  \"blocks\": [", text(ordered_json(file)).c_str());
  else
    std::printf("%10s %5s %4s %12s %12s %8s %12s %8s %6s %7s %10s\n", "offset", "track", "type",
                "pts", "dts", "duration", "seconds", "size", "masked", "damaged", "gop_flags");
  Block b;
  for (ReadEvent ev; (ev = merged ? merged->next(b) : r.next(b)) != ReadEvent::kEnd;) {
    if (ev == ReadEvent::kDamage) {
      if (!o.quiet)
        std::fprintf(stderr, "h4mk: %s: %s\n", file.c_str(),
                     printable(r.last_damage().message).c_str());
      continue;
    }
    if (track && b.info.track_id != *track) continue;
    const Track& t = *r.track(b.info.track_id);
    // --from/--to in this track's ticks, converted once per track.
    auto [it, fresh] = bounds.try_emplace(t.id);
    if (fresh) {
      it->second.first = from.empty() ? INT64_MIN : parse_time(from, t.time_base);
      it->second.second = to.empty() ? INT64_MAX : parse_time(to, t.time_base);
    }
    if (b.info.pts < it->second.first || b.info.pts >= it->second.second) continue;
    ordered_json j = block_json(b, t);
    if (packets) {
      j["side_data"] = side_data_json(b.side_data);
      j["side_data_values"] = side_data_values(b.side_data);
    }
    if (o.json) {
      std::printf("%s\n    %s", listed++ ? "," : "", text(j).c_str());
      continue;
    }
    std::printf(
        "%10llu %5u %4s %12lld %12lld %8lld %12.6f %8zu %6s %7s %10s\n",
        (unsigned long long)b.chunk_offset, b.info.track_id, block_type_name(b.info.type),
        (long long)b.info.pts, (long long)b.info.dts, (long long)b.info.duration,
        j["pts_seconds"].get<double>(), b.data.size(), b.info.masked ? "yes" : "no",
        b.damaged ? "yes" : "no",
        j["gop_flags"].is_null() ? "-" : std::to_string(j["gop_flags"].get<uint32_t>()).c_str());
  }
  if (o.json)
    std::printf("%s],\n  \"damage\": %s,\n  \"damage_count\": %llu\n}\n", listed ? "\n  " : "",
                text(damage_json(r.damage())).c_str(), (unsigned long long)r.damage_count());
  return kExitOk;
}

ordered_json chain_json(Reader& r, const Track& t, int64_t ticks) {
  ordered_json links = ordered_json::array();
  for (const ChainLink& l : r.decode_chain(t.id, ticks, false)) {
    ordered_json j;
    j["chunk_offset"] = l.chunk_offset;
    j["index_in_group"] = l.index_in_group;
    j["type"] = block_type_name(l.info.type);
    j["pts"] = l.info.pts;
    j["dts"] = l.info.dts;
    j["pts_seconds"] = seconds(l.info.pts, t.time_base);
    j["size"] = l.size;
    links.push_back(std::move(j));
  }
  return links;
}

ordered_json seek_json(Reader& r, const Track& t, int64_t ticks) {
  const bool indexed = r.has_index();
  SeekPoint p = r.seek(t.id, ticks);
  return {{"track", t.id},
          {"t", ticks},
          {"pts", p.pts},
          {"dts", p.dts},
          {"pts_seconds", seconds(p.pts, t.time_base)},
          {"chunk_offset", p.chunk_offset},
          {"index_in_group", p.index_in_group},
          {"via", indexed ? "index" : "bisection"}};
}

namespace {
// Seek-like commands need a seekable file and report a missing target as kExitNotFound.
template <typename F>
int with_target(const std::string& file, uint16_t track, const std::string& time, F&& f) {
  auto src = open_input(file);
  Reader r(*src);
  const Track& t = require_track(r, track, file);
  int64_t ticks = parse_time(time, t.time_base);
  try {
    return f(r, t, ticks);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kNotFound) throw Failure{kExitNotFound, file + ": " + e.what()};
    throw;
  }
}
}  // namespace

int chain(const Options& o, const std::string& file, uint16_t track, const std::string& time) {
  return with_target(file, track, time, [&](Reader& r, const Track& t, int64_t ticks) {
    ordered_json links = chain_json(r, t, ticks);
    if (o.json) {
      print_json({{"file", file}, {"track", track}, {"t", ticks}, {"chain", links}});
    } else {
      std::printf("decode chain for track %u at %lld (%.6f s): %zu blocks\n", track,
                  (long long)ticks, seconds(ticks, t.time_base), links.size());
      for (const auto& l : links)
        std::printf("  %s pts %lld (%.6f s), %zu bytes, group at %llu block %u\n",
                    l["type"].get<std::string>().c_str(), (long long)l["pts"].get<int64_t>(),
                    l["pts_seconds"].get<double>(), l["size"].get<size_t>(),
                    (unsigned long long)l["chunk_offset"].get<uint64_t>(),
                    l["index_in_group"].get<uint32_t>());
    }
    return kExitOk;
  });
}

int seek(const Options& o, const std::string& file, uint16_t track, const std::string& time) {
  return with_target(file, track, time, [&](Reader& r, const Track& t, int64_t ticks) {
    ordered_json j = {{"file", file}};
    j.update(seek_json(r, t, ticks));
    const bool indexed = j["via"] == "index";
    const int64_t pts = j["pts"];
    const uint64_t chunk_offset = j["chunk_offset"];
    const uint32_t index_in_group = j["index_in_group"];
    if (o.json)
      print_json(j);
    else
      std::printf(
          "track %u at %lld: I block pts %lld (%.6f s), group at offset %llu, block %u (%s)\n",
          track, (long long)ticks, (long long)pts, seconds(pts, t.time_base),
          (unsigned long long)chunk_offset, index_in_group, indexed ? "index" : "bisection");
    return kExitOk;
  });
}

bool find_block(Reader& r, std::optional<uint16_t> track, std::optional<uint64_t> index,
                std::optional<uint64_t> offset, Block& b) {
  uint64_t n = 0;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock || (track && b.info.track_id != *track)) continue;
    if (index ? n++ == *index
              : (b.data_offset == *offset || (b.chunk_offset == *offset && b.index_in_group == 0)))
      return true;
  }
  return false;
}

int block(const Options& o, const std::string& file, std::optional<uint16_t> track,
          std::optional<uint64_t> index, std::optional<uint64_t> offset, const std::string& out) {
  auto src = open_input(file);
  Reader r(*src);
  if (track) require_track(r, *track, file);
  Block b;
  if (find_block(r, track, index, offset, b)) {
    try {
      FileSink sink = out == "-" ? FileSink(stdout) : FileSink(out);
      sink.write(b.data);
      sink.close();
    } catch (const Error& e) {
      throw Failure{kExitOutput, e.what()};
    }
    if (!o.quiet && out != "-")
      std::fprintf(stderr, "h4mk: wrote %zu bytes of the %s block at pts %lld (track %u) to %s\n",
                   b.data.size(), block_type_name(b.info.type), (long long)b.info.pts,
                   b.info.track_id, out.c_str());
    return kExitOk;
  }
  throw Failure{kExitNotFound, file + ": no block " +
                                   (index ? "number " + std::to_string(*index)
                                          : "at offset " + std::to_string(*offset)) +
                                   (track ? " in track " + std::to_string(*track) : "")};
}

}  // namespace h4mk::cli
