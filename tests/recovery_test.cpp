// Cut and damaged files: every complete group before a cut comes back, every
// single-byte flip is detected, and reading continues after the damage.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/leb128.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

struct SmallFile {
  std::vector<TestBlock> blocks;
  std::vector<uint8_t> file;
  ReadBack full;
  std::vector<ChunkExtent> layout;
};

SmallFile small_file(const WriterOptions& options) {
  StreamSpec spec;
  spec.seed = 42;
  spec.seconds = 1.2;
  spec.max_video_block = 60;
  spec.audio_fixed_size = false;
  SmallFile s;
  s.blocks = make_stream(spec);
  s.file = write_stream(test_tracks(spec), s.blocks, options);
  s.full = read_all(s.file);
  s.layout = chunk_layout(s.file);
  return s;
}

WriterOptions many_groups() {
  WriterOptions o;
  o.max_group_blocks = 4;
  return o;
}

uint64_t chunk_end(const SmallFile& s, uint64_t chunk_offset) {
  for (const auto& c : s.layout)
    if (c.offset == chunk_offset) return c.end;
  return UINT64_MAX;
}

uint64_t trak_end(const SmallFile& s) { return s.layout.at(0).end; }

void check_cut(const SmallFile& s, size_t cut, bool pipe) {
  std::span<const uint8_t> part(s.file.data(), cut);
  std::vector<TestBlock> expected;
  for (size_t i = 0; i < s.full.blocks.size(); ++i)
    if (chunk_end(s, s.full.chunk_offsets[i]) <= cut) expected.push_back(s.full.blocks[i]);
  MemorySource mem(part);
  PipeLikeSource pipe_src(part, 333);
  Source& src = pipe ? static_cast<Source&>(pipe_src) : mem;
  if (cut < trak_end(s)) {
    try {
      Reader r(src);
      FAIL() << "opened a file cut at " << cut;
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::kTruncated || e.code() == ErrorCode::kBadMagic)
          << e.what();
    }
    return;
  }
  ReadBack r = read_all(src);
  ASSERT_EQ(r.blocks.size(), expected.size()) << "cut at " << cut << (pipe ? " (pipe)" : "");
  EXPECT_TRUE(r.blocks == expected) << "cut at " << cut;
}

TEST(Recovery, CutAtEveryByteYieldsExactlyTheCompleteGroups) {
  SmallFile s = small_file(many_groups());
  ASSERT_GT(s.layout.size(), 20u);
  ASSERT_LT(s.file.size(), 20000u);
  for (size_t cut = 0; cut <= s.file.size(); ++cut) {
    check_cut(s, cut, false);
    check_cut(s, cut, true);
    if (HasFatalFailure()) return;
  }
}

TEST(Recovery, CutFileReportsTheIncompleteChunk) {
  SmallFile s = small_file(many_groups());
  // Cut in the middle of the fifth CORE chunk.
  const ChunkExtent* core = nullptr;
  int n = 0;
  for (const auto& c : s.layout)
    if (c.tag == "CORE" && ++n == 5) core = &c;
  ASSERT_TRUE(core);
  size_t cut = (core->offset + core->end) / 2;
  ReadBack r = read_all(std::span<const uint8_t>(s.file.data(), cut));
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].code, ErrorCode::kTruncated);
  EXPECT_EQ(r.damage[0].offset, core->offset);
  EXPECT_NE(r.damage[0].message.find("CORE chunk at offset " + std::to_string(core->offset)),
            std::string::npos)
      << r.damage[0].message;
}

// Which chunk holds byte `at`?
const ChunkExtent* chunk_at(const SmallFile& s, uint64_t at) {
  for (const auto& c : s.layout)
    if (at >= c.offset && at < c.end) return &c;
  return nullptr;
}

