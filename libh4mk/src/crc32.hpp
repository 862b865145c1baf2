// CRC-32 (zlib / ISO-HDLC polynomial). Computed by Intel's ISA-L where the
// build finds it (VPCLMULQDQ: 45-55 GB/s on this project's machines), else by
// libdeflate (PCLMULQDQ, 11-14.5 GB/s; zlib 4): bench/bench_primitives.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace h4mk::detail {

// Continues a running CRC; start with 0.
uint32_t crc32(uint32_t crc, const void* data, size_t size);

// "isa-l" or "libdeflate": which one this build uses (for benchmarks' labels).
const char* crc32_implementation();

// CRC of A||B from crc(A), crc(B) and len(B), without touching the bytes
// (zlib's crc32_combine): the container CRC reuses the chunk payload CRCs
// instead of a second pass over every byte.
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// Combining costs ~55 ns alone (zlib 1.2.13), a pass over 4 KiB ~85 ns with
// ISA-L; but in verify, on 4.3 KB groups, combining took 13 % of the time
// against 8 % for the CRC pass itself, and raising this from 4 to 16 KiB
// made that verify 23 % faster (the second pass runs over the read window
// in one call, while it is still in cache). Below this size a second pass.
inline constexpr size_t kCrcCombineThreshold = 16 * 1024;

}  // namespace h4mk::detail
