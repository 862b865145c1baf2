// The patched ffmpeg and ffprobe, run as real processes on real files:
// remux fidelity per codec, ffprobe JSON, pipes, seeking, damaged and cut
// files, default codecs and metadata.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "../../libh4mk/src/byte_order.hpp"
#include "../../libh4mk/src/chunk.hpp"
#include "../nginx_server.hpp"
#include "../serve_process.hpp"
#include "../test_util.hpp"
#include "h4mk/h4mk.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kFfmpeg = H4MK_FFMPEG;
const std::string kFfprobe = H4MK_FFPROBE;
const std::string kFfplay = H4MK_FFPLAY;
const std::string kSeekTool = H4MK_FFMPEG_SEEK_TEST;
const std::string kOpenReads = H4MK_FFMPEG_OPEN_READS;
const std::string kMuxAfterPrefix = H4MK_FFMPEG_MUX_AFTER_PREFIX;
const std::string kLavfSeek = H4MK_LAVF_SEEK;
const std::string kDemo = H4MK_DEMO;
const std::string kTool = H4MK_TOOL;

struct Result {
  int status;
  std::string out;
  std::string err;
};

fs::path work_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::path(H4MK_WORK_DIR) / "ffmpeg";
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a shell command in the work directory; stdout and stderr captured.
Result run(const std::string& cmd) {
  static int n = 0;
  const fs::path err = work_dir() / ("stderr." + std::to_string(n++));
  std::string full = "cd '" + work_dir().string() + "' && " + cmd + " 2>'" + err.string() + "'";
  FILE* p = popen(full.c_str(), "r");
  std::string out;
  char buf[65536];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, slurp(err)};
}

std::string ffmpeg(const std::string& args) {
  Result r = run(kFfmpeg + " -nostdin -hide_banner -v error -y " + args);
  EXPECT_EQ(r.status, 0) << "ffmpeg " << args << "\n" << r.err;
  return r.out;
}

std::string framecrc(const std::string& input, const std::string& in_opts = "") {
  return ffmpeg(in_opts + " -i " + input + " -map 0 -c copy -f framecrc -");
}

// The packet lines of framecrc output (its # header left out).
std::vector<std::string> packet_lines(const std::string& crc) {
  std::vector<std::string> out;
  std::istringstream in(crc);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

json probe(const std::string& args) {
  Result r = run(kFfprobe + " -v error -of json -show_streams -show_packets -show_format " + args);
  EXPECT_EQ(r.status, 0) << "ffprobe " << args << "\n" << r.err;
  return json::parse(r.out, nullptr, false);
}

struct Source {
  const char* name;  // file in the work directory
  const char* make;  // ffmpeg arguments that create it
};

const Source kSources[] = {
    {"pcm.wav", "-f lavfi -i sine=frequency=440:duration=4 -ac 2 -c:a pcm_s16le pcm.wav"},
    {"flac.flac", "-f lavfi -i sine=frequency=330:duration=4 -c:a flac flac.flac"},
    {"opus.ogg",
     "-f lavfi -i sine=frequency=550:duration=4:sample_rate=48000 -c:a opus -strict experimental "
     "opus.ogg"},
    {"vorbis.ogg",
     "-f lavfi -i sine=frequency=660:duration=4 -ac 2 -c:a vorbis -strict experimental vorbis.ogg"},
    {"mpeg4.nut",
     "-f lavfi -i testsrc=duration=6:size=160x120:rate=25 -c:v mpeg4 -bf 2 -g 12 mpeg4.nut"},
    // The same in matroska, whose demuxer finds the start time of reordered
    // MPEG-4 (its parser runs), which NUT's leaves unset.
    {"mpeg4_in_mkv.mkv",
     "-f lavfi -i testsrc=duration=6:size=160x120:rate=25 -c:v mpeg4 -bf 2 -g 12 "
     "mpeg4_in_mkv.mkv"},
    {"ffv1.mkv", "-f lavfi -i testsrc=duration=2:size=160x120:rate=25 -c:v ffv1 ffv1.mkv"},
    {"raw.nut",
     "-f lavfi -i testsrc=duration=1:size=64x48:rate=10 -c:v rawvideo -pix_fmt yuv420p raw.nut"},
    // Broadcast-style MPEG-TS: ADTS AAC and reordered MPEG-4 whose 33-bit
    // timestamps wrap 3.7 s in (the demuxer unwraps them: negative after).
    {"wrap.ts",
     "-f lavfi -i testsrc=duration=6:size=160x120:rate=25 -f lavfi -i sine=duration=6 "
     "-c:v mpeg4 -bf 2 -g 12 -c:a aac -output_ts_offset 95440 -f mpegts wrap.ts"},
    // Sparse text subtitles with durations (subs.srt is written first).
    {"subs.mkv", "-i subs.srt -map 0 -c copy subs.mkv"},
};

const char kSubtitles[] =
    "1\n00:00:00,500 --> 00:00:02,000\nHello <i>world</i>\n\n"
    "2\n00:00:03,000 --> 00:00:05,250\nZweite Zeile: \xc3\xa4\xc3\xb6\xc3\xbc\n\n";

void make_sources() {
  static bool done = false;
  if (done) return;
  std::ofstream(work_dir() / "subs.srt") << kSubtitles;
  for (const Source& s : kSources) ffmpeg(s.make);
  // Three tracks: audio, video with B-frames, and an opaque h4core data track.
  Result demo = run(kDemo + " demo.h4mk");
  ASSERT_EQ(demo.status, 0) << demo.err;
  ffmpeg("-i pcm.wav -i mpeg4.nut -i demo.h4mk -map 0:a -map 1:v -map 2:0 -c copy three.h4mk");
  done = true;
}

class Remux : public ::testing::TestWithParam<Source> {
 protected:
  void SetUp() override { make_sources(); }
};

// src -> h4mk -> framecrc equals src -> framecrc, and src -> h4mk -> matroska
// equals src -> matroska. `opts` are input options for every step.
void check_remux(const std::string& src, const std::string& opts, const std::string& tag) {
  const std::string h4 = src + tag + ".h4mk";
  ffmpeg(opts + " -i " + src + " -map 0 -c copy " + h4);
  std::string want = framecrc(src, opts);
  ASSERT_NE(want.find("0,"), std::string::npos) << "no packets in " << src;
  // The one difference: MPEG-TS packets' stream id side data (1 byte), which
  // the muxer leaves out as matroska's does (FORMAT.md §6.1).
  if (src.ends_with(".ts"))
    want =
        std::regex_replace(want, std::regex(", S=1,( MPEGTS Stream ID,)? +1, 0x[0-9a-f]{8}"), "");
  EXPECT_EQ(framecrc(h4, opts), want) << src << " " << opts;
  ffmpeg(opts + " -i " + h4 + " -map 0 -c copy " + src + tag + ".via-h4mk.mkv");
  ffmpeg(opts + " -i " + src + " -map 0 -c copy " + src + tag + ".direct.mkv");
  EXPECT_EQ(framecrc(src + tag + ".via-h4mk.mkv", opts), framecrc(src + tag + ".direct.mkv", opts))
      << src << " " << opts;
}

TEST_P(Remux, FramecrcSurvivesH4mkAndBackToMatroska) {
  const std::string src = GetParam().name;
  // The stored timestamps, exactly: no start-time normalisation by ffmpeg.
  check_remux(src, "-copyts", ".copyts");
  // With ffmpeg's default normalisation to the input's start time. The Ogg
  // demuxer clamps a Vorbis stream's start time to 0 (oggparsevorbis.c), a
  // codec-specific rule H4MK's demuxer does not copy, so Vorbis is shifted
  // differently there (by its first packet's -1024 pre-roll) and checked
  // with -copyts only. NUT leaves the start time of reordered MPEG-4 unset,
  // so ffmpeg does not shift it, while H4MK's demuxer sets it from the
  // first packet as libavformat does for other streams (and as Matroska
  // does for this one: mpeg4_in_mkv).
  if (src != "vorbis.ogg" && src != "mpeg4.nut") check_remux(src, "", "");
}

INSTANTIATE_TEST_SUITE_P(Codecs, Remux, ::testing::ValuesIn(kSources),
                         [](const ::testing::TestParamInfo<Source>& info) {
                           std::string n = info.param.name;
                           return n.substr(0, n.find('.'));
                         });

TEST(FFmpeg, ThreeTracksAudioVideoData) {
  make_sources();
  json j = probe("three.h4mk");
  ASSERT_EQ(j["streams"].size(), 3u);
  EXPECT_EQ(j["streams"][0]["codec_type"], "audio");
  EXPECT_EQ(j["streams"][1]["codec_type"], "video");
  // The demo's h4core audio track: a typed stream, decoded by its adapter.
  EXPECT_EQ(j["streams"][2]["codec_type"], "audio");
  EXPECT_EQ(j["streams"][2]["codec_name"], "h4core_audio");
  EXPECT_EQ(j["streams"][2]["tags"]["h4mk_adapter"], "null");
  // Remuxing the three tracks again changes nothing.
  ffmpeg("-i three.h4mk -map 0 -c copy three.again.h4mk");
  EXPECT_EQ(framecrc("three.again.h4mk"), framecrc("three.h4mk"));
  // Audio and video come back into matroska as from their sources.
  ffmpeg("-i three.h4mk -map 0:0 -map 0:1 -c copy three.av.mkv");
  ffmpeg("-i pcm.wav -i mpeg4.nut -map 0:a -map 1:v -c copy three.direct.mkv");
  EXPECT_EQ(framecrc("three.av.mkv"), framecrc("three.direct.mkv"));
}

// Stream ids are the track ids (how `h4mk` and its HTTP endpoints name a
// track), whatever their order in the file: -map 0:i:ID selects one.
TEST(FFmpeg, StreamIdsAreTrackIds) {
  {
    h4mk::FileSink sink((work_dir() / "ids.h4mk").string());
    h4mk::Writer w(sink);
    for (uint16_t id : {7, 3}) {
      h4mk::Track t;
      t.id = id;
      t.kind = h4mk::TrackKind::kData;
      w.add_track(t);
    }
    for (int64_t i = 0; i < 20; ++i)
      for (uint16_t id : {7, 3}) {
        const std::vector<uint8_t> payload(static_cast<size_t>(id), static_cast<uint8_t>(i));
        w.write_block({id, h4mk::BlockType::kI, i * 40, i * 40, 40}, payload);
      }
    w.finish();
    sink.close();
  }
  const json j = probe("ids.h4mk");
  ASSERT_EQ(j["streams"].size(), 2u);
  EXPECT_EQ(j["streams"][0]["id"], "0x7");
  EXPECT_EQ(j["streams"][1]["id"], "0x3");
  const auto track3 = packet_lines(ffmpeg("-i ids.h4mk -map 0:i:3 -c copy -f framecrc -"));
  ASSERT_EQ(track3.size(), 20u);
  for (const std::string& line : track3) {  // stream, dts, pts, duration, size, crc
    std::istringstream fields(line);
    std::string field;
    for (int k = 0; k < 5; ++k) std::getline(fields, field, ',');
    EXPECT_EQ(std::stoi(field), 3) << line;  // track 3's 3-byte blocks
  }
  EXPECT_EQ(track3, packet_lines(ffmpeg("-i ids.h4mk -map 0:1 -c copy -f framecrc -")));
  // Writing: 1, 2, ... by default; -streamid keeps (or sets) them, as MPEG-TS
  // PIDs; streams without one take the lowest id left.
  auto ids_of = [](const std::string& file) {
    const json j = probe(file);
    std::vector<std::string> ids;
    for (const auto& st : j["streams"]) ids.push_back(st["id"]);
    return ids;
  };
  ffmpeg("-i ids.h4mk -map 0 -c copy ids.default.h4mk");
  EXPECT_EQ(ids_of("ids.default.h4mk"), (std::vector<std::string>{"0x1", "0x2"}));
  ffmpeg("-i ids.h4mk -map 0 -c copy -streamid 0:7 -streamid 1:3 ids.kept.h4mk");
  EXPECT_EQ(ids_of("ids.kept.h4mk"), (std::vector<std::string>{"0x7", "0x3"}));
  EXPECT_EQ(framecrc("ids.kept.h4mk"), framecrc("ids.h4mk"));
  ffmpeg("-i ids.h4mk -map 0 -map 0:0 -c copy -streamid 1:1 ids.mixed.h4mk");
  EXPECT_EQ(ids_of("ids.mixed.h4mk"), (std::vector<std::string>{"0x2", "0x1", "0x3"}));
  const std::pair<const char*, const char*> bad[] = {
      {"-streamid 0:5 -streamid 1:5", "streams 0 and 1 both have id 5"},
      {"-streamid 0:65536", "stream 0: id 65536 is not an H4MK track id (1..65535)"}};
  for (const auto& [args, message] : bad) {
    Result r =
        run(kFfmpeg + " -nostdin -v error -y -i ids.h4mk -map 0 -c copy " + args + " ids.bad.h4mk");
    EXPECT_NE(r.status, 0) << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  }
}

json packets_of(const json& j) {
  json out = json::array();
  for (const auto& p : j["packets"])
    out.push_back({p["stream_index"], p["pts"], p.value("dts", json()), p["flags"], p["size"]});
  return out;
}

// Equal, except where the source did not know a dts (NUT leaves the first
// packet's dts unset; ffmpeg computes it when muxing).
void expect_same_packets(json got, const json& src) {
  ASSERT_EQ(got.size(), src.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (src[i][2].is_null()) got[i][2] = nullptr;
    ASSERT_EQ(got[i], src[i]) << "packet " << i;
  }
}

TEST(FFmpeg, FfprobeJsonMatchesSourceAndPipe) {
  make_sources();
  ffmpeg(
      "-i mpeg4.nut -map 0 -c copy -metadata title=probe-test -metadata:s:0 language=fra "
      "probe.h4mk");
  json src = probe("mpeg4.nut"), file = probe("probe.h4mk"),
       pipe = probe("-f h4mk -i pipe:0 < probe.h4mk");
  ASSERT_FALSE(file.is_discarded());
  ASSERT_FALSE(pipe.is_discarded());
  EXPECT_EQ(file["format"]["format_name"], "h4mk");
  EXPECT_EQ(file["format"]["tags"]["title"], "probe-test");
  const json& s = file["streams"][0];
  for (const char* key : {"codec_name", "time_base", "width", "height", "pix_fmt"})
    EXPECT_EQ(s[key], src["streams"][0][key]) << key;
  EXPECT_EQ(s["tags"]["language"], "fra");
  EXPECT_NE(s["duration"], nullptr);
  expect_same_packets(packets_of(file), packets_of(src));
  EXPECT_EQ(packets_of(pipe), packets_of(file));
  EXPECT_EQ(pipe["streams"][0]["codec_name"], s["codec_name"]);
  // `-` (standard input, the fd protocol), found by probing alone, as users
  // type it: `cat f.h4mk | ffprobe -`, `... | ffmpeg -i - ...`.
  const json dash = probe("- < probe.h4mk");
  ASSERT_FALSE(dash.is_discarded());
  EXPECT_EQ(dash["format"]["format_name"], "h4mk");
  EXPECT_EQ(packets_of(dash), packets_of(file));
  EXPECT_EQ(framecrc("- < probe.h4mk"), framecrc("probe.h4mk"));
  // Packets of the B-frame stream carry dts != pts; keyframes are flagged.
  bool reordered = false, keys = false;
  for (const auto& p : file["packets"]) {
    reordered |= p["pts"] != p["dts"];
    keys |= p["flags"].get<std::string>()[0] == 'K';
  }
  EXPECT_TRUE(reordered);
  EXPECT_TRUE(keys);
  // Content probing, not the extension, finds the format.
  fs::copy_file(work_dir() / "probe.h4mk", work_dir() / "probe.bin",
                fs::copy_options::overwrite_existing);
  EXPECT_EQ(probe("probe.bin")["format"]["format_name"], "h4mk");
}

// Audio with an encoder delay (Opus pre-skip, AAC priming) starts after the
// samples the decoder skips: libavformat puts the start time there, and the
// duration counts from it, so start + duration is the end of the last sample
// and the duration is as many samples as decoding gives, from a file and
// through a pipe. MP4 says the same through
// its edit list; Matroska and Ogg overstate it by up to the delay. An
// encoder's padded last AAC frame is cut to its packet's duration when
// decoded, as from MP4 (Matroska written by the encoder decodes the padding).
TEST(FFmpeg, AudioDurationIsWhatDecodingGives) {
  make_sources();
  int n = 0;
  // `input` as probe() takes it: a file, or options ending in -i.
  auto decoded_samples = [&n](const std::string& input) -> int64_t {
    const std::string wav = "decoded." + std::to_string(n++) + ".wav";
    ffmpeg((input[0] == '-' ? "" : "-i ") + input + " -map 0:a -c:a pcm_s16le " + wav);
    return probe(wav)["streams"][0].value("duration_ts", int64_t(-1));
  };
  ffmpeg("-f lavfi -i sine=frequency=500:duration=2 -c:a aac aac.mp4");
  ffmpeg("-f lavfi -i sine=frequency=500:duration=3:sample_rate=48000 -c:a aac aacenc.h4mk");
  for (const std::string src : {"opus.ogg", "aac.mp4", "aacenc.h4mk"}) {
    const bool encoded = src == "aacenc.h4mk";
    if (!encoded) ffmpeg("-i " + src + " -map 0 -c copy " + src + ".h4mk");
    const std::string h4 = encoded ? src : src + ".h4mk";
    const int64_t samples = encoded ? 3 * 48000 : decoded_samples(src);
    ASSERT_GT(samples, 0);
    for (const std::string input : {h4, "-f h4mk -i pipe:0 < " + h4}) {
      const json a = probe(input)["streams"][0];
      ASSERT_GT(a.value("initial_padding", 0), 0) << input;
      ASSERT_EQ(a["time_base"], "1/" + a["sample_rate"].get<std::string>()) << input;
      EXPECT_EQ(a["start_time"], "0.000000") << input;
      EXPECT_EQ(a["duration_ts"], samples) << input;
      EXPECT_EQ(decoded_samples(input), samples) << input;
    }
  }
  EXPECT_EQ(probe("aac.mp4.h4mk")["format"]["duration"], probe("aac.mp4")["format"]["duration"]);
  // The padding to drop travels with the packet into Matroska.
  ffmpeg("-i aacenc.h4mk -c copy aacenc.mkv");
  EXPECT_EQ(decoded_samples("aacenc.mkv"), 3 * 48000);
}

// A file written to a pipe has no HINT, and a pipe read has no index: the
// demuxer learns that an AAC track's short last frame is the last only at
// the end of the file. It holds such a frame back until the track's next
// block (then it was not the last and decodes whole) or the end (then its
// padding is dropped), so pipe and file reads decode the same samples, with
// a video track's packets passing meanwhile. "twice" joins one encode to
// itself: its first copy's short last frame lies mid-track.
TEST(FFmpeg, PipeReadsTrimAnEncodersLastFrameAsFileReadsDo) {
  make_sources();
  ffmpeg(
      "-f lavfi -i testsrc=duration=1.01:size=64x48:rate=25 "
      "-f lavfi -i sine=frequency=500:duration=1.01:sample_rate=48000 "
      "-c:v mpeg4 -c:a aac -f h4mk pipe:1 > av-pipe.h4mk");
  {
    FileSource in((work_dir() / "av-pipe.h4mk").string());
    Reader r(in);
    const Track* aac = nullptr;
    for (const Track& t : r.tracks())
      if (t.codec == "aac") aac = &t;
    ASSERT_NE(aac, nullptr);
    std::vector<TestBlock> once;
    Block b;
    while (r.next(b) == ReadEvent::kBlock)
      if (b.info.track_id == aac->id)
        once.push_back(
            {b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}});
    ASSERT_GT(once.size(), 40u);
    const BlockInfo& last = once.back().info;
    ASSERT_LT(last.duration, 1024) << "the encoder's last frame is not short";
    // The muxer wrote its padding down (skip 0, discard 1024 - 352), on
    // that block only: readers need not guess which frame is the last.
    auto discard = [](const TestBlock& t) -> int64_t {
      size_t pos = 0;
      SideDataEntry e;
      while (next_side_data(t.side, pos, e))
        if (e.key == "skip_samples" && e.value.size() == 10)
          return detail::load_u32(e.value.data() + 4);
      return -1;
    };
    EXPECT_EQ(discard(once.back()), 1024 - last.duration);
    for (size_t i = 0; i + 1 < once.size(); ++i) EXPECT_EQ(discard(once[i]), -1) << i;
    const int64_t shift = last.pts + last.duration - once.front().info.pts;
    std::vector<TestBlock> twice = once;
    for (TestBlock t : once) {
      t.info.pts += shift;
      t.info.dts += shift;
      twice.push_back(t);
    }
    write_file((work_dir() / "twice-pipe.h4mk").string(), write_stream_unseekable({*aac}, twice));
  }
  int n = 0;
  auto decoded = [&n](const std::string& input, const std::string& map) {
    const std::string wav = "trim." + std::to_string(n++) + ".wav";
    ffmpeg(input + " -map " + map + " -c:a pcm_s16le " + wav);
    return std::make_pair(probe(wav)["streams"][0].value("duration_ts", int64_t(-1)),
                          ffmpeg("-i " + wav + " -f framecrc -"));
  };
  for (const char* f : {"av-pipe.h4mk", "twice-pipe.h4mk"}) {
    const std::string file = std::string("-i ") + f, pipe = std::string("-f h4mk -i pipe:0 < ") + f;
    const std::string audio = f == std::string("av-pipe.h4mk") ? "0:a" : "0";
    const auto from_file = decoded(file, audio), from_pipe = decoded(pipe, audio);
    // 1.01 s at 48 kHz (49 frames, the last with 672 samples of padding);
    // twice (two encodes back to back, side data and all): the first copy
    // as once, the second without its encoder delay skipped (only a
    // stream's start is) but with its padding dropped: 49 x 1,024 - 672.
    EXPECT_EQ(from_file.first, f == std::string("av-pipe.h4mk") ? 48480 : 48480 + 49504) << f;
    EXPECT_EQ(from_pipe.first, from_file.first) << f;
    EXPECT_EQ(from_pipe.second, from_file.second) << f;
  }
  EXPECT_EQ(packet_lines(ffmpeg("-f h4mk -i pipe:0 < av-pipe.h4mk -map 0:v -f framecrc -")),
            packet_lines(ffmpeg("-i av-pipe.h4mk -map 0:v -f framecrc -")));
}

