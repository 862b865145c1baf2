// Reader: seeking one track or every track (FORMAT.md §9.5), with the
// index or by bisection without it, and decode chains.
#include <algorithm>
#include <string>
#include <vector>

#include "chunk.hpp"
#include "reader_impl.hpp"
#include "rescale.hpp"

namespace h4mk {

namespace {

// How far before a seek's landing time seek_all goes back for another track's
// block (as Matroska's demuxer does for subtitles): 30 s.
constexpr int64_t kResumeWindowUs = 30'000'000;
// The most seek_all reads at once to cover other tracks' groups before the
// landing group as well (beyond it, a second read).
constexpr uint64_t kMaxSeekPrefetch = 512 * 1024;

bool presents_at_or_after(const BlockInfo& b, int64_t t) {
  int64_t end;
  if (__builtin_add_overflow(b.pts, b.duration, &end)) end = INT64_MAX;
  return b.pts >= t || end > t;
}

}  // namespace

SeekPoint Reader::Impl::land(size_t index) {
  group_pos = index;
  const BlockInfo b = group.info(index);
  return {b.track_id, b.pts, b.dts, group_chunk_offset, static_cast<uint32_t>(index)};
}

void Reader::Impl::not_found(uint16_t id, int64_t t) {
  throw Error(ErrorCode::kNotFound,
              "track " + std::to_string(id) + " has no I block with pts <= " + std::to_string(t));
}

std::optional<Reader::Impl::EntrySpan> Reader::Impl::entry_at_or_before(const SeekTable& table,
                                                                        int64_t t) const {
  const auto& entries = table.entries;
  auto e = std::upper_bound(entries.begin(), entries.end(), t,
                            [](int64_t v, const IndexEntry& x) { return v < x.pts; });
  if (e == entries.begin()) return std::nullopt;
  --e;
  return EntrySpan{&*e, e + 1 != entries.end() ? (e + 1)->offset : index_offset};
}

SeekPoint Reader::Impl::seek(uint16_t id, int64_t t) {
  require_track(id);
  ensure_index();
  auto it = tables.find(id);
  if (it == tables.end()) return seek_without_index(id, t);
  const auto found = entry_at_or_before(it->second, t);
  if (!found) not_found(id, t);
  const IndexEntry* e = found->entry;
  // The span up to the track's next indexed group (or the end of the CORE
  // region) holds the group and what sequential reading needs right after
  // it: reading it at once saves a second read for the payload (a system
  // call, or a range request), up to a bound.
  const uint64_t span = found->next_offset - e->offset;
  if (load_group_at(e->offset, static_cast<size_t>(std::min<uint64_t>(span, kMaxReadAhead))) &&
      group.track_id() == id) {
    long k = group.last_key_at_or_before(t);
    if (k >= 0) return land(size_t(k));
  }
  record(e->offset, 0, ErrorCode::kCorrupt,
         "TSEK entry for track " + std::to_string(id) + " does not point at a matching group");
  return seek_without_index(id, t);
}

SeekPoint Reader::Impl::seek(uint16_t id, int64_t t, SeekMode mode) {
  if (mode == SeekMode::kKeyBefore) return seek(id, t);
  std::optional<SeekPoint> key;
  try {
    key = seek(id, t);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kNotFound) throw;
    reposition(head.data_offset);
  }
  if (mode == SeekMode::kKeyAfter && key && key->pts >= t) return *key;
  std::optional<std::pair<uint64_t, uint32_t>> best;
  Block b;
  for (ReadEvent ev; (ev = next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock || b.info.track_id != id) continue;
    if (mode == SeekMode::kKeyAfter) {
      if (b.info.type == BlockType::kI && b.info.pts >= t) {
        best = {b.chunk_offset, b.index_in_group};
        break;
      }
    } else {
      if (b.info.dts > t) break;
      if (b.info.pts <= t) best = {b.chunk_offset, b.index_in_group};
    }
  }
  if (!best || !load_group_at(best->first))
    throw Error(ErrorCode::kNotFound, "track " + std::to_string(id) +
                                          " has no block to land on for " + std::to_string(t));
  return land(best->second);
}

