#include "crc32.hpp"

#include <zlib.h>

#if H4MK_CRC32_ISAL
#include <isa-l/crc.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#else
#include <libdeflate.h>
#endif

namespace h4mk::detail {

#if H4MK_CRC32_ISAL
namespace {

// ISA-L's AVX-512 CRC returns with the upper vector registers dirty and leaves
// clearing them to the caller (intel/isa-l#24). Legacy-SSE code run after it
// pays for that: OpenSSL's SHA-256 ran 25 % slower here until this was added.
#if defined(__x86_64__)
__attribute__((target("avx"))) void clear_upper_vector_state() { _mm256_zeroupper(); }
void after_isal() {
  if (__builtin_cpu_supports("avx")) clear_upper_vector_state();
}
#else
void after_isal() {}
#endif

}  // namespace
#endif

uint32_t crc32(uint32_t crc, const void* data, size_t size) {
#if H4MK_CRC32_ISAL
  // Below 16 bytes ISA-L falls back to a slow byte loop (18.7 ns for 8 bytes,
  // zlib 6.6; bench_primitives BM_Crc32_*/8 and /16).
  if (size < 16)
    return static_cast<uint32_t>(::crc32(crc, static_cast<const Bytef*>(data), uInt(size)));
  // ISA-L takes a 64-bit length and the same running value zlib does.
  const uint32_t out =
      crc32_gzip_refl(crc, static_cast<const unsigned char*>(data), uint64_t(size));
  after_isal();
  return out;
#else
  return libdeflate_crc32(crc, data, size);
#endif
}

const char* crc32_implementation() {
#if H4MK_CRC32_ISAL
  return "isa-l";
#else
  return "libdeflate";
#endif
}

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return static_cast<uint32_t>(::crc32_combine(crc_a, crc_b, static_cast<z_off_t>(len_b)));
}

}  // namespace h4mk::detail
