// The C++ side of bench/python/bench.py: the same files written and read
// through libh4mk's C++ API, so the Python figures are ratios measured in the
// same run. Prints one JSON object: ns per block for each case.
//   cpp_peer BLOCKS SIZE GOP
// SIZE-byte payloads; GOP 1: every block I (tokens); otherwise I then P/B
// in decode order I0 P3 B1 B2 ... with B blocks dts-shifted like the Python side.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "h4mk/h4mk.hpp"

using namespace h4mk;
using Clock = std::chrono::steady_clock;

namespace {

struct Spec {
  BlockType type;
  int64_t pts, dts;
};

std::vector<Spec> layout(size_t n, int gop) {
  std::vector<Spec> out;
  for (size_t i = 0; out.size() < n; i += 3) {
    if (gop == 1) {
      out.push_back({BlockType::kI, int64_t(out.size()), int64_t(out.size())});
      continue;
    }
    // I0, then anchors every 3 with the two B blocks before them.
    const int64_t base = int64_t(i);
    if (base % gop == 0) {
      out.push_back({BlockType::kI, base, base - 2});
      i -= 2;
      continue;
    }
    out.push_back({BlockType::kP, base, base - 2});
    for (int64_t b = base - 2; b < base && out.size() < n; ++b)
      out.push_back({BlockType::kB, b, b});
  }
  return out;
}

double ns_per(Clock::time_point t0, size_t n) {
  return double(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count()) /
         double(n);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: cpp_peer BLOCKS SIZE GOP\n");
    return 2;
  }
  const size_t n = std::strtoull(argv[1], nullptr, 10), size = std::strtoull(argv[2], nullptr, 10);
  const int gop = std::atoi(argv[3]);
  const std::vector<Spec> specs = layout(n, gop);
  std::vector<uint8_t> payload(n * size);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i * 131);

  double write_ns = 1e30, read_ns = 1e30, bulk_ns = 1e30;
  std::vector<uint8_t> file;
  for (int round = 0; round < 7; ++round) {
    MemorySink sink;
    auto t0 = Clock::now();
    {
      WriterOptions options;
      options.veri_thread = false;  // as the Python writer: the hash chain inline
      Writer w(sink, options);
      Track t;
      t.id = 1;
      t.kind = TrackKind::kAudio;
      t.time_base = {1, 50};
      w.add_track(t);
      for (size_t i = 0; i < n; ++i)
        w.write_block({1, specs[i].type, specs[i].pts, specs[i].dts, 1},
                      {payload.data() + i * size, size});
      w.finish();
    }
    write_ns = std::min(write_ns, ns_per(t0, n));
    file = sink.take();

    // Read: every block's timing and payload, as Python's iteration gets them.
    t0 = Clock::now();
    {
      MemorySource src(file);
      Reader r(src);
      Block b;
      uint64_t sum = 0;
      while (r.next(b) == ReadEvent::kBlock) sum += uint64_t(b.info.pts) + b.data.size();
      if (sum == 42) std::puts("");
    }
    read_ns = std::min(read_ns, ns_per(t0, n));

    // Bulk: the arrays read_track builds (timing, types, flags, offsets) and
    // one payload buffer.
    t0 = Clock::now();
    {
      MemorySource src(file);
      Reader r(src);
      std::vector<int64_t> pts, dts, duration;
      std::vector<uint8_t> types, flags, out;
      std::vector<uint64_t> offsets{0};
      // Sized at once: the C++ best case (page faults of growing buffers
      // were most of this loop's time on this VM).
      pts.reserve(n);
      dts.reserve(n);
      duration.reserve(n);
      types.reserve(n);
      flags.reserve(n);
      out.reserve(n * size);
      offsets.reserve(n + 1);
      Block b;
      while (r.next(b) == ReadEvent::kBlock) {
        pts.push_back(b.info.pts);
        dts.push_back(b.info.dts);
        duration.push_back(b.info.duration);
        types.push_back(uint8_t(b.info.type));
        flags.push_back(
            uint8_t((b.info.masked ? 1 : 0) | (b.info.discardable ? 2 : 0) | (b.damaged ? 4 : 0)));
        out.insert(out.end(), b.data.begin(), b.data.end());
        offsets.push_back(out.size());
      }
    }
    bulk_ns = std::min(bulk_ns, ns_per(t0, n));
  }
  std::printf("{\"write\": %.1f, \"read\": %.1f, \"read_track\": %.1f, \"bytes\": %zu}\n", write_ns,
              read_ns, bulk_ns, file.size());
}
