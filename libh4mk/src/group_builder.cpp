#include "group_builder.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"
#include "leb128.hpp"

namespace h4mk::detail {

namespace {

// a - minus, for a field the format stores as a 64-bit difference; throws if it
// does not fit (never for what the writer accepts).
int64_t difference(const BlockInfo& b, int64_t a, int64_t minus, const char* what) {
  int64_t d;
  if (__builtin_sub_overflow(a, minus, &d))
    throw Error(ErrorCode::kInvalidArgument, "track " + std::to_string(b.track_id) +
                                                 ", block at pts " + std::to_string(b.pts) + ": " +
                                                 what + " does not fit in 64 bits");
  return d;
}

void fold(GroupSummary& s, const BlockInfo& b, bool first) {
  fold_block(s, b.type == BlockType::kI, b.pts, b.dts, b.duration, first);
}

}  // namespace

void ByteBuffer::grow(size_t n) {
  const size_t want = std::max({capacity_ * 2, size_ + n, size_t(4096)});
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(want);
  if (size_) std::memcpy(bigger.get(), data_.get(), size_);
  data_ = std::move(bigger);
  capacity_ = want;
}

GroupBuilder::GroupBuilder(uint16_t track_id, int64_t default_duration, size_t headroom)
    : track_id_(track_id), default_duration_(default_duration), headroom_(headroom) {}

void GroupBuilder::clear() {
  count_ = 0;
  data_bytes_ = 0;
  buf_.resize_down(0);
}

// Empties the buffer down to the headroom and the group header's place.
void GroupBuilder::start_layout(Layout layout) {
  layout_ = layout;
  records_ = {};
  buf_.resize_down(0);
  buf_.extend(headroom_ + kGroupHeaderSize);
}

// The first block of a group, or a block that ends its layout.
void GroupBuilder::add_changing_layout(const PendingBlock& pb, std::span<const uint8_t> side,
                                       std::span<const uint8_t> payload) {
  const BlockInfo& info = pb.info;
  if (count_ == 0) {
    first_ = pb;
    shared_bits_ = block_type_bits(info);
    key_first_ = false;
    start_layout(info.dts == info.pts && side.empty() ? Layout::kFixed : Layout::kPerRecord);
  } else if (layout_ != Layout::kPerRecord) {
    // The blocks so far, as laid out.
    const uint8_t bits = shared_bits_;
    const bool was_key_first = key_first_;
    if (starts_key_first(info)) {
      shared_bits_ = block_type_bits(info);
      key_first_ = true;
    }
    if (!keeps_uniform(info, side.size())) {
      shared_bits_ = bits;
      key_first_ = false;
      relayout(Layout::kPerRecord, bits, was_key_first);
    } else if (layout_ == Layout::kFixed && pb.size != first_.size) {
      relayout(Layout::kUniform, bits, was_key_first);
    } else {
      buf_.data()[headroom_ + kGroupHeaderSize] = uniform_flags();  // now KEY_FIRST's
    }
  }
  append(pb, side, payload);
}

// Appends one block in the current layout after the blocks before it.
void GroupBuilder::append(const PendingBlock& pb, std::span<const uint8_t> side,
                          std::span<const uint8_t> payload) {
  const BlockInfo& b = pb.info;
  const bool first = buf_.size() == headroom_ + kGroupHeaderSize;
  switch (layout_) {
    case Layout::kFixed:
    case Layout::kUniform:
      if (first) {
        const uint8_t flags = uniform_flags();
        buf_.put(flags);
        if (flags & kBlockDuration) buf_.put_uleb128(static_cast<uint64_t>(b.duration));
      }
      if (first || layout_ == Layout::kUniform) buf_.put_uleb128(pb.size);
      buf_.put(payload);
      return;
    case Layout::kPerRecord:
      append_record(b, side, payload, first);
      return;
  }
}

void GroupBuilder::append_record(const BlockInfo& b, std::span<const uint8_t> side,
                                 std::span<const uint8_t> payload, bool first) {
  if (first) {
    prev_pts_ = b.pts;
    prev_duration_ = 0;
    expected_duration_ = default_duration_;
  }
  uint8_t flags = block_type_bits(b);
  if (!continues(prev_pts_, prev_duration_, b.pts)) flags |= kBlockPtsDelta;
  if (b.dts != b.pts) flags |= kBlockDtsOffset;
  if (b.duration != expected_duration_) flags |= kBlockDuration;
  if (!side.empty()) flags |= kBlockSideData;
  // Computed before anything is appended, so a refusal leaves no half record.
  const int64_t pts_step =
      (flags & kBlockPtsDelta) ? difference(b, b.pts, prev_pts_, "the pts step") : 0;
  const int64_t dts_offset =
      (flags & kBlockDtsOffset) ? difference(b, b.pts, b.dts, "pts - dts") : 0;
  // Room for the longest record (flags and five LEB128 fields) is taken at
  // once and what is left over given back: one capacity check per block
  // rather than one per field.
  constexpr size_t kLongestFields = 1 + 5 * kMaxLeb128Bytes;
  const size_t before = buf_.size();
  uint8_t* const start = buf_.extend(kLongestFields + side.size() + payload.size());
  uint8_t* p = start;
  *p++ = flags;
  p = ByteBuffer::put_uleb128_at(p, payload.size());
  if (flags & kBlockPtsDelta) p = ByteBuffer::put_uleb128_at(p, zigzag_encode(pts_step));
  if (flags & kBlockDtsOffset) p = ByteBuffer::put_uleb128_at(p, zigzag_encode(dts_offset));
  if (flags & kBlockDuration) p = ByteBuffer::put_uleb128_at(p, static_cast<uint64_t>(b.duration));
  if (flags & kBlockSideData) {
    p = ByteBuffer::put_uleb128_at(p, side.size());
    std::memcpy(p, side.data(), side.size());
    p += side.size();
  }
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
  p += payload.size();
  buf_.resize_down(before + size_t(p - start));
  prev_pts_ = b.pts;
  prev_duration_ = b.duration;
  expected_duration_ = b.duration;
  fold_block(records_, b.type == BlockType::kI, b.pts, b.dts, b.duration, first);
}

void GroupBuilder::add_run(const BlockInfo& next, uint32_t n, size_t size,
                           const uint8_t* payloads) {
  if (n == 0) return;
  // The first block settles the layout; the rest continue it (same type,
  // duration and size, each pts where the one before ends).
  add(next, {}, {payloads, size});
  if (--n == 0) return;
  const int64_t pts = next.pts + int64_t(n) * next.duration;  // the last block's
  last_pts_ = pts;
  count_ += n;
  data_bytes_ += uint64_t(n) * size;
  payloads += size;
  switch (layout_) {
    case Layout::kFixed:
      buf_.put({payloads, n * size});
      return;
    case Layout::kUniform:
      for (uint32_t i = 0; i < n; ++i, payloads += size) {
        buf_.put_uleb128(size);
        buf_.put({payloads, size});
      }
      return;
    case Layout::kPerRecord: {
      // Records carry only the flags and size: the pts continues, the
      // duration is the one before (set by the first block's record).
      for (uint32_t i = 0; i < n; ++i, payloads += size) {
        buf_.put(block_type_bits(next));
        buf_.put_uleb128(size);
        buf_.put({payloads, size});
      }
      prev_pts_ = pts;
      BlockInfo last = next;
      last.pts = last.dts = pts;
      fold(records_, last, false);  // pts and ends grow: the last block's suffice
      return;
    }
  }
}

// Lays the blocks so far out again in `to`, reading their payloads from the
// old layout (FIXED_SIZE or UNIFORM: no side data; its blocks' bits `bits`,
// but an I block first if `key_first`). The old layout is copied
// aside rather than swapped with the spare buffer: relayouts come early in a
// group (usually at its second block), so the spare stays small and buf_
// keeps the capacity it has grown to. Swapping made both grow to a whole
// group: twice the memory.
void GroupBuilder::relayout(Layout to, uint8_t bits, bool key_first) {
  const Layout from = layout_;
  spare_.resize_down(0);
  spare_.put({buf_.data(), buf_.size()});
  start_layout(to);
  const uint8_t* p = spare_.data() + headroom_ + kGroupHeaderSize + 1;
  const uint8_t* const end = spare_.data() + spare_.size();
  if (first_.info.duration != default_duration_)
    p += uleb128_size(static_cast<uint64_t>(first_.info.duration));
  if (from == Layout::kFixed) p += uleb128_size(first_.size);
  // Block i of a FIXED_SIZE or UNIFORM group is the first one i durations
  // later, its size the group's (FIXED_SIZE) or before its payload (UNIFORM).
  PendingBlock b = first_;
  for (uint32_t i = 0; i < count_; ++i) {
    if (i) b.info.pts = b.info.dts = b.info.pts + first_.info.duration;
    if (i == 1 && key_first) b.info.type = static_cast<BlockType>(bits & kBlockTypeMask);
    if (from == Layout::kUniform) {
      uint64_t size = 0;
      get_uleb128(p, end, size);  // written by put_uleb128 above: well formed
      b.size = static_cast<uint32_t>(size);
    }
    append(b, {}, {p, b.size});
    p += b.size;
  }
}

uint8_t GroupBuilder::group_flags() const {
  if (layout_ == Layout::kPerRecord) return 0;
  return uint8_t(kGroupUniform | (layout_ == Layout::kFixed ? kGroupFixedSize : 0) |
                 (key_first_ ? kGroupKeyFirst : 0));
}

uint8_t GroupBuilder::uniform_flags() const {
  return uint8_t(shared_bits_ | (first_.info.duration != default_duration_ ? kBlockDuration : 0));
}

GroupSummary GroupBuilder::summary() const {
  GroupSummary s = records_;
  if (layout_ != Layout::kPerRecord) {
    // Each pts is where the one before ends: the first block and the last
    // bound the span (both are folded, whatever the sign of the duration).
    BlockInfo last = first_.info;
    last.pts = last.dts = last_pts_;
    last.type = static_cast<BlockType>(shared_bits_ & kBlockTypeMask);
    s = {};
    fold(s, first_.info, true);
    fold(s, last, false);
  }
  s.header.track_id = track_id_;
  s.header.flags = group_flags();
  s.header.block_count = count_;
  s.header.pts = first_.info.pts;
  return s;
}

std::span<uint8_t> GroupBuilder::finish() {
  if (count_ == 0) throw Error(ErrorCode::kBadState, "a block group needs a block");
  uint8_t* h = buf_.data() + headroom_;
  store_u16(h, track_id_);
  h[2] = group_flags();
  h[3] = 0;
  store_u32(h + 4, count_);
  store_i64(h + 8, first_.info.pts);
  return {buf_.data(), buf_.size()};
}

void encode_group(uint16_t track_id, int64_t default_duration, std::span<const PendingBlock> blocks,
                  std::span<const uint8_t> payloads, std::vector<uint8_t>& out) {
  GroupBuilder g(track_id, default_duration, 0);
  size_t pos = 0;
  for (const PendingBlock& b : blocks) {
    g.add(b.info, payloads.subspan(pos, b.side_size), payloads.subspan(pos + b.side_size, b.size));
    pos += b.side_size + b.size;
  }
  const std::span<const uint8_t> group = g.finish();
  out.insert(out.end(), group.begin(), group.end());
}

}  // namespace h4mk::detail
