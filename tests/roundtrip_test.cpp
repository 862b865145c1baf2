// Writing then reading random multi-track streams gives back every block exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

void expect_same_per_track(const std::vector<TestBlock>& want, const std::vector<TestBlock>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (uint16_t track : {1, 2, 3}) {
    auto w = of_track(want, track), g = of_track(got, track);
    ASSERT_EQ(w.size(), g.size()) << "track " << track;
    for (size_t i = 0; i < w.size(); ++i) {
      ASSERT_EQ(w[i].info, g[i].info) << "track " << track << " block " << i;
      ASSERT_EQ(w[i].data, g[i].data) << "track " << track << " block " << i;
      ASSERT_EQ(w[i].side, g[i].side) << "track " << track << " block " << i;
    }
  }
}

struct Case {
  uint32_t seed;
  bool fixed_audio;
  bool large;
  WriterOptions options;
};

class RoundTrip : public ::testing::TestWithParam<Case> {};

TEST_P(RoundTrip, EveryBlockComesBackExactly) {
  const Case& c = GetParam();
  StreamSpec spec;
  spec.seed = c.seed;
  spec.seconds = c.large ? 8 : 20;
  spec.audio_fixed_size = c.fixed_audio;
  spec.large_blocks = c.large;
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  auto file = write_stream(tracks, blocks, c.options);

  ReadBack r = read_all(file);
  EXPECT_TRUE(r.damage.empty()) << r.damage[0].message;
  expect_same_per_track(blocks, r.blocks);

  // Same through a pipe-like source.
  PipeLikeSource pipe(file);
  ReadBack p = read_all(pipe);
  EXPECT_EQ(r.blocks, p.blocks);

  // Same a run at a time: FIXED_SIZE groups (the 16-byte audio) in one call.
  {
    MemorySource src(file);
    Reader reader(src);
    uint32_t longest = 0;
    EXPECT_EQ(read_by_runs(reader, &longest), r.blocks);
    if (c.fixed_audio) EXPECT_GT(longest, 1u);
    PipeLikeSource pipe_again(file);
    Reader piped(pipe_again);
    EXPECT_EQ(read_by_runs(piped), r.blocks);
  }

  MemorySource src(file);
  Reader reader(src);
  EXPECT_EQ(reader.tracks(), tracks);
  EXPECT_EQ(reader.metadata_json(), R"({"title":"test stream"})");
  EXPECT_EQ(reader.safe_json(), R"({"policy":"transport_only"})");
  EXPECT_EQ(reader.note(), "written by the libh4mk tests");
  ASSERT_TRUE(reader.has_index());
  for (const Track& t : tracks) {
    auto s = reader.summary(t.id);
    if (!c.options.write_index) {
      EXPECT_FALSE(s);
      continue;
    }
    ASSERT_TRUE(s);
    auto own = of_track(blocks, t.id);
    EXPECT_EQ(s->block_count, own.size());
    EXPECT_EQ(s->start_pts, std::min_element(own.begin(), own.end(), [](auto& a, auto& b) {
                              return a.info.pts < b.info.pts;
                            })->info.pts);
  }
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << v.problems[0].message;
  EXPECT_TRUE(v.veri_ok == c.options.write_veri);
  EXPECT_EQ(v.blocks, blocks.size());
}

WriterOptions small_groups() {
  WriterOptions o;
  o.max_group_blocks = 7;
  o.max_group_bytes = 5000;
  o.max_group_duration_us = 150'000;
  return o;
}

WriterOptions no_veri_no_index() {
  WriterOptions o;
  o.write_veri = false;
  o.write_index = false;
  return o;
}

INSTANTIATE_TEST_SUITE_P(Streams, RoundTrip,
                         ::testing::Values(Case{1, true, false, {}}, Case{2, false, false, {}},
                                           Case{3, true, false, small_groups()},
                                           Case{4, false, false, small_groups()},
                                           Case{5, true, true, {}},
                                           Case{6, false, false, no_veri_no_index()}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return "seed" + std::to_string(info.param.seed);
                         });

