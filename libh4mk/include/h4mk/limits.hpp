// Limits a reader enforces before it allocates (docs/FORMAT.md, "Reader limits").
#pragma once

#include <cstdint>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct ReaderLimits {
  uint32_t max_json_chunk = 16u << 20;    // TRAK, META, SAFE, NOTE, VERI
  uint32_t max_json_depth = 64;           // nesting of arrays and objects
  uint32_t max_core_chunk = 256u << 20;   // one block group
  uint32_t max_blocks_per_group = 65536;  // writers never exceed this
  uint32_t max_tracks = 4096;
  uint32_t max_index_chunk = 256u << 20;       // one TSEK
  uint64_t max_attachment_bytes = 256u << 20;  // ATCH chunks in all, held from open
  // A decode chain: the blocks of a track from an I block up to the block
  // presented (docs/FORMAT.md §12.1). Writers refuse a P or B block that
  // would make a longer one; readers refuse to build one.
  uint32_t max_chain_blocks = 65536;
  uint64_t max_chain_bytes = 256u << 20;  // payloads decode_chain copies
};

}  // namespace h4mk
H4MK_CXX_API_END
