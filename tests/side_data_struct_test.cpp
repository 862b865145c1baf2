// Registered side data to and from a program's own structs (h4mk_struct_map,
// FORMAT.md §6.1): the structs here are laid out as FFmpeg's are, in another
// member order, with enum values of their own, so only the map ties them to
// the layouts.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "h4mk/h4mk.h"
#include "h4mk/h4mk.hpp"

using namespace h4mk;

namespace {

struct Q {
  int num, den;
};

// As AVMasteringDisplayMetadata: red, green, blue; flags for what is known.
struct Mastering {
  Q primaries[3][2];
  Q white[2];
  Q min_luminance, max_luminance;
  int has_primaries, has_luminance;
};

constexpr uint32_t at(size_t offset) { return static_cast<uint32_t>(offset); }

const h4mk_member kMastering[] = {
    {"green_x", at(offsetof(Mastering, primaries[1][0])), H4MK_MEMBER_RATIONAL, 0, 0, nullptr,
     at(offsetof(Mastering, has_primaries) + 1)},
    {"green_y", at(offsetof(Mastering, primaries[1][1])), H4MK_MEMBER_RATIONAL, 0, 0, nullptr,
     at(offsetof(Mastering, has_primaries) + 1)},
    {"red_x", at(offsetof(Mastering, primaries[0][0])), H4MK_MEMBER_RATIONAL, 0, 0, nullptr,
     at(offsetof(Mastering, has_primaries) + 1)},
    {"max_luminance", at(offsetof(Mastering, max_luminance)), H4MK_MEMBER_RATIONAL, 0, 0, nullptr,
     at(offsetof(Mastering, has_luminance) + 1)},
    {"min_luminance", at(offsetof(Mastering, min_luminance)), H4MK_MEMBER_RATIONAL, 0, 0, nullptr,
     at(offsetof(Mastering, has_luminance) + 1)},
};
const h4mk_struct_map kMasteringMap = {kMastering, std::size(kMastering), nullptr, 0, nullptr};

std::vector<uint8_t> from(const char* id, const h4mk_struct_map& map, const void* s,
                          size_t entries = 0, int* status = nullptr) {
  size_t size = 0;
  int ret = h4mk_side_data_from_struct(id, &map, s, entries, nullptr, 0, &size);
  std::vector<uint8_t> out(size);
  if (ret == H4MK_OK)
    ret = h4mk_side_data_from_struct(id, &map, s, entries, out.data(), size, &size);
  if (status) *status = ret;
  return ret == H4MK_OK ? out : std::vector<uint8_t>{};
}

TEST(SideDataStruct, RationalsGoToTheLayoutsUnitsAndBack) {
  Mastering m{};
  m.primaries[1][0] = {17, 100};    // 0.17 → 8500 in units of 0.00002
  m.primaries[1][1] = {1, 3};       // 16666.67 → 16667, the nearest
  m.primaries[0][0] = {708, 1000};  // 35400
  m.max_luminance = {1000, 1};      // 10,000,000 in units of 0.0001
  m.min_luminance = {5, 100000};    // 0.5 → 1: halves away from zero
  m.has_primaries = m.has_luminance = 1;
  const std::vector<uint8_t> b = from("mdcv", kMasteringMap, &m);
  const std::vector<int64_t> v = read_side_data_values(*find_side_data_layout("mdcv"), b);
  EXPECT_EQ(v, (std::vector<int64_t>{8500, 16667, 0, 0, 35400, 0, 0, 0, 10000000, 1}));

  Mastering back{};
  ASSERT_EQ(h4mk_side_data_to_struct("mdcv", &kMasteringMap, b.data(), b.size(), &back), H4MK_OK);
  EXPECT_EQ(back.primaries[1][0].num, 8500);  // in the layout's units, as MP4 gives them
  EXPECT_EQ(back.primaries[1][0].den, 50000);
  EXPECT_EQ(back.primaries[1][1].num, 16667);
  EXPECT_EQ(back.max_luminance.num, 10000000);
  EXPECT_EQ(back.max_luminance.den, 10000);
  EXPECT_EQ(back.has_primaries, 1);
  EXPECT_EQ(back.has_luminance, 1);
}

TEST(SideDataStruct, WhatTheStructDoesNotKnowIsStoredAsZeroAndLeftUnset) {
  Mastering m{};
  m.primaries[1][0] = {17, 100};
  m.max_luminance = {1000, 1};
  m.min_luminance = {0, 1};
  m.has_luminance = 1;  // the primaries are not known: their values are not stored
  const std::vector<uint8_t> b = from("mdcv", kMasteringMap, &m);
  EXPECT_EQ(read_side_data_values(*find_side_data_layout("mdcv"), b),
            (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 10000000, 0}));
  Mastering back{};
  ASSERT_EQ(h4mk_side_data_to_struct("mdcv", &kMasteringMap, b.data(), b.size(), &back), H4MK_OK);
  EXPECT_EQ(back.has_primaries, 0);
  EXPECT_EQ(back.has_luminance, 1);
}