TEST(RoundTrip, GroupEncodingsAreChosenByContent) {
  StreamSpec spec;
  spec.seconds = 2;
  spec.data_track = false;
  auto tracks = test_tracks(spec);
  auto file = write_stream(tracks, make_stream(spec));
  // Audio of constant 16-byte blocks is UNIFORM + FIXED_SIZE (flags 0x03);
  // video with reordering is per-record (flags 0x00).
  bool saw_fixed = false, saw_records = false;
  for (const auto& c : chunk_layout(file)) {
    if (c.tag != "CORE") continue;
    uint8_t track = file[c.offset + 12], flags = file[c.offset + 12 + 2];
    if (track == 1) saw_fixed |= flags == 0x03;
    if (track == 2) saw_records |= flags == 0x00;
  }
  EXPECT_TRUE(saw_fixed);
  EXPECT_TRUE(saw_records);
}

// Fixed-size blocks with an I block starting each group and P blocks after
// it are UNIFORM + FIXED_SIZE + KEY_FIRST groups (flags 0x13, §5.3): no
// record a block, the same bytes a block as all I blocks; runs hand out the
// I block alone, then the rest of its group at once.
TEST(RoundTrip, AnIBlockThenPBlocksCostsNoRecordABlock) {
  auto write = [](int key_every) {
    MemorySink sink;
    WriterOptions o;
    o.max_group_blocks = 25;
    Writer w(sink, o);
    Track t;
    t.id = 1;
    t.kind = TrackKind::kAudio;
    t.time_base = {1, 1000};
    t.default_duration = 20;
    w.add_track(t);
    std::vector<uint8_t> frame(16);
    for (int i = 0; i < 100; ++i) {
      frame[0] = uint8_t(i);
      w.write_block({1, i % key_every ? BlockType::kP : BlockType::kI, 20 * i, 20 * i, 20}, frame);
    }
    w.finish();
    return sink.take();
  };
  const auto file = write(25), all_i = write(1);
  EXPECT_EQ(file.size(), all_i.size());
  int key_first = 0;
  for (const auto& c : chunk_layout(file))
    if (c.tag == "CORE") key_first += file[c.offset + 12 + 2] == 0x13;
  EXPECT_EQ(key_first, 4);
  MemorySource src(file);
  Reader reader(src);
  std::vector<uint32_t> counts;
  std::string types;
  Block b;
  uint32_t count;
  int64_t pts = 0;
  while (reader.next_run(b, count) == ReadEvent::kBlock) {
    counts.push_back(count);
    types += block_type_name(b.info.type);
    EXPECT_EQ(b.info.pts, pts);
    EXPECT_EQ(b.data.size(), 16u * count);
    pts += 20 * int64_t(count);
  }
  EXPECT_EQ(counts, (std::vector<uint32_t>{1, 24, 1, 24, 1, 24, 1, 24}));
  EXPECT_EQ(types, "IPIPIPIP");
  MemorySource again(file);
  Reader one_by_one(again);
  EXPECT_EQ(read_by_runs(one_by_one), read_all(file).blocks);
  // verify's summaries of the groups agree with the writer's index and HINT.
  MemorySource checked(file);
  const VerifyReport v = verify(checked);
  EXPECT_TRUE(v.ok()) << v.problems[0].message;
  EXPECT_EQ(v.blocks, 100u);
  // A seek inside a group lands on its I block.
  MemorySource seeking(file);
  Reader r(seeking);
  EXPECT_EQ(r.seek(1, 20 * 60 + 7).pts, 20 * 50);
}

