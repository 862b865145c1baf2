// The h4mk command line as a real process: output (JSON parsed), exit codes,
// and behaviour on cut and damaged files.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "misbehaving_http_server.hpp"
#include "nginx_server.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kTool = H4MK_TOOL;

fs::path dir() {
  static const fs::path d = process_work_dir(H4MK_WORK_DIR, "cli");
  return d;
}

std::string path(const std::string& name) { return (dir() / name).string(); }

struct Result {
  int status;
  std::string out;
  std::string err;
  json j() const { return json::parse(out, nullptr, false); }
};

// Runs a shell command line in the work directory.
Result shell(const std::string& cmd) {
  static int n = 0;
  const std::string err = path("stderr." + std::to_string(n++));
  FILE* p = popen(("cd '" + dir().string() + "' && " + cmd + " 2>'" + err + "'").c_str(), "r");
  std::string out;
  char buf[65536];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  int status = pclose(p);
  std::ifstream e(err);
  std::stringstream ss;
  ss << e.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, ss.str()};
}

Result h4mk(const std::string& args) { return shell(kTool + " " + args); }

void make_demo() {
  static bool done = false;
  if (done) return;
  Result r = h4mk("build --demo -o demo.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  done = true;
}

std::vector<uint8_t> bytes(const std::string& name) { return read_file(path(name)); }

TEST(Cli, InspectJson) {
  make_demo();
  Result r = h4mk("inspect --json demo.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = r.j();
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["format_version"], "1.0");
  EXPECT_EQ(j["complete"], true);
  ASSERT_EQ(j["tracks"].size(), 2u);
  EXPECT_EQ(j["tracks"][0]["summary"]["block_count"], 500);
  EXPECT_EQ(j["tracks"][1]["summary"]["block_count"], 300);
  EXPECT_EQ(j["tracks"][1]["time_base"], json::array({1, 30}));
  EXPECT_EQ(j["metadata"]["title"], "h4mk demo");
  EXPECT_EQ(j["safe"]["policy"], "transport_only");
  EXPECT_EQ(j["veri"]["algorithm"], "sha256-chain-v1");
  EXPECT_TRUE(j["damage"].empty());
  // The alias, and standard input.
  EXPECT_EQ(h4mk("manifest --json demo.h4mk").j(), j);
  Result piped = h4mk("inspect --json - < demo.h4mk");  // a regular file on stdin: seekable
  json redirected = piped.j();
  redirected["file"] = j["file"];
  EXPECT_EQ(redirected, j);
  piped = h4mk("inspect --json - < /dev/null");
  EXPECT_EQ(piped.status, 3);
  piped = shell("cat demo.h4mk | " + kTool + " inspect --json -");  // a real pipe
  EXPECT_EQ(piped.status, 0) << piped.err;
  ASSERT_EQ(piped.j()["tracks"].size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(piped.j()["tracks"][i]["codec"], j["tracks"][i]["codec"]);
    // A pipe has no end to read; the summaries come from the HINT.
    EXPECT_EQ(piped.j()["tracks"][i]["summary"]["block_count"],
              j["tracks"][i]["summary"]["block_count"]);
    // Whether the index has entries is not known: it is at the end.
    EXPECT_EQ(piped.j()["tracks"][i]["summary"]["index_entries"], nullptr);
  }
  EXPECT_EQ(piped.j()["complete"], nullptr);
  EXPECT_NE(shell("cat demo.h4mk | " + kTool + " inspect -").out.find("read as a stream"),
            std::string::npos);
  // Text output names the tracks.
  Result text = h4mk("inspect demo.h4mk");
  EXPECT_NE(text.out.find("track 2: video h4core"), std::string::npos) << text.out;
  EXPECT_EQ(r.j()["chapters"], json::array());
  // Chapters (the `chapters` test vector): times in seconds and titles, and
  // every field in the JSON manifest.
  const std::string vec = std::string(H4MK_VECTORS_DIR) + "/chapters.h4mk";
  Result chap = h4mk("inspect " + vec);
  EXPECT_NE(chap.out.find("chapter 1: 0.000..0.040 s, \"First\""), std::string::npos) << chap.out;
  EXPECT_NE(chap.out.find("chapter 2: 0.040 s, \"Second\""), std::string::npos) << chap.out;
  const json c = h4mk("inspect --json " + vec).j()["chapters"];
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0]["id"], 5);
  EXPECT_EQ(c[0]["tags"]["language"], "eng");
  EXPECT_EQ(c[1]["time_base"], json::array({1, 48000}));
  EXPECT_EQ(c[1]["end"], nullptr);
}

TEST(Cli, ListFiltersAndGopFlags) {
  make_demo();
  Result all = h4mk("list --json demo.h4mk");
  ASSERT_EQ(all.status, 0) << all.err;
  EXPECT_EQ(all.j()["blocks"].size(), 800u);
  Result some = h4mk("list --json demo.h4mk --track 2 --from 3s --to 3.2s");
  ASSERT_EQ(some.status, 0) << some.err;
  json b = some.j()["blocks"];
  ASSERT_EQ(b.size(), 6u);
  std::vector<int64_t> pts;
  for (const auto& x : b) pts.push_back(x["pts"]);
  EXPECT_EQ(pts, (std::vector<int64_t>{90, 92, 91, 94, 93, 95}));
  EXPECT_EQ(b[0]["type"], "I");
  EXPECT_EQ(b[0]["gop_flags"], 3000);                // I at 3000 ms
  EXPECT_EQ(b[1]["gop_flags"], (1u << 28) | 3067u);  // P at 3066.67 ms, rounded
  EXPECT_EQ(b[2]["dts"], 91);
  EXPECT_EQ(h4mk("list --json demo.h4mk --track 9").status, 4);
}

TEST(Cli, ChainAndSeek) {
  make_demo();
  for (const char* t : {"101", "3.366667s"}) {
    Result r = h4mk(std::string("chain --json demo.h4mk --track 2 --t ") + t);
    ASSERT_EQ(r.status, 0) << r.err;
    std::string chain;
    const json j = r.j();
    for (const auto& l : j["chain"])
      chain += l["type"].get<std::string>() + std::to_string(l["pts"].get<int>()) + " ";
    EXPECT_EQ(chain, "I96 P98 P100 P101 ") << t;
  }
  Result s = h4mk("seek --json demo.h4mk --track 1 --t 2510ms");
  ASSERT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(s.j()["pts"], 2500);
  EXPECT_EQ(s.j()["via"], "index");
  // A cut file seeks by bisection to the same block.
  auto whole = bytes("demo.h4mk");
  write_file(path("cut.h4mk"), std::span<const uint8_t>(whole.data(), whole.size() * 7 / 10));
  Result c = h4mk("seek --json cut.h4mk --track 1 --t 2510ms");
  ASSERT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.j()["pts"], 2500);
  EXPECT_EQ(c.j()["via"], "bisection");
  EXPECT_EQ(c.j()["chunk_offset"], s.j()["chunk_offset"]);
  // Before the first I block: not found.
  EXPECT_EQ(h4mk("seek demo.h4mk --track 1 --t -5").status, 4);
  EXPECT_EQ(h4mk("seek demo.h4mk --track 1 --t soon").status, 2);
}

