// Implementations of the CRC-32 of docs/FORMAT.md ("Conventions") on the same
// buffers: the measurement behind libh4mk's choice of ISA-L, with libdeflate
// as the fallback. Sizes: 1 MiB, 6 KiB (2 s of Opus, one group: a seek), and
// 8 to 256 bytes, where a call's fixed cost shows (a chunk header's tag and
// size are 8: ISA-L takes a slow path below 16 bytes, so libh4mk uses zlib).
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <zlib.h>
#if H4MK_BENCH_ISAL
#include <isa-l/crc.h>
#endif

#include <array>
#include <cstdint>
#include <random>
#include <vector>

namespace {

const std::vector<uint8_t>& buffer() {
  static const std::vector<uint8_t> b = [] {
    std::vector<uint8_t> v(1 << 20);
    std::mt19937 rng(3);
    for (auto& x : v) x = uint8_t(rng());
    return v;
  }();
  return b;
}

void sizes(benchmark::internal::Benchmark* b) {
  for (int n : {1 << 20, 6144, 8, 16, 32, 64, 128, 256}) b->Arg(n);
}

template <typename Crc>
void measure_crc(benchmark::State& state, Crc crc) {
  const auto& b = buffer();
  const auto n = size_t(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(crc(b.data(), n));
  state.SetBytesProcessed(int64_t(state.iterations() * n));
}

void BM_Crc32_libdeflate(benchmark::State& state) {
  measure_crc(state, [](const uint8_t* p, size_t n) { return libdeflate_crc32(0, p, n); });
}
BENCHMARK(BM_Crc32_libdeflate)->Apply(sizes);

#if H4MK_BENCH_ISAL
void BM_Crc32_isal(benchmark::State& state) {
  measure_crc(state, [](const uint8_t* p, size_t n) { return crc32_gzip_refl(0, p, n); });
}
BENCHMARK(BM_Crc32_isal)->Apply(sizes);
#endif

void BM_Crc32_zlib(benchmark::State& state) {
  measure_crc(state, [](const uint8_t* p, size_t n) { return crc32(0, p, uInt(n)); });
}
BENCHMARK(BM_Crc32_zlib)->Apply(sizes);

// The textbook byte-at-a-time table loop, for scale.
void BM_Crc32_table(benchmark::State& state) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  const auto& b = buffer();
  for (auto _ : state) {
    uint32_t c = 0xFFFFFFFFu;
    for (uint8_t x : b) c = table[(c ^ x) & 0xff] ^ (c >> 8);
    benchmark::DoNotOptimize(c ^ 0xFFFFFFFFu);
  }
  state.SetBytesProcessed(int64_t(state.iterations() * b.size()));
}
BENCHMARK(BM_Crc32_table);

}  // namespace

BENCHMARK_MAIN();
