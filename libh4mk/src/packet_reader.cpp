#include "h4mk/packet_reader.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "h4mk/error.hpp"
#include "rescale.hpp"

namespace h4mk {

using namespace detail;

namespace {

// A group spans at most 2 s by the writer's defaults (FORMAT.md §12.2); the
// window never goes below 1 s, and grows to the longest span met.
constexpr int64_t kMinWindowUs = 1'000'000;
// Up to this many tracks a scan finds the slowest one; beyond, an ordered set.
constexpr size_t kScannedTracks = 16;

bool presents_at_or_after(const BlockInfo& b, int64_t t) {
  return Int128(b.pts) + std::max<int64_t>(b.duration, 1) > t;
}

}  // namespace

struct PacketReader::Impl {
  Reader& reader;
  PacketReaderOptions opt;

  struct TrackState {
    uint16_t id = 0;
    Rational time_base;
    int64_t us_num = 0, den = 1;  // ticks to microseconds: * us_num / den
    bool discarded = false;
    std::optional<uint64_t> remaining;  // blocks still to come, when known
    std::optional<int64_t> last_us;     // latest dts read since the last reset
    std::optional<int64_t> skip_until;  // seek by reading: first I block presenting here
    std::optional<int64_t> handed_out;  // latest dts handed out
    bool waited() const { return !discarded && remaining != uint64_t{0}; }

    // ts ticks in microseconds, rounded down. us_num / den is in lowest
    // terms, so a video time base (1/25: 40000/1) needs no division; the
    // 128-bit path only when the product overflows (a division costs more
    // than the rest of a block's handling).
    int64_t to_us(int64_t ts) const {
      int64_t p;
      if (__builtin_mul_overflow(ts, us_num, &p))
        return saturate(divide(Int128(ts) * us_num, den, Round::kDown));
      if (den == 1) return p;
      if (p >= 0) return int64_t(uint64_t(p) / uint64_t(den));
      return p / den - (p % den != 0 ? 1 : 0);
    }
  };
  std::vector<TrackState> tracks;
  std::unordered_map<uint16_t, size_t> slot_of;  // tracks[i] is reader.tracks()[i]

  // The merge: the latest dts read of each waited-for track that has
  // delivered one (a set with many tracks, a scan of `tracks` with few), and
  // how many waited-for tracks have not.
  std::set<std::pair<int64_t, size_t>> progress;
  size_t silent = 0;

  // Queued blocks: copies kept in a slab whose buffers are reused (a block
  // is a few hundred bytes: allocating each was most of the merge's cost),
  // ordered by a heap of small entries.
  struct Stored {
    Block block;  // data and side_data point into bytes
    size_t track = 0;
    std::vector<uint8_t> bytes;
  };
  struct Queued {
    int64_t dts_us;
    uint64_t seq;  // read order, which is file order
    uint32_t stored;
  };
  struct Later {
    bool operator()(const Queued& a, const Queued& b) const {
      return a.dts_us != b.dts_us ? a.dts_us > b.dts_us : a.seq > b.seq;
    }
  };
  static constexpr size_t kKeptBuffer = 64 * 1024;  // larger buffers are not reused
  static constexpr size_t kKeptSlab = 1024;         // nor a slab this long, once drained
  std::vector<Stored> slab;
  std::vector<uint32_t> free_slots;
  std::vector<Queued> queue;         // a heap, earliest first
  std::optional<uint32_t> out_slot;  // the slab entry handed out last: freed on the next call
  size_t queued_bytes = 0;
  uint64_t seq = 0;
  bool at_end = false;
  // A block read that was due at once but has earlier queued blocks to go
  // first, not copied: its data lives in the reader until the next read, and
  // nothing is read before it goes out.
  bool pending = false;
  Block pending_block;
  size_t pending_track = 0;
  int64_t pending_us = 0;
  uint64_t pending_seq = 0;

  int64_t frontier_us = INT64_MIN;  // latest dts read
  int64_t window_us = kMinWindowUs;
  uint64_t group_offset = UINT64_MAX;  // the group being read, and its first dts
  int64_t group_first_us = 0;

