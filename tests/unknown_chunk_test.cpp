// Chunks of unknown tags through a rewrite (docs/FORMAT.md §9.6): those safe
// to copy (a lowercase fourth byte) stay in their place among the groups,
// the others are left out and named; the reader's hold on the head's is
// bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "h4mk/compression.hpp"
#include "h4mk/rewrite.hpp"
#include "h4mk/verify.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

std::vector<uint8_t> text(const std::string& s) { return {s.begin(), s.end()}; }

struct Unknown {
  const char* tag;
  std::string payload;
};

// A file of two groups of one track, with chunks of unknown tags before the
// first CORE, between the two and after the last (`extra_head` more in the
// head), built by hand: a writer writes no chunk unsafe to copy.
std::vector<uint8_t> file_with_unknown_chunks(const std::vector<Unknown>& head,
                                              const std::vector<Unknown>& between,
                                              const std::vector<Unknown>& after) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(audio_ms_track());
  for (int i = 0; i < 6; ++i) {
    if (i == 3) w.close_group(1);
    w.write_block({1, BlockType::kI, 20 * i, 20 * i, 20}, std::vector<uint8_t>(40, uint8_t(i)));
  }
  w.finish();
  const std::vector<uint8_t> made = sink.take();
  std::vector<uint8_t> f(made.begin(), made.begin() + 16);
  auto copy = [&](const ChunkExtent& c) { f.insert(f.end(), &made[c.offset], &made[c.end]); };
  auto add = [&](const std::vector<Unknown>& list) {
    for (const Unknown& u : list) append_chunk(f, u.tag, text(u.payload));
  };
  int cores = 0;
  uint64_t index_offset = 0;
  for (const ChunkExtent& c : chunk_layout(made)) {
    if (c.tag == "TRAK") {
      copy(c);
      add(head);
    } else if (c.tag == "CORE") {
      copy(c);
      if (++cores == 1) add(between);
      if (cores == 2) {
        index_offset = f.size();
        add(after);
      }
    }
  }
  EXPECT_EQ(cores, 2);
  append_chunk(f, "TAIL", detail::encode_tail({index_offset, 2}));
  uint8_t crc[4];
  detail::store_u32(crc, detail::crc32(0, f.data(), f.size()));
  f.insert(f.end(), crc, crc + 4);
  return f;
}

std::vector<std::string> tags_of(std::span<const uint8_t> file) {
  std::vector<std::string> tags;
  for (const ChunkExtent& c : chunk_layout(file))
    if (c.tag != "HINT") tags.push_back(c.tag);
  return tags;
}

MaskKey a_key() {
  MaskKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 7 + 1);
  return k;
}

