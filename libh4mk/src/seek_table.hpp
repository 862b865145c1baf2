// TSEK chunk: one per track, the seek entries plus the track summary.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h4mk/reader.hpp"

namespace h4mk::detail {

// Header, then the entries as LEB128 deltas (2 to 20 bytes each), then the
// summary (FORMAT.md §10).
inline constexpr size_t kSeekHeaderSize = 12;
inline constexpr size_t kSeekEntryMinSize = 2;
// A CORE chunk takes at least this (a chunk header and a group header), so
// entries are at least this far apart.
inline constexpr uint64_t kMinCoreStep = 28;
inline constexpr size_t kSeekSummarySize = 24;

struct SeekTable {
  uint16_t track_id = 0;
  std::vector<IndexEntry> entries;
  TrackSummary summary;
};

struct GroupSummary;  // block_group.hpp

// Adds the group at chunk_offset to its track's table: its first I block is
// an entry, its blocks join the summary. The writer and verify both build
// tables by this one rule.
void add_group(SeekTable& t, const GroupSummary& g, uint64_t chunk_offset);

std::vector<uint8_t> encode_seek_table(const SeekTable& t);
// Throws Error(kCorrupt) when the entries do not fill the payload exactly, are
// not sorted, or overflow.
SeekTable decode_seek_table(std::span<const uint8_t> payload, uint64_t chunk_offset);

}  // namespace h4mk::detail
