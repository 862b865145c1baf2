#include "seek_table.hpp"

#include <algorithm>
#include <string>

#include "block_group.hpp"
#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

void add_group(SeekTable& t, const GroupSummary& g, uint64_t chunk_offset) {
  if (g.has_key) t.entries.push_back({g.first_key_pts, chunk_offset});
  TrackSummary& s = t.summary;
  s.start_pts = s.block_count ? std::min(s.start_pts, g.min_pts) : g.min_pts;
  s.end_pts = s.block_count ? std::max(s.end_pts, g.max_end) : g.max_end;
  s.block_count += g.header.block_count;
}

std::vector<uint8_t> encode_seek_table(const SeekTable& t) {
  std::vector<uint8_t> out(kSeekHeaderSize + kSeekEntrySize * t.entries.size() + kSeekSummarySize);
  uint8_t* p = out.data();
  store_u32(p, kMagicSeek);
  store_u16(p + 4, t.track_id);
  store_u16(p + 6, 0);
  store_u32(p + 8, static_cast<uint32_t>(t.entries.size()));
  p += kSeekHeaderSize;
  for (const IndexEntry& e : t.entries) {
    store_i64(p, e.pts);
    store_u64(p + 8, e.offset);
    p += kSeekEntrySize;
  }
  store_u64(p, t.summary.block_count);
  store_i64(p + 8, t.summary.start_pts);
  store_i64(p + 16, t.summary.end_pts);
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
  uint64_t count = load_u32(p + 8);
  if (kSeekHeaderSize + count * kSeekEntrySize + kSeekSummarySize != payload.size())
    fail("entry_count " + std::to_string(count) + " does not match the payload size " +
         std::to_string(payload.size()));
  t.entries.resize(count);
  p += kSeekHeaderSize;
  for (uint64_t i = 0; i < count; ++i, p += kSeekEntrySize) {
    t.entries[i] = {load_i64(p), load_u64(p + 8)};
    if (i > 0 &&
        (t.entries[i].pts < t.entries[i - 1].pts || t.entries[i].offset <= t.entries[i - 1].offset))
      fail("entry " + std::to_string(i) + " is out of order");
  }
  t.summary = {load_u64(p), load_i64(p + 8), load_i64(p + 16)};
  return t;
}

}  // namespace h4mk::detail