// Output through a real pipe is byte-identical to output to a file, and a real
// pipe reads back the same blocks.
TEST(RoundTrip, RealPipeWriteAndRead) {
  StreamSpec spec;
  spec.seed = 9;
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  auto expected = write_stream_unseekable(tracks, blocks);  // a pipe gets no HINT

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<uint8_t> piped;
  std::thread drain([&] {
    uint8_t buf[8192];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;)
      piped.insert(piped.end(), buf, buf + n);
  });
  {
    FILE* out = fdopen(fds[1], "wb");
    FileSink sink(out);
    EXPECT_FALSE(sink.seekable());
    write_stream_to(sink, tracks, blocks);
    fclose(out);
  }
  drain.join();
  EXPECT_EQ(piped, expected);

  ASSERT_EQ(pipe(fds), 0);
  std::thread feed([&] {
    size_t off = 0;
    while (off < expected.size()) {
      ssize_t n =
          ::write(fds[1], expected.data() + off, std::min<size_t>(3000, expected.size() - off));
      if (n <= 0) break;
      off += size_t(n);
    }
    close(fds[1]);
  });
  FILE* in = fdopen(fds[0], "rb");
  {
    FileSource src(in);
    EXPECT_FALSE(src.seekable());
    ReadBack r = read_all(src);
    EXPECT_EQ(r.blocks.size(), blocks.size());
    expect_same_per_track(blocks, r.blocks);
  }
  feed.join();
  fclose(in);
}

// Track 1, in milliseconds: the writer tests' one track.
Track ms_track() {
  Track t;
  t.id = 1;
  t.time_base = {1, 1000};
  return t;
}