// What a stream carries besides its packets and codec parameters: the
// disposition, side data such as a phone video's rotation, and (for video
// with B-frames, which libavformat does not time by itself) the start time
// and the track's own duration. From a file and from a pipe (no HINT), and
// on into matroska.
TEST(FFmpeg, DispositionSideDataAndStartTimeSurviveARemux) {
  make_sources();
  ffmpeg(
      "-display_rotation 90 -i mpeg4.nut -i pcm.wav -map 0 -map 1 -c copy "
      "-disposition:v:0 0 -disposition:a:0 hearing_impaired+comment disp.h4mk");
  auto flags = [](const json& stream) {
    std::set<std::string> set;
    for (const auto& [name, on] : stream["disposition"].items())
      if (on == 1) set.insert(name);
    return set;
  };
  auto rotation = [](const json& stream) {
    for (const auto& sd : stream.value("side_data_list", json::array()))
      if (sd["side_data_type"] == "Display Matrix") return sd["rotation"].get<int>();
    return 0;
  };
  const json src = probe("mpeg4.nut");  // its first frame is shown at 0.04 s
  for (const char* input : {"disp.h4mk", "-f h4mk -i pipe:0 < disp.h4mk"}) {
    const json j = probe(input);
    ASSERT_EQ(j["streams"].size(), 2u) << input;
    const json &v = j["streams"][0], &a = j["streams"][1];
    EXPECT_EQ(flags(v), std::set<std::string>{}) << input;
    EXPECT_EQ(flags(a), (std::set<std::string>{"hearing_impaired", "comment"})) << input;
    EXPECT_EQ(rotation(v), 90) << input;
    EXPECT_EQ(a.value("side_data_list", json::array()).size(), 0u) << input;
    // NUT leaves it unset (the same gap in libavformat); the first packet's pts.
    EXPECT_FALSE(src["streams"][0].contains("start_time"));
    ASSERT_EQ(j["packets"][0]["stream_index"], 0);
    EXPECT_EQ(v["start_time"], j["packets"][0]["pts_time"]) << input;
  }
  // The video track's own duration, not the file's (the audio is 4 s, the
  // video 6 s: 150 frames at 25 Hz).
  ffmpeg("-i disp.h4mk -map 0:v -c copy disp.video.h4mk");
  const json v = probe("disp.video.h4mk")["streams"][0];
  EXPECT_EQ(v["start_time"], "0.040000");
  EXPECT_EQ(v["duration"], "6.000000");
  EXPECT_EQ(rotation(v), 90);
  // Rewritten from h4mk, and into matroska, the same again.
  ffmpeg("-i disp.h4mk -map 0 -c copy disp.again.h4mk");
  ffmpeg("-i disp.h4mk -map 0 -c copy disp.mkv");
  for (const char* file : {"disp.again.h4mk", "disp.mkv"}) {
    const json j = probe(file);
    EXPECT_EQ(flags(j["streams"][1]), (std::set<std::string>{"hearing_impaired", "comment"}))
        << file;
    EXPECT_EQ(rotation(j["streams"][0]), 90) << file;
  }
}

// A cut keeps what each track says of itself true: a subtitle track's
// first cue is seldom among the packets probing reads, so its start and end
// come from the file's index (else the stream takes the file's times, and
// the last cue's end is left out of the file's duration); and the DURATION
// tag matroskadec gives each stream, the source's length, is not stored.
TEST(FFmpeg, ACutKeepsSubtitleTimesAndNoStaleDurationTag) {
  make_sources();
  std::ofstream(work_dir() / "late.srt")
      << "1\n00:00:01,000 --> 00:00:02,500\nlate\n\n2\n00:00:03,000 --> 00:00:03,500\ncut\n\n";
  ffmpeg(
      "-f lavfi -i testsrc=duration=4:size=96x64:rate=25 -i late.srt -map 0 -map 1 -c:v mpeg4 "
      "-c:s subrip -metadata:s:v:0 kept=yes late.mkv");
  ffmpeg("-i late.mkv -t 2 -map 0 -c copy late.h4mk");
  for (const char* input : {"late.h4mk", "-f h4mk -i pipe:0 < late.h4mk"}) {
    const json j = probe(input);
    ASSERT_EQ(j["streams"].size(), 2u) << input;
    for (const auto& st : j["streams"]) {
      const json tags = st.value("tags", json::object());
      for (const auto& [key, value] : tags.items())
        EXPECT_NE(strcasecmp(key.c_str(), "duration"), 0)
            << input << ": stream " << st["index"] << " keeps " << key << "=" << value;
    }
    EXPECT_EQ(j["streams"][0].value("tags", json::object()).value("KEPT", ""), "yes") << input;
    const json& sub = j["streams"][1];
    EXPECT_EQ(sub["codec_type"], "subtitle");
    EXPECT_EQ(sub.value("start_time", ""), "1.000000") << input;
    EXPECT_EQ(sub.value("duration", ""), "1.500000") << input;
    EXPECT_EQ(j["format"].value("duration", ""), "2.500000") << input;
  }
}

// The extent of the first chunk with this tag ({size, size} if none).
ChunkExtent first_chunk(const std::string& f, const std::string& tag) {
  for (const auto& c : chunk_layout({reinterpret_cast<const uint8_t*>(f.data()), f.size()}))
    if (c.tag == tag) return c;
  return {f.size(), f.size(), ""};
}

// Side data is handed on only when its stored bytes fit the layout of its
// registered id (FORMAT.md §6.1): a hostile or foreign file with a 4-byte
// display matrix would make av_dump_format() read 36, and IAMF parameters
// whose count claims more subblocks than the bytes hold would be walked past
// their end. Byte payloads and fitting layouts pass; stream and packet side
// data alike, each ignored type named once. Registered codec parameters and
// dispositions that do not fit are ignored with a warning naming them, and
// what is left of the track reads.
TEST(FFmpeg, SideDataThatDoesNotFitItsLayoutIsIgnoredWithAWarning) {
  const std::string matrix36 = "AAABAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAABA";  // identity
  // 8 kHz mono PCM whose track object carries the given registered members.
  auto pcm_track = [](uint16_t id, const std::string& members) {
    return Track{.id = id,
                 .kind = TrackKind::kAudio,
                 .codec = "pcm_s16le",
                 .time_base = {1, 8000},
                 .sample_rate = 8000,
                 .channels = 1,
                 .extra_json = R"({"ffmpeg":{"format":"s16"},)" + members + "}"};
  };
  const Track t = pcm_track(
      1, R"("side_data":{"display_matrix":"AAAAAA==",)"
         R"("mdcv":"AAAAAAAAAAA=","icc_profile":"AQID","clli":"AAAAAAAA",)"
         R"("iamf_mix_gain":"AAAAAP///38AAAAAAAAAAAAAAAAAAAAA",)"
         R"("ref_displays_3d":"CgEU/w==","skip_samples":"AQID",)"
         R"("ffmpeg.Display Matrix":")" +
             matrix36 +
             R"("},)"
             R"("codec_params":{"bit_rate":-5,"block_align":"2","sample_aspect_ratio":[0,1],)"
             R"("field_order":"ttb","color":{"primaries":300,"transfer":19,"range":"studio",)"
             R"("chroma_location":6}},"disposition":"default+bogus")");
  // Luminance only (primaries and white point 0: not known), and a
  // stereo3d whose type is not one the registry lists.
  const std::string mdcv_luminance_only = "AAAAAAAAAAAAAAAAAAAAAACYloAAAAAy";
  const std::string stereo_type_9 = "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAABAAAA";
  const Track u =
      pcm_track(2, R"("side_data":{"display_matrix":")" + matrix36 + R"(","mdcv":")" +
                       mdcv_luminance_only + R"(","stereo3d":")" + stereo_type_9 + R"("},)" +
                       R"("codec_params":{"block_align":2},"disposition":"forced")");
  {
    FileSink sink((work_dir() / "sidedata.h4mk").string());
    Writer w(sink);
    w.add_track(t);
    w.add_track(u);
    std::vector<uint8_t> pcm(160, 0), bad, skip;
    append_side_data(bad, "display_matrix", std::vector<uint8_t>(4, 0));
    append_side_data(bad, "hdr10plus", std::vector<uint8_t>(3, 0xff));
    append_side_data(bad, "ffmpeg.Skip Samples", std::vector<uint8_t>(10, 0));
    append_side_data(skip, "skip_samples", std::vector<uint8_t>(10, 0));
    w.write_block({1, BlockType::kI, 0, 0, 80}, pcm, bad);
    w.write_block({2, BlockType::kI, 0, 0, 80}, pcm, skip);
    w.finish();
  }
  Result r = run(kFfprobe + " -v warning -of json -show_streams -show_packets sidedata.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  const json j = json::parse(r.out);
  auto types = [](const json& x) {
    std::set<std::string> set;
    for (const auto& sd : x.value("side_data_list", json::array()))
      set.insert(sd["side_data_type"].get<std::string>());
    return set;
  };
  EXPECT_EQ(types(j["streams"][0]), std::set<std::string>{"ICC Profile"});
  EXPECT_EQ(types(j["streams"][1]),
            (std::set<std::string>{"Display Matrix", "Mastering display metadata"}));
  for (const json& sd : j["streams"][1]["side_data_list"])
    if (sd["side_data_type"] == "Mastering display metadata") {
      EXPECT_FALSE(sd.contains("red_x")) << sd;
      EXPECT_EQ(sd["max_luminance"], "10000000/10000") << sd;
      EXPECT_EQ(sd["min_luminance"], "50/10000") << sd;
    }
  ASSERT_EQ(j["packets"].size(), 2u);
  for (const json& p : j["packets"])
    EXPECT_EQ(types(p), p["stream_index"] == 0 ? std::set<std::string>{}
                                               : std::set<std::string>{"Skip Samples"});
  const json& a = j["streams"][0];
  EXPECT_EQ(a["bit_rate"], "128000") << a;  // ffprobe's own, of PCM: -5 was not taken
  EXPECT_EQ(a["disposition"]["default"], 1);
  EXPECT_EQ(j["streams"][1]["disposition"]["forced"], 1);
  for (const char* warning :
       {"stream 0: side_data.display_matrix does not fit its layout (side data "
        "\"display_matrix\": 4 bytes, the layout has 36); ignored",
        "stream 0: side_data.mdcv does not fit its layout",
        "stream 0: side_data.clli does not fit its layout",
        "stream 0: side_data.skip_samples does not fit its layout",
        "stream 0: side_data.iamf_mix_gain does not fit its layout",
        "stream 0: side_data.ref_displays_3d does not fit its layout",
        "stream 1: side_data.stereo3d does not fit its layout (side data \"stereo3d\": type at "
        "byte 0: 9 is not a listed value)",
        "stream 0, group at offset ", "hdr10plus side data of 3 bytes",
        "stream 0: codec_params.bit_rate is not an integer in 1..9223372036854775807; ignored",
        "stream 0: codec_params.block_align is not an integer in 1..2147483647; ignored",
        "stream 0: codec_params.sample_aspect_ratio is not [num, den]",
        "stream 0: codec_params.field_order is not a registered name; ignored",
        "stream 0: codec_params.color.range is not a registered name; ignored",
        "stream 0: codec_params.color.primaries is not an integer in 0..255; ignored",
        "stream 0: codec_params.color.transfer 19 is not known to FFmpeg; ignored",
        "stream 0: codec_params.color.chroma_location is not an integer in 0..5",
        "stream 0: disposition \"bogus\" is not known; ignored"})
    EXPECT_NE(r.err.find(warning), std::string::npos) << warning << "\n" << r.err;
  // A packet's once per type, though two packets' are ignored; application
  // keys (ffmpeg.*) are not FFmpeg's side data, whatever their name.
  const std::string once = "display_matrix side data of 4 bytes";
  ASSERT_NE(r.err.find(once), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(once, r.err.find(once) + 1), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Skip Samples"), std::string::npos) << r.err;
}

// Every struct-valued side data type, at stream and packet level, through
// the real muxer: the file holds each under the id FORMAT.md §6.1 registers,
// in the layout it gives (ids and bytes written out by hand in
// ffmpeg_side_data.c), and the demuxer gives every value back. A file
// written before the registry (FFmpeg's display names as keys, the structs'
// bytes as values, kept in tests/ffmpeg/data) still reads its media, and
// none of those values is taken for side data.
TEST(FFmpeg, SideDataIsStoredInTheLayoutsOfTheSpec) {
  const std::string tool = H4MK_FFMPEG_SIDE_DATA;
  const std::string file = (work_dir() / "layouts.h4mk").string();
  Result w = run(tool + " write " + file);
  ASSERT_EQ(w.status, 0) << w.err;
  Result stored = run(tool + " stored " + file);
  EXPECT_EQ(stored.status, 0) << stored.out << stored.err;
  Result back = run(tool + " check " + file);
  EXPECT_EQ(back.status, 0) << back.out << back.err;
  EXPECT_EQ(back.err.find("ignored"), std::string::npos) << back.err;
  // A struct under another type's id, a rational no unit holds: left out.
  const std::string odd = (work_dir() / "mismatched.h4mk").string();
  Result m = run(tool + " mismatched " + odd);
  ASSERT_EQ(m.status, 0) << m.err;
  for (const char* warning :
       {"IAMF Demixing Info Parameter Data side data does not fit its registered layout",
        "Mastering display metadata side data does not fit"})
    EXPECT_NE(m.err.find(warning), std::string::npos) << warning << "\n" << m.err;
  EXPECT_FALSE(probe(odd)["streams"][0].contains("side_data_list"));
  const json old = probe(H4MK_FFMPEG_TEST_DATA "/side_data_struct_bytes.h4mk");
  ASSERT_EQ(old["streams"].size(), 1u);
  EXPECT_EQ(old["packets"].size(), 2u);
  EXPECT_FALSE(old["streams"][0].contains("side_data_list")) << old["streams"][0];
  for (const json& p : old["packets"]) EXPECT_FALSE(p.contains("side_data_list")) << p;
}

// Codec parameters and dispositions go under FORMAT.md §6.1's registered
// names, colour as H.273 code points, and come back from the file, a pipe
// and a second remux; FFmpeg's own member keeps only what has no definition
// outside FFmpeg.
TEST(FFmpeg, CodecParametersAreStoredUnderTheirRegisteredNames) {
  ffmpeg(
      "-f lavfi -i testsrc=duration=1:size=160x120:rate=25 "
      "-vf setparams=field_mode=tff:color_primaries=bt709:color_trc=smpte2084:colorspace=bt2020nc "
      "-flags +ildct -c:v mpeg4 -aspect 16:9 -chroma_sample_location topleft "
      "-disposition:v default+forced params.h4mk");
  const auto bytes = read_file((work_dir() / "params.h4mk").string());
  MemorySource src(bytes);
  Reader reader(src);
  const json track = json::parse(reader.tracks()[0].extra_json);
  const json& p = track["codec_params"];
  EXPECT_EQ(p["color"], json::parse(R"({"primaries":1,"transfer":16,"matrix":9,"range":"limited",)"
                                    R"("chroma_location":2})"))
      << track;
  EXPECT_EQ(p["field_order"], "tb") << track;
  EXPECT_EQ(p["sample_aspect_ratio"], json::parse("[4,3]")) << track;
  EXPECT_GT(p.value("bit_rate", 0), 0) << track;
  EXPECT_EQ(track["disposition"], "default+forced") << track;
  for (const auto& [key, value] : track["ffmpeg"].items())
    EXPECT_TRUE(key == "format" || key == "profile" || key == "level" || key == "codec_tag")
        << key << " in " << track["ffmpeg"];
  ffmpeg("-i params.h4mk -map 0 -c copy params.again.h4mk");
  for (const char* input :
       {"params.h4mk", "-f h4mk -i pipe:0 < params.h4mk", "params.again.h4mk"}) {
    const json v = probe(input)["streams"][0];
    EXPECT_EQ(v["color_primaries"], "bt709") << input;
    EXPECT_EQ(v["color_transfer"], "smpte2084") << input;
    EXPECT_EQ(v["color_space"], "bt2020nc") << input;
    EXPECT_EQ(v["color_range"], "tv") << input;
    EXPECT_EQ(v["chroma_location"], "topleft") << input;
    EXPECT_EQ(v["field_order"], "tb") << input;
    EXPECT_EQ(v["sample_aspect_ratio"], "4:3") << input;
    EXPECT_EQ(v["disposition"]["forced"], 1) << input;
  }
}

// A stream of no codec (the data demuxer's) is refused, naming it, rather
// than stored as h4core, which a reader would hand to an adapter; a data
// track an h4mk file gave keeps the codec that file named.
TEST(FFmpeg, AStreamOfNoCodecIsRefusedNotCalledH4core) {
  std::ofstream(work_dir() / "raw.bin") << std::string(4096, 'x');
  Result r = run(kFfmpeg + " -v error -y -f data -i raw.bin -map 0 -c copy nocodec.h4mk");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("stream 0 has no codec"), std::string::npos) << r.err;
  make_sources();  // demo.h4mk's h4core data track comes back as data, and stays h4core
  ffmpeg("-i demo.h4mk -map 0 -c copy demo.again.h4mk");
  const auto bytes = read_file((work_dir() / "demo.again.h4mk").string());
  MemorySource src(bytes);
  Reader reader(src);
  for (const Track& t : reader.tracks()) EXPECT_FALSE(t.codec.empty());
  EXPECT_TRUE(std::any_of(reader.tracks().begin(), reader.tracks().end(),
                          [](const Track& t) { return t.codec == "h4core"; }));
}