TEST(Cli, BlockExtractsPayloadByIndexAndOffset) {
  make_demo();
  auto file = bytes("demo.h4mk");
  MemorySource src(file);
  Reader r(src);
  Block b;
  std::vector<TestBlock> video;
  std::vector<uint64_t> offsets;
  while (r.next(b) == ReadEvent::kBlock)
    if (b.info.track_id == 2) {
      video.push_back({b.info, {b.data.begin(), b.data.end()}, {}});
      offsets.push_back(b.data_offset);
    }
  ASSERT_EQ(h4mk("block demo.h4mk --track 2 --index 5 -o b5.bin").status, 0);
  EXPECT_EQ(bytes("b5.bin"), video[5].data);
  ASSERT_EQ(h4mk("block demo.h4mk --offset " + std::to_string(offsets[7]) + " -o b7.bin").status,
            0);
  EXPECT_EQ(bytes("b7.bin"), video[7].data);
  Result missing = h4mk("block demo.h4mk --track 2 --index 300 -o x.bin");
  EXPECT_EQ(missing.status, 4);
  EXPECT_NE(missing.err.find("no block number 300 in track 2"), std::string::npos) << missing.err;
  EXPECT_EQ(h4mk("block demo.h4mk -o x.bin").status, 2);  // neither --index nor --offset
}

TEST(Cli, VerifyGoodDamagedAndCut) {
  make_demo();
  Result good = h4mk("verify --json demo.h4mk");
  EXPECT_EQ(good.status, 0) << good.err;
  EXPECT_EQ(good.j()["ok"], true);
  EXPECT_EQ(good.j()["veri"], "ok");
  EXPECT_EQ(good.j()["blocks"], 800);

  auto f = bytes("demo.h4mk");
  auto layout = chunk_layout(f);
  uint64_t core = 0;
  for (const auto& c : layout)
    if (c.tag == "CORE") core = c.offset;  // the last CORE
  f[core + 30] ^= 0x40;
  write_file(path("flip.h4mk"), f);
  Result bad = h4mk("verify --json flip.h4mk");
  EXPECT_EQ(bad.status, 1);
  json j = bad.j();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["veri"], "mismatch");
  bool named = false;
  for (const auto& p : j["problems"]) named |= p["offset"] == core && p["chunk"] == "CORE";
  EXPECT_TRUE(named) << bad.out;
  Result text = h4mk("verify flip.h4mk");
  EXPECT_EQ(text.status, 1);
  EXPECT_NE(text.err.find("offset " + std::to_string(core) + " CORE"), std::string::npos)
      << text.err;

  auto whole = bytes("demo.h4mk");
  write_file(path("cut2.h4mk"), std::span<const uint8_t>(whole.data(), whole.size() / 2));
  Result cut = h4mk("verify --json cut2.h4mk");
  EXPECT_EQ(cut.status, 1);
  EXPECT_EQ(cut.j()["complete"], false);
}

