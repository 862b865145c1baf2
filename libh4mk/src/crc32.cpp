#include "crc32.hpp"

#include <libdeflate.h>

namespace h4mk::detail {

uint32_t crc32(uint32_t crc, const void* data, size_t size) {
  return libdeflate_crc32(crc, data, size);
}

}  // namespace h4mk::detail