TEST(SideDataStruct, ARationalNoUnitHoldsIsRefused) {
  Mastering m{};
  m.has_luminance = 1;
  int status = 0;
  m.max_luminance = {1, 0};
  from("mdcv", kMasteringMap, &m, 0, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  m.max_luminance = {-1, 1};
  from("mdcv", kMasteringMap, &m, 0, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  m.max_luminance = {1000000, 1};  // 10^10 units: more than a u32
  from("mdcv", kMasteringMap, &m, 0, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
}

// As AVStereo3D, with enum values that are not the layout's order.
struct Stereo {
  int flags, type, view, primary_eye;
  uint32_t baseline;
  Q disparity;
};
enum { kSideBySide = 40, kTopBottom = 41, kInvert = 8, kPacked = 100 };
const h4mk_symbol kTypes[] = {{"top_bottom", kTopBottom}, {"side_by_side", kSideBySide}};
const h4mk_symbol kFlags[] = {{"none", 0}, {"invert", kInvert}};
const h4mk_symbol kViews[] = {{"packed", kPacked}};
const h4mk_member kStereo[] = {
    {"type", at(offsetof(Stereo, type)), H4MK_MEMBER_ENUM, 0, 2, kTypes, 0},
    {"flags", at(offsetof(Stereo, flags)), H4MK_MEMBER_ENUM, 0, 2, kFlags, 0},
    {"view", at(offsetof(Stereo, view)), H4MK_MEMBER_ENUM, 0, 1, kViews, 0},
    {"baseline", at(offsetof(Stereo, baseline)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
    {"horizontal_disparity_adjustment", at(offsetof(Stereo, disparity)), H4MK_MEMBER_RATIONAL, 0, 0,
     nullptr, 0},
};
const h4mk_struct_map kStereoMap = {kStereo, std::size(kStereo), nullptr, 0, nullptr};

TEST(SideDataStruct, EnumerationsTravelBySymbolNotByValue) {
  const Stereo s{kInvert, kTopBottom, kPacked, 0, 65, {-1, 2}};
  const std::vector<uint8_t> b = from("stereo3d", kStereoMap, &s);
  // top_bottom is the layout's 2, invert its 1; primary_eye is not mapped: 0.
  EXPECT_EQ(read_side_data_values(*find_side_data_layout("stereo3d"), b),
            (std::vector<int64_t>{2, 1, 0, 0, 65, -1, 2, 0, 0}));
  Stereo back{};
  ASSERT_EQ(h4mk_side_data_to_struct("stereo3d", &kStereoMap, b.data(), b.size(), &back), H4MK_OK);
  EXPECT_EQ(back.type, kTopBottom);
  EXPECT_EQ(back.flags, kInvert);
  EXPECT_EQ(back.view, kPacked);
  EXPECT_EQ(back.baseline, 65u);
  EXPECT_EQ(back.disparity.num, -1);
  EXPECT_EQ(back.disparity.den, 2);

  int status = 0;
  const Stereo unknown{0, 7, kPacked, 0, 0, {0, 1}};
  from("stereo3d", kStereoMap, &unknown, 0, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  // A file's symbol the program has no value for: the bytes do not load.
  const std::vector<uint8_t> columns = write_side_data_values(
      *find_side_data_layout("stereo3d"), std::vector<int64_t>{7, 0, 0, 0, 0, 0, 1, 0, 1});
  EXPECT_EQ(
      h4mk_side_data_to_struct("stereo3d", &kStereoMap, columns.data(), columns.size(), &back),
      H4MK_ERR_CORRUPT);
}

// As AVIAMFParamDefinition with its demixing subblocks after it.
struct Demixing {
  unsigned subblock_duration, dmixp_mode;
};
struct Iamf {
  unsigned nb_subblocks, parameter_id, parameter_rate, duration, constant_subblock_duration;
  Demixing subblocks[4];
};
const h4mk_member kIamf[] = {
    {"nb_subblocks", at(offsetof(Iamf, nb_subblocks)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
    {"parameter_id", at(offsetof(Iamf, parameter_id)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
    {"parameter_rate", at(offsetof(Iamf, parameter_rate)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
    {"duration", at(offsetof(Iamf, duration)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
};
const h4mk_member kDemixing[] = {
    {"subblock_duration", at(offsetof(Demixing, subblock_duration)), H4MK_MEMBER_UINT, 4, 0,
     nullptr, 0},
    {"dmixp_mode", at(offsetof(Demixing, dmixp_mode)), H4MK_MEMBER_UINT, 4, 0, nullptr, 0},
};
void* subblock(void* s, size_t i) { return &static_cast<Iamf*>(s)->subblocks[i]; }
const h4mk_struct_map kIamfMap = {kIamf, std::size(kIamf), kDemixing, std::size(kDemixing),
                                  subblock};

TEST(SideDataStruct, EntriesAreReachedThroughTheMapAndCounted) {
  Iamf p{};
  p.nb_subblocks = 2;
  p.parameter_id = 7;
  p.parameter_rate = 48000;
  p.duration = 1920;
  p.subblocks[0] = {960, 1};
  p.subblocks[1] = {960, 3};
  // The layout's header fixes type to 1 (demixing): it needs no member.
  h4mk_struct_map map = kIamfMap;
  const std::vector<uint8_t> b = from("iamf_demixing", map, &p, 2);
  ASSERT_FALSE(b.empty());
  size_t entries = 0;
  ASSERT_EQ(h4mk_side_data_entries("iamf_demixing", b.data(), b.size(), &entries), H4MK_OK);
  EXPECT_EQ(entries, 2u);
  Iamf back{};
  ASSERT_EQ(h4mk_side_data_to_struct("iamf_demixing", &map, b.data(), b.size(), &back), H4MK_OK);
  EXPECT_EQ(back.nb_subblocks, 2u);
  EXPECT_EQ(back.parameter_rate, 48000u);
  EXPECT_EQ(back.subblocks[1].dmixp_mode, 3u);
  EXPECT_EQ(back.subblocks[2].dmixp_mode, 0u);

  EXPECT_EQ(read_side_data_values(*find_side_data_layout("iamf_demixing"), b)[0], 1);

  // The header's count is the entries given: no more, no fewer.
  int status = 0;
  from("iamf_demixing", map, &p, 1, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  map.entry_at = [](void*, size_t) -> void* { return nullptr; };
  from("iamf_demixing", map, &p, 2, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(h4mk_side_data_to_struct("iamf_demixing", &map, b.data(), b.size(), &back),
            H4MK_ERR_INVALID_ARGUMENT);
  map.entry_at = nullptr;
  from("iamf_demixing", map, &p, 2, &status);
  EXPECT_EQ(status, H4MK_ERR_INVALID_ARGUMENT);
  const std::vector<uint8_t> cut(b.begin(), b.end() - 1);
  EXPECT_EQ(h4mk_side_data_entries("iamf_demixing", cut.data(), cut.size(), &entries),
            H4MK_ERR_CORRUPT);
}

TEST(SideDataStruct, AMapThatDoesNotFitItsLayoutIsRefused) {
  struct Light {
    uint8_t small;
    int32_t wide;
    Q q;
  } l{};
  auto status = [&](const char* id, h4mk_member m) {
    const h4mk_struct_map map = {&m, 1, nullptr, 0, nullptr};
    size_t size = 0;
    return h4mk_side_data_from_struct(id, &map, &l, 0, nullptr, 0, &size);
  };
  const uint32_t small = at(offsetof(Light, small)), wide = at(offsetof(Light, wide)),
                 q = at(offsetof(Light, q));
  EXPECT_EQ(status("clli", {"max_content_light_level", wide, H4MK_MEMBER_UINT, 4, 0, nullptr, 0}),
            H4MK_OK);
  EXPECT_EQ(status("clli", {"max_cll", wide, H4MK_MEMBER_UINT, 4, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // not a field of clli
  EXPECT_EQ(status("clli", {"max_content_light_level", small, H4MK_MEMBER_UINT, 1, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // a u16 does not fit one byte
  EXPECT_EQ(status("clli", {"max_content_light_level", wide, H4MK_MEMBER_UINT, 3, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status("clli", {"max_content_light_level", q, H4MK_MEMBER_RATIONAL, 0, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // no units: an integer
  EXPECT_EQ(status("clli", {"max_content_light_level", wide, H4MK_MEMBER_ENUM, 0, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(status("replay_gain", {"track_gain", wide, H4MK_MEMBER_UINT, 4, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // a signed field in an unsigned member
  EXPECT_EQ(status("replay_gain", {"track_peak", wide, H4MK_MEMBER_INT, 4, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // a u32 does not fit an int32
  EXPECT_EQ(status("replay_gain", {"track_gain", wide, H4MK_MEMBER_INT, 4, 0, nullptr, 0}),
            H4MK_OK);
  EXPECT_EQ(status("exif", {"x", wide, H4MK_MEMBER_UINT, 4, 0, nullptr, 0}),
            H4MK_ERR_INVALID_ARGUMENT);  // bytes, no fields
  EXPECT_EQ(status("not_registered", {"x", wide, H4MK_MEMBER_UINT, 4, 0, nullptr, 0}),
            H4MK_ERR_NOT_FOUND);
  EXPECT_EQ(h4mk_side_data_to_struct("clli", nullptr, nullptr, 0, &l), H4MK_ERR_INVALID_ARGUMENT);
}

TEST(SideDataStruct, UnitsNoIntRationalHoldsDoNotLoad) {
  // 4,294,967,291 × 0.0001 cd/m²: prime to 10,000 and above INT_MAX.
  std::vector<int64_t> v(10, 0);
  v[8] = 4294967291;
  const std::vector<uint8_t> b = write_side_data_values(*find_side_data_layout("mdcv"), v);
  Mastering back{};
  EXPECT_EQ(h4mk_side_data_to_struct("mdcv", &kMasteringMap, b.data(), b.size(), &back),
            H4MK_ERR_CORRUPT);
  v[8] = 4294967290;  // reduced by 10: 429,496,729 / 1,000
  const std::vector<uint8_t> even = write_side_data_values(*find_side_data_layout("mdcv"), v);
  ASSERT_EQ(h4mk_side_data_to_struct("mdcv", &kMasteringMap, even.data(), even.size(), &back),
            H4MK_OK);
  EXPECT_EQ(back.max_luminance.num, 429496729);
  EXPECT_EQ(back.max_luminance.den, 1000);
  EXPECT_EQ(from("mdcv", kMasteringMap, &back), even);
}

TEST(SideDataStruct, BytesThatDoNotFitTheLayoutDoNotLoad) {
  Mastering back{};
  const std::vector<uint8_t> short_mdcv(23, 0);
  EXPECT_EQ(
      h4mk_side_data_to_struct("mdcv", &kMasteringMap, short_mdcv.data(), short_mdcv.size(), &back),
      H4MK_ERR_CORRUPT);
  EXPECT_EQ(back.has_primaries, 0);
}

}  // namespace