TEST(Recovery, EverySingleByteFlipIsDetectedAndOnlyItsChunkIsLost) {
  WriterOptions o;
  o.max_group_blocks = 6;
  SmallFile s = small_file(o);
  for (size_t at = 0; at < s.file.size(); ++at) {
    std::vector<uint8_t> bad = s.file;
    bad[at] ^= 0x5a;
    MemorySource src(bad);
    VerifyReport v = verify(src);
    ASSERT_FALSE(v.ok()) << "flip at " << at << " not detected";

    const ChunkExtent* c = chunk_at(s, at);
    if (at < 16 || (c && c->tag == "TRAK")) {
      EXPECT_THROW(read_all(bad), Error) << "flip at " << at;
      continue;
    }
    ReadBack r = read_all(bad);
    std::vector<TestBlock> expected;
    for (size_t i = 0; i < s.full.blocks.size(); ++i)
      if (!(c && c->tag == "CORE" && s.full.chunk_offsets[i] == c->offset))
        expected.push_back(s.full.blocks[i]);
    ASSERT_EQ(r.blocks.size(), expected.size())
        << "flip at " << at << " in " << (c ? c->tag : "crc");
    ASSERT_TRUE(r.blocks == expected) << "flip at " << at;
    if (c && c->tag != "VERI" && c->tag != "TSEK") {
      ASSERT_FALSE(r.damage.empty()) << "flip at " << at << " in " << c->tag;
      EXPECT_EQ(r.damage[0].offset, c->offset) << r.damage[0].message;
    }
  }
}

// With hand_out_damaged_groups, a flipped byte no longer loses its group
// when the group still parses: every block outside the flipped chunk comes
// back exactly, in order and unmarked; what the flipped chunk yields is
// marked damaged. A flip inside a payload always keeps the whole group,
// with that one byte changed. A masked track's group is never handed out
// damaged.
TEST(Recovery, DamagedGroupsThatStillParseAreHandedOutMarked) {
  WriterOptions o;
  o.max_group_blocks = 6;
  SmallFile s = small_file(o);
  struct Got {
    TestBlock block;
    uint64_t chunk;
    bool damaged;
  };
  auto read_marked = [](std::span<const uint8_t> file, std::vector<uint64_t>* data_offsets) {
    MemorySource src(file);
    Reader r(src);
    r.hand_out_damaged_groups();
    std::vector<Got> got;
    Block b;
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
      if (ev != ReadEvent::kBlock) continue;
      got.push_back(
          {{b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}},
           b.chunk_offset,
           b.damaged});
      if (data_offsets) data_offsets->push_back(b.data_offset);
    }
    return got;
  };
  std::vector<uint64_t> data_offsets;
  ASSERT_EQ(read_marked(s.file, &data_offsets).size(), s.full.blocks.size());
  size_t salvaged = 0, in_payload = 0;
  for (size_t at = 16; at < s.file.size(); ++at) {
    const ChunkExtent* c = chunk_at(s, at);
    if (!c || c->tag == "TRAK") continue;
    std::vector<uint8_t> bad = s.file;
    bad[at] ^= 0x5a;
    std::vector<TestBlock> unmarked, expected, marked, original;
    for (const Got& g : read_marked(bad, nullptr)) {
      if (!g.damaged) {
        unmarked.push_back(g.block);
        continue;
      }
      ASSERT_EQ(g.chunk, c->offset) << "flip at " << at;
      marked.push_back(g.block);
    }
    for (size_t i = 0; i < s.full.blocks.size(); ++i)
      (c->tag == "CORE" && s.full.chunk_offsets[i] == c->offset ? original : expected)
          .push_back(s.full.blocks[i]);
    ASSERT_TRUE(unmarked == expected) << "flip at " << at << " in " << c->tag;
    salvaged += !marked.empty();
    bool payload_flip = false;
    for (size_t i = 0; i < data_offsets.size(); ++i)
      payload_flip |= at >= data_offsets[i] && at < data_offsets[i] + s.full.blocks[i].data.size();
    if (!payload_flip) continue;
    ++in_payload;
    ASSERT_EQ(marked.size(), original.size()) << "payload flip at " << at << " lost its group";
    size_t changed = 0;
    for (size_t i = 0; i < marked.size(); ++i) {
      ASSERT_EQ(marked[i].info, original[i].info) << "flip at " << at;
      ASSERT_EQ(marked[i].data.size(), original[i].data.size()) << "flip at " << at;
      for (size_t k = 0; k < marked[i].data.size(); ++k)
        changed += marked[i].data[k] != original[i].data[k];
    }
    EXPECT_EQ(changed, 1u) << "flip at " << at;
  }
  EXPECT_GT(in_payload, 1000u);
  EXPECT_GE(salvaged, in_payload);

  // A masked track: its group is lost, as without the option.
  MemorySink sink;
  Writer w(sink);
  w.add_track({.id = 1, .kind = TrackKind::kData, .codec = "x", .time_base = {1, 1000}});
  w.set_mask_key(1, MaskKey{});
  for (int i = 0; i < 4; ++i)
    w.write_block({1, BlockType::kI, i, i, 1}, std::vector<uint8_t>(64, 7));
  w.finish();
  std::vector<uint8_t> masked = sink.take();
  for (const ChunkExtent& c : chunk_layout(masked))
    if (c.tag == "CORE") masked[c.end - 3] ^= 1;
  EXPECT_TRUE(read_marked(masked, nullptr).empty());
}

