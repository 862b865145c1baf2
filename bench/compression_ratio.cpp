// Per-group compression (docs/FORMAT.md §5.7) against its peers, in one run:
// one hour of 20 ms token frames written uncompressed, compressed per group
// (with and without a 4 KiB dictionary trained on the file, at 2 s and 0.5 s
// groups), beside zstd -3 of the whole uncompressed file and deflate -6 of
// the raw array (what np.savez_compressed stores); and reading every block,
// compressed against uncompressed, in ns per packet (best of 5). Files given
// after SECONDS (0: none of the synthetic sets) are compressed as
// `h4mk compress` does, their groups as they were written, against the same
// peers (the raw array: every payload back to back);
// bench/compression_media.sh makes dsp tokens of speech and an mpeg4 + aac
// remux for it.
//
//   build/bench/compression_ratio [SECONDS [FILE.h4mk ...]]   (default 3600)
#include <zlib.h>
#include <zstd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "h4mk/h4mk.hpp"

using namespace h4mk;

namespace {

struct Data {
  const char* name;
  size_t frame_bytes;
  std::vector<uint8_t> raw;  // frames back to back
};

// 8 codebooks of 10-bit codes per frame. Each codebook draws from its own
// Zipf-like law over 1024 codes (s = 0.8: an entropy of ~8.8 bits of 10,
// near what neural codecs' codes measure) and repeats its previous code with
// probability 0.2 (speech holds still between phonemes).
std::vector<uint16_t> codes(size_t frames, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> weights(1024);
  std::vector<std::discrete_distribution<int>> law;
  for (int c = 0; c < 8; ++c) {
    for (int k = 0; k < 1024; ++k) weights[k] = 1.0 / std::pow(k + 1 + c, 0.8);
    std::shuffle(weights.begin(), weights.end(), rng);  // each codebook its own order
    law.emplace_back(weights.begin(), weights.end());
  }
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<uint16_t> out(frames * 8);
  for (size_t f = 0; f < frames; ++f)
    for (int c = 0; c < 8; ++c)
      out[f * 8 + c] = (f && u(rng) < 0.2) ? out[(f - 1) * 8 + c] : uint16_t(law[c](rng));
  return out;
}

double entropy_bits(const std::vector<uint16_t>& v) {
  std::vector<double> n(1024);
  for (uint16_t x : v) n[x] += 1;
  double h = 0;
  for (double c : n)
    if (c) h -= c / double(v.size()) * std::log2(c / double(v.size()));
  return h;
}

std::vector<uint8_t> as_u16(const std::vector<uint16_t>& c) {
  std::vector<uint8_t> out(c.size() * 2);
  for (size_t i = 0; i < c.size(); ++i)
    out[2 * i] = uint8_t(c[i]), out[2 * i + 1] = uint8_t(c[i] >> 8);
  return out;
}

// 8 codes of 10 bits in 10 bytes, low bits first.
std::vector<uint8_t> bit_packed(const std::vector<uint16_t>& c) {
  std::vector<uint8_t> out(c.size() / 8 * 10);
  for (size_t i = 0; i < c.size(); ++i)
    for (int b = 0; b < 10; ++b)
      if (c[i] >> b & 1) out[(i * 10 + size_t(b)) / 8] |= uint8_t(1 << ((i * 10 + size_t(b)) % 8));
  return out;
}

std::vector<uint8_t> write(const Data& d, int64_t group_us, const TrackCompression* how) {
  MemorySink sink;
  WriterOptions o;
  o.max_group_duration_us = group_us;
  Writer w(sink, o);
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.time_base = {1, 50};
  t.default_duration = 1;
  if (how) t.compression = *how;
  w.add_track(t);
  const size_t frames = d.raw.size() / d.frame_bytes;
  for (size_t i = 0; i < frames; ++i)
    w.write_block({1, i % 250 ? BlockType::kP : BlockType::kI, int64_t(i), int64_t(i), 1},
                  {d.raw.data() + i * d.frame_bytes, d.frame_bytes});
  w.finish();
  return sink.take();
}

size_t zstd3(const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out(ZSTD_compressBound(b.size()));
  return ZSTD_compress(out.data(), out.size(), b.data(), b.size(), 3);
}

size_t deflate6(const std::vector<uint8_t>& b) {
  uLongf n = compressBound(uLong(b.size()));
  std::vector<uint8_t> out(n);
  compress2(out.data(), &n, b.data(), uLong(b.size()), 6);
  return n;
}

// Best of 5: ns per block for reading every block (payload touched).
double read_ns(const std::vector<uint8_t>& file) {
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    MemorySource src(file);
    Reader r(src);
    Block b;
    uint64_t n = 0, sum = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) ++n, sum += b.data.empty() ? 0 : b.data[0];
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    if (sum == 42) std::puts("");  // keep the reads
    best = std::min(best, ns / double(n));
  }
  return best;
}

