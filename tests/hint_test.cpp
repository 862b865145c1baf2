// The HINT chunk (FORMAT.md §10.1): a copy of the file's totals right after
// TRAK, filled in by writers that can go back, so a reader knows durations
// from the first bytes and loads the index only when it seeks.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "../libh4mk/src/byte_order.hpp"
#include "h4mk/io.hpp"
#include "h4mk/reader.hpp"
#include "h4mk/verify.hpp"
#include "h4mk/writer.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;
using detail::load_u64;
using detail::store_u32;
using detail::store_u64;

VerifyReport verify(std::span<const uint8_t> f) {
  MemorySource src(f);
  return h4mk::verify(src);
}

StreamSpec three_tracks() {
  StreamSpec spec;
  spec.seed = 31;
  spec.seconds = 20;
  return spec;
}

// Offset of the first chunk with `tag`, or 0.
uint64_t chunk_at(std::span<const uint8_t> f, const std::string& tag) {
  for (const auto& c : chunk_layout(f))
    if (c.tag == tag) return c.offset;
  return 0;
}

// The summaries a reader finds in the index (TSEK), loaded from the end.
std::vector<TrackSummary> indexed_summaries(std::span<const uint8_t> f) {
  MemorySource src(f);
  Reader r(src);
  EXPECT_TRUE(r.has_index());
  std::vector<TrackSummary> out;
  for (const Track& t : r.tracks()) out.push_back(*r.summary(t.id));
  return out;
}

TEST(Hint, SeekableSinksGetAFilledInHintRightAfterTrak) {
  auto spec = three_tracks();
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  auto file = write_stream(tracks, blocks);
  auto layout = chunk_layout(file);
  ASSERT_GE(layout.size(), 2u);
  EXPECT_EQ(layout[0].tag, "TRAK");
  ASSERT_EQ(layout[1].tag, "HINT");
  const uint64_t at = layout[1].offset;
  EXPECT_EQ(layout[1].end - at, 12 + 16 + 24 * tracks.size());
  EXPECT_EQ(load_u64(&file[at + 12]), file.size());
  EXPECT_EQ(load_u64(&file[at + 20]), chunk_at(file, "VERI"));  // TAIL's index_offset
  const auto want = indexed_summaries(file);
  for (size_t i = 0; i < tracks.size(); ++i) {
    const uint8_t* p = &file[at + 28 + 24 * i];
    EXPECT_EQ(load_u64(p), want[i].block_count) << "track " << i;
    EXPECT_EQ(detail::load_i64(p + 8), want[i].start_pts) << "track " << i;
    EXPECT_EQ(detail::load_i64(p + 16), want[i].end_pts) << "track " << i;
  }
  VerifyReport r = verify(file);
  EXPECT_TRUE(r.ok() && r.veri_ok) << (r.problems.empty() ? "" : r.problems[0].message);

  // A pipe gets the same file without it; the HINT is outside the VERI chain,
  // so both files carry the same hash.
  auto piped = write_stream_unseekable(tracks, blocks);
  EXPECT_EQ(chunk_at(piped, "HINT"), 0u);
  EXPECT_EQ(file.size() - piped.size(), layout[1].end - at);
  VerifyReport p = verify(piped);
  EXPECT_TRUE(p.ok() && p.veri_ok);
  EXPECT_EQ(p.veri_hash, r.veri_hash);
  // So does a writer without an index.
  WriterOptions no_index;
  no_index.write_index = false;
  EXPECT_EQ(chunk_at(write_stream(tracks, blocks, no_index), "HINT"), 0u);
}

