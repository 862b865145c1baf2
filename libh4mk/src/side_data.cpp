#include "h4mk/side_data.hpp"

#include "h4mk/error.hpp"
#include "leb128.hpp"

namespace h4mk {

using namespace detail;

void append_side_data(std::vector<uint8_t>& blob, std::string_view key,
                      std::span<const uint8_t> value) {
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, "side data key is empty");
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

}  // namespace h4mk
