// Reading a signed file with a trusted key (ReaderOptions::public_key_pem):
// every byte the reader uses is checked against the signed hash tree
// (FORMAT.md §8.2), after any seek, reading nothing more than one HASH page
// beyond what an unverified reader reads.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/seek_table.hpp"
#include "../libh4mk/src/signed_tree.hpp"
#include "../tools/counting_source.hpp"
#include "test_keys.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

using cli::CountingSource;

std::vector<uint8_t> sign(std::span<const uint8_t> file, const std::string& pem) {
  MemorySource in(file);
  MemorySink out;
  sign_file(in, out, pem);
  return out.take();
}

struct Fixture {
  KeyPair keys = make_keys();
  std::vector<uint8_t> plain, file;
  Fixture(double seconds = 20) {
    StreamSpec spec;
    spec.seconds = seconds;
    plain = write_stream(test_tracks(spec), make_stream(spec));
    file = sign(plain, keys.private_pem);
  }
  ReaderOptions verifying() const {
    ReaderOptions o;
    o.public_key_pem = keys.public_pem;
    return o;
  }
};

// Every block until the end, or until a read fails: that error.
struct Reading {
  std::vector<Block> blocks;
  std::vector<uint64_t> chunks;
  std::optional<Error> error;
};
Reading read_on(Reader& r) {
  Reading out;
  Block b;
  try {
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) {
        out.blocks.push_back(b);
        out.chunks.push_back(b.chunk_offset);
      }
  } catch (const Error& e) {
    out.error = e;
  }
  return out;
}

template <class F>
Error error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error";
  return Error(ErrorCode::kOk, "");
}

const ChunkExtent& nth_core(const std::vector<ChunkExtent>& layout, size_t n) {
  size_t k = 0;
  for (const auto& c : layout)
    if (c.tag == "CORE" && k++ == n) return c;
  throw std::runtime_error("too few CORE chunks");
}

TEST(SignedReading, ReadsWhatAnUnverifiedReaderReads) {
  Fixture f;
  MemorySource a(f.file), b(f.file);
  Reader plain(a), checked(b, f.verifying());
  EXPECT_FALSE(plain.verified());
  EXPECT_TRUE(checked.verified());
  const Reading x = read_on(plain), y = read_on(checked);
  ASSERT_FALSE(y.error) << y.error->what();
  ASSERT_EQ(x.blocks.size(), y.blocks.size());
  EXPECT_EQ(x.chunks, y.chunks);
  for (int64_t t : {0, 7000, 13'000, 19'000, 3000}) {
    const SeekPoint p = plain.seek_all(1, t * 48), q = checked.seek_all(1, t * 48);
    EXPECT_EQ(p, q);
    Block u, v;
    ASSERT_EQ(plain.next(u), checked.next(v));
    EXPECT_EQ(u.chunk_offset, v.chunk_offset);
    EXPECT_TRUE(std::equal(u.data.begin(), u.data.end(), v.data.begin(), v.data.end()));
  }
  EXPECT_EQ(plain.summary(2), checked.summary(2));
}