TEST(Hint, OpeningKnowsEveryTrackSummaryWithoutReadingTheEnd) {
  auto spec = three_tracks();
  auto file = write_stream(test_tracks(spec), make_stream(spec));
  const auto want = indexed_summaries(file);
  MemorySource src(file);
  Reader r(src);
  const uint64_t opened = r.bytes_read();
  // The header, TRAK, HINT, META, SAFE, NOTE and the first CORE's header.
  EXPECT_EQ(opened, r.data_offset() + 12);
  for (size_t i = 0; i < r.tracks().size(); ++i)
    EXPECT_EQ(r.summary(r.tracks()[i].id), want[i]) << "track " << i;
  EXPECT_EQ(r.bytes_read(), opened);  // no read at the end of the file
  EXPECT_TRUE(r.has_index());         // the first use of the index loads it
  EXPECT_GT(r.bytes_read(), opened);
  EXPECT_TRUE(r.damage().empty());
  // A pipe cannot read the end at all; the HINT still gives the summaries.
  PipeLikeSource pipe(file);
  Reader piped(pipe);
  for (size_t i = 0; i < piped.tracks().size(); ++i)
    EXPECT_EQ(piped.summary(piped.tracks()[i].id), want[i]) << "track " << i;
  EXPECT_FALSE(piped.has_index());
  EXPECT_TRUE(piped.damage().empty());
}

TEST(Hint, ACutOrExtendedFileIgnoresIt) {
  auto spec = three_tracks();
  auto file = write_stream(test_tracks(spec), make_stream(spec));
  const uint16_t id = test_tracks(spec)[0].id;
  // Cut inside the last chunks: the HINT's size is not this file's.
  std::vector<uint8_t> cut(file.begin(), file.end() - 100);
  MemorySource c(cut);
  Reader rc(c);
  EXPECT_FALSE(rc.summary(id).has_value());
  EXPECT_FALSE(rc.has_index());
  for (const Damage& d : rc.damage()) EXPECT_EQ(d.message.find("HINT"), std::string::npos);
  // Bytes appended after the container CRC.
  auto longer = file;
  longer.resize(file.size() + 10, 0x55);
  MemorySource l(longer);
  Reader rl(l);
  EXPECT_FALSE(rl.summary(id).has_value());
  EXPECT_FALSE(verify(longer).ok());
  // A HINT left as zeros (a writer that could not finish it) is no damage.
  auto zeros = file;
  const uint64_t at = chunk_at(zeros, "HINT");
  store_u64(&zeros[at + 12], 0);
  reseal_chunk(zeros, at);
  MemorySource z(zeros);
  Reader rz(z);
  const uint64_t opened = rz.bytes_read();
  EXPECT_EQ(rz.summary(id), indexed_summaries(file)[0]);  // from the index
  EXPECT_GT(rz.bytes_read(), opened);
  EXPECT_TRUE(rz.damage().empty());
  VerifyReport vz = verify(zeros);
  EXPECT_TRUE(vz.ok()) << (vz.problems.empty() ? "" : vz.problems[0].message);
}

