// h4mask against raw OpenSSL EVP on the same buffers, in the same run:
// BlockMasker (the per-block path of the writer and reader) versus the
// cheapest EVP sequence for the same envelope (key schedule done once,
// per-block IV, AAD, update, final, tag). Targets (issue 4): >= 0.9 x EVP at
// 64 KiB; <= 350 ns per 32-byte GCM block.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace {

using namespace h4mk;

MaskKey bench_key() {
  MaskKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 3 + 1);
  return k;
}

// arg 0: payload bytes; arg 1: 0 = gcm, 1 = ctr.
void BM_Mask(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const auto scheme = state.range(1) ? MaskScheme::kAes256Ctr : MaskScheme::kAes256Gcm;
  const MaskKey key = bench_key();
  BlockMasker m(make_track_mask(key, scheme), key, 1);
  std::vector<uint8_t> plain(n, 0x5A), env(n + m.overhead());
  BlockInfo info{1, BlockType::kP, 0, 0, 20};
  for (auto _ : state) {
    ++info.dts;  // ctr needs strictly increasing dts
    info.pts = info.dts;
    m.mask(info, plain, env);
    benchmark::DoNotOptimize(env.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations() * n));
  state.counters["ns_per_block"] = benchmark::Counter(
      double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Unmask(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const MaskKey key = bench_key();
  BlockMasker m(make_track_mask(key, MaskScheme::kAes256Gcm), key, 1);
  std::vector<uint8_t> plain(n, 0x5A), env(n + m.overhead()), out(n);
  const BlockInfo info{1, BlockType::kP, 7, 7, 20};
  m.mask(info, plain, env);
  for (auto _ : state) {
    m.unmask(info, env, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations() * n));
  state.counters["ns_per_block"] = benchmark::Counter(
      double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The peer: raw EVP with the same work per block and nothing else.
void BM_EvpRaw(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  const bool ctr = state.range(1) != 0;
  const MaskKey key = bench_key();
  EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, ctr ? "AES-256-CTR" : "AES-256-GCM", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_EncryptInit_ex(ctx, c, nullptr, key.data(), nullptr);
  std::vector<uint8_t> plain(n, 0x5A), out(n + 28);
  uint8_t iv[16] = {}, aad[17] = {};
  uint64_t counter = 0;
  int len = 0;
  for (auto _ : state) {
    ++counter;
    std::memcpy(iv + 4, &counter, 8);
    EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, iv);
    if (!ctr) EVP_EncryptUpdate(ctx, nullptr, &len, aad, sizeof aad);
    EVP_EncryptUpdate(ctx, out.data() + 12, &len, plain.data(), int(n));
    if (!ctr) {
      EVP_EncryptFinal_ex(ctx, out.data() + 12 + n, &len);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12 + n);
    }
    benchmark::DoNotOptimize(out.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(c);
  state.SetBytesProcessed(int64_t(state.iterations() * n));
  state.counters["ns_per_block"] = benchmark::Counter(
      double(state.iterations()), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Key derivation, once per track and file: why it is not done per block.
void BM_TrackKeySetup(benchmark::State& state) {
  const MaskKey key = bench_key();
  const TrackMask tm = make_track_mask(key, MaskScheme::kAes256Gcm);
  for (auto _ : state) {
    BlockMasker m(tm, key, 1);
    benchmark::DoNotOptimize(&m);
  }
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int scheme : {0, 1})
    for (int n : {32, 1024, 65536}) b->Args({n, scheme});
}

BENCHMARK(BM_Mask)->Apply(Sizes);
BENCHMARK(BM_EvpRaw)->Apply(Sizes);
BENCHMARK(BM_Unmask)->Arg(32)->Arg(65536);
BENCHMARK(BM_TrackKeySetup);

}  // namespace

BENCHMARK_MAIN();