// With hand_out_damaged_groups, a cut file also gives the blocks of the
// group it ends in that lie wholly before the cut, marked damaged (their CRC
// cannot be checked), after every complete group's blocks unmarked; from a
// file and a pipe alike, in every group layout. A masked track's cut group
// is not handed out.
TEST(Recovery, CutGroupsHandOutTheirCompleteBlocksMarkedDamaged) {
  for (bool fixed : {false, true}) {
    StreamSpec spec;
    spec.seed = 7;
    spec.seconds = 0.6;
    spec.max_video_block = 60;
    spec.audio_fixed_size = fixed;
    const std::vector<uint8_t> file =
        write_stream(test_tracks(spec), make_stream(spec), many_groups());
    const std::vector<ChunkExtent> layout = chunk_layout(file);
    // Each block in file order, its chunk and where its payload ends.
    std::vector<TestBlock> blocks;
    std::vector<uint64_t> chunk, payload_end;
    {
      MemorySource src(file);
      Reader r(src);
      Block b;
      for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
        ASSERT_EQ(ev, ReadEvent::kBlock);
        blocks.push_back(
            {b.info, {b.data.begin(), b.data.end()}, {b.side_data.begin(), b.side_data.end()}});
        chunk.push_back(b.chunk_offset);
        payload_end.push_back(b.data_offset + b.data.size());
      }
    }
    ASSERT_GT(blocks.size(), 40u);
    size_t salvaged = 0;
    for (size_t cut = layout.at(0).end; cut < file.size(); ++cut) {
      uint64_t cut_chunk = UINT64_MAX;  // the CORE chunk the cut falls in
      for (const ChunkExtent& c : layout)
        if (c.tag == "CORE" && cut > c.offset && cut < c.end) cut_chunk = c.offset;
      std::vector<TestBlock> whole, partial;
      for (size_t i = 0; i < blocks.size(); ++i) {
        if (chunk[i] == cut_chunk && payload_end[i] <= cut) partial.push_back(blocks[i]);
        if (chunk[i] != cut_chunk && chunk[i] < cut) whole.push_back(blocks[i]);
      }
      for (bool pipe : {false, true}) {
        std::span<const uint8_t> part(file.data(), cut);
        MemorySource mem(part);
        PipeLikeSource pipe_src(part, 333);
        Reader r(pipe ? static_cast<Source&>(pipe_src) : mem);
        r.hand_out_damaged_groups();
        std::vector<TestBlock> unmarked, marked;
        Block b;
        for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
          if (ev != ReadEvent::kBlock) continue;
          ASSERT_TRUE(marked.empty() || b.damaged) << "an unmarked block after the cut group";
          (b.damaged ? marked : unmarked)
              .push_back({b.info,
                          {b.data.begin(), b.data.end()},
                          {b.side_data.begin(), b.side_data.end()}});
        }
        const std::string where = "cut at " + std::to_string(cut) + (pipe ? " (pipe)" : "") +
                                  (fixed ? ", FIXED_SIZE audio" : "");
        ASSERT_TRUE(unmarked == whole) << where;
        ASSERT_EQ(marked.size(), partial.size()) << where;
        for (size_t i = 0; i < marked.size(); ++i) {
          ASSERT_EQ(marked[i].info, partial[i].info) << where << " block " << i;
          ASSERT_TRUE(marked[i].data == partial[i].data) << where << " block " << i;
          ASSERT_TRUE(marked[i].side == partial[i].side) << where << " block " << i;
        }
        if (!partial.empty()) {
          const std::vector<Damage>& d = r.damage();
          ASSERT_FALSE(d.empty()) << where;
          EXPECT_EQ(d.back().offset, cut_chunk) << where;
          EXPECT_NE(d.back().message.find("complete blocks are handed out marked damaged"),
                    std::string::npos)
              << d.back().message;
        }
        salvaged += !partial.empty();
      }
    }
    EXPECT_GT(salvaged, 1000u);
  }

  MemorySink sink;
  Writer w(sink);
  w.add_track({.id = 1, .kind = TrackKind::kData, .codec = "x", .time_base = {1, 1000}});
  w.set_mask_key(1, MaskKey{});
  for (int i = 0; i < 4; ++i)
    w.write_block({1, BlockType::kI, i, i, 1}, std::vector<uint8_t>(64, 7));
  w.finish();
  const std::vector<uint8_t> masked = sink.take();
  const ChunkExtent core = [&] {
    for (const ChunkExtent& c : chunk_layout(masked))
      if (c.tag == "CORE") return c;
    return ChunkExtent{};
  }();
  MemorySource src(std::span<const uint8_t>(masked.data(), core.end - 10));
  Reader r(src);
  r.hand_out_damaged_groups();
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
    EXPECT_NE(ev, ReadEvent::kBlock) << "a masked track's cut group was handed out";
}

