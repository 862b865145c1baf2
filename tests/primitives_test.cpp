// The small pieces: LEB128, zigzag, CRC, base64, GOP flags, group encodings,
// the chunk stream's window.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <memory>
#include <random>

#include "../libh4mk/src/base64.hpp"
#include "../libh4mk/src/block_group.hpp"
#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/chunk_stream.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/group_builder.hpp"
#include "../libh4mk/src/leb128.hpp"
#include "../libh4mk/src/rescale.hpp"
#include "h4mk/h4mk.hpp"
#include "test_util.hpp"

namespace h4mk::detail {
namespace {

TEST(Leb128, RoundTripsAndRejectsMalformed) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 16383ull, 16384ull, (1ull << 63) - 1,
                     1ull << 63, ~0ull}) {
    std::vector<uint8_t> b;
    put_uleb128(b, v);
    EXPECT_EQ(int(b.size()), uleb128_size(v));
    const uint8_t* p = b.data();
    uint64_t back;
    ASSERT_TRUE(get_uleb128(p, b.data() + b.size(), back));
    EXPECT_EQ(back, v);
    EXPECT_EQ(p, b.data() + b.size());
  }
  auto rejects = [](std::vector<uint8_t> b) {
    const uint8_t* p = b.data();
    uint64_t v;
    return !get_uleb128(p, b.data() + b.size(), v);
  };
  EXPECT_TRUE(rejects({}));
  EXPECT_TRUE(rejects({0x80}));                                                        // cut
  EXPECT_TRUE(rejects({0x80, 0x00}));                                                  // overlong
  EXPECT_TRUE(rejects({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}));  // > 64 bits
  EXPECT_TRUE(rejects(std::vector<uint8_t>(11, 0x80)));
}

// Each rounding against the exact quotient, for both signs, and the
// saturation at the ends of int64.
TEST(Rescale, RoundsAsAskedAndSaturates) {
  struct Case {
    int64_t num, den, down, up, toward_zero, nearest;
  };
  for (const Case& c :
       {Case{7, 2, 3, 4, 3, 4}, Case{-7, 2, -4, -3, -3, -3}, Case{5, 3, 1, 2, 1, 2},
        Case{4, 3, 1, 2, 1, 1}, Case{-4, 3, -2, -1, -1, -1}, Case{-5, 3, -2, -1, -1, -2},
        Case{6, 3, 2, 2, 2, 2}, Case{-6, 3, -2, -2, -2, -2}, Case{0, 9, 0, 0, 0, 0}}) {
    SCOPED_TRACE(std::to_string(c.num) + "/" + std::to_string(c.den));
    EXPECT_EQ(int64_t(divide(c.num, c.den, Round::kDown)), c.down);
    EXPECT_EQ(int64_t(divide(c.num, c.den, Round::kUp)), c.up);
    EXPECT_EQ(int64_t(divide(c.num, c.den, Round::kTowardZero)), c.toward_zero);
    EXPECT_EQ(int64_t(divide(c.num, c.den, Round::kNearest)), c.nearest);
  }
  // 1/30 s in 1/48000: 1600 exactly; 1/3 s in ms: 333.33.
  EXPECT_EQ(rescale(1, {1, 30}, {1, 48000}, Round::kDown), 1600);
  EXPECT_EQ(rescale(1, {1, 3}, {1, 1000}, Round::kDown), 333);
  EXPECT_EQ(rescale(1, {1, 3}, {1, 1000}, Round::kUp), 334);
  EXPECT_EQ(rescale(-1, {1, 3}, {1, 1000}, Round::kDown), -334);
  EXPECT_EQ(rescale(-1, {1, 3}, {1, 1000}, Round::kTowardZero), -333);
  EXPECT_EQ(rescale(2, {1, 3}, {1, 1000}, Round::kNearest), 667);
  EXPECT_EQ(rescale(INT64_MAX, {1, 1}, kMicroseconds, Round::kDown), INT64_MAX);
  EXPECT_EQ(rescale(INT64_MIN, {1, 1}, kMicroseconds, Round::kUp), INT64_MIN);
  EXPECT_EQ(rescale(Int128(INT64_MAX) * 2, {1, 2}, {1, 1}, Round::kDown), INT64_MAX);
}

TEST(Zigzag, MapsSignedToUnsigned) {
  EXPECT_EQ(zigzag_encode(0), 0u);
  EXPECT_EQ(zigzag_encode(-1), 1u);
  EXPECT_EQ(zigzag_encode(1), 2u);
  EXPECT_EQ(zigzag_encode(-2), 3u);
  for (int64_t v : {INT64_MIN, INT64_MAX, int64_t(-123456789), int64_t(987654321)})
    EXPECT_EQ(zigzag_decode(zigzag_encode(v)), v);
}

TEST(Crc32, MatchesZlib) {
  std::mt19937 rng(1);
  std::vector<uint8_t> data(100003);
  for (auto& b : data) b = uint8_t(rng());
  EXPECT_EQ(crc32(0, data.data(), data.size()), ::crc32(0, data.data(), uInt(data.size())));
  EXPECT_EQ(crc32(0, "123456789", 9), 0xCBF43926u);  // the ISO-HDLC check value
  uint32_t running = crc32(crc32(0, data.data(), 500), data.data() + 500, data.size() - 500);
  EXPECT_EQ(running, crc32(0, data.data(), data.size()));
}