TEST(Writer, RejectsBadInputWithClearErrors) {
  MemorySink sink;
  Writer w(sink);
  const Track t = ms_track();
  w.add_track(t);
  std::vector<uint8_t> p(4);
  auto expect_error = [&](BlockInfo b, const char* needle) {
    try {
      w.write_block(b, p);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({7, BlockType::kI, 0, 0, 1}, "undeclared track 7");
  expect_error({1, static_cast<BlockType>(3), 0, 0, 1}, "invalid block type");
  expect_error({1, BlockType::kI, 0, 5, 1}, "after pts");
  expect_error({1, BlockType::kI, INT64_MAX, 0, 1}, "outside");
  // 2^62 itself is refused: 2^62 + 2^62 would overflow (FORMAT.md §5.5).
  const int64_t edge = int64_t(1) << 62;
  expect_error({1, BlockType::kI, edge, edge, 1}, "outside");
  expect_error({1, BlockType::kI, -edge, -edge, 1}, "outside");
  expect_error({1, BlockType::kI, 0, 0, edge}, "duration");
  expect_error({1, BlockType::kI, 0, 0, -1}, "duration");
  w.write_block({1, BlockType::kI, 100, 100, 1}, p);
  expect_error({1, BlockType::kP, 200, 50, 1}, "goes backwards");
  expect_error({1, BlockType::kI, 99, 100, 1}, "after pts");
  w.write_block({1, BlockType::kP, 150, 120, 1}, p);
  expect_error({1, BlockType::kI, 90, 80, 1}, "goes backwards");
  std::vector<uint8_t> bad_side = {0x05, 'a'};
  try {
    w.write_block({1, BlockType::kI, 150, 150, 1}, p, bad_side);
    ADD_FAILURE() << "accepted malformed side data";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("side data"), std::string::npos) << e.what();
  }
  // A block no reader with the default limits would hold (its group would
  // pass ReaderLimits::max_core_chunk) is refused, not written to be dropped.
  // (The vector's pages stay untouched: refused before it is read.)
  const std::vector<uint8_t> huge(size_t(ReaderLimits{}.max_core_chunk) - 255);
  try {
    w.write_block({1, BlockType::kI, 150, 150, 1}, huge);
    ADD_FAILURE() << "accepted a block larger than a group readers hold";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than a group readers hold"), std::string::npos)
        << e.what();
  }
  WriterOptions too_big;
  too_big.max_group_bytes = ReaderLimits{}.max_core_chunk;
  MemorySink other;
  EXPECT_THROW(Writer(other, too_big), Error);
  // Rejected blocks leave the writer usable.
  w.write_block({1, BlockType::kI, 300, 300, 1}, p);
  EXPECT_THROW(w.add_track(t), Error);
  w.finish();
  EXPECT_EQ(read_all(sink.bytes()).blocks.size(), 3u);
}

// Strings that JSON cannot hold (not UTF-8) are refused when they are given,
// naming the field; the writer stays usable and writes one header. (They
// used to be found only when the header chunks were serialised at the first
// block, which threw after the file header was written, so the next call
// wrote it again.)
TEST(Writer, RefusesStringsThatAreNotUtf8WhenTheyAreGiven) {
  MemorySink sink;
  Writer w(sink);
  const std::string bad = "ab\xff\xfe";
  auto expect_refused = [](auto&& call, const char* needle) {
    try {
      call();
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not valid UTF-8"), std::string::npos) << e.what();
    }
  };
  for (auto field : {&Track::name, &Track::language, &Track::channel_layout, &Track::codec}) {
    Track t = ms_track();
    t.*field = bad;
    expect_refused([&] { w.add_track(t); }, "track 1: ");
  }
  Track tagged = ms_track();
  tagged.tags["comment"] = bad;
  expect_refused([&] { w.add_track(tagged); }, "tag 'comment'");
  tagged.tags = {{bad, "x"}};
  expect_refused([&] { w.add_track(tagged); }, "tag name");
  expect_refused([&] { w.set_metadata("title", bad); }, "metadata 'title'");
  expect_refused([&] { w.set_metadata(bad, "x"); }, "metadata key");
  expect_refused([&] { w.set_note(bad); }, "NOTE");
  // Valid UTF-8 of every length goes through.
  Track t = ms_track();
  t.name = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5";
  w.add_track(t);
  w.set_metadata("title", t.name);
  std::vector<uint8_t> p(4);
  w.write_block({1, BlockType::kI, 0, 0, 1}, p);
  w.finish();
  MemorySource src(sink.bytes());
  Reader r(src);
  EXPECT_EQ(r.tracks().at(0).name, t.name);
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
}

// Chapters come back as given (order, times, end and id present or not,
// titles, tags), are in the VERI chain, and are refused when they break a
// rule of FORMAT.md §7.1, naming the chapter and the field.
TEST(Writer, ADeclaredTrackChangesUntilTheFirstBlock) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(ms_track());
  EXPECT_EQ(w.track(2), nullptr);
  Track t = *w.track(1);
  t.tags["title"] = "renamed";
  t.compression = TrackCompression{};
  t.default_duration = 20;
  w.replace_track(t);
  EXPECT_EQ(w.track(1)->tags.at("title"), "renamed");
  auto refused = [&](const Track& bad, ErrorCode code, const char* needle) {
    try {
      w.replace_track(bad);
      ADD_FAILURE() << "replaced: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Track undeclared = t;
  undeclared.id = 2;
  refused(undeclared, ErrorCode::kInvalidArgument, "track 2 is not declared");
  Track bad_rate = t;
  bad_rate.time_base = {1, 0};
  refused(bad_rate, ErrorCode::kInvalidArgument, "time_base");
  EXPECT_EQ(w.track(1)->time_base.den, 1000) << "a refused track changes nothing";
  // A track masked by set_mask_key keeps the parameters its masker uses.
  MaskKey key{};
  key[0] = 7;
  t.compression.reset();
  w.replace_track(t);
  w.set_mask_key(1, key);
  Track remasked = *w.track(1);
  remasked.mask->salt[0] ^= 1;
  refused(remasked, ErrorCode::kInvalidArgument, "its mask parameters are the writer's");
  Track compressed = *w.track(1);
  compressed.compression = TrackCompression{};
  refused(compressed, ErrorCode::kInvalidArgument, "a masked track is not compressed");
  Track tagged = *w.track(1);
  tagged.tags["language"] = "fra";
  w.replace_track(tagged);

  w.write_block({1, BlockType::kI, 0, 0, 20}, std::vector<uint8_t>(8, 1));
  refused(tagged, ErrorCode::kBadState, "before the first block");
  w.finish();
  MemorySource in(sink.bytes());
  Reader r(in);
  ASSERT_EQ(r.tracks().size(), 1u);
  EXPECT_EQ(r.tracks()[0].tags.at("title"), "renamed");
  EXPECT_EQ(r.tracks()[0].tags.at("language"), "fra");
  EXPECT_EQ(r.tracks()[0].default_duration, 20);
  ASSERT_TRUE(r.tracks()[0].mask.has_value());
  r.set_mask_key(key, 1);
  Block b;
  ASSERT_EQ(r.next(b), ReadEvent::kBlock);
  EXPECT_EQ(std::vector<uint8_t>(b.data.begin(), b.data.end()), std::vector<uint8_t>(8, 1));
  EXPECT_EQ(b.info.duration, 20);
}

TEST(Writer, ChaptersComeBackAsGiven) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(ms_track());
  Chapter intro{{1, 1000}, 0, 60'000, 11, "Intro", {}};
  Chapter open_end{{1, 1'000'000'000}, 60'000'000'000,
                   std::nullopt,       std::nullopt,
                   "Caf\xc3\xa9",      {{"artist", "X"}, {"comment", "no end, no id"}}};
  Chapter negative{{1, 90000}, -90000, -45000, -1, "", {}};
  EXPECT_EQ(w.add_chapter(intro), 0u);
  EXPECT_EQ(w.add_chapter(open_end), 1u);
  EXPECT_EQ(w.add_chapter(negative), 2u);
  w.set_chapter_tag(2, "language", "fra");
  negative.tags["language"] = "fra";
  auto refused = [&](const Chapter& c, const char* needle) {
    try {
      w.add_chapter(c);
      ADD_FAILURE() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  refused({{0, 1000}, 0, {}, {}, "", {}}, "chapter #3: \"time_base\"");
  refused({{1, 1000}, 10, 9, {}, "", {}}, "\"end\" is before");
  refused({{1, 1000}, int64_t(1) << 62, {}, {}, "", {}}, "\"start\" is outside");
  refused({{1, 1000}, 0, {}, {}, "\xff", {}}, "chapter #3: title is not valid UTF-8");
  EXPECT_THROW(w.set_chapter_tag(3, "a", "b"), Error);
  std::vector<uint8_t> p(4);
  w.write_block({1, BlockType::kI, 0, 0, 1}, p);
  EXPECT_THROW(w.add_chapter(intro), Error);  // after the first block
  w.finish();

  MemorySource src(sink.bytes());
  Reader r(src);
  EXPECT_EQ(r.chapters(), (std::vector<Chapter>{intro, open_end, negative}));
  EXPECT_TRUE(r.damage().empty());
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);
  // A changed chapter breaks the chain (CRC recomputed so only VERI sees it).
  std::vector<uint8_t> bytes = sink.bytes();
  bool changed = false;
  for (const ChunkExtent& c : chunk_layout(bytes))
    if (c.tag == "CHAP") {
      const std::string text(bytes.begin() + long(c.offset) + 12, bytes.begin() + long(c.end));
      const size_t at = text.find("Intro");
      ASSERT_NE(at, std::string::npos);
      bytes[c.offset + 12 + at] = 'E';
      std::span<const uint8_t> payload(&bytes[c.offset + 12], c.end - c.offset - 12);
      detail::store_u32(&bytes[c.offset + 8], detail::chunk_crc(detail::make_tag("CHAP"),
                                                                uint32_t(payload.size()), payload));
      changed = true;
    }
  ASSERT_TRUE(changed);
  MemorySource altered(bytes);
  EXPECT_EQ(Reader(altered).chapters().at(0).title, "Entro");
  EXPECT_FALSE(verify(altered).veri_ok);
}

// Attachments (§7.2) come back as given, in order, survive copy_header()
// (what mask, unmask and repair keep), and are part of the hash chain.
// Names a reader could be made to save outside its directory are refused.
TEST(Writer, AttachmentsComeBackAndSurviveARewrite) {
  MemorySink sink;
  Writer w(sink);
  Track audio{.id = 1, .kind = TrackKind::kAudio, .codec = "pcm_s16le", .time_base = {1, 8000}};
  Track cover{.id = 2, .kind = TrackKind::kVideo, .codec = "mjpeg", .time_base = {1, 1000}};
  w.add_track(audio);
  w.add_track(cover);
  const Attachment font{"Font Name.ttf", "font/ttf", "", 0, std::vector<uint8_t>(70000, 0x5A)};
  const Attachment pic{"cover.jpg", "image/jpeg", "Front cover", 2, {0xFF, 0xD8, 0xFF, 0xD9}};
  const Attachment empty{"empty.bin", "", "", 0, {}};
  EXPECT_EQ(w.add_attachment(font), 0u);
  EXPECT_EQ(w.add_attachment(pic), 1u);
  EXPECT_EQ(w.add_attachment(empty), 2u);
  for (const char* name : {"", ".", "..", "../x", "a/b", "a\\b", "/etc/passwd"}) {
    try {
      w.add_attachment({name, "", "", 0, {1}});
      ADD_FAILURE() << "accepted " << name;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("attachment #3: \"filename\""), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(w.add_attachment({std::string("a\0b", 3), "", "", 0, {}}), Error);
  EXPECT_THROW(w.add_attachment({"x", "\xff", "", 0, {}}), Error);
  try {
    w.add_attachment({"x.png", "image/png", "", 3, {}});
    ADD_FAILURE() << "accepted an undeclared track";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("track 3 is not declared"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> p(4);
  w.write_block({1, BlockType::kI, 0, 0, 2}, p);
  EXPECT_THROW(w.add_attachment(font), Error);  // after the first block
  w.finish();

  MemorySource src(sink.bytes());
  Reader r(src);
  EXPECT_EQ(r.attachments(), (std::vector<Attachment>{font, pic, empty}));
  EXPECT_TRUE(r.damage().empty());
  VerifyReport v = verify(src);
  EXPECT_TRUE(v.ok()) << (v.problems.empty() ? "" : v.problems[0].message);

  MemorySink copy;
  Writer w2(copy);
  for (const Track& t : r.tracks()) w2.add_track(t);
  copy_header(r, w2);
  w2.write_block({1, BlockType::kI, 0, 0, 2}, p);
  w2.finish();
  MemorySource copied(copy.bytes());
  EXPECT_EQ(Reader(copied).attachments(), r.attachments());

  // A changed byte of data breaks the chain (CRC recomputed so only VERI sees it).
  std::vector<uint8_t> bytes = sink.bytes();
  for (const ChunkExtent& c : chunk_layout(bytes))
    if (c.tag == "ATCH" && c.end - c.offset > 1000) {
      bytes[c.end - 1] ^= 1;
      std::span<const uint8_t> payload(&bytes[c.offset + 12], c.end - c.offset - 12);
      detail::store_u32(&bytes[c.offset + 8], detail::chunk_crc(detail::make_tag("ATCH"),
                                                                uint32_t(payload.size()), payload));
    }
  MemorySource altered(bytes);
  EXPECT_EQ(Reader(altered).attachments().at(0).data.back(), 0x5B);
  EXPECT_FALSE(verify(altered).veri_ok);
}

// The largest steps the writer accepts, in one group: a pts step and a pts -
// dts of 2^63 - 2, and a block ending at 2^63 - 2. They come back exactly.
// 10 s of 20 ms audio blocks and (with_video) 40 ms video blocks, written
// in dts order as a muxer hands them over.
std::vector<uint8_t> audio_video(bool with_video, WriterOptions o = {}) {
  MemorySink sink;
  Writer w(sink, o);
  w.add_track({.id = 1, .kind = TrackKind::kAudio, .codec = "opus", .time_base = {1, 48000}});
  if (with_video)
    w.add_track({.id = 2, .kind = TrackKind::kVideo, .codec = "h264", .time_base = {1, 90000}});
  const std::vector<uint8_t> p(100, 1);
  for (int ms = 0; ms < 10'000; ms += 20) {
    if (with_video && ms % 40 == 0)
      w.write_block({2, ms % 1000 ? BlockType::kP : BlockType::kI, ms * 90, ms * 90, 3600}, p);
    w.write_block({1, BlockType::kI, ms * 48, ms * 48, 960}, p);
  }
  w.finish();
  return sink.take();
}

// In file order: the largest step back in dts (seconds) between consecutive
// blocks, and the groups (each its blocks' track and dts).
struct FileOrder {
  double max_back = 0;
  std::vector<std::vector<std::pair<uint16_t, int64_t>>> groups;
};
FileOrder file_order(std::span<const uint8_t> file) {
  MemorySource src(file);
  Reader r(src);
  FileOrder f;
  Block b;
  double last = -1e9;
  uint64_t chunk = UINT64_MAX;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) continue;
    const Rational tb = r.track(b.info.track_id)->time_base;
    const double t = double(b.info.dts) * double(tb.num) / double(tb.den);
    f.max_back = std::max(f.max_back, last - t);
    last = t;
    if (b.chunk_offset != chunk) f.groups.emplace_back();
    chunk = b.chunk_offset;
    f.groups.back().emplace_back(b.info.track_id, b.info.dts);
  }
  return f;
}

// With two or more audio or video tracks a reader meets every track within
// 0.5 s (WriterOptions::interleave_duration_us): consecutive blocks' dts
// never go back by more than that plus a block, where 2 s groups made it
// 2 s (ffmpeg -re stalled, ffprobe -read_intervals missed tracks). One
// track keeps its 2 s groups (the token-block overhead), and 0 turns it off.
TEST(Writer, SeveralMediaTracksInterleaveWithinHalfASecond) {
  const FileOrder av = file_order(audio_video(true));
  EXPECT_LE(av.max_back, 0.5 + 0.04);
  EXPECT_GT(av.max_back, 0.3);  // groups do span about 0.5 s
  const FileOrder audio = file_order(audio_video(false));
  EXPECT_EQ(audio.groups.size(), 5u);  // 2 s each
  WriterOptions off;
  off.interleave_duration_us = 0;
  EXPECT_GT(file_order(audio_video(true, off)).max_back, 1.5);
}

// A rewrite (repair, mask, unmask) keeps the source's groups, in the
// source's order, whatever the writer's own defaults would make of them.
TEST(Writer, ARewriteKeepsTheGroupsOfItsSource) {
  for (const WriterOptions& o : {WriterOptions{.max_group_blocks = 3}, WriterOptions{}}) {
    const std::vector<uint8_t> source = audio_video(true, o);
    MemorySource in(source);
    MemorySink out;
    RepairReport rep = repair(in, out);
    EXPECT_EQ(rep.blocks_kept, 750u);
    EXPECT_EQ(file_order(out.bytes()).groups, file_order(source).groups);
  }
}

TEST(Writer, TimestampsAtTheLimitsComeBackExactly) {
  MemorySink sink;
  Writer w(sink);
  w.add_track(ms_track());
  const int64_t max = (int64_t(1) << 62) - 1;
  const std::vector<BlockInfo> blocks = {{1, BlockType::kI, -max, -max, max},
                                         {1, BlockType::kP, max, -max, max},
                                         {1, BlockType::kP, max, max, 0}};
  std::vector<uint8_t> p(4);
  for (const BlockInfo& b : blocks) w.write_block(b, p);
  w.finish();
  const auto back = read_all(sink.bytes()).blocks;
  ASSERT_EQ(back.size(), blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) EXPECT_EQ(back[i].info, blocks[i]) << i;
}

TEST(Writer, MemoryStaysFlatAsPayloadGrows) {
  // The writer keeps one open group per track: after writing 64 MiB the sink
  // got (almost) all of it, and nothing grows with the payload total.
  struct CountingSink : Sink {
    uint64_t n = 0;
    void write(std::span<const uint8_t> d) override { n += d.size(); }
  } sink;
  Writer w(sink);
  Track t;
  t.id = 1;
  t.time_base = {1, 1000};
  w.add_track(t);
  std::vector<uint8_t> payload(64 * 1024, 7);
  for (int i = 0; i < 1024; ++i) {
    w.write_block({1, BlockType::kI, i * 20, i * 20, 20}, payload);
    ASSERT_LE(uint64_t(i + 1) * payload.size(), sink.n + (uint64_t(1) << 20));  // <= one group open
  }
  w.finish();
}

}  // namespace
}  // namespace h4mk::test
