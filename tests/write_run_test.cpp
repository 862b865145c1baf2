// Writer::write_run: a run of equal blocks written at once makes the file
// that writing its blocks one by one makes, whatever groups it spans, with
// other tracks' groups closing on time around it; a refused run adds nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "h4mk/h4mk.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

struct Run {
  BlockInfo first;
  uint32_t count;
  std::vector<uint8_t> payloads;  // count equal blocks, back to back
};
struct Single {
  TestBlock block;
};
using Step = std::variant<Run, Single>;

// Tracks with time bases that do not divide each other, so the closing of
// other tracks' groups (in microseconds) falls between a run's blocks.
std::vector<Track> run_tracks(size_t n) {
  const Rational bases[] = {{1, 48000}, {1, 90000}, {1, 1000}};
  std::vector<Track> out;
  for (size_t i = 0; i < n; ++i) {
    Track t;
    t.id = uint16_t(i + 1);
    t.time_base = bases[i];
    t.default_duration = i == 0 ? 960 : 0;
    out.push_back(t);
  }
  return out;
}

// Random runs and single blocks on random tracks, in decode order per track
// (the tracks drift apart in time, as the writer allows).
std::vector<Step> random_steps(std::mt19937& rng, const std::vector<Track>& tracks) {
  std::vector<Step> steps;
  std::vector<int64_t> next_pts(tracks.size(), 0), last_dts(tracks.size(), 0);
  std::uniform_int_distribution<int> pick(0, 99);
  for (int s = 0; s < 60; ++s) {
    size_t t = size_t(pick(rng)) % tracks.size();
    const Track& tr = tracks[t];
    const int64_t ticks_per_ms = tr.time_base.den / 1000;
    BlockInfo b;
    b.track_id = tr.id;
    b.pts = b.dts = next_pts[t] + (pick(rng) < 10 ? pick(rng) * ticks_per_ms : 0);
    b.type = pick(rng) < 70 ? BlockType::kI : BlockType::kP;
    b.discardable = pick(rng) < 10;
    b.duration = (pick(rng) < 5 ? 0 : 1 + pick(rng) % 40) * ticks_per_ms;
    if (pick(rng) < 80) {
      const uint32_t count = uint32_t(pick(rng) < 10 ? pick(rng) % 3 : pick(rng) * 3);
      const size_t size = size_t(pick(rng) < 10 ? 0 : 1 + pick(rng) % 48);
      Run r{b, count, std::vector<uint8_t>(count * size)};
      for (auto& byte : r.payloads) byte = uint8_t(rng());
      next_pts[t] = b.pts + int64_t(count) * b.duration;
      if (count) last_dts[t] = next_pts[t] - b.duration;
      steps.push_back(std::move(r));
    } else {
      Single one{{b, std::vector<uint8_t>(size_t(pick(rng) % 100), uint8_t(s)), {}}};
      if (pick(rng) < 30 && b.pts - ticks_per_ms >= last_dts[t])
        one.block.info.dts -= ticks_per_ms;  // reordered: dts < pts
      next_pts[t] = b.pts + b.duration;
      last_dts[t] = one.block.info.dts;
      steps.push_back(std::move(one));
    }
  }
  return steps;
}

void write_steps(Sink& sink, const std::vector<Track>& tracks, const std::vector<Step>& steps,
                 const WriterOptions& o, bool as_runs) {
  Writer w(sink, o);
  for (const Track& t : tracks) w.add_track(t);
  for (const Step& step : steps) {
    if (const Single* one = std::get_if<Single>(&step)) {
      w.write_block(one->block.info, one->block.data);
      continue;
    }
    const Run& r = std::get<Run>(step);
    if (as_runs) {
      w.write_run(r.first, r.count, r.payloads);
      continue;
    }
    const size_t size = r.count ? r.payloads.size() / r.count : 0;
    BlockInfo b = r.first;
    for (uint32_t k = 0; k < r.count; ++k) {
      w.write_block(b, {r.payloads.data() + k * size, size});
      b.pts += b.duration;
      b.dts = b.pts;
    }
  }
  w.finish();
}