// The SIMD implementations branch on length (fold widths of 16 to 256 bytes)
// and alignment: every length up to 1 KiB at every offset within 64 bytes,
// split anywhere, must give zlib's value; so must combining two CRCs.
TEST(Crc32, EveryLengthAndAlignmentMatchesZlib) {
  SCOPED_TRACE(crc32_implementation());
  std::mt19937 rng(2);
  std::vector<uint8_t> data(64 + 1024 + 4096);
  for (auto& b : data) b = uint8_t(rng());
  for (size_t offset = 0; offset < 64; offset += 1) {
    for (size_t len = 0; len <= 1024 + (offset == 0 ? 4096 : 0); ++len) {
      const uint8_t* p = data.data() + offset;
      const uint32_t want = ::crc32(0, p, uInt(len));
      ASSERT_EQ(crc32(0, p, len), want) << "offset " << offset << " length " << len;
      const size_t cut = len ? rng() % (len + 1) : 0;
      ASSERT_EQ(crc32(crc32(0, p, cut), p + cut, len - cut), want)
          << "offset " << offset << " length " << len << " split at " << cut;
      ASSERT_EQ(crc32_concat(crc32(0, p, cut), crc32(0, p + cut, len - cut), len - cut), want)
          << "offset " << offset << " length " << len << " combined at " << cut;
    }
  }
}

// Joining CRCs multiplies by x^(8n) mod P; libh4mk takes the factor from a
// 1 KB table and, with PCLMULQDQ, multiplies by Barrett's reduction itself,
// so both are held to zlib's multmodp and crc32_combine_gen64 on random
// operands and lengths (below 2^63: zlib takes a signed length).
TEST(Crc32, JoinArithmeticMatchesZlib) {
  SCOPED_TRACE(crc32_has_clmul() ? "pclmulqdq" : "zlib");
#if defined(__x86_64__)
  // Every x86-64 CPU since 2010 has it: here the test must reach libh4mk's
  // own arithmetic, not compare zlib with itself.
  ASSERT_TRUE(crc32_has_clmul());
#endif
  std::mt19937_64 rng(4);
  for (int i = 0; i < 200000; ++i) {
    const auto a = uint32_t(rng()), b = uint32_t(rng());
    ASSERT_EQ(crc32_multiply(a, b), uint32_t(::crc32_combine_op(a, 0, b))) << a << " * " << b;
  }
  std::vector<uint64_t> lengths = {0, 1, 2, 15, 16, 17, 255, 256, 4095, 4096, 65535, 65536};
  lengths.push_back(uint64_t(1) << 32);
  lengths.push_back(~uint64_t(0) >> 1);
  for (int i = 0; i < 20000; ++i) lengths.push_back(rng() >> (1 + rng() % 63));
  for (uint64_t n : lengths)
    ASSERT_EQ(crc32_shift_factor(n), uint32_t(::crc32_combine_gen64(z_off64_t(n)))) << "n " << n;
}

// A join gives what running the CRC over the bytes gives, from any start,
// whether the kept factor is reused (equal lengths) or replaced.
TEST(Crc32, JoinContinuesFromAnyStart) {
  std::mt19937 rng(5);
  std::vector<uint8_t> data(70000);
  for (auto& b : data) b = uint8_t(rng());
  CrcJoin join;
  for (int i = 0; i < 3000; ++i) {
    const size_t len = (i % 3 == 0) ? 1650 : rng() % (i % 7 == 0 ? data.size() : 5000);
    const uint8_t* p = data.data() + rng() % (data.size() - len + 1);
    const uint32_t a = rng(), from = (i % 4 == 0) ? 0 : uint32_t(rng());
    ASSERT_EQ(join.continue_from(a, from, crc32(from, p, len), len), crc32(a, p, len))
        << "length " << len << " try " << i;
  }
}

// The reader keeps a decoded group's pointers into the window while the
// stream's generation is unchanged (Reader's parked landing group): under
// any mix of fills, consumes and seeks, a pointer taken at a generation
// still shows the file's bytes while that generation lasts.
// A source that counts the reads that reach it: over HTTP, requests.
class RequestCounter final : public Source {
 public:
  explicit RequestCounter(std::span<const uint8_t> data) : in_(data) {}
  size_t read(std::span<uint8_t> buf) override {
    ++requests;
    sizes.push_back(buf.size());
    return in_.read(buf);
  }
  bool seekable() const override { return true; }
  void seek(uint64_t offset) override { in_.seek(offset); }
  std::optional<uint64_t> size() const override { return in_.size(); }
  int requests = 0;
  std::vector<size_t> sizes;

 private:
  MemorySource in_;
};

