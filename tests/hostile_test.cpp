// Hostile inputs are rejected with clear errors and never cause a large
// allocation. Every allocation in this test binary is measured.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "../libh4mk/src/block_group.hpp"
#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "test_util.hpp"

namespace {
std::atomic<size_t> g_largest_allocation{0};
size_t g_largest_in_library = 0;  // the largest single allocation made while parsing

// Runs f with the allocation counter reset, so only the library's own
// allocations (not the test building its input) are measured.
template <typename F>
auto measured(F&& f) {
  g_largest_allocation = 0;
  struct Record {
    ~Record() {
      g_largest_in_library = std::max(g_largest_in_library, g_largest_allocation.load());
    }
  } record;
  return f();
}
}  // namespace

void* operator new(size_t n) {
  size_t cur = g_largest_allocation.load();
  while (n > cur && !g_largest_allocation.compare_exchange_weak(cur, n)) {
  }
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too (std::stable_sort uses them), so every form pairs
// with the delete below.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return ::operator new(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace h4mk::test {
namespace {

using namespace h4mk::detail;

std::vector<uint8_t> header(uint16_t major = 1, uint16_t minor = 0) {
  auto h = encode_file_header({major, minor, 0});
  return {h.begin(), h.end()};
}

void append_text(std::vector<uint8_t>& f, const char (&tag)[5], const std::string& text) {
  append_chunk(f, tag, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

const std::string kTrak =
    R"({"tracks":[{"id":1,"kind":"audio","codec":"h4core","time_base":[1,1000]}]})";

ErrorCode open_error(std::span<const uint8_t> file, std::string* message = nullptr) {
  MemorySource src(file);
  return measured([&] {
    try {
      Reader r(src);
    } catch (const Error& e) {
      if (message) *message = e.what();
      return e.code();
    }
    return ErrorCode::kOk;
  });
}

// Reads a file and returns its damage list (open must succeed).
std::vector<Damage> damage_of(std::span<const uint8_t> file) {
  PipeLikeSource src(file);
  return measured([&] {
    Reader r(src);
    Block b;
    while (r.next(b) != ReadEvent::kEnd) {
    }
    return r.damage();
  });
}

class Hostile : public ::testing::Test {
 protected:
  // A group's block table is bounded by max_blocks_per_group (65536 entries);
  // everything else by the bytes actually present (docs/FORMAT.md, "Reader limits").
  void SetUp() override { g_largest_in_library = 0; }
  void TearDown() override { EXPECT_LE(g_largest_in_library, size_t(4) << 20); }
};

TEST_F(Hostile, ChunkSizesNear4GiB) {
  for (uint32_t size : {0xFFFFFFFFu, 0xFFFFFFF0u, 0x80000000u, (16u << 20) + 1}) {
    auto f = header();
    uint8_t h[12];
    store_u32(h, make_tag("TRAK"));
    store_u32(h + 4, size);
    store_u32(h + 8, 0);
    f.insert(f.end(), h, h + 12);
    f.resize(f.size() + 100, 'x');
    std::string msg;
    EXPECT_EQ(open_error(f, &msg), ErrorCode::kLimitExceeded) << msg;
    EXPECT_NE(msg.find("offset 16"), std::string::npos) << msg;
  }
  // A CORE claiming 200 MiB on a pipe: reported, and memory follows the bytes present.
  auto f = header();
  append_text(f, "TRAK", kTrak);
  uint8_t h[12];
  store_u32(h, make_tag("CORE"));
  store_u32(h + 4, 200u << 20);
  store_u32(h + 8, 0);
  f.insert(f.end(), h, h + 12);
  f.resize(f.size() + 1000, 0);
  auto d = damage_of(f);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].code, ErrorCode::kTruncated) << d[0].message;
}

std::vector<uint8_t> file_with_group(std::span<const uint8_t> group) {
  auto f = header();
  append_text(f, "TRAK", kTrak);
  append_chunk(f, "CORE", group);
  return f;
}

std::vector<uint8_t> group_header(uint8_t flags, uint32_t count, int64_t pts = 0) {
  std::vector<uint8_t> g(16);
  store_u16(g.data(), 1);
  g[2] = flags;
  store_u32(g.data() + 4, count);
  store_i64(g.data() + 8, pts);
  return g;
}

void expect_group_damage(std::vector<uint8_t> group, ErrorCode code, const char* needle) {
  auto d = damage_of(file_with_group(group));
  ASSERT_EQ(d.size(), 1u) << needle;
  EXPECT_EQ(d[0].code, code) << d[0].message;
  EXPECT_NE(d[0].message.find(needle), std::string::npos) << d[0].message;
  EXPECT_NE(d[0].message.find("CORE chunk at offset"), std::string::npos) << d[0].message;
}

TEST_F(Hostile, CountsThatDoNotFit) {
  expect_group_damage(group_header(0, 0xFFFFFFFF), ErrorCode::kLimitExceeded, "block_count");
  expect_group_damage(group_header(0, 1000), ErrorCode::kCorrupt, "cannot fit");
  expect_group_damage(group_header(0, 0), ErrorCode::kCorrupt, "block_count is 0");
  // FIXED_SIZE with empty payloads: the count alone could ask for memory.
  auto g = group_header(kGroupUniform | kGroupFixedSize, 65537);
  g.push_back(0);  // flags
  g.push_back(0);  // size 0
  expect_group_damage(g, ErrorCode::kLimitExceeded, "block_count");
  // Nor within the limit: a group of empty payloads holds one block (§5.3).
  auto empties = group_header(kGroupUniform | kGroupFixedSize, 65536);
  empties.push_back(0);
  empties.push_back(0);
  expect_group_damage(empties, ErrorCode::kCorrupt, "may hold only one");
  auto ok = group_header(kGroupUniform | kGroupFixedSize, 1);
  ok.push_back(0);
  ok.push_back(0);
  EXPECT_TRUE(damage_of(file_with_group(ok)).empty());
  // A record size that runs past the chunk.
  auto r = group_header(0, 1);
  r.insert(r.end(), {0x00, 0x90, 0x4e});  // flags, size 10000
  expect_group_damage(r, ErrorCode::kCorrupt, "runs past the chunk");
}

// Group flags a reader cannot read a layout from: bits no version defines,
// and FIXED_SIZE or KEY_FIRST without UNIFORM (§5.1; DICTIONARY without
// COMPRESSED: compression_test). KEY_FIRST with UNIFORM reads block 0 as I, whatever its flags byte
// says, and a redundant KEY_FIRST (a lone block, or an I flags byte) is read
// as written (G8).
TEST_F(Hostile, GroupFlagsThatNameNoLayout) {
  for (uint8_t bit : {0x20, 0x40, 0x80}) {
    auto g = group_header(uint8_t(kGroupUniform | kGroupFixedSize | bit), 1);
    g.insert(g.end(), {0x00, 0x00});
    expect_group_damage(g, ErrorCode::kCorrupt, "unknown group flags");
  }
  auto fixed = group_header(kGroupFixedSize, 1);
  fixed.insert(fixed.end(), {0x00, 0x00});
  expect_group_damage(fixed, ErrorCode::kCorrupt, "FIXED_SIZE without UNIFORM");
  auto key_first = group_header(kGroupKeyFirst, 1);
  key_first.insert(key_first.end(), {0x01, 0x00});
  expect_group_damage(key_first, ErrorCode::kCorrupt, "KEY_FIRST without UNIFORM");
  auto read = [&](std::vector<uint8_t> g) {
    auto f = file_with_group(g);
    MemorySource src(f);
    Reader r(src);
    std::string types;
    Block b;
    while (r.next(b) == ReadEvent::kBlock) types += block_type_name(b.info.type);
    EXPECT_TRUE(r.damage().empty());
    return types;
  };
  const uint8_t all = kGroupUniform | kGroupFixedSize | kGroupKeyFirst;
  auto ipp = group_header(all, 3);
  ipp.insert(ipp.end(), {0x01, 0x01, 0xA, 0xB, 0xC});  // P, size 1
  EXPECT_EQ(read(ipp), "IPP");
  auto ibb = group_header(kGroupUniform | kGroupKeyFirst, 3);
  ibb.insert(ibb.end(), {0x02, 0x01, 0xA, 0x02, 0xB, 0xC, 0x00});  // B, sizes 1 2 0
  EXPECT_EQ(read(ibb), "IBB");
  auto lone = group_header(all, 1);
  lone.insert(lone.end(), {0x01, 0x01, 0xA});
  EXPECT_EQ(read(lone), "I");
  auto all_i = group_header(all, 2);
  all_i.insert(all_i.end(), {0x00, 0x01, 0xA, 0xB});
  EXPECT_EQ(read(all_i), "II");
}

// A group may decode to timestamps the writer never produces (pts near
// INT64_MAX, a block ending past it): readers keep their sums inside int64 and
// verify names the chunk as outside FORMAT.md §5.5.
TEST_F(Hostile, TimestampsNearTheEndOfInt64) {
  auto g = group_header(0, 1, INT64_MAX - 5);
  g.insert(g.end(), {0x20, 0x00, 0x64});  // flags DURATION, size 0, duration 100
  auto f = file_with_group(g);
  MemorySource src(f);
  VerifyReport r = verify(src);
  bool named = false;
  for (const auto& p : r.problems)
    named |= p.message.find("FORMAT.md §5.5") != std::string::npos &&
             p.message.find("CORE chunk at offset") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST_F(Hostile, BadLeb128) {
  auto g = group_header(0, 1);
  g.push_back(0);
  for (int i = 0; i < 11; ++i) g.push_back(0x80);
  expect_group_damage(g, ErrorCode::kCorrupt, "bad LEB128 size");
  auto overlong = group_header(0, 1);
  overlong.insert(overlong.end(), {0x00, 0x81, 0x00, 0x7});
  expect_group_damage(overlong, ErrorCode::kCorrupt, "bad LEB128");
  auto huge_delta = group_header(0, 2, INT64_MAX - 1);
  huge_delta.insert(huge_delta.end(), {0x00, 0x00, kBlockPtsDelta, 0x00, 0x04});
  expect_group_damage(huge_delta, ErrorCode::kCorrupt, "overflows");
  auto neg = group_header(0, 1);
  neg.insert(neg.end(), {kBlockDtsOffset, 0x00, 0x01});  // zigzag 1 = -1
  expect_group_damage(neg, ErrorCode::kCorrupt, "negative");
  auto type3 = group_header(0, 1);
  type3.insert(type3.end(), {0x03, 0x00});
  expect_group_damage(type3, ErrorCode::kCorrupt, "type 3");
  auto side = group_header(0, 1);
  side.insert(side.end(), {kBlockSideData, 0x00, 0x03, 0x05, 'a', 'b'});  // key runs past the blob
  expect_group_damage(side, ErrorCode::kCorrupt, "side data entries are malformed");
  auto side_in_uniform = group_header(kGroupUniform, 1);
  side_in_uniform.insert(side_in_uniform.end(), {kBlockSideData, 0x00});
  expect_group_damage(side_in_uniform, ErrorCode::kCorrupt, "SIDE_DATA");
  auto trailing = group_header(0, 1);
  trailing.insert(trailing.end(), {0x00, 0x00, 0x55});
  expect_group_damage(trailing, ErrorCode::kCorrupt, "follow the last block");
}

TEST_F(Hostile, BadTimeBasesAndTracks) {
  for (
      const char* trak :
      {R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":[0,1000]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":[1,-5]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":[1,4294967296]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":"1/1000"}]})",
       R"({"tracks":[{"id":0,"kind":"audio","codec":"x","time_base":[1,1]}]})",
       R"({"tracks":[{"id":1,"kind":"smell","codec":"x","time_base":[1,1]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","time_base":[1,1]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":[1,1]},{"id":1,"kind":"audio","codec":"x","time_base":[1,1]}]})",
       R"({"tracks":[{"id":1,"kind":"audio","codec":"x","time_base":[1,1],"extradata":"!!"}]})",
       R"({"tracks":{}})", R"([1,2,3])", "not json"}) {
    auto f = header();
    append_text(f, "TRAK", trak);
    std::string msg;
    EXPECT_EQ(open_error(f, &msg), ErrorCode::kCorrupt) << trak;
    EXPECT_NE(msg.find("TRAK chunk at offset 16"), std::string::npos) << msg;
  }
}

