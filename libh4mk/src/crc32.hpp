// CRC-32 (zlib / ISO-HDLC polynomial). libdeflate is used because it measured
// ~5x faster than zlib here (bench/bench_primitives.cpp, BM_Crc32_*).
#pragma once

#include <cstddef>
#include <cstdint>

namespace h4mk::detail {

// Continues a running CRC; start with 0.
uint32_t crc32(uint32_t crc, const void* data, size_t size);

}  // namespace h4mk::detail
