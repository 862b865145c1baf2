// Encodes a block group as its blocks arrive, each payload copied once, into
// the buffer the chunk is written from (docs/FORMAT.md §5).
//
// The layout a group gets (FIXED_SIZE, UNIFORM, or a record per block) depends
// on all its blocks, so the builder guesses the most compact one that the
// blocks so far allow and re-lays the group out when a block rules it out:
// at most twice per group, usually at its second block.
//
// No record is kept per block: in a FIXED_SIZE or UNIFORM group every block
// follows from the first (the same flags and duration, each pts where the one
// before ends, dts == pts; with KEY_FIRST an I block then blocks of one other
// type) and its size from the buffer, and what the writer needs of a group
// (its seek entry and time span) is summed as records are written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "block_group.hpp"
#include "leb128.hpp"

namespace h4mk::detail {

// The type, MASKED and DISCARDABLE bits of a block record's flags.
inline uint8_t block_type_bits(const BlockInfo& b) {
  return uint8_t(static_cast<uint8_t>(b.type) | (b.masked ? kBlockMasked : 0) |
                 (b.discardable ? kBlockDiscardable : 0));
}

// Whether pts is where a block at prev_pts lasting prev_duration ends. The
// writer keeps timestamps small enough for the sum; blocks decoded from a file
// can carry any 64-bit value, and a sum past int64 is simply not contiguous.
inline bool continues(int64_t prev_pts, int64_t prev_duration, int64_t pts) {
  int64_t end;
  return !__builtin_add_overflow(prev_pts, prev_duration, &end) && pts == end;
}

// Bytes grown without being zeroed first (payloads overwrite them at once).
class ByteBuffer {
 public:
  size_t size() const { return size_; }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  // n more bytes at the end, uninitialised; pointers from earlier calls die.
  uint8_t* extend(size_t n) {
    if (capacity_ - size_ < n) grow(n);
    uint8_t* p = data_.get() + size_;
    size_ += n;
    return p;
  }
  void put(uint8_t b) { *extend(1) = b; }
  void put(std::span<const uint8_t> bytes) {
    if (!bytes.empty()) std::memcpy(extend(bytes.size()), bytes.data(), bytes.size());
  }
  void put_uleb128(uint64_t v) { put_uleb128_at(extend(uleb128_size(v)), v); }
  // Writes v at p; returns the byte after it.
  static uint8_t* put_uleb128_at(uint8_t* p, uint64_t v) {
    while (v >= 0x80) {
      *p++ = uint8_t(v | 0x80);
      v >>= 7;
    }
    *p++ = uint8_t(v);
    return p;
  }
  void resize_down(size_t n) { size_ = n; }

 private:
  void grow(size_t n);
  std::unique_ptr<uint8_t[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class GroupBuilder {
 public:
  // `headroom` bytes are kept free in front of the group (the chunk header).
  GroupBuilder(uint16_t track_id, int64_t default_duration, size_t headroom);

  bool empty() const { return count_ == 0; }
  size_t block_count() const { return count_; }
  uint64_t data_bytes() const { return data_bytes_; }     // side data and payloads so far
  const BlockInfo& first() const { return first_.info; }  // of a group that is not empty
  // The blocks so far as summarize_group() sums a group's (its header's
  // track, count and first pts; the blocks' key, time span and dts).
  GroupSummary summary() const;

  // Throws Error(kInvalidArgument) for a timestamp step that does not fit the
  // format's 64-bit fields (never for what Writer accepts). Inline: a block
  // that keeps the group's layout costs a few compares and a copy.
  void add(const BlockInfo& info, std::span<const uint8_t> side, std::span<const uint8_t> payload) {
    const auto size = static_cast<uint32_t>(payload.size());
    if (count_ != 0 && layout_ != Layout::kPerRecord && keeps_uniform(info, side.size()) &&
        (layout_ == Layout::kUniform || size == first_.size)) {
      if (layout_ == Layout::kUniform) buf_.put_uleb128(size);
      buf_.put(payload);
    } else if (count_ != 0 && layout_ == Layout::kPerRecord) {
      // One more record: straight there, not through the layout's checks.
      append_record(info, side, payload, false);
    } else {
      add_changing_layout({info, size, static_cast<uint32_t>(side.size())}, side, payload);
    }
    last_pts_ = info.pts;
    ++count_;
    data_bytes_ += side.size() + payload.size();
  }

  // n blocks after the last one added, as add() would add them one by one:
  // each as `next` but one duration later than the one before it (dts ==
  // pts, no side data), `size` bytes each from `payloads`. The caller has
  // checked they fit the group's limits.
  void add_run(const BlockInfo& next, uint32_t n, size_t size, const uint8_t* payloads);

  // The headroom then the group, byte for byte what encode_group() makes of
  // the same blocks. Valid until the next add() or clear().
  std::span<uint8_t> finish();
  void clear();

 private:
  enum class Layout { kFixed, kUniform, kPerRecord };

  // Whether b can follow the blocks so far in a UNIFORM group (§5.3).
  bool keeps_uniform(const BlockInfo& b, size_t side_size) const {
    const BlockInfo& first = first_.info;
    return block_type_bits(b) == shared_bits_ && b.duration == first.duration && b.dts == b.pts &&
           side_size == 0 && continues(last_pts_, first.duration, b.pts);
  }
  // Whether b, the second block, makes the group KEY_FIRST: an I block
  // then blocks of b's type (P or B), MASKED and DISCARDABLE alike.
  bool starts_key_first(const BlockInfo& b) const {
    return count_ == 1 && first_.info.type == BlockType::kI && b.type != BlockType::kI &&
           (block_type_bits(b) & ~kBlockTypeMask) == (shared_bits_ & ~kBlockTypeMask);
  }
  void add_changing_layout(const PendingBlock& pb, std::span<const uint8_t> side,
                           std::span<const uint8_t> payload);
  void start_layout(Layout layout);
  void append(const PendingBlock& b, std::span<const uint8_t> side,
              std::span<const uint8_t> payload);
  // One more record of a group that has a record per block (`first`: the
  // group's first block).
  void append_record(const BlockInfo& b, std::span<const uint8_t> side,
                     std::span<const uint8_t> payload, bool first);
  void relayout(Layout to, uint8_t bits, bool key_first);
  uint8_t group_flags() const;    // the header's UNIFORM, FIXED_SIZE and KEY_FIRST bits
  uint8_t uniform_flags() const;  // the flags byte a UNIFORM group stores once

  const uint16_t track_id_;
  const int64_t default_duration_;
  const size_t headroom_;
  Layout layout_ = Layout::kFixed;
  ByteBuffer buf_, spare_;
  PendingBlock first_{};  // the group's first block (its size: FIXED_SIZE's size)
  // FIXED_SIZE or UNIFORM: the type, MASKED and DISCARDABLE bits of every
  // block but a KEY_FIRST group's first.
  uint8_t shared_bits_ = 0;
  bool key_first_ = false;
  int64_t last_pts_ = 0;  // the pts of the last block added
  uint32_t count_ = 0;
  uint64_t data_bytes_ = 0;
  // Per-record timing: where the previous block ends and its duration.
  int64_t prev_pts_ = 0;
  int64_t prev_duration_ = 0;
  int64_t expected_duration_ = 0;
  // The summary of a group with a record per block, summed by append(); a
  // FIXED_SIZE or UNIFORM group's follows from its first and last block.
  GroupSummary records_{};
};

}  // namespace h4mk::detail