TEST(SignedReading, ATamperedGroupIsRefusedAndSeeksElsewherePlay) {
  Fixture f;
  auto bad = f.file;
  const auto layout = chunk_layout(bad);
  const ChunkExtent target = nth_core(layout, 40);
  bad[target.end - 3] ^= 0x20;
  reseal_chunk(bad, target.offset);  // every CRC holds: only the tree can tell

  // Without the key the change goes unseen.
  const ReadBack unchecked = read_all(bad);
  EXPECT_TRUE(unchecked.damage.empty());

  MemorySource src(bad);
  Reader r(src, f.verifying());
  const Reading got = read_on(r);
  ASSERT_TRUE(got.error);
  EXPECT_EQ(got.error->code(), ErrorCode::kVerifyFailed);
  EXPECT_NE(std::string(got.error->what()).find("altered"), std::string::npos) << got.error->what();
  EXPECT_LE(got.error->offset(), target.offset);
  EXPECT_GT(got.error->offset() + (1u << 20), target.offset);
  for (uint64_t c : got.chunks) EXPECT_LT(c, got.error->offset()) << "a block of the leaf";
  EXPECT_GT(got.blocks.size(), 100u);

  // A seek back to the start lands, though reading ahead from there meets
  // the changed leaf (the seek reads ahead; only a read that needs the
  // leaf fails).
  {
    const SeekPoint p = r.seek(1, 0);
    EXPECT_EQ(p.pts, 0);
    Block first;
    ASSERT_EQ(r.next(first), ReadEvent::kBlock);
    EXPECT_EQ(first.info.pts, 0);
  }
  // A seek past it plays on to the end, verified, as the file was signed.
  MemorySource clean_src(f.file);
  Reader clean(clean_src);
  const int64_t later = 15 * 48000;
  EXPECT_EQ(r.seek_all(1, later), clean.seek_all(1, later));
  const Reading rest = read_on(r), want = read_on(clean);
  ASSERT_FALSE(rest.error) << rest.error->what();
  EXPECT_EQ(rest.chunks, want.chunks);
  // A seek onto it is refused again, naming the same bytes.
  Block b;
  const Error again = error_of([&] {
    r.seek_to_group(target.offset);
    r.next(b);
  });
  EXPECT_EQ(again.code(), ErrorCode::kVerifyFailed);
  EXPECT_EQ(again.offset(), got.error->offset());
  // Whole-file verification names the same place.
  MemorySource whole(bad);
  VerifyOptions o;
  o.public_key_pem = f.keys.public_pem;
  const VerifyReport rep = verify(whole, o);
  ASSERT_FALSE(rep.ok());
  EXPECT_FALSE(rep.signature_ok);
  EXPECT_EQ(rep.problems.back().offset, got.error->offset());
}

// `file` with track `track`'s TSEK entries changed by `forge`, written back
// as a forger would: re-encoded, its CRC and the container's resealed (a
// TSEK of another size moves what follows it).
template <class F>
std::vector<uint8_t> forge_tsek(const std::vector<uint8_t>& file, uint16_t track, F forge) {
  for (const auto& c : chunk_layout(file)) {
    if (c.tag != "TSEK" || detail::load_u16(&file[c.offset + 12 + 4]) != track) continue;
    detail::SeekTable t = detail::decode_seek_table(
        {file.data() + c.offset + 12, size_t(c.end - c.offset - 12)}, c.offset);
    forge(t);
    const auto payload = detail::encode_seek_table(t);
    std::vector<uint8_t> out(file.begin(), file.begin() + long(c.offset));
    append_chunk(out, "TSEK", payload);
    out.insert(out.end(), file.begin() + long(c.end), file.end());
    reseal_chunk(out, c.offset);
    return out;
  }
  throw std::runtime_error("no TSEK of that track");
}

TEST(SignedReading, AForgedIndexEntryIsCaught) {
  Fixture f;
  // Entry 3 claims a later pts (a seek to it would land early): the same
  // bytes in number, caught at the seek that reads the index. Or it points
  // at entry 4's group, another I block of the same track: that TSEK is
  // shorter, and the file is refused at opening.
  for (int forgery = 0; forgery < 2; ++forgery) {
    const auto bad = forge_tsek(f.file, 2, [&](detail::SeekTable& t) {
      if (forgery == 0)
        t.entries[3].pts += 9000;
      else
        t.entries[3].offset = t.entries[4].offset;
    });
    EXPECT_EQ(bad.size() == f.file.size(), forgery == 0);
    MemorySource src(bad);
    const Error e = error_of([&] {
      Reader r(src, f.verifying());
      r.seek(2, 10 * 90000);
    });
    EXPECT_EQ(e.code(), ErrorCode::kVerifyFailed) << forgery << ": " << e.what();
    if (forgery == 0)
      EXPECT_NE(std::string(e.what()).find("index piece"), std::string::npos) << e.what();
  }
}

