// CORE payload = one block group of one track (docs/FORMAT.md, "Block groups"):
// the layout constants, and decoding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "h4mk/block.hpp"

namespace h4mk::detail {

inline constexpr size_t kGroupHeaderSize = 16;

class PayloadWindow;  // payload_window.hpp

// Group flags (byte 2 of the group header).
inline constexpr uint8_t kGroupUniform = 0x01;
inline constexpr uint8_t kGroupFixedSize = 0x02;
// The records are one zstd frame (group_compression.hpp), made with the
// track's dictionary if kGroupDictionary is set too.
inline constexpr uint8_t kGroupCompressed = 0x04;
inline constexpr uint8_t kGroupDictionary = 0x08;
// With UNIFORM: block 0 is an I block, and the flags byte's type is every
// other block's (an I block then the P blocks that follow it, §5.3).
inline constexpr uint8_t kGroupKeyFirst = 0x10;
inline constexpr uint8_t kGroupKnownFlags =
    kGroupUniform | kGroupFixedSize | kGroupCompressed | kGroupDictionary | kGroupKeyFirst;

// Block record flags.
inline constexpr uint8_t kBlockTypeMask = 0x03;
inline constexpr uint8_t kBlockMasked = 0x04;
inline constexpr uint8_t kBlockPtsDelta = 0x08;
inline constexpr uint8_t kBlockDtsOffset = 0x10;
inline constexpr uint8_t kBlockDuration = 0x20;
inline constexpr uint8_t kBlockDiscardable = 0x40;
inline constexpr uint8_t kBlockSideData = 0x80;

// Timestamps a writer accepts, |pts|, |dts| and duration below 2^62: the sum or
// difference of any two then stays inside int64 (2^62 itself did not: 2^62 +
// 2^62 is 2^63; docs/FORMAT.md §5.5).
inline constexpr int64_t kMaxTimestamp = (int64_t(1) << 62) - 1;

struct PendingBlock {
  BlockInfo info;
  uint32_t size;       // payload bytes
  uint32_t side_size;  // side data bytes; the buffer holds each block's side data, then its payload
};

// Appends the encoded group (header + records + payloads) to `out`.
// `payloads` holds, per block in order, its side data then its payload.
// (A GroupBuilder, group_builder.hpp, does the encoding.)
void encode_group(uint16_t track_id, int64_t default_duration, std::span<const PendingBlock> blocks,
                  std::span<const uint8_t> payloads, std::vector<uint8_t>& out);

struct DecodedBlock {
  BlockInfo info;
  uint32_t offset;  // of the payload, from the start of the group payload
  uint32_t size;
  uint32_t side_offset;  // of the side data, likewise
  uint32_t side_size;
};

struct GroupHeader {
  uint16_t track_id;
  uint8_t flags;
  uint32_t block_count;
  int64_t pts;
};

// Throw Error(kCorrupt) naming the chunk (and the block): "CORE chunk at
// offset N: [block i: ]what".
[[noreturn]] void throw_bad_group(uint64_t chunk_offset, const std::string& what);
[[noreturn]] void throw_bad_block(uint64_t chunk_offset, uint32_t i, const std::string& what);

// Reads just the 20-byte header; throws Error(kCorrupt) if it is malformed.
GroupHeader decode_group_header(std::span<const uint8_t> payload, uint64_t chunk_offset);
// The reader's limit on blocks per group, and whether block_count can fit the
// payload, for a header decode_group_header returned; returns it.
GroupHeader check_group_limits(std::span<const uint8_t> payload, const GroupHeader& g,
                               uint32_t max_blocks, uint64_t chunk_offset);
GroupHeader check_group_limits(size_t payload_size, const GroupHeader& g, uint32_t max_blocks,
                               uint64_t chunk_offset);

// A decoded group: every block's timing and extent. A UNIFORM group is kept
// as its first block and, unless FIXED_SIZE, each payload's extent; the rest
// follows from the index (same flags and duration, pts one duration apart,
// dts == pts; with KEY_FIRST block 0 alone is an I block). Seeking decodes a whole group to hand
// out one block of it, and writing a 56-byte record per block was most of that decode's time.
class DecodedGroup {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Some block is not MASKED.
  bool any_plain() const;
  void clear() { count_ = 0; }
  uint16_t track_id() const { return first_.track_id; }

