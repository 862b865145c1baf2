// Crash safety: a writer process killed with SIGKILL at random moments loses
// nothing it had flushed, the reader returns an exact prefix of the stream,
// and `h4mk repair` turns the remains into a complete, indexed file.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
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

Killed run_and_kill(const std::string& out, int kill_after_us) {
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
  std::this_thread::sleep_for(std::chrono::microseconds(kill_after_us));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  Killed k;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, size_t(n));
  close(fds[0]);
  for (size_t pos = 0; (pos = text.find("flushed ", pos)) != std::string::npos; pos += 8)
    k.flushed = std::stol(text.substr(pos + 8));
  k.finished = text.find("finished") != std::string::npos;
  return k;
}

TEST(CrashSafety, SigkillAtRandomMomentsLosesNothingFlushed) {
  const fs::path dir = fs::path(H4MK_WORK_DIR) / ("crash-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::mt19937 rng(2026);
  int runs = 0, with_data = 0;
  for (int i = 0; i < 40; ++i, ++runs) {
    const std::string out = (dir / ("w" + std::to_string(i) + ".h4mk")).string();
    Killed k = run_and_kill(out, int(rng() % 60000));
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
  EXPECT_GT(with_data, 20);  // most kills land mid-stream, after data was written
  fs::remove_all(dir);
}

}  // namespace
}  // namespace h4mk::test
