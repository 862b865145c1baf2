// TSEK payload decoding (FORMAT.md §10): what decodes re-encodes to the same
// bytes (but the reserved field, written 0 and ignored), as the entries'
// LEB128 steps have one form each.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "../libh4mk/src/seek_table.hpp"
#include "h4mk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  try {
    const detail::SeekTable t = detail::decode_seek_table({data, size}, uint64_t(1) << 40);
    std::vector<uint8_t> want(data, data + size);
    want[6] = want[7] = 0;
    if (detail::encode_seek_table(t) != want) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
