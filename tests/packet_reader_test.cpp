// PacketReader: every track's blocks in dts order with bounded read-ahead,
// discarded and empty tracks, seeks that succeed or change nothing, and
// seeking on a pipe.
#include "h4mk/packet_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "test_util.hpp"

namespace h4mk::test {
namespace {

__extension__ using Int128 = __int128;

int64_t us_of(int64_t ts, const Track& t) {
  return int64_t(Int128(ts) * t.time_base.num * 1'000'000 / t.time_base.den);
}

struct Got {
  std::vector<TestBlock> blocks;
  size_t most_queued = 0;
};

Got read_packets(PacketReader& p, size_t limit = SIZE_MAX) {
  Got g;
  Block b;
  for (ReadEvent ev; g.blocks.size() < limit && (ev = p.next(b)) != ReadEvent::kEnd;) {
    g.most_queued = std::max(g.most_queued, p.queued_packets());
    if (ev != ReadEvent::kBlock) continue;
    g.blocks.push_back(
        {b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}});
  }
  return g;
}

// The largest step back in dts (microseconds) between consecutive blocks.
int64_t largest_step_back(const std::vector<TestBlock>& blocks, const std::vector<Track>& tracks) {
  auto track = [&](uint16_t id) {
    return *std::find_if(tracks.begin(), tracks.end(), [&](const Track& t) { return t.id == id; });
  };
  int64_t worst = 0, latest = INT64_MIN;
  for (const TestBlock& b : blocks) {
    const int64_t us = us_of(b.info.dts, track(b.info.track_id));
    if (latest != INT64_MIN) worst = std::max(worst, latest - us);
    latest = std::max(latest, us);
  }
  return worst;
}

std::vector<TestBlock> sorted(std::vector<TestBlock> v) {
  std::sort(v.begin(), v.end(), [](const TestBlock& a, const TestBlock& b) {
    return std::tie(a.info.track_id, a.info.dts, a.info.pts, a.data) <
           std::tie(b.info.track_id, b.info.dts, b.info.pts, b.data);
  });
  return v;
}

TEST(PacketReader, HandsOutEveryTrackInDtsOrder) {
  StreamSpec spec;
  spec.seconds = 20;
  const auto tracks = test_tracks(spec);
  const auto blocks = make_stream(spec);
  const auto file = write_stream(tracks, blocks);
  MemorySource src(file);
  Reader r(src);
  PacketReader p(r);
  const Got got = read_packets(p);
  EXPECT_EQ(largest_step_back(got.blocks, tracks), 0);
  EXPECT_EQ(sorted(got.blocks), sorted(blocks));
}

// Video with a sparse data track: one audio/video track, so the writer keeps
// 2 s groups, and file order steps back by more than a 1 s window.
TEST(PacketReader, WaitsForTheLongestGroupSpanNotOneSecond) {
  StreamSpec spec;
  spec.seconds = 30;
  const auto all = test_tracks(spec);
  const std::vector<Track> tracks{all[1], all[2]};
  std::vector<TestBlock> blocks;
  for (const TestBlock& b : make_stream(spec))
    if (b.info.track_id != all[0].id) blocks.push_back(b);
  const auto file = write_stream(tracks, blocks);
  ASSERT_GT(largest_step_back(read_all(file).blocks, tracks), 1'000'000)
      << "the file must step back by more than 1 s in file order for this test to mean anything";
  for (bool pipe : {false, true}) {
    SCOPED_TRACE(pipe ? "pipe" : "file");
    const auto bytes = pipe ? write_stream_unseekable(tracks, blocks) : file;
    MemorySource mem(bytes);
    PipeLikeSource piped(bytes);
    Reader r(pipe ? static_cast<Source&>(piped) : mem);
    PacketReader p(r);
    const Got got = read_packets(p);
    EXPECT_EQ(largest_step_back(got.blocks, tracks), 0);
    EXPECT_EQ(got.blocks.size(), blocks.size());
  }
}

// Tracks written one after another within the same second: the read-ahead
// stops at its bound, not at the number of tracks times their blocks.
TEST(PacketReader, ReadAheadStaysWithinItsBoundWhateverTheTracks) {
  std::vector<Track> tracks;
  std::vector<TestBlock> blocks;
  for (uint16_t id = 1; id <= 40; ++id) {
    Track t;
    t.id = id;
    t.kind = TrackKind::kData;
    t.time_base = {1, 1000};
    tracks.push_back(t);
    for (int i = 0; i < 500; ++i)
      blocks.push_back({{id, BlockType::kI, i, i, 1}, {uint8_t(id), uint8_t(i)}, {}});
  }
  std::stable_sort(blocks.begin(), blocks.end(), [](const TestBlock& a, const TestBlock& b) {
    return a.info.track_id < b.info.track_id;
  });
  WriterOptions wo;
  wo.interleave_duration_us = 0;
  const auto file = write_stream(tracks, blocks, wo);
  MemorySource src(file);
  Reader r(src);
  PacketReaderOptions po;
  po.max_queued_packets = 1000;
  PacketReader p(r, po);
  const Got got = read_packets(p);
  EXPECT_LE(got.most_queued, po.max_queued_packets);
  EXPECT_GE(got.most_queued, po.max_queued_packets - 1);
  EXPECT_EQ(got.blocks.size(), blocks.size());
  EXPECT_EQ(sorted(got.blocks), sorted(blocks));
}

// An empty track is waited for by nothing; a discarded one is not queued.
TEST(PacketReader, EmptyAndDiscardedTracksHoldNothingBack) {
  StreamSpec spec;
  spec.seconds = 10;
  auto tracks = test_tracks(spec);
  const auto blocks = make_stream(spec);
  auto most_queued = [&](const std::vector<Track>& declared, uint16_t discard) {
    const auto file = write_stream(declared, blocks);
    MemorySource src(file);
    Reader r(src);
    PacketReader p(r);
    if (discard) p.set_discarded(discard);
    const Got got = read_packets(p);
    if (discard)
      for (const TestBlock& b : got.blocks) EXPECT_NE(b.info.track_id, discard);
    return got.most_queued;
  };
  const size_t plain = most_queued(tracks, 0);
  Track empty = tracks[0];
  empty.id = 9;
  auto with_empty = tracks;
  with_empty.push_back(empty);
  EXPECT_EQ(most_queued(with_empty, 0), plain);
  // Discarding the video leaves audio and data, which interleave more finely.
  EXPECT_LT(most_queued(tracks, tracks[1].id), plain);
  const auto file = write_stream(tracks, blocks);
  MemorySource src(file);
  Reader r(src);
  PacketReader p(r);
  EXPECT_THROW(p.set_discarded(77), Error);
}

TEST(PacketReader, AFailedSeekChangesNothing) {
  StreamSpec spec;
  spec.seconds = 10;
  const auto tracks = test_tracks(spec);
  const auto file = write_stream(tracks, make_stream(spec));
  MemorySource a_src(file), b_src(file);
  Reader a(a_src), b(b_src);
  PacketReader pa(a), pb(b);
  const Got first = read_packets(pa, 300);
  EXPECT_EQ(read_packets(pb, 300).blocks, first.blocks);
  // No I block of the video at or after a time past its end.
  try {
    pa.seek(tracks[1].id, 3600 * 90000, SeekMode::kKeyAfter);
    ADD_FAILURE() << "a seek past the end landed";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound) << e.what();
  }
  EXPECT_THROW(pa.seek(77, 0), Error);
  // At every point, also while a block that was due waits uncopied behind
  // earlier queued ones (the failed seek reads, then reads back).
  size_t read = 0;
  for (;;) {
    try {
      pa.seek(tracks[1].id, 3600 * 90000, SeekMode::kKeyAfter);
      ADD_FAILURE() << "landed";
    } catch (const Error&) {
    }
    const Got a = read_packets(pa, 3), b = read_packets(pb, 3);
    ASSERT_EQ(a.blocks, b.blocks) << "after " << read << " blocks";
    if (a.blocks.empty()) break;
    read += a.blocks.size();
  }
  EXPECT_GT(read, 400u);
}

