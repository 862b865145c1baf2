// Unsigned LEB128 and zigzag, as used in block records.
#pragma once

#include <cstdint>
#include <vector>

namespace h4mk::detail {

inline constexpr int kMaxLeb128Bytes = 10;

inline void put_uleb128(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

inline int uleb128_size(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Decodes one value; false if it runs past `end`, is longer than 10 bytes,
// overflows 64 bits, or is not in its shortest form (a trailing 0x00 byte).
inline bool get_uleb128(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  // Most fields of a block record (sizes of small blocks, deltas, offsets)
  // fit in one byte: no loop for them.
  if (p != end && *p < 0x80) [[likely]] {
    v = *p++;
    return true;
  }
  uint64_t result = 0;
  for (int i = 0; i < kMaxLeb128Bytes; ++i) {
    if (p == end) return false;
    uint8_t byte = *p++;
    uint64_t bits = byte & 0x7f;
    if (i == 9 && bits > 1) return false;  // more than 64 bits
    result |= bits << (7 * i);
    if (!(byte & 0x80)) {
      if (byte == 0 && i > 0) return false;  // overlong
      v = result;
      return true;
    }
  }
  return false;
}

inline uint64_t zigzag_encode(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t zigzag_decode(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace h4mk::detail