TEST(Cli, RepairRestoresACompleteFile) {
  make_demo();
  auto whole = bytes("demo.h4mk");
  const size_t cut = whole.size() * 6 / 10;
  write_file(path("cut3.h4mk"), std::span<const uint8_t>(whole.data(), cut));
  Result r = h4mk("repair --json cut3.h4mk -o fixed.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  ReadBack before = read_all(std::span<const uint8_t>(whole.data(), cut));
  EXPECT_EQ(r.j()["blocks_kept"], before.blocks.size());
  EXPECT_EQ(r.j()["dropped"].size(), 1u);
  EXPECT_EQ(h4mk("verify fixed.h4mk").status, 0);
  ReadBack after = read_all(bytes("fixed.h4mk"));
  for (uint16_t t : {1, 2}) EXPECT_TRUE(of_track(before.blocks, t) == of_track(after.blocks, t));
}

TEST(Cli, PackCutsARawStream) {
  std::vector<uint8_t> raw(2000);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = uint8_t(i * 7);
  write_file(path("raw.bin"), raw);
  Result r = h4mk(
      "pack raw.bin -o packed.h4mk --block-size 300 --fps 30000/1001 --gop 4 --track-name cam "
      "--json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["blocks"], 7);
  ReadBack rb = read_all(bytes("packed.h4mk"));
  ASSERT_EQ(rb.blocks.size(), 7u);
  std::vector<uint8_t> joined;
  for (size_t i = 0; i < rb.blocks.size(); ++i) {
    EXPECT_EQ(rb.blocks[i].info.type, i % 4 ? BlockType::kP : BlockType::kI) << i;
    EXPECT_EQ(rb.blocks[i].info.pts, int64_t(i));
    joined.insert(joined.end(), rb.blocks[i].data.begin(), rb.blocks[i].data.end());
  }
  EXPECT_EQ(joined, raw);
  json info = h4mk("inspect --json packed.h4mk").j();
  EXPECT_EQ(info["tracks"][0]["time_base"], json::array({1001, 30000}));
  EXPECT_EQ(info["tracks"][0]["name"], "cam");
  EXPECT_EQ(h4mk("pack raw.bin -o x.h4mk --block-size 300 --fps fast").status, 2);
}

// Per-group compression from the command line: pack, compress with a
// trained or given dictionary, decompress; every form decodes to the input.
TEST(Cli, CompressedFilesDecodeToTheirInput) {
  std::vector<uint8_t> raw(480'000);
  uint32_t x = 9;
  for (size_t i = 0; i < raw.size(); i += 16) {  // 16-byte token frames, half repeated
    for (size_t k = 0; k < 16; k += 2) {
      x = x * 1103515245u + 12345u;
      raw[i + k] = uint8_t((x >> 16) % 40);
    }
    if (i && (x >> 8) % 2) std::copy_n(raw.begin() + long(i) - 16, 16, raw.begin() + long(i));
  }
  write_file(path("tokens.raw"), raw);
  ASSERT_EQ(h4mk("pack tokens.raw -o tokens.h4mk --block-size 16 --fps 50").status, 0);
  Result r = h4mk("pack tokens.raw -o tokens-z.h4mk --block-size 16 --fps 50 --compress --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(bytes("tokens-z.h4mk").size() * 2, bytes("tokens.h4mk").size());
  r = h4mk("dictionary tokens.h4mk -o tokens.dict --size 2048");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LE(bytes("tokens.dict").size(), 2048u);
  r = h4mk(
      "pack tokens.raw -o tokens-zd.h4mk --block-size 16 --fps 50 --compress --dictionary "
      "tokens.dict");
  ASSERT_EQ(r.status, 0) << r.err;
  r = h4mk("compress tokens.h4mk -o tokens-zt.h4mk --train-dictionary 2048 --level 9 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["tracks"], json::array({1}));
  EXPECT_LT(r.j()["output_bytes"].get<uint64_t>(), r.j()["input_bytes"].get<uint64_t>());
  for (const char* f : {"tokens-z.h4mk", "tokens-zd.h4mk", "tokens-zt.h4mk"}) {
    SCOPED_TRACE(f);
    r = h4mk(std::string("verify ") + f);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    r = h4mk(std::string("decode ") + f + " -o - --adapter null");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, std::string(raw.begin(), raw.end()));
    EXPECT_EQ(h4mk(std::string("inspect --json ") + f).j()["format_version"], "2.0");
  }
  EXPECT_EQ(h4mk("inspect --json tokens.h4mk").j()["format_version"], "1.0");
  ASSERT_EQ(h4mk("decompress tokens-z.h4mk -o tokens-back.h4mk").status, 0);
  EXPECT_EQ(bytes("tokens-back.h4mk"), bytes("tokens.h4mk"));
  // Usage errors name the option.
  EXPECT_EQ(h4mk("compress tokens.h4mk -o x.h4mk --level 40").status, 2);
  EXPECT_EQ(h4mk("pack tokens.raw -o x.h4mk --block-size 16 --dictionary tokens.dict").status, 2);
  EXPECT_EQ(h4mk("compress tokens.h4mk -o x.h4mk --track 9").status, 4);
  r = h4mk("dictionary tokens.h4mk -o x.dict --size 10");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("256 B..1 MiB"), std::string::npos) << r.err;
}

TEST(Cli, DecodeGivesBackPackedBytesAndRanges) {
  std::vector<uint8_t> raw(10000);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = uint8_t(i * 13 + i / 256);
  write_file(path("raw2.bin"), raw);
  ASSERT_EQ(h4mk("pack raw2.bin -o packed2.h4mk --block-size 1000 --fps 10 --gop 3").status, 0);
  Result r = h4mk("decode packed2.h4mk -o back.bin --json");  // adapter from TRAK: null
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["adapter"], "null");
  EXPECT_EQ(r.j()["blocks"], 10);
  EXPECT_EQ(bytes("back.bin"), raw);
  r = h4mk("decode packed2.h4mk -o part.bin --from 400ms --to 0.7s --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["blocks"], 3);
  EXPECT_EQ(bytes("part.bin"), std::vector<uint8_t>(raw.begin() + 4000, raw.begin() + 7000));
  r = h4mk("decode packed2.h4mk -o - --from 9 --adapter null");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, std::string(raw.begin() + 9000, raw.end()));
}

// The first line says what the end of the file holds: a TAIL, and a TSEK
// for every track, some, or none (those tracks seek by bisection).
TEST(Cli, InspectSaysWhichTracksHaveSeekTables) {
  StreamSpec spec;
  spec.seconds = 2;
  const auto tracks = test_tracks(spec);
  const auto blocks = make_stream(spec);
  WriterOptions no_index;
  no_index.write_index = false;
  write_file(path("no-tsek.h4mk"), write_stream(tracks, blocks, no_index));
  std::vector<uint8_t> file = write_stream(tracks, blocks);
  write_file(path("all-tsek.h4mk"), file);
  // Cut out the last TSEK (the TAIL's index offset still holds: it is the
  // first index chunk's).
  const json m = h4mk("inspect --json all-tsek.h4mk").j();
  size_t pos = m["data_offset"].get<size_t>(), last_tsek = 0, last_size = 0;
  while (pos + 12 <= file.size()) {
    const uint32_t size =
        file[pos + 4] | file[pos + 5] << 8 | file[pos + 6] << 16 | uint32_t(file[pos + 7]) << 24;
    if (std::string(file.begin() + long(pos), file.begin() + long(pos) + 4) == "TSEK")
      last_tsek = pos, last_size = 12 + size;
    pos += 12 + size;
  }
  ASSERT_NE(last_tsek, 0u);
  file.erase(file.begin() + long(last_tsek), file.begin() + long(last_tsek + last_size));
  write_file(path("some-tsek.h4mk"), file);
  file.resize(last_tsek);
  write_file(path("no-tail.h4mk"), file);

  auto first_line = [](const std::string& f) {
    Result r = h4mk("inspect " + f);
    EXPECT_EQ(r.status, 0) << r.err;
    return r.out.substr(0, r.out.find('\n'));
  };
  EXPECT_NE(first_line("all-tsek.h4mk").find("complete, indexed"), std::string::npos);
  EXPECT_NE(first_line("no-tsek.h4mk").find("complete, no seek tables"), std::string::npos);
  EXPECT_NE(first_line("some-tsek.h4mk").find("complete, seek tables for 2 of 3 tracks"),
            std::string::npos);
  EXPECT_NE(first_line("no-tail.h4mk").find("incomplete (no TAIL)"), std::string::npos);
  EXPECT_EQ(h4mk("inspect --json no-tsek.h4mk").j()["complete"], true);
  EXPECT_EQ(h4mk("inspect --json no-tsek.h4mk").j()["tracks"][0]["summary"], nullptr);
  EXPECT_EQ(h4mk("inspect --json no-tail.h4mk").j()["complete"], false);
}

// A mono 16-bit WAV of a tone.
std::vector<uint8_t> tone_wav(uint32_t rate, double hz, double seconds) {
  const uint32_t n = uint32_t(rate * seconds), data = n * 2;
  std::vector<uint8_t> w;
  auto put = [&](uint32_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) w.push_back(uint8_t(v >> (8 * i)));
  };
  for (char c : std::string("RIFF")) w.push_back(uint8_t(c));
  put(36 + data, 4);
  for (char c : std::string("WAVEfmt ")) w.push_back(uint8_t(c));
  put(16, 4), put(1, 2), put(1, 2), put(rate, 4), put(rate * 2, 4), put(2, 2), put(16, 2);
  for (char c : std::string("data")) w.push_back(uint8_t(c));
  put(data, 4);
  for (uint32_t i = 0; i < n; ++i)
    put(uint16_t(int16_t(12000 * std::sin(2 * M_PI * hz * i / rate))), 2);
  return w;
}

// encode: audio through a tokenizer plugin (dsp) into a track that decode
// gives back, from a file or a pipe alike, masked with a key; what it cannot
// do is refused with the reason.
TEST(Cli, EncodeTokenizesAudioThatDecodeGivesBack) {
  write_file(path("tone.wav"), tone_wav(16000, 440, 1.0));
  Result r = h4mk("encode tone.wav -o t.h4mk --tokenizer ./h4mk-adapter-dsp.so");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("a plugin name"), std::string::npos) << r.err;
  r = h4mk("encode demo-not-there.wav -o t.h4mk");
  EXPECT_EQ(r.status, 3) << r.err;
  write_file(path("not.wav"), std::vector<uint8_t>(64, 'x'));
  r = h4mk("encode not.wav -o t.h4mk --format wav");
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("not a WAV file"), std::string::npos) << r.err;
  const char* adapters = std::getenv("H4MK_ADAPTER_PATH");
  if (!adapters || !fs::exists(fs::path(adapters) / "h4mk-adapter-dsp.so"))
    GTEST_SKIP() << "no dsp adapter in H4MK_ADAPTER_PATH (built with FFmpeg)";

  r = h4mk("encode tone.wav -o tone.h4mk --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["frames"], 16000);
  EXPECT_EQ(r.j()["sample_rate"], 16000);
  EXPECT_GT(r.j()["blocks"].get<int>(), 10);
  const json track = h4mk("inspect --json tone.h4mk").j()["tracks"][0];
  EXPECT_EQ(track["adapter"], "dsp");
  EXPECT_EQ(track["codec"], "h4core");
  // Standard input, a pipe: spooled, the same file.
  r = shell("cat tone.wav | " + kTool + " encode - -o piped.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(bytes("piped.h4mk"), bytes("tone.h4mk"));
  r = h4mk("decode tone.h4mk -o back.wav");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto back = bytes("back.wav");
  ASSERT_GT(back.size(), 44u);
  const uint32_t frame_bytes = uint32_t(back[22] | back[23] << 8) * (back[34] | back[35] << 8) / 8;
  const uint32_t data_bytes = back[40] | back[41] << 8 | back[42] << 16 | uint32_t(back[43]) << 24;
  EXPECT_EQ(data_bytes / frame_bytes, 16000u) << "the last block's duration trims the padding";
  // Options reach the tokenizer, and bad ones are refused.
  r = h4mk("encode tone.wav -o small.h4mk --tokenizer-options hop=256:k=8");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(bytes("small.h4mk").size(), bytes("tone.h4mk").size());
  r = h4mk("encode tone.wav -o bad.h4mk --tokenizer-options hop=7");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("hop"), std::string::npos) << r.err;
  // Masked: nothing decodes without the key, the same audio with it.
  write_file(path("enc.key"), std::vector<uint8_t>(32, 0x5a));
  r = h4mk("encode tone.wav -o masked.h4mk --key-file enc.key");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(h4mk("inspect --json masked.h4mk").j()["tracks"][0]["mask"].is_null());
  EXPECT_NE(h4mk("decode masked.h4mk -o x.wav").status, 0);
  r = h4mk("decode masked.h4mk -o unmasked.wav --key-file enc.key");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(bytes("unmasked.wav"), bytes("back.wav"));
}

