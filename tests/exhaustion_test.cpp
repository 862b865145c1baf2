// Small hostile files must not cost time or memory out of proportion to
// their size (issue "hostile input"). Each case would run for minutes or
// write gigabytes without its bound; with it, it finishes at once, so the
// ctest timeout (120 s, tests/CMakeLists.txt) is what catches a regression:
// no timed assertions here.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "h4mk/h4mk.h"
#include "test_util.hpp"

using namespace h4mk;
using namespace h4mk::test;

namespace {

struct MemoryIo {
  std::span<const uint8_t> bytes;
  size_t pos = 0;
  h4mk_io io() {
    h4mk_io io{};
    io.opaque = this;
    io.read = [](void* o, uint8_t* buf, size_t n) -> int64_t {
      auto* m = static_cast<MemoryIo*>(o);
      n = std::min(n, m->bytes.size() - m->pos);
      std::memcpy(buf, m->bytes.data() + m->pos, n);
      m->pos += n;
      return int64_t(n);
    };
    io.seek = [](void* o, int64_t off) -> int64_t {
      auto* m = static_cast<MemoryIo*>(o);
      if (off < 0 || size_t(off) > m->bytes.size()) return -1;
      m->pos = size_t(off);
      return off;
    };
    io.size = [](void* o) -> int64_t { return int64_t(static_cast<MemoryIo*>(o)->bytes.size()); };
    return io;
  }
};

// 100,000 metadata keys and as many tags of one track, listed one by one
// through the C API as ffprobe does: each lookup is constant time (a walk
// from the start for each index took 43.7 s for 20,000 keys in ffprobe).
TEST(Exhaustion, ListingManyMetadataKeysIsLinear) {
  constexpr size_t kKeys = 100000;
  Track t = h4core_audio_track(8000, 1, "null");
  for (size_t i = 0; i < kKeys; i++) t.tags["t" + std::to_string(i)] = "v";
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  for (size_t i = 0; i < kKeys; i++) w.set_metadata("k" + std::to_string(i), std::to_string(i));
  w.finish();
  auto file = sink.take();

  MemoryIo m{file};
  h4mk_io io = m.io();
  h4mk_reader* r = nullptr;
  ASSERT_EQ(h4mk_reader_open(&r, &io), H4MK_OK) << h4mk_open_error();
  const char *key, *value;
  size_t n = 0;
  while (h4mk_reader_metadata(r, n, &key, &value) == H4MK_OK) n++;
  EXPECT_EQ(n, kKeys);
  size_t tags = 0;
  while (h4mk_reader_track_tag(r, 0, tags, &key, &value) == H4MK_OK) tags++;
  EXPECT_EQ(tags, kKeys);
  // The same entry twice gives the same string: nothing piles up per call.
  const char *k1, *k2;
  ASSERT_EQ(h4mk_reader_metadata(r, 7, &k1, &value), H4MK_OK);
  ASSERT_EQ(h4mk_reader_metadata(r, 7, &k2, &value), H4MK_OK);
  EXPECT_EQ(k1, k2);
  h4mk_reader_free(r);
}

// Blocks of one sample each, 59 s apart: each gap is under the 60 s a gap
// may be filled with silence, but together they asked for unbounded output
// (an 816-byte file wrote 10.4 GB). The output now stays within twice the
// audio decoded plus 60 s, and the decode stops with an error naming the
// track and pts.
TEST(Exhaustion, DecodedAudioIsBoundedByWhatTheBlocksDecodeTo) {
  constexpr int64_t kRate = 8000;
  Track t = h4core_audio_track(uint32_t(kRate), 1, "null");
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  const std::vector<uint8_t> one_sample(2);
  for (int64_t i = 0; i < 1000; i++)
    w.write_block({1, BlockType::kI, i * 59 * kRate, i * 59 * kRate, 1}, one_sample);
  w.finish();
  auto file = sink.take();
  ASSERT_LT(file.size(), 100000u);  // and it asked for ~1 GB of silence

  MemorySource src(file);
  Reader reader(src);
  auto adapter = load_adapter("null", "", adapter_config_json(*reader.track(1)));
  uint64_t bytes = 0;
  const uint64_t bound = 2 * 1000 * 2 + 60 * kRate * 2;  // 2 x decoded + 60 s, s16 mono
  try {
    stream_audio_range(reader, 1, kRangeStart, kRangeEnd, *adapter,
                       [&](const DecodedAudio&, std::span<const uint8_t> s) {
                         bytes += s.size();
                         if (bytes > bound) throw std::runtime_error("past the bound");
                       });
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("track 1"), std::string::npos) << e.what();
  }
  EXPECT_LE(bytes, bound);
}