TEST(PacketReader, ReaderSeeksThatFailLeaveReadingWhereItWas) {
  StreamSpec spec;
  spec.seconds = 10;
  const auto tracks = test_tracks(spec);
  const auto file = write_stream(tracks, make_stream(spec));
  const ReadBack whole = read_all(file);
  for (bool pipe : {false, true}) {
    SCOPED_TRACE(pipe ? "pipe" : "file");
    MemorySource mem(file);
    PipeLikeSource piped(file);
    Reader r(pipe ? static_cast<Source&>(piped) : mem);
    Block b;
    for (int i = 0; i < 57; ++i) ASSERT_EQ(r.next(b), ReadEvent::kBlock);
    EXPECT_THROW(r.seek_all(tracks[1].id, 3600 * 90000, SeekMode::kKeyAfter), Error);
    EXPECT_THROW(r.seek_to_group(r.data_offset() + 1), Error);
    EXPECT_THROW(r.seek(tracks[1].id, -1), Error);
    EXPECT_THROW(r.decode_chain(tracks[1].id, -1), Error);
    for (size_t i = 57; i < whole.blocks.size(); ++i) {
      ASSERT_EQ(r.next(b), ReadEvent::kBlock) << i;
      ASSERT_EQ(b.info, whole.blocks[i].info) << i;
    }
    EXPECT_EQ(r.next(b), ReadEvent::kEnd);
  }
}

