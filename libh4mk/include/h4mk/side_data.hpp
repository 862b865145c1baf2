// Block side data: opaque key/value entries stored next to a block's payload
// (docs/FORMAT.md §5.4). The container never interprets them; registered ids
// (§6.1) have layouts (h4mk/side_data_layout.hpp), applications' keys a
// "name." prefix.
#pragma once

#include <cstdint>
#include <span>
#include <string>
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

// The packet flags a block has no bit for (FORMAT.md §5.4), kept under
// kPacketFlagsKey as names joined by '+'.
inline constexpr std::string_view kPacketFlagsKey = "packet_flags";
enum PacketFlag : unsigned {
  kPacketDiscard = 1,  // "discard": decode, do not show
  kPacketCorrupt = 2,  // "corrupt"
};
// The flags a value names; names it does not know are ignored.
unsigned parse_packet_flags(std::string_view value) noexcept;
// The value naming flags (those it knows), "" for none.
std::string format_packet_flags(unsigned flags);

}  // namespace h4mk
H4MK_CXX_API_END
