// CHAP JSON decoding, and re-encoding what decodes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../libh4mk/src/chapter_json.hpp"
#include "h4mk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto chapters = detail::decode_chapters(text, 16, ReaderLimits{});
    // What decodes is what a writer accepts, and comes back the same.
    for (size_t i = 0; i < chapters.size(); ++i) detail::validate_chapter(chapters[i], i);
    auto again = detail::decode_chapters(detail::encode_chapters(chapters), 16, ReaderLimits{});
    if (again != chapters) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
