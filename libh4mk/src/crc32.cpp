#include "crc32.hpp"

#include <zlib.h>

#include <array>

#include "byte_order.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#if H4MK_CRC32_ISAL
#include <isa-l/crc.h>
#else
#include <libdeflate.h>
#endif

namespace h4mk::detail {

namespace {

constexpr uint32_t kPoly = 0xEDB88320u;  // reflected: x^0 in bit 31
constexpr uint32_t kOne = 0x80000000u;   // the polynomial 1

// a * b mod P one bit at a time, as zlib's multmodp: builds the table below
// at compile time.
constexpr uint32_t multiply_bitwise(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = kOne; m; m >>= 1) {
    if (a & m) product ^= b;
    b = (b & 1) ? (b >> 1) ^ kPoly : b >> 1;
  }
  return product;
}

// kNibble[k][d] = x^(8 * d * 16^k) mod P: a length's factor is the product
// of one entry per non-zero hex digit (3 for a 4 KB chunk).
using NibbleTable = std::array<std::array<uint32_t, 16>, 16>;
constexpr NibbleTable make_nibble_table() {
  NibbleTable t{};
  uint32_t step = multiply_bitwise(kOne, kOne >> 8);  // x^8: one byte
  for (auto& row : t) {
    row[0] = kOne;
    for (size_t d = 1; d < 16; ++d) row[d] = multiply_bitwise(row[d - 1], step);
    step = multiply_bitwise(row[15], step);  // x^(8 * 16^(k+1))
  }
  return t;
}
constexpr NibbleTable kNibble = make_nibble_table();
static_assert(kNibble[0][1] == (kOne >> 8), "x^8 is bit 23 in zlib's order");

#if defined(__x86_64__)
// The 63-bit carry-less product, shifted to put x^0 in bit 63, then reduced
// mod P by Barrett's method with the bit-reflected constants of Intel's
// "Fast CRC Computation Using PCLMULQDQ": mu = x^64 / P (0x1F7011641) and
// P itself (0x1DB710641).
__attribute__((target("pclmul,sse4.1"))) uint32_t multiply_clmul(uint32_t a, uint32_t b) {
  const __m128i product =
      _mm_clmulepi64_si128(_mm_cvtsi32_si128(int(a)), _mm_cvtsi32_si128(int(b)), 0x00);
  const __m128i r = _mm_slli_epi64(product, 1);
  const __m128i k = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL);
  const __m128i low32 = _mm_set_epi32(0, 0, 0, -1);
  const __m128i q = _mm_clmulepi64_si128(_mm_and_si128(r, low32), k, 0x10);
  const __m128i qp = _mm_clmulepi64_si128(_mm_and_si128(q, low32), k, 0x00);
  return uint32_t(_mm_extract_epi32(_mm_xor_si128(r, qp), 1));
}
// Set while the library loads, possibly before libgcc's own CPU probe ran.
const bool kHasClmul = [] {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}();
#else
const bool kHasClmul = false;
#endif

#if H4MK_CRC32_ISAL && defined(__x86_64__)
// CRC-32 of 4 to 15 bytes for ISA-L builds, which took zlib's byte loop
// below 16 bytes: a chunk header's 12 bytes, on the container CRC's chain
// in verify, took 28 ns that way (11 % of verifying tokens16) and take 11
// this way (bench_primitives BM_Crc32Chain12_*). With
// r = ~crc, the bytes are k leading bytes (or, k = 0, one word) then q
// words; each meets the register once and is multiplied by x^(8 * the bytes
// from its start to the end), all independently.
__attribute__((target("pclmul,sse4.1"))) uint32_t crc32_short_clmul(uint32_t crc, const uint8_t* p,
                                                                    size_t n) {
  const size_t k = n & 3;
  size_t lead = 4;
  uint32_t first;
  if (k) {
    lead = k;
    first = p[0] | (k > 1 ? uint32_t(p[1]) << 8 : 0) | (k > 2 ? uint32_t(p[2]) << 16 : 0);
  } else {
    first = load_u32(p);
  }
  uint32_t out = multiply_clmul(~crc ^ first, kNibble[0][n]);
  for (size_t at = lead; at < n; at += 4)
    out ^= multiply_clmul(load_u32(p + at), kNibble[0][n - at]);
  return ~out;
}
#endif

}  // namespace

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
#if defined(__x86_64__)
  if (size < 16 && size >= 4 && kHasClmul)
    return crc32_short_clmul(crc, static_cast<const uint8_t*>(data), size);
#endif
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

bool crc32_has_clmul() { return kHasClmul; }

uint32_t crc32_multiply(uint32_t a, uint32_t b) {
#if defined(__x86_64__)
  if (kHasClmul) return multiply_clmul(a, b);
#endif
  return static_cast<uint32_t>(::crc32_combine_op(a, 0, b));  // zlib's multmodp(b, a)
}

uint32_t crc32_shift_factor(uint64_t n) {
  uint32_t f = kOne;
  for (size_t k = 0; n; ++k, n >>= 4)
    if (n & 15) f = crc32_multiply(f, kNibble[k][n & 15]);
  return f;
}

size_t crc32_join_threshold() { return kHasClmul ? 1024 : 16 * 1024; }

uint32_t CrcJoin::continue_from(uint32_t crc_a, uint32_t start_b, uint32_t crc_b, uint64_t n) {
  // crc32(c, B) == crc32(0, B) ^ (c * x^(8 len(B)) mod P): CRC-32 is affine
  // in its starting value, so two starts differ by the shifted difference.
  if (n != n_) {
    factor_ = crc32_shift_factor(n);
    n_ = n;
  }
  return crc_b ^ crc32_multiply(crc_a ^ start_b, factor_);
}

uint32_t crc32_concat(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  return CrcJoin().concat(crc_a, crc_b, len_b);
}

}  // namespace h4mk::detail
