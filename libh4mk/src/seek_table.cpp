#include "seek_table.hpp"

#include <algorithm>
#include <string>

#include "block_group.hpp"
#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"
#include "leb128.hpp"

namespace h4mk::detail {

void add_group(SeekTable& t, const GroupSummary& g, uint64_t chunk_offset) {
  if (g.has_key) t.entries.push_back({g.first_key_pts, chunk_offset});
  TrackSummary& s = t.summary;
  s.start_pts = s.block_count ? std::min(s.start_pts, g.min_pts) : g.min_pts;
  s.end_pts = s.block_count ? std::max(s.end_pts, g.max_end) : g.max_end;
  s.block_count += g.header.block_count;
}

std::vector<uint8_t> encode_seek_table(const SeekTable& t) {
  std::vector<uint8_t> out(kSeekHeaderSize);
  out.reserve(kSeekHeaderSize + 4 * t.entries.size() + kSeekSummarySize);
  store_u32(out.data(), kMagicSeek);
  store_u16(out.data() + 4, t.track_id);
  store_u16(out.data() + 6, 0);
  store_u32(out.data() + 8, static_cast<uint32_t>(t.entries.size()));
  // Each entry as the step from the one before: 3 to 6 bytes for evenly
  // spaced groups, where fixed fields took 16.
  for (size_t i = 0; i < t.entries.size(); ++i) {
    const IndexEntry& e = t.entries[i];
    if (i == 0) {
      put_uleb128(out, zigzag_encode(e.pts));
      put_uleb128(out, e.offset);
    } else {
      put_uleb128(out, uint64_t(e.pts) - uint64_t(t.entries[i - 1].pts));
      put_uleb128(out, e.offset - t.entries[i - 1].offset);
    }
  }
  const size_t at = out.size();
  out.resize(at + kSeekSummarySize);
  store_u64(out.data() + at, t.summary.block_count);
  store_i64(out.data() + at + 8, t.summary.start_pts);
  store_i64(out.data() + at + 16, t.summary.end_pts);
  return out;
}

SeekTable decode_seek_table(std::span<const uint8_t> payload, uint64_t chunk_offset) {
  auto fail = [&](const std::string& why) -> void {
    throw Error(ErrorCode::kCorrupt,
                "TSEK chunk at offset " + std::to_string(chunk_offset) + ": " + why, chunk_offset);
  };
  if (payload.size() < kSeekHeaderSize + kSeekSummarySize)
    fail("payload of " + std::to_string(payload.size()) + " bytes is too short");
  const uint8_t* p = payload.data();
  if (load_u32(p) != kMagicSeek) fail("magic is not 'H4TS'");
  SeekTable t;
  t.track_id = load_u16(p + 4);
  if (t.track_id == 0) fail("track_id 0 is invalid");
  const uint64_t count = load_u32(p + 8);
  const uint8_t* const end = payload.data() + payload.size() - kSeekSummarySize;
  p += kSeekHeaderSize;
  // Before allocating: every entry takes two bytes at least, and names a
  // CORE chunk (kMinCoreStep bytes at least) before this TSEK, so the entries
  // held (16 bytes each) stay under 16/28 of the file's size.
  if (count > uint64_t(end - p) / kSeekEntryMinSize || count > chunk_offset / kMinCoreStep)
    fail("entry_count " + std::to_string(count) + " does not fit in the payload's " +
         std::to_string(payload.size()) + " bytes or the " + std::to_string(chunk_offset) +
         " before it");
  t.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t pts_step = 0, offset_step = 0;
    if (!get_uleb128(p, end, pts_step) || !get_uleb128(p, end, offset_step))
      fail("entry " + std::to_string(i) + " is not two LEB128 values in their shortest form");
    IndexEntry& e = t.entries[i];
    if (i == 0) {
      e = {zigzag_decode(pts_step), offset_step};
      continue;
    }
    const IndexEntry& prev = t.entries[i - 1];
    // pts never decrease and offsets step past a CORE chunk, within i64 and u64.
    if (pts_step > uint64_t(INT64_MAX) - uint64_t(prev.pts) || offset_step < kMinCoreStep ||
        offset_step > UINT64_MAX - prev.offset)
      fail("entry " + std::to_string(i) + " is out of order, or less than " +
           std::to_string(kMinCoreStep) + " bytes past the one before");
    e = {int64_t(uint64_t(prev.pts) + pts_step), prev.offset + offset_step};
  }
  if (p != end) fail(std::to_string(end - p) + " bytes between the last entry and the summary");
  t.summary = {load_u64(p), load_i64(p + 8), load_i64(p + 16)};
  return t;
}

}  // namespace h4mk::detail
