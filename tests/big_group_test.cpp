// Groups too big to hold (ReaderOptions::hold_groups_up_to) are checked in
// one pass and read block by block in a second. What a reader hands out must
// not depend on it: every event, block, offset and message of a file read
// with every group streamed equals the file read with every group held, for
// the vectors, for files of every layout, and for each of many damaged
// copies; seeking lands alike. The server's memory per /stream client is in
// serve_abuse_test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "h4mk/h4mk.hpp"
#include "test_util.hpp"

namespace h4mk {
namespace {

using test::make_stream;
using test::StreamSpec;
using test::test_tracks;
using test::write_stream;

constexpr uint32_t kStreamEverything = 1;  // every group is bigger than this
constexpr uint32_t kHoldEverything = 0;

struct ReadOptions {
  bool damaged_groups = false;
  const MaskKey* key = nullptr;
};

// A payload's fingerprint (FNV-1a): the traces compare bytes without
// spelling them out.
std::string fingerprint(std::span<const uint8_t> bytes) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
  return std::to_string(bytes.size()) + ":" + std::to_string(h);
}

// Everything next() says, as text: one line per event.
std::string trace_events(Reader& r, size_t most = 1'000'000) {
  std::string out;
  Block b;
  for (size_t n = 0; n < most; ++n) {
    ReadEvent ev;
    try {
      ev = r.next(b);
    } catch (const Error& e) {
      out += "error " + std::string(e.what()) + "\n";
      continue;
    }
    if (ev == ReadEvent::kEnd) return out + "end\n";
    if (ev == ReadEvent::kDamage) {
      const Damage& d = r.last_damage();
      out += "damage " + std::to_string(d.offset) + "+" + std::to_string(d.length) + " " +
             std::to_string(int(d.code)) + " " + d.message + "\n";
      continue;
    }
    out += "block " + std::to_string(b.info.track_id) + " " + std::to_string(int(b.info.type)) +
           " " + std::to_string(b.info.pts) + " " + std::to_string(b.info.dts) + " " +
           std::to_string(b.info.duration) + " " + std::to_string(b.info.masked) +
           std::to_string(b.info.discardable) + " @" + std::to_string(b.chunk_offset) + "/" +
           std::to_string(b.index_in_group) + " data@" + std::to_string(b.data_offset) + " " +
           (b.damaged ? "damaged " : "") + fingerprint(b.side_data) + "|" + fingerprint(b.data) +
           "\n";
  }
  return out + "(more)\n";
}

std::string trace(std::span<const uint8_t> file, uint32_t hold, const ReadOptions& o = {}) {
  MemorySource src(file);
  ReaderOptions opt;
  opt.hold_groups_up_to = hold;
  try {
    Reader r(src, opt);
    r.hand_out_damaged_groups(o.damaged_groups);
    if (o.key) r.set_mask_key(*o.key);
    return trace_events(r);
  } catch (const Error& e) {
    return std::string("open failed: ") + e.what();
  }
}

void expect_same_reading(std::span<const uint8_t> file, const std::string& what,
                         const ReadOptions& o = {}) {
  const std::string held = trace(file, kHoldEverything, o);
  const std::string streamed = trace(file, kStreamEverything, o);
  ASSERT_EQ(streamed, held) << what;
}

std::vector<uint8_t> mixed_file(uint32_t seed, bool large_blocks) {
  StreamSpec spec;
  spec.seed = seed;
  spec.seconds = 4;
  spec.large_blocks = large_blocks;
  return write_stream(test_tracks(spec), make_stream(spec));
}

TEST(BigGroups, EveryVectorReadsTheSameStreamedAsHeld) {
  MaskKey key;
  for (size_t i = 0; i < key.size(); ++i) key[i] = uint8_t(i);
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(H4MK_VECTORS_DIR)) {
    if (e.path().extension() != ".h4mk") continue;
    const std::vector<uint8_t> file = test::read_file(e.path().string());
    expect_same_reading(file, e.path().filename().string());
    expect_same_reading(file, e.path().filename().string() + " damaged groups",
                        {.damaged_groups = true});
    if (e.path().stem() == "masked") expect_same_reading(file, "masked, unmasked", {.key = &key});
    ++files;
  }
  EXPECT_GE(files, 11);
}