// A bad chunk after TRAK, then 8 MiB of "NOTE" headers, each claiming the
// rest of the region: resynchronising used to CRC each claim in full
// (quadratic: inspect took 17.5 s, ffprobe over 150 s at 4 MiB). Every
// reader path that resyncs (reading, verify, repair) now passes over each
// byte once.
TEST(Exhaustion, ResyncOverClaimingHeadersIsLinear) {
  const auto file = file_with_claiming_headers(8u << 20, 50);
  MemorySource src(file);
  Reader r(src);
  Block b;
  size_t blocks = 0, damage = 0;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
    (ev == ReadEvent::kBlock ? blocks : damage)++;
  EXPECT_EQ(blocks, 50u);                     // every block after the damage
  EXPECT_GE(damage + r.damage().size(), 1u);  // found at open, while reading the header chunks
  MemorySource again(file);
  auto report = verify(again);
  EXPECT_FALSE(report.ok());
}

// A group of empty payloads holds one block (FORMAT.md §5.3), so a file
// never claims more blocks than it has bytes: one 34-byte CORE once declared
// 65,536 empty blocks, and ffprobe held 1.57 GB for a 1.5 KB file. Writers
// give each run of empty blocks a group per block, and every block comes back.
TEST(Exhaustion, EveryBlockTakesAtLeastAByteOfTheFile) {
  Track t = h4core_audio_track(8000, 1, "null");
  MemorySink sink;
  Writer w(sink);
  w.add_track(t);
  for (int i = 0; i < 300; i++) w.write_block({1, BlockType::kI, i, i, 1}, {});
  w.write_run({1, BlockType::kI, 300, 300, 1}, 300, {});
  const std::vector<uint8_t> one(1);
  w.write_block({1, BlockType::kI, 600, 600, 1}, one);
  w.write_block({1, BlockType::kI, 601, 601, 1}, {});  // after a non-empty one: same group
  w.finish();
  auto file = sink.take();
  EXPECT_GE(file.size(), 602u);
  auto back = read_all(file);
  EXPECT_TRUE(back.damage.empty());
  ASSERT_EQ(back.blocks.size(), 602u);
  for (size_t i = 0; i < back.blocks.size(); i++) EXPECT_EQ(back.blocks[i].info.pts, int64_t(i));
  MemorySource src(file);
  EXPECT_TRUE(verify(src).ok());
}

}  // namespace

// One I block and then P blocks only: a decode chain that grows with the
// file (1 MB of one-byte P blocks once asked `h4mk chain` for 600 MB). The
// chain is bounded (ReaderLimits::max_chain_blocks): writers refuse the
// block past it, readers refuse to build or decode a longer one, loudly.
TEST(Exhaustion, DecodeChainsAreBounded) {
  const uint32_t limit = ReaderLimits{}.max_chain_blocks;
  Track t = h4core_audio_track(8000, 1, "null");
  auto write = [&](WriterOptions o, uint32_t p_blocks) {
    MemorySink sink;
    Writer w(sink, o);
    w.add_track(t);
    const std::vector<uint8_t> sample(2, 7);  // one s16 sample: what the null adapter decodes
    w.write_block({1, BlockType::kI, 0, 0, 1}, sample);
    w.write_run({1, BlockType::kP, 1, 1, 1}, p_blocks,
                std::vector<uint8_t>(2 * size_t(p_blocks), 7));
    w.finish();
    return sink.take();
  };
  // The writer: a chain of exactly the limit is written; one more block is
  // refused, block by block and as a run, naming the bound.
  EXPECT_NO_THROW(write({}, limit - 1));
  try {
    write({}, limit);
    ADD_FAILURE() << "a chain past the limit was written";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("at most " + std::to_string(limit)), std::string::npos)
        << e.what();
  }
  {
    MemorySink sink;
    Writer w(sink);
    w.add_track(t);
    const std::vector<uint8_t> one(1);
    w.write_block({1, BlockType::kI, 0, 0, 1}, one);
    for (uint32_t i = 1; i < limit; i++) w.write_block({1, BlockType::kP, i, i, 1}, one);
    EXPECT_THROW(w.write_block({1, BlockType::kP, limit, limit, 1}, one), Error);
    w.write_block({1, BlockType::kI, limit, limit, 1}, one);  // an I block starts a new one
    w.write_block({1, BlockType::kP, limit + 1, limit + 1, 1}, one);
  }

  // A file with a longer chain (what a hostile or another writer makes).
  const auto file = long_chain_file(t, 4 * limit, std::vector<uint8_t>(2, 7));
  MemorySource src(file);
  Reader reader(src);
  EXPECT_EQ(reader.decode_chain(1, limit - 1).size(), limit);
  try {
    reader.decode_chain(1, 4 * limit);
    ADD_FAILURE() << "a chain past the limit was built";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("longer than " + std::to_string(limit)), std::string::npos)
        << e.what();
  }
  // Decoding the whole track: every block up to the limit, then a loud error.
  auto adapter = load_adapter("null", "", adapter_config_json(*reader.track(1)));
  uint64_t frames = 0;
  try {
    decode_range(reader, 1, kRangeStart, kRangeEnd, *adapter,
                 [&](const BlockInfo&, const AdapterOutput&) { frames++; });
    ADD_FAILURE() << "a chain past the limit was decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded) << e.what();
    EXPECT_NE(std::string(e.what()).find("track 1"), std::string::npos) << e.what();
  }
  EXPECT_EQ(frames, limit - 1);  // the last anchor is handed out when the next one comes
  // A reader allowed more builds it.
  ReaderOptions more;
  more.limits.max_chain_blocks = 4 * limit + 1;
  MemorySource again(file);
  Reader lenient(again, more);
  EXPECT_EQ(lenient.decode_chain(1, 4 * limit).size(), 4 * limit + 1);
}