  Impl(Reader& r, PacketReaderOptions o) : reader(r), opt(o) {
    tracks.resize(reader.tracks().size());
    for (size_t i = 0; i < tracks.size(); ++i) {
      const Track& t = reader.tracks()[i];
      slot_of[t.id] = i;
      tracks[i].id = t.id;
      tracks[i].time_base = t.time_base;
      const int64_t num = int64_t(t.time_base.num) * 1'000'000, den = t.time_base.den;
      const int64_t g = std::gcd(num, den);
      tracks[i].us_num = num / g;
      tracks[i].den = den / g;
    }
    reset(true);
  }

  bool many_tracks() const { return tracks.size() > kScannedTracks; }

  size_t slot(uint16_t id) const {
    auto it = slot_of.find(id);
    if (it == slot_of.end())
      throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(id));
    return it->second;
  }

  // Forgets what was read: after a seek, or from the start of the file
  // (where the tracks' summaries say how many blocks each will deliver).
  void reset(bool from_start) {
    drop_queue();
    pending = false;
    queued_bytes = 0;
    progress.clear();
    silent = 0;
    at_end = false;
    frontier_us = INT64_MIN;
    group_offset = UINT64_MAX;
    for (TrackState& st : tracks) {
      st.last_us.reset();
      st.skip_until.reset();
      st.handed_out.reset();
      st.remaining.reset();
      if (from_start)
        if (auto s = reader.summary(st.id)) st.remaining = s->block_count;
      if (st.waited()) ++silent;
    }
  }

  void stop_waiting(size_t i) {
    TrackState& st = tracks[i];
    if (st.last_us) {
      if (many_tracks()) progress.erase({*st.last_us, i});
      st.last_us.reset();
    } else {
      --silent;
    }
  }

  void set_discarded(uint16_t id, bool discarded) {
    const size_t i = slot(id);
    TrackState& st = tracks[i];
    if (st.discarded == discarded) return;
    if (st.waited()) stop_waiting(i);
    st.discarded = discarded;
    if (st.waited()) ++silent;
  }

  // What reading a block tells the merge.
  void note_read(size_t i, const Block& b, int64_t dts_us) {
    TrackState& st = tracks[i];
    frontier_us = std::max(frontier_us, dts_us);
    if (b.chunk_offset != group_offset) {
      group_offset = b.chunk_offset;
      group_first_us = dts_us;
    }
    // The group's span so far, with the block's duration (only near the
    // window: a conversion costs as much as the rest of the merge).
    if (Int128(dts_us) - group_first_us >= window_us / 2) {
      const int64_t end_us =
          st.to_us(saturate(Int128(b.info.dts) + std::max<int64_t>(b.info.duration, 0)));
      window_us = std::max(window_us, saturate(Int128(end_us) - group_first_us));
    }
    if (!st.waited()) return;
    if (!st.last_us) {
      --silent;
      st.last_us = dts_us;
      if (many_tracks()) progress.insert({dts_us, i});
    } else if (dts_us > *st.last_us) {
      if (many_tracks()) {
        auto node = progress.extract({*st.last_us, i});
        node.value().first = dts_us;
        progress.insert(std::move(node));
      }
      st.last_us = dts_us;
    }
    if (st.remaining && --*st.remaining == 0) {
      if (many_tracks()) progress.erase({*st.last_us, i});
      st.last_us.reset();
    }
  }

  // The latest dts every waited-for track that delivered has read past.
  int64_t slowest_us() const {
    if (many_tracks()) return progress.empty() ? INT64_MAX : progress.begin()->first;
    int64_t slowest = INT64_MAX;
    for (const TrackState& st : tracks)
      if (st.last_us) slowest = std::min(slowest, *st.last_us);
    return slowest;
  }

  // Whether nothing still to be read can come before a block of this dts.
  bool due(int64_t dts_us) const {
    if (at_end || queue.size() >= opt.max_queued_packets || queued_bytes >= opt.max_queued_bytes)
      return true;
    if (Int128(dts_us) < Int128(frontier_us) - window_us) return true;
    return silent == 0 && slowest_us() >= dts_us;
  }

