// The registered TRAK members (FORMAT.md §6.1) as values: round trips, what
// a reader leaves out of a hostile track (naming it), what a writer refuses,
// the same through the C API and a written file, and FORMAT.md's list of
// dispositions against the library's.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "h4mk/h4mk.h"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

TrackParams full_params() {
  TrackParams p;
  p.codec.bit_rate = INT64_MAX;
  p.codec.bits_per_coded_sample = 24;
  p.codec.bits_per_raw_sample = 10;
  p.codec.block_align = 4;
  p.codec.frame_size = 1024;
  p.codec.encoder_delay = 2112;
  p.codec.trailing_padding = 300;
  p.codec.seek_preroll = 3840;
  p.codec.video_delay = 2;
  p.codec.sample_aspect_ratio = Rational{64, 45};
  p.codec.field_order = FieldOrder::kTB;
  p.codec.color_range = ColorRange::kFull;
  p.codec.color_primaries = 9;
  p.codec.color_transfer = 16;
  p.codec.color_matrix = 0;
  p.codec.chroma_location = 5;
  p.disposition = H4MK_DISPOSITION_DEFAULT | H4MK_DISPOSITION_FORCED | H4MK_DISPOSITION_MULTILAYER;
  p.side_data["clli"] = {0x03, 0xE8, 0x01, 0x90};
  return p;
}

Track with_extra(const std::string& json) {
  Track t;
  t.id = 1;
  t.extra_json = json;
  return t;
}

TEST(TrackParams, RoundTripInTheRegisteredNames) {
  Track t = with_extra(R"({"ffmpeg":{"format":"yuv420p"}})");
  write_track_params(t, full_params());
  EXPECT_EQ(read_track_params(t), full_params());
  const auto j = nlohmann::json::parse(t.extra_json);
  EXPECT_EQ(j["ffmpeg"]["format"], "yuv420p");  // other members kept
  EXPECT_EQ(j["codec_params"]["sample_aspect_ratio"], nlohmann::json::array({64, 45}));
  EXPECT_EQ(j["codec_params"]["field_order"], "tb");
  EXPECT_EQ(j["codec_params"]["color"]["range"], "full");
  EXPECT_EQ(j["codec_params"]["color"]["matrix"], 0);
  EXPECT_EQ(j["codec_params"]["encoder_delay"], 2112);
  EXPECT_EQ(j["disposition"], "default+forced+multilayer");
  EXPECT_EQ(j["side_data"]["clli"], "A+gBkA==");
  write_track_params(t, {});  // an empty set removes them
  EXPECT_EQ(nlohmann::json::parse(t.extra_json),
            nlohmann::json::parse(R"({"ffmpeg":{"format":"yuv420p"}})"));
}

TEST(TrackParams, WhatDoesNotFitIsLeftOutAndNamed) {
  const Track t = with_extra(R"({
    "codec_params": {"bit_rate": 0, "frame_size": 2147483648, "block_align": "4",
                     "video_delay": 3, "sample_aspect_ratio": [1, 0],
                     "field_order": "TT", "color": {"range": "limited", "primaries": 256,
                                                    "chroma_location": 6, "matrix": 1}},
    "disposition": "default+bogus+forced",
    "side_data": {"clli": "AAA", "mdcv": "AAE=", "stereo3d": 7, "later_id": "AAAA",
                  "display_matrix": "AAAAAAAAAQAAAAAAAAD//wAAAAAAAAAAAAAAAAAAAAAAAABA"}})");
  std::vector<std::string> ignored;
  const TrackParams p = read_track_params(t, &ignored);
  EXPECT_EQ(p.codec.video_delay, 3);
  EXPECT_EQ(p.codec.color_range, ColorRange::kLimited);
  EXPECT_EQ(p.codec.color_matrix, 1);
  EXPECT_FALSE(p.codec.bit_rate || p.codec.frame_size || p.codec.block_align ||
               p.codec.sample_aspect_ratio || p.codec.field_order || p.codec.color_primaries ||
               p.codec.chroma_location);
  EXPECT_EQ(p.disposition, H4MK_DISPOSITION_DEFAULT | H4MK_DISPOSITION_FORCED);
  EXPECT_EQ(p.side_data.size(), 1u);  // display_matrix: 36 bytes
  EXPECT_TRUE(p.side_data.count("display_matrix"));
  std::string all;
  for (const std::string& m : ignored) all += m + "\n";
  for (const char* named :
       {"codec_params.bit_rate", "codec_params.frame_size", "codec_params.block_align",
        "codec_params.sample_aspect_ratio", "codec_params.field_order",
        "codec_params.color.primaries", "codec_params.color.chroma_location",
        "disposition \"bogus\"", "side_data.clli", "side_data.mdcv", "side_data.stereo3d"})
    EXPECT_NE(all.find(named), std::string::npos) << named << " in\n" << all;
  EXPECT_EQ(all.find("later_id"), std::string::npos);  // an id of a later version: silent
  EXPECT_EQ(ignored.size(), 11u) << all;
}

