#include "h4mk/side_data.hpp"

#include <algorithm>
#include <utility>

#include "h4mk/error.hpp"
#include "leb128.hpp"

namespace h4mk {

using namespace detail;

namespace {

// Well-formed UTF-8 (RFC 3629): no overlong forms, surrogates or code
// points above U+10FFFF.
bool is_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const uint8_t c = *p++;
    if (c < 0x80) continue;
    int more;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
      more = 1, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
      more = 2, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
      more = 3, cp = c & 0x07, min = 0x10000;
    else
      return false;
    if (end - p < more) return false;
    for (int i = 0; i < more; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (p[i] & 0x3F);
    }
    p += more;
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
  }
  return true;
}

}  // namespace

void append_side_data(std::vector<uint8_t>& blob, std::string_view key,
                      std::span<const uint8_t> value) {
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, "side data key is empty");
  if (!is_utf8(key)) throw Error(ErrorCode::kInvalidArgument, "side data key is not UTF-8");
  put_uleb128(blob, key.size());
  blob.insert(blob.end(), key.begin(), key.end());
  put_uleb128(blob, value.size());
  blob.insert(blob.end(), value.begin(), value.end());
}

bool next_side_data(std::span<const uint8_t> blob, size_t& pos, SideDataEntry& out) {
  if (pos >= blob.size()) return false;
  const uint8_t* p = blob.data() + pos;
  const uint8_t* end = blob.data() + blob.size();
  uint64_t key_size, value_size;
  if (!get_uleb128(p, end, key_size) || key_size == 0 || key_size > uint64_t(end - p))
    throw Error(ErrorCode::kCorrupt,
                "side data key at byte " + std::to_string(pos) + " is malformed");
  std::string_view key(reinterpret_cast<const char*>(p), key_size);
  if (!is_utf8(key))
    throw Error(ErrorCode::kCorrupt,
                "side data key at byte " + std::to_string(pos) + " is not UTF-8");
  p += key_size;
  if (!get_uleb128(p, end, value_size) || value_size > uint64_t(end - p))
    throw Error(ErrorCode::kCorrupt,
                "side data value of \"" + std::string(key) + "\" runs past the blob");
  out = {key, {p, static_cast<size_t>(value_size)}};
  pos = static_cast<size_t>(p + value_size - blob.data());
  return true;
}

bool valid_side_data(std::span<const uint8_t> blob) noexcept {
  try {
    size_t pos = 0;
    SideDataEntry e;
    while (next_side_data(blob, pos, e)) {
    }
    return true;
  } catch (...) {
    return false;
  }
}

namespace {
constexpr std::pair<std::string_view, unsigned> kPacketFlagNames[] = {
    {"discard", kPacketDiscard},
    {"corrupt", kPacketCorrupt},
};
}  // namespace

unsigned parse_packet_flags(std::string_view value) noexcept {
  unsigned flags = 0;
  for (size_t start = 0; start <= value.size();) {
    const size_t plus = std::min(value.find('+', start), value.size());
    for (const auto& [name, flag] : kPacketFlagNames)
      if (value.substr(start, plus - start) == name) flags |= flag;
    start = plus + 1;
  }
  return flags;
}

std::string format_packet_flags(unsigned flags) {
  std::string value;
  for (const auto& [name, flag] : kPacketFlagNames)
    if (flags & flag) value.append(value.empty() ? "" : "+").append(name);
  return value;
}

}  // namespace h4mk
