#include "bench_shapes.hpp"

#include <random>

namespace h4mk::bench {

const std::vector<uint8_t>& payload_pool() {
  static const std::vector<uint8_t> pool = [] {
    std::vector<uint8_t> p(1 << 20);
    std::mt19937 rng(7);
    for (auto& b : p) b = uint8_t(rng());
    return p;
  }();
  return pool;
}

namespace {
Shape make(const std::string& name, Rational tb, int64_t default_duration) {
  Shape s;
  s.name = name;
  s.track.id = 1;
  s.track.kind = TrackKind::kAudio;
  s.track.codec = "h4core";
  s.track.time_base = tb;
  s.track.default_duration = default_duration;
  return s;
}
void add(Shape& s, BlockInfo b, uint32_t size) {
  s.blocks.push_back(b);
  s.sizes.push_back(size);
  s.payload_bytes += size;
}
}  // namespace

Shape tokens16(double seconds) {
  Shape s = make("tokens16", {1, 1000}, 20);
  for (int64_t i = 0; i < int64_t(seconds * 50); ++i)
    add(s, {1, BlockType::kI, i * 20, i * 20, 20}, 16);
  return s;
}

Shape ipb41(double seconds) {
  Shape s = make("ipb41", {1, 1000}, 20);
  for (int64_t i = 0; i < int64_t(seconds * 50); ++i) {
    BlockType t = i % 50 == 0 ? BlockType::kI : (i % 2 ? BlockType::kP : BlockType::kB);
    add(s, {1, t, i * 20, i * 20, 20}, 41);
  }
  return s;
}

Shape ipb41_reordered(double seconds) {
  Shape s = make("ipb41_reordered", {1, 1000}, 20);
  // Decode order per pair: P(n+1) then B(n); dts runs one frame behind.
  const int64_t n = int64_t(seconds * 50);
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (i % 50 == 0) {
      add(s, {1, BlockType::kI, i * 20, (k++ - 1) * 20, 20}, 41);
      continue;
    }
    if (i % 2 == 1 && i + 1 < n && (i + 1) % 50 != 0) {
      add(s, {1, BlockType::kP, (i + 1) * 20, (k++ - 1) * 20, 20}, 41);
      add(s, {1, BlockType::kB, i * 20, (k++ - 1) * 20, 20, false, true}, 41);
      ++i;
      continue;
    }
    add(s, {1, BlockType::kP, i * 20, (k++ - 1) * 20, 20}, 41);
  }
  return s;
}

Shape video20k(double seconds) {
  Shape s = make("video20k", {1, 25}, 1);
  s.track.kind = TrackKind::kVideo;
  for (int64_t i = 0; i < int64_t(seconds * 25); ++i)
    add(s, {1, i % 25 ? BlockType::kP : BlockType::kI, i, i, 1}, 20000);
  return s;
}

std::vector<uint8_t> write(const Shape& s, const WriterOptions& o) {
  MemorySink sink;
  write_to(sink, s, o);
  return sink.take();
}

void write_to(Sink& sink, const Shape& s, const WriterOptions& o) {
  Writer w(sink, o);
  w.add_track(s.track);
  const auto& pool = payload_pool();
  size_t pos = 0;
  for (size_t i = 0; i < s.blocks.size(); ++i) {
    if (pos + s.sizes[i] > pool.size()) pos = 0;
    w.write_block(s.blocks[i], {pool.data() + pos, s.sizes[i]});
    pos += s.sizes[i];
  }
  w.finish();
}

void write_runs_to(Sink& sink, const Shape& s, size_t max_run, const WriterOptions& o) {
  Writer w(sink, o);
  w.add_track(s.track);
  const auto& pool = payload_pool();
  size_t pos = 0;
  for (size_t i = 0; i < s.blocks.size();) {
    if (pos + s.sizes[i] > pool.size()) pos = 0;
    // The blocks after i that write_run can take with it: equal but for a
    // pts one duration on, dts == pts, and their payloads next in the pool.
    const BlockInfo& a = s.blocks[i];
    size_t n = 1;
    while (i + n < s.blocks.size() && n < max_run && a.dts == a.pts) {
      const BlockInfo& b = s.blocks[i + n];
      if (b.type != a.type || b.discardable != a.discardable || b.duration != a.duration ||
          b.dts != b.pts || b.pts != a.pts + int64_t(n) * a.duration ||
          s.sizes[i + n] != s.sizes[i] || pos + (n + 1) * s.sizes[i] > pool.size())
        break;
      ++n;
    }
    w.write_run(a, uint32_t(n), {pool.data() + pos, n * s.sizes[i]});
    pos += n * s.sizes[i];
    i += n;
  }
  w.finish();
}

}  // namespace h4mk::bench