TEST(Recovery, GarbageInsertedMidFileIsSkipped) {
  SmallFile s = small_file(many_groups());
  const ChunkExtent& c = s.layout.at(s.layout.size() / 2);
  std::vector<uint8_t> bad(s.file.begin(), s.file.begin() + long(c.offset));
  std::mt19937 rng(5);
  for (int i = 0; i < 4096; ++i) bad.push_back(uint8_t(rng()));
  bad.insert(bad.end(), s.file.begin() + long(c.offset), s.file.end());
  ReadBack r = read_all(bad);
  EXPECT_TRUE(r.blocks == s.full.blocks);
  ASSERT_GE(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].offset, c.offset);
  EXPECT_EQ(r.damage[0].length, 4096u);
}

// The CORE chunks of one track, in file order.
std::vector<ChunkExtent> cores_of_track(const SmallFile& s, uint16_t id) {
  std::vector<ChunkExtent> out;
  for (const auto& c : s.layout)
    if (c.tag == "CORE" && s.file[c.offset + 12] == id) out.push_back(c);
  return out;
}

std::vector<uint8_t> bytes_of(const SmallFile& s, const ChunkExtent& c) {
  return {s.file.begin() + long(c.offset), s.file.begin() + long(c.end)};
}

TEST(Recovery, DuplicatedChunkIsReportedAndItsBlocksComeOnce) {
  SmallFile s = small_file(many_groups());
  auto video = cores_of_track(s, 2);
  ASSERT_GE(video.size(), 4u);
  // A copy of the 2nd video group right after the 3rd.
  std::vector<uint8_t> f(s.file.begin(), s.file.begin() + long(video[2].end));
  auto dup = bytes_of(s, video[1]);
  f.insert(f.end(), dup.begin(), dup.end());
  f.insert(f.end(), s.file.begin() + long(video[2].end), s.file.end());
  ReadBack r = read_all(f);
  EXPECT_TRUE(r.blocks == s.full.blocks) << "every block exactly once, in order";
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].offset, video[2].end);
  EXPECT_NE(r.damage[0].message.find("duplicated or misplaced"), std::string::npos);
  MemorySource src(f);
  VerifyReport v = verify(src);
  EXPECT_FALSE(v.ok());
  EXPECT_TRUE(std::any_of(v.problems.begin(), v.problems.end(), [&](const Problem& p) {
    return p.offset == video[2].end && p.message.find("back in time") != std::string::npos;
  }));
}

