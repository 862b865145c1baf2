// Side data blobs through the C API's walker, and every registered value
// through its layout: what reads must write back to bytes that read the same.
// A packet_flags value reads to flags whose written value reads the same.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "h4mk/h4mk.h"
#include "h4mk/side_data_layout.hpp"

namespace {

void through_layout(const char* key, size_t key_size, const uint8_t* value, size_t size) {
  const h4mk::SideDataLayout* l = h4mk::find_side_data_layout({key, key_size});
  if (!l || l->kind != h4mk::SideDataKind::kFields) return;
  size_t count = 0;
  if (h4mk_side_data_read_values(key, key_size, value, size, nullptr, 0, &count) != H4MK_OK) return;
  std::vector<int64_t> values(count);
  if (h4mk_side_data_read_values(key, key_size, value, size, values.data(), count, &count) !=
      H4MK_OK)
    __builtin_trap();
  std::vector<uint8_t> bytes(size);
  size_t written = 0;
  if (h4mk_side_data_write_values(key, key_size, values.data(), count, bytes.data(), size,
                                  &written) != H4MK_OK ||
      written != size)
    __builtin_trap();
  if (h4mk::read_side_data_values(*l, bytes) != values) __builtin_trap();
}

void through_packet_flags(const uint8_t* value, size_t size) {
  const unsigned flags = h4mk_packet_flags_parse(value, size);
  char text[32];
  const size_t n = h4mk_packet_flags_format(flags, text, sizeof text);
  if (n >= sizeof text ||
      h4mk_packet_flags_parse(reinterpret_cast<const uint8_t*>(text), n) != flags)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t pos = 0, key_size, value_size;
  const char* key;
  const uint8_t* value;
  int rc;
  while ((rc = h4mk_side_data_next(data, size, &pos, &key, &key_size, &value, &value_size)) ==
         H4MK_OK) {
    if (key + key_size > reinterpret_cast<const char*>(data) + size ||
        value + value_size > data + size)
      __builtin_trap();
    through_layout(key, key_size, value, value_size);
    if (key_size == sizeof H4MK_PACKET_FLAGS_KEY - 1 &&
        !__builtin_memcmp(key, H4MK_PACKET_FLAGS_KEY, key_size))
      through_packet_flags(value, value_size);
  }
  return 0;
}
