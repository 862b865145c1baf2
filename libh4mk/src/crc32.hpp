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

// CRC of A||B from crc(A), crc(B) and len(B), without touching the bytes.
uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

// Extends a CRC over bytes whose CRC is already known, without a second pass
// over them: the container CRC grown by a chunk whose own CRC was just
// checked or computed. A join multiplies by x^(8n) mod P; that factor is kept
// for the last length, since runs of equal-size chunks are the rule.
// With carry-less multiplication (PCLMULQDQ) a join takes 10 ns, 12-18 when
// the length changes; zlib's crc32_combine 47-172 ns, and a second pass 60
// ns over a 1,650-byte chunk (bench_primitives BM_Crc32Join_*, AMD EPYC).
class CrcJoin {
 public:
  // crc32(crc_a, B), given crc_b == crc32(start_b, B) and n == len(B).
  uint32_t continue_from(uint32_t crc_a, uint32_t start_b, uint32_t crc_b, uint64_t n);
  // crc(A || B) from crc(A), crc(B) and len(B).
  uint32_t concat(uint32_t crc_a, uint32_t crc_b, uint64_t n) {
    return continue_from(crc_a, 0, crc_b, n);
  }

 private:
  uint64_t n_ = 0;
  uint32_t factor_ = 0x80000000u;  // x^0: the factor for n == 0
};

// Chunks of at least this many bytes extend the container CRC by a join;
// smaller ones are passed over again. Verify passes over the consumed bytes
// of its window in one call (45 GB/s, 0.022 ns a byte), and a join with the
// header's 12 bytes costs ~21 ns: 1 KiB with PCLMULQDQ. Without it, joins
// go through zlib's multmodp and 16 KiB stays (verify on 4.3 KB groups was
// 23 % faster with a second pass than with zlib's crc32_combine).
size_t crc32_join_threshold();

// x^(8n) mod P, and a * b mod P, in zlib's bit order (x^0 in bit 31).
// Exposed for tests, which check them against zlib.
uint32_t crc32_shift_factor(uint64_t n);
uint32_t crc32_multiply(uint32_t a, uint32_t b);
bool crc32_has_clmul();

}  // namespace h4mk::detail
