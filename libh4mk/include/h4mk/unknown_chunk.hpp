// A chunk of a tag this version of the format does not know, as a rewrite
// meets it to keep or leave out (docs/FORMAT.md §9.6).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

// A tag whose fourth byte is a lowercase letter: its chunk depends on no
// other chunk's bytes or place, so a rewrite keeps it.
inline bool is_safe_to_copy(const std::array<char, 4>& tag) {
  return tag[3] >= 'a' && tag[3] <= 'z';
}

struct UnknownChunk {
  std::array<char, 4> tag{};
  uint64_t offset = 0;               // of its chunk header
  uint64_t size = 0;                 // payload bytes
  std::span<const uint8_t> payload;  // empty when not held (Reader::head_unknown_chunks)
  bool held = true;
  bool safe_to_copy() const { return is_safe_to_copy(tag); }
};

// What a rewrite did with the chunks of unknown tags it met: those safe to
// copy kept in their place, the others left out (FORMAT.md §9.6).
struct UnknownChunksKept {
  uint64_t kept = 0;
  uint64_t left_out = 0;
  std::string first_left_out;  // which chunk, where, and why
};

}  // namespace h4mk
H4MK_CXX_API_END