// A sample that is not a number has no tokens: encode stops, naming it,
// and leaves no file.
TEST(Cli, EncodeRefusesSamplesThatAreNotNumbers) {
  const char* adapters = std::getenv("H4MK_ADAPTER_PATH");
  if (!adapters || !fs::exists(fs::path(adapters) / "h4mk-adapter-dsp.so"))
    GTEST_SKIP() << "no dsp adapter in H4MK_ADAPTER_PATH (built with FFmpeg)";
  std::vector<float> samples(2 * 8000, 0.25f);  // two channels, interleaved
  for (float bad : {std::nanf(""), -std::numeric_limits<float>::infinity()}) {
    samples[2 * 3000 + 1] = bad;  // sample 3000 of channel 1
    std::vector<uint8_t> raw(samples.size() * 4);
    std::memcpy(raw.data(), samples.data(), raw.size());
    write_file(path("bad.f32"), raw);
    const Result r =
        h4mk("encode bad.f32 --format f32le --sample-rate 8000 --channels 2 -o bad.h4mk");
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_NE(r.err.find(std::string("sample 3000 of channel 1 is ") +
                         (std::isnan(bad) ? "not a number" : "infinite")),
              std::string::npos)
        << r.err;
    EXPECT_FALSE(fs::exists(path("bad.h4mk")));
  }
  samples[2 * 3000 + 1] = 0.25f;
  std::vector<uint8_t> raw(samples.size() * 4);
  std::memcpy(raw.data(), samples.data(), raw.size());
  write_file(path("good.f32"), raw);
  EXPECT_EQ(
      h4mk("encode good.f32 --format f32le --sample-rate 8000 --channels 2 -o good.h4mk").status,
      0);
}

TEST(Cli, DecodeAudioWritesWav) {
  const Track t = h4core_audio_track(8000, 1, "null");
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  std::vector<uint8_t> pcm;
  for (int i = 0; i < 20; i++) {
    std::vector<uint8_t> block(400);  // 200 samples
    for (size_t k = 0; k < block.size(); k++) block[k] = uint8_t(i * 31 + k);
    w.write_block({1, BlockType::kI, i * 200, i * 200, 200}, block);
    pcm.insert(pcm.end(), block.begin(), block.end());
  }
  w.finish();
  write_file(path("pcm.h4mk"), sink.bytes());
  Result r = h4mk("decode pcm.h4mk -o pcm.wav --from 250 --to 3050 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["samples"], 2800);
  EXPECT_EQ(r.j()["sample_format"], "s16");
  auto wav = bytes("pcm.wav");
  ASSERT_EQ(wav.size(), 44u + 5600u);
  EXPECT_EQ(std::string(wav.begin(), wav.begin() + 4), "RIFF");
  EXPECT_EQ(wav[20] | wav[21] << 8, 1);  // PCM
  EXPECT_EQ(wav[24] | wav[25] << 8 | wav[26] << 16, 8000);
  EXPECT_EQ(wav[40] | wav[41] << 8 | wav[42] << 16, 5600);  // data size patched in
  EXPECT_TRUE(std::equal(wav.begin() + 44, wav.end(), pcm.begin() + 500));
  // No adapter: a clear usage error naming the way out.
  r = h4mk("decode pcm.h4mk -o x.wav --adapter no-such-adapter");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("no adapter named 'no-such-adapter'"), std::string::npos) << r.err;
  r = h4mk("decode pcm.h4mk -o x.wav --from 2s --to 1s");
  EXPECT_EQ(r.status, 2);
}

