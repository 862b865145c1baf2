// libh4mk throughput and per-block overhead, with the peers the targets are
// stated against (OpenSSL SHA-256, a plain read of the same file) measured in
// the same run. bench/run_bench.sh turns the JSON output into ratios.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <string_view>

#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/hash_chain.hpp"
#include "bench_shapes.hpp"
#include "h4mk/packet_reader.hpp"

namespace h4mk::bench {
namespace {

constexpr double kSeconds = 3600;  // one hour of each shape

const Shape& shape(int id) {
  static const Shape shapes[] = {tokens16(kSeconds), ipb41(kSeconds), ipb41_reordered(kSeconds),
                                 video20k(120)};
  return shapes[id];
}

void set_label(benchmark::State& state, const Shape& s) { state.SetLabel(s.name); }

// Writing one hour to memory. bytes/s counts file bytes produced.
void BM_Write(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  WriterOptions o;
  o.write_veri = state.range(1) != 0;
  o.veri_thread = state.range(1) == 2;
  ReusableSink sink;
  write_to(sink, s, o);
  const std::vector<uint8_t>& file = sink.bytes;
  for (auto _ : state) {
    sink.bytes.clear();
    write_to(sink, s, o);
    benchmark::DoNotOptimize(sink.bytes.data());
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * file.size()));
  state.counters["overhead_B_per_block"] =
      double(file.size() - s.payload_bytes) / double(s.blocks.size());
  state.counters["ns_per_block"] =
      benchmark::Counter(double(s.blocks.size()) * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_Write)->ArgsProduct({{0, 1, 2, 3}, {0, 1}})->Unit(benchmark::kMillisecond);
// With VERI on a second thread the caller's CPU time leaves the hashing out:
// throughput is wall-clock time (the names get "/real_time").
BENCHMARK(BM_Write)->ArgsProduct({{0, 1, 2, 3}, {2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The same through Writer::write_run, runs of up to 50 blocks (a second of
// tokens16 or ipb41, as a model emits them); only tokens16 has such runs
// (ipb41's types alternate, video20k's sizes vary). The file is checked to be
// byte for byte BM_Write's.
void BM_WriteRun(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  WriterOptions o;
  o.write_veri = state.range(1) != 0;
  o.veri_thread = state.range(1) == 2;
  ReusableSink sink, per_block;
  write_runs_to(sink, s, 50, o);
  write_to(per_block, s, o);
  if (sink.bytes != per_block.bytes) state.SkipWithError("write_run made another file");
  const size_t size = sink.bytes.size();
  for (auto _ : state) {
    sink.bytes.clear();
    write_runs_to(sink, s, 50, o);
    benchmark::DoNotOptimize(sink.bytes.data());
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * size));
  state.counters["ns_per_block"] =
      benchmark::Counter(double(s.blocks.size()) * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_WriteRun)->ArgsProduct({{0, 1, 3}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_WriteRun)->ArgsProduct({{0, 1, 3}, {2}})->Unit(benchmark::kMillisecond)->UseRealTime();

// Reading every block back (CRCs checked, groups decoded, zero-copy views).
void BM_ReadIterate(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto file = write(s);
  for (auto _ : state) {
    MemorySource src(file);
    Reader r(src);
    Block b;
    uint64_t n = 0;
    while (r.next(b) == ReadEvent::kBlock) n += b.data.size();
    benchmark::DoNotOptimize(n);
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * file.size()));
  state.counters["ns_per_block"] =
      benchmark::Counter(double(s.blocks.size()) * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ReadIterate)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

std::string temp_file(const std::vector<uint8_t>& bytes, const std::string& name) {
  std::string path = "/tmp/h4mk_bench_" + name + ".h4mk";
  FileSink sink(path);
  sink.write(bytes);
  sink.close();
  return path;
}

// The peer for verify: reading the same (cached) file with stdio, 1 MiB at a time.
void BM_PlainRead(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto path = temp_file(write(s), s.name);
  std::vector<uint8_t> buf(1 << 20);
  uint64_t total = 0;
  for (auto _ : state) {
    FILE* f = std::fopen(path.c_str(), "rb");
    total = 0;
    for (size_t n; (n = std::fread(buf.data(), 1, buf.size(), f)) > 0;) total += n;
    std::fclose(f);
    benchmark::DoNotOptimize(buf.data());
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * total));
}
BENCHMARK(BM_PlainRead)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// What verify CRC-only could reach at best, reading the same way: read(2)
// into a 256 KiB window (verify's read-ahead) and libh4mk's CRC-32 over
// every byte once. Against BM_PlainRead: copy / (copy + CRC).
void BM_ReadCrcBound(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto path = temp_file(write(s), s.name);
  std::vector<uint8_t> buf(256 << 10);
  uint64_t total = 0;
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    uint32_t crc = 0;
    total = 0;
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0; total += uint64_t(n))
      crc = detail::crc32(crc, buf.data(), size_t(n));
    ::close(fd);
    benchmark::DoNotOptimize(crc);
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * total));
}
BENCHMARK(BM_ReadCrcBound)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// The same with the file mapped instead of read (no copy): the one way past
// that bound, not taken (a file truncated under a mapping kills the reader
// with SIGBUS, and page faults cost more than the copy on some VMs).
void BM_MappedCrc(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto bytes = write(s);
  const auto path = temp_file(bytes, s.name);
  for (auto _ : state) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    void* map = ::mmap(nullptr, bytes.size(), PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      ::close(fd);
      break;
    }
    benchmark::DoNotOptimize(detail::crc32(0, map, bytes.size()));
    ::munmap(map, bytes.size());
    ::close(fd);
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * bytes.size()));
}
BENCHMARK(BM_MappedCrc)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// Full verify of the same file: CRC-only (range(1) == 0) or with the VERI
// chain, hashed in place (1) or, for files with a record per block, on a
// second thread when the process may use two CPUs (2; wall-clock time, the
// names get "/real_time").
void BM_Verify(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto bytes = write(s);
  const auto path = temp_file(bytes, s.name);
  VerifyOptions o;
  o.check_veri = state.range(1) != 0;
  o.veri_thread = state.range(1) == 2;
  for (auto _ : state) {
    FileSource src(path);
    VerifyReport r = verify(src, o);
    if (!r.ok()) state.SkipWithError(r.problems[0].message.c_str());
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * bytes.size()));
}
BENCHMARK(BM_Verify)->ArgsProduct({{0, 1, 2, 3}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Verify)
    ->ArgsProduct({{0, 1, 2, 3}, {2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// What VERI itself costs against SHA-256 of the same bytes, the ceiling of
// the "with VERI >= 0.85 x SHA-256" targets. Each chunk's link of the chain is
// SHA-256(previous hash || header || payload): the chunk and 32 bytes more,
// its own padding block and an EVP init and final, which small chunks feel
// most. range(1) == 0: the chain alone over the file in memory, the
// hashing every writer of this file does (write+VERI / SHA-256 <= SHA-256 /
// this). range(1) == 1: what verify with VERI cannot do without, as
// BM_ReadCrcBound for CRC-only: read(2) into verify's 256 KiB window, one
// CRC-32 per chunk payload and the chain (the container CRC left out).
void BM_VeriBound(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const bool verifying = state.range(1) != 0;
  const auto file = write(s);
  const auto path = temp_file(file, s.name);
  std::vector<uint8_t> window(256 << 10);
  detail::HashChain chain;
  bool veri_matches = false;  // the chain reached the hash the file's VERI holds
  // Hashes and CRCs the whole chunks in bytes[0, n); returns where the first
  // chunk not wholly inside starts.
  auto chunks = [&](const uint8_t* p, size_t n, uint32_t& crc) {
    size_t at = 0;
    while (n - at >= detail::kChunkHeaderSize) {
      const detail::ChunkHeader h = detail::parse_chunk_header(p + at);
      if (n - at - detail::kChunkHeaderSize < h.size) break;
      const uint8_t* payload = p + at + detail::kChunkHeaderSize;
      if (verifying) crc ^= detail::crc32(0, payload, h.size);
      if (h.tag == detail::kTagVeri)
        veri_matches =
            std::string_view(reinterpret_cast<const char*>(payload), h.size).find(chain.hex()) !=
            std::string_view::npos;
      else if (h.tag != detail::kTagHint)
        chain.add_chunk({p + at, detail::kChunkHeaderSize}, {payload, h.size});
      at += detail::kChunkHeaderSize + h.size;
    }
    return at;
  };
  const size_t body = file.size() - 4;  // the container CRC follows the last chunk
  for (auto _ : state) {
    uint32_t crc = 0;
    veri_matches = false;
    chain.start({file.data(), detail::kFileHeaderSize});
    if (!verifying) {
      chunks(file.data() + detail::kFileHeaderSize, body - detail::kFileHeaderSize, crc);
    } else {
      const int fd = ::open(path.c_str(), O_RDONLY);
      size_t have = 0, skip = detail::kFileHeaderSize, total = 0;
      for (ssize_t n; (n = ::read(fd, window.data() + have, window.size() - have)) > 0;) {
        have += size_t(n);
        total += size_t(n);
        const size_t end = have - (total > body ? total - body : 0);
        const size_t done = skip + chunks(window.data() + skip, end - skip, crc);
        std::memmove(window.data(), window.data() + done, have - done);
        have -= done;
        skip = 0;
        if (have == window.size()) window.resize(2 * window.size());  // a chunk larger than it
      }
      ::close(fd);
    }
    benchmark::DoNotOptimize(crc);
    if (!veri_matches) {
      state.SkipWithError("the chain did not reach the file's VERI hash");
      break;
    }
  }
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * file.size()));
}
BENCHMARK(BM_VeriBound)->ArgsProduct({{0, 1, 2, 3}, {0, 1}})->Unit(benchmark::kMillisecond);

// The peer for "write with VERI": OpenSSL SHA-256 over the same number of bytes.
void BM_Sha256(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto file = write(s);
  unsigned char md[32];
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (auto _ : state) {
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx, file.data(), file.size());
    EVP_DigestFinal_ex(ctx, md, nullptr);
    benchmark::DoNotOptimize(md);
  }
  EVP_MD_CTX_free(ctx);
  set_label(state, s);
  state.SetBytesProcessed(int64_t(state.iterations() * file.size()));
}
BENCHMARK(BM_Sha256)->DenseRange(0, 3)->Unit(benchmark::kMillisecond);

// Random seeks in one hour of 16-byte tokens: through the index, and by
// bisection on the same file cut before its index.
void BM_Seek(benchmark::State& state) {
  const Shape& s = shape(0);
  auto file = write(s);
  const bool indexed = state.range(0) != 0;
  if (!indexed) file.resize(file.size() - 40);
  MemorySource src(file);
  Reader r(src);
  std::mt19937 rng(1);
  const int64_t end = int64_t(kSeconds * 1000);
  uint64_t opened = r.bytes_read();
  for (auto _ : state) {
    SeekPoint p = r.seek(1, int64_t(rng() % uint64_t(end)));
    benchmark::DoNotOptimize(p);
  }
  state.SetLabel(indexed ? "index" : "bisection (no index)");
  state.counters["open_bytes"] = double(opened);
}
BENCHMARK(BM_Seek)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

// 2 min of audio (1,024-sample blocks at 48 kHz) and video (25 fps, an I
// block a second) written with the writer's defaults (groups of 0.5 s per
// track), the shape of bench/ffmpeg/compare.sh STREAM=av.
constexpr int64_t kTwoTrackMs = 120'000;

const std::vector<uint8_t>& two_tracks() {
  static const std::vector<uint8_t> file = [] {
    MemorySink sink;
    Writer w(sink);
    Track audio, video;
    audio.id = 1;
    audio.kind = TrackKind::kAudio;
    audio.codec = "aac";
    audio.time_base = {1, 48000};
    video.id = 2;
    video.kind = TrackKind::kVideo;
    video.codec = "mpeg4";
    video.time_base = {1, 25};
    w.add_track(audio);
    w.add_track(video);
    const std::vector<uint8_t> a(180, 1), v(800, 2), key(6000, 3);
    int64_t next_audio = 0;
    for (int64_t f = 0; f < kTwoTrackMs / 40; ++f) {
      for (; next_audio * 1024 * 1000 < f * 40 * 48000; ++next_audio)
        w.write_block(
            {.track_id = 1, .pts = next_audio * 1024, .dts = next_audio * 1024, .duration = 1024},
            a);
      const bool is_key = f % 25 == 0;
      w.write_block({.track_id = 2,
                     .type = is_key ? BlockType::kI : BlockType::kP,
                     .pts = f,
                     .dts = f,
                     .duration = 1},
                    is_key ? key : v);
    }
    w.finish();
    return sink.bytes();
  }();
  return file;
}

// Reading every block of the two-track file from memory: in file order with
// Reader::next (range(0) == 0), the peer, and in dts order across the tracks
// with PacketReader (1). Their difference is what the merge costs a block.
void BM_ReadTwoTracks(benchmark::State& state) {
  const auto& file = two_tracks();
  uint64_t blocks = 0;
  for (auto _ : state) {
    MemorySource src(file);
    Reader r(src);
    Block b;
    blocks = 0;
    if (state.range(0) == 0) {
      while (r.next(b) == ReadEvent::kBlock) ++blocks;
    } else {
      PacketReader packets(r);
      while (packets.next(b) == ReadEvent::kBlock) ++blocks;
    }
    benchmark::DoNotOptimize(b);
  }
  state.SetLabel(state.range(0) ? "PacketReader" : "Reader");
  state.counters["ns_per_block"] =
      benchmark::Counter(double(blocks) * double(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ReadTwoTracks)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// Random seeks in the two-track file: Reader::seek_all alone (range(0) ==
// 0), and PacketReader::seek up to the first video block in dts order (1),
// what a player's seek costs in libh4mk (bench/ffmpeg/compare.sh STREAM=av
// times it through FFmpeg).
void BM_SeekTwoTracks(benchmark::State& state) {
  MemorySource src(two_tracks());
  Reader r(src);
  PacketReader packets(r);
  std::mt19937 rng(1);
  const uint64_t opened = r.bytes_read();
  for (auto _ : state) {
    const int64_t t = 1 + int64_t(rng() % uint64_t(kTwoTrackMs / 40 - 1));
    if (state.range(0) == 0) {
      benchmark::DoNotOptimize(r.seek_all(2, t));
      continue;
    }
    packets.seek(2, t);
    Block b;
    while (packets.next(b) == ReadEvent::kBlock && b.info.track_id != 2) {
    }
    benchmark::DoNotOptimize(b);
  }
  state.SetLabel(state.range(0) ? "to the first video packet" : "seek_all");
  state.counters["bytes_per_seek"] =
      benchmark::Counter(double(r.bytes_read() - opened), benchmark::Counter::kAvgIterations);
}
BENCHMARK(BM_SeekTwoTracks)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

// Decode chains (docs/FORMAT.md, "Decode chain") at random times in one hour
// of I/P/B blocks (an I block every second), range(1) == 1, beside a plain
// seek to the same times in the same file (range(1) == 0): the chain costs the
// seek plus reading forward to t and copying the payloads it needs.
void BM_DecodeChain(benchmark::State& state) {
  const Shape& s = shape(int(state.range(0)));
  const auto file = write(s);
  const bool chain = state.range(1) != 0;
  MemorySource src(file);
  Reader r(src);
  std::mt19937 rng(1);
  const int64_t end = int64_t(kSeconds * 1000);
  uint64_t links = 0;
  for (auto _ : state) {
    const int64_t t = int64_t(rng() % uint64_t(end));
    if (chain) {
      auto c = r.decode_chain(1, t);
      links += c.size();
      benchmark::DoNotOptimize(c.data());
    } else {
      SeekPoint p = r.seek(1, t);
      benchmark::DoNotOptimize(p);
    }
  }
  set_label(state, s);
  if (chain) state.counters["links"] = double(links) / double(state.iterations());
}
BENCHMARK(BM_DecodeChain)->ArgsProduct({{1, 2}, {1, 0}})->Unit(benchmark::kMicrosecond);

// How seeking and opening grow with length: 1 min, 1 h and 10 h of tokens16,
// through the index (range(1) == 1) and by bisection. open_bytes: read to
// open; first_seek_bytes: read by the first seek (the index, loaded then).
void BM_SeekGrowth(benchmark::State& state) {
  static std::map<int64_t, std::vector<uint8_t>> files;
  const int64_t seconds = state.range(0);
  auto& file = files[seconds];
  if (file.empty()) file = write(tokens16(double(seconds)));
  std::vector<uint8_t> bytes = file;
  const bool indexed = state.range(1) != 0;
  if (!indexed) bytes.resize(bytes.size() - 40);
  MemorySource src(bytes);
  Reader r(src);
  const uint64_t opened = r.bytes_read();
  std::mt19937 rng(1);
  const int64_t end = seconds * 1000;
  r.seek(1, end / 2);
  const uint64_t first_seek = r.bytes_read() - opened;
  for (auto _ : state) {
    SeekPoint p = r.seek(1, int64_t(rng() % uint64_t(end)));
    benchmark::DoNotOptimize(p);
  }
  state.SetLabel(indexed ? "index" : "bisection");
  state.counters["open_bytes"] = double(opened);
  state.counters["first_seek_bytes"] = double(first_seek);
  state.counters["file_MB"] = double(bytes.size()) / 1e6;
}
BENCHMARK(BM_SeekGrowth)->ArgsProduct({{60, 3600, 36000}, {1, 0}})->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace h4mk::bench

BENCHMARK_MAIN();