// The series' documentation sits beside its neighbours without splitting
// them: the h4mk muxer's section used to come between "@anchor{hash}" and
// the hash muxer's section (so @ref{hash} landed on h4mk), and the H4MK row
// of the format table between GXF's row and its description.
TEST(FFmpeg, TheDocsKeepTheirNeighboursWhole) {
  auto lines = [](const std::string& name) {
    std::ifstream in(std::string(H4MK_FFMPEG_SRC) + "/doc/" + name);
    std::vector<std::string> v;
    for (std::string line; std::getline(in, line);) v.push_back(line);
    EXPECT_FALSE(v.empty()) << name;
    return v;
  };
  for (const char* doc : {"muxers.texi", "demuxers.texi", "bitstream_filters.texi", "decoders.texi",
                          "encoders.texi"}) {
    const auto v = lines(doc);
    for (size_t i = 1; i < v.size(); i++)
      if (v[i].starts_with("@section h4"))
        EXPECT_FALSE(v[i - 1].starts_with("@anchor{") && !v[i - 1].starts_with("@anchor{h4"))
            << doc << ":" << i + 1 << " " << v[i] << " follows " << v[i - 1];
  }
  const auto hash = lines("muxers.texi");
  const auto at = std::find(hash.begin(), hash.end(), "@anchor{hash}");
  ASSERT_NE(at, hash.end());
  EXPECT_EQ(*std::next(at), "@section hash");
  // The formats table: H4MK's row with its own description, after GXF's
  // row with GXF's.
  const auto table = lines("general_contents.texi");
  const auto h4 = std::find_if(table.begin(), table.end(),
                               [](const std::string& l) { return l.starts_with("@item H4MK "); });
  ASSERT_NE(h4, table.end());
  ASSERT_NE(std::next(h4), table.end());
  EXPECT_NE(std::next(h4)->find("via libh4mk"), std::string::npos) << *std::next(h4);
  auto row = std::make_reverse_iterator(h4);
  while (row != table.rend() && !row->starts_with("@item ")) ++row;
  ASSERT_NE(row, table.rend());
  EXPECT_TRUE(row->starts_with("@item GXF ")) << *row;
  EXPECT_TRUE(std::any_of(row.base(), h4, [](const std::string& l) {
    return l.find("General eXchange Format") != std::string::npos;
  })) << "GXF's description is not in its row";
}

// TRAK codec ids are FORMAT.md §6.2's: a listed codec under its id, one the
// registry does not list under "ffmpeg." and FFmpeg's name, which the
// demuxer reads back. A name that is neither (a bare FFmpeg name of an
// unlisted codec, a listed one under FFmpeg's prefix) is a codec FFmpeg does
// not know: a data stream that keeps the name.
TEST(FFmpeg, CodecIdsAreTheRegistrysOrFFmpegsUnderItsPrefix) {
  ffmpeg(
      "-f lavfi -i sine=duration=1 -f lavfi -i sine=duration=1 -map 0 -map 1 -c:a:0 pcm_s16le "
      "-c:a:1 pcm_s8 codecs.h4mk");
  {
    const auto bytes = read_file((work_dir() / "codecs.h4mk").string());
    MemorySource src(bytes);
    Reader reader(src);
    ASSERT_EQ(reader.tracks().size(), 2u);
    EXPECT_EQ(reader.tracks()[0].codec, "pcm_s16le");
    EXPECT_EQ(reader.tracks()[1].codec, "ffmpeg.pcm_s8");
  }
  json j = probe("codecs.h4mk");
  EXPECT_EQ(j["streams"][0]["codec_name"], "pcm_s16le");
  EXPECT_EQ(j["streams"][1]["codec_name"], "pcm_s8");
  {
    FileSink sink((work_dir() / "codecs.foreign.h4mk").string());
    Writer w(sink);
    for (uint16_t id : {1, 2, 3})
      w.add_track(Track{.id = id,
                        .kind = TrackKind::kAudio,
                        .codec = id == 1   ? "pcm_s8"
                                 : id == 2 ? "ffmpeg.pcm_s16le"
                                           : "ffmpeg.nosuch",
                        .time_base = {1, 8000},
                        .sample_rate = 8000,
                        .channels = 1});
    for (uint16_t id : {1, 2, 3})
      w.write_block({id, BlockType::kI, 0, 0, 80}, std::vector<uint8_t>(80, 0));
    w.finish();
  }
  j = probe("codecs.foreign.h4mk");
  ASSERT_EQ(j["streams"].size(), 3u);
  const char* names[] = {"pcm_s8", "ffmpeg.pcm_s16le", "ffmpeg.nosuch"};
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(j["streams"][i]["codec_type"], "data") << j["streams"][i];
    EXPECT_EQ(j["streams"][i]["tags"]["h4mk_codec"], names[i]) << j["streams"][i];
  }
}

// The demuxer and muxer map registered ids to codecs through FFmpeg's codec
// names (ff_h4mk_codec_name, ff_h4mk_codec_id): every id but h4core (FFmpeg
// has h4core_audio and h4core_video) must be FFmpeg's name for its codec.
TEST(FFmpeg, EveryRegisteredCodecIdIsFFmpegsNameForIt) {
  const std::string listed = ffmpeg("-codecs");
  std::set<std::string> names;
  std::istringstream in(listed);
  for (std::string line, flags, name; std::getline(in, line);) {
    std::istringstream words(line);
    if (words >> flags >> name && flags.size() == 6) names.insert(name);
  }
  ASSERT_GT(names.size(), 300u) << listed;
  for (std::string_view id : registered_codec_ids())
    if (id != "h4core") EXPECT_TRUE(names.count(std::string(id))) << id;
}

// Dispositions map by name too (FORMAT.md §6.1's names are FFmpeg's): every
// registered one but attached_pic (which needs a picture) set by ffmpeg is
// stored under its bit, and comes back in ffprobe.
TEST(FFmpeg, EveryRegisteredDispositionRoundTripsByName) {
  std::string all;
  for (std::string_view name : kDispositionNames)
    if (name != "attached_pic") all += (all.empty() ? "" : "+") + std::string(name);
  ffmpeg("-f lavfi -i sine=duration=0.2 -c:a pcm_s16le -disposition:a:0 " + all + " disp.all.h4mk");
  const auto bytes = read_file((work_dir() / "disp.all.h4mk").string());
  MemorySource src(bytes);
  Reader reader(src);
  ASSERT_EQ(reader.tracks().size(), 1u);
  const uint32_t bits = read_track_params(reader.tracks()[0]).disposition;
  const json d = probe("disp.all.h4mk")["streams"][0]["disposition"];
  for (size_t bit = 0; bit < std::size(kDispositionNames); ++bit) {
    const std::string name(kDispositionNames[bit]);
    const bool set = name != "attached_pic";
    EXPECT_EQ((bits >> bit) & 1, set ? 1u : 0u) << name;
    EXPECT_EQ(d.value(name, -1), set ? 1 : 0) << name << " " << d;
  }
}

// An MP4 cut with -ss and -c copy keeps the packets from the keyframe before
// the cut and hides them with an edit list: the mov demuxer marks them
// DISCARD (decoded, not shown). H4MK keeps the flag, so the remux shows and
// plays what the MP4 does (Matroska and NUT show the hidden frames: 73
// frames instead of 67 here), and the start time ignores the hidden packets
// as libavformat's does. Matroska is not compared: with negative timestamps
// its muxer's shift depends on which packets wait in the interleaving queue,
// and H4MK hands them out a group (up to 2 s of a track) at a time.
TEST(FFmpeg, PacketsAnEditListHidesStayHidden) {
  ffmpeg(
      "-f lavfi -i testsrc=duration=4:size=160x120:rate=25 -f lavfi -i sine=duration=4 "
      "-c:v mpeg4 -bf 2 -g 25 -c:a flac editlist.src.mp4");
  ffmpeg("-ss 1.3 -i editlist.src.mp4 -map 0 -c copy editlist.mp4");
  ffmpeg("-i editlist.mp4 -map 0 -c copy editlist.h4mk");
  ffmpeg("-copyts -i editlist.mp4 -map 0 -c copy editlist.copyts.h4mk");
  const std::string with_discard = framecrc("editlist.mp4");
  ASSERT_NE(with_discard.find("F=0x4"), std::string::npos) << "no hidden packets in the source";
  EXPECT_EQ(framecrc("editlist.h4mk"), with_discard);
  EXPECT_EQ(framecrc("editlist.copyts.h4mk", "-copyts"), framecrc("editlist.mp4", "-copyts"));
  // Decoded: the same frames and samples at the same times.
  auto decoded = [](const std::string& file) {
    return ffmpeg("-i " + file + " -map 0 -c:v rawvideo -c:a pcm_s16le -f framecrc -");
  };
  auto video_frames = [](const std::string& crc) {
    const auto lines = packet_lines(crc);
    return std::count_if(lines.begin(), lines.end(),
                         [](const std::string& l) { return l.rfind("0,", 0) == 0; });
  };
  auto start_times = [](const std::string& file) {
    const json j = probe(file);
    std::vector<std::string> s{j["format"]["start_time"].get<std::string>()};
    for (const auto& st : j["streams"]) s.push_back(st["start_time"].get<std::string>());
    return s;
  };
  const std::string want = decoded("editlist.mp4");
  EXPECT_EQ(video_frames(want), 67);
  for (const std::string f : {"editlist.h4mk", "editlist.copyts.h4mk"}) {
    EXPECT_EQ(decoded(f), want) << f;
    EXPECT_EQ(start_times(f), start_times("editlist.mp4")) << f;
  }
}

// A one-track file of 8 kHz PCM silence, one 80-sample I block per entry of
// `blocks`: whether the block is flagged masked, and its side data.
struct PcmBlock {
  bool masked = false;
  std::vector<uint8_t> side_data;
};
void write_pcm_file(const std::string& name, const std::vector<PcmBlock>& blocks) {
  FileSink sink((work_dir() / name).string());
  Writer w(sink);
  w.add_track({.id = 1,
               .kind = TrackKind::kAudio,
               .codec = "pcm_s16le",
               .time_base = {1, 8000},
               .sample_rate = 8000,
               .channels = 1});
  const std::vector<uint8_t> pcm(160, 0);
  int64_t t = 0;
  for (const PcmBlock& b : blocks) {
    BlockInfo info{1, BlockType::kI, t, t, 80};
    info.masked = b.masked;
    w.write_block(info, pcm, b.side_data);
    t += 80;
  }
  w.finish();
}

// Each packet's flags as ffprobe's JSON shows them.
std::vector<std::string> packet_flags(const json& probed) {
  std::vector<std::string> flags;
  for (const auto& p : probed["packets"]) flags.push_back(p["flags"].get<std::string>());
  return flags;
}

// "packet_flags" (FORMAT.md §5.4) gives back DISCARD and CORRUPT; a
// file cannot make a packet TRUSTED, and names it does not know are ignored.
TEST(FFmpeg, PacketFlagsComeBackButNeverTrusted) {
  std::vector<PcmBlock> blocks;
  for (const char* names : {"", "corrupt", "discard+corrupt", "trusted+bogus+", "discard"}) {
    PcmBlock& b = blocks.emplace_back();
    if (*names)
      append_side_data(b.side_data, "packet_flags",
                       {reinterpret_cast<const uint8_t*>(names), std::strlen(names)});
  }
  write_pcm_file("flags.h4mk", blocks);
  EXPECT_EQ(packet_flags(probe("flags.h4mk")),
            (std::vector<std::string>{"K__", "K_C", "KDC", "K__", "KD_"}));
}

