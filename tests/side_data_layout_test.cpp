// The registered side data layouts (FORMAT.md §6.1): sizes as the table
// gives them, bytes written out by hand from its text, the values each check
// refuses, and the table in FORMAT.md naming the same ids as the library.
#include <gtest/gtest.h>

#include <random>
#include <regex>
#include <set>
#include <string>

#include "h4mk/h4mk.h"
#include "h4mk/h4mk.hpp"
#include "test_util.hpp"

using namespace h4mk;

namespace {

const SideDataLayout& layout(std::string_view id) {
  const SideDataLayout* l = find_side_data_layout(id);
  if (!l) throw std::runtime_error("not registered: " + std::string(id));
  return *l;
}

std::vector<uint8_t> write(std::string_view id, std::vector<int64_t> v) {
  return write_side_data_values(layout(id), v);
}

std::vector<int64_t> read(std::string_view id, std::vector<uint8_t> b) {
  return read_side_data_values(layout(id), b);
}

ErrorCode read_error(std::string_view id, std::vector<uint8_t> b) {
  try {
    check_side_data(layout(id), b);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kOk;
}

ErrorCode write_error(std::string_view id, std::vector<int64_t> v) {
  try {
    write(id, v);
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::kOk;
}

}  // namespace

TEST(SideDataLayout, FixedLayoutsHaveTheSizesOfTheTable) {
  const std::pair<const char*, size_t> sizes[] = {{"skip_samples", 10},
                                                  {"subtitle_position", 16},
                                                  {"frame_cropping", 16},
                                                  {"jp_dualmono", 1},
                                                  {"afd", 1},
                                                  {"mdcv", 24},
                                                  {"clli", 4},
                                                  {"dvcc", 24},
                                                  {"palette", 1024},
                                                  {"replay_gain", 16},
                                                  {"display_matrix", 36},
                                                  {"stereo3d", 36},
                                                  {"audio_service_type", 4},
                                                  {"fallback_track", 4},
                                                  {"cpb_properties", 40},
                                                  {"spherical", 36},
                                                  {"producer_reference_time", 16},
                                                  {"s12m_timecode", 16},
                                                  {"ambient_viewing_environment", 24},
                                                  {"rtcp_sr", 32}};
  for (const auto& [id, size] : sizes) {
    const SideDataLayout& l = layout(id);
    const std::vector<int64_t> zeros(side_data_header_values(l), 0);
    EXPECT_EQ(write_side_data_values(l, zeros).size(), size) << id;
    EXPECT_EQ(read_error(id, std::vector<uint8_t>(size)), ErrorCode::kOk) << id;
    EXPECT_EQ(read_error(id, std::vector<uint8_t>(size + 1)), ErrorCode::kCorrupt) << id;
    EXPECT_EQ(read_error(id, std::vector<uint8_t>(size - 1)), ErrorCode::kCorrupt) << id;
  }
}

TEST(SideDataLayout, MdcvAndClliAreTheBoxesBigEndianGreenFirst) {
  // green (1,2), blue (3,4), red (5,6), white (7,8), max 0x01020304, min 9
  const std::vector<uint8_t> box = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6,
                                    0, 7, 0, 8, 1, 2, 3, 4, 0, 0, 0, 9};
  EXPECT_EQ(read("mdcv", box), (std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 0x01020304, 9}));
  EXPECT_EQ(write("mdcv", {1, 2, 3, 4, 5, 6, 7, 8, 0x01020304, 9}), box);
  EXPECT_EQ(layout("mdcv").fields[0].name, "green_x");
  EXPECT_EQ(layout("mdcv").fields[0].scale, 50000u);
  EXPECT_EQ(layout("mdcv").fields[8].scale, 10000u);
  EXPECT_EQ(write("clli", {1000, 400}), (std::vector<uint8_t>{0x03, 0xE8, 0x01, 0x90}));
  EXPECT_EQ(write_error("clli", {70000, 400}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(write_error("mdcv", {65536, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ErrorCode::kInvalidArgument);
}

TEST(SideDataLayout, DvccBitFieldsAreBigEndianAndReservedBitsIgnored) {
  // profile 8, level 9, rpu 1, el 0, bl 1, compatibility 4, compression 0
  const uint16_t bits = 8 << 9 | 9 << 3 | 1 << 2 | 0 << 1 | 1;
  std::vector<uint8_t> record(24);
  record[0] = 1;
  record[1] = 0;
  record[2] = bits >> 8;
  record[3] = bits & 0xFF;
  record[4] = 4 << 4 | 0 << 2;
  EXPECT_EQ(write("dvcc", {1, 0, 8, 9, 1, 0, 1, 4, 0}), record);
  record[5] = 0xFF;   // reserved bits
  record[23] = 0xFF;  // reserved bytes
  EXPECT_EQ(read("dvcc", record), (std::vector<int64_t>{1, 0, 8, 9, 1, 0, 1, 4, 0}));
  EXPECT_EQ(write_error("dvcc", {1, 0, 128, 9, 1, 0, 1, 4, 0}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(write_error("dvcc", {1, 0, 8, 64, 1, 0, 1, 4, 0}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(write_error("dvcc", {1, 0, 8, 9, 2, 0, 1, 4, 0}), ErrorCode::kInvalidArgument);
}

TEST(SideDataLayout, EnumerationsTakeOnlyTheirListedValues) {
  // stereo3d: type 8 (unspecified) is the last listed value, 9 is not
  std::vector<int64_t> v = {8, 1, 3, 2, 65, -1, 2, 90, 1};
  const std::vector<uint8_t> b = write("stereo3d", v);
  EXPECT_EQ(b[0], 8);
  EXPECT_EQ(b[20], 0xFF);  // the disparity's num, -1, little-endian
  EXPECT_EQ(read("stereo3d", b), v);
  v[0] = 9;
  EXPECT_EQ(write_error("stereo3d", v), ErrorCode::kInvalidArgument);
  std::vector<uint8_t> bad = b;
  bad[0] = 9;
  EXPECT_EQ(read_error("stereo3d", bad), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("audio_service_type", {9, 0, 0, 0}), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("audio_service_type", {8, 0, 0, 0}), ErrorCode::kOk);
  EXPECT_EQ(read_error("spherical",
                       std::vector<uint8_t>{7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
            ErrorCode::kCorrupt);
}

TEST(SideDataLayout, SignedAndSixtyFourBitFieldsKeepTheirValues) {
  const std::vector<int64_t> cpb = {INT64_MAX, -1, 0, 1, -1 /* vbv_delay UINT64_MAX */};
  EXPECT_EQ(read("cpb_properties", write("cpb_properties", cpb)), cpb);
  const std::vector<int64_t> gain = {INT32_MIN, 0xFFFFFFFFll, INT32_MAX, 0};
  EXPECT_EQ(read("replay_gain", write("replay_gain", gain)), gain);
  EXPECT_EQ(write_error("replay_gain", {INT32_MIN - 1ll, 0, 0, 0}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(write_error("replay_gain", {0, -1, 0, 0}), ErrorCode::kInvalidArgument);
  // rtcp_sr: reserved bytes are written 0 and skipped
  const std::vector<uint8_t> sr = write("rtcp_sr", {1, 0x0102030405060708ll, 2, 3, 4});
  ASSERT_EQ(sr.size(), 32u);
  EXPECT_EQ(sr[4], 0);
  EXPECT_EQ(sr[8], 8);
  EXPECT_EQ(sr[15], 1);
}

TEST(SideDataLayout, EntriesAreCountedByTheHeaderOrBySize) {
  // IAMF demixing: type 1, two subblocks
  const std::vector<int64_t> demix = {1, 2, 7, 48000, 960, 480, 480, 3, 480, 4};
  const std::vector<uint8_t> b = write("iamf_demixing", demix);
  EXPECT_EQ(b.size(), 24u + 2 * 8);
  EXPECT_EQ(read("iamf_demixing", b), demix);
  std::vector<uint8_t> short_one(b.begin(), b.end() - 8);
  EXPECT_EQ(read_error("iamf_demixing", short_one), ErrorCode::kCorrupt);
  std::vector<uint8_t> wrong_type = b;
  wrong_type[0] = 0;
  EXPECT_EQ(read_error("iamf_demixing", wrong_type), ErrorCode::kCorrupt);
  EXPECT_EQ(write_error("iamf_demixing", {1, 3, 7, 48000, 960, 480, 480, 3, 480, 4}),
            ErrorCode::kInvalidArgument);
  // recon gain: 76-byte subblocks
  std::vector<int64_t> recon = {2, 1, 0, 0, 0, 0, 10};
  recon.resize(7 + 72, 200);
  EXPECT_EQ(write("iamf_recon_gain", recon).size(), 24u + 76);
  // 3D reference displays: u8 count in the header
  std::vector<uint8_t> tdrdi = {31, 1, 2, 1, 1, 0, 2, 0, 3, 4, 5, 6, 1, 0xEE, 0xFE, 0xFF};
  EXPECT_EQ(read("ref_displays_3d", tdrdi),
            (std::vector<int64_t>{31, 1, 2, 1, 1, 2, 3, 4, 5, 6, 1, -2}));
  tdrdi[3] = 2;
  EXPECT_EQ(read_error("ref_displays_3d", tdrdi), ErrorCode::kCorrupt);
  // h263 macroblocks: n × 12 bytes, n from the size
  EXPECT_EQ(read("h263_mb_info", std::vector<uint8_t>(24)).size(), 16u);
  EXPECT_EQ(read_error("h263_mb_info", std::vector<uint8_t>(13)), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("h263_mb_info", {}), ErrorCode::kOk);
}

TEST(SideDataLayout, OpaqueLayoutsAreCheckedBySizeAndFlags) {
  EXPECT_EQ(read_error("a53_cc", std::vector<uint8_t>(6)), ErrorCode::kOk);
  EXPECT_EQ(read_error("a53_cc", std::vector<uint8_t>(7)), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("matroska_block_additional", std::vector<uint8_t>(7)), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("param_change", {4, 0, 0, 0, 0x80, 0xBB, 0, 0}), ErrorCode::kOk);
  EXPECT_EQ(read_error("param_change", {12, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}),
            ErrorCode::kOk);
  EXPECT_EQ(read_error("param_change", {4, 0, 0, 0}), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("param_change", {1, 0, 0, 0}), ErrorCode::kCorrupt);
  EXPECT_EQ(read_error("hdr10plus", {}), ErrorCode::kOk);  // T.35: the parser decides
  EXPECT_THROW(read("icc_profile", {1, 2}), Error);        // no fields to give
}

TEST(SideDataLayout, EveryFieldLayoutRoundTripsRandomValues) {
  std::mt19937_64 rng(7);
  for (const SideDataLayout& l : side_data_layouts()) {
    if (l.kind != SideDataKind::kFields) continue;
    const size_t entries = l.entry.empty() ? 0 : 3;
    for (int round = 0; round < 20; ++round) {
      // Fill each value with a random one its field holds.
      std::vector<int64_t> v;
      auto fill = [&](std::span<const SideDataField> fields) {
        for (const SideDataField& f : fields) {
          const size_t n =
              f.type == SideDataFieldType::kRational ? 2 * f.count
              : f.type == SideDataFieldType::kReserved || f.type == SideDataFieldType::kReservedBits
                  ? 0
              : f.type == SideDataFieldType::kBits ? 1
                                                   : f.count;
          for (size_t k = 0; k < n; ++k) {
            int64_t x = int64_t(rng());
            using T = SideDataFieldType;
            if (f.fixed >= 0)
              x = f.fixed;
            else if (!f.symbols.empty())
              x = int64_t(uint64_t(x) % f.symbols.size());
            else if (f.type == T::kU8)
              x &= 0xFF;
            else if (f.type == T::kU16)
              x &= 0xFFFF;
            else if (f.type == T::kU32)
              x &= 0xFFFFFFFF;
            else if (f.type == T::kI16)
              x = int16_t(x);
            else if (f.type == T::kI32 || f.type == T::kRational)
              x = int32_t(x);
            else if (f.type == T::kBits)
              x &= (int64_t{1} << f.count) - 1;
            v.push_back(x);
          }
        }
      };
      fill(l.fields);
      if (l.count_field >= 0) v[size_t(l.count_field)] = int64_t(entries);
      for (size_t e = 0; e < entries; ++e) fill(l.entry);
      const std::vector<uint8_t> b = write_side_data_values(l, v);
      EXPECT_EQ(read_side_data_values(l, b), v) << l.id;
    }
  }
}

TEST(SideDataLayout, TheCApiChecksReadsAndWrites) {
  const uint8_t clli[4] = {0x03, 0xE8, 0x01, 0x90};
  EXPECT_EQ(h4mk_side_data_check("clli", 4, clli, 4), H4MK_OK);
  EXPECT_EQ(h4mk_side_data_check("clli", 4, clli, 3), H4MK_ERR_CORRUPT);
  EXPECT_EQ(h4mk_side_data_check("cll", 3, clli, 4), H4MK_ERR_NOT_FOUND);
  EXPECT_EQ(h4mk_side_data_check(nullptr, 0, clli, 4), H4MK_ERR_NOT_FOUND);
  size_t count = 0;
  EXPECT_EQ(h4mk_side_data_read_values("clli", 4, clli, 4, nullptr, 0, &count), H4MK_OK);
  EXPECT_EQ(count, 2u);
  int64_t v[2] = {};
  EXPECT_EQ(h4mk_side_data_read_values("clli", 4, clli, 4, v, 2, &count), H4MK_OK);
  EXPECT_EQ(v[0], 1000);
  EXPECT_EQ(v[1], 400);
  uint8_t out[4] = {};
  size_t size = 0;
  EXPECT_EQ(h4mk_side_data_write_values("clli", 4, v, 2, out, 4, &size), H4MK_OK);
  EXPECT_EQ(size, 4u);
  EXPECT_EQ(0, memcmp(out, clli, 4));
  v[0] = 70000;
  EXPECT_EQ(h4mk_side_data_write_values("clli", 4, v, 2, out, 4, &size), H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(h4mk_side_data_read_values("exif", 4, clli, 4, v, 2, &count),
            H4MK_ERR_INVALID_ARGUMENT);
}

TEST(SideDataLayout, FormatMdRegistersTheSameIds) {
  const std::set<std::string> in_doc =
      h4mk::test::format_md_table_ids("**`side_data`**", "A reader hands a value on only");
  std::set<std::string> in_library;
  for (const SideDataLayout& l : side_data_layouts()) in_library.insert(std::string(l.id));
  EXPECT_FALSE(in_doc.empty());
  EXPECT_EQ(in_doc, in_library);
}

TEST(SideDataLayout, ValuesAsJsonNameFieldsSymbolsAndEntries) {
  EXPECT_EQ(side_data_values_json(layout("clli"), std::vector<uint8_t>{0x03, 0xE8, 0x01, 0x90}),
            R"({"max_content_light_level":1000,"max_pic_average_light_level":400})");
  const std::vector<uint8_t> stereo = write("stereo3d", {1, 1, 2, 0, 65, -1, 2, 90, 1});
  EXPECT_EQ(side_data_values_json(layout("stereo3d"), stereo),
            R"({"type":"side_by_side","flags":"invert","view":"right","primary_eye":"none",)"
            R"("baseline":65,"horizontal_disparity_adjustment":[-1,2],)"
            R"("horizontal_field_of_view":[90,1]})");
  const std::vector<uint8_t> cpb = write("cpb_properties", {1, 2, 3, 4, -1});
  EXPECT_NE(side_data_values_json(layout("cpb_properties"), cpb)
                .find(R"("vbv_delay":18446744073709551615)"),
            std::string::npos);
  const std::vector<uint8_t> demix = write("iamf_demixing", {1, 1, 7, 48000, 960, 960, 960, 2});
  EXPECT_NE(side_data_values_json(layout("iamf_demixing"), demix)
                .find(R"("entries":[{"subblock_duration":960,"dmixp_mode":2}])"),
            std::string::npos);
  EXPECT_THROW(side_data_values_json(layout("clli"), std::vector<uint8_t>{1}), Error);
}