TEST(Hint, AForgedHintIsReportedOnceTheIndexLoadsAndByVerify) {
  auto spec = three_tracks();
  auto file = write_stream(test_tracks(spec), make_stream(spec));
  const auto want = indexed_summaries(file);
  const uint64_t at = chunk_at(file, "HINT");
  auto forged = file;
  store_u64(&forged[at + 28], want[0].block_count + 7);  // track 1's block count
  reseal_chunk(forged, at);
  const uint16_t id = test_tracks(spec)[0].id;
  MemorySource src(forged);
  Reader r(src);
  // Before the index is read the HINT is all the reader has (advisory).
  EXPECT_EQ(r.summary(id)->block_count, want[0].block_count + 7);
  EXPECT_TRUE(r.has_index());
  EXPECT_EQ(r.summary(id), want[0]);
  ASSERT_EQ(r.damage().size(), 1u);
  EXPECT_EQ(r.damage()[0].offset, at);
  EXPECT_NE(r.damage()[0].message.find("HINT chunk at offset " + std::to_string(at) +
                                       " disagrees with the end of the file: it has a summary "
                                       "of track " +
                                       std::to_string(id) + " that does not match its TSEK"),
            std::string::npos)
      << r.damage()[0].message;
  VerifyReport v = verify(forged);
  EXPECT_TRUE(v.veri_ok);  // the chain does not cover the HINT
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.problems[0].chunk, "HINT");
  EXPECT_NE(v.problems[0].message.find("summary of track " + std::to_string(id)), std::string::npos)
      << v.problems[0].message;
  // A wrong file size or index offset is named as such.
  auto wrong_offset = file;
  store_u64(&wrong_offset[at + 20], load_u64(&file[at + 20]) - 1);
  reseal_chunk(wrong_offset, at);
  VerifyReport vo = verify(wrong_offset);
  ASSERT_FALSE(vo.ok());
  EXPECT_NE(vo.problems[0].message.find("says the index starts at"), std::string::npos);
  // A HINT of the wrong size for the tracks is damage at open, and ignored.
  auto short_hint = file;
  store_u32(&short_hint[at + 4], 16);
  std::vector<uint8_t> moved(short_hint.begin(), short_hint.begin() + long(at + 28));
  moved.insert(moved.end(), short_hint.begin() + long(chunk_layout(file)[1].end), short_hint.end());
  reseal_chunk(moved, at);
  MemorySource s(moved);
  Reader rs(s);
  ASSERT_FALSE(rs.damage().empty());
  EXPECT_NE(rs.damage()[0].message.find("HINT chunk at offset " + std::to_string(at) +
                                        ": payload of 16 bytes, expected"),
            std::string::npos)
      << rs.damage()[0].message;
}

// A sink that takes every write but fails to go back.
class NoGoingBackSink final : public Sink {
 public:
  void write(std::span<const uint8_t> data) override {
    bytes.insert(bytes.end(), data.begin(), data.end());
  }
  bool seekable() const override { return true; }
  void write_at(uint64_t, std::span<const uint8_t>) override {
    throw Error(ErrorCode::kIo, "cannot seek in out.h4mk: Illegal seek");
  }
  std::vector<uint8_t> bytes;
};

// A HINT whose summaries no file of its size can have (a block count above
// the byte count, INT64_MIN frames in ffprobe; pts going backwards; a
// timestamp past §5.5's bounds) is damage at open and ignored: the summaries
// come from the index.
TEST(Hint, OneThatCannotDescribeTheFileIsIgnoredAtOpen) {
  auto spec = three_tracks();
  auto file = write_stream(test_tracks(spec), make_stream(spec));
  const auto want = indexed_summaries(file);
  const uint64_t at = chunk_at(file, "HINT");
  const uint16_t id = test_tracks(spec)[0].id;
  // Track 1's summary: block_count at +28, start_pts at +36, end_pts at +44.
  const std::pair<size_t, uint64_t> lies[] = {{28, uint64_t(1) << 63},    // more blocks than bytes
                                              {28, file.size() + 1},      // likewise
                                              {36, uint64_t(INT64_MAX)},  // starts after it ends
                                              {44, uint64_t(INT64_MAX)},  // ends past 2^63 - 2
                                              {20, file.size()}};  // the index starts at the end
  for (const auto& [field, value] : lies) {
    SCOPED_TRACE(field);
    auto forged = file;
    store_u64(&forged[at + field], value);
    reseal_chunk(forged, at);
    MemorySource src(forged);
    Reader r(src);
    ASSERT_FALSE(r.damage().empty());
    EXPECT_NE(r.damage()[0].message.find("HINT chunk at offset " + std::to_string(at)),
              std::string::npos);
    EXPECT_EQ(r.summary(id), want[0]);  // from the index
  }
}