TEST(Cli, ErrorsAndExitCodes) {
  Result none = h4mk("inspect nothing-here.h4mk");
  EXPECT_EQ(none.status, 3);
  EXPECT_NE(none.err.find("nothing-here.h4mk"), std::string::npos) << none.err;
  write_file(path("text.txt"), std::vector<uint8_t>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r',
                                                    'l', 'd', '!', '!', '!', '!', '!', '!'});
  Result notours = h4mk("inspect text.txt");
  EXPECT_EQ(notours.status, 3);
  EXPECT_NE(notours.err.find("not an H4MK file"), std::string::npos) << notours.err;
  EXPECT_EQ(h4mk("").status, 2);
  EXPECT_EQ(h4mk("frobnicate x").status, 2);
  Result v = h4mk("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.out.find("h4mk 0.1.0 (H4MK format 2.0)"), std::string::npos) << v.out;
  Result help = h4mk("--help");
  EXPECT_NE(help.out.find("Exit codes"), std::string::npos);
}

const std::string kKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(Cli, MaskUnmaskRoundTripKeepsEveryBlock) {
  make_demo();
  Result r = h4mk("mask demo.h4mk -o masked.h4mk --track 2 --kid studio-key --json --key " + kKey);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["tracks"], json::array({2}));
  // Readable without the key: tracks, mask parameters, SAFE summary; no key material.
  r = h4mk("inspect --json masked.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = r.j();
  EXPECT_EQ(j["tracks"][1]["mask"]["kid"], "studio-key");
  EXPECT_EQ(j["tracks"][1]["mask"]["scheme"], "aes-256-gcm");
  EXPECT_FALSE(j["tracks"][0].contains("mask"));
  EXPECT_EQ(j["safe"]["mask"][0]["track"], 2);
  EXPECT_EQ(r.out.find(kKey), std::string::npos);
  auto file = bytes("masked.h4mk");
  EXPECT_EQ(std::search(file.begin(), file.end(), kKey.begin(), kKey.end()), file.end());
  r = h4mk("list --json --track 2 masked.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  json listed = r.j();
  ASSERT_EQ(listed["blocks"].size(), 300u) << r.out;
  for (const auto& b : listed["blocks"]) EXPECT_EQ(b["masked"], true);
  // The key from a file, then from the environment: the blocks come back.
  write_file(path("key.hex"), std::vector<uint8_t>(kKey.begin(), kKey.end()));
  r = h4mk("unmask masked.h4mk -o plain.h4mk --key-file key.hex");
  ASSERT_EQ(r.status, 0) << r.err;
  r = shell("H4MK_KEY=" + kKey + " " + kTool +
            " unmask masked.h4mk -o plain2.h4mk --key-env H4MK_KEY");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(bytes("plain.h4mk"), bytes("plain2.h4mk"));
  EXPECT_EQ(read_all(bytes("plain.h4mk")).blocks, read_all(bytes("demo.h4mk")).blocks);
  EXPECT_EQ(h4mk("inspect --json plain.h4mk").j()["safe"].contains("mask"), false);
  // ctr on every track: no byte added to any group.
  r = h4mk("mask demo.h4mk -o ctr.h4mk --scheme aes-256-ctr --key " + kKey);
  ASSERT_EQ(r.status, 0) << r.err;
  auto core_bytes = [](std::span<const uint8_t> f) {
    uint64_t n = 0;
    for (const auto& c : chunk_layout(f)) n += c.tag == "CORE" ? c.end - c.offset : 0;
    return n;
  };
  EXPECT_EQ(core_bytes(bytes("ctr.h4mk")), core_bytes(bytes("demo.h4mk")));
}

// The future_minor vector's unknown chunks (XTRA, ZZZZ) are not safe to
// copy (FORMAT.md §9.6): a rewrite leaves them out and says so, even with -q.
TEST(Cli, ARewriteNamesTheUnknownChunksItLeavesOut) {
  const std::string vector = std::string(H4MK_VECTORS_DIR) + "/future_minor.h4mk";
  Result r = h4mk("-q mask " + vector + " -o future-masked.h4mk --key " + kKey);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("left out 2 chunk(s) of unknown tags (docs/FORMAT.md 9.6), the first "
                       "'XTRA' at offset "),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(": not safe to copy"), std::string::npos) << r.err;
  r = h4mk("repair --json " + vector + " -o future-repaired.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["unknown_chunks"]["left_out"], 2) << r.out;
  EXPECT_EQ(r.j()["unknown_chunks"]["kept"], 0) << r.out;
  for (const auto& c : chunk_layout(bytes("future-masked.h4mk")))
    EXPECT_TRUE(c.tag != "XTRA" && c.tag != "ZZZZ") << c.tag;
}

TEST(Cli, VerifyAndInspectNameTheChunksOfUnknownTags) {
  const std::string vector = std::string(H4MK_VECTORS_DIR) + "/future_minor.h4mk";
  Result r = h4mk("verify " + vector);
  ASSERT_EQ(r.status, 0) << r.err;  // allowed: not a problem
  EXPECT_NE(r.out.find("unknown chunk 'XTRA' at offset 119, 20 bytes, not safe to copy: a "
                       "rewrite leaves it out"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("unknown chunk 'ZZZZ' at offset 186"), std::string::npos) << r.out;
  r = h4mk("verify --json " + vector);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.j()["unknown_chunk_count"], 2) << r.out;
  EXPECT_EQ(r.j()["unknown_chunks"][1]["tag"], "ZZZZ") << r.out;
  EXPECT_EQ(r.j()["unknown_chunks"][1]["offset"], 186) << r.out;
  EXPECT_EQ(r.j()["unknown_chunks"][1]["size"], 28) << r.out;
  EXPECT_EQ(r.j()["unknown_chunks"][1]["safe_to_copy"], false) << r.out;
  // inspect reads the head only: the chunk before the first group.
  r = h4mk("inspect " + vector);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("unknown chunk 'XTRA' at offset 119"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("'ZZZZ'"), std::string::npos) << r.out;
  r = h4mk("inspect --json " + vector);
  ASSERT_EQ(r.status, 0) << r.err;
  ASSERT_EQ(r.j()["head_unknown_chunks"].size(), 1u) << r.out;
  EXPECT_EQ(r.j()["head_unknown_chunks"][0]["tag"], "XTRA") << r.out;
  EXPECT_EQ(r.j()["head_unknown_chunks_unlisted"], 0) << r.out;
  r = h4mk("-q verify " + vector);
  EXPECT_EQ(r.out, "") << "-q prints only errors";
}

TEST(Cli, MaskErrorsNameWhatIsWrong) {
  make_demo();
  ASSERT_EQ(h4mk("mask demo.h4mk -o m.h4mk --key " + kKey).status, 0);
  std::string wrong = kKey;
  wrong[0] = 'f';
  Result r = h4mk("unmask m.h4mk -o x.h4mk --key " + wrong);
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.err.find("not the one the track was masked with"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(wrong), std::string::npos) << "a key was printed";
  r = h4mk("unmask m.h4mk -o x.h4mk --key 0011");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("64 hex digits"), std::string::npos) << r.err;
  r = h4mk("unmask m.h4mk -o x.h4mk");
  EXPECT_EQ(r.status, 2);
  r = h4mk("mask m.h4mk -o x.h4mk --track 1 --key " + kKey);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("masked already"), std::string::npos) << r.err;
  r = h4mk("mask demo.h4mk -o x.h4mk --scheme rot13 --key " + kKey);
  EXPECT_EQ(r.status, 2);
}