void Reader::Impl::skip_to_resume_point() {
  if (group_pos >= group.size()) return;
  std::optional<ResumePoint>& point = cursors[group_track_slot].resume;
  if (!point) return;
  ResumePoint& r = *point;
  if (r.kind == ResumePoint::kInEntryGroup) {
    if (group_chunk_offset < r.chunk_offset) {  // the track's earlier groups
      group_pos = group.size();
      return;
    }
    r = group_chunk_offset == r.chunk_offset ? point_in_entry_group(r.t)
                                             : ResumePoint{ResumePoint::kByTime, 0, 0, r.t};
  }
  for (; group_pos < group.size(); ++group_pos) {
    const BlockInfo b = group.info(group_pos);
    const bool before = r.kind == ResumePoint::kAtBlock
                            ? group_chunk_offset < r.chunk_offset ||
                                  (group_chunk_offset == r.chunk_offset && group_pos < r.index)
                            : !(b.type == BlockType::kI && presents_in_group(group_pos, r.t));
    if (!before) {
      point.reset();
      --resuming;
      return;
    }
  }
}

Reader::Impl::ResumePoint Reader::Impl::point_in_entry_group(int64_t t) const {
  const long k = group.last_key_at_or_before(t);
  if (k >= 0) {
    const size_t i = size_t(k);
    const Track* subject = track(group.track_id());
    const bool stand_alone = subject && subject->kind == TrackKind::kSubtitle;
    const bool dependents =
        !stand_alone && (i + 1 == group.size() || group.info(i + 1).type != BlockType::kI);
    if (presents_in_group(i, t) || dependents)
      return {ResumePoint::kAtBlock, group_chunk_offset, uint32_t(i), t};
  }
  return {ResumePoint::kByTime, 0, 0, t};
}

bool Reader::Impl::presents_in_group(size_t pos, int64_t t) const {
  const BlockInfo b = group.info(pos);
  return presents_at_or_after(b, t) ||
         (b.duration == 0 && pos + 1 < group.size() && group.info(pos + 1).pts > t);
}

const IndexEntry* Reader::Impl::entry_to_resume_in(const Track& track, int64_t t) const {
  auto table = tables.find(track.id);
  if (table == tables.end()) return nullptr;
  const auto found = entry_at_or_before(table->second, t);
  if (!found) return nullptr;
  const int64_t window = rescale(kResumeWindowUs, kMicroseconds, track.time_base, Round::kDown);
  return Int128(t) - found->entry->pts > window ? nullptr : found->entry;
}

SeekPoint Reader::Impl::seek_all(uint16_t id, int64_t t, SeekMode mode, BlockInfo* landed_block) {
  if (head.tracks.size() > 1) prefetch_for_seek_all(id, t);
  const SeekPoint landed = seek(id, t, mode);
  if (landed_block) {  // seek() loaded its group
    *landed_block = group.info(group_pos);
    if (landed_block->masked && maskers.count(id)) landed_block->masked = false;  // as next()
  }
  if (head.tracks.size() < 2) return landed;
  const Rational base = require_track(id).time_base;
  std::vector<std::optional<ResumePoint>> points(head.tracks.size());
  uint64_t start = landed.chunk_offset;
  for (size_t i = 0; i < head.tracks.size(); ++i) {
    const Track& other = head.tracks[i];
    if (other.id == id) {
      points[i] = {ResumePoint::kAtBlock, landed.chunk_offset, landed.index_in_group, landed.pts};
      continue;
    }
    const int64_t at = rescale(landed.pts, base, other.time_base, Round::kDown);
    if (const IndexEntry* e = entry_to_resume_in(other, at)) {
      points[i] = {ResumePoint::kInEntryGroup, e->offset, 0, at};
      start = std::min(start, e->offset);
    } else {
      points[i] = {ResumePoint::kByTime, 0, 0, at};
    }
  }
  park_group();
  reposition(start);  // within the window the prefetch read: no second read
  for (size_t i = 0; i < head.tracks.size(); ++i) cursors[i].resume = points[i];
  resuming = head.tracks.size();
  return landed;
}