TEST(TrackParams, AWriterRefusesWhatItsFieldsCannotHold) {
  Track t = with_extra("");
  TrackParams p;
  p.codec.frame_size = 0;
  EXPECT_THROW(write_track_params(t, p), Error);
  p = {};
  p.codec.sample_aspect_ratio = Rational{1, int64_t(INT32_MAX) + 1};
  EXPECT_THROW(write_track_params(t, p), Error);
  p = {};
  p.codec.chroma_location = 6;
  EXPECT_THROW(write_track_params(t, p), Error);
  p = {};
  p.disposition = 1u << 19;
  EXPECT_THROW(write_track_params(t, p), Error);
  p = {};
  p.side_data["clli"] = {1, 2, 3};
  EXPECT_THROW(write_track_params(t, p), Error);
  p = {};
  p.side_data["not_registered"] = {1};
  EXPECT_THROW(write_track_params(t, p), Error);
  EXPECT_EQ(t.extra_json, "");  // nothing was written by a refused call
}

void collect(void* opaque, const char* message) {
  static_cast<std::vector<std::string>*>(opaque)->push_back(message);
}

TEST(TrackParams, TheCApiWritesAndReadsThemThroughAFile) {
  CMemoryFile file;
  h4mk_io out = file.writing();
  h4mk_writer_options wo{};
  h4mk_writer* w = nullptr;
  ASSERT_EQ(h4mk_writer_open(&w, &out, &wo), H4MK_OK);
  h4mk_track_desc d{};
  d.id = 1;
  d.kind = "video";
  d.codec = "mpeg4";
  d.time_base_num = 1;
  d.time_base_den = 25;
  ASSERT_EQ(h4mk_writer_add_track(w, &d), H4MK_OK);
  h4mk_codec_params c{};
  c.bit_rate = 800000;
  c.sample_aspect_ratio_num = 16;
  c.sample_aspect_ratio_den = 15;
  c.field_order = H4MK_FIELD_BB;
  c.color_range = 0;
  c.color_primaries = 1;
  c.color_transfer = -1;
  c.color_matrix = -1;
  c.chroma_location = -1;
  // A member of a later version: setting the registered ones keeps it.
  ASSERT_EQ(h4mk_writer_set_track_property(w, 1, "side_data.later_id", "AAAA"), H4MK_OK);
  h4mk_codec_params bad = c;
  bad.color_transfer = 300;
  EXPECT_EQ(h4mk_writer_set_track_params(w, 1, &bad, 0), H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(h4mk_writer_last_error(w)).find("color_transfer"), std::string::npos);
  ASSERT_EQ(h4mk_writer_set_track_params(w, 1, &c, H4MK_DISPOSITION_DEFAULT), H4MK_OK);
  const uint8_t clli[4] = {0x03, 0xE8, 0x01, 0x90};
  EXPECT_EQ(h4mk_writer_set_track_side_data(w, 1, "clli", clli, 3), H4MK_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(h4mk_writer_set_track_side_data(w, 1, "clli", clli, 4), H4MK_OK);
  ASSERT_EQ(h4mk_writer_set_track_property(w, 1, "codec_params.frame_size", "big"), H4MK_OK);
  h4mk_block b{};
  b.track_id = 1;
  b.type = H4MK_BLOCK_I;
  const uint8_t payload[3] = {1, 2, 3};
  b.data = payload;
  b.size = 3;
  ASSERT_EQ(h4mk_writer_write_block(w, &b), H4MK_OK);
  ASSERT_EQ(h4mk_writer_finish(w), H4MK_OK);
  h4mk_writer_free(w);

  h4mk_io in = file.reading();
  h4mk_reader* r = nullptr;
  ASSERT_EQ(h4mk_reader_open(&r, &in), H4MK_OK);
  h4mk_codec_params got{};
  unsigned disposition = 0;
  std::vector<std::string> ignored;
  ASSERT_EQ(h4mk_reader_track_params(r, 0, &got, &disposition, collect, &ignored), H4MK_OK);
  EXPECT_EQ(got.bit_rate, 800000);
  EXPECT_EQ(got.sample_aspect_ratio_num, 16);
  EXPECT_EQ(got.sample_aspect_ratio_den, 15);
  EXPECT_EQ(got.field_order, H4MK_FIELD_BB);
  EXPECT_EQ(got.color_range, 0);
  EXPECT_EQ(got.color_primaries, 1);
  EXPECT_EQ(got.color_transfer, -1);
  EXPECT_EQ(got.frame_size, 0);
  EXPECT_EQ(disposition, H4MK_DISPOSITION_DEFAULT);
  ASSERT_EQ(ignored.size(), 1u);
  EXPECT_NE(ignored[0].find("codec_params.frame_size"), std::string::npos);
  const uint8_t* sd = nullptr;
  size_t sd_size = 0;
  ASSERT_EQ(h4mk_reader_track_side_data(r, 0, "clli", &sd, &sd_size), H4MK_OK);
  EXPECT_EQ(std::vector<uint8_t>(sd, sd + sd_size), std::vector<uint8_t>(clli, clli + 4));
  EXPECT_EQ(h4mk_reader_track_side_data(r, 0, "mdcv", &sd, &sd_size), H4MK_ERR_NOT_FOUND);
  const char* later = nullptr;
  ASSERT_EQ(h4mk_reader_track_property(r, 0, "side_data.later_id", &later), H4MK_OK);
  EXPECT_STREQ(later, "AAAA");
  EXPECT_EQ(h4mk_reader_track_params(r, 1, &got, nullptr, nullptr, nullptr),
            H4MK_ERR_INVALID_ARGUMENT);
  h4mk_reader_free(r);
}

TEST(TrackParams, FormatMdListsTheSameDispositions) {
  const std::string doc = format_md();
  const size_t from = doc.find("**`disposition`**");
  const size_t to = doc.find("**`array`**", from);
  ASSERT_NE(from, std::string::npos);
  ASSERT_NE(to, std::string::npos);
  const std::string list = doc.substr(from, to - from);
  std::vector<std::string> in_doc;
  for (size_t at = list.find("`", list.find("readers ignore names")); at != std::string::npos;
       at = list.find("`", at + 1)) {
    const size_t end = list.find("`", at + 1);
    in_doc.push_back(list.substr(at + 1, end - at - 1));
    at = end;
  }
  std::vector<std::string> in_library(std::begin(kDispositionNames), std::end(kDispositionNames));
  std::sort(in_doc.begin(), in_doc.end());
  std::sort(in_library.begin(), in_library.end());
  EXPECT_EQ(in_doc, in_library);
}

}  // namespace
}  // namespace h4mk::test