TEST(Cli, SignAndVerifyWithAPublicKey) {
  make_demo();
  ASSERT_EQ(shell("openssl genpkey -algorithm ed25519 -out priv.pem && "
                  "openssl pkey -in priv.pem -pubout -out pub.pem && "
                  "openssl genpkey -algorithm ed25519 -out other.pem && "
                  "openssl pkey -in other.pem -pubout -out other_pub.pem")
                .status,
            0);
  Result r = h4mk("sign demo.h4mk -o signed.h4mk --private-key priv.pem");
  ASSERT_EQ(r.status, 0) << r.err;
  r = h4mk("verify --json signed.h4mk --pubkey pub.pem");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.j()["signature"], "ok");
  r = h4mk("verify --json signed.h4mk");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.j()["signature"], "unchecked");
  r = h4mk("verify signed.h4mk --pubkey other_pub.pem");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("another key"), std::string::npos) << r.err;
  r = h4mk("verify demo.h4mk --pubkey pub.pem");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not signed"), std::string::npos) << r.err;
  // One changed byte in a block: verify fails and names the offset.
  auto f = bytes("signed.h4mk");
  f[f.size() / 2] ^= 0x20;
  write_file(path("tampered.h4mk"), f);
  r = h4mk("verify tampered.h4mk --pubkey pub.pem");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("offset"), std::string::npos);
  // Signing needs an intact file and a private key.
  EXPECT_EQ(h4mk("sign tampered.h4mk -o x.h4mk --private-key priv.pem").status, 1);
  EXPECT_EQ(h4mk("sign demo.h4mk -o x.h4mk --private-key pub.pem").status, 2);
}

// A signed file behind plain nginx: a range is checked against the signature
// reading only what it needs; a changed group (CRCs resealed) is refused
// where it is, and only there.
TEST(Cli, VerifyARangeOverHttpAgainstTheSignature) {
  make_demo();
  ASSERT_EQ(shell("openssl genpkey -algorithm ed25519 -out range.pem && "
                  "openssl pkey -in range.pem -pubout -out range.pub")
                .status,
            0);
  StreamSpec spec;  // a minute of audio, video and data
  spec.seconds = 60;
  write_file(path("range-plain.h4mk"), write_stream(test_tracks(spec), make_stream(spec)));
  ASSERT_EQ(h4mk("sign range-plain.h4mk -o range-signed.h4mk --private-key range.pem").status, 0);
  const auto good = bytes("range-signed.h4mk");
  // A video group two thirds in, one payload byte changed, CRCs resealed.
  const ReadBack blocks = read_all(good);
  size_t k = blocks.blocks.size() * 2 / 3;
  while (blocks.blocks[k].info.track_id != 2) ++k;
  const uint64_t target = blocks.chunk_offsets[k];
  const double t = double(blocks.blocks[k].info.pts) / 90000;
  auto bad = good;
  bad[target + 12 + 30] ^= 0x01;
  reseal_chunk(bad, target);
  write_file(path("range-tampered.h4mk"), bad);

  NginxServer server(dir());
  auto range = [&](const std::string& file, double from, double to) {
    return h4mk("verify --json " + server.url(file) + " --pubkey range.pub --track 2 --from " +
                std::to_string(from) + "s --to " + std::to_string(to) + "s");
  };
  size_t before = server.requests();
  Result r = range("range-signed.h4mk", 24, 25);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  json j = r.j();
  EXPECT_EQ(j["ok"], true);
  EXPECT_GT(j["blocks"].get<int>(), 50) << "1 s of three tracks";
  // What it says it read is what nginx sent, a small part of the file.
  EXPECT_EQ(j["requests"].get<size_t>(), server.requests() - before);
  EXPECT_LT(j["bytes_read"].get<uint64_t>(), good.size() / 10);
  RecordProperty("one_second_bytes", std::to_string(j["bytes_read"].get<uint64_t>()));
  RecordProperty("one_second_requests", std::to_string(j["requests"].get<size_t>()));

  // Before the changed group all is well; over it the range is refused,
  // naming the bytes; the whole file too.
  r = range("range-tampered.h4mk", 0, std::max(0.0, t - 2));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = range("range-tampered.h4mk", std::max(0.0, t - 0.5), t + 0.5);
  EXPECT_EQ(r.status, 1) << r.out;
  j = r.j();
  EXPECT_EQ(j["ok"], false);
  EXPECT_LE(j["offset"].get<uint64_t>(), target);
  EXPECT_NE(j["problem"].get<std::string>().find("altered"), std::string::npos) << r.out;
  r = h4mk("verify " + server.url("range-tampered.h4mk") + " --pubkey range.pub");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.err.find("altered"), std::string::npos) << r.err;
  // Without the key a range means nothing; an unsigned file is refused.
  EXPECT_EQ(h4mk("verify " + server.url("range-plain.h4mk") + " --from 1s").status, 2);
  r = h4mk("verify " + server.url("range-plain.h4mk") + " --pubkey range.pub --from 1s");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("not signed"), std::string::npos) << r.err;
  // A server that is not there is an input error, not a hang.
  EXPECT_EQ(h4mk("verify http://127.0.0.1:1/x.h4mk").status, 3);
}