  BlockInfo info(size_t i) const {
    if (layout_ == Layout::kRecords) return records_[i].info;
    BlockInfo b = first_;
    b.pts = b.dts = uniform_pts(i);
    if (i == 0) b.type = type0_;
    return b;
  }
  struct Extent {
    uint32_t offset, size;  // from the start of the group payload
  };
  // Block i's info and where its payload and side data are: what reading
  // asks for each block handed out, without building a record.
  [[gnu::always_inline]] void get(size_t i, BlockInfo& info, Extent& payload, Extent& side) const {
    if (layout_ == Layout::kRecords) {
      const DecodedBlock& d = records_[i];
      info = d.info;
      payload = {d.offset, d.size};
      side = {d.side_offset, d.side_size};
      return;
    }
    info = first_;
    info.pts = info.dts = uniform_pts(i);
    if (i == 0) info.type = type0_;
    payload = layout_ == Layout::kUniform
                  ? extents_[i]
                  : Extent{first_offset_ + uint32_t(i) * fixed_size_, fixed_size_};
    side = {0, 0};
  }
  DecodedBlock block(size_t i) const {
    DecodedBlock d;
    Extent payload, side;
    get(i, d.info, payload, side);
    d.offset = payload.offset;
    d.size = payload.size;
    d.side_offset = side.offset;
    d.side_size = side.size;
    return d;
  }
  // How many blocks from i on share their type and have payloads stored back
  // to back at one size (FIXED_SIZE: the rest of the group, but block 0 alone
  // when it is KEY_FIRST's I block; otherwise 1).
  size_t run_from(size_t i) const {
    if (layout_ != Layout::kFixedSize || (i == 0 && type0_ != first_.type)) return 1;
    return count_ - i;
  }
  // The index of the last I block with pts <= t, or -1.
  long last_key_at_or_before(int64_t t) const;
  // Decoded from a PayloadWindow (a group too big to hold): the CRC of each
  // block's side data and payload as the chunk's CRC checked them; empty
  // for a group decoded in memory.
  const std::vector<uint32_t>& block_crcs() const { return block_crcs_; }

 private:
  friend GroupHeader decode_group(std::span<const uint8_t>, int64_t, uint32_t, uint64_t,
                                  DecodedGroup&);
  friend GroupHeader decode_cut_group(std::span<const uint8_t>, int64_t, uint32_t, uint64_t,
                                      DecodedGroup&);
  friend GroupHeader decode_group(PayloadWindow&, const GroupHeader&, int64_t, uint32_t, uint64_t,
                                  DecodedGroup&);
  template <typename Cursor>
  friend void decode_records(const GroupHeader&, int64_t, uint64_t, Cursor&, DecodedGroup&);
  enum class Layout : uint8_t { kRecords, kUniform, kFixedSize };
  // A UNIFORM group: what every block has, and whether block 0 is I anyway.
  void set_uniform(const BlockInfo& every, bool key_first) {
    first_ = every;
    type0_ = key_first ? BlockType::kI : every.type;
  }
  // A group without UNIFORM: its records, cleared, with room for `reserve`.
  std::vector<DecodedBlock>& begin_records(uint16_t track_id, size_t reserve);

  // decode_group checked that no block's pts passes int64.
  int64_t uniform_pts(size_t i) const {
    return int64_t(uint64_t(first_.pts) + uint64_t(i) * uint64_t(first_.duration));
  }

