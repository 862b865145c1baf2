#include "block_group.hpp"

#include <string>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"
#include "h4mk/side_data.hpp"
#include "leb128.hpp"

namespace h4mk::detail {

namespace {

uint8_t type_bits(const BlockInfo& b) {
  return uint8_t(static_cast<uint8_t>(b.type) | (b.masked ? kBlockMasked : 0) |
                 (b.discardable ? kBlockDiscardable : 0));
}

// Whether pts is where a block at prev_pts lasting prev_duration ends. The
// writer keeps timestamps small enough for the sum; blocks decoded from a file
// can carry any 64-bit value, and a sum past int64 is simply not contiguous.
bool continues(int64_t prev_pts, int64_t prev_duration, int64_t pts) {
  int64_t end;
  return !__builtin_add_overflow(prev_pts, prev_duration, &end) && pts == end;
}

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

// A group is UNIFORM when every block shares its flags, duration and the
// "contiguous pts, dts == pts" timing, so one flags byte describes all.
bool is_uniform(std::span<const PendingBlock> blocks) {
  const BlockInfo& first = blocks[0].info;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BlockInfo& b = blocks[i].info;
    if (type_bits(b) != type_bits(first) || b.duration != first.duration || b.dts != b.pts ||
        blocks[i].side_size)
      return false;
    if (i > 0 && !continues(blocks[i - 1].info.pts, blocks[i - 1].info.duration, b.pts))
      return false;
  }
  return true;
}

bool is_fixed_size(std::span<const PendingBlock> blocks) {
  for (const auto& b : blocks)
    if (b.size != blocks[0].size) return false;
  return true;
}

[[noreturn]] void corrupt(uint64_t chunk_offset, const std::string& what) {
  throw Error(ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(chunk_offset) + ": " + what, chunk_offset);
}

}  // namespace

void encode_group(uint16_t track_id, int64_t default_duration, std::span<const PendingBlock> blocks,
                  std::span<const uint8_t> payloads, std::vector<uint8_t>& out) {
  const bool uniform = is_uniform(blocks);
  const bool fixed = uniform && is_fixed_size(blocks);
  const size_t head = out.size();
  out.resize(head + kGroupHeaderSize);
  uint8_t* h = out.data() + head;
  store_u32(h, kMagicGroup);
  store_u16(h + 4, track_id);
  h[6] = uint8_t((uniform ? kGroupUniform : 0) | (fixed ? kGroupFixedSize : 0));
  h[7] = 0;
  store_u32(h + 8, static_cast<uint32_t>(blocks.size()));
  store_i64(h + 12, blocks[0].info.pts);

  if (uniform) {
    const BlockInfo& first = blocks[0].info;
    uint8_t flags = type_bits(first);
    if (first.duration != default_duration) flags |= kBlockDuration;
    out.push_back(flags);
    if (flags & kBlockDuration) put_uleb128(out, static_cast<uint64_t>(first.duration));
    if (fixed) {
      put_uleb128(out, blocks[0].size);
      out.insert(out.end(), payloads.begin(), payloads.end());
      return;
    }
    size_t pos = 0;
    for (const auto& b : blocks) {
      put_uleb128(out, b.size);
      out.insert(out.end(), payloads.begin() + pos, payloads.begin() + pos + b.size);
      pos += b.size;
    }
    return;
  }

  int64_t prev_pts = blocks[0].info.pts;
  int64_t prev_duration = 0;
  int64_t expected_duration = default_duration;
  size_t pos = 0;
  for (const auto& pb : blocks) {
    const BlockInfo& b = pb.info;
    uint8_t flags = type_bits(b);
    if (!continues(prev_pts, prev_duration, b.pts)) flags |= kBlockPtsDelta;
    if (b.dts != b.pts) flags |= kBlockDtsOffset;
    if (b.duration != expected_duration) flags |= kBlockDuration;
    if (pb.side_size) flags |= kBlockSideData;
    out.push_back(flags);
    put_uleb128(out, pb.size);
    if (flags & kBlockPtsDelta)
      put_uleb128(out, zigzag_encode(difference(b, b.pts, prev_pts, "the pts step")));
    if (flags & kBlockDtsOffset)
      put_uleb128(out, zigzag_encode(difference(b, b.pts, b.dts, "pts - dts")));
    if (flags & kBlockDuration) put_uleb128(out, static_cast<uint64_t>(b.duration));
    if (flags & kBlockSideData) {
      put_uleb128(out, pb.side_size);
      out.insert(out.end(), payloads.begin() + pos, payloads.begin() + pos + pb.side_size);
      pos += pb.side_size;
    }
    out.insert(out.end(), payloads.begin() + pos, payloads.begin() + pos + pb.size);
    pos += pb.size;
    prev_pts = b.pts;
    prev_duration = b.duration;
    expected_duration = b.duration;
  }
}

