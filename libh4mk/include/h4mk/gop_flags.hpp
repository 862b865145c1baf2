// The seeds' 32-bit "GOP flags" view: pts in milliseconds in bits 0..27 and the
// block type in bits 28..29. Derived only: files store exact 64-bit timestamps.
#pragma once

#include <cstdint>

#include "h4mk/block.hpp"
#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

inline constexpr uint32_t kGopFlagsMaxPtsMs = (1u << 28) - 1;  // ~74.6 hours

// Throws Error(kInvalidArgument) when pts_ms does not fit in 28 bits.
uint32_t pack_gop_flags(uint32_t pts_ms, BlockType type);

struct GopFlags {
  uint32_t pts_ms;
  BlockType type;
};
// Throws Error(kCorrupt) on type 3 or non-zero reserved bits.
GopFlags unpack_gop_flags(uint32_t flags);

}  // namespace h4mk
H4MK_CXX_API_END
