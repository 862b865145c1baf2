#include "h4mk/packet_reader.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "h4mk/error.hpp"

namespace h4mk {
namespace {

__extension__ using Int128 = __int128;

// A group spans at most 2 s by the writer's defaults (FORMAT.md §12.2); the
// window never goes below 1 s, and grows to the longest span met.
constexpr int64_t kMinWindowUs = 1'000'000;

int64_t saturate(Int128 v) {
  return v > INT64_MAX ? INT64_MAX : v < INT64_MIN ? INT64_MIN : int64_t(v);
}

// ts ticks of tb in microseconds, rounded down.
int64_t to_us(int64_t ts, Rational tb) {
  const Int128 num = Int128(ts) * tb.num * 1'000'000, den = tb.den;
  Int128 q = num / den;
  if (num % den != 0 && num < 0) --q;
  return saturate(q);
}

// t microseconds in ticks of tb, rounded up.
int64_t from_us_up(int64_t us, Rational tb) {
  const Int128 num = Int128(us) * tb.den, den = Int128(tb.num) * 1'000'000;
  Int128 q = num / den;
  if (num % den != 0 && num > 0) ++q;
  return saturate(q);
}

bool presents_at_or_after(const BlockInfo& b, int64_t t) {
  return Int128(b.pts) + std::max<int64_t>(b.duration, 1) > t;
}

}  // namespace

struct PacketReader::Impl {
  Reader& reader;
  PacketReaderOptions opt;

  struct TrackState {
    Rational time_base;
    bool discarded = false;
    std::optional<uint64_t> remaining;  // blocks still to come, when known
    std::optional<int64_t> last_us;     // latest dts read since the last reset
    std::optional<int64_t> skip_until;  // seek by reading: first I block presenting here
    bool waited() const { return !discarded && remaining != uint64_t{0}; }
  };
  std::vector<TrackState> tracks;
  std::unordered_map<uint16_t, size_t> slot_of;

  // The merge: the latest dts read of each waited-for track that has
  // delivered one, and how many waited-for tracks have not.
  std::set<std::pair<int64_t, size_t>> progress;
  size_t silent = 0;

  struct Queued {
    int64_t dts_us;
    uint64_t seq;  // read order, which is file order
    Block block;   // data and side_data point into storage
    std::vector<uint8_t> storage;
  };
  struct Later {
    bool operator()(const Queued& a, const Queued& b) const {
      return a.dts_us != b.dts_us ? a.dts_us > b.dts_us : a.seq > b.seq;
    }
  };
  std::vector<Queued> queue;  // a heap, earliest first
  Queued current;             // the block handed out last, when it came from the queue
  size_t queued_bytes = 0;
  uint64_t seq = 0;
  bool at_end = false;

  int64_t frontier_us = INT64_MIN;  // latest dts read
  int64_t window_us = kMinWindowUs;
  uint64_t group_offset = UINT64_MAX;  // the group being read, and its first dts
  int64_t group_first_us = 0;
  int64_t handed_out_us = INT64_MIN;  // latest dts handed out

  Impl(Reader& r, PacketReaderOptions o) : reader(r), opt(o) {
    tracks.resize(reader.tracks().size());
    for (size_t i = 0; i < tracks.size(); ++i) {
      const Track& t = reader.tracks()[i];
      slot_of[t.id] = i;
      tracks[i].time_base = t.time_base;
    }
    reset(true);
  }

  size_t slot(uint16_t id) const {
    auto it = slot_of.find(id);
    if (it == slot_of.end())
      throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(id));
    return it->second;
  }

  // Forgets what was read: after a seek, or from the start of the file
  // (where the tracks' summaries say how many blocks each will deliver).
  void reset(bool from_start) {
    queue.clear();
    queue.shrink_to_fit();
    queued_bytes = 0;
    progress.clear();
    silent = 0;
    at_end = false;
    frontier_us = INT64_MIN;
    group_offset = UINT64_MAX;
    handed_out_us = INT64_MIN;
    for (size_t i = 0; i < tracks.size(); ++i) {
      TrackState& st = tracks[i];
      st.last_us.reset();
      st.skip_until.reset();
      st.remaining.reset();
      if (from_start)
        if (auto s = reader.summary(reader.tracks()[i].id)) st.remaining = s->block_count;
      if (st.waited()) ++silent;
    }
  }

