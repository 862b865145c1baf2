// Crash safety: a writer process killed with SIGKILL at random moments loses
// nothing it had flushed, the reader returns an exact prefix of the stream,
// and `h4mk repair` turns the remains into a complete, indexed file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "crash_stream.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;

struct Killed {
  long flushed = 0;  // blocks the writer reported as flushed before the kill
  bool finished = false;
};

// Starts the writer, waits until it has reported `after_flushes` flushes (so
// the kill point follows its progress, not the machine's speed), waits
// `extra_us` more, and kills it with SIGKILL.
Killed run_and_kill(const std::string& out, int after_flushes, int extra_us) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(H4MK_CRASH_WRITER, "crash_writer", out.c_str(), "2000", nullptr);
    _exit(127);
  }
  close(fds[1]);
  FILE* in = fdopen(fds[0], "r");
  Killed k;
  char line[128];
  auto take = [&](const char* l) {
    if (std::strncmp(l, "flushed ", 8) == 0) k.flushed = std::atol(l + 8);
    if (std::strncmp(l, "finished", 8) == 0) k.finished = true;
  };
  for (int seen = 0; seen < after_flushes && std::fgets(line, sizeof line, in); ++seen) take(line);
  std::this_thread::sleep_for(std::chrono::microseconds(extra_us));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  while (std::fgets(line, sizeof line, in)) take(line);
  std::fclose(in);
  return k;
}

TEST(CrashSafety, SigkillAtRandomMomentsLosesNothingFlushed) {
  const fs::path dir = fs::path(H4MK_WORK_DIR) / ("crash-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::mt19937 rng(2026);
  int runs = 0, with_data = 0;
  for (int i = 0; i < 40; ++i, ++runs) {
    const std::string out = (dir / ("w" + std::to_string(i) + ".h4mk")).string();
    Killed k = run_and_kill(out, int(rng() % 200), int(rng() % 500));
    if (!fs::exists(out)) {  // killed before it created the file
      EXPECT_EQ(k.flushed, 0);
      continue;
    }
    auto bytes = read_file(out);
    std::vector<TestBlock> got;
    try {
      got = read_all(bytes).blocks;
    } catch (const Error& e) {
      // Killed before the header chunks were complete: nothing was flushed.
      EXPECT_EQ(k.flushed, 0) << e.what();
      continue;
    }
    ASSERT_GE(long(got.size()), k.flushed) << "run " << i << ": flushed blocks lost";
    for (size_t b = 0; b < got.size(); ++b) {
      ASSERT_EQ(got[b].info, crash_block_info(int64_t(b))) << "run " << i << " block " << b;
      ASSERT_EQ(got[b].data, crash_block_data(int64_t(b))) << "run " << i << " block " << b;
    }
    if (!got.empty()) ++with_data;
    // h4mk repair restores a complete, indexed file with the same blocks.
    const std::string fixed = out + ".fixed";
    std::string cmd = std::string(H4MK_TOOL) + " repair -q " + out + " -o " + fixed;
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto repaired = read_file(fixed);
    MemorySource src(repaired);
    VerifyReport v = verify(src);
    EXPECT_TRUE(v.ok() && v.complete) << "run " << i;
    EXPECT_TRUE(read_all(repaired).blocks == got) << "run " << i;
  }
  EXPECT_EQ(runs, 40);
  EXPECT_GT(with_data, 30);  // almost every kill lands mid-stream, after data was written
  fs::remove_all(dir);
}

}  // namespace
}  // namespace h4mk::test