// A block flagged masked on a track without mask parameters (FORMAT.md
// §13.1) holds bytes no key opens: it is passed on marked corrupt with a
// warning, so -fflags discardcorrupt drops it and a remux keeps the mark,
// never as plain PCM.
TEST(FFmpeg, AMaskedBlockNoKeyOpensIsPassedOnMarkedCorrupt) {
  write_pcm_file("opaque.h4mk", {{}, {}, {.masked = true}, {}});
  const std::vector<std::string> want{"K__", "K__", "K_C", "K__"};
  const Result r = run(kFfprobe + " -v warning -of json -show_packets opaque.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(packet_flags(json::parse(r.out)), want);
  EXPECT_NE(r.err.find("stream 0: the block at pts 160 (chunk at offset "), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("is masked, but its track has no mask parameters"), std::string::npos)
      << r.err;
  EXPECT_EQ(
      packet_lines(ffmpeg("-fflags +discardcorrupt -i opaque.h4mk -c copy -f framecrc -")).size(),
      3u);
  ffmpeg("-i opaque.h4mk -c copy opaque-remuxed.h4mk");
  EXPECT_EQ(packet_flags(probe("opaque-remuxed.h4mk")), want);
}

// An H4MK file written into an AVIOContext that already holds other bytes
// (a program embedding it in a stream of its own): the muxer's seek back to
// fill in the HINT lands in its own file, so the file after the prefix is
// sound, its HINT right, and its packets those of the source.
TEST(FFmpeg, MuxerSeeksRelativeToWhereItsFileStarts) {
  make_sources();
  ffmpeg("-i mpeg4.nut -c copy prefix.src.h4mk");
  Result r = run(kMuxAfterPrefix + " prefix.src.h4mk prefixed.bin 1000");
  ASSERT_EQ(r.status, 0) << r.err;
  auto all = read_file((work_dir() / "prefixed.bin").string());
  ASSERT_GT(all.size(), 1000u);
  EXPECT_EQ(std::count(all.begin(), all.begin() + 1000, uint8_t(0xAA)), 1000);
  const std::vector<uint8_t> file(all.begin() + 1000, all.end());
  write_file((work_dir() / "prefixed.h4mk").string(), file);
  EXPECT_EQ(first_chunk(std::string(file.begin(), file.end()), "HINT").offset,
            16u + 12u + detail::load_u32(&file[20]));
  MemorySource src(file);
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
  EXPECT_EQ(framecrc("prefixed.h4mk"), framecrc("prefix.src.h4mk"));
}

// Chapters: a file with chapters (written by libh4mk: this FFmpeg build has
// no demuxer that could make one from text) shows them in ffprobe, carries
// them into matroska, and comes back from matroska into h4mk with the same
// times, titles and tags.
// A w x h grey PNG (what the build's png decoder reads for the dimensions).
std::string grey_png(uint32_t w, uint32_t h) {
  auto be32 = [](std::string& s, uint32_t v) {
    for (int i = 3; i >= 0; --i) s.push_back(char(v >> (8 * i)));
  };
  auto chunk = [&](std::string& png, const char* type, const std::string& data) {
    be32(png, uint32_t(data.size()));
    const std::string body = type + data;
    png += body;
    be32(png, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  };
  std::string ihdr, rows, png = "\x89PNG\r\n\x1a\n";
  be32(ihdr, w);
  be32(ihdr, h);
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit grey, no interlace
  for (uint32_t y = 0; y < h; ++y) {
    rows.push_back(0);  // filter: none
    for (uint32_t x = 0; x < w; ++x) rows.push_back(char((x * 16 + y * 4) & 0xff));
  }
  uLongf size = compressBound(uLong(rows.size()));
  std::string idat(size, '\0');
  compress(reinterpret_cast<Bytef*>(idat.data()), &size,
           reinterpret_cast<const Bytef*>(rows.data()), uLong(rows.size()));
  idat.resize(size);
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", idat);
  chunk(png, "IEND", "");
  return png;
}

// `ffmpeg -i x.mkv -map 0 -c copy y.h4mk` with a font attachment (as ASS
// subtitles come) and cover art: both are kept (ATCH, FORMAT.md §7.2) and
// come back as matroska gives them, through -dump_attachment and a remux
// back to matroska. The cover is the video stream's attached_pic, handed out
// first and again after a seek, as from matroska, and no open warns.
TEST(FFmpeg, AttachmentsAndCoverArtSurviveARemuxAsMatroskaKeepsThem) {
  make_sources();
  std::string font(70000, '\0');
  for (size_t i = 0; i < font.size(); ++i) font[i] = char(i * 7 + 1);
  const std::string png = grey_png(16, 12);
  std::ofstream(work_dir() / "font.ttf", std::ios::binary) << font;
  std::ofstream(work_dir() / "cover.png", std::ios::binary) << png;
  ffmpeg(
      "-i flac.flac -i subs.srt -attach font.ttf -metadata:s:2 "
      "mimetype=application/x-truetype-font -attach cover.png -metadata:s:3 mimetype=image/png "
      "-map 0 -map 1 -c copy attached.mkv");
  Result mux =
      run(kFfmpeg + " -nostdin -v warning -y -i attached.mkv -map 0 -c copy attached.h4mk");
  ASSERT_EQ(mux.status, 0) << mux.err;
  EXPECT_EQ(mux.err.find("stored as a packet"), std::string::npos) << mux.err;

  for (const char* file : {"attached.mkv", "attached.h4mk"}) {
    Result r = run(kFfprobe + " -v warning -of json -show_streams " + file);
    ASSERT_EQ(r.status, 0) << r.err;
    // No "Attached picture ... has invalid size", nothing from the demuxer
    // (the lean build has no subrip or ttf decoder: ffprobe says so).
    EXPECT_EQ(r.err.find("Attached picture"), std::string::npos) << file << r.err;
    EXPECT_EQ(r.err.find("h4mk @"), std::string::npos) << file << r.err;
    const json streams = json::parse(r.out)["streams"];
    std::map<std::string, json> by_type;
    for (const json& st : streams) by_type[st["codec_type"].get<std::string>()] = st;
    ASSERT_EQ(by_type.size(), 4u) << file << r.out;
    EXPECT_EQ(by_type["attachment"]["codec_name"], "ttf") << file;
    EXPECT_EQ(by_type["attachment"]["tags"]["filename"], "font.ttf") << file;
    EXPECT_EQ(by_type["attachment"]["tags"]["mimetype"], "application/x-truetype-font") << file;
    EXPECT_EQ(by_type["video"]["codec_name"], "png") << file;
    EXPECT_EQ(by_type["video"]["width"], 16) << file;
    EXPECT_EQ(by_type["video"]["disposition"]["attached_pic"], 1) << file;
  }
  for (const char* file : {"attached.h4mk", "attached.via-h4mk.mkv"}) {
    if (std::string(file).ends_with(".mkv"))
      ffmpeg("-i attached.h4mk -map 0 -c copy " + std::string(file));
    fs::remove(work_dir() / "dumped.ttf");
    ffmpeg("-dump_attachment:t:0 dumped.ttf -i " + std::string(file) + " -f null -");
    EXPECT_EQ(slurp(work_dir() / "dumped.ttf"), font) << file;
  }
  // The picture's packet (size and CRC), from the start and after a seek.
  auto picture_packets = [](const std::string& file, const std::string& opts) {
    std::vector<std::string> out;
    for (const std::string& line :
         packet_lines(ffmpeg(opts + " -i " + file + " -map 0:v -c copy -f framecrc -"))) {
      const size_t crc = line.rfind(','), size = line.rfind(',', crc - 1);
      out.push_back(line.substr(size + 1));  // "   size, 0xcrc"
    }
    return out;
  };
  for (const char* opts : {"", "-ss 1.5"}) {
    const auto want = picture_packets("attached.mkv", opts);
    ASSERT_EQ(want.size(), 1u) << opts;
    EXPECT_EQ(picture_packets("attached.h4mk", opts), want) << opts;
    EXPECT_NE(want[0].find(std::to_string(png.size())), std::string::npos) << want[0];
  }
}

TEST(FFmpeg, ChaptersSurviveARemuxThroughMatroskaAndBack) {
  make_sources();
  ffmpeg("-i pcm.wav -c copy chap.plain.h4mk");
  {
    auto bytes = read_file((work_dir() / "chap.plain.h4mk").string());
    MemorySource src(bytes);
    Reader r(src);
    FileSink sink((work_dir() / "chap.h4mk").string());
    Writer w(sink);
    for (const Track& t : r.tracks()) w.add_track(t);
    w.set_metadata_json(r.metadata_json());
    w.add_chapter({{1, 1000}, 0, 1500, 1, "Opening", {{"artist", "A"}}});
    w.add_chapter({{1, 48000}, 72000, 144000, 2, "Caf\xc3\xa9", {}});
    w.add_chapter({{1, 1000}, 3000, std::nullopt, 3, "Last", {}});  // ends with the file
    Block b;
    while (r.next(b) == ReadEvent::kBlock) w.write_block(b.info, b.data, b.side_data);
    w.finish();
  }
  auto chapters = [](const std::string& file) {
    Result r = run(kFfprobe + " -v error -of json -show_chapters " + file);
    EXPECT_EQ(r.status, 0) << r.err;
    const json probed = json::parse(r.out);
    json out = json::array();
    for (const auto& c : probed["chapters"])
      out.push_back({c["start_time"], c["end_time"], c.value("tags", json::object())});
    return out;
  };
  const json want =
      json::array({json::array({"0.000000", "1.500000", {{"title", "Opening"}, {"artist", "A"}}}),
                   json::array({"1.500000", "3.000000", {{"title", "Caf\xc3\xa9"}}}),
                   // No end in the file: FFmpeg ends it with the file (4 s of pcm.wav).
                   json::array({"3.000000", "4.000000", {{"title", "Last"}}})});
  EXPECT_EQ(chapters("chap.h4mk"), want);
  ffmpeg("-i chap.h4mk -c copy chap.mkv");
  json want_mkv = want;  // Matroska spells tag names in capitals
  want_mkv[0][2] = {{"title", "Opening"}, {"ARTIST", "A"}};
  EXPECT_EQ(chapters("chap.mkv"), want_mkv);
  ffmpeg("-i chap.mkv -c copy chap.back.h4mk");
  EXPECT_EQ(chapters("chap.back.h4mk"), want_mkv);
  auto bytes = read_file((work_dir() / "chap.back.h4mk").string());
  MemorySource src(bytes);
  Reader back(src);
  ASSERT_EQ(back.chapters().size(), 3u);
  EXPECT_EQ(back.chapters()[1].title, "Caf\xc3\xa9");
  EXPECT_TRUE(back.chapters()[2].end.has_value());  // filled in by FFmpeg: it knew the duration
  EXPECT_TRUE(verify(src).ok());
  // Through a pipe (no HINT) the chapters are the same.
  Result piped = run(kFfprobe + " -v error -of json -show_chapters -f h4mk -i pipe:0 < chap.h4mk");
  EXPECT_EQ(json::parse(piped.out)["chapters"].size(), 3u);
  // A damaged CHAP (its CRC intact, a chapter without "start") is named on
  // stderr at open; the chapters are missing, the packets are all there.
  auto f = read_file((work_dir() / "chap.h4mk").string());
  const ChunkExtent chap = first_chunk(std::string(f.begin(), f.end()), "CHAP");
  ASSERT_LT(chap.offset, f.size());
  const std::string text(f.begin() + long(chap.offset) + 12, f.begin() + long(chap.end));
  const size_t key = text.find("\"start\"");
  ASSERT_NE(key, std::string::npos);
  f[chap.offset + 12 + key + 3] = 'b';  // "stbrt"
  std::span<const uint8_t> payload(&f[chap.offset + 12], chap.end - chap.offset - 12);
  detail::store_u32(&f[chap.offset + 8],
                    detail::chunk_crc(detail::make_tag("CHAP"), uint32_t(payload.size()), payload));
  write_file((work_dir() / "chap.damaged.h4mk").string(), f);
  Result damaged = run(kFfprobe + " -v error -of json -show_chapters chap.damaged.h4mk");
  EXPECT_EQ(json::parse(damaged.out)["chapters"].size(), 0u);
  EXPECT_NE(damaged.err.find("damaged data at offset " + std::to_string(chap.offset) +
                             ": CHAP chunk at offset " + std::to_string(chap.offset) +
                             ": chapter #0: \"start\" is missing; ignored"),
            std::string::npos)
      << damaged.err;
  EXPECT_EQ(framecrc("chap.damaged.h4mk"), framecrc("chap.h4mk"));
}

// Tags that are not UTF-8 (which JSON cannot hold) are kept with the invalid
// bytes replaced by U+FFFD and a warning; the file is sound. (libh4mk used to
// throw from its JSON serialiser at the first packet, after writing the file
// header, and the next packet wrote the header again: an unreadable file.)
TEST(FFmpeg, TagsThatAreNotUtf8AreKeptWithReplacementCharacters) {
  make_sources();
  Result r = run(kFfmpeg +
                 " -nostdin -hide_banner -v warning -y -i pcm.wav -c copy "
                 "-metadata title=\"$(printf 'ab\\377cd')\" "
                 "-metadata:s:a:0 language=\"$(printf '\\376')\" latin1.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("metadata 'title' is not valid UTF-8: 1 invalid sequence stored as "
                       "U+FFFD"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("track 1 language is not valid UTF-8"), std::string::npos) << r.err;
  const json j = probe("latin1.h4mk");
  EXPECT_EQ(j["format"]["tags"]["title"],
            "ab\xef\xbf\xbd"
            "cd");
  EXPECT_EQ(j["streams"][0]["tags"]["language"], "\xef\xbf\xbd");
  EXPECT_EQ(framecrc("latin1.h4mk"), framecrc("pcm.wav"));
  auto bytes = read_file((work_dir() / "latin1.h4mk").string());
  MemorySource src(bytes);
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
}

TEST(FFmpeg, PipeOutputIsTheFileWithoutItsHintAndPipeInputReadsTheSame) {
  make_sources();
  ffmpeg("-i three.h4mk -map 0 -c copy -f h4mk file-out.h4mk");
  ffmpeg("-i three.h4mk -map 0 -c copy -f h4mk pipe:1 > pipe-out.h4mk");
  std::string a = slurp(work_dir() / "file-out.h4mk"), b = slurp(work_dir() / "pipe-out.h4mk");
  EXPECT_GT(a.size(), 1000u);
  // Seekable output gets a filled-in HINT (its size is the file's); a pipe
  // gets none. Without it the bytes are the same up to the seek tables, which
  // hold offsets (the VERI hash included: the chain does not cover the HINT).
  const auto hint = first_chunk(a, "HINT");
  ASSERT_EQ(hint.offset, first_chunk(a, "TRAK").end) << "no HINT right after TRAK in file output";
  EXPECT_EQ(first_chunk(b, "HINT").offset, b.size()) << "a HINT in pipe output";
  const size_t at = hint.offset, len = hint.end - hint.offset;
  EXPECT_EQ(detail::load_u64(reinterpret_cast<const uint8_t*>(a.data()) + at + 12), a.size());
  std::string without = a.substr(0, at) + a.substr(at + len);
  ASSERT_EQ(without.size(), b.size());
  const size_t tsek = first_chunk(b, "TSEK").offset;
  ASSERT_GT(tsek, first_chunk(b, "VERI").offset);
  EXPECT_TRUE(without.compare(0, tsek, b, 0, tsek) == 0)
      << "pipe output differs from file output beyond the HINT";
  for (const char* f : {"file-out.h4mk", "pipe-out.h4mk"}) {
    Result v = run(kTool + " verify " + f);
    EXPECT_EQ(v.status, 0) << f << "\n" << v.out << v.err;
  }
  EXPECT_EQ(framecrc("pipe:0 < file-out.h4mk", "-f h4mk"), framecrc("file-out.h4mk"));
  EXPECT_EQ(framecrc("pipe-out.h4mk"), framecrc("file-out.h4mk"));
}

// Opening reads the first AVIO buffer (4 KiB) and nothing at the end of the
// file; the seek tables are read on the first seek. A file written to a pipe
// has no HINT, so opening reads its durations from the end instead.
TEST(FFmpeg, OpeningReadsOnlyTheFirstFourKilobytes) {
  make_sources();
  ffmpeg("-i pcm.wav -i mpeg4.nut -map 0 -map 1 -c copy -f h4mk open.h4mk");
  ffmpeg("-i pcm.wav -i mpeg4.nut -map 0 -map 1 -c copy -f h4mk pipe:1 > open-pipe.h4mk");
  const uint64_t size = fs::file_size(work_dir() / "open.h4mk");
  ASSERT_GT(size, 100000u);
  auto stage = [](const std::string& out, const std::string& name, const std::string& key) {
    const size_t line = out.find(name + " ");
    EXPECT_NE(line, std::string::npos) << out;
    const size_t at = out.find(" " + key + "=", line);
    const size_t end = out.find_first_of(" \n", at + key.size() + 2);
    return out.substr(at + key.size() + 2, end - at - key.size() - 2);
  };
  Result r = run(kOpenReads + " open.h4mk");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LE(std::stoull(stage(r.out, "open", "bytes")), 4096u) << r.out;
  EXPECT_LE(std::stoull(stage(r.out, "open", "end")), 4096u) << r.out;
  EXPECT_EQ(std::stoull(stage(r.out, "seek", "end")), size) << r.out;  // the index, at the end
  // The durations are those of the index: what opening the pipe-written
  // file reads from the end.
  Result p = run(kOpenReads + " open-pipe.h4mk");
  ASSERT_EQ(p.status, 0) << p.err;
  EXPECT_EQ(std::stoull(stage(p.out, "open", "end")), fs::file_size(work_dir() / "open-pipe.h4mk"))
      << p.out;
  const std::string durations = stage(r.out, "open", "durations");
  EXPECT_EQ(durations, stage(p.out, "open", "durations"));
  EXPECT_EQ(durations.find("-"), std::string::npos) << durations;  // every one known
  json j = probe("open.h4mk");
  EXPECT_EQ(durations, std::to_string(j["streams"][0]["duration_ts"].get<int64_t>()) + "," +
                           std::to_string(j["streams"][1]["duration_ts"].get<int64_t>()));
}

TEST(FFmpeg, RandomSeeksLandOnTheRightKeyframe) {
  make_sources();
  ffmpeg("-i mpeg4.nut -map 0 -c copy -group_duration 0.5 seek.h4mk");
  for (const char* file : {"seek.h4mk", "three.h4mk"}) {
    Result r = run(kSeekTool + " " + file + " " + (std::string(file) == "three.h4mk" ? "1" : "0") +
                   " 1000 7");
    EXPECT_EQ(r.status, 0) << file << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("1000 seeks"), std::string::npos) << r.out;
  }
  // A file cut before its index seeks by bisection, just as exactly.
  std::string whole = slurp(work_dir() / "seek.h4mk");
  std::ofstream(work_dir() / "seek-cut.h4mk", std::ios::binary)
      .write(whole.data(), std::streamsize(whole.size() * 3 / 4));
  Result r = run(kSeekTool + " seek-cut.h4mk 0 300 8");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
}

// A seek that fails leaves reading where it was: a forward seek with no
// keyframe after the target (one keyframe in 20 s), and a backward seek on a
// pipe, which cannot go back (it used to resume silently further on).
TEST(FFmpeg, AFailedSeekLeavesReadingWhereItWas) {
  make_sources();
  ffmpeg(
      "-f lavfi -i testsrc=duration=20:size=96x64:rate=25 -f lavfi -i "
      "sine=duration=20:sample_rate=8000 -c:v mpeg4 -g 1000 -c:a pcm_s16le -f h4mk "
      "longgop.h4mk");
  Result count = run(kFfprobe +
                     " -v error -count_packets -show_entries stream=nb_read_packets "
                     "-of csv=p=0 longgop.h4mk");
  ASSERT_EQ(count.status, 0) << count.err;
  int total = 0;
  std::istringstream lines(count.out);
  for (std::string l; std::getline(lines, l);) total += l.empty() ? 0 : std::stoi(l);
  ASSERT_GT(total, 600);
  const std::string rest = "seek failed, then " + std::to_string(total - 100) + " packets\n";
  Result forward = run(kSeekTool + " --failing longgop.h4mk 0 100 10 0");
  EXPECT_EQ(forward.status, 0) << forward.err;
  EXPECT_EQ(forward.out, rest);
  Result back = run(kSeekTool + " --failing pipe:0 0 100 0 1 < longgop.h4mk");
  EXPECT_EQ(back.status, 0) << back.err;
  EXPECT_EQ(back.out, rest);
}

// A discarded stream is not read ahead, and comes back when it is turned on
// again without a seek (ffplay switching audio streams).
TEST(FFmpeg, ADiscardedStreamComesBackWhenTurnedOn) {
  make_sources();
  Result r = run(kSeekTool + " --undiscard three.h4mk 1");
  ASSERT_EQ(r.status, 0) << r.err;
  int before = -1, after = -1;
  ASSERT_EQ(std::sscanf(r.out.c_str(), "discarded %d, then %d of 200", &before, &after), 2)
      << r.out;
  EXPECT_EQ(before, 0) << r.out;
  EXPECT_GT(after, 20) << r.out;
}

// Video with subtitles keeps 2 s groups (one audio/video track): packets
// still come out in dts order, as from Matroska.
TEST(FFmpeg, VideoAndSubtitlesComeOutInDtsOrder) {
  make_sources();
  std::ofstream srt(work_dir() / "many.srt");
  for (int i = 0; i < 30; ++i)
    srt << i + 1 << "\n00:00:" << (i < 10 ? "0" : "") << i
        << ",100 --> 00:00:" << (i < 10 ? "0" : "") << i << ",900\nline " << i << "\n\n";
  srt.close();
  ffmpeg(
      "-f lavfi -i testsrc=duration=30:size=96x64:rate=25 -i many.srt -c:v mpeg4 -g 25 "
      "-c:s subrip vsub.h4mk");
  for (const std::string input : {"vsub.h4mk", "-f h4mk -i pipe:0 < vsub.h4mk"}) {
    Result r = run(kFfprobe + " -v error -show_entries packet=dts_time -of csv=p=0 " +
                   (input[0] == '-' ? input : "-i " + input));
    ASSERT_EQ(r.status, 0) << r.err;
    int back = 0, n = 0;
    double latest = -1e9;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l); ++n) {
      const double dts = std::stod(l);
      back += dts < latest;
      latest = std::max(latest, dts);
    }
    EXPECT_GT(n, 750) << input;
    EXPECT_EQ(back, 0) << input;
  }
}