  size_t count_ = 0;
  Layout layout_ = Layout::kRecords;
  // UNIFORM: the flags and duration every block has and block 0's pts;
  // otherwise just the track id.
  BlockInfo first_{};
  BlockType type0_{};          // UNIFORM: block 0's type (I with KEY_FIRST, else first_'s)
  uint32_t first_offset_ = 0;  // FIXED_SIZE: block 0's payload
  uint32_t fixed_size_ = 0;
  // Grown, never shrunk: each group overwrites the front it uses.
  std::vector<Extent> extents_;
  std::vector<DecodedBlock> records_;  // a group without UNIFORM
  std::vector<uint32_t> block_crcs_;
};

// Decodes a whole group into `out`, which is empty if it throws. Throws
// Error(kCorrupt or kLimitExceeded) naming chunk_offset and the block index on
// any bad field.
GroupHeader decode_group(std::span<const uint8_t> payload, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out);

// The same for a group read in pieces (a PayloadWindow past its 20-byte
// header, which the caller decoded): same checks, same errors.
GroupHeader decode_group(PayloadWindow& in, const GroupHeader& header, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out);

// The blocks of a group cut short (a file that ends inside its CORE chunk):
// `prefix` is the part of the payload that is there. Decodes the header and
// every block whose record and payload lie wholly in it, stopping at the
// first that does not (or that is malformed: nothing after the cut can be
// checked). Throws Error as decode_group does if the header is bad or no
// block is complete (docs/FORMAT.md §9.4).
GroupHeader decode_cut_group(std::span<const uint8_t> prefix, int64_t default_duration,
                             uint32_t max_blocks, uint64_t chunk_offset, DecodedGroup& out);

// The same, every block as a record (tests and fuzzers).
GroupHeader decode_group(std::span<const uint8_t> payload, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset,
                         std::vector<DecodedBlock>& out);

// What verify keeps of a group: its timing and keys, not a record per block.
struct GroupSummary {
  GroupHeader header;
  bool has_key;           // some block is I
  int64_t first_key_pts;  // the first I block's pts (the seek table's entry)
  int64_t min_pts;
  int64_t max_end;  // of pts + duration, INT64_MAX where that overflows
  int64_t first_dts, last_dts;
  bool out_of_bounds;  // a pts, dts or duration of 2^62 or more in magnitude
  bool any_plain;      // some block is not MASKED (summarize_group only)
  // Decode chains (summarize_group only): the blocks before the first I
  // block (all of them when there is none), the longest run from an I block
  // to the next one inside the group, and the run from the last I block to
  // the group's end.
  uint32_t lead, longest, run;
};

// Adds one block's type to a summary's chain counts, in group order.
[[gnu::always_inline]] inline void fold_chain(GroupSummary& s, bool is_key) {
  if (is_key) {
    if (s.has_key) s.longest = std::max(s.longest, s.run);
    s.run = 1;
  } else if (s.has_key) {
    ++s.run;
  } else {
    ++s.lead;
  }
}

// Adds one block, in group order, to a summary (`first`: the group's first).
[[gnu::always_inline]] inline void fold_block(GroupSummary& s, bool is_key, int64_t pts,
                                              int64_t dts, int64_t duration, bool first) {
  if (is_key && !s.has_key) {
    s.has_key = true;
    s.first_key_pts = pts;
  }
  int64_t end;
  if (__builtin_add_overflow(pts, duration, &end)) end = INT64_MAX;
  s.min_pts = first ? pts : std::min(s.min_pts, pts);
  s.max_end = first ? end : std::max(s.max_end, end);
  if (first) s.first_dts = dts;
  s.last_dts = dts;
  auto outside = [](int64_t x) { return x > kMaxTimestamp || x < -kMaxTimestamp; };
  s.out_of_bounds |= outside(pts) || outside(dts) || outside(duration);
}

// Checks a group exactly as decode_group does (same errors, same order) and
// summarizes it without storing a record per block. UNIFORM groups cost O(1)
// (FIXED_SIZE) or one LEB128 read per block.
GroupSummary summarize_group(std::span<const uint8_t> payload, int64_t default_duration,
                             uint32_t max_blocks, uint64_t chunk_offset);
// The same for a header the caller has decoded already (verify, which needs
// its track before it can summarize).
GroupSummary summarize_group(std::span<const uint8_t> payload, const GroupHeader& header,
                             int64_t default_duration, uint32_t max_blocks, uint64_t chunk_offset);

}  // namespace h4mk::detail