void Reader::Impl::prefetch_for_seek_all(uint16_t id, int64_t t) {
  ensure_index();
  auto table = tables.find(id);
  if (table == tables.end()) return;
  const auto found = entry_at_or_before(table->second, t);
  if (!found) return;
  const Rational base = require_track(id).time_base;
  const uint64_t landing = found->entry->offset;
  uint64_t from = landing, last = landing;
  for (const Track& other : head.tracks) {
    if (other.id == id) continue;
    for (const int64_t at : {found->entry->pts, t})
      if (const IndexEntry* o =
              entry_to_resume_in(other, rescale(at, base, other.time_base, Round::kDown))) {
        from = std::min(from, o->offset);
        last = std::max(last, o->offset);
      }
  }
  if (from == landing && last == landing) return;  // seek() reads what it needs
  const uint64_t end = found->next_offset;
  if (end <= from || end - from > kMaxSeekPrefetch) return;
  reposition(from);
  prefetch(static_cast<size_t>(end - from));
}

void Reader::Impl::prefetch(size_t n) {
  try {
    stream.fill(n);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kVerifyFailed) throw;
  }
}

std::optional<Reader::Impl::Probe> Reader::Impl::probe(uint16_t id, uint64_t from, uint64_t limit) {
  reposition(from);
  if (!chunks.resync()) return std::nullopt;
  while (stream.position() < limit) {
    ChunkView v;
    ChunkStatus st = read_chunk(v);
    if (st == ChunkStatus::kEnd) return std::nullopt;
    if (st == ChunkStatus::kBad) {
      stream.seek(v.offset + 1);
      if (!chunks.resync()) return std::nullopt;
      continue;
    }
    if (is_index_tag(v.header.tag)) return std::nullopt;
    if (v.header.tag == kTagCore && v.payload.size() >= kGroupHeaderSize &&
        decode_group_header(v.payload, v.offset).track_id == id) {
      const uint64_t at = v.offset;
      if (!take_group(v)) return Probe{at, group.info(0).dts};
      continue;
    }
    pass(v);
  }
  return std::nullopt;
}

uint64_t Reader::Impl::data_end() {
  ensure_index();
  return *stream.size();
}

SeekPoint Reader::Impl::seek_without_index(uint16_t id, int64_t t) {
  require_track(id);
  if (!stream.seekable() || !stream.size())
    throw Error(ErrorCode::kNotSeekable, "cannot seek: the source is not seekable");
  const uint64_t end = data_end();
  // 1. Bisection for P, the first group of the track whose first dts > t.
  //    Blocks from P on have pts >= dts > t, so the answer lies before P.
  // Stops once the range is small: the window scan below covers the rest.
  constexpr uint64_t kScanWindow = 64 * 1024;
  uint64_t lo = head.data_offset, hi = end, first_after = end;
  while (lo + kScanWindow / 2 < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    auto g = probe(id, mid, hi);
    if (!g || g->offset >= hi) {
      hi = mid;
    } else if (g->first_dts > t) {
      first_after = g->offset;
      hi = mid;
    } else {
      lo = g->offset + 1;
    }
  }
  // 2. Scan windows ending at P, doubling backwards, for the last I block of
  //    the track with pts <= t (I block pts never decrease in decode order).
  for (uint64_t window = kScanWindow;; window *= 2) {
    uint64_t start =
        first_after > head.data_offset + window ? first_after - window : head.data_offset;
    std::optional<std::pair<uint64_t, size_t>> best;
    reposition(start);
    bool found = start == head.data_offset || chunks.resync();
    while (found && stream.position() < first_after) {
      ChunkView v;
      ChunkStatus st = read_chunk(v);
      if (st == ChunkStatus::kEnd) break;
      if (st == ChunkStatus::kBad) {
        stream.seek(v.offset + 1);
        if (!chunks.resync()) break;
        continue;
      }
      if (v.header.tag != kTagCore) {
        if (is_index_tag(v.header.tag)) break;
        pass(v);
        continue;
      }
      const uint64_t at = v.offset;
      if (take_group(v)) continue;
      if (group.track_id() != id) continue;
      long k = group.last_key_at_or_before(t);
      if (k >= 0) best = {at, size_t(k)};
    }
    if (best) {
      if (!load_group_at(best->first)) break;
      return land(best->second);
    }
    if (start == head.data_offset) break;
  }
  not_found(id, t);
}

