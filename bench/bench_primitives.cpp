// CRC-32 implementations on the same buffer: the measurement behind libh4mk's
// choice of libdeflate (docs/FORMAT.md, "Conventions").
#include <benchmark/benchmark.h>
#include <libdeflate.h>
#include <zlib.h>

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

void BM_Crc32_libdeflate(benchmark::State& state) {
  const auto& b = buffer();
  for (auto _ : state) benchmark::DoNotOptimize(libdeflate_crc32(0, b.data(), b.size()));
  state.SetBytesProcessed(int64_t(state.iterations() * b.size()));
}
BENCHMARK(BM_Crc32_libdeflate);

void BM_Crc32_zlib(benchmark::State& state) {
  const auto& b = buffer();
  for (auto _ : state) benchmark::DoNotOptimize(crc32(0, b.data(), uInt(b.size())));
  state.SetBytesProcessed(int64_t(state.iterations() * b.size()));
}
BENCHMARK(BM_Crc32_zlib);

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