// Per stream of framecrc output: its time base and first packet's pts and
// duration, in seconds.
struct FirstPacket {
  double pts = 0, duration = 0;
  int count = 0;
};
std::map<int, FirstPacket> first_packets(const std::string& crc) {
  std::map<int, double> tb;
  std::map<int, FirstPacket> out;
  std::istringstream in(crc);
  for (std::string line; std::getline(in, line);) {
    int stream = 0;
    long num = 0, den = 0;
    if (std::sscanf(line.c_str(), "#tb %d: %ld/%ld", &stream, &num, &den) == 3) {
      tb[stream] = double(num) / double(den);
      continue;
    }
    long long dts = 0, pts = 0, duration = 0;
    if (line.empty() || line[0] == '#' ||
        std::sscanf(line.c_str(), "%d, %lld, %lld, %lld", &stream, &dts, &pts, &duration) != 4)
      continue;
    FirstPacket& f = out[stream];
    if (f.count++ == 0) {
      f.pts = double(pts) * tb[stream];
      f.duration = double(duration) * tb[stream];
    }
  }
  return out;
}

// After a seek every stream resumes with the packet it needs at the time
// landed on. The video's block groups here start 0.5 s after the audio's, so
// the audio for a landing time can lie in a group before the video group
// landed on (a seek that only positioned the video lost up to a second of
// audio), and the audio group after it can start up to 2 s earlier (stale
// packets ahead of the video in a cut).
TEST(FFmpeg, SeekResumesEveryStreamOnTime) {
  make_sources();
  ffmpeg(
      "-f lavfi -i sine=duration=20 -itsoffset 0.5 -f lavfi "
      "-i testsrc=duration=19:size=160x120:rate=25 -map 1 -map 0 -c:v mpeg4 -g 25 -c:a aac "
      "offset.h4mk");
  for (const char* ss : {"3.1", "4.7", "5.2", "9.1", "14.6"}) {
    // -copyts: the file's own timestamps (shifted ones round to the output's
    // time base, 1/25 for this video).
    const auto first = first_packets(
        ffmpeg("-ss " + std::string(ss) + " -i offset.h4mk -c copy -copyts -f framecrc -"));
    ASSERT_EQ(first.count(0), 1u) << ss;
    ASSERT_EQ(first.count(1), 1u) << "-ss " << ss << ": no audio";
    const FirstPacket& video = first.at(0);
    const FirstPacket& audio = first.at(1);
    // The first audio packet is the one playing when the video key shows.
    EXPECT_LE(audio.pts, video.pts + 1e-6) << "-ss " << ss << ": audio resumes late";
    EXPECT_GT(audio.pts + audio.duration, video.pts) << "-ss " << ss << ": stale audio first";
    // Everything from there on: the rest of the 20 s of 23 ms frames.
    EXPECT_NEAR(audio.count, (20.0 - audio.pts) / (1024 / 44100.0), 2) << ss;
  }
}

TEST(FFmpeg, HttpWithRangeReadsAndSeeks) {
  make_sources();
  NginxServer server(work_dir());
  // The same packets over HTTP as from the file.
  json file = probe("three.h4mk"), http = probe(server.url("three.h4mk"));
  ASSERT_FALSE(http.is_discarded());
  EXPECT_EQ(packets_of(http), packets_of(file));
  EXPECT_EQ(http["format"]["tags"], file["format"]["tags"]);
  EXPECT_EQ(http["streams"][1]["duration"], file["streams"][1]["duration"]);
  // Seeking through Range requests lands exactly as on the file.
  Result r = run(kSeekTool + " " + server.url("three.h4mk") + " 1 200 11");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("200 seeks"), std::string::npos) << r.out;
  // Opening: the first request reads the header, one more fetches TAIL and
  // index together, one goes back to the data.
  size_t before = server.requests();
  Result open =
      run(kFfprobe + " -v error -show_entries format=duration " + server.url("three.h4mk"));
  EXPECT_EQ(open.status, 0) << open.err;
  EXPECT_LE(server.requests() - before, 3u);
}

// -verify_key: over plain HTTP, ffprobe and ffmpeg check every byte they
// read against the file's signature; a changed group (CRCs resealed) stops
// reading where it is and nowhere else.
TEST(FFmpeg, VerifyKeyOverHttpChecksWhatItReads) {
  ffmpeg(
      "-f lavfi -i testsrc=duration=20:size=160x120:rate=25 -f lavfi -i sine=duration=20 "
      "-c:v mpeg4 -g 25 -c:a aac -f h4mk av20.h4mk");
  ASSERT_EQ(run("openssl genpkey -algorithm ed25519 -out v.pem && "
                "openssl pkey -in v.pem -pubout -out v.pub && "
                "openssl genpkey -algorithm ed25519 -out o.pem && "
                "openssl pkey -in o.pem -pubout -out o.pub")
                .status,
            0);
  ASSERT_EQ(run(kTool + " sign av20.h4mk -o av20s.h4mk --private-key v.pem").status, 0);
  auto bad = read_file((work_dir() / "av20s.h4mk").string());
  const auto layout = chunk_layout(bad);
  std::vector<ChunkExtent> cores;
  for (const auto& c : layout)
    if (c.tag == "CORE") cores.push_back(c);
  const ChunkExtent target = cores[cores.size() * 2 / 3];
  bad[target.end - 5] ^= 0x01;
  reseal_chunk(bad, target.offset);
  write_file((work_dir() / "av20t.h4mk").string(), bad);
  NginxServer server(work_dir());

  // Signed: verified, the same packets as without the key.
  json with = probe("-verify_key v.pub " + server.url("av20s.h4mk"));
  ASSERT_FALSE(with.is_discarded());
  EXPECT_EQ(with["format"]["tags"]["h4mk_signature"], "verified");
  EXPECT_EQ(packets_of(with), packets_of(probe(server.url("av20s.h4mk"))));
  EXPECT_FALSE(probe(server.url("av20s.h4mk"))["format"]["tags"].contains("h4mk_signature"));
  // Unsigned, or another key: refused at open.
  Result r = run(kFfprobe + " -v error -verify_key v.pub " + server.url("av20.h4mk"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not signed"), std::string::npos) << r.err;
  r = run(kFfprobe + " -v error -verify_key o.pub " + server.url("av20s.h4mk"));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("another key"), std::string::npos) << r.err;
  // Tampered: reading stops at the changed group, naming where.
  r = run(kFfmpeg + " -nostdin -v error -xerror -verify_key v.pub -i " + server.url("av20t.h4mk") +
          " -map 0 -c copy -f null -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("refused at offset"), std::string::npos) << r.err;
  // Seeks before it and after it play, verified.
  for (const char* ss : {"2", "18"}) {
    r = run(kFfmpeg + " -nostdin -v error -xerror -verify_key v.pub -ss " + ss + " -i " +
            server.url("av20t.h4mk") + " -t 1 -map 0 -c copy -f null -");
    EXPECT_EQ(r.status, 0) << "-ss " << ss << ": " << r.err;
  }
  // Without the key, the change goes unseen.
  r = run(kFfmpeg + " -nostdin -v error -xerror -i " + server.url("av20t.h4mk") +
          " -map 0 -c copy -f null -");
  EXPECT_EQ(r.status, 0) << r.err;
}

// The same through `h4mk serve`: ffprobe reads the file, a seek lands as on
// the local file, and open + one seek cost at most three range requests.
TEST(FFmpeg, HttpThroughH4mkServe) {
  make_sources();
  ServeProcess server(kTool, work_dir().string(), {});
  ASSERT_GT(server.port(), 0);
  const std::string url = server.url("/v1/files/three.h4mk");
  json file = probe("three.h4mk"), http = probe(url);
  ASSERT_FALSE(http.is_discarded());
  EXPECT_EQ(packets_of(http), packets_of(file));
  Result r = run(kSeekTool + " " + url + " 1 50 11");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("50 seeks"), std::string::npos) << r.out;
  const auto before = server.stats()["range_requests"].get<uint64_t>();
  const std::string seek = "-ss 3 -i " + url + " -map 0:1 -c copy -frames:v 1 -f framecrc -";
  const std::string via_http = ffmpeg(seek);
  const uint64_t used = server.stats()["range_requests"].get<uint64_t>() - before;
  std::printf("h4mk serve: ffmpeg open + seek used %llu range requests\n",
              (unsigned long long)used);
  // Open, the index at the end, the landing group; with three tracks in
  // 0.5 s groups (interleaving), one more read for the earlier groups the
  // other tracks resume in, which the seek's prefetch does not yet cover.
  EXPECT_LE(used, 4u);
  EXPECT_EQ(via_http, ffmpeg("-ss 3 -i three.h4mk -map 0:1 -c copy -frames:v 1 -f framecrc -"));
  EXPECT_EQ(server.stop(), 0);
}

// The seeds' audio export: PCM posted to h4mk serve comes back as an .h4mk of
// dsp tokens that ffmpeg decodes to the same tone (and, masked, only with the key).
TEST(FFmpeg, AudioExportedByH4mkServeDecodesBackToTheUpload) {
  const fs::path dir = work_dir() / "audio_export";
  fs::create_directories(dir);
  std::string pcm(96000, '\0');  // 1 s of 440 Hz at 48 kHz, s16le
  for (size_t i = 0; i < 48000; i++) {
    const auto v = int16_t(12000 * std::sin(2 * M_PI * 440 * double(i) / 48000));
    pcm[2 * i] = char(v & 0xff);
    pcm[2 * i + 1] = char((v >> 8) & 0xff);
  }
  ServeProcess server(kTool, dir.string(), {"--allow-upload"});
  ASSERT_GT(server.port(), 0);
  auto c = server.client();
  auto r = c.Post("/v1/audio/export?sample_rate=48000&frame_size=1024&top_k=64", pcm,
                  "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  { std::ofstream(dir / "tone.h4mk", std::ios::binary) << r->body; }
  ffmpeg("-i audio_export/tone.h4mk -c:a pcm_s16le audio_export/back.wav");
  const std::string wav = slurp(dir / "back.wav");
  const size_t data = wav.find("data");
  ASSERT_NE(data, std::string::npos);
  const std::string back = wav.substr(data + 8);
  ASSERT_EQ(back.size(), pcm.size());
  double s = 0, e = 0;
  for (size_t i = 0; i < 48000; i++) {
    const double a = int16_t(uint8_t(pcm[2 * i]) | uint8_t(pcm[2 * i + 1]) << 8);
    const double b = int16_t(uint8_t(back[2 * i]) | uint8_t(back[2 * i + 1]) << 8);
    s += a * a;
    e += (a - b) * (a - b);
  }
  const double snr = 10 * std::log10(s / e);
  std::printf("audio export through ffmpeg: SNR %.1f dB\n", snr);
  EXPECT_GT(snr, 40.0);

  const std::string hex(64, 'd');
  r = c.Post("/v1/audio/export?sample_rate=48000&mask=true&master_key_hex=" + hex, pcm,
             "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-H4MK-Masked-Tracks"), "1");
  { std::ofstream(dir / "masked.h4mk", std::ios::binary) << r->body; }
  // Without the key ffmpeg refuses the masked track and says why.
  Result denied = run(kFfmpeg +
                      " -nostdin -v error -y -i audio_export/masked.h4mk -c:a pcm_s16le "
                      "audio_export/denied.wav");
  EXPECT_NE(denied.status, 0) << "a masked track decoded without its key";
  EXPECT_NE(denied.err.find("mask"), std::string::npos) << denied.err;
  ffmpeg("-decryption_key " + hex + " -i audio_export/masked.h4mk -c:a pcm_s16le " +
         "audio_export/opened.wav");
  EXPECT_EQ(slurp(dir / "opened.wav"), wav);
  EXPECT_EQ(server.stop(), 0);
}

TEST(FFmpeg, LavfSeekTestRunsClean) {
  make_sources();
  Result r = run(kLavfSeek + " three.h4mk");
  EXPECT_EQ(r.status, 0) << r.err;
  size_t ok = 0;
  for (size_t pos = 0; (pos = r.out.find("ret: 0", pos)) != std::string::npos; ++pos) ++ok;
  EXPECT_GT(ok, 10u) << r.out;
}

// Which packets live in which CORE chunk, from libh4mk itself.
struct Layout {
  std::vector<uint64_t> chunk_of_packet;  // in file order
  std::vector<uint64_t> packet_end;       // where each payload ends
};

Layout layout_of(const fs::path& p) {
  auto bytes = read_file(p.string());
  MemorySource src(bytes);
  Reader r(src);
  Layout l;
  Block b;
  while (r.next(b) == ReadEvent::kBlock) {
    l.chunk_of_packet.push_back(b.chunk_offset);
    l.packet_end.push_back(b.data_offset + b.data.size());
  }
  return l;
}

// FLAC remuxed from NUT has no packet durations (0 in the file). After a
// seek the audio resumes with the frame playing at the video's landing time
// (the NUT demuxer itself starts with the frame after it).
TEST(FFmpeg, SeekResumesAudioOfUnknownDurationWithTheFramePlaying) {
  make_sources();
  ffmpeg(
      "-f lavfi -i sine=duration=10 -itsoffset 0.5 -f lavfi "
      "-i testsrc=duration=9:size=160x120:rate=25 -map 1 -map 0 -c:v mpeg4 -g 25 -c:a flac "
      "zero-duration.nut");
  ffmpeg("-i zero-duration.nut -map 0 -c copy zero-duration.h4mk");
  int playing_before = 0;
  for (const char* ss : {"3.1", "4.7", "5.2", "7.3"}) {
    const std::string crc =
        ffmpeg("-ss " + std::string(ss) + " -i zero-duration.h4mk -c copy -copyts -f framecrc -");
    std::map<int, double> tb;
    std::vector<double> video, audio;
    std::istringstream in(crc);
    for (std::string line; std::getline(in, line);) {
      int stream = 0;
      long num = 0, den = 0;
      long long dts = 0, pts = 0, duration = 0;
      if (std::sscanf(line.c_str(), "#tb %d: %ld/%ld", &stream, &num, &den) == 3)
        tb[stream] = double(num) / double(den);
      else if (line[0] != '#' && std::sscanf(line.c_str(), "%d, %lld, %lld, %lld", &stream, &dts,
                                             &pts, &duration) == 4)
        (stream == 0 ? video : audio).push_back(double(pts) * tb[stream]);
    }
    ASSERT_FALSE(video.empty()) << ss;
    ASSERT_GE(audio.size(), 2u) << ss;
    EXPECT_LE(audio[0], video[0] + 1e-6) << "-ss " << ss << ": the frame playing is missing";
    EXPECT_GT(audio[1], video[0]) << "-ss " << ss << ": a frame that ended before the landing";
    playing_before += audio[0] < video[0] - 1e-6;
  }
  EXPECT_GT(playing_before, 0);  // the landing falls inside a frame, not only on its start
}

// MPEG-TS with AAC: the audio starts 23 ms (the encoder delay) before the
// video, so a BACKWARD seek to 0 of the video finds no keyframe at or
// before it. Reading starts from the beginning then, as matroska's does;
// it used to fail, and the packets read while probing were lost with it.
TEST(FFmpeg, SeekBeforeTheFirstKeyframeStartsFromTheBeginningAsMatroskaDoes) {
  make_sources();
  ffmpeg(
      "-f lavfi -i testsrc=duration=6:size=160x120:rate=25 -f lavfi -i sine=duration=6 "
      "-c:v mpeg4 -g 25 -c:a aac -f mpegts early.ts");
  ffmpeg("-i early.ts -map 0 -c copy early.h4mk");
  ffmpeg("-i early.ts -map 0 -c copy early.mkv");
  const auto all = packet_lines(ffmpeg("-i early.h4mk -map 0:v -f framecrc -"));
  ASSERT_EQ(all.size(), 150u);
  const auto all_audio =
      first_packets(ffmpeg("-i early.h4mk -map 0:a -c copy -copyts -f framecrc -"));
  ASSERT_EQ(all_audio.count(0), 1u);
  for (const char* ss : {"0", "-1", "0.01"}) {
    const std::string opts = std::string("-ss ") + ss;
    const auto mkv = packet_lines(ffmpeg(opts + " -i early.mkv -map 0:v -f framecrc -"));
    const auto h4mk = packet_lines(ffmpeg(opts + " -i early.h4mk -map 0:v -f framecrc -"));
    EXPECT_EQ(h4mk, mkv) << opts;
    if (std::string(ss) != "0.01") EXPECT_EQ(h4mk.size(), all.size()) << opts;
    // The audio from its first packet, which matroska's seek to the video
    // cue leaves out.
    const auto audio =
        first_packets(ffmpeg(opts + " -i early.h4mk -map 0:a -c copy -copyts -f framecrc -"));
    const auto audio_mkv =
        first_packets(ffmpeg(opts + " -i early.mkv -map 0:a -c copy -copyts -f framecrc -"));
    ASSERT_EQ(audio.count(0), 1u) << opts;
    EXPECT_NEAR(audio.at(0).pts, all_audio.at(0).pts, 1e-6) << opts;
    EXPECT_EQ(audio.at(0).count, all_audio.at(0).count) << opts;
    EXPECT_LE(audio.at(0).pts, audio_mkv.at(0).pts) << opts;
    EXPECT_GE(audio.at(0).count, audio_mkv.at(0).count) << opts;
  }
}

// A pipe cannot seek: -ss reads forward and every stream resumes with its
// first keyframe at or after the target, as matroska does on a pipe. It
// used to fail, and decoding began on whatever P frame came next.
TEST(FFmpeg, SeekOnAPipeReadsForwardToAKeyframeAsMatroskaDoes) {
  make_sources();
  ffmpeg(
      "-f lavfi -i testsrc=duration=6:size=160x120:rate=25 -f lavfi -i sine=duration=6 "
      "-c:v mpeg4 -g 25 -c:a aac -f mpegts pipe-seek.ts");
  ffmpeg("-i pipe-seek.ts -map 0 -c copy pipe-seek.h4mk");
  ffmpeg("-i pipe-seek.ts -map 0 -c copy pipe-seek.mkv");
  // Every picture of the whole file, by pts.
  std::set<std::string> pictures;
  for (const std::string& line :
       packet_lines(ffmpeg("-i pipe-seek.h4mk -map 0:v -copyts -f framecrc -")))
    pictures.insert(line.substr(line.find(',') + 1));
  for (const char* ss : {"2.3", "4"}) {
    const std::string args =
        std::string("-v warning -ss ") + ss + " -i - -map 0 -copyts -f framecrc -";
    Result h = run("cat pipe-seek.h4mk | " + kFfmpeg + " -nostdin -hide_banner " + args);
    Result m = run("cat pipe-seek.mkv | " + kFfmpeg + " -nostdin -hide_banner " + args);
    ASSERT_EQ(h.status, 0) << h.err;
    ASSERT_EQ(m.status, 0) << m.err;
    EXPECT_EQ(h.err.find("no keyframe"), std::string::npos) << h.err;
    EXPECT_EQ(h.err.find("rror"), std::string::npos) << h.err;
    std::vector<std::string> video, video_mkv;
    for (const std::string& line : packet_lines(h.out))
      if (line.rfind("0,", 0) == 0) video.push_back(line);
    for (const std::string& line : packet_lines(m.out))
      if (line.rfind("0,", 0) == 0) video_mkv.push_back(line);
    ASSERT_FALSE(video.empty()) << ss;
    EXPECT_EQ(video, video_mkv) << ss;
    for (const std::string& line : video)
      EXPECT_EQ(pictures.count(line.substr(line.find(',') + 1)), 1u)
          << "-ss " << ss << ": a picture the file does not hold at that time: " << line;
    const auto first = first_packets(h.out);
    ASSERT_EQ(first.count(1), 1u) << "-ss " << ss << ": no audio";
    EXPECT_LE(first.at(1).pts, first.at(0).pts + 0.05) << ss;
  }
}

// Three flipped bytes in the middle of the file (at the same relative
// offsets in both): at least as many video frames decode from H4MK as from
// matroska, which loses none (its blocks have no CRC). Before damaged groups
// were handed out marked corrupt, H4MK lost each hit group (2 s of video).
TEST(FFmpeg, ThreeFlippedBytesCostNoMoreFramesThanInMatroska) {
  make_sources();
  ffmpeg("-i mpeg4.nut -map 0 -c copy flip3.h4mk");
  ffmpeg("-i mpeg4.nut -map 0 -c copy flip3.mkv");
  auto frames = [](const std::string& file) {
    std::string bytes = slurp(work_dir() / file);
    for (double at : {0.4, 0.5, 0.6}) bytes[size_t(double(bytes.size()) * at)] ^= 0x55;
    std::ofstream(work_dir() / ("flipped-" + file), std::ios::binary)
        .write(bytes.data(), std::streamsize(bytes.size()));
    Result r = run(kFfmpeg + " -nostdin -v quiet -i flipped-" + file + " -map 0:v -f framecrc -");
    return packet_lines(r.out).size();
  };
  const size_t whole = packet_lines(ffmpeg("-i mpeg4.nut -map 0:v -f framecrc -")).size();
  const size_t mkv = frames("flip3.mkv"), h4mk = frames("flip3.h4mk");
  EXPECT_GE(h4mk, mkv) << "of " << whole;
  EXPECT_GT(mkv, whole - 5);
}

// Audio and video remuxed with the default options. In the file, each
// track's packets come in groups spanning at most 0.5 s (consecutive blocks'
// dts go back by at most that plus a packet); the demuxer hands the packets
// out in dts order across tracks, as matroska's does. So ffprobe
// -read_intervals %+0.2 lists at least matroska's audio and video packets
// (before, video only), and the dts of consecutive packets never go back,
// which is what ffmpeg -re paces by (before, it stalled).
TEST(FFmpeg, AudioAndVideoAreInterleavedAsFromMatroska) {
  make_sources();
  ffmpeg("-i wrap.ts -map 0 -c copy interleaved.h4mk");
  ffmpeg("-i wrap.ts -map 0 -c copy interleaved.mkv");
  {
    auto bytes = read_file((work_dir() / "interleaved.h4mk").string());
    MemorySource src(bytes);
    Reader r(src);
    std::map<uint16_t, Rational> base;
    for (const Track& t : r.tracks()) base[t.id] = t.time_base;
    double last = -1e9, max_back = 0;
    Block b;
    while (r.next(b) == ReadEvent::kBlock) {
      const Rational tb = base.at(b.info.track_id);
      const double t = double(b.info.dts) * tb.num / tb.den;
      max_back = std::max(max_back, last - t);
      last = t;
    }
    EXPECT_GT(max_back, 0.1);  // the file is not interleaved packet by packet
    EXPECT_LE(max_back, 0.5 + 0.05);
  }
  double max_back = 0;
  double last = -1e9;
  const json all = probe("interleaved.h4mk");
  for (const json& p : all["packets"]) {
    const double t = std::stod(p["dts_time"].get<std::string>());
    max_back = std::max(max_back, last - t);
    last = t;
  }
  EXPECT_LE(max_back, 0.0) << "packets out of dts order";
  // Packets per type that play from `from` on (pts).
  auto counts = [](const std::string& file, const std::string& interval, double from,
                   double* first_pts) {
    Result r =
        run(kFfprobe + " -v error -of json -show_packets -read_intervals " + interval + " " + file);
    EXPECT_EQ(r.status, 0) << r.err;
    std::map<std::string, int> n;
    const json got = json::parse(r.out);
    for (const json& p : got["packets"]) {
      const double pts = std::stod(p["pts_time"].get<std::string>());
      if (first_pts && n.empty()) *first_pts = pts;
      if (pts >= from - 0.0005) ++n[p["codec_type"].get<std::string>()];
    }
    return n;
  };
  // An interval that starts with a seek: h4mk resumes every stream with what
  // plays from the keyframe it lands on (FORMAT.md §9.5), matroska from its
  // cluster, which can hold audio from before that keyframe. Matroska's packets
  // are counted from where h4mk landed. A seek to 0 starts at the beginning
  // (audio before the first video keyframe included).
  for (const char* interval : {"%+0.2", "%+0.05", "0%+0.2", "3%+0.2", "4.5%+0.3"}) {
    double landed = -1e9;
    auto h4mk = counts("interleaved.h4mk", interval, -1e9, &landed);
    if (interval[0] == '%' || std::string(interval).starts_with("0%")) landed = -1e9;
    auto mkv = counts("interleaved.mkv", interval, landed, nullptr);
    EXPECT_GT(mkv["audio"], 0) << interval;
    EXPECT_GT(mkv["video"], 0) << interval;
    EXPECT_GE(h4mk["audio"], mkv["audio"]) << interval;
    EXPECT_GE(h4mk["video"], mkv["video"]) << interval;
    std::printf("-read_intervals %s: h4mk %d audio + %d video packets, matroska %d + %d\n",
                interval, h4mk["audio"], h4mk["video"], mkv["audio"], mkv["video"]);
  }
}

// Runs a command in the work directory with stdout to `out`; its exit status
// and peak resident memory (kB).
std::pair<int, long> run_measured(const std::string& cmd, const std::string& out) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string full =
        "cd '" + work_dir().string() + "' && exec " + cmd + " >'" + out + "' 2>/dev/null";
    execl("/bin/sh", "sh", "-c", full.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage ru{};
  wait4(pid, &status, 0, &ru);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ru.ru_maxrss};
}

