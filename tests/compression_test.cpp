// Per-group zstd compression (docs/FORMAT.md §5.7): compressed tracks read
// back exactly, seek as uncompressed ones do, and store what does not shrink
// as it is; and a compressed group that claims too much, or that its track
// cannot expand, is refused with its offset before anything is decompressed.
#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include "../libh4mk/src/block_group.hpp"
#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/group_compression.hpp"
#include "h4mk/h4mk.h"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

// 8 codebooks of 10-bit codes per 20 ms frame, int16, half the frames
// repeating the one before: what a neural codec's tokens look like.
std::vector<TestBlock> token_blocks(size_t frames, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::geometric_distribution<int> code(0.01);
  std::vector<TestBlock> out;
  std::vector<uint8_t> frame(16);
  for (size_t i = 0; i < frames; ++i) {
    if (i == 0 || rng() % 2)
      for (size_t c = 0; c < 8; ++c) detail::store_u16(&frame[2 * c], uint16_t(code(rng) % 1024));
    const int64_t t = int64_t(i);
    out.push_back({{1, i % 250 == 0 ? BlockType::kI : BlockType::kP, t, t, 1}, frame, {}});
  }
  return out;
}

Track token_track(std::optional<TrackCompression> c = std::nullopt) {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.time_base = {1, 50};
  t.default_duration = 1;
  t.compression = std::move(c);
  return t;
}

std::vector<uint8_t> write_tokens(const std::vector<TestBlock>& blocks,
                                  std::optional<TrackCompression> c) {
  return write_stream({token_track(std::move(c))}, blocks);
}

std::vector<ChunkExtent> chunks_tagged(std::span<const uint8_t> file, const std::string& tag) {
  std::vector<ChunkExtent> out;
  for (const auto& c : chunk_layout(file))
    if (c.tag == tag) out.push_back(c);
  return out;
}

uint8_t group_flags(std::span<const uint8_t> file, const ChunkExtent& core) {
  return file[core.offset + detail::kChunkHeaderSize + 2];
}

}  // namespace

