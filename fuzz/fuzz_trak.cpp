// TRAK JSON decoding, and re-encoding what decodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../libh4mk/src/track_json.hpp"
#include "h4mk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto tracks = detail::decode_tracks(text, 16, ReaderLimits{});
    // Whatever decodes must encode and decode to the same tracks.
    auto again = detail::decode_tracks(detail::encode_tracks(tracks), 16, ReaderLimits{});
    if (again != tracks) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
