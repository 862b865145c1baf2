// Text a C API writer is given that is not UTF-8: refused by default, or
// (replace_invalid_utf8) stored with U+FFFD where it was invalid, each
// replacement told through the warn callback naming the text, and read back
// from the written file as stored.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "h4mk/h4mk.h"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

void collect(void* opaque, const char* message) {
  static_cast<std::vector<std::string>*>(opaque)->push_back(message);
}

const char kLatin1[] = "Caf\xE9 \xE0 la carte";  // two bytes that are not UTF-8
const char kRepaired[] = "Caf\xEF\xBF\xBD \xEF\xBF\xBD la carte";
const char kValid[] = "\xEF\xBF\xBD already here, and \xC3\xA9";  // kept as it is

h4mk_track_desc video_track(const char* name) {
  h4mk_track_desc d{};
  d.id = 7;
  d.kind = "video";
  d.codec = "mpeg4";
  d.time_base_num = 1;
  d.time_base_den = 25;
  d.name = name;
  return d;
}

TEST(WriterText, TextThatIsNotUtf8IsRefusedByDefault) {
  CMemoryFile file;
  h4mk_io out = file.writing();
  h4mk_writer* w = nullptr;
  ASSERT_EQ(h4mk_writer_open(&w, &out, nullptr), H4MK_OK);
  EXPECT_EQ(h4mk_writer_set_metadata(w, "title", kLatin1), H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(h4mk_writer_last_error(w)).find("not valid UTF-8"), std::string::npos);
  const h4mk_track_desc d = video_track(kLatin1);
  EXPECT_EQ(h4mk_writer_add_track(w, &d), H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(h4mk_writer_set_note(w, kLatin1), H4MK_ERR_INVALID_ARGUMENT);
  h4mk_writer_free(w);
}

TEST(WriterText, ReplacedTextIsStoredToldAndReadBack) {
  CMemoryFile file;
  h4mk_io out = file.writing();
  std::vector<std::string> told;
  h4mk_writer_options wo{};
  wo.replace_invalid_utf8 = 1;
  wo.warn = collect;
  wo.warn_opaque = &told;
  h4mk_writer* w = nullptr;
  ASSERT_EQ(h4mk_writer_open(&w, &out, &wo), H4MK_OK);
  h4mk_track_desc d = video_track(kLatin1);
  d.language = kValid;
  ASSERT_EQ(h4mk_writer_add_track(w, &d), H4MK_OK);
  ASSERT_EQ(h4mk_writer_set_track_tag(w, 7, "comment", kLatin1), H4MK_OK);
  ASSERT_EQ(h4mk_writer_set_metadata(w, kLatin1, kValid), H4MK_OK);
  ASSERT_EQ(h4mk_writer_set_note(w, kLatin1), H4MK_OK);
  h4mk_chapter c{};
  c.time_base_num = 1;
  c.time_base_den = 1000;
  c.title = kLatin1;
  ASSERT_EQ(h4mk_writer_add_chapter(w, &c), H4MK_OK);
  ASSERT_EQ(h4mk_writer_set_chapter_tag(w, 0, "artist", kLatin1), H4MK_OK);
  h4mk_block b{};
  b.track_id = 7;
  b.type = H4MK_BLOCK_I;
  const uint8_t payload[1] = {1};
  b.data = payload;
  b.size = 1;
  ASSERT_EQ(h4mk_writer_write_block(w, &b), H4MK_OK);
  ASSERT_EQ(h4mk_writer_finish(w), H4MK_OK);
  h4mk_writer_free(w);

  // One message per replaced text, naming it; valid text (even one holding
  // U+FFFD) is not reported.
  const std::vector<std::string> expected = {
      "track 7 name is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
      "track 7 tag 'comment' is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
      "metadata key is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
      "NOTE is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
      "chapter title is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
      "chapter #0 tag 'artist' is not valid UTF-8: 2 invalid sequences stored as U+FFFD",
  };
  EXPECT_EQ(told, expected);

  h4mk_io in = file.reading();
  h4mk_reader* r = nullptr;
  ASSERT_EQ(h4mk_reader_open(&r, &in), H4MK_OK);
  h4mk_track_info ti{};
  ASSERT_EQ(h4mk_reader_track_info(r, 0, &ti), H4MK_OK);
  EXPECT_STREQ(ti.name, kRepaired);
  EXPECT_STREQ(ti.language, kValid);
  const char *key = nullptr, *value = nullptr;
  ASSERT_EQ(h4mk_reader_track_tag(r, 0, 0, &key, &value), H4MK_OK);
  EXPECT_STREQ(key, "comment");
  EXPECT_STREQ(value, kRepaired);
  ASSERT_EQ(h4mk_reader_metadata(r, 0, &key, &value), H4MK_OK);
  EXPECT_STREQ(key, kRepaired);
  EXPECT_STREQ(value, kValid);
  EXPECT_STREQ(h4mk_reader_note(r), kRepaired);
  h4mk_chapter got{};
  ASSERT_EQ(h4mk_reader_chapter(r, 0, &got), H4MK_OK);
  EXPECT_STREQ(got.title, kRepaired);
  ASSERT_EQ(h4mk_reader_chapter_tag(r, 0, 0, &key, &value), H4MK_OK);
  EXPECT_STREQ(value, kRepaired);
  h4mk_reader_free(r);
}

}  // namespace
}  // namespace h4mk::test