TEST_F(Hostile, DeepNestingOfNothing) {
  std::string deep(1'000'000, '[');
  deep += std::string(1'000'000, ']');
  auto f = header();
  append_text(f, "TRAK", deep);
  EXPECT_NE(open_error(f), ErrorCode::kOk);
  auto g = header();
  append_text(g, "TRAK", kTrak);
  append_text(g, "META", "{\"a\":" + deep + "}");
  auto d = damage_of(g);  // deep but valid: accepted as an object, no crash
  EXPECT_TRUE(d.empty() || d[0].code == ErrorCode::kCorrupt);
}

// TRAK, then a `tag` chunk holding `payload` (at kHeaderChunkAt), then a
// CORE of two blocks.
const size_t kHeaderChunkAt = 16 + 12 + kTrak.size();
std::vector<uint8_t> file_with_header_chunk(const char (&tag)[5],
                                            std::span<const uint8_t> payload) {
  auto f = header();
  append_text(f, "TRAK", kTrak);
  append_chunk(f, tag, payload);
  auto grp = group_header(kGroupUniform | kGroupFixedSize, 2);
  grp.insert(grp.end(), {0x00, 0x01, 0xAA, 0xBB});
  append_chunk(f, "CORE", grp);
  return f;
}

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The chunk at kHeaderChunkAt is reported once, naming it and `needle`, and
// ignored: both blocks after it are read, and verify names the same problem.
void expect_reported_and_ignored(const std::vector<uint8_t>& f, const std::string& tag,
                                 const std::string& needle) {
  MemorySource src(f);
  Reader r(src);
  EXPECT_EQ(read_all(f).blocks.size(), 2u) << needle;
  ASSERT_EQ(r.damage().size(), 1u) << needle;
  const std::string msg = r.damage()[0].message;
  EXPECT_EQ(r.damage()[0].offset, kHeaderChunkAt) << needle;
  EXPECT_NE(msg.find(tag + " chunk at offset " + std::to_string(kHeaderChunkAt)), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(needle), std::string::npos) << needle << ": " << msg;
  // verify names the same problem (among those of a file without a TAIL).
  MemorySource again(f);
  VerifyReport v = verify(again);
  EXPECT_TRUE(std::any_of(v.problems.begin(), v.problems.end(),
                          [&](const auto& p) {
                            return p.message + "; ignored" == msg;  // the reader adds what it did
                          }))
      << needle << ": " << (v.problems.empty() ? "" : v.problems[0].message);
}