// An adapter whose output is far larger than its input (the dsp adapter
// turned a 115 KB file of tiny blocks into 734 MB of audio): decoding stops
// with a loud error once the output passes DecodeLimits, before it is made.
TEST(Exhaustion, DecodedOutputIsBoundedPerInputByte) {
  struct State : DecodeState {};
  struct Amplifier : ModelAdapter {
    std::vector<uint8_t> picture = std::vector<uint8_t>(1 << 20, 1);
    std::string name() const override { return "amplifier"; }
    StatePtr decode_I(const AdapterBlock&) override { return std::make_shared<State>(); }
    StatePtr apply_P(const DecodeState&, const AdapterBlock&) override {
      return std::make_shared<State>();
    }
    AdapterOutput finalize(const DecodeState&) override {
      AdapterOutput o{};
      o.kind = H4MK_OUTPUT_BYTES;
      o.data = picture.data();
      o.size = picture.size();
      return o;
    }
  } amplifier;
  MemorySink sink;
  Writer w(sink);
  w.add_track(h4core_audio_track(8000, 1, "null"));
  const std::vector<uint8_t> one(1);
  for (int64_t i = 0; i < 1000; i++) w.write_block({1, BlockType::kI, i, i, 1}, one);
  w.finish();
  const auto file = sink.take();
  MemorySource src(file);
  Reader reader(src);
  const DecodeLimits limits;
  uint64_t out = 0, frames = 0;
  try {
    decode_range(reader, 1, kRangeStart, kRangeEnd, amplifier,
                 [&](const BlockInfo&, const AdapterOutput& o) {
                   out += o.size;
                   frames++;
                 });
    ADD_FAILURE() << "1 GB decoded from " << file.size() << " bytes";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("DecodeLimits"), std::string::npos) << e.what();
  }
  EXPECT_GT(frames, 0u);
  EXPECT_LE(out, frames * limits.output_per_input_byte + limits.output_allowance);
  // Allowed more, the same file decodes whole.
  DecodeLimits more;
  more.output_allowance = 2u << 30;
  reader.rewind();
  EXPECT_EQ(decode_range(
                reader, 1, kRangeStart, kRangeEnd, amplifier,
                [](const BlockInfo&, const AdapterOutput&) {}, more),
            1000u);
}

// A file with thousands of damaged spots: the reader keeps a bounded record
// (the first 1000 and the latest 24) and counts them all; every one is still
// a damage event as it is met (a million spots once held ffprobe at 247 MB).
TEST(Exhaustion, DamageRecordsAreBounded) {
  MemorySink sink;
  WriterOptions o;
  o.max_group_blocks = 1;
  Writer w(sink, o);
  w.add_track(h4core_audio_track(8000, 1, "null"));
  const std::vector<uint8_t> payload(8, 1);
  constexpr int kGroups = 5000;
  for (int64_t i = 0; i < kGroups; i++) w.write_block({1, BlockType::kI, i, i, 1}, payload);
  w.finish();
  auto file = sink.take();
  std::vector<uint64_t> damaged;  // every other group: each a region of its own
  int core = 0;
  for (const auto& c : chunk_layout(file))
    if (c.tag == "CORE" && core++ % 2 == 0) {
      file[size_t(c.end) - 1] ^= 0x55;  // the last payload byte: the CRC fails
      damaged.push_back(c.offset);
    }
  PipeLikeSource src(file);
  Reader r(src);
  Block b;
  uint64_t events = 0, blocks = 0;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev == ReadEvent::kDamage) {
      EXPECT_EQ(r.last_damage().offset, damaged[events]) << events;
      events++;
    } else {
      blocks++;
    }
  }
  EXPECT_EQ(events, damaged.size());
  EXPECT_EQ(blocks, kGroups / 2);
  EXPECT_EQ(r.damage_count(), damaged.size());
  ASSERT_EQ(r.damage().size(), 1000u + 24u);
  EXPECT_EQ(r.damage().front().offset, damaged.front());
  EXPECT_EQ(r.damage()[999].offset, damaged[999]);
  EXPECT_EQ(r.damage()[1000].offset, damaged[damaged.size() - 24]);
  EXPECT_EQ(r.damage().back().offset, damaged.back());

  // verify reports every problem as it finds it and keeps the first 1000.
  MemorySource whole(file);
  VerifyOptions o2;
  uint64_t seen = 0;
  o2.on_problem = [&](const Problem&) { seen++; };
  const VerifyReport v = verify(whole, o2);
  EXPECT_FALSE(v.ok());
  EXPECT_GE(seen, damaged.size());
  EXPECT_EQ(v.problem_count, seen);
  EXPECT_EQ(v.problems.size(), VerifyReport::kKeptProblems);
}

