// The hostile files of issue "hostile input", made here and run through every
// tool that reads H4MK: ffprobe, ffmpeg -f null, h4mk inspect / list --json /
// chain / verify / decode / repair, and h4mk serve's endpoints. Each run's
// wall time, peak RSS and output size is printed (the figures in the notes
// come from here); the test fails on a crash, on peak memory above 512 MB, on
// output beyond what the file can justify, or when a run needs its watchdog
// (60 s of CPU). Files are kept in the work directory for inspection.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../../libh4mk/src/block_group.hpp"
#include "../../libh4mk/src/byte_order.hpp"
#include "../../libh4mk/src/chunk.hpp"
#include "../serve_process.hpp"
#include "../test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;

fs::path dir() {
  static const fs::path d = process_work_dir(H4MK_WORK_DIR, "hostile");
  return d;
}

// The chunks of a file with `track` and no blocks, up to where blocks go.
std::vector<uint8_t> header_of(const Track& track) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(track);
  w.finish();
  auto file = sink.take();
  for (const auto& c : chunk_layout(file))
    if (c.tag == "VERI" || c.tag == "TSEK" || c.tag == "TAIL") {
      file.resize(size_t(c.offset));
      break;
    }
  return file;
}

// 30-byte CORE chunks, each declaring 65,536 empty blocks (UNIFORM +
// FIXED_SIZE of size 0): a group the format no longer allows (§5.3).
std::vector<uint8_t> empty_blocks_file(const Track& track, size_t groups) {
  auto f = header_of(track);
  for (size_t i = 0; i < groups; i++) {
    std::vector<uint8_t> g(detail::kGroupHeaderSize + 2);
    detail::store_u16(&g[0], track.id);
    g[2] = detail::kGroupUniform | detail::kGroupFixedSize;
    detail::store_u32(&g[4], 65536);
    detail::store_i64(&g[8], int64_t(i) * 65536);
    g[16] = 0;  // flags: I, default duration
    g[17] = 0;  // size 0
    append_chunk(f, "CORE", g);
  }
  return f;
}

std::vector<uint8_t> many_meta_file(size_t keys) {
  MemorySink sink;
  Writer w(sink);
  Track t = h4core_audio_track(8000, 1, "null");
  for (size_t i = 0; i < keys; i++) t.tags["t" + std::to_string(i)] = "v";
  w.add_track(t);
  for (size_t i = 0; i < keys; i++) w.set_metadata("k" + std::to_string(i), "v");
  const std::vector<uint8_t> pcm(320);
  w.write_block({1, BlockType::kI, 0, 0, 160}, pcm);
  w.finish();
  return sink.take();
}

// One-sample blocks 59 s apart: every gap under 60 s.
std::vector<uint8_t> silence_gaps_file(int blocks) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(h4core_audio_track(48000, 2, "null"));
  const std::vector<uint8_t> one(4);
  for (int64_t i = 0; i < blocks; i++)
    w.write_block({1, BlockType::kI, i * 59 * 48000, i * 59 * 48000, 1}, one);
  w.finish();
  return sink.take();
}

// One I block, then P blocks only: a decode chain as long as the file
// (past the format's bound, as a hostile writer could).
std::vector<uint8_t> long_chain_file(uint32_t p_blocks) {
  return h4mk::test::long_chain_file(h4core_audio_track(8000, 1, "null"), p_blocks,
                                     std::vector<uint8_t>(2));
}

// One-block groups, every other one with a bad CRC: a damaged spot per
// 100 bytes or so.
std::vector<uint8_t> many_damage_file(int groups) {
  MemorySink sink;
  WriterOptions o;
  o.max_group_blocks = 1;
  Writer w(sink, o);
  w.add_track(h4core_audio_track(8000, 1, "null"));
  const std::vector<uint8_t> sample(2);
  for (int64_t i = 0; i < groups; i++) w.write_block({1, BlockType::kI, i, i, 1}, sample);
  w.finish();
  auto file = sink.take();
  int core = 0;
  for (const auto& c : chunk_layout(file))
    if (c.tag == "CORE" && core++ % 2 == 0) file[size_t(c.end) - 1] ^= 0x55;
  return file;
}

struct ToolRun {
  int status = -1;      // the exit code, or the signal that ended the run
  bool killed = false;  // by a signal: a crash or the watchdog
  double seconds = 0;
  long peak_kb = 0;
  uintmax_t output = 0;
};

// Runs argv with stdout to a file (its size is the output), stderr to
// /dev/null, under a CPU watchdog and a file size cap. GNU time runs it
// and says its peak RSS: a child forked from this test would count the
// test's own memory at the fork as its peak.
ToolRun run(const std::vector<std::string>& tool_args, const fs::path& out) {
  const fs::path peak_file = out.string() + ".peak";
  std::vector<std::string> args = {"/usr/bin/time", "-f", "%M", "-o", peak_file.string()};
  args.insert(args.end(), tool_args.begin(), tool_args.end());
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    const rlimit cpu{60, 60}, fsize{uint64_t(1) << 30, uint64_t(1) << 30};
    setrlimit(RLIMIT_CPU, &cpu);
    setrlimit(RLIMIT_FSIZE, &fsize);
    FILE* o = std::fopen(out.c_str(), "w");
    FILE* e = std::fopen("/dev/null", "w");
    if (!o || !e) _exit(120);
    dup2(fileno(o), 1);
    dup2(fileno(e), 2);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ToolRun r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // time's file: "Command terminated by signal N" or "... exited with
  // non-zero status N" when so, then the peak in kB.
  std::ifstream peak(peak_file);
  for (std::string line; std::getline(peak, line);) {
    if (line.rfind("Command terminated by signal", 0) == 0) r.killed = true;
    if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0])))
      r.peak_kb = std::stol(line);
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.killed = r.killed || !WIFEXITED(status);
  r.status = r.killed && code > 128 ? code - 128 : code;
  std::error_code ec;
  r.output = fs::file_size(out, ec);
  return r;
}