  // Pipe seeks: whether the block comes before its track's resume point.
  bool skipped(TrackState& st, const BlockInfo& b) {
    if (st.discarded) return true;
    if (!st.skip_until) return false;
    if (b.type == BlockType::kI && presents_at_or_after(b, *st.skip_until)) {
      st.skip_until.reset();
      return false;
    }
    return true;
  }

  void enqueue(const Block& b, size_t track, int64_t dts_us, uint64_t at) {
    uint32_t k;
    if (free_slots.empty()) {
      k = uint32_t(slab.size());
      slab.emplace_back();
    } else {
      k = free_slots.back();
      free_slots.pop_back();
    }
    Stored& e = slab[k];
    e.track = track;
    e.block = b;
    e.bytes.assign(b.data.begin(), b.data.end());
    e.bytes.insert(e.bytes.end(), b.side_data.begin(), b.side_data.end());
    e.block.data = std::span<const uint8_t>(e.bytes.data(), b.data.size());
    e.block.side_data =
        std::span<const uint8_t>(e.bytes.data() + b.data.size(), b.side_data.size());
    queued_bytes += e.bytes.size();
    queue.push_back({dts_us, at, k});
    std::push_heap(queue.begin(), queue.end(), Later{});
  }

  // The earliest queued block's slab entry, out of the queue.
  Stored& dequeue() {
    std::pop_heap(queue.begin(), queue.end(), Later{});
    const uint32_t k = queue.back().stored;
    queue.pop_back();
    out_slot = k;
    queued_bytes -= slab[k].bytes.size();
    return slab[k];
  }

  // A slab entry goes back for reuse, its buffer too unless it is large.
  void free_slot(uint32_t k) {
    Stored& e = slab[k];
    if (e.bytes.capacity() > kKeptBuffer) std::vector<uint8_t>().swap(e.bytes);
    free_slots.push_back(k);
  }

  // Once the queue drains, a burst's peak is given back.
  void give_back_peak() {
    if (!queue.empty() || slab.size() <= kKeptSlab) return;
    slab.clear();
    slab.shrink_to_fit();
    free_slots.clear();
    free_slots.shrink_to_fit();
    queue.shrink_to_fit();
  }

  // The entry handed out on the last call goes back to the slab.
  void release_out_slot() {
    if (!out_slot) return;
    free_slot(*out_slot);
    out_slot.reset();
    give_back_peak();
  }

  // Empties the queue, keeping the slab's buffers for what comes next (a
  // seek is followed by a burst like the one before it).
  void drop_queue() {
    for (const Queued& q : queue) free_slot(q.stored);
    queue.clear();
    if (out_slot) free_slot(*out_slot);
    out_slot.reset();
    give_back_peak();
  }

  // Hands out a block of the track in slot i unless the track skips it.
  bool hand_out(const Block& b, size_t i, Block& out) {
    if (!handed_out(b, i)) return false;
    out = b;
    return true;
  }

  // Whether the block goes out (its track does not skip it), noting it.
  bool handed_out(const Block& b, size_t i) {
    TrackState& st = tracks[i];
    if (skipped(st, b.info)) return false;
    st.handed_out = std::max(st.handed_out.value_or(INT64_MIN), b.info.dts);
    return true;
  }

  bool queue_first(int64_t dts_us, uint64_t at) const {
    return Later{}({dts_us, at, 0}, queue.front());
  }