TEST(SignedReading, SwappedDuplicatedInsertedAndCutChunksAreCaught) {
  Fixture f;
  const auto layout = chunk_layout(f.file);
  auto refused = [&](const std::vector<uint8_t>& file, const char* what) {
    MemorySource src(file);
    try {
      Reader r(src, f.verifying());
      const Reading got = read_on(r);
      ASSERT_TRUE(got.error) << what;
      EXPECT_EQ(got.error->code(), ErrorCode::kVerifyFailed) << what;
    } catch (const Error& e) {
      EXPECT_TRUE(e.code() == ErrorCode::kVerifyFailed || e.code() == ErrorCode::kAuthFailed)
          << what << ": " << e.what();
    }
  };
  // Two neighbouring groups swapped (their CRCs hold: each moves whole).
  const ChunkExtent a = nth_core(layout, 30), b = nth_core(layout, 31);
  ASSERT_EQ(a.end, b.offset);
  std::vector<uint8_t> swapped(f.file.begin(), f.file.begin() + long(a.offset));
  swapped.insert(swapped.end(), f.file.begin() + long(b.offset), f.file.begin() + long(b.end));
  swapped.insert(swapped.end(), f.file.begin() + long(a.offset), f.file.begin() + long(a.end));
  swapped.insert(swapped.end(), f.file.begin() + long(b.end), f.file.end());
  refused(swapped, "swapped");
  // A group written over a later one of the same size.
  bool duplicated = false;
  std::map<uint64_t, ChunkExtent> by_size;
  for (const auto& c : layout) {
    if (c.tag != "CORE" || duplicated) continue;
    auto [it, fresh] = by_size.emplace(c.end - c.offset, c);
    if (fresh) continue;
    auto dup = f.file;
    std::copy(f.file.begin() + long(it->second.offset), f.file.begin() + long(it->second.end),
              dup.begin() + long(c.offset));
    refused(dup, "duplicated");
    duplicated = true;
  }
  EXPECT_TRUE(duplicated);
  // A chunk inserted: the file no longer has its signed size.
  std::vector<uint8_t> inserted(f.file.begin(), f.file.begin() + long(a.offset));
  inserted.insert(inserted.end(), f.file.begin() + long(a.offset), f.file.begin() + long(a.end));
  inserted.insert(inserted.end(), f.file.begin() + long(a.offset), f.file.end());
  refused(inserted, "inserted");
  // Cut: no TAIL, nothing to check against.
  std::vector<uint8_t> cut(f.file.begin(), f.file.end() - 100);
  refused(cut, "cut");
}

TEST(SignedReading, UnsignedOtherKeysUntreedAndPipesAreRefusedLoudly) {
  Fixture f;
  auto refusal = [&](std::span<const uint8_t> file, const ReaderOptions& o) {
    MemorySource src(file);
    return error_of([&] { Reader r(src, o); });
  };
  Error e = refusal(f.plain, f.verifying());
  EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
  EXPECT_NE(std::string(e.what()).find("not signed"), std::string::npos) << e.what();
  ReaderOptions other;
  other.public_key_pem = make_keys().public_pem;
  e = refusal(f.file, other);
  EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
  EXPECT_NE(std::string(e.what()).find("another key"), std::string::npos) << e.what();
  // A ROOT renamed away: a signature with no tree is not read as verified.
  auto untreed = f.file;
  for (const auto& c : chunk_layout(untreed))
    if (c.tag == "ROOT") {
      std::copy_n("XOOT", 4, untreed.begin() + long(c.offset));
      reseal_chunk(untreed, c.offset);
    }
  e = refusal(untreed, f.verifying());
  EXPECT_EQ(e.code(), ErrorCode::kAuthFailed);
  EXPECT_NE(std::string(e.what()).find("without a hash tree"), std::string::npos) << e.what();
  PipeLikeSource pipe(f.file);
  e = error_of([&] { Reader r(pipe, f.verifying()); });
  EXPECT_EQ(e.code(), ErrorCode::kNotSeekable);
}