// A CHAP that breaks a rule of FORMAT.md §7.1 is reported, naming the chunk,
// the chapter and the field, and ignored; the blocks after it are read.
TEST_F(Hostile, DamagedChaptersAreReportedAndIgnored) {
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "not JSON"},
      {R"({"chapter":[]})", "\"chapters\" array"},
      {R"({"chapters":[7]})", "chapter #0: not an object"},
      {R"({"chapters":[{"start":0}]})", "chapter #0: \"time_base\""},
      {R"({"chapters":[{"time_base":[1,0],"start":0}]})", "chapter #0: \"time_base\""},
      {R"({"chapters":[{"time_base":[1,1000]}]})", "\"start\" is missing"},
      {R"({"chapters":[{"time_base":[1,1000],"start":0},{"time_base":[1,1000],"start":"5"}]})",
       "chapter #1: \"start\" is not a 64-bit integer"},
      {R"({"chapters":[{"time_base":[1,1000],"start":9223372036854775807}]})",
       "\"start\" is outside"},
      {R"({"chapters":[{"time_base":[1,1000],"start":5,"end":4}]})", "\"end\" is before"},
      {R"({"chapters":[{"time_base":[1,1000],"start":5,"id":18446744073709551615}]})",
       "\"id\" is not a 64-bit integer"},
      {R"({"chapters":[{"time_base":[1,1000],"start":5,"title":1}]})", "\"title\" is not"},
      {R"({"chapters":[{"time_base":[1,1000],"start":5,"tags":{"a":1}}]})",
       "tag \"a\" is not a string"},
  };
  for (const auto& [chap, needle] : cases) {
    auto f = file_with_header_chunk("CHAP", as_bytes(chap));
    MemorySource src(f);
    EXPECT_TRUE(Reader(src).chapters().empty()) << chap;
    expect_reported_and_ignored(f, "CHAP", needle);
  }
}

