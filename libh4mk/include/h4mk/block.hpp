// Blocks: what a writer is given and what a reader returns.
#pragma once

#include <cstdint>
#include <span>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class BlockType : uint8_t { kI = 0, kP = 1, kB = 2 };

const char* block_type_name(BlockType type) noexcept;

// Timing and flags of one block. Timestamps are in the track's time_base.
struct BlockInfo {
  uint16_t track_id = 0;
  BlockType type = BlockType::kI;
  int64_t pts = 0;
  int64_t dts = 0;       // decode time; dts <= pts
  int64_t duration = 0;  // 0 = unknown
  bool masked = false;   // payload is an h4mask envelope
  bool discardable = false;

  friend bool operator==(const BlockInfo&, const BlockInfo&) = default;
};

// A block returned by the reader. `data` points into the reader's group buffer
// (or, for a group too big to hold, its block buffer) and stays valid until
// the next call that reads (next(), peek(), seek(), ...).
struct Block {
  BlockInfo info;
  std::span<const uint8_t> data;
  std::span<const uint8_t> side_data;  // h4mk/side_data.hpp entries; empty if none
  uint64_t chunk_offset = 0;           // offset of the CORE chunk header holding the block
  // Offset of the payload's first byte in the file; 0 when its group is
  // compressed (the payload is not stored as such).
  uint64_t data_offset = 0;
  uint32_t index_in_group = 0;
  uint16_t track_index = 0;  // reader: the position of its track in Reader::tracks()
  bool damaged = false;      // its group's CRC failed (Reader::hand_out_damaged_groups)
};

}  // namespace h4mk
H4MK_CXX_API_END
