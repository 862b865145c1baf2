#include "h4mk/gop_flags.hpp"

#include <string>

#include "h4mk/error.hpp"

namespace h4mk {

uint32_t pack_gop_flags(uint32_t pts_ms, BlockType type) {
  if (pts_ms > kGopFlagsMaxPtsMs)
    throw Error(ErrorCode::kInvalidArgument,
                "pts " + std::to_string(pts_ms) + " ms does not fit the 28-bit GOP flags field");
  return pts_ms | (uint32_t(static_cast<uint8_t>(type)) << 28);
}

GopFlags unpack_gop_flags(uint32_t flags) {
  uint32_t type = (flags >> 28) & 3;
  if (type == 3) throw Error(ErrorCode::kCorrupt, "GOP flags carry block type 3");
  if (flags >> 30) throw Error(ErrorCode::kCorrupt, "GOP flags have reserved bits 30..31 set");
  return {flags & kGopFlagsMaxPtsMs, static_cast<BlockType>(type)};
}

}  // namespace h4mk
