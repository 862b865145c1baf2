#include "block_group.hpp"

#include <algorithm>
#include <string>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"
#include "h4mk/side_data.hpp"
#include "leb128.hpp"
#include "payload_window.hpp"

namespace h4mk::detail {

void throw_bad_group(uint64_t chunk_offset, const std::string& what) {
  throw Error(ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(chunk_offset) + ": " + what, chunk_offset);
}

void throw_bad_block(uint64_t chunk_offset, uint32_t i, const std::string& what) {
  throw_bad_group(chunk_offset, "block " + std::to_string(i) + ": " + what);
}

namespace {

[[noreturn]] void corrupt(uint64_t chunk_offset, const std::string& what) {
  throw_bad_group(chunk_offset, what);
}

}  // namespace

GroupHeader decode_group_header(std::span<const uint8_t> payload, uint64_t chunk_offset) {
  if (payload.size() < kGroupHeaderSize)
    corrupt(chunk_offset, "payload of " + std::to_string(payload.size()) +
                              " bytes is shorter than the 16-byte group header");
  const uint8_t* p = payload.data();
  GroupHeader g{load_u16(p), p[2], load_u32(p + 4), load_i64(p + 8)};
  if (g.track_id == 0) corrupt(chunk_offset, "track_id 0 is invalid");
  if (g.flags & ~kGroupKnownFlags)
    corrupt(chunk_offset, "unknown group flags 0x" + std::to_string(g.flags));
  if ((g.flags & kGroupFixedSize) && !(g.flags & kGroupUniform))
    corrupt(chunk_offset, "FIXED_SIZE without UNIFORM");
  if ((g.flags & kGroupDictionary) && !(g.flags & kGroupCompressed))
    corrupt(chunk_offset, "DICTIONARY without COMPRESSED");
  if ((g.flags & kGroupKeyFirst) && !(g.flags & kGroupUniform))
    corrupt(chunk_offset, "KEY_FIRST without UNIFORM");
  if (g.block_count == 0) corrupt(chunk_offset, "block_count is 0");
  return g;
}

namespace {
void check_block_limit(const GroupHeader& g, uint32_t max_blocks, uint64_t chunk_offset) {
  if (g.block_count > max_blocks)
    throw Error(ErrorCode::kLimitExceeded,
                "CORE chunk at offset " + std::to_string(chunk_offset) + ": block_count " +
                    std::to_string(g.block_count) + " exceeds the reader limit of " +
                    std::to_string(max_blocks),
                chunk_offset);
}
}  // namespace

GroupHeader check_group_limits(std::span<const uint8_t> payload, const GroupHeader& g,
                               uint32_t max_blocks, uint64_t chunk_offset) {
  return check_group_limits(payload.size(), g, max_blocks, chunk_offset);
}

GroupHeader check_group_limits(size_t payload_size, const GroupHeader& g, uint32_t max_blocks,
                               uint64_t chunk_offset) {
  // Records are decoded only once expanded (GroupExpander): compressed
  // bytes are never read as records.
  if (g.flags & kGroupCompressed) corrupt(chunk_offset, "the group is compressed");
  check_block_limit(g, max_blocks, chunk_offset);
  // Every record takes at least one byte unless all payloads are empty.
  const size_t records = payload_size - kGroupHeaderSize;
  if (!(g.flags & kGroupFixedSize) && g.block_count > records)
    corrupt(chunk_offset, "block_count " + std::to_string(g.block_count) + " cannot fit in " +
                              std::to_string(records) + " bytes");
  return g;
}

namespace {

// Out of line, so the cursor's hot paths stay small enough to inline and its
// position stays in a register.
[[noreturn, gnu::cold, gnu::noinline]] void bad_block(uint64_t chunk_offset, uint32_t i,
                                                      const std::string& what) {
  throw_bad_block(chunk_offset, i, what);
}

// Reads block records front to back, each field checked against the chunk's end.
class RecordCursor {
 public:
  RecordCursor(std::span<const uint8_t> payload, uint64_t chunk_offset)
      : base_(payload.data()),
        p_(base_ + kGroupHeaderSize),
        end_(base_ + payload.size()),
        chunk_offset_(chunk_offset) {}

