// The VERI chain hashed on a second thread (background_hash_chain.hpp) gives
// the chain hashed in place, whatever the chunk sizes, without copying large
// chunks, and the writer makes the same file with or without the thread;
// pinned to one CPU, or for files smaller than one batch, no thread is started.
// verify() gives the same report whether it hashes on a second thread or not.
#include "../libh4mk/src/hash_chain.hpp"

#include <gtest/gtest.h>
#include <sched.h>

#include <cstddef>
#include <random>
#include <vector>

#include "../libh4mk/src/background_hash_chain.hpp"
#include "h4mk/h4mk.hpp"
#include "test_util.hpp"

namespace h4mk::detail {
namespace {

struct Chunk {
  std::vector<uint8_t> header, payload;
};

// Sizes from empty to several times the 64 KiB batch and the 1 MiB queue, so
// chunks straddle, fill and overflow batches and the queue fills up. The
// bytes are slices of one random pool (cheap to make in a sanitizer build).
std::vector<Chunk> random_chunks(uint32_t seed, size_t count, size_t max_payload) {
  std::mt19937 rng(seed);
  static const std::vector<uint8_t> pool = [] {
    std::mt19937 fill(42);
    std::vector<uint8_t> p(size_t(4) << 20);
    for (auto& b : p) b = uint8_t(fill());
    return p;
  }();
  std::vector<Chunk> out(count);
  for (Chunk& c : out) {
    c.header.resize(12);
    for (auto& b : c.header) b = uint8_t(rng());
    const uint32_t pick = rng() % 100;
    const size_t size = pick < 60   ? rng() % 64
                        : pick < 97 ? rng() % 70000
                                    : rng() % (max_payload + 1);
    const size_t at = rng() % (pool.size() - size + 1);
    c.payload.assign(pool.begin() + ptrdiff_t(at), pool.begin() + ptrdiff_t(at + size));
  }
  return out;
}

const std::vector<uint8_t> kFileHeader = {'H', '4', 'M', 'K', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

void expect_same_chain(const std::vector<Chunk>& chunks, bool expect_thread) {
  HashChain in_place;
  BackgroundHashChain background(true);
  in_place.start(kFileHeader);
  background.start(kFileHeader);
  for (size_t i = 0; i < chunks.size(); ++i) {
    in_place.add_chunk(chunks[i].header, chunks[i].payload);
    background.add_chunk(chunks[i].header, chunks[i].payload);
    // Reading the chain midway waits for the worker and goes on after it.
    if (i == chunks.size() / 2) {
      EXPECT_EQ(background.count(), in_place.count());
      EXPECT_EQ(background.hex(), in_place.hex());
    }
  }
  EXPECT_EQ(background.count(), in_place.count());
  EXPECT_EQ(background.hex(), in_place.hex());
  EXPECT_EQ(background.used_thread(), expect_thread);
}

TEST(BackgroundHashChain, GivesTheChainHashedInPlace) {
  if (!may_use_second_cpu()) GTEST_SKIP() << "this process may run on one CPU only";
  for (uint32_t seed = 1; seed <= 3; ++seed) {
    SCOPED_TRACE(seed);
    expect_same_chain(random_chunks(seed, 1500, 3 << 20), true);
  }
}

TEST(BackgroundHashChain, SmallInputStaysOnTheCallersThread) {
  std::vector<Chunk> chunks(100);
  for (Chunk& c : chunks) {
    c.header.assign(12, 7);
    c.payload.assign(100, 9);
  }
  expect_same_chain(chunks, false);
  expect_same_chain({}, false);
}

TEST(BackgroundHashChain, NoThreadOnOneCpu) {
  cpu_set_t saved;
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  int cpu = 0;
  while (!CPU_ISSET(cpu, &saved)) ++cpu;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  EXPECT_FALSE(may_use_second_cpu());
  expect_same_chain(random_chunks(9, 400, 1 << 20), false);
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
}

TEST(BackgroundHashChain, LargeChunksAreHashedWithoutACopy) {
  if (!may_use_second_cpu()) GTEST_SKIP() << "this process may run on one CPU only";
  // Small chunks that start the worker, then an index-sized chunk between
  // them: the chain is the same, and no batch ever held the large one.
  std::vector<Chunk> chunks = random_chunks(5, 300, 0);
  for (Chunk& c : chunks) c.payload.resize(1000, 3);
  Chunk large;
  large.header.assign(12, 1);
  large.payload.resize(size_t(24) << 20);
  for (size_t i = 0; i < large.payload.size(); ++i) large.payload[i] = uint8_t(i * 7 + (i >> 12));
  chunks.insert(chunks.begin() + 200, large);
  chunks.insert(chunks.begin() + 250, large);

  HashChain in_place;
  BackgroundHashChain background(true);
  in_place.start(kFileHeader);
  background.start(kFileHeader);
  for (const Chunk& c : chunks) {
    in_place.add_chunk(c.header, c.payload);
    background.add_chunk(c.header, c.payload);
  }
  EXPECT_EQ(background.hex(), in_place.hex());
  EXPECT_EQ(background.count(), in_place.count());
  EXPECT_TRUE(background.used_thread());
  EXPECT_GT(background.largest_batch_bytes(), 0u);
  EXPECT_LT(background.largest_batch_bytes(), size_t(3) << 20);
}

TEST(BackgroundHashChain, DestroyedUnfinishedWithoutWaiting) {
  if (!may_use_second_cpu()) GTEST_SKIP() << "this process may run on one CPU only";
  // A writer given up on midway (its sink failed): the worker stops, the
  // queue is dropped, nothing is leaked (ASan) and nothing hangs.
  const auto chunks = random_chunks(11, 500, 2 << 20);
  BackgroundHashChain background(true);
  background.start(kFileHeader);
  for (const Chunk& c : chunks) background.add_chunk(c.header, c.payload);
  EXPECT_TRUE(background.used_thread());
}

}  // namespace
}  // namespace h4mk::detail

namespace h4mk::test {
namespace {

TEST(WriterVeriThread, MakesTheSameFile) {
  StreamSpec spec;
  spec.seconds = 30;
  spec.large_blocks = true;  // blocks up to 1 MiB: many batches, a full queue
  const auto tracks = test_tracks(spec);
  const auto blocks = make_stream(spec);
  WriterOptions threaded, in_place;
  threaded.veri_thread = true;
  in_place.veri_thread = false;
  const auto a = write_stream(tracks, blocks, threaded);
  const auto b = write_stream(tracks, blocks, in_place);
  ASSERT_GT(a.size(), size_t(4) << 20);
  EXPECT_TRUE(a == b);
  // And the file's chain is the one verify() recomputes.
  MemorySource src(a);
  const VerifyReport r = verify(src);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.has_veri);
  EXPECT_TRUE(r.veri_ok);
}

// The test stream's video track has groups with a record per block, so on
// two CPUs verify() hands its chain to a worker after the first of them (30 s
// with large blocks: megabytes past the first batch; ThreadSanitizer runs
// this test in scripts/sanitize.sh).
TEST(VerifyVeriThread, GivesTheReportOfHashingInPlace) {
  StreamSpec spec;
  spec.seconds = 30;
  spec.large_blocks = true;
  const auto file = write_stream(test_tracks(spec), make_stream(spec));
  auto report = [](const std::vector<uint8_t>& bytes, bool thread) {
    MemorySource src(bytes);
    VerifyOptions o;
    o.veri_thread = thread;
    return verify(src, o);
  };
  for (const bool damaged : {false, true}) {
    SCOPED_TRACE(damaged ? "damaged" : "good");
    std::vector<uint8_t> bytes = file;
    if (damaged) bytes[bytes.size() * 3 / 4] ^= 0x20;  // a chunk well past the hand-off
    const VerifyReport threaded = report(bytes, true), in_place = report(bytes, false);
    EXPECT_EQ(threaded.ok(), !damaged);
    EXPECT_EQ(threaded.ok(), in_place.ok());
    EXPECT_EQ(threaded.veri_ok, !damaged);
    EXPECT_EQ(threaded.veri_ok, in_place.veri_ok);
    EXPECT_EQ(threaded.veri_hash, in_place.veri_hash);
    EXPECT_EQ(threaded.blocks, in_place.blocks);
    ASSERT_EQ(threaded.problems.size(), in_place.problems.size());
    for (size_t i = 0; i < threaded.problems.size(); ++i) {
      EXPECT_EQ(threaded.problems[i].offset, in_place.problems[i].offset);
      EXPECT_EQ(threaded.problems[i].message, in_place.problems[i].message);
    }
  }
}

}  // namespace
}  // namespace h4mk::test