TEST(Compression, TokensReadBackExactlyAndShrink) {
  const auto blocks = token_blocks(30'000);
  const auto plain = write_tokens(blocks, std::nullopt);
  TrackCompression with_dict;
  {
    MemorySource src(plain);
    Reader r(src);
    with_dict.dictionary = train_dictionary(dictionary_samples(r, {}), 4096);
  }
  ASSERT_FALSE(with_dict.dictionary.empty());
  for (const auto& how : {TrackCompression{}, with_dict}) {
    SCOPED_TRACE(how.dictionary.empty() ? "no dictionary" : "dictionary");
    const auto packed = write_tokens(blocks, how);
    EXPECT_LT(packed.size() * 2, plain.size());  // these tokens compress more than x2
    EXPECT_EQ(detail::load_u16(&packed[4]), 2);  // a file that may hold compression says 2.0
    EXPECT_EQ(read_all(packed).blocks, blocks);
    PipeLikeSource pipe(packed);
    EXPECT_EQ(read_all(pipe).blocks, blocks);
    for (const auto& core : chunks_tagged(packed, "CORE"))
      EXPECT_EQ(group_flags(packed, core) & (detail::kGroupCompressed | detail::kGroupDictionary),
                detail::kGroupCompressed | (how.dictionary.empty() ? 0 : detail::kGroupDictionary))
          << "CORE at " << core.offset;
    EXPECT_EQ(chunks_tagged(packed, "DICT").size(), how.dictionary.empty() ? 0u : 1u);
    MemorySource src(packed);
    VerifyReport v = verify(src);
    EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
    MemorySource again(packed);
    Reader r(again);
    ASSERT_TRUE(r.track(1)->compression);
    EXPECT_EQ(r.track(1)->compression->dictionary, how.dictionary);
  }
  EXPECT_EQ(detail::load_u16(&plain[4]), 1);  // without compression the file stays 1.0
}

TEST(Compression, SeeksLandAsInTheUncompressedFile) {
  const auto blocks = token_blocks(20'000);
  const auto plain = write_tokens(blocks, std::nullopt);
  const auto packed = write_tokens(blocks, TrackCompression{});
  MemorySource ps(plain), zs(packed);
  Reader p(ps), z(zs);
  for (int64_t t : {0, 1, 249, 250, 7'777, 19'999, 30'000}) {
    const SeekPoint a = p.seek(1, t), b = z.seek(1, t);
    EXPECT_EQ(a.pts, b.pts) << t;
    Block x, y;
    for (int i = 0; i < 300; ++i) {
      const ReadEvent ex = p.next(x), ey = z.next(y);
      ASSERT_EQ(ex, ey);
      if (ex == ReadEvent::kEnd) break;
      EXPECT_EQ(x.info, y.info);
      EXPECT_TRUE(std::equal(x.data.begin(), x.data.end(), y.data.begin(), y.data.end()));
      EXPECT_EQ(y.data_offset, 0u);  // a compressed group's payloads are not in the file as such
    }
  }
}

TEST(Compression, WhatDoesNotShrinkIsStoredAsItIs) {
  std::mt19937 rng(3);
  std::vector<TestBlock> blocks;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> data(200);
    for (auto& b : data) b = uint8_t(rng());
    blocks.push_back({{1, BlockType::kI, i, i, 1}, data, {}});
  }
  const auto plain = write_tokens(blocks, std::nullopt);
  const auto packed = write_tokens(blocks, TrackCompression{});
  for (const auto& core : chunks_tagged(packed, "CORE"))
    EXPECT_EQ(group_flags(packed, core) & detail::kGroupCompressed, 0) << core.offset;
  // Nor is a dictionary that would not save its own size kept.
  MemorySource src(plain);
  Reader r(src);
  EXPECT_TRUE(train_dictionary(dictionary_samples(r, {}), 4096).empty());
  // Only the TRAK's few bytes more: incompressible data costs <= 1.001 x.
  EXPECT_LE(double(packed.size()), 1.001 * double(plain.size()));
  EXPECT_EQ(read_all(packed).blocks, blocks);
}

TEST(Compression, RewritesCompressAndExpandKeepingEverythingElse) {
  auto tracks = test_tracks({});
  const auto blocks = make_stream({});
  const auto plain = write_stream(tracks, blocks);
  MemorySource src(plain);
  Reader r(src);
  MemorySink zs;
  const RewriteReport rep = compress_file(r, zs, TrackCompression{}, std::vector<uint16_t>{1, 3});
  EXPECT_EQ(rep.tracks, (std::vector<uint16_t>{1, 3}));
  const auto packed = zs.take();
  MemorySource zsrc(packed);
  Reader z(zsrc);
  EXPECT_TRUE(z.track(1)->compression && z.track(3)->compression);
  EXPECT_FALSE(z.track(2)->compression);
  EXPECT_EQ(z.metadata_json(), r.metadata_json());
  EXPECT_EQ(read_all(packed).blocks, read_all(plain).blocks);
  // Expanding again gives the very file it came from: groups, header chunks
  // and index are kept, and compression was the only change.
  MemorySource zsrc2(packed);
  Reader z2(zsrc2);
  MemorySink back;
  decompress_file(z2, back);
  EXPECT_EQ(back.take(), plain);
}

TEST(Compression, MaskedTracksAreNotCompressed) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(token_track(TrackCompression{}));
  MaskKey key{};
  EXPECT_THROW(w.set_mask_key(1, key), Error);
  Track both = token_track(TrackCompression{});
  both.mask = TrackMask{};
  both.mask->kid = "k";
  MemorySink s2;
  Writer w2(s2);
  EXPECT_THROW(w2.add_track(both), Error);
  // Masking a compressed file's track stores it uncompressed.
  const auto packed = write_tokens(token_blocks(2000), TrackCompression{});
  MemorySource src(packed);
  Reader r(src);
  MemorySink masked;
  mask_file(r, masked, key, MaskScheme::kAes256Gcm);
  const auto m = masked.take();
  MemorySource msrc(m);
  Reader mr(msrc);
  EXPECT_TRUE(mr.track(1)->mask);
  EXPECT_FALSE(mr.track(1)->compression);
}

// --- hostile groups ---

namespace {

// A compressed track's file cut before its index, with `group` appended as
// one more CORE (resealed as a forger would).
std::vector<uint8_t> with_group(std::span<const uint8_t> group) {
  auto file = write_stream_unseekable({token_track(TrackCompression{})}, {});
  for (const auto& c : chunk_layout(file))
    if (c.tag == "VERI" || c.tag == "TSEK" || c.tag == "TAIL") {
      file.resize(c.offset);
      break;
    }
  append_chunk(file, "CORE", group);
  return file;
}

std::vector<uint8_t> group_header(uint8_t flags, uint32_t blocks) {
  std::vector<uint8_t> g(detail::kGroupHeaderSize);
  detail::store_u16(g.data(), 1);
  g[2] = flags;
  detail::store_u32(g.data() + 4, blocks);
  return g;
}

// Header, then `frame`.
std::vector<uint8_t> compressed_group(uint8_t flags, uint32_t blocks,
                                      std::span<const uint8_t> frame) {
  auto g = group_header(flags | detail::kGroupCompressed, blocks);
  g.insert(g.end(), frame.begin(), frame.end());
  return g;
}

std::vector<uint8_t> zstd_of(std::span<const uint8_t> data) {
  std::vector<uint8_t> out(ZSTD_compressBound(data.size()));
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

// What reading the file reports: its blocks and the messages of its damage.
std::pair<size_t, std::string> read_report(std::span<const uint8_t> file) {
  const ReadBack r = read_all(file);
  std::string messages;
  for (const Damage& d : r.damage) messages += d.message + "\n";
  return {r.blocks.size(), messages};
}

}  // namespace

TEST(CompressionAbuse, ABombIsRefusedBeforeItIsExpanded) {
  // 64 MiB of zeros in a ~2 KiB frame: a 1:30000 ratio.
  const std::vector<uint8_t> zeros(64u << 20);
  const auto frame = zstd_of(zeros);
  ASSERT_LT(frame.size(), 16u << 10);
  // 4 blocks of 16 MiB (UNIFORM + FIXED_SIZE records: flags, size, payloads).
  const auto file =
      with_group(compressed_group(detail::kGroupUniform | detail::kGroupFixedSize, 4, frame));
  const auto [blocks, damage] = read_report(file);
  EXPECT_EQ(blocks, 0u);
  EXPECT_NE(damage.find("more than 256 times its"), std::string::npos) << damage;
  MemorySource src(file);
  const VerifyReport v = verify(src);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.problems[0].message.find("256 times"), std::string::npos) << v.problems[0].message;
}

TEST(CompressionAbuse, AGroupPastTheReadersLimitIsRefused) {
  std::vector<uint8_t> records = {0x00, 0x10};  // UNIFORM+FIXED: I, size 16
  std::mt19937 rng(5);
  for (int i = 0; i < 16 * 4096; ++i) records.push_back(uint8_t(rng() % 4));
  const auto frame = zstd_of(records);
  const auto file =
      with_group(compressed_group(detail::kGroupUniform | detail::kGroupFixedSize, 4096, frame));
  EXPECT_EQ(read_report(file).first, 4096u) << read_report(file).second;  // a sound group
  MemorySource src(file);
  ReaderOptions o;
  o.limits.max_core_chunk = 32 << 10;
  Reader r(src, o);
  Block b;
  EXPECT_EQ(r.next(b), ReadEvent::kDamage);
  EXPECT_EQ(r.last_damage().code, ErrorCode::kLimitExceeded);
  EXPECT_NE(r.last_damage().message.find("exceed the reader limit"), std::string::npos);
}

TEST(CompressionAbuse, EveryLieAboutTheFrameIsNamed) {
  std::vector<uint8_t> records = {0x00, 0x10};
  records.resize(2 + 16 * 64, 5);
  const auto frame = zstd_of(records);
  const uint8_t uf = detail::kGroupUniform | detail::kGroupFixedSize;
  const uint32_t n = uint32_t(records.size());
  auto with_tail = frame;
  with_tail.insert(with_tail.end(), frame.begin(), frame.end());
  auto broken = frame;
  broken[broken.size() / 2] ^= 0x55;
  // The frame's content size (2 bytes after its magic and descriptor: one
  // segment, no dictionary id) one more than what it holds.
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), n);
  auto longer = frame;
  detail::store_u16(&longer[5], uint16_t(detail::load_u16(&longer[5]) + 1));
  ASSERT_EQ(ZSTD_getFrameContentSize(longer.data(), longer.size()), n + 1);
  // A frame without a content size, and one of nothing.
  auto* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::vector<uint8_t> unsized(ZSTD_compressBound(records.size()));
  unsized.resize(
      ZSTD_compress2(cctx, unsized.data(), unsized.size(), records.data(), records.size()));
  ZSTD_freeCCtx(cctx);
  const auto empty = zstd_of({});
  const struct {
    const char* what;
    std::vector<uint8_t> group;
    const char* says;
  } cases[] = {
      {"size off by one", compressed_group(uf, 64, longer), "does not decompress"},
      {"no size", compressed_group(uf, 64, unsized), "does not declare its content size"},
      {"zero size", compressed_group(uf, 64, empty), "declares 0 bytes"},
      {"two frames", compressed_group(uf, 64, with_tail), "exactly one zstd frame"},
      {"no frame", compressed_group(uf, 64, {}), "holds no zstd frame"},
      {"damaged frame", compressed_group(uf, 64, broken), "zstd"},
      {"no dictionary", compressed_group(uf | detail::kGroupDictionary, 64, frame),
       "no DICT chunk"},
      {"dictionary alone", group_header(uf | detail::kGroupDictionary, 64),
       "DICTIONARY without COMPRESSED"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto [blocks, damage] = read_report(with_group(c.group));
    EXPECT_EQ(blocks, 0u);
    EXPECT_NE(damage.find(c.says), std::string::npos) << damage;
    EXPECT_NE(damage.find("CORE chunk at offset"), std::string::npos) << damage;
  }
}