GroupHeader decode_group_header(std::span<const uint8_t> payload, uint64_t chunk_offset) {
  if (payload.size() < kGroupHeaderSize)
    corrupt(chunk_offset, "payload of " + std::to_string(payload.size()) +
                              " bytes is shorter than the 20-byte group header");
  const uint8_t* p = payload.data();
  if (load_u32(p) != kMagicGroup) corrupt(chunk_offset, "group magic is not 'H4TB'");
  GroupHeader g{load_u16(p + 4), p[6], load_u32(p + 8), load_i64(p + 12)};
  if (g.track_id == 0) corrupt(chunk_offset, "track_id 0 is invalid");
  if (g.flags & ~(kGroupUniform | kGroupFixedSize))
    corrupt(chunk_offset, "unknown group flags 0x" + std::to_string(g.flags));
  if ((g.flags & kGroupFixedSize) && !(g.flags & kGroupUniform))
    corrupt(chunk_offset, "FIXED_SIZE without UNIFORM");
  if (g.block_count == 0) corrupt(chunk_offset, "block_count is 0");
  return g;
}

GroupHeader decode_group(std::span<const uint8_t> payload, int64_t default_duration,
                         uint32_t max_blocks, uint64_t chunk_offset,
                         std::vector<DecodedBlock>& out) {
  out.clear();
  GroupHeader g = decode_group_header(payload, chunk_offset);
  const uint8_t* const base = payload.data();
  const uint8_t* p = base + kGroupHeaderSize;
  const uint8_t* const end = base + payload.size();
  auto where = [&](uint32_t i) { return "block " + std::to_string(i) + ": "; };

  if (g.block_count > max_blocks)
    throw Error(ErrorCode::kLimitExceeded,
                "CORE chunk at offset " + std::to_string(chunk_offset) + ": block_count " +
                    std::to_string(g.block_count) + " exceeds the reader limit of " +
                    std::to_string(max_blocks),
                chunk_offset);
  // Every record takes at least one byte unless all payloads are empty.
  const bool fixed = g.flags & kGroupFixedSize;
  if (!fixed && g.block_count > uint64_t(end - p))
    corrupt(chunk_offset, "block_count " + std::to_string(g.block_count) + " cannot fit in " +
                              std::to_string(end - p) + " bytes");

  auto read_flags = [&](uint32_t i) {
    if (p == end) corrupt(chunk_offset, where(i) + "flags byte runs past the chunk");
    uint8_t f = *p++;
    if ((f & kBlockTypeMask) == 3) corrupt(chunk_offset, where(i) + "block type 3 is invalid");
    return f;
  };
  auto read_leb = [&](uint32_t i, const char* field) {
    uint64_t v;
    if (!get_uleb128(p, end, v)) corrupt(chunk_offset, where(i) + "bad LEB128 " + field);
    return v;
  };
  auto read_size = [&](uint32_t i) {
    uint64_t size = read_leb(i, "size");
    if (size > uint64_t(end - p))
      corrupt(chunk_offset, where(i) + "size " + std::to_string(size) + " runs past the chunk");
    return static_cast<uint32_t>(size);
  };
  auto add = [&](uint32_t i, int64_t a, int64_t b, const char* field) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
      corrupt(chunk_offset, where(i) + field + " overflows 64 bits");
    return r;
  };
  auto make_info = [&](uint8_t f, int64_t pts, int64_t dts, int64_t duration) {
    BlockInfo info;
    info.track_id = g.track_id;
    info.type = static_cast<BlockType>(f & kBlockTypeMask);
    info.pts = pts;
    info.dts = dts;
    info.duration = duration;
    info.masked = f & kBlockMasked;
    info.discardable = f & kBlockDiscardable;
    return info;
  };
  auto as_duration = [&](uint32_t i, uint64_t v) {
    if (v > uint64_t(INT64_MAX)) corrupt(chunk_offset, where(i) + "duration exceeds int64");
    return static_cast<int64_t>(v);
  };

  out.reserve(g.block_count);
  if (g.flags & kGroupUniform) {
    uint8_t f = read_flags(0);
    if (f & (kBlockPtsDelta | kBlockDtsOffset | kBlockSideData))
      corrupt(chunk_offset, "UNIFORM group flags carry PTS_DELTA, DTS_OFFSET or SIDE_DATA");
    int64_t duration = default_duration;
    if (f & kBlockDuration) duration = as_duration(0, read_leb(0, "duration"));
    uint32_t fixed_size = 0;
    if (fixed) {
      fixed_size = read_size(0);
      if (uint64_t(fixed_size) * g.block_count != uint64_t(end - p))
        corrupt(chunk_offset, "FIXED_SIZE payloads do not fill the chunk exactly");
    }
    // One prototype copied for every block, then only timing and extent set
    // in place (building each block on the stack stalled store forwarding).
    out.resize(g.block_count, DecodedBlock{make_info(f, 0, 0, duration), 0, 0, 0, 0});
    int64_t pts = g.pts;
    for (uint32_t i = 0; i < g.block_count; ++i) {
      if (i > 0) pts = add(i, pts, duration, "pts");
      uint32_t size = fixed ? fixed_size : read_size(i);
      DecodedBlock& d = out[i];
      d.info.pts = pts;
      d.info.dts = pts;
      d.offset = uint32_t(p - base);
      d.size = size;
      p += size;
    }
  } else {
    int64_t prev_pts = g.pts;
    int64_t prev_duration = 0;
    int64_t duration = default_duration;
    for (uint32_t i = 0; i < g.block_count; ++i) {
      uint8_t f = read_flags(i);
      uint32_t size = read_size(i);
      int64_t pts = (f & kBlockPtsDelta)
                        ? add(i, prev_pts, zigzag_decode(read_leb(i, "pts delta")), "pts")
                        : add(i, prev_pts, prev_duration, "pts");
      int64_t dts = pts;
      if (f & kBlockDtsOffset) {
        int64_t offset = zigzag_decode(read_leb(i, "dts offset"));
        if (offset < 0) corrupt(chunk_offset, where(i) + "dts offset is negative (dts > pts)");
        if (__builtin_sub_overflow(pts, offset, &dts))
          corrupt(chunk_offset, where(i) + "dts overflows 64 bits");
      }
      if (f & kBlockDuration) duration = as_duration(i, read_leb(i, "duration"));
      uint32_t side_offset = 0, side_size = 0;
      if (f & kBlockSideData) {
        uint64_t n = read_leb(i, "side data size");
        if (n == 0 || n > uint64_t(end - p))
          corrupt(chunk_offset, where(i) + "side data size " + std::to_string(n) + " is invalid");
        side_offset = uint32_t(p - base);
        side_size = uint32_t(n);
        if (!valid_side_data({p, side_size}))
          corrupt(chunk_offset, where(i) + "side data entries are malformed");
        p += side_size;
      }
      if (size > uint64_t(end - p)) corrupt(chunk_offset, where(i) + "payload runs past the chunk");
      DecodedBlock& d = out.emplace_back();
      d.info.track_id = g.track_id;
      d.info.type = static_cast<BlockType>(f & kBlockTypeMask);
      d.info.pts = pts;
      d.info.dts = dts;
      d.info.duration = duration;
      d.info.masked = f & kBlockMasked;
      d.info.discardable = f & kBlockDiscardable;
      d.offset = uint32_t(p - base);
      d.size = size;
      d.side_offset = side_offset;
      d.side_size = side_size;
      p += size;
      prev_pts = pts;
      prev_duration = duration;
    }
  }
  if (p != end)
    corrupt(chunk_offset, std::to_string(end - p) + " bytes follow the last block record");
  return g;
}

}  // namespace h4mk::detail
