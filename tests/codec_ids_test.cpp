// The codec ids libh4mk registers are those of docs/FORMAT.md §6.2.
#include "h4mk/codec_ids.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "h4mk/h4mk.h"
#include "test_util.hpp"

using namespace h4mk;

TEST(CodecIds, AreTheTableOfFormatMd) {
  const std::set<std::string> in_doc =
      h4mk::test::format_md_table_ids("| id | codec |", "A codec this table does not list");
  std::set<std::string> in_library;
  for (std::string_view c : registered_codec_ids()) in_library.insert(std::string(c));
  EXPECT_EQ(in_doc.size(), 54u);
  EXPECT_EQ(in_doc, in_library);
  EXPECT_EQ(in_library.size(), registered_codec_ids().size());  // no id twice
}

TEST(CodecIds, OnlyTheExactIdIsRegistered) {
  for (std::string_view c : registered_codec_ids()) {
    EXPECT_TRUE(is_registered_codec(c)) << c;
    EXPECT_EQ(h4mk_codec_is_registered(std::string(c).c_str()), 1) << c;
  }
  for (const char* other :
       {"", "H264", "h264 ", "ffmpeg.pcm_s8", "ffmpeg.h264", "pcm", "h4core_audio"}) {
    EXPECT_FALSE(is_registered_codec(other)) << other;
    EXPECT_EQ(h4mk_codec_is_registered(other), 0) << other;
  }
  EXPECT_EQ(h4mk_codec_is_registered(nullptr), 0);
}