// The bound under reading a compressed file: zstd alone decompressing the
// file's group frames one by one (one context, the track's dictionary), in
// ns per block, best of 5.
double zstd_floor_ns(const std::vector<uint8_t>& file, const std::vector<uint8_t>& dict,
                     uint64_t blocks) {
  std::vector<std::pair<const uint8_t*, size_t>> frames;
  std::vector<size_t> sizes;
  for (size_t p = 16; p + 12 <= file.size();) {
    const uint32_t n = uint32_t(file[p + 4]) | uint32_t(file[p + 5]) << 8 |
                       uint32_t(file[p + 6]) << 16 | uint32_t(file[p + 7]) << 24;
    // A compressed group (flag 0x04): the 16-byte header, then the frame.
    if (std::equal(file.begin() + long(p), file.begin() + long(p) + 4, "CORE") &&
        (file[p + 12 + 2] & 0x04)) {
      const uint8_t* frame = &file[p + 12 + 16];
      frames.push_back({frame, n - 16});
      sizes.push_back(size_t(ZSTD_getFrameContentSize(frame, n - 16)));
    }
    p += 12 + n;
  }
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ZSTD_DDict* ddict = dict.empty() ? nullptr : ZSTD_createDDict(dict.data(), dict.size());
  std::vector<uint8_t> out(1 << 24);
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < frames.size(); ++i)
      ddict ? ZSTD_decompress_usingDDict(dctx, out.data(), sizes[i], frames[i].first,
                                         frames[i].second, ddict)
            : ZSTD_decompressDCtx(dctx, out.data(), sizes[i], frames[i].first, frames[i].second);
    const double ns =
        std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, ns / double(blocks));
  }
  ZSTD_freeDDict(ddict);
  ZSTD_freeDCtx(dctx);
  return best;
}

}  // namespace

// Blocks in a file, and its payloads back to back.
std::pair<uint64_t, std::vector<uint8_t>> payloads(const std::vector<uint8_t>& file) {
  MemorySource src(file);
  Reader r(src);
  Block b;
  uint64_t n = 0;
  std::vector<uint8_t> all;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
    if (ev == ReadEvent::kBlock) ++n, all.insert(all.end(), b.data.begin(), b.data.end());
  return {n, all};
}

std::vector<uint8_t> compressed_copy(const std::vector<uint8_t>& file,
                                     const TrackCompression& how) {
  MemorySource src(file);
  Reader r(src);
  MemorySink out;
  compress_file(r, out, how);
  return out.take();
}

// One row of the table: the uncompressed file, its per-group compressions
// without and with the dictionary, and the peers and reads measured on them.
void print_row(const std::string& name, const std::string& groups, const std::vector<uint8_t>& raw,
               const std::vector<uint8_t>& plain, const std::vector<uint8_t>& packed,
               const std::vector<uint8_t>& packed_dict, const std::vector<uint8_t>& dictionary,
               uint64_t blocks) {
  const size_t whole = zstd3(plain);
  const double ns_plain = read_ns(plain), ns_dict = read_ns(packed_dict);
  const double floor = zstd_floor_ns(packed_dict, dictionary, blocks);
  std::printf(
      "| %s | %s | %zu | %zu | %zu | %zu | %zu (%.3f x) | %zu%s | %.3f | %.1f | %.1f | %.2f | "
      "%.1f | %.2f |\n",
      name.c_str(), groups.c_str(), raw.size(), plain.size(), whole, deflate6(raw), packed.size(),
      double(packed.size()) / double(plain.size()), packed_dict.size(),
      dictionary.empty() ? " (no dictionary learnt)" : "",
      double(whole) / double(packed_dict.size()), ns_plain, ns_dict, ns_dict / ns_plain, floor,
      ns_dict / (ns_plain + floor));
}

// A file as written (its own groups), compressed per group as `h4mk compress
// [--train-dictionary 4096]` does.
void file_row(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "compression_ratio: cannot open %s\n", path.c_str());
    std::exit(1);
  }
  const std::vector<uint8_t> plain((std::istreambuf_iterator<char>(in)), {});
  const auto [blocks, raw] = payloads(plain);
  const auto packed = compressed_copy(plain, {});
  MemorySource src(plain);
  Reader r(src);
  TrackCompression zd;
  zd.dictionary = train_dictionary(dictionary_samples(r, {}), 4096);
  const auto packed_dict = zd.dictionary.empty() ? packed : compressed_copy(plain, zd);
  print_row(path.substr(path.find_last_of('/') + 1), "as written", raw, plain, packed, packed_dict,
            zd.dictionary, blocks);
}

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3600;
  const size_t frames = size_t(seconds * 50);
  const auto c = codes(frames, 1);
  std::mt19937 rng(2);
  std::vector<uint8_t> noise(frames * 16);
  for (auto& b : noise) b = uint8_t(rng());
  const Data sets[] = {{"codes, u16 (16 B/frame)", 16, as_u16(c)},
                       {"codes, bit-packed (10 B/frame)", 10, bit_packed(c)},
                       {"random bytes (16 B/frame)", 16, noise}};
  if (frames)
    std::printf(
        "%.0f s of 20 ms frames; codes: 8 codebooks x 10 bits, %.2f bits of entropy per "
        "code (order 0)\n\n",
        seconds, entropy_bits(c));
  std::printf(
      "| data | groups | raw array | h4mk | zstd -3 of h4mk | deflate -6 of array "
      "| h4mk zstd | h4mk zstd + dict | dict vs whole-file | read ns/pkt plain | "
      "zstd + dict | ratio | zstd alone ns/pkt | ratio to plain + zstd alone |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Data& d : sets) {
    if (frames == 0) break;
    for (int64_t group_us : {2'000'000, 500'000}) {
      const auto plain = write(d, group_us, nullptr);
      TrackCompression z;
      const auto packed = write(d, group_us, &z);
      MemorySource src(plain);
      Reader r(src);
      TrackCompression zd;
      zd.dictionary = train_dictionary(dictionary_samples(r, {}), 4096);
      const auto packed_dict = zd.dictionary.empty() ? packed : write(d, group_us, &zd);
      char groups[16];
      std::snprintf(groups, sizeof groups, "%.1f s", double(group_us) / 1e6);
      print_row(d.name, groups, d.raw, plain, packed, packed_dict, zd.dictionary, frames);
    }
  }
  for (int i = 2; i < argc; ++i) file_row(argv[i]);
}