// The same group again right after itself: its first dts equals the last dts
// read, so only its CRC tells it is a copy (FORMAT.md §9.4).
TEST(Recovery, AGroupRepeatedRightAfterItselfComesOnce) {
  const auto good = read_file(std::string(H4MK_VECTORS_DIR) + "/multitrack.h4mk");
  ChunkExtent last{};
  for (const auto& c : chunk_layout(good))
    if (c.tag == "CORE") last = c;
  ASSERT_EQ(last.tag, "CORE");
  std::vector<uint8_t> f(good.begin(), good.begin() + long(last.end));
  f.insert(f.end(), good.begin() + long(last.offset), good.begin() + long(last.end));
  f.insert(f.end(), good.begin() + long(last.end), good.end());
  ReadBack r = read_all(f);
  EXPECT_TRUE(r.blocks == read_all(good).blocks) << "every block exactly once";
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].offset, last.end);
  EXPECT_NE(r.damage[0].message.find("duplicated or misplaced"), std::string::npos);
  MemorySource src(f);
  EXPECT_FALSE(verify(src).ok());
}

TEST(Recovery, ReorderedChunksLoseOnlyTheMisplacedGroup) {
  SmallFile s = small_file(many_groups());
  auto video = cores_of_track(s, 2);
  ASSERT_GE(video.size(), 4u);
  // Swap the 2nd and 3rd video groups, with what lies between them.
  std::vector<uint8_t> f(s.file.begin(), s.file.begin() + long(video[1].offset));
  auto third = bytes_of(s, video[2]), second = bytes_of(s, video[1]);
  f.insert(f.end(), third.begin(), third.end());
  f.insert(f.end(), s.file.begin() + long(video[1].end), s.file.begin() + long(video[2].offset));
  f.insert(f.end(), second.begin(), second.end());
  f.insert(f.end(), s.file.begin() + long(video[2].end), s.file.end());
  ReadBack r = read_all(f);
  // Every track's blocks but the 2nd video group's, exactly and in order.
  std::vector<TestBlock> want;
  for (size_t i = 0; i < s.full.blocks.size(); ++i)
    if (s.full.chunk_offsets[i] != video[1].offset) want.push_back(s.full.blocks[i]);
  for (uint16_t id = 1; id <= 3; ++id)
    EXPECT_TRUE(of_track(r.blocks, id) == of_track(want, id)) << "track " << id;
  EXPECT_EQ(r.blocks.size(), want.size());
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_NE(r.damage[0].message.find("goes back in time"), std::string::npos);
}

TEST(Recovery, GarbageAtRandomOffsetsLosesOnlyTheGroupsItHits) {
  SmallFile s = small_file(many_groups());
  std::mt19937 rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    // 4 KiB of garbage written over the file at a random offset past TRAK.
    std::vector<uint8_t> f = s.file;
    const size_t at = trak_end(s) + rng() % (f.size() - trak_end(s) - 64);
    const size_t end = std::min(f.size(), at + 4096);
    for (size_t i = at; i < end; ++i) f[i] = uint8_t(rng());
    std::vector<TestBlock> want;
    for (size_t i = 0; i < s.full.blocks.size(); ++i) {
      const uint64_t c = s.full.chunk_offsets[i], e = chunk_end(s, c);
      if (e <= at || c >= end) want.push_back(s.full.blocks[i]);
    }
    ReadBack r = read_all(f);
    EXPECT_TRUE(r.blocks == want) << "trial " << trial << " at " << at;
    EXPECT_FALSE(r.damage.empty()) << "trial " << trial;
    // Each report names where the bad bytes start: the chunk the garbage hit.
    uint64_t hit = 0;
    for (const auto& c : s.layout)
      if (c.offset <= at && at < c.end) hit = c.offset;
    for (const Damage& d : r.damage) EXPECT_GE(d.offset, hit) << "trial " << trial;
  }
}