namespace h4mk::test {
// FORMAT.md §12.1: a track may declare a tighter bound in TRAK
// (max_chain_blocks); writers declare theirs and keep it, readers build no
// longer chain, and verify reports one longer than the track's bound (or the
// format's 65536).
TEST(Exhaustion, ATracksDeclaredChainBoundHolds) {
  Track t = h4core_audio_track(8000, 1, "null");
  const std::vector<uint8_t> one(2);
  WriterOptions o;
  o.max_chain_blocks = 100;
  MemorySink sink;
  Writer w(sink, o);
  w.add_track(t);
  for (int i = 0; i < 100; i++) w.write_block({1, i ? BlockType::kP : BlockType::kI, i, i, 1}, one);
  EXPECT_THROW(w.write_block({1, BlockType::kP, 100, 100, 1}, one), Error);
  w.finish();
  const auto file = sink.take();
  MemorySource src(file);
  Reader r(src);
  EXPECT_EQ(r.track(1)->max_chain_blocks, 100u);
  EXPECT_NE(r.tracks_json().find(R"("max_chain_blocks":100)"), std::string::npos);
  MemorySource vsrc(file);
  EXPECT_TRUE(verify(vsrc).ok());

  // A TRAK that says 4 over a chain of 10 (as a forger would edit it).
  t.max_chain_blocks = 65000;
  MemorySink s2;
  Writer w2(s2);
  w2.add_track(t);
  for (int i = 0; i < 10; i++) w2.write_block({1, i ? BlockType::kP : BlockType::kI, i, i, 1}, one);
  w2.finish();
  auto lying = s2.take();
  const auto trak = chunk_layout(lying).at(0);
  const std::string text(lying.begin() + long(trak.offset) + 12, lying.begin() + long(trak.end));
  const size_t at = text.find("65000");
  ASSERT_NE(at, std::string::npos);
  std::copy_n("    4", 5, lying.begin() + long(trak.offset + 12 + at));  // JSON allows the spaces
  reseal_chunk(lying, trak.offset);
  MemorySource lsrc(lying);
  const VerifyReport v = verify(lsrc);
  std::string all;
  for (const Problem& p : v.problems) all += p.message + "\n";
  EXPECT_NE(all.find("decode chain longer than 4 blocks (its TRAK max_chain_blocks)"),
            std::string::npos)
      << all;
  MemorySource rsrc(lying);
  Reader lr(rsrc);
  EXPECT_EQ(lr.decode_chain(1, 3).size(), 4u);
  try {
    lr.decode_chain(1, 9);
    ADD_FAILURE() << "a chain past the track's bound was built";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the track's bound in TRAK"), std::string::npos)
        << e.what();
  }

  // Past the format's bound, with nothing declared.
  const auto long_file = long_chain_file(h4core_audio_track(8000, 1, "null"), kMaxChainBlocks, one);
  MemorySource longsrc(long_file);
  const VerifyReport lv = verify(longsrc);
  all.clear();
  for (const Problem& p : lv.problems) all += p.message + "\n";
  EXPECT_NE(all.find("longer than 65536 blocks (the format's bound)"), std::string::npos) << all;

  // Out of range: refused by writers, and a TRAK that says so is invalid.
  Track bad = h4core_audio_track(8000, 1, "null");
  bad.max_chain_blocks = kMaxChainBlocks + 1;
  MemorySink s3;
  Writer w3(s3);
  EXPECT_THROW(w3.add_track(bad), Error);
  WriterOptions zero;
  zero.max_chain_blocks = 0;
  MemorySink s4;
  EXPECT_THROW(Writer(s4, zero), Error);
}
}  // namespace h4mk::test