TEST(Hint, FailingToFillItInLosesNoBlock) {
  auto spec = three_tracks();
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  NoGoingBackSink sink;
  try {
    write_stream_to(sink, tracks, blocks);
    FAIL() << "finish() did not report the failed write";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("Illegal seek"), std::string::npos) << e.what();
  }
  // Everything but the container CRC was written, and the HINT is zeros: an
  // incomplete file whose every block reads back, no damage but the cut.
  ReadBack r = read_all(sink.bytes);
  EXPECT_EQ(r.blocks.size(), blocks.size());
  for (const Track& t : tracks)
    EXPECT_TRUE(of_track(r.blocks, t.id) == of_track(blocks, t.id)) << "track " << t.id;
  ASSERT_EQ(r.damage.size(), 1u);
  EXPECT_EQ(r.damage[0].code, ErrorCode::kTruncated);
  const uint64_t at = chunk_at(sink.bytes, "HINT");
  ASSERT_GT(at, 0u);
  EXPECT_EQ(load_u64(&sink.bytes[at + 12]), 0u);
}

// A HINT larger than any track count the reader accepts is not read in: it
// is skipped as an oversized chunk, whatever its CRC says.
TEST(Hint, OneLargerThanTheTrackLimitAllowsIsSkipped) {
  StreamSpec spec;
  spec.seed = 32;
  spec.seconds = 4;
  std::vector<Track> one = {test_tracks(spec)[0]};
  std::vector<TestBlock> blocks = of_track(make_stream(spec), one[0].id);
  auto file = write_stream(one, blocks);
  const uint64_t at = chunk_at(file, "HINT");
  ASSERT_GT(at, 0u);
  // 24 more bytes: the payload of a HINT for two tracks.
  std::vector<uint8_t> bigger(file.begin(), file.begin() + long(at + 12 + 40));
  bigger.insert(bigger.end(), 24, 0);
  bigger.insert(bigger.end(), file.begin() + long(at + 12 + 40), file.end());
  store_u32(&bigger[at + 4], 64);
  reseal_chunk(bigger, at);
  MemorySource src(bigger);
  ReaderOptions one_track;
  one_track.limits.max_tracks = 1;
  Reader r(src, one_track);
  ASSERT_FALSE(r.damage().empty());
  EXPECT_EQ(r.damage()[0].offset, at);
  EXPECT_NE(r.damage()[0].message.find("HINT chunk at offset " + std::to_string(at) +
                                       " claims 64 bytes (limit 40)"),
            std::string::npos)
      << r.damage()[0].message;
  ReadBack back = read_all(bigger);
  EXPECT_EQ(back.blocks.size(), blocks.size());
}

TEST(Hint, FilesGetItStreamsOpenedForAppendingDoNot) {
  const fs::path dir = process_work_dir(fs::temp_directory_path(), "h4mk-hint");
  auto spec = three_tracks();
  auto tracks = test_tracks(spec);
  auto blocks = make_stream(spec);
  const auto in_memory = write_stream(tracks, blocks);

  const std::string path = (dir / "file.h4mk").string();
  {
    FileSink sink(path);
    EXPECT_TRUE(sink.seekable());
    write_stream_to(sink, tracks, blocks);
    sink.close();
  }
  EXPECT_EQ(read_file(path), in_memory);

  // A stream that already holds other bytes: the HINT goes where the H4MK
  // file's own bytes are.
  const std::string after = (dir / "after-prefix.h4mk").string();
  {
    std::FILE* f = std::fopen(after.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("0123456789", f);
    FileSink sink(f);
    write_stream_to(sink, tracks, blocks);
    sink.flush();
    std::fclose(f);
  }
  auto bytes = read_file(after);
  ASSERT_EQ(bytes.size(), in_memory.size() + 10);
  EXPECT_TRUE(std::equal(in_memory.begin(), in_memory.end(), bytes.begin() + 10));

  // Appending: every write goes to the end, so no going back, no HINT.
  const std::string appended = (dir / "appended.h4mk").string();
  {
    std::FILE* f = std::fopen(appended.c_str(), "ab");
    ASSERT_NE(f, nullptr);
    FileSink sink(f);
    EXPECT_FALSE(sink.seekable());
    write_stream_to(sink, tracks, blocks);
    sink.flush();
    std::fclose(f);
  }
  EXPECT_EQ(read_file(appended), write_stream_unseekable(tracks, blocks));
}

}  // namespace
}  // namespace h4mk::test