// An ATCH that breaks a rule of FORMAT.md §7.2 is reported, naming the
// chunk and the field, and ignored: a name that would leave the directory it
// is saved in, a track that is not declared, a header that overruns the
// chunk. The blocks after it are read, and verify names the same problem.
TEST_F(Hostile, DamagedAttachmentsAreReportedAndIgnored) {
  auto atch = [](const std::string& header, uint32_t claimed, const std::string& data) {
    std::vector<uint8_t> p(4);
    store_u32(p.data(), claimed);
    p.insert(p.end(), header.begin(), header.end());
    p.insert(p.end(), data.begin(), data.end());
    return p;
  };
  auto plain = [&](const std::string& header) {
    return atch(header, uint32_t(header.size()), "d");
  };
  const std::pair<std::vector<uint8_t>, const char*> cases[] = {
      {{1, 0}, "shorter than its header size field"},
      {atch("{}", 0xFFFFFFF0, ""), "header of 4294967280 bytes does not fit"},
      {plain("not json"), "header is not a JSON object"},
      {plain(R"({"mimetype":""})"), "\"filename\" is missing"},
      {plain(R"({"filename":"a","mimetype":1})"), "\"mimetype\" is missing or not a string"},
      {plain(R"({"filename":"../../.bashrc","mimetype":""})"), "not a bare file name"},
      {plain(R"({"filename":"a\\b","mimetype":""})"), "not a bare file name"},
      {plain(R"({"filename":"..","mimetype":""})"), "not a bare file name"},
      {plain(R"({"filename":"a","mimetype":"","track":0})"), "\"track\" is not a track id"},
      {plain(R"({"filename":"a","mimetype":"","track":"1"})"), "\"track\" is not a track id"},
      {plain(R"({"filename":"a","mimetype":"","track":7})"), "\"track\" 7 is not a declared track"},
      {plain(R"({"filename":"a","mimetype":"","description":[]})"), "\"description\" is not"},
  };
  for (const auto& [payload, needle] : cases) {
    auto f = file_with_header_chunk("ATCH", payload);
    MemorySource src(f);
    EXPECT_TRUE(Reader(src).attachments().empty()) << needle;
    expect_reported_and_ignored(f, "ATCH", needle);
  }
}