TEST(ReadWindow, ReadsInWindowsThatGrowWhileReadingGoesOn) {
  std::vector<uint8_t> data(1'000'000);
  std::mt19937 rng(4);
  for (auto& b : data) b = uint8_t(rng());
  auto inner = std::make_unique<RequestCounter>(data);
  RequestCounter& counter = *inner;
  ReadWindow w(std::move(inner));
  std::vector<uint8_t> got;
  uint8_t buf[16];
  // Small reads from the start: one request of 64 KiB serves 4,096 of them.
  for (int i = 0; i < 4096; ++i) {
    ASSERT_EQ(w.read(buf), 16u);
    got.insert(got.end(), buf, buf + 16);
  }
  EXPECT_EQ(counter.requests, 1);
  EXPECT_EQ(counter.sizes[0], size_t(64) << 10);
  // Going on: the next windows double.
  ASSERT_EQ(w.read(buf), 16u);
  EXPECT_EQ(counter.sizes.back(), size_t(128) << 10);
  // A seek starts small again, clipped to the end of the source.
  w.seek(990'000);
  std::vector<uint8_t> tail(20'000);
  size_t n = 0;
  while (size_t k = w.read(std::span(tail).subspan(n, std::min<size_t>(100, tail.size() - n))))
    n += k;
  EXPECT_EQ(n, 10'000u);
  EXPECT_TRUE(std::equal(tail.begin(), tail.begin() + 10'000, data.begin() + 990'000));
  EXPECT_EQ(counter.sizes.back(), 10'000u);
  EXPECT_EQ(w.read(buf), 0u);  // the end
  // A read as large as a window goes to the source as it is.
  const int before = counter.requests;
  w.seek(100'000);
  std::vector<uint8_t> big(200'000);
  EXPECT_EQ(w.read(big), big.size());
  EXPECT_EQ(counter.requests, before + 1);
  EXPECT_TRUE(std::equal(big.begin(), big.end(), data.begin() + 100'000));
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
}

TEST(ChunkStream, APointerHoldsItsBytesWhileTheGenerationLasts) {
  std::mt19937 rng(7);
  std::vector<uint8_t> file(1 << 20);
  for (uint8_t& b : file) b = uint8_t(rng());
  struct Held {
    const uint8_t* at;
    uint64_t offset;
    size_t size;
    uint64_t generation;
  };
  for (const bool seekable : {true, false}) {
    // A pipe read to its end starts again with a new stream.
    std::unique_ptr<Source> source;
    std::unique_ptr<ChunkStream> stream_of_source;
    auto open = [&] {
      source = seekable ? std::unique_ptr<Source>(std::make_unique<MemorySource>(file))
                        : std::make_unique<test::PipeLikeSource>(file);
      stream_of_source = std::make_unique<ChunkStream>(*source);
      stream_of_source->enable_read_ahead(256 * 1024);
    };
    open();
    std::vector<Held> held;
    size_t checked = 0, generations = 0;
    for (int op = 0; op < 20000; ++op) {
      ChunkStream& stream = *stream_of_source;
      const uint64_t before = stream.generation();
      switch (rng() % 4) {
        case 0:
        case 1:
          stream.fill(rng() % 70000);
          break;
        case 2:
          stream.consume(std::min<size_t>(stream.available(), rng() % 40000));
          break;
        case 3: {
          const uint64_t pos = stream.position();
          uint64_t to = pos + rng() % 100000;
          if (rng() % 2) to = pos - std::min<uint64_t>(pos, rng() % 100000);
          if (!seekable && to < pos) to = pos - std::min<uint64_t>(pos, rng() % 64);
          try {
            stream.seek(std::min<uint64_t>(to, file.size()));
          } catch (const Error& e) {
            ASSERT_FALSE(seekable) << e.what();
            ASSERT_EQ(e.code(), ErrorCode::kNotSeekable);
          }
          break;
        }
      }
      if (stream.generation() != before) ++generations;
      ASSERT_LE(stream.position() + stream.available(), file.size());
      if (stream.available())  // an empty window may have no buffer yet
        ASSERT_EQ(0,
                  std::memcmp(stream.data(), file.data() + stream.position(), stream.available()));
      for (const Held& h : held) {
        if (h.generation != stream.generation()) continue;
        ASSERT_EQ(0, std::memcmp(h.at, file.data() + h.offset, h.size))
            << "offset " << h.offset << ", generation " << h.generation;
        ++checked;
      }
      std::erase_if(held, [&](const Held& h) { return h.generation != stream.generation(); });
      if (stream.available() && held.size() < 8) {
        const size_t from = rng() % stream.available();
        const size_t size = 1 + rng() % (stream.available() - from);
        held.push_back({stream.data() + from, stream.position() + from, size, stream.generation()});
      }
      if (stream.position() < file.size()) continue;
      held.clear();
      if (seekable)
        stream.seek(0);
      else
        open();
    }
    EXPECT_GT(checked, 10000u) << (seekable ? "seekable" : "pipe");
    EXPECT_GT(generations, 100u) << (seekable ? "seekable" : "pipe");
  }
}

TEST(Base64, CanonicalOnly) {
  std::vector<uint8_t> v = {0, 1, 2, 3, 254, 255};
  for (size_t n = 0; n <= v.size(); ++n) {
    std::vector<uint8_t> part(v.begin(), v.begin() + long(n));
    auto back = base64_decode(base64_encode(part));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, part);
  }
  EXPECT_FALSE(base64_decode("AAE"));
  EXPECT_FALSE(base64_decode("A=E="));
  EXPECT_FALSE(base64_decode("AAF="));  // non-zero padding bits
}

TEST(GopFlags, PackAndUnpack) {
  uint32_t f = pack_gop_flags(5000, BlockType::kP);
  EXPECT_EQ(f, 5000u | (1u << 28));
  GopFlags g = unpack_gop_flags(f);
  EXPECT_EQ(g.pts_ms, 5000u);
  EXPECT_EQ(g.type, BlockType::kP);
  EXPECT_EQ(unpack_gop_flags(pack_gop_flags(kGopFlagsMaxPtsMs, BlockType::kB)).pts_ms,
            kGopFlagsMaxPtsMs);
  EXPECT_THROW(pack_gop_flags(kGopFlagsMaxPtsMs + 1, BlockType::kI), Error);
  EXPECT_THROW(unpack_gop_flags(3u << 28), Error);
  EXPECT_THROW(unpack_gop_flags(1u << 30), Error);
}

std::vector<DecodedBlock> round_trip(std::vector<PendingBlock> blocks, int64_t default_duration,
                                     std::vector<uint8_t>& encoded) {
  std::vector<uint8_t> payloads;
  for (auto& b : blocks) payloads.resize(payloads.size() + b.size, uint8_t(b.size));
  encoded.clear();
  encode_group(9, default_duration, blocks, payloads, encoded);
  std::vector<DecodedBlock> out;
  decode_group(encoded, default_duration, 65536, 0, out);
  EXPECT_EQ(out.size(), blocks.size());
  for (size_t i = 0; i < out.size() && i < blocks.size(); ++i) {
    blocks[i].info.track_id = 9;
    EXPECT_EQ(out[i].info, blocks[i].info) << i;
    EXPECT_EQ(out[i].size, blocks[i].size);
  }
  return out;
}

TEST(BlockGroup, UniformFixedSizeCostsNothingPerBlock) {
  std::vector<PendingBlock> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back({{9, BlockType::kI, 960 * i, 960 * i, 960}, 16});
  std::vector<uint8_t> enc;
  round_trip(blocks, 960, enc);
  // 16-byte header, flags byte, size byte, then the payloads back to back.
  EXPECT_EQ(enc.size(), 16u + 1 + 1 + 100 * 16);
  EXPECT_EQ(enc[2], kGroupUniform | kGroupFixedSize);
  round_trip(blocks, 0, enc);  // duration stored once: + 2 bytes
  EXPECT_EQ(enc.size(), 16u + 1 + 2 + 1 + 100 * 16);
}

TEST(BlockGroup, UniformVariableSizeAndPerRecord) {
  std::vector<PendingBlock> blocks;
  for (int i = 0; i < 10; ++i)
    blocks.push_back({{9, BlockType::kP, 10 * i, 10 * i, 10}, uint32_t(i)});
  std::vector<uint8_t> enc;
  round_trip(blocks, 10, enc);
  EXPECT_EQ(enc[2], kGroupUniform);
  EXPECT_EQ(enc.size(), 16u + 1 + 10 + 45);
  // A regular I/P/B stream without reordering: 2 bytes per block.
  blocks.clear();
  for (int i = 0; i < 10; ++i)
    blocks.push_back({{9, static_cast<BlockType>(i % 3), 10 * i, 10 * i, 10}, 41});
  round_trip(blocks, 10, enc);
  EXPECT_EQ(enc[2], 0);
  EXPECT_EQ(enc.size(), 16u + 10 * (2 + 41));
  // Reordered B frames, gaps, duration changes, flags.
  blocks = {{{9, BlockType::kI, 0, -3, 3, false, false}, 5},
            {{9, BlockType::kP, 9, 0, 3, true, false}, 0},
            {{9, BlockType::kB, 3, 3, 3, false, true}, 7},
            {{9, BlockType::kB, 6, 6, 0, false, true}, 1},
            {{9, BlockType::kP, 1000, 1000, 1u << 20, false, false}, 2},
            {{9, BlockType::kI, -50, -60, 7, false, false}, 3}};
  round_trip(blocks, 3, enc);
}

// Timestamps at the edges of int64, as a reader may decode them from a file
// (the group fuzzer re-encodes decoded groups): a block ending past INT64_MAX
// is not contiguous with anything, and steps that still fit are encoded
// exactly. A step that does not fit is refused with an error, never computed.
TEST(BlockGroup, TimestampsAtTheEdgesOfInt64) {
  const int64_t top = INT64_MAX - 19;
  std::vector<PendingBlock> blocks = {{{9, BlockType::kI, top, top, 20}, 1},
                                      {{9, BlockType::kI, 5, 5, 20}, 1},
                                      {{9, BlockType::kI, INT64_MAX, 0, 20}, 1}};
  std::vector<uint8_t> enc;
  round_trip(blocks, 20, enc);  // top + 20 overflows: the second block needs a pts step
  EXPECT_EQ(enc[2], 0);
  auto refused = [&](const std::vector<PendingBlock>& bad, const char* needle) {
    std::vector<uint8_t> payloads(bad.size()), out;
    try {
      encode_group(9, 0, bad, payloads, out);
      ADD_FAILURE() << "encoded: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused({{{9, BlockType::kI, INT64_MAX, -2, 0}, 1}}, "pts - dts does not fit");
  refused({{{9, BlockType::kI, INT64_MIN + 1, INT64_MIN + 1, 0}, 1},
           {{9, BlockType::kI, INT64_MAX, INT64_MAX, 0}, 1}},
          "pts step does not fit");
}

// summarize_group (verify's path) must accept and reject exactly what
// decode_group does, with the same error, and agree with the decoded blocks.
// Summary computed here from decode_group's blocks, independently.
std::string summary_or_error(std::span<const uint8_t> payload, int64_t dd, bool via_summary) {
  try {
    std::vector<DecodedBlock> blocks;
    if (via_summary) {
      GroupSummary s = summarize_group(payload, dd, 1000, 77);
      return "count " + std::to_string(s.header.block_count) + " key " +
             (s.has_key ? std::to_string(s.first_key_pts) : "-") + " pts " +
             std::to_string(s.min_pts) + ".." + std::to_string(s.max_end) + " dts " +
             std::to_string(s.first_dts) + ".." + std::to_string(s.last_dts) + " oob " +
             std::to_string(s.out_of_bounds) + " chains " + std::to_string(s.lead) + " " +
             std::to_string(s.longest) + " " + std::to_string(s.run);
    }
    GroupHeader g = decode_group(payload, dd, 1000, 77, blocks);
    std::string key = "-";
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    bool oob = false;
    auto outside = [](int64_t x) { return x > kMaxTimestamp || x < -kMaxTimestamp; };
    // Chains: blocks before the first I block, the most from one I block to
    // the next, and from the last I block to the end.
    long lead = 0, longest = 0, last_key = -1;
    for (size_t i = 0; i < blocks.size(); ++i) {
      if (blocks[i].info.type != BlockType::kI) continue;
      if (last_key < 0)
        lead = long(i);
      else
        longest = std::max(longest, long(i) - last_key);
      last_key = long(i);
    }
    if (last_key < 0) lead = long(blocks.size());
    const long run = last_key < 0 ? 0 : long(blocks.size()) - last_key;
    for (const DecodedBlock& b : blocks) {
      if (key == "-" && b.info.type == BlockType::kI) key = std::to_string(b.info.pts);
      lo = std::min(lo, b.info.pts);
      int64_t end;
      hi =
          std::max(hi, __builtin_add_overflow(b.info.pts, b.info.duration, &end) ? INT64_MAX : end);
      oob = oob || outside(b.info.pts) || outside(b.info.dts) || outside(b.info.duration);
    }
    return "count " + std::to_string(g.block_count) + " key " + key + " pts " + std::to_string(lo) +
           ".." + std::to_string(hi) + " dts " + std::to_string(blocks.front().info.dts) + ".." +
           std::to_string(blocks.back().info.dts) + " oob " + std::to_string(oob) + " chains " +
           std::to_string(lead) + " " + std::to_string(longest) + " " + std::to_string(run);
  } catch (const Error& e) {
    return "error " + std::to_string(int(e.code())) + " " + e.what();
  }
}

TEST(BlockGroup, SummaryAgreesWithDecodingOnGoodAndDamagedGroups) {
  std::mt19937_64 rng(7);
  int rejected = 0, accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    // Uniform fixed-size, uniform variable-size, or per-record groups; some
    // starting near INT64_MAX so that a block's pts overflows.
    const int kind = round % 3;
    const int n = 1 + int(rng() % 40);
    const int64_t dur = int64_t(rng() % 5);
    int64_t pts = (rng() % 4 == 0) ? INT64_MAX - int64_t(rng() % 100) : int64_t(rng() % 1000) - 500;
    if (rng() % 8 == 0) pts = kMaxTimestamp - 2;
    std::vector<PendingBlock> blocks;
    for (int i = 0; i < n; ++i) {
      // Uniform groups of I blocks, of P blocks, or of an I block then P
      // blocks (KEY_FIRST).
      BlockType type = kind == 2                  ? static_cast<BlockType>(rng() % 3)
                       : round % 2                ? BlockType::kI
                       : i == 0 && round % 4 == 0 ? BlockType::kI
                                                  : BlockType::kP;
      // Blocks follow each other until the next pts would pass INT64_MAX.
      if (i > 0 && __builtin_add_overflow(blocks.back().info.pts, dur, &pts)) break;
      blocks.push_back({{9, type, pts, pts, dur}, kind == 0 ? 3u : uint32_t(rng() % 6)});
    }
    std::vector<uint8_t> payloads, enc;
    for (const auto& b : blocks) payloads.resize(payloads.size() + b.size, 0xAB);
    encode_group(9, 2, blocks, payloads, enc);
    // Damage: a few bytes of the header or records changed, or the end cut.
    const int damage = int(rng() % 4);
    for (int d = 0; d < damage; ++d) {
      const size_t at = rng() % std::min<size_t>(enc.size(), 40);
      enc[at] = (rng() % 2) ? uint8_t(rng()) : uint8_t(enc[at] ^ (1u << (rng() % 8)));
    }
    if (rng() % 6 == 0) enc.resize(rng() % enc.size());
    const std::string want = summary_or_error(enc, 2, false);
    EXPECT_EQ(summary_or_error(enc, 2, true), want) << "round " << round;
    (want.rfind("error", 0) == 0 ? rejected : accepted)++;
  }
  // Both sides of the comparison were exercised.
  EXPECT_GT(rejected, 300);
  EXPECT_GT(accepted, 300);
}

// One DecodedGroup reused for groups of every layout (as the reader does)
// gives each group's blocks as a record per block would, finds the landing
// block of a seek as a scan of those blocks does, and is empty after a group
// that fails to decode.
TEST(BlockGroup, DecodedGroupReusedAcrossLayoutsMatchesRecordsAndScan) {
  std::mt19937_64 rng(11);
  DecodedGroup group;
  int landed = 0, before_first = 0;
  for (int round = 0; round < 3000; ++round) {
    const int kind = int(rng() % 3);  // FIXED_SIZE, UNIFORM, a record per block
    const int n = 1 + int(rng() % (round % 2 ? 200 : 8));
    const int64_t dur = int64_t(rng() % 4);
    int64_t pts = (rng() % 8 == 0) ? INT64_MAX - 300 : int64_t(rng() % 1000) - 500;
    const BlockType uniform_type = rng() % 4 ? BlockType::kI : BlockType::kP;
    const bool key_lead = rng() % 3 == 0;  // an I block before P blocks: KEY_FIRST
    std::vector<PendingBlock> blocks;
    for (int i = 0; i < n; ++i) {
      BlockType type = kind == 2            ? static_cast<BlockType>(rng() % 3)
                       : i == 0 && key_lead ? BlockType::kI
                                            : uniform_type;
      int64_t p = pts;
      if (i > 0 && __builtin_add_overflow(blocks.back().info.pts, dur, &p)) break;
      if (kind == 2 && rng() % 3 == 0) p -= int64_t(rng() % 5);  // reordered, pts going back
      blocks.push_back({{9, type, p, kind == 2 ? p - int64_t(rng() % 2) : p, dur},
                        kind == 0 ? 5u : uint32_t(rng() % 9)});
      pts = p;
    }
    // Empty payloads, but not all of them: a group of only empty payloads
    // holds one block (FORMAT.md §5.3).
    if (blocks.size() > 1 && std::all_of(blocks.begin(), blocks.end(),
                                         [](const PendingBlock& b) { return b.size == 0; }))
      blocks.back().size = 1;
    std::vector<uint8_t> payloads, enc;
    for (const auto& b : blocks) payloads.resize(payloads.size() + b.size, 0x5C);
    encode_group(9, 2, blocks, payloads, enc);
    if (rng() % 10 == 0) {  // damaged: decoding throws and leaves nothing
      enc.resize(enc.size() - 1);
      EXPECT_THROW(decode_group(enc, 2, 1000, 0, group), Error);
      EXPECT_TRUE(group.empty());
      continue;
    }
    std::vector<DecodedBlock> records;
    decode_group(enc, 2, 1000, 0, records);
    decode_group(enc, 2, 1000, 0, group);
    ASSERT_EQ(group.size(), records.size()) << "round " << round;
    EXPECT_EQ(group.track_id(), 9);
    for (size_t i = 0; i < records.size(); ++i) {
      const DecodedBlock d = group.block(i);
      EXPECT_EQ(d.info, records[i].info) << "round " << round << " block " << i;
      EXPECT_EQ(group.info(i), records[i].info);
      EXPECT_EQ(d.offset, records[i].offset);
      EXPECT_EQ(d.size, records[i].size);
      EXPECT_EQ(d.side_offset, records[i].side_offset);
      EXPECT_EQ(d.side_size, records[i].side_size);
    }
    const int64_t first = records.front().info.pts, last = records.back().info.pts;
    for (int k = 0; k < 8; ++k) {
      int64_t t;
      switch (k) {
        case 0:
          t = INT64_MIN;
          break;
        case 1:
          t = INT64_MAX;
          break;
        case 2:
          t = first - 1;
          break;
        case 3:
          t = last;
          break;
        default:  // around the group's span, saturating near INT64_MAX
          const int64_t step = int64_t(rng() % uint64_t(std::max<int64_t>(1, n * dur + 4))) - 2;
          if (__builtin_add_overflow(first, step, &t)) t = INT64_MAX;
      }
      long want = -1;
      for (size_t i = 0; i < records.size(); ++i)
        if (records[i].info.type == BlockType::kI && records[i].info.pts <= t) want = long(i);
      EXPECT_EQ(group.last_key_at_or_before(t), want) << "round " << round << " t " << t;
      (want >= 0 ? landed : before_first)++;
    }
  }
  EXPECT_GT(landed, 5000);  // both answers were exercised
  EXPECT_GT(before_first, 3000);
}

// A UNIFORM group whose blocks step past INT64_MAX names the first such block.
TEST(BlockGroup, SummaryNamesTheBlockWhosePtsOverflows) {
  std::vector<uint8_t> enc;
  std::vector<PendingBlock> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back({{9, BlockType::kI, 10 * i, 10 * i, 10}, 2});
  std::vector<uint8_t> payloads(20);
  encode_group(9, 10, blocks, payloads, enc);
  store_i64(enc.data() + 8, INT64_MAX - 35);  // blocks 0..3 fit, block 4 does not
  try {
    summarize_group(enc, 10, 1000, 5);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "CORE chunk at offset 5: block 4: pts overflows 64 bits");
  }
  std::vector<DecodedBlock> decoded;  // decoding a FIXED_SIZE group names the same block
  try {
    decode_group(enc, 10, 1000, 5, decoded);
    ADD_FAILURE() << "decoded";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "CORE chunk at offset 5: block 4: pts overflows 64 bits");
  }
  store_i64(enc.data() + 8, INT64_MAX - 90);  // the last block starts at INT64_MAX
  GroupSummary s = summarize_group(enc, 10, 1000, 5);
  EXPECT_EQ(s.max_end, INT64_MAX);
  EXPECT_EQ(s.first_key_pts, INT64_MAX - 90);
  EXPECT_TRUE(s.out_of_bounds);
  decode_group(enc, 10, 1000, 5, decoded);
  ASSERT_EQ(decoded.size(), 10u);
  EXPECT_EQ(decoded[9].info.pts, INT64_MAX);
  EXPECT_EQ(decoded[9].offset, decoded[0].offset + 18);
  EXPECT_EQ(decoded[9].size, 2u);
}

// The encoding as it was done before GroupBuilder, all blocks at once: the
// layout chosen from every block, then written out. Kept here as the oracle
// for the builder, which must produce the same bytes.
std::vector<uint8_t> encode_all_at_once(int64_t dd, const std::vector<PendingBlock>& blocks,
                                        const std::vector<uint8_t>& payloads) {
  auto bits = [](const BlockInfo& b) {
    return uint8_t(uint8_t(b.type) | (b.masked ? kBlockMasked : 0) |
                   (b.discardable ? kBlockDiscardable : 0));
  };
  auto continues = [](int64_t p, int64_t d, int64_t pts) {
    int64_t e;
    return !__builtin_add_overflow(p, d, &e) && pts == e;
  };
  const BlockInfo& first = blocks[0].info;
  // KEY_FIRST: an I block, then blocks of one other type with its other bits.
  const bool key_first =
      blocks.size() > 1 && first.type == BlockType::kI && blocks[1].info.type != BlockType::kI &&
      (bits(blocks[1].info) & ~kBlockTypeMask) == (bits(first) & ~kBlockTypeMask);
  const uint8_t shared = key_first ? bits(blocks[1].info) : bits(first);
  bool uniform = true, fixed = true;
  for (size_t i = 0; i < blocks.size(); ++i) {
    const BlockInfo& b = blocks[i].info;
    uniform = uniform && (i == 0 || bits(b) == shared) && b.duration == first.duration &&
              b.dts == b.pts && !blocks[i].side_size &&
              (i == 0 || continues(blocks[i - 1].info.pts, blocks[i - 1].info.duration, b.pts));
    fixed = fixed && blocks[i].size == blocks[0].size;
  }
  fixed = fixed && uniform;
  std::vector<uint8_t> out(kGroupHeaderSize);
  store_u16(out.data(), 9);
  out[2] = uint8_t((uniform ? kGroupUniform : 0) | (fixed ? kGroupFixedSize : 0) |
                   (uniform && key_first ? kGroupKeyFirst : 0));
  store_u32(out.data() + 4, uint32_t(blocks.size()));
  store_i64(out.data() + 8, first.pts);
  size_t pos = 0;
  if (uniform) {
    uint8_t f = uint8_t(shared | (first.duration != dd ? kBlockDuration : 0));
    out.push_back(f);
    if (f & kBlockDuration) put_uleb128(out, uint64_t(first.duration));
    if (fixed) put_uleb128(out, blocks[0].size);
    for (const auto& b : blocks) {
      if (!fixed) put_uleb128(out, b.size);
      out.insert(out.end(), payloads.begin() + pos, payloads.begin() + pos + b.size);
      pos += b.size;
    }
    return out;
  }
  int64_t prev_pts = first.pts, prev_duration = 0, expected = dd;
  for (const auto& pb : blocks) {
    const BlockInfo& b = pb.info;
    uint8_t f = bits(b);
    if (!continues(prev_pts, prev_duration, b.pts)) f |= kBlockPtsDelta;
    if (b.dts != b.pts) f |= kBlockDtsOffset;
    if (b.duration != expected) f |= kBlockDuration;
    if (pb.side_size) f |= kBlockSideData;
    out.push_back(f);
    put_uleb128(out, pb.size);
    if (f & kBlockPtsDelta) put_uleb128(out, zigzag_encode(b.pts - prev_pts));
    if (f & kBlockDtsOffset) put_uleb128(out, zigzag_encode(b.pts - b.dts));
    if (f & kBlockDuration) put_uleb128(out, uint64_t(b.duration));
    if (f & kBlockSideData) put_uleb128(out, pb.side_size);
    out.insert(out.end(), payloads.begin() + pos, payloads.begin() + pos + pb.side_size + pb.size);
    pos += pb.side_size + pb.size;
    prev_pts = b.pts;
    prev_duration = expected = b.duration;
  }
  return out;
}

// Groups that start FIXED_SIZE or UNIFORM and stop being so at any block, by
// any of the conditions, or stay so: the builder's bytes equal the oracle's,
// its summary (first I block, time span, count) is the blocks', and a builder
// reused after clear() starts afresh.
TEST(GroupBuilder, MakesTheBytesOfTheAllAtOnceEncoding) {
  std::mt19937_64 rng(11);
  GroupBuilder reused(9, 20, 12);
  int layouts[32] = {};  // by group flags
  int keys_after_the_first_block = 0;
  for (int round = 0; round < 4000; ++round) {
    const int n = 1 + int(rng() % 12);
    const int breaks_at = int(rng() % (n + 2));  // >= n: never breaks
    const int how = int(rng() % 7);
    const uint32_t size = uint32_t(rng() % 4);
    std::vector<PendingBlock> blocks;
    std::vector<uint8_t> payloads;
    int64_t pts = int64_t(rng() % 100) - 50;
    for (int i = 0; i < n; ++i) {
      // Groups of I blocks, of P blocks, and (every third round) of an I
      // block then P blocks.
      const BlockType type = round % 5 == 0            ? BlockType::kP
                             : i > 0 && round % 3 == 0 ? BlockType::kP
                                                       : BlockType::kI;
      BlockInfo b{9, type, pts, pts, round % 4 ? 20 : 7};
      uint32_t s = size, side = 0;
      if (i >= breaks_at) switch (how) {
          case 0:
            s = size + 1 + uint32_t(rng() % 3);
            break;  // size: FIXED_SIZE ends
          case 1:
            b.type = round % 5 ? BlockType::kB : BlockType::kI;
            break;  // type (in groups of P blocks, an I block after them)
          case 2:
            b.duration += 1;
            break;  // duration
          case 3:
            b.dts = b.pts - 1;
            break;  // dts != pts
          case 4:
            b.pts += 3, b.dts += 3;
            break;  // a gap
          case 5:
            side = 6;
            break;  // side data
          default:
            b.discardable = true;
            break;  // flags
        }
      const uint8_t tag = uint8_t(i * 16);
      if (side) {  // one well-formed side data entry
        std::vector<uint8_t> entry;
        const uint8_t value[] = {1, 2, 3};
        append_side_data(entry, "k", value);
        side = uint32_t(entry.size());
        payloads.insert(payloads.end(), entry.begin(), entry.end());
      }
      for (uint32_t k = 0; k < s; ++k) payloads.push_back(uint8_t(tag + k));
      blocks.push_back({b, s, side});
      pts = b.pts + b.duration;
    }
    if (n > 1 && payloads.empty()) {  // all empty: a group of them holds one block (§5.3)
      blocks.back().size = 1;
      payloads.push_back(0xEE);
    }
    const std::vector<uint8_t> want = encode_all_at_once(20, blocks, payloads);
    layouts[want[2]] += 1;
    reused.clear();
    size_t pos = 0;
    for (const auto& b : blocks) {
      reused.add(b.info, {payloads.data() + pos, b.side_size},
                 {payloads.data() + pos + b.side_size, b.size});
      pos += b.side_size + b.size;
    }
    // The summary the writer indexes the group by, kept without a record per block.
    uint32_t count = uint32_t(blocks.size());
    int64_t min_pts = INT64_MAX, max_end = INT64_MIN, key_pts = 0;
    bool has_key = false;
    for (const auto& b : blocks) {
      min_pts = std::min(min_pts, b.info.pts);
      max_end = std::max(max_end, b.info.pts + b.info.duration);
      if (b.info.type == BlockType::kI && !has_key) has_key = true, key_pts = b.info.pts;
    }
    const GroupSummary summary = reused.summary();
    EXPECT_EQ(summary.header.block_count, count) << "round " << round;
    EXPECT_EQ(summary.min_pts, min_pts) << "round " << round;
    EXPECT_EQ(summary.max_end, max_end) << "round " << round;
    EXPECT_EQ(summary.has_key, has_key) << "round " << round;
    EXPECT_EQ(summary.first_key_pts, key_pts) << "round " << round;
    keys_after_the_first_block += has_key && key_pts != blocks[0].info.pts;
    const std::span<uint8_t> got = reused.finish();
    ASSERT_EQ(std::vector<uint8_t>(got.begin() + 12, got.end()), want) << "round " << round;
    std::vector<DecodedBlock> back;
    decode_group(want, 20, 65536, 0, back);  // and the oracle's bytes are a valid group
    ASSERT_EQ(back.size(), blocks.size());
  }
  // Every layout was reached: a record per block, UNIFORM, FIXED_SIZE, each
  // of the last two with KEY_FIRST.
  EXPECT_GT(layouts[0], 500);
  EXPECT_GT(layouts[kGroupUniform], 200);
  EXPECT_GT(layouts[kGroupUniform | kGroupFixedSize], 500);
  EXPECT_GT(layouts[kGroupUniform | kGroupKeyFirst], 50);
  EXPECT_GT(layouts[kGroupUniform | kGroupFixedSize | kGroupKeyFirst], 200);
  EXPECT_GT(keys_after_the_first_block, 20);
}

}  // namespace
}  // namespace h4mk::detail

namespace h4mk {
// FORMAT.md §5.4: a side data key is UTF-8; one that is not makes the blob
// (so its group) malformed, and writers refuse it.
TEST(SideData, KeysThatAreNotUtf8AreMalformed) {
  std::vector<uint8_t> blob;
  append_side_data(blob, "skip_samples", std::vector<uint8_t>{1, 2});
  EXPECT_TRUE(valid_side_data(blob));
  for (const std::string bad : {std::string("\xff"), std::string("\xc0\xaf"),  // overlong '/'
                                std::string("\xed\xa0\x80"),                   // a surrogate
                                std::string("\xf4\x90\x80\x80"), std::string("a\xe2\x82")}) {
    EXPECT_THROW(append_side_data(blob, bad, {}), Error);
    std::vector<uint8_t> raw = {uint8_t(bad.size())};
    raw.insert(raw.end(), bad.begin(), bad.end());
    raw.push_back(0);
    EXPECT_FALSE(valid_side_data(raw));
  }
  std::vector<uint8_t> ok = {3, 'k', 0xc3, 0xa4, 0};  // "kä"
  EXPECT_TRUE(valid_side_data(ok));
  MemorySink sink;
  Writer w(sink);
  Track t;
  t.id = 1;
  w.add_track(t);
  std::vector<uint8_t> side = {1, 0xff, 0};
  EXPECT_THROW(w.write_block({1, BlockType::kI, 0, 0, 1}, std::vector<uint8_t>{1}, side), Error);
}
}  // namespace h4mk