  size_t left() const { return size_t(end_ - p_); }
  uint32_t offset() const { return uint32_t(p_ - base_); }
  // The next n bytes (n <= left()), without moving past them.
  std::span<const uint8_t> view(size_t n) const { return {p_, n}; }
  void skip(size_t n) { p_ += n; }
  // A group in memory is read once: no block's bytes are checked apart.
  void begin_block_bytes() {}
  void end_block_bytes() {}
  void skip_fixed_blocks(uint32_t count, uint32_t size) { p_ += size_t(count) * size; }

  [[gnu::always_inline]] uint8_t flags(uint32_t i) {
    if (p_ == end_) bad_block(chunk_offset_, i, "flags byte runs past the chunk");
    uint8_t f = *p_++;
    if ((f & kBlockTypeMask) == 3) bad_block(chunk_offset_, i, "block type 3 is invalid");
    return f;
  }
  [[gnu::always_inline]] uint64_t leb(uint32_t i, const char* field) {
    uint64_t v;
    if (!get_uleb128(p_, end_, v)) bad_block(chunk_offset_, i, std::string("bad LEB128 ") + field);
    return v;
  }
  [[gnu::always_inline]] uint32_t size(uint32_t i) {
    uint64_t size = leb(i, "size");
    if (size > left())
      bad_block(chunk_offset_, i, "size " + std::to_string(size) + " runs past the chunk");
    return static_cast<uint32_t>(size);
  }
  int64_t duration(uint32_t i) {
    uint64_t v = leb(i, "duration");
    if (v > uint64_t(INT64_MAX)) bad_block(chunk_offset_, i, "duration exceeds int64");
    return static_cast<int64_t>(v);
  }
  // A size per block, each skipped over: what a UNIFORM group without
  // FIXED_SIZE holds after its flags byte. Stops before block `stop`.
  void skip_sizes(uint32_t from, uint32_t stop) {
    for (uint32_t i = from; i < stop; ++i) p_ += size(i);
  }
  void expect_end() const {
    if (p_ != end_)
      corrupt(chunk_offset_, std::to_string(end_ - p_) + " bytes follow the last block record");
  }

 private:
  const uint8_t* const base_;
  const uint8_t* p_;
  const uint8_t* const end_;
  const uint64_t chunk_offset_;
};

// The header, and the reader's limit on blocks per group.
GroupHeader checked_header(std::span<const uint8_t> payload, uint32_t max_blocks,
                           uint64_t chunk_offset) {
  return check_group_limits(payload, decode_group_header(payload, chunk_offset), max_blocks,
                            chunk_offset);
}

// What a UNIFORM group says once for all its blocks.
struct UniformHead {
  uint8_t flags;
  int64_t duration;
  bool fixed;
  bool key_first;  // block 0 is I, whatever the flags' type