// A track that waits for another holds the demuxer's read-ahead: with the
// clock standing still, time never lets the packets go, and the count does.
// 600,000 two-byte packets at time 0 on one track, one on the other: held
// whole they took 450 MB in ffprobe. (Stream analysis is cut short here: it
// keeps every packet it reads until -probesize bytes, SECURITY.md.)
TEST(FFmpeg, ReadAheadForDtsOrderIsBounded) {
  {
    FileSink sink((work_dir() / "stalled.h4mk").string());
    Writer w(sink);
    w.add_track(h4core_audio_track(8000, 1, "null"));
    Track other = h4core_audio_track(8000, 1, "null");
    other.id = 2;
    w.add_track(other);
    std::vector<uint8_t> two(2);
    w.write_block({2, BlockType::kI, 0, 0, 0}, two);
    for (int i = 0; i < 600000; i++) {
      two[0] = uint8_t(i / 4096);  // no group repeats the one before
      w.write_block({1, BlockType::kI, 0, 0, 0}, two);
    }
    w.finish();
  }
  const auto [status, peak_kb] = run_measured(
      kFfprobe +
          " -v error -probesize 32 -analyzeduration 0 -show_entries packet=stream_index "
          "-of csv stalled.h4mk",
      "stalled.csv");
  EXPECT_EQ(status, 0);
  std::ifstream csv(work_dir() / "stalled.csv");
  size_t lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 600001u);
  std::printf("600,001 packets at one time: ffprobe peak %.1f MB\n", double(peak_kb) / 1024);
  EXPECT_LT(peak_kb, 160 * 1024);
}

TEST(FFmpeg, DamagedAndCutFilesKeepEveryIntactPacket) {
  make_sources();
  ffmpeg("-i mpeg4.nut -map 0 -c copy -group_blocks 10 dmg.h4mk");
  Layout l = layout_of(work_dir() / "dmg.h4mk");
  auto all = packet_lines(framecrc("dmg.h4mk"));
  ASSERT_EQ(all.size(), l.chunk_of_packet.size());

  // Flip one byte inside a packet of the 5th group: its packets come out
  // with AV_PKT_FLAG_CORRUPT (the flipped one changed, the others exact),
  // and -fflags discardcorrupt drops exactly them.
  std::vector<uint64_t> chunks(l.chunk_of_packet.begin(), l.chunk_of_packet.end());
  chunks.erase(std::unique(chunks.begin(), chunks.end()), chunks.end());
  ASSERT_GT(chunks.size(), 8u);
  std::string bytes = slurp(work_dir() / "dmg.h4mk");
  bytes[chunks[5] - 5] ^= 0x20;  // the last packet of the 5th group
  std::ofstream(work_dir() / "dmg-flip.h4mk", std::ios::binary)
      .write(bytes.data(), std::streamsize(bytes.size()));
  Result r = run(kFfmpeg + " -nostdin -v error -i dmg-flip.h4mk -map 0 -c copy -f framecrc -");
  EXPECT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> got = packet_lines(r.out);
  ASSERT_EQ(got.size(), all.size()) << r.err;
  size_t changed = 0;
  for (size_t i = 0; i < all.size(); ++i) {
    if (l.chunk_of_packet[i] != chunks[4]) {
      EXPECT_EQ(got[i], all[i]);
      continue;
    }
    // Same timing and size; the CRC differs for the flipped packet only
    // (framecrc adds the flags after it).
    auto fields = [](const std::string& line) {
      std::vector<std::string> f;
      std::istringstream in(line);
      for (std::string x; std::getline(in, x, ',');) f.push_back(x);
      return f;
    };
    const auto g = fields(got[i]), a = fields(all[i]);
    ASSERT_GE(g.size(), 6u);
    ASSERT_GE(a.size(), 6u);
    EXPECT_TRUE(std::equal(a.begin(), a.begin() + 5, g.begin())) << got[i] << " / " << all[i];
    changed += g[5] != a[5];
  }
  EXPECT_EQ(changed, 1u);
  EXPECT_NE(r.err.find("damaged data at offset " + std::to_string(chunks[4])), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("CRC mismatch"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("handed out marked damaged"), std::string::npos) << r.err;
  json flagged = probe("dmg-flip.h4mk");
  size_t corrupt = 0, in_group = 0;
  for (size_t i = 0; i < all.size(); ++i) in_group += l.chunk_of_packet[i] == chunks[4];
  for (const json& p : flagged["packets"])
    corrupt += p["flags"].get<std::string>().find('C') != std::string::npos;
  EXPECT_EQ(corrupt, in_group);
  r = run(
      kFfmpeg +
      " -nostdin -v error -fflags discardcorrupt -i dmg-flip.h4mk -map 0 -c copy -f framecrc -");
  std::vector<std::string> want;
  for (size_t i = 0; i < all.size(); ++i)
    if (l.chunk_of_packet[i] != chunks[4]) want.push_back(all[i]);
  EXPECT_EQ(packet_lines(r.out), want);

  // Cut inside the 7th group, after its second packet: every packet of the
  // first six groups, then the 7th group's packets that lie wholly before
  // the cut, exact but marked corrupt (their CRC cannot be checked), which
  // -fflags discardcorrupt drops.
  size_t first7 = 0;
  while (l.chunk_of_packet[first7] < chunks[6]) ++first7;
  const uint64_t cut = l.packet_end[first7 + 1] + 1;
  std::string whole = slurp(work_dir() / "dmg.h4mk");
  std::ofstream(work_dir() / "dmg-cut.h4mk", std::ios::binary)
      .write(whole.data(), std::streamsize(cut));
  r = run(kFfmpeg + " -nostdin -v error -i dmg-cut.h4mk -map 0 -c copy -f framecrc -");
  EXPECT_EQ(r.status, 0) << r.err;
  const std::vector<std::string> cut_lines = packet_lines(r.out);
  ASSERT_EQ(cut_lines.size(), first7 + 2) << r.err;
  for (size_t i = 0; i < first7; ++i) EXPECT_EQ(cut_lines[i], all[i]);
  for (size_t i = first7; i < first7 + 2; ++i) {
    // The same line with AV_PKT_FLAG_CORRUPT (0x2) added to the flags.
    const bool key = all[i].find("F=0x") == std::string::npos;
    EXPECT_EQ(cut_lines[i], all[i].substr(0, all[i].find(", F=0x")) + (key ? ", F=0x3" : ", F=0x2"))
        << all[i];
  }
  EXPECT_NE(r.err.find("incomplete file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 complete blocks are handed out marked damaged"), std::string::npos)
      << r.err;
  r = run(kFfmpeg +
          " -nostdin -v error -fflags discardcorrupt -i dmg-cut.h4mk -map 0 -c copy -f framecrc -");
  EXPECT_EQ(packet_lines(r.out), std::vector<std::string>(all.begin(), all.begin() + first7));
}

// A file cut short (a crashed recorder, a partial download) keeps the
// packets before the cut, as matroska does: the group the cut falls in
// hands out its complete packets (marked corrupt). Cut at 2 %, 6 %, ...,
// 98 % of each file's size, h4mk gives at least matroska's packets at every
// point, a single track and audio with video alike: the tracks' groups
// close together, the one with most packets per byte first (FORMAT.md
// §12.2). Every packet is one of the whole file's, unchanged.
TEST(FFmpeg, CutFilesKeepAsManyPacketsAsMatroska) {
  make_sources();
  for (const std::string src : {"mpeg4.nut", "wrap.ts"}) {
    const std::string h4 = "cut-" + src + ".h4mk", mkv = "cut-" + src + ".mkv";
    ffmpeg("-i " + src + " -map 0 -c copy " + h4);
    ffmpeg("-i " + src + " -map 0 -c copy " + mkv);
    // Stream, size and CRC (a cut file's start time, and so the shift
    // ffmpeg applies to its timestamps, can differ from the whole file's).
    auto key_of = [](const std::string& line) {
      std::vector<std::string> f;
      std::istringstream in(line);
      for (std::string x; std::getline(in, x, ',');) f.push_back(x);
      return f.size() >= 6 ? f[0] + f[4] + f[5] : line;
    };
    std::set<std::string> whole;
    for (const std::string& line : packet_lines(framecrc(h4))) whole.insert(key_of(line));
    auto packets = [&](const std::string& file, int percent, std::vector<std::string>* lines) {
      const std::string bytes = slurp(work_dir() / file);
      const std::string part = "part-" + file;
      std::ofstream(work_dir() / part, std::ios::binary)
          .write(bytes.data(), std::streamsize(bytes.size() * size_t(percent) / 100));
      Result r = run(kFfmpeg + " -nostdin -v error -i " + part + " -map 0 -c copy -f framecrc -");
      EXPECT_EQ(r.status, 0) << part << ": " << r.err;
      if (lines) *lines = packet_lines(r.out);
      return packet_lines(r.out).size();
    };
    size_t sum_h4 = 0, sum_mkv = 0;
    std::string fewer;
    for (int percent = 2; percent < 100; percent += 4) {
      std::vector<std::string> got;
      const size_t n_h4 = packets(h4, percent, &got), n_mkv = packets(mkv, percent, nullptr);
      sum_h4 += n_h4;
      sum_mkv += n_mkv;
      if (n_h4 < n_mkv)
        fewer += " " + std::to_string(percent) + "% (" + std::to_string(n_h4) + " vs " +
                 std::to_string(n_mkv) + ")";
      EXPECT_GE(n_h4, n_mkv) << src << " cut at " << percent << "%";
      for (const std::string& line : got)
        EXPECT_TRUE(whole.count(key_of(line))) << src << " cut at " << percent << "%: " << line;
    }
    std::printf("%s cut at 25 points: h4mk %zu packets, matroska %zu; fewer at:%s\n", src.c_str(),
                sum_h4, sum_mkv, fewer.empty() ? " none" : fewer.c_str());
    EXPECT_GE(sum_h4, sum_mkv) << src;
  }
}

TEST(FFmpeg, FlushPacketsWritesEveryPacketAtOnce) {
  make_sources();
  ffmpeg("-i pcm.wav -map 0 -c copy -flush_packets 1 flushed.h4mk");
  ffmpeg("-i pcm.wav -map 0 -c copy grouped.h4mk");
  auto groups = [](const char* name) {
    std::set<uint64_t> chunks;
    for (uint64_t c : layout_of(work_dir() / name).chunk_of_packet) chunks.insert(c);
    return chunks.size();
  };
  size_t packets = layout_of(work_dir() / "flushed.h4mk").chunk_of_packet.size();
  EXPECT_EQ(groups("flushed.h4mk"), packets);  // one group per packet
  EXPECT_LT(groups("grouped.h4mk"), packets / 4);
  EXPECT_EQ(framecrc("flushed.h4mk"), framecrc("grouped.h4mk"));
}

// A write that fails (a full disk) fails the command, whether the muxer
// flushes each packet itself or leaves the output to the trailer, as for
// matroska.
TEST(FFmpeg, AFullDiskFailsTheCommandLoudly) {
  for (const char* how : {"-flush_packets 1 -f h4mk", "-f h4mk", "-f matroska"}) {
    Result r = run(kFfmpeg + " -nostdin -v error -y -f lavfi -i sine=duration=2 -c:a pcm_s16le " +
                   how + " /dev/full");
    EXPECT_NE(r.status, 0) << how;
    EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << how << r.err;
  }
}

TEST(FFmpeg, DefaultCodecsAndMetadata) {
  make_sources();
  // No -c copy: the muxer's defaults (FLAC audio, FFV1 video) apply.
  ffmpeg(
      "-i pcm.wav -f lavfi -i testsrc=duration=1:size=64x48:rate=10 -metadata title=defaults "
      "-metadata:s:a:0 language=deu defaults.h4mk");
  json j = probe("defaults.h4mk");
  ASSERT_EQ(j["streams"].size(), 2u);
  std::set<std::string> codecs;
  for (const auto& s : j["streams"]) codecs.insert(s["codec_name"]);
  EXPECT_EQ(codecs, (std::set<std::string>{"flac", "ffv1"}));
  EXPECT_EQ(j["format"]["tags"]["title"], "defaults");
  // And the result decodes.
  Result r = run(kFfmpeg + " -nostdin -v error -i defaults.h4mk -f null -");
  EXPECT_EQ(r.status, 0) << r.err;
  // libh4mk agrees the file is sound.
  auto bytes = read_file((work_dir() / "defaults.h4mk").string());
  MemorySource src(bytes);
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
  EXPECT_TRUE(v.veri_ok);
}

// ffmpeg writing h4mk in real time, killed with SIGKILL at random moments:
// what is in the file reads back as an exact prefix of the full stream, and
// `h4mk repair` makes it a complete, indexed file with the same packets.
TEST(FFmpeg, SigkillDuringMuxingLosesNothingWritten) {
  make_sources();
  const std::string write = kFfmpeg +
                            " -nostdin -v error -y -re -f lavfi -i sine=frequency=500:duration=4 "
                            "-c:a pcm_s16le -flush_packets 1 -f h4mk ";
  Result full = run(write + "live-full.h4mk");
  ASSERT_EQ(full.status, 0) << full.err;
  const auto all = packet_lines(framecrc("live-full.h4mk"));
  ASSERT_GT(all.size(), 100u);
  std::mt19937 rng(7);
  int with_data = 0;
  for (int i = 0; i < 8; ++i) {
    const std::string f = "live-" + std::to_string(i) + ".h4mk";
    const double after = 1.0 + double(rng() % 2500) / 1000;
    Result k = run("timeout -s KILL " + std::to_string(after) + " " + write + f);
    EXPECT_EQ(k.status, 137) << "not killed: " << k.err;  // 128 + SIGKILL
    Result r = run(kFfmpeg + " -nostdin -v error -i " + f + " -map 0 -c copy -f framecrc -");
    const auto got = packet_lines(r.out);
    ASSERT_LE(got.size(), all.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), all.begin())) << f << ": not a prefix";
    if (got.empty()) continue;  // killed before the first packet left
    ++with_data;
    Result rep = run(kTool + " repair -q " + f + " -o " + f + ".fixed");
    ASSERT_EQ(rep.status, 0) << rep.err;
    EXPECT_EQ(run(kTool + " verify -q " + f + ".fixed").status, 0);
    EXPECT_EQ(packet_lines(framecrc(f + ".fixed")), got) << f;
  }
  EXPECT_GE(with_data, 5) << "most kills land after packets were written";
}