// A server that answers range requests with other bytes than asked, or with
// those of a file changed since the first request, is refused by name; the
// same server answering honestly is read to the end.
TEST(Cli, VerifyOverHttpRefusesOtherBytesThanAsked) {
  make_demo();
  using Mode = MisbehavingHttpServer::Mode;
  auto verify = [&](Mode mode) {
    MisbehavingHttpServer server(bytes("demo.h4mk"), mode);
    EXPECT_TRUE(server.started());
    Result r = h4mk("verify " + server.url());
    r.out += " (" + std::to_string(server.requests()) + " requests)";
    return r;
  };
  Result r = verify(Mode::kHonest);
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = verify(Mode::kShiftedRange);
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("bytes 0-0: the server sent 1 bytes as 'bytes 1-1/"), std::string::npos)
      << r.err;
  for (Mode m : {Mode::kChangesAfterOpen, Mode::kChangesIgnoringEtag, Mode::kChangesInPlace}) {
    r = verify(m);
    EXPECT_EQ(r.status, 5) << r.out << r.err;  // a read failing mid-file
    EXPECT_NE(r.err.find(".h4mk: bytes 0-15: the file changed on the server since it was opened"),
              std::string::npos)
        << r.out << r.err;
    if (m == Mode::kChangesInPlace)
      EXPECT_NE(r.err.find("(ETag \"v1\" then, \"v2\" now)"), std::string::npos) << r.err;
  }
  // A size that does not fit 64 bits is no size (sscanf's conversion of
  // it was undefined), and what the server sent is shown escaped.
  r = verify(Mode::kHostileContentRange);
  EXPECT_EQ(r.status, 3) << r.out << r.err;
  EXPECT_NE(r.err.find("bytes 0-0: the answer's Content-Range 'bytes 0-0/18446744073709551616"
                       "\\x1b[2J' is not bytes FIRST-LAST/SIZE"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find('\x1b'), std::string::npos) << r.err;
  // An ETag with a bare CR and a header after it is never sent back: the
  // file reads without a validator, and no request carries that header.
  MisbehavingHttpServer injecting(bytes("demo.h4mk"), Mode::kHeaderInEtag);
  r = h4mk("verify " + injecting.url());
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_GT(injecting.requests(), 1);
  EXPECT_FALSE(injecting.was_sent(MisbehavingHttpServer::kInjected));
}

TEST(Cli, ReadCommandsTakeAnHttpUrl) {
  make_demo();
  using Mode = MisbehavingHttpServer::Mode;
  // Each command over HTTP prints what it prints for the file, reading by
  // range: a few requests, not the file.
  for (const std::string args :
       {"inspect --json", "list --track 2 --from 3s --to 3.2s --json", "seek --track 1 --t 2.5s",
        "chain --track 2 --t 101", "list --packets --json"}) {
    MisbehavingHttpServer server(bytes("demo.h4mk"), Mode::kHonest);
    ASSERT_TRUE(server.started());
    Result local =
        h4mk("-q " + args.substr(0, args.find(' ')) + " demo.h4mk" + args.substr(args.find(' ')));
    Result remote = h4mk("-q " + args.substr(0, args.find(' ')) + " " + server.url() +
                         args.substr(args.find(' ')));
    ASSERT_EQ(local.status, 0) << args << local.err;
    ASSERT_EQ(remote.status, 0) << args << remote.err;
    std::string want = local.out, got = remote.out;
    for (auto* text : {&want, &got}) {  // the file's name, as given
      const std::string name = text == &want ? "demo.h4mk" : server.url();
      for (size_t at; (at = text->find(name)) != std::string::npos;)
        text->replace(at, name.size(), "F");
    }
    EXPECT_EQ(got, want) << args;
    std::printf("h4mk %s over HTTP: %d requests\n", args.c_str(), server.requests());
    if (args.rfind("list --packets", 0) != 0) EXPECT_LE(server.requests(), 6) << args;
  }
  // A seek in a 4 MB file reads near its target, not the file: the first
  // byte (size and ETag), the head, the end, the index, the landing group.
  ASSERT_EQ(shell("head -c 4000000 /dev/urandom > big.raw").status, 0);
  ASSERT_EQ(h4mk("-q pack big.raw -o big.h4mk --block-size 4000 --fps 25 --gop 25").status, 0);
  {
    MisbehavingHttpServer big(bytes("big.h4mk"), Mode::kHonest);
    Result local = h4mk("seek big.h4mk --track 1 --t 31.5s --json");
    Result remote = h4mk("seek " + big.url() + " --track 1 --t 31.5s --json");
    ASSERT_EQ(remote.status, 0) << remote.err;
    EXPECT_EQ(remote.j()["pts"], local.j()["pts"]) << remote.out;
    EXPECT_EQ(remote.j()["chunk_offset"], local.j()["chunk_offset"]) << remote.out;
    std::printf("h4mk seek in a 4 MB file over HTTP: %d requests\n", big.requests());
    EXPECT_LE(big.requests(), 5);
  }
  MisbehavingHttpServer server(bytes("demo.h4mk"), Mode::kHonest);
  ASSERT_EQ(h4mk("block " + server.url() + " --track 2 --index 5 -o remote.bin").status, 0);
  ASSERT_EQ(h4mk("block demo.h4mk --track 2 --index 5 -o local.bin").status, 0);
  EXPECT_EQ(bytes("remote.bin"), bytes("local.bin"));
  // A file that changes on the server while it is read is refused.
  MisbehavingHttpServer changing(bytes("demo.h4mk"), Mode::kChangesAfterOpen);
  Result r = h4mk("list " + changing.url() + " --packets");
  EXPECT_EQ(r.status, 5) << r.out << r.err;
  EXPECT_NE(r.err.find("the file changed on the server since it was opened"), std::string::npos)
      << r.err;
}

// Hostile input, at the command line: outputs that name their input, time
// arguments that do not fit, text that is not UTF-8 or drives the terminal.