constexpr long kMaxPeakKb = 512 * 1024;

TEST(HostileTools, EveryToolStaysWithinItsBounds) {
  struct File {
    std::string name;
    std::vector<uint8_t> bytes;
    uintmax_t max_output;  // what the file can justify, for any tool
  };
  Track video = h4core_audio_track(8000, 1, "null");
  video.kind = TrackKind::kVideo;
  video.codec = "h264";
  video.adapter.clear();
  video.width = 64;
  video.height = 64;
  std::vector<File> files = {
      {"empty-blocks", empty_blocks_file(h4core_audio_track(8000, 1, "null"), 44), 1 << 20},
      {"empty-blocks-h264", empty_blocks_file(video, 300), 1 << 20},
      {"resync-notes", file_with_claiming_headers(4u << 20, 10), 16 << 20},
      {"many-meta", many_meta_file(200000), 32 << 20},
      {"silence-gaps", silence_gaps_file(14), 64 << 20},
      {"long-chain", long_chain_file(200000), 128 << 20},
      {"many-damage", many_damage_file(200000), 128 << 20},
  };
  for (const auto& f : files) write_file((dir() / (f.name + ".h4mk")).string(), f.bytes);

  const std::string tool = H4MK_TOOL;
  std::printf("%-18s %-26s %8s %10s %12s %6s\n", "file (bytes)", "tool", "seconds", "peak MB",
              "output B", "exit");
  for (const auto& f : files) {
    const std::string path = (dir() / (f.name + ".h4mk")).string();
    const std::vector<std::pair<std::string, std::vector<std::string>>> tools = {
        {"ffprobe -show_packets", {H4MK_FFPROBE, "-v", "quiet", "-show_packets", path}},
        {"ffmpeg -f null",
         {H4MK_FFMPEG, "-nostdin", "-v", "quiet", "-i", path, "-map", "0", "-c", "copy", "-f",
          "null", "-"}},
        {"ffmpeg decode -f null",
         {H4MK_FFMPEG, "-nostdin", "-v", "quiet", "-i", path, "-f", "null", "-"}},
        {"h4mk inspect", {tool, "inspect", path}},
        {"h4mk inspect --json", {tool, "inspect", "--json", path}},
        {"h4mk list --json", {tool, "list", "--json", path}},
        {"h4mk list --packets --damaged", {tool, "list", "--packets", "--damaged", "--json", path}},
        {"h4mk chain", {tool, "chain", path, "--track", "1", "--t", "999999999"}},
        {"h4mk verify", {tool, "verify", path}},
        {"h4mk decode", {tool, "decode", path, "--track", "1", "-o", "-"}},
        {"h4mk repair", {tool, "repair", path, "-o", "-"}},
    };
    for (const auto& [name, args] : tools) {
      ToolRun r = run(args, dir() / "out");
      std::printf("%-18s %-26s %8.2f %10.1f %12ju %6d\n",
                  (f.name + " (" + std::to_string(f.bytes.size()) + ")").c_str(), name.c_str(),
                  r.seconds, double(r.peak_kb) / 1024, r.output, r.killed ? -r.status : r.status);
      EXPECT_FALSE(r.killed) << f.name << ", " << name << ": signal " << r.status;
      EXPECT_LE(r.peak_kb, kMaxPeakKb) << f.name << ", " << name;
      EXPECT_LE(r.output, f.max_output) << f.name << ", " << name;
    }
  }

  // The server, on the same files: every endpoint answers, within bounds.
  ServeProcess srv(H4MK_TOOL, dir().string(), {});
  ASSERT_GT(srv.port(), 0);
  httplib::Client c("127.0.0.1", srv.port());
  c.set_read_timeout(60);
  for (const auto& f : files)
    for (const std::string q : {"/manifest", "/chain?track=1&t=999999999", "/seek?track=1&t=0",
                                "/stream?track=1", "/block?track=1&index=0"}) {
      const auto start = std::chrono::steady_clock::now();
      auto res = c.Get("/v1/files/" + f.name + ".h4mk" + q);
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      ASSERT_TRUE(res) << f.name << q;
      std::printf("%-18s serve %-20s %8.2f %10s %12zu %6d\n", f.name.c_str(), q.c_str(), s, "",
                  res->body.size(), res->status);
      EXPECT_LE(res->body.size(), f.max_output) << f.name << q;
    }
  std::ifstream status("/proc/" + std::to_string(srv.pid()) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) {
      std::printf("h4mk serve peak: %s\n", line.c_str() + 6);
      EXPECT_LE(std::stol(line.substr(6)), kMaxPeakKb) << line;
    }
}

}  // namespace
}  // namespace h4mk::test