std::vector<ChainLink> Reader::Impl::decode_chain(uint16_t id, int64_t t, bool payloads) {
  seek(id, t);
  std::vector<ChainLink> gop;  // blocks of the track from the key, in decode order
  // A bound the track declares holds; otherwise the reader's limit.
  const Track& track = require_track(id);
  const uint32_t max_chain = track.max_chain_blocks
                                 ? std::min(opt.limits.max_chain_blocks, track.max_chain_blocks)
                                 : opt.limits.max_chain_blocks;
  uint64_t gop_bytes = 0;
  Block b;
  std::optional<Damage> gap;  // damage met since the last block of the GOP
  for (;;) {
    ReadEvent ev = next(b);
    if (ev == ReadEvent::kEnd) break;
    if (ev == ReadEvent::kDamage) {
      gap = damage.last();
      continue;
    }
    if (b.info.track_id != id) continue;
    if (!gop.empty() && (b.info.type == BlockType::kI || b.info.dts > t)) break;
    // Blocks of this GOP on both sides of a damaged region: some may be lost.
    if (gap)
      throw Error(ErrorCode::kCorrupt,
                  "decode chain for track " + std::to_string(id) + " at " + std::to_string(t) +
                      " crosses damage: " + gap->message,
                  gap->offset);
    if (payloads) gop_bytes += b.data.size();
    if (gop.size() >= max_chain || gop_bytes > opt.limits.max_chain_bytes)
      throw Error(ErrorCode::kLimitExceeded,
                  "decode chain for track " + std::to_string(id) + " at " + std::to_string(t) +
                      " is longer than " + std::to_string(max_chain) + " blocks or " +
                      std::to_string(opt.limits.max_chain_bytes) +
                      " bytes from its I block at offset " +
                      std::to_string(gop.empty() ? b.chunk_offset : gop.front().chunk_offset) +
                      (max_chain < opt.limits.max_chain_blocks ? " (the track's bound in TRAK)"
                                                               : " (reader limit)"),
                  b.chunk_offset);
    ChainLink& link =
        gop.emplace_back(ChainLink{b.info, b.chunk_offset, b.index_in_group, b.data.size(), {}});
    if (payloads) link.payload.assign(b.data.begin(), b.data.end());
  }
  // The presenting block: greatest pts <= t, the later one on ties.
  size_t present = 0;
  for (size_t i = 0; i < gop.size(); ++i)
    if (gop[i].info.pts <= t && gop[i].info.pts >= gop[present].info.pts) present = i;
  // Anchors (I/P) up to the presenting block, or up to the B block's later
  // anchor (the last anchor before it in decode order), then the B block.
  std::vector<ChainLink> chain;
  for (size_t i = 0; i <= present; ++i)
    if (gop[i].info.type != BlockType::kB) chain.push_back(std::move(gop[i]));
  if (gop[present].info.type == BlockType::kB) chain.push_back(std::move(gop[present]));
  return chain;
}

}  // namespace h4mk