// The bounds of FORMAT.md §8.2: opening costs one ROOT more, a seek one
// request more (its HASH page) and a few KiB: the page, and the bytes of
// the landing group's leaf before it. The last read may run on to the end
// of its leaf: small groups up to 4 KiB, never a large group (video groups
// here reach 4 KiB and more), which is a leaf of its own.
TEST(SignedReading, ASeekCostsOnePageAndTheLeafsStartMore) {
  Fixture f(120);
  MemorySource a(f.file), b(f.file);
  CountingSource ca(a, true), cb(b, true);
  Reader plain(ca), checked(cb, f.verifying());
  EXPECT_LE(cb.bytes, ca.bytes + 64 * 1024);
  ASSERT_TRUE(plain.has_index());
  ASSERT_TRUE(checked.has_index());
  uint64_t pages_from = UINT64_MAX, pages_to = 0;
  for (const auto& c : chunk_layout(f.file))
    if (c.tag == "HASH") pages_from = std::min(pages_from, c.offset), pages_to = c.end;
  uint64_t worst_before = 0, worst_after = 0, worst_requests = 0;
  for (int64_t s : {100, 7, 63, 31, 115, 2, 88}) {
    ca.reset();
    cb.reset();
    for (Reader* r : {&plain, &checked}) {
      r->seek_all(1, s * 48000);
      Block x;
      for (int k = 0; k < 20; ++k) ASSERT_EQ(r->next(x), ReadEvent::kBlock);
    }
    uint64_t lo = UINT64_MAX, hi = 0;
    for (auto [from, to] : ca.ranges) lo = std::min(lo, from), hi = std::max(hi, to);
    // Bytes before the unverified reads, HASH pages included; bytes after.
    uint64_t before = 0, after = 0;
    for (auto [from, to] : cb.ranges) {
      if (from >= pages_from && to <= pages_to) {
        before += to - from;
        continue;
      }
      before += from < lo ? std::min(to, lo) - from : 0;
      after += to > hi ? to - std::max(from, hi) : 0;
    }
    worst_before = std::max(worst_before, before);
    worst_after = std::max(worst_after, after);
    worst_requests = std::max(worst_requests, cb.requests - std::min(cb.requests, ca.requests));
  }
  EXPECT_LE(worst_requests, 1u);
  EXPECT_LE(worst_before, 8u * 1024);
  EXPECT_LT(worst_after, 2u * detail::kLeafMin);
  RecordProperty("worst_extra_before", std::to_string(worst_before));
  RecordProperty("worst_extra_after", std::to_string(worst_after));
}

// Pages list 64 leaves, or 128 or 256 when 64 would make ROOT's page
// table longer than 60 KiB (a 10-hour file of 20 KB video groups); readers
// take any page of 1 to 256 leaves.
TEST(SignedTree, PagesWidenOnlyToKeepRootSmall) {
  using detail::leaves_per_page;
  EXPECT_EQ(leaves_per_page(1), 64u);
  EXPECT_EQ(leaves_per_page(1181 * 64), 64u);
  EXPECT_EQ(leaves_per_page(1181 * 64 + 1), 128u);
  EXPECT_EQ(leaves_per_page(1181 * 128 + 1), 256u);
  EXPECT_EQ(leaves_per_page(size_t(1) << 30), 256u);
  for (size_t entries : {1, 64, 256, 257}) {
    std::vector<uint8_t> page(8 + 36 * entries);
    detail::store_u64(page.data(), 1000);
    for (size_t i = 0; i < entries; ++i) detail::store_u32(page.data() + 8 + 36 * i, 10);
    const uint64_t end = 1000 + 10 * entries;
    if (entries <= 256)
      EXPECT_EQ(detail::decode_page(page, 5, 1000, end).leaves.size(), entries);
    else
      EXPECT_EQ(error_of([&] { detail::decode_page(page, 5, 1000, end); }).code(),
                ErrorCode::kVerifyFailed);
  }
}

}  // namespace
}  // namespace h4mk::test
