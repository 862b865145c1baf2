#include "hint.hpp"

#include <string>

#include "byte_order.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

std::vector<uint8_t> encode_hint(const Hint& h) {
  std::vector<uint8_t> out(hint_payload_size(h.tracks.size()));
  uint8_t* p = out.data();
  store_u64(p, h.file_size);
  store_u64(p + 8, h.index_offset);
  p += kHintFixedSize;
  for (const TrackSummary& s : h.tracks) {
    store_u64(p, s.block_count);
    store_i64(p + 8, s.start_pts);
    store_i64(p + 16, s.end_pts);
    p += kHintTrackSize;
  }
  return out;
}

Hint decode_hint(std::span<const uint8_t> payload, size_t track_count, uint64_t chunk_offset) {
  if (payload.size() != hint_payload_size(track_count))
    throw Error(ErrorCode::kCorrupt,
                "HINT chunk at offset " + std::to_string(chunk_offset) + ": payload of " +
                    std::to_string(payload.size()) + " bytes, expected " +
                    std::to_string(hint_payload_size(track_count)) + " for " +
                    std::to_string(track_count) + " tracks",
                chunk_offset);
  const uint8_t* p = payload.data();
  Hint h;
  h.file_size = load_u64(p);
  h.index_offset = load_u64(p + 8);
  p += kHintFixedSize;
  h.tracks.resize(track_count);
  for (TrackSummary& s : h.tracks) {
    s = {load_u64(p), load_i64(p + 8), load_i64(p + 16)};
    p += kHintTrackSize;
  }
  return h;
}

}  // namespace h4mk::detail