// --- h4mask: the bitstream filter, the muxer's and demuxer's key options ---

// ------------------------------------------------------------------ h4core
// 16-bit PCM samples of a WAV file (any chunk order).
std::vector<int16_t> wav_samples(const std::string& name, uint32_t* rate = nullptr) {
  auto b = read_file((work_dir() / name).string());
  std::vector<int16_t> out;
  EXPECT_GE(b.size(), 12u);
  if (b.size() < 12) return out;
  for (size_t at = 12; at + 8 <= b.size();) {
    const std::string id(b.begin() + at, b.begin() + at + 4);
    const size_t size = detail::load_u32(&b[at + 4]);
    if (id == "fmt ") {
      EXPECT_EQ(b[at + 8] | b[at + 9] << 8, 1) << name << ": not PCM";
      EXPECT_EQ(b[at + 22] | b[at + 23] << 8, 16) << name << ": not 16-bit";
      if (rate) *rate = detail::load_u32(&b[at + 12]);
    } else if (id == "data") {
      const size_t n = std::min(size, b.size() - at - 8) / 2;
      out.resize(n);
      std::memcpy(out.data(), &b[at + 8], n * 2);
      break;
    }
    at += 8 + size + (size & 1);
  }
  return out;
}

double snr_db(const std::vector<int16_t>& ref, const std::vector<int16_t>& got) {
  double s = 0, e = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    s += double(ref[i]) * ref[i];
    e += (double(ref[i]) - got[i]) * (double(ref[i]) - got[i]);
  }
  return e == 0 ? 200 : 10 * std::log10(s / e);
}

json track_json(const std::string& file, size_t index) {
  Result r = run(kTool + " inspect --json " + file);
  EXPECT_EQ(r.status, 0) << r.err;
  return json::parse(r.out, nullptr, false)["tracks"][index];
}

// wav -> h4mk (dsp tokens, the h4core encoder) -> wav, in the real ffmpeg,
// for a sine sweep and for speech; the adapter is found by name, recorded in
// the track, and used again by default when decoding.
TEST(FFmpeg, H4coreDspTokensOfSweepAndSpeechDecodeBackToWav) {
  ffmpeg(
      "-f lavfi -i \"aevalsrc=0.5*sin(2*PI*(100*t+1316.67*t*t)):s=48000:d=3,"
      "aformat=sample_fmts=s16\" "
      "-c:a pcm_s16le sweep.wav");
  Result espeak =
      run("espeak-ng -w speech.wav \"The quick brown fox jumps over the lazy dog. "
          "Model tokens travel in an h4mk container.\"");
  ASSERT_EQ(espeak.status, 0) << "espeak-ng (scripts/deps.sh installs it): " << espeak.err;
  struct Case {
    const char* name;
    double min_snr;
  };
  for (Case c : {Case{"sweep", 25.0}, Case{"speech", 15.0}}) {
    const std::string n = c.name;
    ffmpeg("-i " + n + ".wav -c:a h4core -f h4mk " + n + ".h4mk");
    json p = probe(n + ".h4mk");
    ASSERT_EQ(p["streams"].size(), 1u);
    EXPECT_EQ(p["streams"][0]["codec_name"], "h4core_audio");
    EXPECT_EQ(track_json(n + ".h4mk", 0)["adapter"], "dsp");
    ffmpeg("-i " + n + ".h4mk -c:a pcm_s16le " + n + ".back.wav");
    uint32_t rate = 0;
    auto a = wav_samples(n + ".wav", &rate), b = wav_samples(n + ".back.wav");
    ASSERT_FALSE(a.empty());
    ASSERT_EQ(a.size(), b.size()) << n << ": the last block's duration trims the padding";
    const double snr = snr_db(a, b);
    const double kbps =
        double(fs::file_size(work_dir() / (n + ".h4mk"))) * 8 / (double(a.size()) / rate) / 1000;
    std::printf("h4core dsp (hop 512, k 64): %s SNR %.1f dB at %.1f kbit/s (PCM %.1f)\n", n.c_str(),
                snr, kbps, rate * 16 / 1000.0);
    EXPECT_GT(snr, c.min_snr) << n;
    // h4mk decode runs the same chain through libh4mk: the same samples,
    // the last block trimmed alike.
    ffmpeg("-i " + n + ".h4mk -c:a pcm_f32le -f f32le " + n + ".ffmpeg.f32");
    Result cli = run(kTool + " decode " + (work_dir() / (n + ".h4mk")).string() + " -o " +
                     (work_dir() / (n + ".cli.wav")).string());
    ASSERT_EQ(cli.status, 0) << cli.err;
    const auto by_ffmpeg = read_file((work_dir() / (n + ".ffmpeg.f32")).string());
    const auto by_cli = read_file((work_dir() / (n + ".cli.wav")).string());
    ASSERT_GT(by_cli.size(), 44u);
    EXPECT_EQ(std::vector<uint8_t>(by_cli.begin() + 44, by_cli.end()), by_ffmpeg) << n;
    // h4mk encode makes the packets that ffmpeg's h4core encoder makes.
    Result enc = run(kTool + " encode " + (work_dir() / (n + ".wav")).string() + " -o " +
                     (work_dir() / (n + ".cli.h4mk")).string());
    ASSERT_EQ(enc.status, 0) << enc.err;
    EXPECT_EQ(framecrc(n + ".cli.h4mk"), framecrc(n + ".h4mk")) << n;
    // A remux keeps the adapter and every packet.
    ffmpeg("-i " + n + ".h4mk -c copy " + n + ".copy.h4mk");
    EXPECT_EQ(track_json(n + ".copy.h4mk", 0)["adapter"], "dsp");
    EXPECT_EQ(framecrc(n + ".copy.h4mk"), framecrc(n + ".h4mk"));
  }
  // Options reach the tokenizer; bad ones are refused with the reason.
  ffmpeg("-i sweep.wav -c:a h4core -adapter_options hop=256:k=16:gop=10 -f h4mk small.h4mk");
  EXPECT_LT(fs::file_size(work_dir() / "small.h4mk"), fs::file_size(work_dir() / "sweep.h4mk"));
  Result r = run(kFfmpeg +
                 " -nostdin -v error -y -i sweep.wav -c:a h4core -adapter_options "
                 "hop=7 -f h4mk bad.h4mk");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("hop"), std::string::npos) << r.err;
}

// The null adapter on PCM payloads: ffmpeg decodes them bit-exactly.
TEST(FFmpeg, H4coreNullAdapterOnPcmIsBitExact) {
  ffmpeg(
      "-f lavfi -i sine=frequency=300:duration=2:sample_rate=16000 -ac 2 "
      "-c:a pcm_s16le pcm16k.wav");
  const auto samples = wav_samples("pcm16k.wav");
  std::vector<uint8_t> raw(samples.size() * 2);
  std::memcpy(raw.data(), samples.data(), raw.size());
  ASSERT_EQ(raw.size(), 2u * 16000 * 4);
  const Track t = h4core_audio_track(16000, 2, "null");
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  for (size_t i = 0, at = 0; at < raw.size(); ++i, at += 1280)  // 320 samples per block
    w.write_block(
        {1, i % 5 ? BlockType::kP : BlockType::kI, int64_t(i) * 320, int64_t(i) * 320, 320},
        {raw.data() + at, std::min<size_t>(1280, raw.size() - at)});
  w.finish();
  write_file((work_dir() / "pcm-null.h4mk").string(), sink.bytes());
  ffmpeg("-i pcm-null.h4mk -c:a pcm_s16le pcm-null.wav");
  EXPECT_EQ(wav_samples("pcm-null.wav"), samples);
}

// A track's own decode chain bound (TRAK max_chain_blocks) reaches the
// h4core decoder through its extradata: a longer chain is a loud error and
// the blocks after it wait for an I block, where the same blocks under the
// format's bound all decode. A remux keeps the bound.
TEST(FFmpeg, H4coreDecodersHoldTheTracksChainBound) {
  const std::vector<uint8_t> pcm(320, 7);
  for (uint32_t bound : {10u, 0u}) {  // the chain's blocks last a tick: a sample each
    Track t = h4core_audio_track(8000, 1, "null");
    t.max_chain_blocks = bound;
    const std::string name = "chain" + std::to_string(bound);
    write_file((work_dir() / (name + ".h4mk")).string(), h4mk::test::long_chain_file(t, 29, pcm));
    Result r = run(kFfmpeg + " -nostdin -hide_banner -v warning -y -i " + name +
                   ".h4mk -c:a pcm_s16le " + name + ".wav");
    if (bound) {
      EXPECT_NE(r.err.find("a decode chain longer than 10 blocks"), std::string::npos) << r.err;
      // I and eight P blocks come out; the tenth block, held as the next
      // one's reference, goes with the chain.
      EXPECT_EQ(wav_samples(name + ".wav").size(), 9u);
    } else {
      EXPECT_EQ(r.err.find("longer than"), std::string::npos) << r.err;
      EXPECT_EQ(wav_samples(name + ".wav").size(), 30u);
    }
  }

  // A file that keeps its bound of 10 (an I block every 5) remuxes with it.
  Track t = h4core_audio_track(8000, 1, "null");
  t.max_chain_blocks = 10;
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  for (int i = 0; i < 40; ++i)
    w.write_block({1, i % 5 ? BlockType::kP : BlockType::kI, i * 160, i * 160, 160}, pcm);
  w.finish();
  write_file((work_dir() / "bounded.h4mk").string(), sink.bytes());
  ffmpeg("-i bounded.h4mk -map 0 -c copy bounded.remux.h4mk");
  const json j = json::parse(run(kTool + " inspect --json bounded.remux.h4mk").out, nullptr, false);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["tracks"][0]["max_chain_blocks"], 10) << j["tracks"][0].dump();
}

// The master clock of each status line ffplay prints ("  2.95 A-V: ...").
std::vector<double> ffplay_clock(const std::string& err) {
  std::vector<double> out;
  std::string line;
  std::istringstream in(err);
  while (std::getline(in, line, '\r'))
    for (std::istringstream piece(line); std::getline(piece, line, '\n');) {
      double t;
      char kind[4] = {};
      if (std::sscanf(line.c_str(), " %lf %3[A-MV-]:", &t, kind) == 2 && std::isfinite(t))
        out.push_back(t);
    }
  return out;
}

// ffplay (SDL's dummy drivers) plays h4mk files from start to end: audio
// and video, from a seek, and an h4core audio track through its adapter;
// an adapter that is not there fails the stream and names it.
TEST(FFmpeg, FfplayPlaysH4mkFilesWithASeekAndAnAdapterTrack) {
  ffmpeg(
      "-f lavfi -i testsrc=duration=3:size=160x120:rate=25 -f lavfi -i sine=duration=3 "
      "-c:v mpeg4 -g 25 -c:a flac play.h4mk");
  ffmpeg(
      "-f lavfi -i sine=frequency=500:duration=3:sample_rate=48000 -c:a h4core -f h4mk "
      "play-tokens.h4mk");
  const std::string env = "SDL_AUDIODRIVER=dummy SDL_VIDEODRIVER=dummy ";
  struct Case {
    std::string args;
    double first_at_least, first_below;  // the clock when playing starts
  };
  // The clock starts a little before 0 (audio buffered ahead); -ss 1.5
  // lands on the keyframe at 1.0 s (ffplay plays from the keyframe, as
  // with any format).
  for (const Case& c :
       {Case{"-nodisp play.h4mk", -0.1, 0.5}, Case{"play.h4mk", -0.1, 0.5},
        Case{"-ss 1.5 play.h4mk", 0.9, 1.6}, Case{"-nodisp play-tokens.h4mk", -0.1, 0.5}}) {
    Result r = run(env + kFfplay + " -hide_banner -autoexit -loglevel info " + c.args);
    ASSERT_EQ(r.status, 0) << c.args << "\n" << r.err;
    const std::vector<double> clock = ffplay_clock(r.err);
    ASSERT_GT(clock.size(), 5u) << c.args << "\n" << r.err;
    std::printf("ffplay %s: clock %.2f .. %.2f s over %zu status lines\n", c.args.c_str(),
                clock.front(), clock.back(), clock.size());
    EXPECT_GE(clock.front(), c.first_at_least) << c.args;
    EXPECT_LT(clock.front(), c.first_below) << c.args;
    EXPECT_GT(clock.back(), 2.7) << c.args << ": stopped before the end";
    EXPECT_LT(clock.back(), 3.3) << c.args;
    EXPECT_EQ(r.err.find("rror"), std::string::npos) << c.args << "\n" << r.err;
  }
  Result r = run(env + kFfplay + " -hide_banner -autoexit -nodisp -adapter no_such_adapter " +
                 "play-tokens.h4mk");
  EXPECT_NE(r.err.find("no_such_adapter"), std::string::npos) << r.err;
  EXPECT_TRUE(ffplay_clock(r.err).empty() || ffplay_clock(r.err).back() < 0.5) << r.err;
}

// A test plugin, built as its own shared object, loaded by path in the real
// ffmpeg: its pictures hash the whole chain, so they equal libh4mk's own
// decode only if ffmpeg's decoder gives every B block both anchors and puts
// frames in presentation order.
// Nothing a file says loads code: neither a track's adapter that is a path
// nor an adapter header hidden in a track's own extradata makes ffprobe or
// ffmpeg load a library, and the current directory is never searched. The
// planted library (its constructor writes a marker) does load when the user
// names it with -adapter, so the test can fail.
TEST(FFmpeg, NothingAFileNamesIsLoadedAsCode) {
  const fs::path dir = process_work_dir("/tmp", "h4ff");  // short: fits a TRAK adapter
  const fs::path evil = dir / "evil.so";
  const fs::path marker = dir / "marker";
  fs::copy_file(H4MK_MARKER_PLUGIN, evil);
  for (const std::string name : {"null", "dsp"}) {
    fs::create_directories(dir / "h4mk" / "adapters");
    fs::copy_file(H4MK_MARKER_PLUGIN, dir / "h4mk" / "adapters" / ("h4mk-adapter-" + name + ".so"));
  }
  const std::string evil_path = evil.string();
  const std::string head = "H4AD" + std::string(1, char(evil_path.size())) + evil_path;
  const std::vector<uint8_t> header(head.begin(), head.end());
  write_file((dir / "path.h4mk").string(), h4core_file_naming(evil_path));
  write_file((dir / "relative.h4mk").string(), h4core_file_naming("./evil.so"));
  write_file((dir / "extradata.h4mk").string(), h4core_file_naming("", header));
  write_file((dir / "named.h4mk").string(), h4core_file_naming("null"));

  auto in_dir = [&](const std::string& cmd) {
    return run("cd '" + dir.string() + "' && env -u H4MK_ADAPTER_PATH H4MK_TEST_MARKER='" +
               marker.string() + "' " + cmd);
  };
  for (const std::string f : {"path", "relative", "extradata", "named"}) {
    SCOPED_TRACE(f);
    Result r = in_dir(kFfprobe + " -v warning -show_streams " + f + ".h4mk");
    EXPECT_FALSE(fs::exists(marker)) << r.err;
    EXPECT_NE(r.out.find("codec_name=h4core_audio"), std::string::npos) << r.out << r.err;
    r = in_dir(kFfmpeg + " -nostdin -v warning -i " + f + ".h4mk -f null -");
    EXPECT_FALSE(fs::exists(marker)) << r.err;
    if (f == "named")  // found in the installed directory, not the planted one
      EXPECT_EQ(r.status, 0) << r.err;
    if (f == "path" || f == "relative")
      EXPECT_NE(r.err.find("is not an adapter name"), std::string::npos) << r.err;
  }
  // The user's own path is loaded.
  Result r = in_dir(kFfmpeg + " -nostdin -v warning -adapter ./evil.so -i named.h4mk -f null -");
  EXPECT_TRUE(fs::exists(marker)) << r.err;
}