  ReadEvent next(Block& out) {
    release_out_slot();
    for (;;) {
      if (pending) {  // the queue's earlier blocks are due too: they go first
        if (!queue.empty() && queue_first(pending_us, pending_seq)) {
          const Stored& e = dequeue();
          if (hand_out(e.block, e.track, out)) return ReadEvent::kBlock;
          release_out_slot();
          continue;
        }
        pending = false;
        if (hand_out(pending_block, pending_track, out)) return ReadEvent::kBlock;
        continue;
      }
      if (!queue.empty() && due(queue.front().dts_us)) {
        const Stored& e = dequeue();
        if (hand_out(e.block, e.track, out)) return ReadEvent::kBlock;
        release_out_slot();
        continue;
      }
      if (at_end) return ReadEvent::kEnd;
      // Read into `out`: a block that goes straight out is not copied again.
      Block& b = out;
      const ReadEvent ev = reader.next(b);
      if (ev == ReadEvent::kDamage) return ev;
      if (ev == ReadEvent::kEnd) {
        at_end = true;
        continue;
      }
      const size_t i = b.track_index;  // the reader's slot, which is ours
      if (tracks[i].discarded) continue;
      if (tracks.size() == 1) {  // nothing to merge
        if (handed_out(b, i)) return ReadEvent::kBlock;
        continue;
      }
      const int64_t dts_us = tracks[i].to_us(b.info.dts);
      note_read(i, b, dts_us);
      const uint64_t at = seq++;
      if (!due(dts_us)) {
        enqueue(b, i, dts_us, at);
      } else if (queue.empty() || !queue_first(dts_us, at)) {  // straight out, uncopied
        if (handed_out(b, i)) return ReadEvent::kBlock;
      } else {
        pending = true;
        pending_block = b;
        pending_track = i;
        pending_us = dts_us;
        pending_seq = at;
      }
    }
  }

  bool is_first_key(uint16_t id, const BlockInfo& b) {
    const auto index = reader.index(id);
    return b.type == BlockType::kI && !index.empty() && b.pts <= index.front().pts;
  }

  PacketSeek seek(uint16_t id, int64_t t, SeekMode mode) {
    const size_t i = slot(id);
    if (!reader.seekable()) return seek_by_reading(i, t);
    // A seek reads, and a failed one reads back where it was: the block
    // waiting uncopied in the reader's memory is copied first.
    if (pending) {
      enqueue(pending_block, pending_track, pending_us, pending_seq);
      pending = false;
    }
    PacketSeek r;
    bool from_start = false;
    try {
      r.point = reader.seek_all(id, t, mode, &r.block);
      from_start = r.block.pts >= t && is_first_key(id, r.block);
    } catch (const Error& e) {
      // No I block at or before t, but one after it: t is before the first.
      if (e.code() != ErrorCode::kNotFound || mode == SeekMode::kKeyAfter) throw;
      try {
        reader.seek(id, t, SeekMode::kKeyAfter);
      } catch (const Error&) {
        throw e;
      }
      from_start = true;
    }
    if (from_start) {
      reader.rewind();
      reset(true);
      return {PacketSeek::How::kFromStart, {}, {}};
    }
    reset(false);
    r.how = PacketSeek::How::kLanded;
    return r;
  }

  PacketSeek seek_by_reading(size_t i, int64_t t) {
    const int64_t t_us = tracks[i].to_us(t);
    int64_t reached_us = INT64_MIN;
    for (const TrackState& st : tracks)
      if (st.handed_out) reached_us = std::max(reached_us, st.to_us(*st.handed_out));
    if (t_us < reached_us)
      throw Error(ErrorCode::kNotSeekable,
                  "cannot seek back to " + std::to_string(t_us) + " us: the source is not " +
                      "seekable and reading is at " + std::to_string(reached_us) + " us");
    for (TrackState& st : tracks)
      st.skip_until = rescale(t_us, kMicroseconds, st.time_base, Round::kUp);
    tracks[i].skip_until = t;
    return {PacketSeek::How::kByReading, {}, {}};
  }
};

PacketReader::PacketReader(Reader& reader, PacketReaderOptions options)
    : impl_(std::make_unique<Impl>(reader, options)) {}
PacketReader::~PacketReader() = default;

void PacketReader::set_discarded(uint16_t track_id, bool discarded) {
  impl_->set_discarded(track_id, discarded);
}
ReadEvent PacketReader::next(Block& out) { return impl_->next(out); }
PacketSeek PacketReader::seek(uint16_t track_id, int64_t t, SeekMode mode) {
  return impl_->seek(track_id, t, mode);
}
size_t PacketReader::queued_packets() const { return impl_->queue.size(); }
size_t PacketReader::queued_bytes() const { return impl_->queued_bytes; }

}  // namespace h4mk
