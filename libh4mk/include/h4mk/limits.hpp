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
};

}  // namespace h4mk
H4MK_CXX_API_END
