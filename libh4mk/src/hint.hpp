// HINT chunk (FORMAT.md §10.1): right after TRAK, a copy of what a reader
// otherwise finds only at the end of the file (the file size, TAIL's index
// offset, every track's TSEK summary), filled in by a writer that can seek
// back once the file is complete. It lets a reader open a file and know its
// durations from the first bytes; the index is loaded on first use.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h4mk/reader.hpp"

namespace h4mk::detail {

inline constexpr size_t kHintFixedSize = 16;
inline constexpr size_t kHintTrackSize = 24;

struct Hint {
  uint64_t file_size = 0;  // 0: not filled in (the writer did not finish)
  uint64_t index_offset = 0;
  std::vector<TrackSummary> tracks;  // in TRAK order
};

inline size_t hint_payload_size(size_t track_count) {
  return kHintFixedSize + kHintTrackSize * track_count;
}

std::vector<uint8_t> encode_hint(const Hint& h);
// Throws Error(kCorrupt) when the size does not match the track count.
Hint decode_hint(std::span<const uint8_t> payload, size_t track_count, uint64_t chunk_offset);

}  // namespace h4mk::detail
