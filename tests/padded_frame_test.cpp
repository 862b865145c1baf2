// An encoder's padded frame (FORMAT.md §5.4): the writer adds skip samples
// to a block of a whole-frame codec that lasts less than its frame, in the
// track's ticks however coarse, and to nothing else.
#include <gtest/gtest.h>

#include <optional>

#include "h4mk/h4mk.hpp"

namespace h4mk::test {
namespace {

struct Written {
  int64_t duration;
  std::vector<uint8_t> side;  // given
};

Track audio(const std::string& codec, Rational tb, std::optional<int32_t> frame_size) {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.codec = codec;
  t.time_base = tb;
  t.sample_rate = 48000;
  t.channels = 2;
  TrackParams p;
  p.codec.frame_size = frame_size;
  write_track_params(t, p);
  return t;
}

// The discard count of each block's skip_samples as read back (nullopt:
// none), writing each block alone or, with `run`, all as one run.
std::vector<std::optional<uint32_t>> discards(const Track& t, const std::vector<Written>& blocks,
                                              bool run = false, WriterOptions options = {}) {
  MemorySink sink;
  {
    Writer w(sink, options);
    w.add_track(t);
    const std::vector<uint8_t> payload(8, 0xAA);
    if (run) {
      std::vector<uint8_t> all(8 * blocks.size(), 0xAA);
      w.write_run({.track_id = 1,
                   .type = BlockType::kI,
                   .pts = 0,
                   .dts = 0,
                   .duration = blocks[0].duration},
                  uint32_t(blocks.size()), all);
    } else {
      int64_t at = 0;
      for (const Written& b : blocks) {
        w.write_block(
            {.track_id = 1, .type = BlockType::kI, .pts = at, .dts = at, .duration = b.duration},
            payload, b.side);
        at += b.duration;
      }
    }
    w.finish();
  }
  MemorySource src(sink.bytes());
  Reader r(src);
  std::vector<std::optional<uint32_t>> out;
  Block b;
  while (r.next(b) == ReadEvent::kBlock) {
    std::optional<uint32_t> discard;
    size_t pos = 0;
    SideDataEntry e;
    while (next_side_data(b.side_data, pos, e))
      if (e.key == "skip_samples") {
        EXPECT_EQ(e.value.size(), 10u);
        discard = uint32_t(e.value[4] | e.value[5] << 8 | e.value[6] << 16 | e.value[7] << 24);
        EXPECT_EQ(e.value[0] | e.value[1] | e.value[2] | e.value[3] | e.value[8] | e.value[9], 0);
      }
    out.push_back(discard);
  }
  return out;
}

constexpr auto none = std::nullopt;

TEST(PaddedFrame, TheShortLastFrameOfAacGetsSkipSamples) {
  // 1,024-sample frames, the last holding 352 samples.
  EXPECT_EQ(discards(audio("aac", {1, 48000}, 1024), {{1024, {}}, {1024, {}}, {352, {}}}),
            (std::vector<std::optional<uint32_t>>{none, none, 672}));
  for (const char* codec : {"mp2", "mp3", "ac3", "eac3"})
    EXPECT_EQ(discards(audio(codec, {1, 48000}, 1152), {{1000, {}}}).at(0), 152u) << codec;
}

TEST(PaddedFrame, CoarseTicksKeepEveryRealSample) {
  // MPEG-TS ticks cannot hold 1,024 samples: 1,919 ticks is a whole frame.
  EXPECT_EQ(discards(audio("aac", {1, 90000}, 1024), {{1919, {}}, {1920, {}}, {660, {}}}),
            (std::vector<std::optional<uint32_t>>{none, none, 1024 - 352}));
  // Milliseconds: a frame lasts 21 (21.33) ms; 7 ms is taken to last to the
  // end of the 8th, 384 samples.
  EXPECT_EQ(discards(audio("aac", {1, 1000}, 1024), {{21, {}}, {22, {}}, {7, {}}}),
            (std::vector<std::optional<uint32_t>>{none, none, 640}));
}

TEST(PaddedFrame, OwnSkipSamplesOtherCodecsAndUnknownFramesAreLeftAlone) {
  std::vector<uint8_t> own;
  const uint8_t skip[10] = {0, 0, 0, 0, 100};
  append_side_data(own, "skip_samples", skip);
  EXPECT_EQ(discards(audio("aac", {1, 48000}, 1024), {{352, own}}).at(0), 100u);
  EXPECT_EQ(discards(audio("opus", {1, 48000}, 960), {{480, {}}}).at(0), none);
  EXPECT_EQ(discards(audio("aac", {1, 48000}, std::nullopt), {{352, {}}}).at(0), none);
  EXPECT_EQ(discards(audio("aac", {1, 48000}, 1024), {{0, {}}}).at(0), none);  // no duration
  Track video = audio("aac", {1, 48000}, 1024);
  video.kind = TrackKind::kVideo;
  EXPECT_EQ(discards(video, {{352, {}}}).at(0), none);
}

TEST(PaddedFrame, ARewriteChangesNoBlock) {
  const Track t = audio("aac", {1, 48000}, 1024);
  EXPECT_EQ(discards(t, {{352, {}}}, false, rewrite_options()).at(0), none);
  // repair() and the rewriting commands write through rewrite_options().
  MemorySink sink;
  {
    Writer w(sink, rewrite_options());
    w.add_track(t);
    w.write_block({.track_id = 1, .type = BlockType::kI, .pts = 0, .dts = 0, .duration = 352},
                  std::vector<uint8_t>(8, 1));
    w.finish();
  }
  MemorySource in(sink.bytes());
  MemorySink repaired;
  repair(in, repaired);
  MemorySource out(repaired.bytes());
  Reader r(out);
  Block b;
  ASSERT_EQ(r.next(b), ReadEvent::kBlock);
  EXPECT_TRUE(b.side_data.empty());
}

TEST(PaddedFrame, ARunGetsWhatBlockByBlockGets) {
  const Track t = audio("aac", {1, 48000}, 1024);
  const std::vector<Written> blocks(5, Written{1000, {}});
  EXPECT_EQ(discards(t, blocks, true), discards(t, blocks, false));
  EXPECT_EQ(discards(t, blocks, true).at(4), 24u);
}

}  // namespace
}  // namespace h4mk::test