TEST(UnknownChunks, ARewriteKeepsThoseSafeToCopyInTheirPlaceAndNamesTheOthers) {
  const auto source = file_with_unknown_chunks({{"XHDa", "head, safe"}, {"XHDR", "head, not safe"}},
                                               {{"BTWn", "between, safe"}, {"BTWN", "not safe"}},
                                               {{"ENDs", "after, safe"}});
  MemorySource in(source);
  Reader r(in);
  ASSERT_EQ(r.head_unknown_chunks().size(), 2u);
  EXPECT_TRUE(r.head_unknown_chunks()[0].held);
  EXPECT_FALSE(r.head_unknown_chunks()[1].held);  // not safe to copy: not held
  MemorySink masked;
  const RewriteReport rep = mask_file(r, masked, a_key(), MaskScheme::kAes256Gcm);
  EXPECT_EQ(rep.blocks, 6u);
  EXPECT_EQ(rep.unknown_chunks.kept, 3u);
  EXPECT_EQ(rep.unknown_chunks.left_out, 2u);
  EXPECT_NE(rep.unknown_chunks.first_left_out.find("'XHDR' at offset "), std::string::npos)
      << rep.unknown_chunks.first_left_out;
  EXPECT_NE(rep.unknown_chunks.first_left_out.find("not safe to copy"), std::string::npos);
  const std::vector<std::string> want = {"TRAK", "SAFE", "XHDa", "CORE", "BTWn",
                                         "CORE", "ENDs", "VERI", "TSEK", "TAIL"};
  EXPECT_EQ(tags_of(masked.bytes()), want);

  // The copy is a valid file whose chain covers the chunks kept, and the
  // next rewrite keeps them again.
  MemorySource check(masked.bytes());
  const VerifyReport v = verify(check);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? std::string() : v.problems[0].message);
  MemorySource again_in(masked.bytes());
  Reader again(again_in);
  ASSERT_EQ(again.head_unknown_chunks().size(), 1u);
  const UnknownChunk& head = again.head_unknown_chunks()[0];
  EXPECT_EQ(std::string(head.payload.begin(), head.payload.end()), "head, safe");
  MemorySink opened;
  const RewriteReport un = unmask_file(again, opened, a_key());
  EXPECT_EQ(un.unknown_chunks.kept, 3u);
  EXPECT_EQ(un.unknown_chunks.left_out, 0u);
  EXPECT_EQ(tags_of(opened.bytes()),
            (std::vector<std::string>{"TRAK", "XHDa", "CORE", "BTWn", "CORE", "ENDs", "VERI",
                                      "TSEK", "TAIL"}));

  // compress, decompress and repair keep them the same way.
  for (int op = 0; op < 3; ++op) {
    MemorySource src(source);
    MemorySink out;
    UnknownChunksKept kept;
    if (op == 2) {
      kept = repair(src, out).unknown_chunks;
    } else {
      Reader rd(src);
      kept = op == 0 ? compress_file(rd, out, TrackCompression{}).unknown_chunks
                     : decompress_file(rd, out).unknown_chunks;
    }
    EXPECT_EQ(kept.kept, 3u) << op;
    EXPECT_EQ(kept.left_out, 2u) << op;
    const auto tags = tags_of(out.bytes());
    const auto at = [&](const std::string& t) { return std::find(tags.begin(), tags.end(), t); };
    EXPECT_LT(at("XHDa"), at("CORE")) << op;
    EXPECT_LT(at("BTWn"), at("ENDs")) << op;
    EXPECT_EQ(at("XHDR"), tags.end()) << op;
    EXPECT_EQ(at("BTWN"), tags.end()) << op;
  }
}

TEST(UnknownChunks, TheReaderHoldsABoundedPartOfTheHead) {
  // 300 chunks safe to copy: 256 listed, the rest counted.
  std::vector<Unknown> many(300, Unknown{"MANy", "x"});
  auto file = file_with_unknown_chunks(many, {}, {});
  MemorySource in(file);
  Reader r(in);
  EXPECT_EQ(r.head_unknown_chunks().size(), 256u);
  EXPECT_EQ(r.head_unknown_chunks_unlisted(), 44u);
  MemorySink out;
  const RewriteReport rep = mask_file(r, out, a_key(), MaskScheme::kAes256Gcm);
  EXPECT_EQ(rep.unknown_chunks.kept, 256u);
  EXPECT_EQ(rep.unknown_chunks.left_out, 44u);
  EXPECT_NE(rep.unknown_chunks.first_left_out.find("past the 256"), std::string::npos)
      << rep.unknown_chunks.first_left_out;

  // 1.5 MiB of them: the payloads held stop at 1 MiB.
  std::vector<Unknown> big(3, Unknown{"BIGg", std::string(512 * 1024, 'b')});
  file = file_with_unknown_chunks(big, {}, {});
  MemorySource big_in(file);
  Reader big_reader(big_in);
  ASSERT_EQ(big_reader.head_unknown_chunks().size(), 3u);
  EXPECT_TRUE(big_reader.head_unknown_chunks()[1].held);
  EXPECT_FALSE(big_reader.head_unknown_chunks()[2].held);
  EXPECT_TRUE(big_reader.head_unknown_chunks()[2].payload.empty());
  MemorySink big_out;
  const RewriteReport big_rep = mask_file(big_reader, big_out, a_key(), MaskScheme::kAes256Gcm);
  EXPECT_EQ(big_rep.unknown_chunks.kept, 2u);
  EXPECT_EQ(big_rep.unknown_chunks.left_out, 1u);
  EXPECT_NE(big_rep.unknown_chunks.first_left_out.find("past the 1 MiB"), std::string::npos);
}