TEST(BigGroups, FilesOfEveryLayoutReadTheSameStreamedAsHeld) {
  // Records with side data and B blocks, UNIFORM, FIXED_SIZE, blocks up to 1 MiB.
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::vector<uint8_t> file = mixed_file(seed, seed == 3);
    // Really streamed: the default holds these groups, the test's bound does not.
    MemorySource src(file);
    ReaderOptions opt;
    opt.hold_groups_up_to = kStreamEverything;
    Reader r(src, opt);
    Block b;
    ASSERT_EQ(r.next(b), ReadEvent::kBlock);
    const uint8_t* base = file.data();
    EXPECT_FALSE(b.data.data() >= base && b.data.data() < base + file.size())
        << "a streamed block is read into the reader's own buffer";
    expect_same_reading(file, "seed " + std::to_string(seed));
    // A streamed group's blocks come one at a time by runs too, and the same.
    Reader runs(src, opt);
    uint32_t longest = 0;
    EXPECT_EQ(test::read_by_runs(runs, &longest), test::read_all(file).blocks);
    EXPECT_EQ(longest, 1u);
  }
}

// The same damaged copies, read both ways: a flipped byte anywhere (a CRC
// that fails, a group that no longer parses, a size that claims too much),
// with and without handing out damaged groups.
TEST(BigGroups, DamagedCopiesReadTheSameStreamedAsHeld) {
  const std::vector<uint8_t> file = mixed_file(7, false);
  ASSERT_GT(file.size(), 20'000u);
  std::mt19937 rng(11);
  const auto layout = test::chunk_layout(file);
  std::vector<uint64_t> targets;
  size_t cores = 0;
  for (const auto& c : layout) {
    if (c.tag != "CORE") continue;
    // In the first groups, the chunk header, the group header and the first
    // records; in every group, a byte of its middle.
    if (cores++ < 8)
      for (uint64_t at = c.offset; at < std::min(c.end, c.offset + 40); at += 3)
        targets.push_back(at);
    targets.push_back(c.offset + (c.end - c.offset) / 2);
  }
  for (int i = 0; i < 100; ++i) targets.push_back(rng() % file.size());
  size_t tried = 0;
  for (uint64_t at : targets) {
    for (uint8_t flip : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xFF)}) {
      std::vector<uint8_t> bad = file;
      bad[at] ^= flip;
      const std::string what = "byte " + std::to_string(at) + " ^ " + std::to_string(flip);
      expect_same_reading(bad, what);
      expect_same_reading(bad, what + ", damaged groups", {.damaged_groups = true});
      if (HasFatalFailure()) return;
      ++tried;
    }
  }
  EXPECT_GT(tried, 300u);
}

// A forger's group: sizes and records that parse badly, resealed so the CRC
// holds, each reported with the same message and offset both ways.
TEST(BigGroups, MalformedGroupsWithGoodCrcsReadTheSameStreamedAsHeld) {
  const std::vector<uint8_t> file = mixed_file(5, false);
  const auto layout = test::chunk_layout(file);
  size_t tried = 0;
  for (const auto& c : layout) {
    if (c.tag != "CORE" || tried > 400) continue;
    for (uint64_t at = c.offset + 12 + 2; at < std::min(c.end, c.offset + 12 + 64); ++at) {
      for (uint8_t value : {uint8_t(0x00), uint8_t(0x03), uint8_t(0x7F), uint8_t(0xFF)}) {
        std::vector<uint8_t> bad = file;
        bad[at] = value;
        test::reseal_chunk(bad, c.offset);
        expect_same_reading(bad, "byte " + std::to_string(at) + " = " + std::to_string(value));
        if (HasFatalFailure()) return;
        ++tried;
      }
    }
  }
  EXPECT_GT(tried, 400u);
}

TEST(BigGroups, CutCopiesReadTheSameStreamedAsHeld) {
  const std::vector<uint8_t> file = mixed_file(8, false);
  for (size_t cut = 100; cut < file.size(); cut += file.size() / 97) {
    const std::span<const uint8_t> part(file.data(), cut);
    expect_same_reading(part, "cut at " + std::to_string(cut));
    expect_same_reading(part, "cut at " + std::to_string(cut) + ", damaged groups",
                        {.damaged_groups = true});
    if (HasFatalFailure()) return;
  }
}

