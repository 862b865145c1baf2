// A track's picture expected as an attachment (Writer::expect_attachment):
// blocks that come before it are held, within a bound, and it is stored
// before the first block; past the bound, or when it never comes, nothing
// is lost, and a late picture is refused loudly.
#include <gtest/gtest.h>

#include <functional>

#include "h4mk/h4mk.h"
#include "h4mk/h4mk.hpp"

namespace h4mk::test {
namespace {

Track track(uint16_t id, TrackKind kind) {
  Track t;
  t.id = id;
  t.kind = kind;
  t.codec = kind == TrackKind::kVideo ? "png" : "flac";
  return t;
}

Attachment picture() { return {"cover.png", "image/png", "", 2, {0x89, 'P', 'N', 'G'}}; }

// An audio track 1 and a video track 2 whose picture is expected.
void expecting_picture(Writer& w) {
  w.add_track(track(1, TrackKind::kAudio));
  w.add_track(track(2, TrackKind::kVideo));
  w.expect_attachment(2);
}

BlockInfo audio_block(int64_t at) {
  return {.track_id = 1, .type = BlockType::kI, .pts = at, .dts = at, .duration = 1};
}

// n audio blocks of `bytes` bytes, from time `from` on.
void write_audio(Writer& w, int from, int n, size_t bytes) {
  const std::vector<uint8_t> payload(bytes, 1);
  for (int i = from; i < from + n; ++i) w.write_block(audio_block(i), payload);
}

struct ReadBack {
  std::vector<Attachment> attachments;
  size_t blocks = 0;
};

ReadBack read_back(const std::vector<uint8_t>& file) {
  MemorySource src(file);
  Reader r(src);
  ReadBack out{r.attachments()};
  Block b;
  while (r.next(b) == ReadEvent::kBlock) ++out.blocks;
  return out;
}

TEST(ExpectedPicture, BlocksBeforeItAreHeldAndItIsStoredFirst) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  write_audio(w, 0, 10, 100);
  EXPECT_EQ(sink.bytes().size(), 0u);  // held: nothing written yet
  w.add_attachment(picture());
  write_audio(w, 10, 1, 100);
  w.finish();
  const ReadBack r = read_back(sink.bytes());
  ASSERT_EQ(r.attachments.size(), 1u);
  EXPECT_EQ(r.attachments[0], picture());
  EXPECT_EQ(r.blocks, 11u);
}

TEST(ExpectedPicture, AHeldBlockFixesTheTracksButNotThePicture) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  write_audio(w, 0, 1, 100);  // held
  auto refused = [&](const char* what, const std::function<void()>& call) {
    try {
      call();
      ADD_FAILURE() << what << " after a held block";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kBadState) << e.what();
      EXPECT_NE(std::string(e.what()).find("before the first block"), std::string::npos);
    }
  };
  Track renamed = *w.track(1);
  renamed.name = "renamed";
  refused("replace_track", [&] { w.replace_track(renamed); });
  refused("add_track", [&] { w.add_track(track(3, TrackKind::kAudio)); });
  refused("set_mask_key", [&] { w.set_mask_key(1, MaskKey{}); });
  w.add_attachment(picture());  // what is held waits for
  w.finish();
  const ReadBack r = read_back(sink.bytes());
  EXPECT_EQ(r.attachments.size(), 1u);
  EXPECT_EQ(r.blocks, 1u);
}

TEST(ExpectedPicture, PastTheBoundBlocksAreWrittenAndALatePictureIsRefused) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  write_audio(w, 0, 256, 10);
  EXPECT_EQ(sink.bytes().size(), 0u);
  write_audio(w, 256, 1, 10);  // the 257th: the bound is reached
  EXPECT_GT(sink.bytes().size(), 0u);
  try {
    w.add_attachment(picture());
    FAIL() << "a picture after the first block was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kBadState);
  }
  w.finish();
  const ReadBack r = read_back(sink.bytes());
  EXPECT_TRUE(r.attachments.empty());
  EXPECT_EQ(r.blocks, 257u);
}