TEST(FFmpeg, H4coreVideoDecoderLoadsAPluginByPathAndReordersBBlocks) {
  make_sources();
  const std::string plugin = H4MK_ORDER_PLUGIN;
  ffmpeg("-adapter:v " + plugin +
         " -i demo.h4mk -map 0:1 -fps_mode passthrough "
         "-c:v rawvideo -pix_fmt gray -f rawvideo order.ffmpeg.gray");
  Result lib =
      run(kTool + " decode demo.h4mk --track 2 --adapter " + plugin + " -o order.lib.gray --json");
  ASSERT_EQ(lib.status, 0) << lib.err;
  EXPECT_EQ(json::parse(lib.out)["blocks"], 300);
  const auto a = read_file((work_dir() / "order.ffmpeg.gray").string());
  const auto b = read_file((work_dir() / "order.lib.gray").string());
  EXPECT_EQ(a.size(), 300u * 64 * 64);
  EXPECT_TRUE(a == b) << "ffmpeg's frames differ from libh4mk's decode";
  // Frame pts come out in presentation order, every frame once.
  Result r = run(kFfmpeg + " -nostdin -v error -adapter:v " + plugin +
                 " -i demo.h4mk -map 0:1 -fps_mode passthrough -c:v rawvideo -f framecrc -");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto frames = packet_lines(r.out);
  ASSERT_EQ(frames.size(), 300u);
  for (size_t i = 0; i < frames.size(); ++i) {
    std::istringstream line(frames[i]);
    std::string stream, dts, pts;
    std::getline(line, stream, ',');
    std::getline(line, dts, ',');
    std::getline(line, pts, ',');
    ASSERT_EQ(std::stoll(pts), int64_t(i)) << frames[i];
  }
  // The track names no adapter: a clear error; a plugin for another ABI too.
  r = run(kFfmpeg + " -nostdin -v error -i demo.h4mk -map 0:1 -f null -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("names no adapter"), std::string::npos) << r.err;
  r = run(kFfmpeg + " -nostdin -v error -adapter:v " + std::string(H4MK_ORDER_ABI_PLUGIN) +
          " -i demo.h4mk -map 0:1 -f null -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("ABI version 99"), std::string::npos) << r.err;
}

// What the wrappers allocate before failing is freed (valgrind, definite
// leaks): an h4core encoder whose tokenizer refuses its options, and a track
// whose channel layout names other channels than it has.
TEST(FFmpeg, FailedInitsAndMismatchedLayoutsLeakNothing) {
  const std::string valgrind =
      "valgrind -q --leak-check=full --errors-for-leak-kinds=definite "
      "--error-exitcode=99 ";
  Result enc = run(valgrind + kFfmpeg +
                   " -nostdin -v error -f lavfi -i sine=duration=0.1 -c:a h4core "
                   "-adapter_options bogus=1 -f null -");
  EXPECT_NE(enc.status, 0) << enc.err;
  EXPECT_NE(enc.status, 99) << enc.err;
  EXPECT_NE(enc.err.find("bogus"), std::string::npos) << enc.err;
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.codec = "pcm_s16le";
  t.time_base = {1, 8000};
  t.sample_rate = 8000;
  t.channels = 3;
  t.channel_layout = "FR+FL";  // a custom order of two channels
  std::vector<TestBlock> blocks;
  for (int i = 0; i < 4; ++i)
    blocks.push_back({{1, BlockType::kI, i * 160, i * 160, 160}, std::vector<uint8_t>(960), {}});
  write_file((work_dir() / "layout.h4mk").string(), write_stream({t}, blocks));
  Result probe = run(valgrind + kFfprobe + " -v error -show_entries stream=channels layout.h4mk");
  EXPECT_EQ(probe.status, 0) << probe.err;
  EXPECT_NE(probe.out.find("channels=3"), std::string::npos) << probe.out;
}

// The demuxer takes packet buffers from a pool per power-of-two size class
// (blocks below 2 MiB with padding) and allocates larger ones one by one:
// sizes on every side of the class edges come out of ffmpeg byte for byte
// (framemd5 against MD5s computed here), also after a seek.
TEST(FFmpeg, PacketSizesAtPoolEdgesComeOutExactly) {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kData;
  t.codec = "h4core";
  t.time_base = {1, 1000};
  const size_t pad = 64;  // AV_INPUT_BUFFER_PADDING_SIZE
  std::vector<size_t> sizes = {1, 2, 63};
  for (size_t edge : {size_t(128), size_t(4096), size_t(1) << 20, size_t(2) << 20})
    for (size_t s : {edge - pad - 1, edge - pad, edge - pad + 1}) sizes.push_back(s);
  sizes.push_back((size_t(3) << 20) + 5);
  std::mt19937 rng(9);
  std::vector<TestBlock> blocks;
  std::vector<std::string> want;  // "size, md5" per packet, as framemd5 prints them
  for (size_t i = 0; i < sizes.size(); ++i) {
    TestBlock b;
    b.info = {1, BlockType::kI, int64_t(i) * 100, int64_t(i) * 100, 100};
    b.data.resize(sizes[i]);
    for (auto& c : b.data) c = uint8_t(rng());
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    ASSERT_EQ(EVP_Digest(b.data.data(), b.data.size(), md, &md_len, EVP_md5(), nullptr), 1);
    want.push_back(std::to_string(sizes[i]) + ", " + to_hex_string({md, md_len}));
    blocks.push_back(std::move(b));
  }
  WriterOptions o;
  o.max_group_blocks = 1;  // one block per group: every block is a seek point
  auto file = write_stream({t}, blocks, o);
  std::ofstream((work_dir() / "sizes.h4mk").string(), std::ios::binary)
      .write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));

  // framemd5 lines end in "size, md5".
  auto size_and_md5 = [](const std::string& out) {
    std::vector<std::string> v;
    for (const std::string& line : packet_lines(out)) {
      size_t md5_at = line.rfind(", ");
      size_t size_at = line.rfind(",", md5_at - 1);
      std::string size = line.substr(size_at + 1, md5_at - size_at - 1);
      size.erase(0, size.find_first_not_of(' '));
      v.push_back(size + line.substr(md5_at));
    }
    return v;
  };
  EXPECT_EQ(size_and_md5(ffmpeg("-i sizes.h4mk -map 0 -c copy -f framemd5 -")), want);
  // From a seek into the middle: the landing group is read directly.
  const size_t from = 7;
  auto after = size_and_md5(
      ffmpeg("-ss " + std::to_string(from / 10.0) + " -i sizes.h4mk -map 0 -c copy -f framemd5 -"));
  EXPECT_EQ(after, std::vector<std::string>(want.begin() + long(from), want.end()));
}

const std::string kKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kWrongKey = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(FFmpeg, H4maskFilterRoundTripAndDemuxerKey) {
  make_sources();
  const std::string want = framecrc("three.h4mk");
  ffmpeg("-i three.h4mk -map 0 -c copy -bsf h4mask=mode=mask:key=" + kKey +
         ":kid=studio masked.h4mk");
  // The envelopes are what a copy without the key gives: every payload is
  // 28 bytes larger and different.
  auto plain = packet_lines(want), masked = packet_lines(framecrc("masked.h4mk"));
  ASSERT_EQ(masked.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) EXPECT_NE(masked[i], plain[i]) << i;
  // Unmasked by the filter, and by the demuxer's key: the original packets.
  EXPECT_EQ(ffmpeg("-i masked.h4mk -map 0 -c copy -bsf h4mask=mode=unmask:key=" + kKey +
                   " -f framecrc -"),
            want);
  EXPECT_EQ(framecrc("masked.h4mk", "-decryption_key " + kKey), want);
  // Through a pipe as well.
  EXPECT_EQ(ffmpeg("-decryption_key " + kKey +
                   " -f h4mk -i pipe:0 -map 0 -c copy -f framecrc - "
                   "< masked.h4mk"),
            want);
  // Copied without the key, the file stays masked and opens later.
  ffmpeg("-i masked.h4mk -map 0 -c copy masked-copy.h4mk");
  EXPECT_EQ(framecrc("masked-copy.h4mk", "-decryption_key " + kKey), want);
  // Another muxer would store the envelopes as media: each stream that
  // stays masked is named when the file opens.
  const Result other =
      run(kFfmpeg + " -nostdin -v warning -y -i masked.h4mk -map 0:a -c copy masked.mka");
  for (const char* stream : {"stream 0 ", "stream 1 ", "stream 2 "})
    EXPECT_NE(other.err.find(std::string(stream) +
                             "is masked and no decryption_key was given; its packets stay "
                             "h4mask envelopes, which only the h4mk muxer and the h4mask "
                             "filter take"),
              std::string::npos)
        << stream << other.err;
  // So would the filter's packets, whose muxer it cannot see: masking warns.
  const Result filtered = run(kFfmpeg +
                              " -nostdin -v warning -y -i pcm.wav -c copy "
                              "-bsf:a h4mask=key=" +
                              kKey + " filtered.mka");
  EXPECT_NE(filtered.err.find("packets leave as h4mask envelopes: only the h4mk muxer keeps "
                              "the mask parameters unmasking needs"),
            std::string::npos)
      << filtered.err;
  // After a seek ffmpeg shifts timestamps before the filter; the envelopes'
  // binding travels with the packets, so they still unmask.
  const std::string seek_want = ffmpeg("-ss 1.5 -i three.h4mk -map 0 -c copy -f framecrc -");
  ASSERT_GT(packet_lines(seek_want).size(), 10u);
  EXPECT_EQ(ffmpeg("-ss 1.5 -i masked.h4mk -map 0 -c copy -bsf h4mask=mode=unmask:key=" + kKey +
                   " -f framecrc -"),
            seek_want);
  EXPECT_EQ(framecrc("masked.h4mk", "-ss 1.5 -decryption_key " + kKey), seek_want);
  // But a masked block cannot be stored at another time: a shifted masked
  // copy is refused, naming why; with -copyts it is lossless.
  Result moved = run(kFfmpeg +
                     " -nostdin -v error -y -ss 1.5 -i masked.h4mk -map 0 -c copy "
                     "moved.h4mk");
  EXPECT_NE(moved.status, 0);
  EXPECT_NE(moved.err.find("cannot move in time"), std::string::npos) << moved.err;
  ffmpeg("-ss 1.5 -copyts -i masked.h4mk -map 0 -c copy kept.h4mk");
  EXPECT_EQ(
      ffmpeg("-copyts -decryption_key " + kKey + " -i kept.h4mk -map 0 -c copy -f framecrc -"),
      ffmpeg("-copyts -ss 1.5 -i three.h4mk -map 0 -c copy -f framecrc -"));
  // ffprobe shows tracks, the scheme and the key id without the key.
  json j = probe("masked.h4mk");
  ASSERT_TRUE(j.contains("streams"));
  ASSERT_EQ(j["streams"].size(), 3u);
  for (const auto& st : j["streams"]) {
    EXPECT_EQ(st["tags"]["h4mk_mask_scheme"], "aes-256-gcm");
    EXPECT_EQ(st["tags"]["h4mk_mask_kid"], "studio");
  }
  EXPECT_EQ(j["streams"][1]["codec_name"], "mpeg4");
}

TEST(FFmpeg, MuxerEncryptionKeyGcmAndCtr) {
  make_sources();
  const std::string want = framecrc("three.h4mk");
  for (const char* scheme : {"aes-256-gcm", "aes-256-ctr"}) {
    const std::string out = std::string("enc-") + scheme + ".h4mk";
    ffmpeg("-i three.h4mk -map 0 -c copy -encryption_key " + kKey + " -encryption_scheme " +
           scheme + " " + out);
    EXPECT_EQ(framecrc(out, "-decryption_key " + kKey), want) << scheme;
    // The same key file read by libh4mk: every track masked with this scheme.
    auto bytes = read_file((work_dir() / out).string());
    MemorySource src(bytes);
    Reader r(src);
    for (const Track& t : r.tracks()) {
      ASSERT_TRUE(t.mask) << scheme;
      EXPECT_STREQ(mask_scheme_name(t.mask->scheme), scheme);
    }
  }
  // ctr adds no byte: the file is as large as the plain one but for TRAK/SAFE.
  auto size_of = [](const char* f) { return fs::file_size(work_dir() / f); };
  ffmpeg("-i three.h4mk -map 0 -c copy plain-again.h4mk");
  EXPECT_LT(size_of("enc-aes-256-ctr.h4mk") - size_of("plain-again.h4mk"), 1000u);
  EXPECT_GT(size_of("enc-aes-256-gcm.h4mk") - size_of("plain-again.h4mk"),
            28 * packet_lines(want).size());
}

// -compression_level: every unmasked track's groups zstd-compressed where they
// shrink; ffmpeg, ffprobe and libh4mk read the same packets back, and
// seeking works as in the uncompressed file.
TEST(FFmpeg, CompressedGroupsDemuxTransparently) {
  make_sources();
  const std::string want = framecrc("three.h4mk");
  ffmpeg("-i three.h4mk -map 0 -c copy -compression_level 9 three-z.h4mk");
  EXPECT_EQ(framecrc("three-z.h4mk"), want);
  auto bytes = read_file((work_dir() / "three-z.h4mk").string());
  ASSERT_GT(bytes.size(), 16u);
  EXPECT_EQ(bytes[4], 2);  // 2.0: it may hold compressed groups
  MemorySource src(bytes);
  Reader r(src);
  for (const Track& t : r.tracks()) EXPECT_TRUE(t.compression) << t.id;
  // PCM and token groups shrink, so some are stored compressed (flag bit 2).
  size_t compressed = 0;
  for (const ChunkExtent& c : chunk_layout(bytes))
    if (c.tag == "CORE" && (bytes[c.offset + 12 + 2] & 0x04)) ++compressed;
  EXPECT_GT(compressed, 0u);
  MemorySource vsrc(bytes);
  EXPECT_TRUE(verify(vsrc).ok());
  EXPECT_LT(fs::file_size(work_dir() / "three-z.h4mk"), fs::file_size(work_dir() / "three.h4mk"));
  // Their positions differ (the groups are smaller); everything else is equal.
  auto packets = [](const std::string& f, const std::string& opts) {
    json list = probe("-select_streams v " + opts + " " + f)["packets"];
    for (json& p : list) p.erase("pos");
    return list;
  };
  EXPECT_EQ(packets("three-z.h4mk", "-read_intervals 1.5%+1"),
            packets("three.h4mk", "-read_intervals 1.5%+1"));
  // A masked track is stored uncompressed, with a warning.
  const Result both = run(kFfmpeg + " -y -v warning -i three.h4mk -map 0 -c copy -encryption_key " +
                          kKey + " -compression_level 3 three-zm.h4mk");
  ASSERT_EQ(both.status, 0) << both.err;
  EXPECT_NE(both.err.find("masked: stored uncompressed"), std::string::npos) << both.err;
}

TEST(FFmpeg, AKeyOpensTheTracksItFitsAndTheOthersStayMasked) {
  make_sources();
  ffmpeg("-i three.h4mk -map 0:0 -map 0:1 -c copy -bsf:a h4mask=mode=mask:key=" + kWrongKey +
         " -bsf:v h4mask=mode=mask:key=" + kKey + " two-keys.h4mk");
  const Result r = run(kFfmpeg + " -nostdin -v warning -decryption_key " + kKey +
                       " -i two-keys.h4mk -map 0 -c copy -f framecrc -");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("stream 0: decryption_key does not open it"), std::string::npos) << r.err;
  // The video comes out plain, as in the source; the audio keeps its envelopes.
  auto of_stream = [](const std::vector<std::string>& lines, char index) {
    std::vector<std::string> kept;
    for (const std::string& l : lines)
      if (l.size() > 2 && l[0] == index && l[1] == ',') kept.push_back(l.substr(l.find(',', 2)));
    return kept;
  };
  const auto got = packet_lines(r.out);
  const auto plain = packet_lines(ffmpeg("-i three.h4mk -map 0:0 -map 0:1 -c copy -f framecrc -"));
  EXPECT_EQ(of_stream(got, '1'), of_stream(plain, '1'));
  ASSERT_FALSE(of_stream(got, '0').empty());
  EXPECT_NE(of_stream(got, '0'), of_stream(plain, '0'));
}

TEST(FFmpeg, WrongKeysAndAlteredBlocksAreRefused) {
  make_sources();
  ffmpeg("-i three.h4mk -map 0 -c copy -encryption_key " + kKey + " wk.h4mk");
  Result r = run(kFfmpeg + " -nostdin -v error -decryption_key " + kWrongKey +
                 " -i wk.h4mk -map 0 -c copy -f framecrc -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("opens none of the 3 masked tracks"), std::string::npos) << r.err;
  EXPECT_EQ(packet_lines(r.out).size(), 0u) << "garbage passed on";
  r = run(kFfmpeg + " -nostdin -v error -i wk.h4mk -map 0 -c copy -bsf h4mask=mode=unmask:key=" +
          kWrongKey + " -f framecrc -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("not the one the track was masked with"), std::string::npos) << r.err;
  r = run(kFfmpeg + " -nostdin -v error -decryption_key 0011 -i wk.h4mk -f null -");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("32 bytes"), std::string::npos) << r.err;

  // One ciphertext byte changed and the chunk CRC made to match: only the
  // authentication can tell, and exactly that packet is refused.
  auto bytes = read_file((work_dir() / "wk.h4mk").string());
  uint64_t chunk = 0, at = 0;
  {
    MemorySource src(bytes);
    Reader reader(src);
    Block b;
    for (int i = 0; reader.next(b) == ReadEvent::kBlock; ++i)
      if (i == 7) {
        chunk = b.chunk_offset;
        at = b.data_offset + kGcmNonceSize;
        break;
      }
  }
  ASSERT_GT(at, 0u);
  bytes[at] ^= 0x01;
  const uint32_t size = detail::load_u32(&bytes[chunk + 4]);
  detail::store_u32(&bytes[chunk + 8],
                    detail::chunk_crc(detail::kTagCore, size, {&bytes[chunk + 12], size}));
  write_file((work_dir() / "wk-altered.h4mk").string(), bytes);
  const auto all = packet_lines(framecrc("wk.h4mk", "-decryption_key " + kKey));
  r = run(kFfmpeg + " -nostdin -v error -decryption_key " + kKey +
          " -i wk-altered.h4mk -map 0 -c copy -f framecrc -");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(packet_lines(r.out).size(), all.size() - 1);
  EXPECT_NE(r.err.find("masked block refused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not authenticate"), std::string::npos) << r.err;
  // A masked stream cannot be masked again, nor given to a muxer key.
  r = run(kFfmpeg + " -nostdin -v error -y -i wk.h4mk -map 0 -c copy -encryption_key " + kKey +
          " again.h4mk");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("masked already"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace h4mk::test
