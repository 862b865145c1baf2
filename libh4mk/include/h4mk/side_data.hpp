// Block side data: opaque key/value entries stored next to a block's payload
// (docs/FORMAT.md §5.4). The container never interprets them; registered ids
// (§6.1) have layouts (h4mk/side_data_layout.hpp), applications' keys a
// "name." prefix.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct SideDataEntry {
  std::string_view key;  // non-empty
  std::span<const uint8_t> value;
};

// Appends one entry to a side data blob.
void append_side_data(std::vector<uint8_t>& blob, std::string_view key,
                      std::span<const uint8_t> value);

// Walks a blob: returns false at its end, throws Error(kCorrupt) if it is
// malformed. `pos` starts at 0.
bool next_side_data(std::span<const uint8_t> blob, size_t& pos, SideDataEntry& out);

// True when the blob is a sequence of well-formed entries.
bool valid_side_data(std::span<const uint8_t> blob) noexcept;

}  // namespace h4mk
H4MK_CXX_API_END