  uint32_t fixed_size;       // FIXED_SIZE: every payload's size
  uint32_t pts_overflow_at;  // first block whose pts passes int64, or block_count
};

// `cut`: the payload may end early (decode_cut_group), so FIXED_SIZE
// payloads need not fill it. Cursor: a RecordCursor, or a PayloadWindow for
// a group read in pieces.
template <typename Cursor>
UniformHead read_uniform_head(const GroupHeader& g, int64_t default_duration, uint64_t chunk_offset,
                              Cursor& c, bool cut = false) {
  UniformHead u{};
  u.flags = c.flags(0);
  if (u.flags & (kBlockPtsDelta | kBlockDtsOffset | kBlockSideData))
    corrupt(chunk_offset, "UNIFORM group flags carry PTS_DELTA, DTS_OFFSET or SIDE_DATA");
  u.duration = (u.flags & kBlockDuration) ? c.duration(0) : default_duration;
  u.fixed = g.flags & kGroupFixedSize;
  u.key_first = g.flags & kGroupKeyFirst;
  if (u.fixed) {
    u.fixed_size = c.size(0);
    if (!cut && uint64_t(u.fixed_size) * g.block_count != c.left())
      corrupt(chunk_offset, "FIXED_SIZE payloads do not fill the chunk exactly");
    // Every other group spends at least a byte per block; this one would
    // spend none, so it holds one block (§5.3): 65,536 empty blocks in 34
    // bytes cost ffprobe 1.5 GB.
    if (u.fixed_size == 0 && g.block_count > 1)
      corrupt(chunk_offset, "a FIXED_SIZE group of empty payloads holds " +
                                std::to_string(g.block_count) + " blocks; it may hold only one");
  }
  // Block i starts at pts + i * duration (duration >= 0): the first i past
  // INT64_MAX, from the room above the group's pts, in unsigned arithmetic.
  u.pts_overflow_at = g.block_count;
  if (u.duration > 0) {
    const uint64_t room = uint64_t(INT64_MAX) - uint64_t(g.pts);
    const uint64_t last_fitting = room / uint64_t(u.duration);
    if (last_fitting < uint64_t(g.block_count) - 1) u.pts_overflow_at = uint32_t(last_fitting + 1);
  }
  return u;
}

BlockInfo make_info(uint16_t track_id, uint8_t f, int64_t pts, int64_t dts, int64_t duration) {
  BlockInfo info;
  info.track_id = track_id;
  info.type = static_cast<BlockType>(f & kBlockTypeMask);
  info.pts = pts;
  info.dts = dts;
  info.duration = duration;
  info.masked = f & kBlockMasked;
  info.discardable = f & kBlockDiscardable;
  return info;
}

// One block record of a group without UNIFORM, as read.
struct RecordFields {
  uint8_t flags;
  int64_t pts, dts, duration;
  uint32_t offset, size;  // of the payload
  uint32_t side_offset, side_size;
};

// Reads and checks every record of a group without UNIFORM, handing each to
// on_block: decoding stores them, verify only folds them into a summary.
template <typename Cursor, typename OnBlock>
void walk_records(const GroupHeader& g, int64_t default_duration, uint64_t chunk_offset, Cursor& c,
                  OnBlock&& on_block) {
  auto add = [&](uint32_t i, int64_t a, int64_t b, const char* field) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
      bad_block(chunk_offset, i, std::string(field) + " overflows 64 bits");
    return r;
  };
  int64_t prev_pts = g.pts;
  int64_t prev_duration = 0;
  int64_t duration = default_duration;
  for (uint32_t i = 0; i < g.block_count; ++i) {
    uint8_t f = c.flags(i);
    uint32_t size = c.size(i);
    int64_t pts = (f & kBlockPtsDelta)
                      ? add(i, prev_pts, zigzag_decode(c.leb(i, "pts delta")), "pts")
                      : add(i, prev_pts, prev_duration, "pts");
    int64_t dts = pts;
    if (f & kBlockDtsOffset) {
      int64_t offset = zigzag_decode(c.leb(i, "dts offset"));
      if (offset < 0) bad_block(chunk_offset, i, "dts offset is negative (dts > pts)");
      if (__builtin_sub_overflow(pts, offset, &dts))
        bad_block(chunk_offset, i, "dts overflows 64 bits");
    }
    if (f & kBlockDuration) duration = c.duration(i);
    uint32_t side_offset = 0, side_size = 0;
    if (f & kBlockSideData) {
      uint64_t n = c.leb(i, "side data size");
      if (n == 0 || n > c.left())
        bad_block(chunk_offset, i, "side data size " + std::to_string(n) + " is invalid");
      side_offset = c.offset();
      side_size = uint32_t(n);
      if (!valid_side_data(c.view(side_size)))
        bad_block(chunk_offset, i, "side data entries are malformed");
      c.begin_block_bytes();
      c.skip(side_size);
    } else {
      c.begin_block_bytes();
    }
    if (size > c.left()) bad_block(chunk_offset, i, "payload runs past the chunk");
    on_block(RecordFields{f, pts, dts, duration, c.offset(), size, side_offset, side_size});
    c.skip(size);
    c.end_block_bytes();
    prev_pts = pts;
    prev_duration = duration;
  }
}

[[gnu::always_inline]] inline void store_record(std::vector<DecodedBlock>& records,
                                                uint16_t track_id, const RecordFields& r) {
  DecodedBlock& d = records.emplace_back();  // filled in place: building each
  d.info.track_id = track_id;                // on the stack stalled store forwarding
  d.info.type = static_cast<BlockType>(r.flags & kBlockTypeMask);
  d.info.pts = r.pts;
  d.info.dts = r.dts;
  d.info.duration = r.duration;
  d.info.masked = r.flags & kBlockMasked;
  d.info.discardable = r.flags & kBlockDiscardable;
  d.offset = r.offset;
  d.size = r.size;
  d.side_offset = r.side_offset;
  d.side_size = r.side_size;
}

}  // namespace

std::vector<DecodedBlock>& DecodedGroup::begin_records(uint16_t track_id, size_t reserve) {
  layout_ = Layout::kRecords;
  first_ = BlockInfo{};
  first_.track_id = track_id;
  records_.clear();
  records_.reserve(reserve);
  return records_;
}

