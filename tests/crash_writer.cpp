// A writer process for the crash-safety test: writes the crash stream to OUT,
// flushes every 10 blocks and prints "flushed N" once those N blocks are in
// the file (the kernel has them: SIGKILL cannot lose them).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "crash_stream.hpp"

int main(int argc, char** argv) {
  using namespace h4mk;
  if (argc < 3) return 2;
  const long blocks = std::atol(argv[2]);
  FileSink sink(argv[1]);
  Writer w(sink);
  w.add_track(test::crash_track());
  for (long i = 0; i < blocks; ++i) {
    w.write_block(test::crash_block_info(i), test::crash_block_data(i));
    if ((i + 1) % 10 == 0) {
      w.flush();
      std::printf("flushed %ld\n", i + 1);
      std::fflush(stdout);
      usleep(300);
    }
  }
  w.finish();
  sink.close();
  std::printf("finished\n");
  return 0;
}