TEST(CliHostile, AnOutputNamingItsInputLeavesTheInputWhole) {
  make_demo();
  ASSERT_EQ(h4mk("build --demo -o same.h4mk").status, 0);
  const auto before = bytes("same.h4mk");
  Result r = h4mk("repair same.h4mk -o same.h4mk");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(bytes("same.h4mk"), before);  // repair of a whole file gives the same bytes
  ASSERT_EQ(shell("openssl genpkey -algorithm ed25519 -out same-key.pem").status, 0);
  r = h4mk("sign same.h4mk -o same.h4mk --private-key same-key.pem");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(h4mk("verify same.h4mk").status, 0);
  auto signed_file = read_all(bytes("same.h4mk"));
  EXPECT_EQ(signed_file.blocks.size(), read_all(before).blocks.size());
  ASSERT_EQ(shell("openssl rand -hex 32 > same.key").status, 0);
  r = h4mk("mask same.h4mk -o same.h4mk --key-file same.key");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_all(bytes("same.h4mk")).blocks.size(), signed_file.blocks.size());
  // A full disk is the output's fault: exit 5, as for every other command.
  r = h4mk("sign same.h4mk -o /dev/full --private-key same-key.pem");
  EXPECT_EQ(r.status, 5) << r.err;
  // A key on the command line works, with a warning that it shows in ps.
  const std::string hex = shell("cat same.key").out.substr(0, 64);
  r = h4mk("unmask same.h4mk -o same-plain.h4mk --key " + hex);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("prefer --key-file"), std::string::npos) << r.err;
  // A failed command leaves neither a partial output nor a temporary file.
  r = h4mk("mask no-such-input.h4mk -o never.h4mk --key-file same.key");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(fs::exists(path("never.h4mk")));
  for (const auto& e : fs::directory_iterator(dir()))
    EXPECT_EQ(e.path().string().find(".h4mk-partial-"), std::string::npos) << e.path();
}

TEST(CliHostile, TimesThatDoNotFitAreRefused) {
  make_demo();
  for (const char* t : {"1e308s", "infs", "nans", "1e19ms", "0x10s", "0x10", "1e3", "-infs",
                        "99999999999999999999", "5e-1s", ".5s", "1.s"}) {
    Result r = h4mk(std::string("seek demo.h4mk --track 1 --t ") + t);
    EXPECT_EQ(r.status, 2) << t << ": " << r.err;
    EXPECT_NE(r.err.find("bad time"), std::string::npos) << t << ": " << r.err;
  }
  EXPECT_EQ(h4mk("seek demo.h4mk --track 1 --t 2.5s").status, 0);
  EXPECT_EQ(h4mk("seek demo.h4mk --track 1 --t 2500ms").status, 0);
  EXPECT_EQ(h4mk("seek demo.h4mk --track 1 --t -3").status, 4);  // fits; before the first block
}

// A file's text reaches the terminal escaped, and JSON output of text that
// is not UTF-8 does not abort.
TEST(CliHostile, FileTextIsEscapedAndNeverAborts) {
  Track t = h4core_audio_track(8000, 1, "null");
  t.name = "name\x1b]0;owned\x07";
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  w.set_note("NOTEXX");
  w.finish();
  auto file = sink.take();
  for (const auto& c : chunk_layout(file)) {
    if (c.tag != "NOTE") continue;
    auto at = std::search(file.begin() + long(c.offset), file.begin() + long(c.end),
                          std::begin("XX"), std::end("XX") - 1);
    ASSERT_NE(at, file.begin() + long(c.end));
    at[0] = char(0xff);
    at[1] = '\x1b';
    reseal_chunk(file, c.offset);
  }
  write_file(path("hostile-text.h4mk"), file);
  Result r = h4mk("inspect hostile-text.h4mk");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\x1b]0;owned\\x07"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NOTE\\xff\\x1b"), std::string::npos) << r.out;
  r = h4mk("inspect --json hostile-text.h4mk");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.j().is_object()) << r.out;
}

// mask, unmask and repair keep everything they do not mean to change: META,
// SAFE (but for the mask summary the writer owns), NOTE, chapters with their
// tags, and each track's fields and tags (but for its mask parameters).
TEST(CliHostile, RewritesKeepEveryHeaderChunk) {
  Track t = h4core_audio_track(8000, 1, "null");
  t.name = "voice";
  t.tags["lang-detail"] = "en-GB";
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  w.set_metadata("title", "all chunks");
  w.set_safe_json(R"({"policy":"keep me"})");
  w.set_note("a note");
  Chapter c;
  c.start = 0;
  c.end = 500;
  c.title = "one";
  c.tags["artist"] = "someone";
  w.add_chapter(c);
  c.start = 500;
  c.end.reset();
  c.title = "two";
  w.add_chapter(c);
  const std::vector<uint8_t> pcm(320);
  for (int i = 0; i < 20; i++) w.write_block({1, BlockType::kI, i * 160, i * 160, 160}, pcm);
  w.finish();
  write_file(path("chunks.h4mk"), sink.take());
  ASSERT_EQ(shell("openssl rand -hex 32 > chunks.key").status, 0);
  ASSERT_EQ(h4mk("mask chunks.h4mk -o chunks-masked.h4mk --key-file chunks.key").status, 0);
  ASSERT_EQ(h4mk("unmask chunks-masked.h4mk -o chunks-plain.h4mk --key-file chunks.key").status, 0);
  ASSERT_EQ(h4mk("repair chunks-plain.h4mk -o chunks-repaired.h4mk").status, 0);
  ASSERT_EQ(h4mk("compress chunks.h4mk -o chunks-z.h4mk").status, 0);
  ASSERT_EQ(h4mk("decompress chunks-z.h4mk -o chunks-unz.h4mk").status, 0);
  EXPECT_EQ(bytes("chunks-unz.h4mk"), bytes("chunks.h4mk"));

  auto open_file = [](const std::string& name) {
    auto bytes = std::make_shared<std::vector<uint8_t>>(read_file(path(name)));
    auto src = std::make_shared<MemorySource>(*bytes);
    return std::make_tuple(bytes, src, std::make_shared<Reader>(*src));
  };
  auto [b0, s0, want] = open_file("chunks.h4mk");
  auto safe_without_mask = [](const Reader& r) {
    auto j = json::parse(r.safe_json());
    j.erase("mask");
    return j;
  };
  for (const char* name :
       {"chunks-masked.h4mk", "chunks-plain.h4mk", "chunks-repaired.h4mk", "chunks-z.h4mk"}) {
    SCOPED_TRACE(name);
    auto [b, s, got] = open_file(name);
    EXPECT_EQ(got->metadata_json(), want->metadata_json());
    EXPECT_EQ(safe_without_mask(*got), safe_without_mask(*want));
    EXPECT_EQ(got->note(), want->note());
    EXPECT_EQ(got->chapters(), want->chapters());
    ASSERT_EQ(got->tracks().size(), 1u);
    Track g = got->tracks()[0];
    g.mask.reset();
    g.compression.reset();
    EXPECT_EQ(g, want->tracks()[0]);
  }
}

}  // namespace
}  // namespace h4mk::test