TEST(Recovery, RepairRestoresACompleteIndexedFile) {
  SmallFile s = small_file(many_groups());
  const ChunkExtent& c = s.layout.at(s.layout.size() / 2);
  std::vector<uint8_t> cut(s.file.begin(), s.file.begin() + long(c.offset + 7));
  MemorySource in(cut);
  MemorySink out;
  RepairReport rep = repair(in, out);
  ASSERT_EQ(rep.damage.size(), 1u);
  EXPECT_EQ(rep.damage[0].code, ErrorCode::kTruncated);
  MemorySource fixed(out.bytes());
  VerifyReport v = verify(fixed);
  EXPECT_TRUE(v.ok()) << v.problems[0].message;
  EXPECT_TRUE(v.complete);
  ReadBack before = read_all(cut), after = read_all(out.bytes());
  EXPECT_EQ(rep.blocks_kept, before.blocks.size());
  for (uint16_t t : {1, 2, 3}) EXPECT_TRUE(of_track(before.blocks, t) == of_track(after.blocks, t));
  Reader r(fixed);
  EXPECT_TRUE(r.has_index());
}

TEST(Recovery, VerifyNamesEachProblemWithItsOffset) {
  SmallFile s = small_file(many_groups());
  std::vector<uint8_t> bad = s.file;
  std::vector<uint64_t> hit;
  int n = 0;
  for (const auto& c : s.layout)
    if (c.tag == "CORE" && (++n == 3 || n == 9)) {
      bad[c.offset + 20] ^= 1;
      hit.push_back(c.offset);
    }
  MemorySource src(bad);
  VerifyReport v = verify(src);
  std::vector<uint64_t> crc_offsets;
  for (const auto& p : v.problems)
    if (p.code == ErrorCode::kCrcMismatch && p.chunk == "CORE") crc_offsets.push_back(p.offset);
  EXPECT_EQ(crc_offsets, hit);
  EXPECT_FALSE(v.container_crc_ok);
  EXPECT_FALSE(v.veri_ok);
}

// Verify rebuilds each track's index from its groups, tracks interleaved:
// a TSEK that disagrees (CRCs rewritten, as a forger would) is named with its
// track, and the other tracks' tables still match.
TEST(Recovery, VerifyComparesEachTsekWithTheGroupsOfItsTrack) {
  SmallFile s = small_file(many_groups());
  {
    MemorySource src(s.file);
    VerifyReport v = verify(src);
    ASSERT_TRUE(v.ok()) << v.problems[0].message;
  }
  for (uint16_t forged_track : {1, 2, 3}) {
    std::vector<uint8_t> f = s.file;
    bool found = false;
    for (const auto& c : s.layout) {
      if (c.tag != "TSEK" || detail::load_u16(&f[c.offset + 12 + 4]) != forged_track) continue;
      found = true;
      uint8_t* summary = &f[c.end - 24];  // block_count, start_pts, end_pts
      detail::store_u64(summary, detail::load_u64(summary) + 1);
      reseal_chunk(f, c.offset);
    }
    ASSERT_TRUE(found) << "track " << forged_track;
    MemorySource src(f);
    VerifyReport v = verify(src);
    std::vector<std::string> tsek;
    for (const auto& p : v.problems)
      if (p.chunk == "TSEK") tsek.push_back(p.message);
    ASSERT_EQ(tsek.size(), 1u) << "track " << forged_track;
    EXPECT_EQ(tsek[0], "TSEK of track " + std::to_string(forged_track) +
                           " does not match the groups in the file");
    EXPECT_TRUE(v.container_crc_ok);
  }
}

// A sink that accepts `limit` bytes and then fails, as a full disk does.
class FailingSink final : public Sink {
 public:
  explicit FailingSink(size_t limit) : limit_(limit) {}
  void write(std::span<const uint8_t> data) override {
    size_t n = std::min(data.size(), limit_ - bytes.size());
    bytes.insert(bytes.end(), data.begin(), data.begin() + long(n));
    if (n < data.size()) throw Error(ErrorCode::kIo, "cannot write: No space left on device");
  }
  std::vector<uint8_t> bytes;

 private:
  size_t limit_;
};