TEST(ExpectedPicture, ABigBlockReachesTheByteBound) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  w.write_block(audio_block(0), std::vector<uint8_t>(16 << 20, 1));  // exactly the bound: held
  EXPECT_EQ(sink.bytes().size(), 0u);
  w.write_block(audio_block(1), std::vector<uint8_t>(1, 1));
  EXPECT_GT(sink.bytes().size(), 16u << 20);
  w.finish();
  EXPECT_EQ(read_back(sink.bytes()).blocks, 2u);
}

TEST(ExpectedPicture, APictureThatNeverComesLosesNoBlock) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  EXPECT_THROW(w.expect_attachment(3), Error);  // not declared
  write_audio(w, 0, 5, 3);
  w.finish();
  EXPECT_EQ(read_back(sink.bytes()).blocks, 5u);
}

TEST(ExpectedPicture, AHeldBlockThatIsRefusedFailsTheWriterLoudly) {
  MemorySink sink;
  Writer w(sink);
  expecting_picture(w);
  w.write_block(audio_block(5), std::vector<uint8_t>(3, 1));
  w.write_block(audio_block(4), std::vector<uint8_t>(3, 1));  // dts goes back: held unchecked
  EXPECT_THROW(w.add_attachment(picture()), Error);
  EXPECT_THROW(w.finish(), Error);  // failed: no file that silently lacks the block
}

// The C API, as the FFmpeg muxer calls it: tracks and the expectation are
// pending until the first block, the picture comes after it.
TEST(ExpectedPicture, TheCApiHoldsUntilThePictureComes) {
  struct Out {
    std::vector<uint8_t> bytes;
  } out;
  h4mk_io io{};
  io.opaque = &out;
  io.write = [](void* o, const uint8_t* data, size_t size) -> int64_t {
    auto& v = static_cast<Out*>(o)->bytes;
    v.insert(v.end(), data, data + size);
    return int64_t(size);
  };
  h4mk_writer* w = nullptr;
  ASSERT_EQ(h4mk_writer_open(&w, &io, nullptr), H4MK_OK);
  h4mk_track_desc a{}, v{};
  a.id = 1;
  a.kind = "audio";
  a.codec = "flac";
  a.time_base_num = 1;
  a.time_base_den = 1000;
  v = a;
  v.id = 2;
  v.kind = "video";
  v.codec = "png";
  ASSERT_EQ(h4mk_writer_add_track(w, &a), H4MK_OK);
  ASSERT_EQ(h4mk_writer_add_track(w, &v), H4MK_OK);
  EXPECT_EQ(h4mk_writer_expect_attachment(w, 9), H4MK_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(h4mk_writer_expect_attachment(w, 2), H4MK_OK);
  const uint8_t data[3] = {1, 2, 3};
  h4mk_block b{};
  b.track_id = 1;
  b.type = H4MK_BLOCK_I;
  b.duration = 1;
  b.data = data;
  b.size = sizeof(data);
  ASSERT_EQ(h4mk_writer_write_block(w, &b), H4MK_OK);
  EXPECT_TRUE(out.bytes.empty());
  const uint8_t png[4] = {0x89, 'P', 'N', 'G'};
  h4mk_attachment pic{};
  pic.filename = "cover.png";
  pic.mimetype = "image/png";
  pic.track_id = 2;
  pic.data = png;
  pic.size = sizeof(png);
  ASSERT_EQ(h4mk_writer_add_attachment(w, &pic), H4MK_OK) << h4mk_writer_last_error(w);
  ASSERT_EQ(h4mk_writer_finish(w), H4MK_OK);
  h4mk_writer_free(w);
  const ReadBack r = read_back(out.bytes);
  ASSERT_EQ(r.attachments.size(), 1u);
  EXPECT_EQ(r.attachments[0].track, 2);
  EXPECT_EQ(r.blocks, 1u);
}

}  // namespace
}  // namespace h4mk::test