TEST(PacketReader, ASeekLandsEveryTrackInDtsOrder) {
  StreamSpec spec;
  spec.seconds = 20;
  const auto tracks = test_tracks(spec);
  const auto file = write_stream(tracks, make_stream(spec));
  MemorySource src(file);
  Reader r(src);
  PacketReader p(r);
  read_packets(p, 500);
  const int64_t t = 7 * 90000 + 1234;
  const PacketSeek s = p.seek(tracks[1].id, t);
  ASSERT_EQ(s.how, PacketSeek::How::kLanded);
  EXPECT_LE(s.point.pts, t);
  EXPECT_EQ(s.block.type, BlockType::kI);
  const Got got = read_packets(p);
  EXPECT_EQ(largest_step_back(got.blocks, tracks), 0);
  auto video = std::find_if(got.blocks.begin(), got.blocks.end(),
                            [&](const TestBlock& b) { return b.info.track_id == tracks[1].id; });
  ASSERT_NE(video, got.blocks.end());
  EXPECT_EQ(video->info.pts, s.point.pts);
  // At or before the video's first I block: from the start of the file.
  const PacketSeek start = p.seek(tracks[1].id, 0);
  EXPECT_EQ(start.how, PacketSeek::How::kFromStart);
  EXPECT_EQ(sorted(read_packets(p).blocks), sorted(make_stream(spec)));
}

TEST(PacketReader, OnAPipeSeeksForwardByReadingAndRefusesToGoBack) {
  StreamSpec spec;
  spec.seconds = 10;
  const auto tracks = test_tracks(spec);
  const auto blocks = make_stream(spec);
  const auto file = write_stream_unseekable(tracks, blocks);
  PipeLikeSource src(file);
  Reader r(src);
  PacketReader p(r);
  const Got first = read_packets(p, 200);
  const int64_t reached =
      us_of(first.blocks.back().info.dts, tracks[first.blocks.back().info.track_id - 1]);
  try {
    p.seek(tracks[1].id, 0);
    ADD_FAILURE() << "a pipe seeked back";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotSeekable) << e.what();
  }
  // Nothing was lost: the next block is the one after the 200th.
  PipeLikeSource src2(file);
  Reader r2(src2);
  PacketReader p2(r2);
  const Got both = read_packets(p2, 201);
  const Got next = read_packets(p, 1);
  ASSERT_EQ(next.blocks.size(), 1u);
  EXPECT_EQ(next.blocks[0], both.blocks[200]);

  const int64_t t_us = reached + 3'000'000;
  const int64_t t = t_us * 90000 / 1'000'000;
  EXPECT_EQ(p.seek(tracks[1].id, t).how, PacketSeek::How::kByReading);
  const Got after = read_packets(p);
  std::map<uint16_t, const TestBlock*> first_of;
  for (const TestBlock& b : after.blocks) first_of.emplace(b.info.track_id, &b);
  ASSERT_EQ(first_of.size(), tracks.size());
  for (const auto& [id, b] : first_of) {
    const Track& track = tracks[id - 1];
    EXPECT_EQ(b->info.type, BlockType::kI) << "track " << id;
    EXPECT_GT(us_of(b->info.pts + std::max<int64_t>(b->info.duration, 1), track), t_us - 1)
        << "track " << id;
  }
  EXPECT_EQ(largest_step_back(after.blocks, tracks), 0);
}

}  // namespace
}  // namespace h4mk::test