TEST(Recovery, WriteFailureLeavesAFileThatRecoversToTheLastGroup) {
  StreamSpec spec;
  spec.seed = 12;
  spec.seconds = 3;
  WriterOptions o;
  o.max_group_blocks = 8;
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  // The same bytes, written in full (FailingSink cannot go back: no HINT).
  auto reference = write_stream_unseekable(tracks, blocks, o);
  auto layout = chunk_layout(reference);
  ReadBack full = read_all(reference);
  for (size_t limit :
       {size_t(100), reference.size() / 3, reference.size() / 2, reference.size() - 50}) {
    FailingSink sink(limit);
    Writer w(sink, o);
    for (const auto& t : tracks) w.add_track(t);
    w.set_metadata("title", "test stream");
    w.set_safe_json(R"({"policy":"transport_only"})");
    w.set_note("written by the libh4mk tests");
    bool failed = false;
    try {
      for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
      w.finish();
    } catch (const Error& e) {
      failed = true;
      EXPECT_EQ(e.code(), ErrorCode::kIo);
      EXPECT_NE(std::string(e.what()).find("No space left"), std::string::npos);
    }
    ASSERT_TRUE(failed) << "limit " << limit;
    // The writer is unusable afterwards, and says so.
    EXPECT_THROW(w.write_block(blocks[0].info, blocks[0].data), Error);
    ASSERT_EQ(sink.bytes, std::vector<uint8_t>(reference.begin(), reference.begin() + long(limit)));
    if (limit < layout.at(0).end) continue;  // not even TRAK made it
    std::vector<TestBlock> want;
    for (size_t i = 0; i < full.blocks.size(); ++i) {
      uint64_t end = 0;
      for (const auto& c : layout)
        if (c.offset == full.chunk_offsets[i]) end = c.end;
      if (end <= limit) want.push_back(full.blocks[i]);
    }
    EXPECT_TRUE(read_all(sink.bytes).blocks == want) << "limit " << limit;
  }
}

}  // namespace
}  // namespace h4mk::test

namespace h4mk::test {
// What verify says of a file, a problem a line.
std::string verify_problems(std::span<const uint8_t> file) {
  MemorySource src(file);
  std::string all;
  for (const Problem& p : verify(src).problems) all += p.message + "\n";
  return all;
}

// docs/FORMAT.md §15.1 (the 1.0 gaps): verify names a NOTE that is not UTF-8
// (G18), a VERI of an unknown algorithm (G20) and a TSEK for a track TRAK
// does not declare (G24); readers still read every block.
TEST(Recovery, VerifyNamesWhatTheGapsReviewMadeViolations) {
  auto tracks = test_tracks({});
  const auto blocks = make_stream({});
  MemorySink sink;
  Writer w(sink);
  for (const Track& t : tracks) w.add_track(t);
  w.set_note("note");
  for (const auto& b : blocks) w.write_block(b.info, b.data, b.side);
  w.finish();
  const auto good = sink.take();
  auto edit = [&](const std::string& tag, size_t at, uint8_t byte) {
    auto f = good;
    for (const auto& c : chunk_layout(f))
      if (c.tag == tag) {
        f[c.offset + 12 + at] = byte;
        reseal_chunk(f, c.offset);
        return f;
      }
    ADD_FAILURE() << "no " << tag;
    return f;
  };
  const struct {
    const char* what;
    std::vector<uint8_t> file;
    const char* says;
  } cases[] = {
      {"NOTE", edit("NOTE", 1, 0xff), "is not valid UTF-8"},
      // {"algorithm":"sha256-chain-v1",...}: the 1 becomes a 9.
      {"VERI", edit("VERI", 28, '9'), "is not a valid VERI object"},
      {"TSEK", edit("TSEK", 4, 9), "which TRAK does not declare"},  // its track id
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string all = verify_problems(c.file);
    EXPECT_NE(all.find(c.says), std::string::npos) << all;
    EXPECT_EQ(read_all(c.file).blocks, read_all(good).blocks);
  }
}
// A damaged header chunk loses only itself: resynchronising after it finds
// the next known tag (FORMAT.md §9.4), ATCH among them (§7.2).
TEST(Recovery, ADamagedMetaKeepsTheAttachmentAfterIt) {
  MemorySink sink;
  Writer w(sink);
  w.add_track({.id = 1, .kind = TrackKind::kAudio, .codec = "pcm_s16le", .time_base = {1, 8000}});
  w.set_metadata("title", "damaged");
  const Attachment font{"font.ttf", "font/ttf", "", 0, std::vector<uint8_t>(100, 7)};
  w.add_attachment(font);
  const std::vector<uint8_t> p(4);
  w.write_block({1, BlockType::kI, 0, 0, 2}, p);
  w.finish();
  std::vector<uint8_t> file = sink.take();
  const auto layout = chunk_layout(file);
  auto meta = std::find_if(layout.begin(), layout.end(),
                           [](const ChunkExtent& c) { return c.tag == "META"; });
  auto atch = std::find_if(layout.begin(), layout.end(),
                           [](const ChunkExtent& c) { return c.tag == "ATCH"; });
  ASSERT_NE(meta, layout.end());
  ASSERT_NE(atch, layout.end());
  ASSERT_LT(meta->offset, atch->offset) << "the damage must come before the attachment";
  file[meta->offset + 14] ^= 0x40;  // a payload byte: the CRC fails
  MemorySource src(file);
  Reader r(src);
  EXPECT_EQ(r.attachments(), std::vector<Attachment>{font});
  EXPECT_TRUE(r.metadata_json().empty());
  ASSERT_FALSE(r.damage().empty());
  EXPECT_EQ(r.damage()[0].offset, meta->offset) << r.damage()[0].message;
}

}  // namespace h4mk::test