// Attachments are held from open: past the reader's limit (in all, not per
// chunk) the rest are reported and left out, and no more is allocated.
TEST_F(Hostile, AttachmentsBeyondTheLimitAreLeftOut) {
  auto f = header();
  append_text(f, "TRAK", kTrak);
  const std::string head = R"({"filename":"a","mimetype":""})";
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> p(4);
    store_u32(p.data(), uint32_t(head.size()));
    p.insert(p.end(), head.begin(), head.end());
    p.insert(p.end(), 600'000, uint8_t(i));
    append_chunk(f, "ATCH", p);
  }
  ReaderOptions o;
  o.limits.max_attachment_bytes = 1'300'000;
  MemorySource src(f);
  Reader r(src, o);
  ASSERT_EQ(r.attachments().size(), 2u);
  EXPECT_EQ(r.attachments()[1].data.at(0), 1);
  ASSERT_EQ(r.damage().size(), 1u);
  EXPECT_EQ(r.damage()[0].code, ErrorCode::kLimitExceeded);
  EXPECT_NE(r.damage()[0].message.find("exceed the reader's limit of 1300000 bytes"),
            std::string::npos)
      << r.damage()[0].message;
}

TEST_F(Hostile, TooManyTracks) {
  std::string trak = R"({"tracks":[)";
  for (int i = 1; i <= 5000; ++i)
    trak += (i > 1 ? "," : "") + std::string(R"({"id":)") + std::to_string(i) +
            R"(,"kind":"data","codec":"x","time_base":[1,1]})";
  trak += "]}";
  auto f = header();
  append_text(f, "TRAK", trak);
  EXPECT_EQ(open_error(f), ErrorCode::kLimitExceeded);
}