  void stop_waiting(size_t i) {
    TrackState& st = tracks[i];
    if (st.last_us) {
      progress.erase({*st.last_us, i});
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
    const int64_t end_us =
        to_us(saturate(Int128(b.info.dts) + std::max<int64_t>(b.info.duration, 0)), st.time_base);
    window_us = std::max(window_us, saturate(Int128(end_us) - group_first_us));
    if (!st.waited()) return;
    if (!st.last_us) {
      --silent;
      st.last_us = dts_us;
      progress.insert({dts_us, i});
    } else if (dts_us > *st.last_us) {
      auto node = progress.extract({*st.last_us, i});
      node.value().first = dts_us;
      progress.insert(std::move(node));
      st.last_us = dts_us;
    }
    if (st.remaining && --*st.remaining == 0) {
      progress.erase({*st.last_us, i});
      st.last_us.reset();
    }
  }

  // Whether nothing still to be read can come before a block of this dts.
  bool due(int64_t dts_us) const {
    if (at_end || queue.size() >= opt.max_queued_packets || queued_bytes >= opt.max_queued_bytes)
      return true;
    if (Int128(dts_us) < Int128(frontier_us) - window_us) return true;
    return silent == 0 && (progress.empty() || progress.begin()->first >= dts_us);
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

  void enqueue(const Block& b, int64_t dts_us) {
    Queued q{dts_us, seq, b, {}};
    q.storage.reserve(b.data.size() + b.side_data.size());
    q.storage.insert(q.storage.end(), b.data.begin(), b.data.end());
    q.storage.insert(q.storage.end(), b.side_data.begin(), b.side_data.end());
    q.block.data = std::span<const uint8_t>(q.storage.data(), b.data.size());
    q.block.side_data =
        std::span<const uint8_t>(q.storage.data() + b.data.size(), b.side_data.size());
    queued_bytes += q.storage.size();
    queue.push_back(std::move(q));
    std::push_heap(queue.begin(), queue.end(), Later{});
  }

  void dequeue() {
    std::pop_heap(queue.begin(), queue.end(), Later{});
    current = std::move(queue.back());
    queue.pop_back();
    queued_bytes -= current.storage.size();
    // A burst's peak is not kept.
    if (queue.capacity() > 1024 && queue.size() < queue.capacity() / 4) queue.shrink_to_fit();
  }

  ReadEvent next(Block& out) {
    for (;;) {
      if (!queue.empty() && due(queue.front().dts_us)) {
        dequeue();
        TrackState& st = tracks[slot(current.block.info.track_id)];
        if (skipped(st, current.block.info)) continue;
        handed_out_us = std::max(handed_out_us, current.dts_us);
        out = current.block;
        return ReadEvent::kBlock;
      }
      if (at_end) return ReadEvent::kEnd;
      Block b;
      const ReadEvent ev = reader.next(b);
      if (ev == ReadEvent::kDamage) return ev;
      if (ev == ReadEvent::kEnd) {
        at_end = true;
        continue;
      }
      const size_t i = slot(b.info.track_id);
      TrackState& st = tracks[i];
      if (st.discarded) continue;
      const int64_t dts_us = to_us(b.info.dts, st.time_base);
      note_read(i, b, dts_us);
      if (queue.empty() && due(dts_us)) {  // straight out, without a copy
        if (skipped(st, b.info)) continue;
        handed_out_us = std::max(handed_out_us, dts_us);
        out = b;
        return ReadEvent::kBlock;
      }
      enqueue(b, dts_us);
      ++seq;
    }
  }

  bool is_first_key(uint16_t id, const BlockInfo& b) {
    const auto index = reader.index(id);
    return b.type == BlockType::kI && !index.empty() && b.pts <= index.front().pts;
  }

  PacketSeek seek(uint16_t id, int64_t t, SeekMode mode) {
    const size_t i = slot(id);
    if (!reader.seekable()) return seek_by_reading(i, t);
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
    const int64_t t_us = to_us(t, tracks[i].time_base);
    if (t_us < handed_out_us)
      throw Error(ErrorCode::kNotSeekable,
                  "cannot seek back to " + std::to_string(t_us) + " us: the source is not " +
                      "seekable and reading is at " + std::to_string(handed_out_us) + " us");
    for (TrackState& st : tracks) st.skip_until = from_us_up(t_us, st.time_base);
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