template <typename Cursor>
void decode_records(const GroupHeader& g, int64_t default_duration, uint64_t chunk_offset,
                    Cursor& c, DecodedGroup& out) {
  if (g.flags & kGroupUniform) {
    const UniformHead u = read_uniform_head(g, default_duration, chunk_offset, c);
    out.set_uniform(make_info(g.track_id, u.flags, g.pts, g.pts, u.duration), u.key_first);
    if (u.fixed) {
      // Sizes were checked with the head; only a pts can still be wrong,
      // and the first bad one is known: nothing is left to read per block.
      if (u.pts_overflow_at < g.block_count)
        bad_block(chunk_offset, u.pts_overflow_at, "pts overflows 64 bits");
      out.layout_ = DecodedGroup::Layout::kFixedSize;
      out.first_offset_ = c.offset();
      out.fixed_size_ = u.fixed_size;
      c.skip_fixed_blocks(g.block_count, u.fixed_size);
    } else {
      out.layout_ = DecodedGroup::Layout::kUniform;
      if (out.extents_.size() < g.block_count) out.extents_.resize(g.block_count);
      DecodedGroup::Extent* e = out.extents_.data();
      for (uint32_t i = 0; i < g.block_count; ++i) {
        if (i == u.pts_overflow_at) bad_block(chunk_offset, i, "pts overflows 64 bits");
        const uint32_t size = c.size(i);
        e[i] = {c.offset(), size};
        c.begin_block_bytes();
        c.skip(size);
        c.end_block_bytes();
      }
    }
  } else {
    std::vector<DecodedBlock>& records = out.begin_records(g.track_id, g.block_count);
    walk_records(g, default_duration, chunk_offset, c,
                 [&](const RecordFields& r) { store_record(records, g.track_id, r); });
  }
  c.expect_end();
  out.count_ = g.block_count;
}

GroupHeader decode_group(std::span<const uint8_t> payload, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out) {
  out.count_ = 0;
  out.block_crcs_.clear();
  const GroupHeader g = checked_header(payload, max_blocks, chunk_offset);
  RecordCursor c(payload, chunk_offset);
  decode_records(g, default_duration, chunk_offset, c, out);
  return g;
}

GroupHeader decode_group(PayloadWindow& in, const GroupHeader& header, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out) {
  out.count_ = 0;
  out.block_crcs_.clear();
  const GroupHeader g = check_group_limits(in.payload_size(), header, max_blocks, chunk_offset);
  decode_records(g, default_duration, chunk_offset, in, out);
  out.block_crcs_ = in.take_block_crcs();
  return g;
}

GroupHeader decode_cut_group(std::span<const uint8_t> prefix, int64_t default_duration,
                             uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out) {
  out.count_ = 0;
  out.block_crcs_.clear();
  const GroupHeader g = decode_group_header(prefix, chunk_offset);
  check_block_limit(g, max_blocks, chunk_offset);
  RecordCursor c(prefix, chunk_offset);
  uint32_t n = 0;
  if (g.flags & kGroupUniform) {
    const UniformHead u = read_uniform_head(g, default_duration, chunk_offset, c, /*cut=*/true);
    out.set_uniform(make_info(g.track_id, u.flags, g.pts, g.pts, u.duration), u.key_first);
    const uint32_t fits = std::min(g.block_count, u.pts_overflow_at);
    if (u.fixed) {
      out.layout_ = DecodedGroup::Layout::kFixedSize;
      out.first_offset_ = c.offset();
      out.fixed_size_ = u.fixed_size;
      n = u.fixed_size ? uint32_t(std::min<uint64_t>(fits, c.left() / u.fixed_size)) : fits;
    } else {
      out.layout_ = DecodedGroup::Layout::kUniform;
      // Every size takes a byte: no more than c.left() records fit.
      const size_t most = std::min<size_t>(fits, c.left());
      if (out.extents_.size() < most) out.extents_.resize(most);
      try {
        for (; n < most; ++n) {
          const uint32_t size = c.size(n);
          out.extents_[n] = {c.offset(), size};
          c.skip(size);
        }
      } catch (const Error&) {  // the first record the cut left incomplete
      }
    }
  } else {
    std::vector<DecodedBlock>& records =
        out.begin_records(g.track_id, std::min<size_t>(g.block_count, c.left()));
    try {
      walk_records(g, default_duration, chunk_offset, c,
                   [&](const RecordFields& r) { store_record(records, g.track_id, r); });
    } catch (const Error&) {  // the first record the cut left incomplete
    }
    n = uint32_t(records.size());
  }
  if (n == 0) corrupt(chunk_offset, "the file ends before the group's first block is complete");
  out.count_ = n;
  return g;
}