TEST(UnknownChunks, VerifyNamesThemWithoutCallingThemProblems) {
  const auto file = file_with_unknown_chunks({{"XHDR", "head"}}, {{"BTWn", "between, safe"}},
                                             {{"ENDs", "after"}});
  MemorySource in(file);
  const VerifyReport v = verify(in);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? std::string() : v.problems[0].message);
  ASSERT_EQ(v.unknown_chunk_count, 3u);
  ASSERT_EQ(v.unknown_chunks.size(), 3u);
  const std::vector<ChunkExtent> layout = chunk_layout(file);
  const auto offset_of = [&](const std::string& tag) {
    for (const ChunkExtent& c : layout)
      if (c.tag == tag) return c.offset;
    return uint64_t(0);
  };
  EXPECT_EQ(std::string(v.unknown_chunks[0].tag.data(), 4), "XHDR");
  EXPECT_EQ(v.unknown_chunks[0].offset, offset_of("XHDR"));
  EXPECT_EQ(v.unknown_chunks[0].size, 4u);
  EXPECT_FALSE(v.unknown_chunks[0].safe_to_copy());
  EXPECT_FALSE(v.unknown_chunks[0].held);
  EXPECT_EQ(std::string(v.unknown_chunks[1].tag.data(), 4), "BTWn");
  EXPECT_TRUE(v.unknown_chunks[1].safe_to_copy());
  EXPECT_EQ(v.unknown_chunks[2].offset, offset_of("ENDs"));

  // However many a file holds, the report keeps the first 64 and counts all.
  const auto many = file_with_unknown_chunks(std::vector<Unknown>(100, Unknown{"MANy", "x"}), {},
                                             std::vector<Unknown>(50, Unknown{"LATe", "y"}));
  MemorySource many_in(many);
  const VerifyReport m = verify(many_in);
  EXPECT_TRUE(m.ok());
  EXPECT_EQ(m.unknown_chunk_count, 150u);
  EXPECT_EQ(m.unknown_chunks.size(), VerifyReport::kKeptUnknownChunks);
}

TEST(UnknownChunks, AWriterWritesOnlyUnknownTagsSafeToCopy) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(audio_ms_track());
  const auto p = text("payload");
  for (const std::array<char, 4> tag :
       {std::array<char, 4>{'C', 'O', 'R', 'E'}, std::array<char, 4>{'T', 'A', 'I', 'L'},
        std::array<char, 4>{'X', 'T', 'R', 'A'}, std::array<char, 4>{'X', 'T', 'R', '1'}}) {
    try {
      w.write_unknown_chunk(tag, p);
      ADD_FAILURE() << std::string(tag.data(), 4) << " was written";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    }
  }
  // Before the first block it joins the head; after, it closes the open
  // group and lands where writing stands.
  w.write_unknown_chunk({'h', 'e', 'a', 'd'}, p);
  w.write_block({1, BlockType::kI, 0, 0, 20}, p);
  w.write_unknown_chunk({'m', 'i', 'd', 'l'}, p);
  w.write_block({1, BlockType::kI, 20, 20, 20}, p);
  w.finish();
  EXPECT_EQ(tags_of(sink.bytes()), (std::vector<std::string>{"TRAK", "head", "CORE", "midl", "CORE",
                                                             "VERI", "TSEK", "TAIL"}));
  MemorySource check(sink.bytes());
  EXPECT_TRUE(verify(check).ok());
}

}  // namespace
}  // namespace h4mk::test
