// Writer memory against bytes written: writes N GiB of blocks to /dev/null
// (FileSink, like a real file but without the disk) and prints the peak RSS
// before and after, so growth can be read as bytes of RSS per GiB written.
//   writer_rss GIB BLOCK_BYTES BLOCKS_PER_SECOND
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace {

long peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace h4mk;
  if (argc != 4) {
    std::fprintf(stderr, "usage: writer_rss GIB BLOCK_BYTES BLOCKS_PER_SECOND\n");
    return 2;
  }
  const double gib = std::atof(argv[1]);
  const uint32_t block_bytes = uint32_t(std::atoi(argv[2]));
  const int rate = std::atoi(argv[3]);
  if (gib <= 0 || block_bytes == 0 || rate <= 0) return 2;
  const uint64_t blocks = uint64_t(gib * double(1ull << 30) / block_bytes);
  std::vector<uint8_t> payload(block_bytes);
  for (size_t i = 0; i < payload.size(); i++) payload[i] = uint8_t(i * 31);

  const long before = peak_rss_kib();
  const auto t0 = std::chrono::steady_clock::now();
  FileSink sink("/dev/null");
  Writer w(sink);
  Track t;
  t.id = 1;
  t.kind = TrackKind::kVideo;
  t.time_base = {1, rate};
  t.default_duration = 1;
  w.add_track(t);
  for (uint64_t i = 0; i < blocks; i++) {
    const BlockType type = i % 50 == 0 ? BlockType::kI : BlockType::kP;
    w.write_block({1, type, int64_t(i), int64_t(i), 1}, payload);
  }
  w.finish();
  sink.close();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long after = peak_rss_kib();
  std::printf(
      "{\"gib\": %.2f, \"block_bytes\": %u, \"blocks\": %llu, \"bytes_written\": %llu, "
      "\"seconds\": %.2f, \"peak_rss_kib_before\": %ld, \"peak_rss_kib_after\": %ld}\n",
      gib, block_bytes, (unsigned long long)blocks, (unsigned long long)w.bytes_written(), s,
      before, after);
  return 0;
}