GroupHeader decode_group(std::span<const uint8_t> payload, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset,
                         std::vector<DecodedBlock>& out) {
  out.clear();
  DecodedGroup group;
  const GroupHeader g = decode_group(payload, default_duration, max_blocks, chunk_offset, group);
  out.reserve(group.size());
  for (size_t i = 0; i < group.size(); ++i) out.push_back(group.block(i));
  return g;
}

long DecodedGroup::last_key_at_or_before(int64_t t) const {
  if (layout_ == Layout::kRecords) {
    // The last match: pts need not grow with the index (B blocks).
    for (size_t i = count_; i-- > 0;)
      if (records_[i].info.type == BlockType::kI && records_[i].info.pts <= t) return long(i);
    return -1;
  }
  if (count_ == 0 || type0_ != BlockType::kI || t < first_.pts) return -1;
  if (first_.type != BlockType::kI) return 0;  // KEY_FIRST: block 0 is the group's only I block
  // pts grows by `duration` a block: the last block at or before t.
  if (first_.duration == 0) return long(count_ - 1);
  const uint64_t steps = (uint64_t(t) - uint64_t(first_.pts)) / uint64_t(first_.duration);
  return long(std::min<uint64_t>(steps, count_ - 1));
}

bool DecodedGroup::any_plain() const {
  if (layout_ != Layout::kRecords) return count_ && !first_.masked;
  for (size_t i = 0; i < count_; ++i)
    if (!records_[i].info.masked) return true;
  return false;
}

GroupSummary summarize_group(std::span<const uint8_t> payload, int64_t default_duration,
                             uint32_t max_blocks, uint64_t chunk_offset) {
  return summarize_group(payload, decode_group_header(payload, chunk_offset), default_duration,
                         max_blocks, chunk_offset);
}

GroupSummary summarize_group(std::span<const uint8_t> payload, const GroupHeader& header,
                             int64_t default_duration, uint32_t max_blocks, uint64_t chunk_offset) {
  const GroupHeader g = check_group_limits(payload, header, max_blocks, chunk_offset);
  GroupSummary s{};
  s.header = g;
  RecordCursor c(payload, chunk_offset);
  if (!(g.flags & kGroupUniform)) {
    bool first = true;
    walk_records(g, default_duration, chunk_offset, c, [&](const RecordFields& r) {
      const bool is_key = (r.flags & kBlockTypeMask) == uint8_t(BlockType::kI);
      fold_chain(s, is_key);  // before fold_block: it reads has_key as of the blocks before
      fold_block(s, is_key, r.pts, r.dts, r.duration, first);
      s.any_plain |= !(r.flags & kBlockMasked);
      first = false;
    });
    c.expect_end();
    return s;
  }
  // UNIFORM: the same checks decode_group makes, in the same order, without a
  // record per block; timing follows from the first block and the count.
  const UniformHead u = read_uniform_head(g, default_duration, chunk_offset, c);
  if (!u.fixed) c.skip_sizes(0, std::min(u.pts_overflow_at, g.block_count));
  if (u.pts_overflow_at < g.block_count)
    bad_block(chunk_offset, u.pts_overflow_at, "pts overflows 64 bits");
  if (u.fixed) c.skip(c.left());  // read_uniform_head checked they fill the chunk
  c.expect_end();
  const int64_t last_pts =
      int64_t(uint64_t(g.pts) + uint64_t(g.block_count - 1) * uint64_t(u.duration));
  const bool is_key = (u.flags & kBlockTypeMask) == uint8_t(BlockType::kI);
  s.any_plain = !(u.flags & kBlockMasked);
  fold_block(s, is_key || u.key_first, g.pts, g.pts, u.duration, true);
  if (g.block_count > 1) fold_block(s, is_key, last_pts, last_pts, u.duration, false);
  // Every block of the group has the one type, but KEY_FIRST's block 0.
  if (is_key) {
    s.longest = g.block_count > 1 ? 1 : 0;
    s.run = 1;
  } else if (u.key_first)
    s.run = g.block_count;
  else
    s.lead = g.block_count;
  return s;
}

}  // namespace h4mk::detail
