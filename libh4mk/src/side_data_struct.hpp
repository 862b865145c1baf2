// Registered side data to and from a program's own structs (h4mk_struct_map).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h4mk/h4mk.h"
#include "h4mk/side_data_layout.hpp"

namespace h4mk::detail {

// The bytes of struct s and its `entries` entries. Throws
// Error(kInvalidArgument) for a map that does not fit the layout or a value
// its field cannot hold.
std::vector<uint8_t> side_data_from_struct(const SideDataLayout& layout, const h4mk_struct_map& map,
                                           const void* s, size_t entries);

// The entries bytes hold; throws Error(kCorrupt) unless they fit the layout.
size_t side_data_entries(const SideDataLayout& layout, std::span<const uint8_t> bytes);

// Loads bytes into s, which has room for their entries. Throws
// Error(kCorrupt) for bytes that do not fit or a symbol the map lacks, and
// Error(kInvalidArgument) for a map that does not fit the layout.
void side_data_to_struct(const SideDataLayout& layout, const h4mk_struct_map& map,
                         std::span<const uint8_t> bytes, void* s);

}  // namespace h4mk::detail