namespace h4mk::test {
// The index region's checks (libh4mk/src/index_region.cpp) are one set for
// the reader and verify: a second TSEK for a track, a TSEK of an undeclared
// track and an entry outside the CORE region make the reader seek without
// the index, and verify names each; the blocks read the same.
TEST(Recovery, ReaderAndVerifyRefuseTheSameBrokenIndexes) {
  const StreamSpec spec;
  const auto good = write_stream(test_tracks(spec), make_stream(spec));
  std::vector<ChunkExtent> tseks;
  for (const auto& c : chunk_layout(good))
    if (c.tag == "TSEK") tseks.push_back(c);
  ASSERT_GE(tseks.size(), 2u);
  auto edit = [&](const ChunkExtent& c, size_t at, std::vector<uint8_t> bytes) {
    auto f = good;
    std::copy(bytes.begin(), bytes.end(), f.begin() + long(c.offset + 12 + at));
    reseal_chunk(f, c.offset);
    return f;
  };
  const uint8_t first_id = good[tseks[0].offset + 12 + 4];
  // The first entry's offset (after its zigzag pts) rewritten, in as many
  // bytes, to the smallest value of that length: before the first CORE.
  auto first_entry_before_data = [&] {
    const uint8_t* const payload = good.data() + tseks[0].offset + 12;
    const uint8_t* p = payload + 12;
    uint64_t v = 0;
    EXPECT_TRUE(detail::get_uleb128(p, good.data() + tseks[0].end, v));  // pts
    const size_t at = size_t(p - payload);
    EXPECT_TRUE(detail::get_uleb128(p, good.data() + tseks[0].end, v));  // offset
    std::vector<uint8_t> smallest(size_t(p - payload) - at, 0x80);
    smallest.back() = 1;
    EXPECT_LT(uint64_t(1) << (7 * (smallest.size() - 1)), v);
    return edit(tseks[0], at, smallest);
  };
  const struct {
    const char* what;
    std::vector<uint8_t> file;
    const char* reader_says;
    const char* verify_says;
  } cases[] = {
      {"second TSEK of a track", edit(tseks[1], 4, {first_id, 0}), "repeats track",
       "repeats track"},
      {"TSEK of an undeclared track", edit(tseks[0], 4, {9, 0}), "which TRAK does not declare",
       "which TRAK does not declare"},
      {"entry before the first CORE", first_entry_before_data(), "points outside the CORE region",
       "does not match the groups in the file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    MemorySource src(c.file);
    Reader r(src);
    EXPECT_FALSE(r.has_index());
    std::string damage;
    for (const Damage& d : r.damage()) damage += d.message + "\n";
    EXPECT_NE(damage.find(std::string("index unusable, seeking without it: TSEK chunk at offset ")),
              std::string::npos)
        << damage;
    EXPECT_NE(damage.find(c.reader_says), std::string::npos) << damage;
    const std::string all = verify_problems(c.file);
    EXPECT_NE(all.find(c.verify_says), std::string::npos) << all;
    EXPECT_EQ(read_all(c.file).blocks, read_all(good).blocks);
  }
}
}  // namespace h4mk::test
