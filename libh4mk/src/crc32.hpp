// CRC-32 (zlib / ISO-HDLC polynomial). libdeflate is used because it measured
// about 3x faster than zlib here (bench/bench_primitives.cpp, BM_Crc32_*).
#pragma once

#include <cstddef>
#include <cstdint>

namespace h4mk::detail {

// Continues a running CRC; start with 0.
uint32_t crc32(uint32_t crc, const void* data, size_t size);

// CRC of A||B from crc(A), crc(B) and len(B), without touching the bytes
// (zlib's crc32_combine): the container CRC reuses the chunk payload CRCs
// instead of a second pass over every byte.
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// Combining costs ~0.5 us (zlib), a direct pass ~0.1 us per KiB: below this
// size a second pass over the bytes is cheaper than combining CRCs.
inline constexpr size_t kCrcCombineThreshold = 64 * 1024;

}  // namespace h4mk::detail