// Seeking (with and without the index), seek_all and decode chains land on the
// same blocks and read on alike.
TEST(BigGroups, SeeksLandTheSameStreamedAsHeld) {
  const std::vector<uint8_t> file = mixed_file(4, true);
  auto seeks = [&](uint32_t hold) {
    MemorySource src(file);
    ReaderOptions opt;
    opt.hold_groups_up_to = hold;
    Reader r(src, opt);
    std::string out;
    for (uint16_t track : {uint16_t(1), uint16_t(2), uint16_t(3)}) {
      const Track& t = *r.track(track);
      for (double s : {0.0, 0.5, 1.3, 2.71, 3.9}) {
        const int64_t at = int64_t(s * t.time_base.den / t.time_base.num);
        try {
          SeekPoint p = r.seek(track, at);
          out += "seek " + std::to_string(p.chunk_offset) + "/" + std::to_string(p.index_in_group) +
                 "\n" + trace_events(r, 8);
          p = r.seek_without_index(track, at);
          out += "bisect " + std::to_string(p.chunk_offset) + "/" +
                 std::to_string(p.index_in_group) + "\n" + trace_events(r, 8);
          p = r.seek_all(track, at, SeekMode::kAnyBefore);
          out += "all " + std::to_string(p.chunk_offset) + "\n" + trace_events(r, 12);
          for (const ChainLink& l : r.decode_chain(track, at))
            out += "link " + std::to_string(l.chunk_offset) + "/" +
                   std::to_string(l.index_in_group) + " " + test::to_hex_string(l.payload) + "\n";
        } catch (const Error& e) {
          out += std::string("error ") + e.what() + "\n";
        }
      }
    }
    return out;
  };
  EXPECT_EQ(seeks(kStreamEverything), seeks(kHoldEverything));
}

// peek() reads the block next() then hands out, and the two agree.
TEST(BigGroups, PeekAndNextAgreeOnAStreamedGroup) {
  const std::vector<uint8_t> file = mixed_file(6, false);
  MemorySource src(file);
  ReaderOptions opt;
  opt.hold_groups_up_to = kStreamEverything;
  Reader r(src, opt);
  Block b, peeked;
  ASSERT_EQ(r.next(b), ReadEvent::kBlock);
  size_t compared = 0;
  while (r.peek(peeked)) {
    const BlockInfo info = peeked.info;
    const std::vector<uint8_t> data(peeked.data.begin(), peeked.data.end());
    ASSERT_EQ(r.next(b), ReadEvent::kBlock);
    EXPECT_EQ(b.info, info);
    EXPECT_EQ(std::vector<uint8_t>(b.data.begin(), b.data.end()), data);
    ++compared;
  }
  EXPECT_GT(compared, 0u);
}

// A streamed group's blocks are read again after its CRC was checked: a
// block whose bytes changed on disk in between (another process rewriting
// the file) is refused, naming it, not handed out as it now is.
TEST(BigGroups, ABlockThatChangesAfterItsGroupWasCheckedIsRefused) {
  namespace fs = std::filesystem;
  const std::vector<uint8_t> file = mixed_file(2, false);
  const std::string path =
      (test::process_work_dir(fs::temp_directory_path(), "h4mk-big-group") / "changing.h4mk")
          .string();
  struct Target {
    size_t before;                   // blocks handed out before it
    uint64_t chunk_offset, changed;  // the byte changed: the block's first or last
    uint32_t index;
  };
  // The second block of each group: the first byte of its side data (or of
  // its payload, without) or its payload's last byte, by turns.
  std::vector<Target> targets;
  size_t with_side_data = 0;
  {
    MemorySource src(file);
    Reader r(src);
    Block b;
    std::set<uint64_t> groups;
    for (size_t n = 0; r.next(b) == ReadEvent::kBlock; ++n) {
      if (b.index_in_group == 0 || b.data.empty() || !groups.insert(b.chunk_offset).second)
        continue;
      const bool first = targets.size() % 2;
      with_side_data += first && !b.side_data.empty();
      targets.push_back(
          {n, b.chunk_offset,
           first ? b.data_offset - b.side_data.size() : b.data_offset + b.data.size() - 1,
           b.index_in_group});
    }
  }
  ASSERT_GE(targets.size(), 3u);
  EXPECT_GT(with_side_data, 0u);
  for (const Target& t : targets) {
    test::write_file(path, file);
    FileSource src(path);
    ReaderOptions opt;
    opt.hold_groups_up_to = kStreamEverything;
    Reader r(src, opt);
    Block b;
    for (size_t n = 0; n < t.before; ++n) ASSERT_EQ(r.next(b), ReadEvent::kBlock);
    {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      const char changed = char(file[t.changed] ^ 0x5a);
      f.seekp(std::streamoff(t.changed));
      f.write(&changed, 1);
    }
    try {
      const ReadEvent ev = r.next(b);
      ADD_FAILURE() << "group at " << t.chunk_offset << ", block " << t.index
                    << ": handed out as it now is (event " << int(ev) << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kCrcMismatch) << e.what();
      EXPECT_NE(
          std::string(e.what()).find("CORE chunk at offset " + std::to_string(t.chunk_offset) +
                                     ": block " + std::to_string(t.index) + " changed"),
          std::string::npos)
          << e.what();
    }
  }
}

}  // namespace
}  // namespace h4mk