TEST(CompressionAbuse, AnUndeclaredTrackIsNotExpanded) {
  // The same sound group on a track whose TRAK says nothing of compression.
  std::vector<uint8_t> records = {0x00, 0x10};
  records.resize(2 + 16 * 64, 5);
  auto file = write_stream_unseekable({token_track()}, {});
  for (const auto& c : chunk_layout(file))
    if (c.tag == "VERI" || c.tag == "TSEK" || c.tag == "TAIL") {
      file.resize(c.offset);
      break;
    }
  append_chunk(
      file, "CORE",
      compressed_group(detail::kGroupUniform | detail::kGroupFixedSize, 64, zstd_of(records)));
  const auto [blocks, damage] = read_report(file);
  EXPECT_EQ(blocks, 0u);
  EXPECT_NE(damage.find("does not declare compression"), std::string::npos) << damage;
}

TEST(CompressionAbuse, DictionariesThatNameTheWrongTrackAreReported) {
  auto file = write_stream_unseekable({token_track()}, {});
  const auto trak = chunks_tagged(file, "TRAK").at(0);
  std::vector<uint8_t> rest(file.begin() + long(trak.end), file.end());
  file.resize(trak.end);
  append_chunk(file, "DICT", detail::encode_dict_chunk(1, std::vector<uint8_t>(64, 9)));
  append_chunk(file, "DICT", detail::encode_dict_chunk(9, std::vector<uint8_t>(64, 9)));
  file.insert(file.end(), rest.begin(), rest.end());
  MemorySource src(file);
  Reader r(src);
  ASSERT_EQ(r.damage().size(), 2u);
  EXPECT_NE(r.damage()[0].message.find("does not declare compression"), std::string::npos);
  EXPECT_NE(r.damage()[1].message.find("is not declared in TRAK"), std::string::npos);
}

TEST(CompressionAbuse, OtherMajorVersionsAreRefusedAndTwoIsProbed) {
  auto file = write_tokens(token_blocks(100), TrackCompression{});
  EXPECT_EQ(h4mk_probe(file.data(), file.size()), 100);
  detail::store_u16(&file[4], 3);
  detail::store_u32(&file[12], detail::crc32(0, file.data(), 12));
  EXPECT_EQ(h4mk_probe(file.data(), file.size()), 0);
  MemorySource src(file);
  try {
    Reader r(src);
    FAIL() << "a 3.0 file was opened";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupportedVersion);
  }
}

TEST(CompressionAbuse, VerifyRefusesCompressionInA1File) {
  auto file = write_tokens(token_blocks(100), TrackCompression{});
  detail::store_u16(&file[4], 1);
  detail::store_u32(&file[12], detail::crc32(0, file.data(), 12));
  MemorySource src(file);
  const VerifyReport v = verify(src);
  bool named = false;
  for (const Problem& p : v.problems) named |= p.message.find("needs 2.0") != std::string::npos;
  EXPECT_TRUE(named);
}

}  // namespace h4mk::test
