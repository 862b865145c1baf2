// TSEK payloads (FORMAT.md §10): entries as LEB128 steps, each value in one
// form, and every way a hostile table can lie refused before it costs memory.
#include "../libh4mk/src/seek_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "../libh4mk/src/byte_order.hpp"
#include "h4mk/error.hpp"

namespace h4mk::test {
namespace {

using detail::decode_seek_table;
using detail::encode_seek_table;
using detail::SeekTable;

// Header for `count` entries, `entries` as given, a summary of zeros.
std::vector<uint8_t> payload(uint32_t count, std::vector<uint8_t> entries) {
  std::vector<uint8_t> p(12 + entries.size() + 24);
  detail::store_u32(p.data(), 0x53543448);  // "H4TS"
  detail::store_u16(p.data() + 4, 1);
  detail::store_u32(p.data() + 8, count);
  std::copy(entries.begin(), entries.end(), p.begin() + 12);
  return p;
}

std::string error_of(const std::vector<uint8_t>& p) {
  try {
    decode_seek_table(p, 500);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kCorrupt);
    EXPECT_EQ(e.offset(), 500u);
    return e.what();
  }
  ADD_FAILURE() << "decoded";
  return "";
}

TEST(SeekTable, EntriesAreStepsFromTheOneBefore) {
  SeekTable t;
  t.track_id = 7;
  t.entries = {{-90000, 200}, {-45000, 1200}, {-45000, 1300}, {45000, 301200}};
  t.summary = {40, -90000, 60000};
  const auto bytes = encode_seek_table(t);
  // zigzag(-90000) = 179999 (3 bytes), 200 (2); 45000 (3), 1000 (2); 0, 100;
  // 90000 (3), 299900 (3).
  EXPECT_EQ(bytes.size(), 12u + 5 + 5 + 2 + 6 + 24);
  const SeekTable back = decode_seek_table(bytes, 1 << 30);
  EXPECT_EQ(back.track_id, 7);
  EXPECT_EQ(back.entries, t.entries);
  EXPECT_EQ(back.summary.block_count, 40u);
  EXPECT_EQ(back.summary.start_pts, -90000);
  EXPECT_EQ(back.summary.end_pts, 60000);

  // The extremes of both fields.
  t.entries = {{std::numeric_limits<int64_t>::min(), 1},
               {std::numeric_limits<int64_t>::max(), std::numeric_limits<uint64_t>::max()}};
  EXPECT_EQ(decode_seek_table(encode_seek_table(t), 1 << 30).entries, t.entries);
}

TEST(SeekTable, AHostileTableIsRefusedWithWhereAndWhy) {
  // A count the payload cannot hold, or more entries than CORE chunks fit
  // before the TSEK (at 500: 17): refused before any allocation.
  EXPECT_NE(error_of(payload(0xffffffff, {0, 1})).find("does not fit"), std::string::npos);
  EXPECT_NE(error_of(payload(18, std::vector<uint8_t>(36, 28))).find("does not fit"),
            std::string::npos);
  EXPECT_NO_THROW(decode_seek_table(payload(17, std::vector<uint8_t>(34, 28)), 500));
  EXPECT_NE(error_of(payload(2, {0, 1, 0, 0x80})).find("entry 1 is not two LEB128"),
            std::string::npos);
  // 0x80 0x00 is 0 in two bytes: not the shortest form.
  EXPECT_NE(error_of(payload(1, {0x80, 0x00, 1})).find("shortest form"), std::string::npos);
  // An offset that does not step past a CORE chunk, or passes 2^64; a pts
  // past 2^63.
  EXPECT_NE(error_of(payload(2, {0, 5, 0, 0})).find("entry 1 is out of order"), std::string::npos);
  EXPECT_NE(error_of(payload(2, {0, 5, 0, 27})).find("less than 28 bytes past"), std::string::npos);
  EXPECT_NO_THROW(decode_seek_table(payload(2, {0, 5, 0, 28}), 500));
  std::vector<uint8_t> big = {
      0,    0xfe, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff, 0xff, 0x01, 0,    2};  // offset 2^64 - 2, then a step of 2
  EXPECT_NE(error_of(payload(2, big)).find("out of order"), std::string::npos);
  std::vector<uint8_t> late = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                               1,            // pts 2^63 - 1 (zigzag), offset 1
                               1,    0x20};  // one tick later
  EXPECT_NE(error_of(payload(2, late)).find("out of order"), std::string::npos);
  // Bytes left over between the entries and the summary.
  EXPECT_NE(error_of(payload(1, {0, 1, 0})).find("between the last entry and the summary"),
            std::string::npos);
  EXPECT_NE(error_of(std::vector<uint8_t>(35)).find("too short"), std::string::npos);
}

}  // namespace
}  // namespace h4mk::test