TEST(WriteRun, MakesTheFileItsBlocksWrittenOneByOneMake) {
  std::mt19937 rng(7);
  int compared = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const auto tracks = run_tracks(1 + size_t(trial) % 3);
    const auto steps = random_steps(rng, tracks);
    WriterOptions o;
    // Small limits, so runs span many groups and stop at each kind of limit.
    o.max_group_bytes = uint32_t(trial % 4 == 0 ? 1u << 20 : 40 + rng() % 2000);
    o.max_group_blocks = uint32_t(trial % 5 == 0 ? 4096 : 1 + rng() % 64);
    o.max_group_duration_us = trial % 3 == 0 ? 2'000'000 : int64_t(1000 + rng() % 400'000);
    o.write_veri = trial % 2 == 0;
    SCOPED_TRACE("trial " + std::to_string(trial));
    PipeLikeSink a, b;
    write_steps(a, tracks, steps, o, true);
    write_steps(b, tracks, steps, o, false);
    ASSERT_EQ(a.bytes, b.bytes);
    MemorySink c, d;  // seekable: with a HINT
    write_steps(c, tracks, steps, o, true);
    write_steps(d, tracks, steps, o, false);
    ASSERT_EQ(c.take(), d.take());
    ++compared;
  }
  EXPECT_EQ(compared, 300);
}

// Masked tracks draw a random salt, so two files never match: the run's
// blocks come back as written instead.
TEST(WriteRun, MaskedTrackBlocksComeBackUnmasked) {
  const Track t = run_tracks(1)[0];
  MaskKey key{};
  key[0] = 9;
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  w.set_mask_key(t.id, key);
  BlockInfo first;
  first.track_id = t.id;
  first.duration = 960;
  std::vector<uint8_t> payloads(500 * 16);
  for (size_t i = 0; i < payloads.size(); ++i) payloads[i] = uint8_t(i * 7);
  w.write_run(first, 500, payloads);
  w.finish();
  const auto file = sink.take();
  MemorySource src(file);
  Reader r(src);
  r.set_mask_key(key, t.id);
  Block b;
  size_t n = 0;
  while (r.next(b) == ReadEvent::kBlock) {
    ASSERT_LT(n, 500u);
    EXPECT_EQ(b.info.pts, int64_t(n) * 960);
    EXPECT_TRUE(std::equal(b.data.begin(), b.data.end(), payloads.begin() + n * 16,
                           payloads.begin() + (n + 1) * 16))
        << "block " << n;
    ++n;
  }
  EXPECT_EQ(n, 500u);
}

TEST(WriteRun, RefusedRunsAddNothingAndSayWhy) {
  const Track t = run_tracks(1)[0];
  BlockInfo first;
  first.track_id = t.id;
  first.pts = first.dts = 9600;
  first.duration = 960;
  const std::vector<uint8_t> p(10 * 16, 1);
  PipeLikeSink sink;
  Writer w(sink);
  w.add_track(t);
  w.write_run(first, 10, p);
  auto refused = [&](BlockInfo b, uint32_t count, std::span<const uint8_t> bytes,
                     const std::string& needle) {
    const uint64_t blocks = w.blocks_written();
    try {
      w.write_run(b, count, bytes);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_EQ(w.blocks_written(), blocks) << needle;
  };
  BlockInfo next = first;
  next.pts = next.dts = 9600 + 10 * 960;
  refused(next, 7, p, "track 1, run of 7 blocks at pts 19200: 160 payload bytes do not split");
  BlockInfo reordered = next;
  reordered.dts -= 1;
  refused(reordered, 10, p, "dts == pts");
  BlockInfo late = next;
  late.duration = int64_t(1) << 61;
  refused(late, 10, p, "the last block's pts would pass 2^62 - 1");
  BlockInfo back = first;  // dts before the previous block's
  refused(back, 10, p, "goes backwards");
  refused(next, 0, p, "160 payload bytes for no block");
  BlockInfo other = next;
  other.track_id = 9;
  try {
    w.write_run(other, 10, p);
    ADD_FAILURE() << "a run for an undeclared track was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("undeclared track 9"), std::string::npos) << e.what();
  }
  // The writer goes on as if the refused runs had not been tried.
  w.write_run(next, 10, p);
  w.write_run(next, 0, {});
  w.finish();
  PipeLikeSink same;
  Writer v(same);
  v.add_track(t);
  v.write_run(first, 10, p);
  v.write_run(next, 10, p);
  v.finish();
  EXPECT_EQ(sink.bytes, same.bytes);
}

}  // namespace
}  // namespace h4mk::test
