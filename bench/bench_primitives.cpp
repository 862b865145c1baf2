// Implementations of the CRC-32 of docs/FORMAT.md ("Conventions") on the same
// buffers: the measurement behind libh4mk's choice of ISA-L, with libdeflate
// as the fallback. Sizes: 1 MiB, 6 KiB (2 s of Opus, one group: a seek), and
// 8 to 256 bytes, where a call's fixed cost shows (a chunk header's tag and
// size are 8: ISA-L takes a slow path below 16 bytes, so libh4mk uses zlib).
// Then joining CRCs without a second pass (BM_Crc32Join_*): libh4mk's
// CrcJoin against zlib's crc32_combine and a second pass, which sets
// crc32_join_threshold().
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

#include "../libh4mk/src/crc32.hpp"

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

// libh4mk's own: ISA-L, and below 16 bytes carry-less multiplication (or zlib).
void BM_Crc32_h4mk(benchmark::State& state) {
  measure_crc(state, [](const uint8_t* p, size_t n) { return h4mk::detail::crc32(0, p, n); });
}
BENCHMARK(BM_Crc32_h4mk)->Apply(sizes)->Arg(12);

// A chunk header's 12 bytes run on from the container CRC, each call waiting
// for the last as verify's do: the latency, not the throughput above.
template <typename Crc>
void measure_chain12(benchmark::State& state, Crc crc) {
  const auto& b = buffer();
  uint32_t c = 1;
  for (auto _ : state) c = crc(c, b.data(), 12);
  benchmark::DoNotOptimize(c);
}
void BM_Crc32Chain12_zlib(benchmark::State& state) {
  measure_chain12(
      state, [](uint32_t c, const uint8_t* p, size_t n) { return uint32_t(crc32(c, p, uInt(n))); });
}
BENCHMARK(BM_Crc32Chain12_zlib);
void BM_Crc32Chain12_h4mk(benchmark::State& state) {
  measure_chain12(
      state, [](uint32_t c, const uint8_t* p, size_t n) { return h4mk::detail::crc32(c, p, n); });
}
BENCHMARK(BM_Crc32Chain12_h4mk);

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

// Extending the container CRC by a chunk whose own CRC is known: a join
// (multiplying by x^(8n) mod P) against a second pass over the n bytes with
// libh4mk's CRC. Each iteration depends on the last, as the container CRC
// does. n: 1650 (a tokens16 group), 4400 (ipb41), 64 KiB, 1 MiB.
void join_sizes(benchmark::internal::Benchmark* b) {
  for (int n : {256, 512, 1024, 1650, 4400, 1 << 16, 1 << 20}) b->Arg(n);
}

void BM_Crc32Join_second_pass(benchmark::State& state) {
  const auto& b = buffer();
  const auto n = size_t(state.range(0));
  uint32_t c = 1;
  for (auto _ : state) c = h4mk::detail::crc32(c, b.data(), n);
  benchmark::DoNotOptimize(c);
}
BENCHMARK(BM_Crc32Join_second_pass)->Apply(join_sizes);

void BM_Crc32Join_zlib_combine(benchmark::State& state) {
  const auto n = z_off_t(state.range(0));
  uint32_t c = 1;
  for (auto _ : state) c = uint32_t(crc32_combine(c, 0x12345678u, n));
  benchmark::DoNotOptimize(c);
}
BENCHMARK(BM_Crc32Join_zlib_combine)->Apply(join_sizes);

// zlib with the factor for the length made once, as a run of equal chunks allows.
void BM_Crc32Join_zlib_op(benchmark::State& state) {
  const uLong op = crc32_combine_gen(z_off_t(state.range(0)));
  uint32_t c = 1;
  for (auto _ : state) c = uint32_t(crc32_combine_op(c, 0x12345678u, op));
  benchmark::DoNotOptimize(c);
}
BENCHMARK(BM_Crc32Join_zlib_op)->Apply(join_sizes);

// libh4mk's CrcJoin: range(1) == 0, every chunk the same size (the factor
// kept); == 1, sizes alternating n and n + 1 (a factor made for each).
void BM_Crc32Join_h4mk(benchmark::State& state) {
  const auto n = uint64_t(state.range(0));
  const bool vary = state.range(1) != 0;
  h4mk::detail::CrcJoin join;
  uint32_t c = 1;
  uint64_t k = 0;
  for (auto _ : state) c = join.continue_from(c, 0xCAFEu, 0x12345678u, n + (vary ? (k++ & 1) : 0));
  benchmark::DoNotOptimize(c);
  state.SetLabel(h4mk::detail::crc32_has_clmul() ? "pclmulqdq" : "zlib multmodp");
}
BENCHMARK(BM_Crc32Join_h4mk)->ArgsProduct({{256, 512, 1024, 1650, 4400, 1 << 16, 1 << 20}, {0, 1}});

}  // namespace

BENCHMARK_MAIN();