TEST_F(Hostile, VersionsAndUnknownChunks) {
  auto f = header(3, 0);
  append_text(f, "TRAK", kTrak);
  std::string msg;
  EXPECT_EQ(open_error(f, &msg), ErrorCode::kUnsupportedVersion);
  EXPECT_NE(msg.find("major version 3"), std::string::npos);

  // A higher minor version with chunks of unknown tags is read, skipping them.
  auto g = header(1, 7);
  append_text(g, "TRAK", kTrak);
  append_text(g, "XTRA", "future header data");
  auto grp = group_header(kGroupUniform | kGroupFixedSize, 2);
  grp.insert(grp.end(), {0x00, 0x01, 0xAA, 0xBB});
  append_chunk(g, "CORE", grp);
  append_text(g, "ZZZZ", "future block data");
  grp.back() = 0xBC;  // another group (the same one again would be a duplicate)
  append_chunk(g, "CORE", grp);
  MemorySource src(g);
  Reader r(src);
  EXPECT_EQ(r.version_minor(), 7);
  ReadBack rb = read_all(g);
  EXPECT_TRUE(rb.damage.empty());
  EXPECT_EQ(rb.blocks.size(), 4u);

  EXPECT_EQ(open_error(std::vector<uint8_t>{'R', 'I', 'F', 'F', 0, 0}), ErrorCode::kBadMagic);
  EXPECT_EQ(open_error(std::vector<uint8_t>{'H', '4'}), ErrorCode::kTruncated);
  auto bad_crc = header();
  bad_crc[10] = 1;
  EXPECT_EQ(open_error(bad_crc), ErrorCode::kCrcMismatch);
}

TEST_F(Hostile, LyingIndexFallsBackToBisection) {
  StreamSpec spec;
  spec.seconds = 5;
  auto file = write_stream(test_tracks(spec), make_stream(spec));
  // Point the TAIL at offset 0 and fix its CRC: the reader must not trust it.
  size_t tail = file.size() - 32;
  store_u64(file.data() + tail + 12, 3);
  auto h = make_chunk_header(kTagTail, {file.data() + tail + 12, 16});
  std::copy(h.begin(), h.end(), file.begin() + long(tail));
  MemorySource src(file);
  Reader r(src);
  EXPECT_FALSE(r.has_index());
  SeekPoint p = r.seek(1, 48000);
  EXPECT_EQ(p.pts, 48000);
}

}  // namespace
}  // namespace h4mk::test
