// CHAP chunk: {"chapters":[...]} <-> Chapter objects (docs/FORMAT.md §7.1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "h4mk/chapter.hpp"
#include "h4mk/limits.hpp"

namespace h4mk::detail {

// Throws Error(kInvalidArgument) naming the chapter (its position) and field
// for a chapter a writer must not emit.
void validate_chapter(const Chapter& c, size_t index);

std::string encode_chapters(const std::vector<Chapter>& chapters);
// Throws Error(kCorrupt) naming the chunk offset, the chapter and the field.
std::vector<Chapter> decode_chapters(std::string_view json, uint64_t chunk_offset,
                                     const ReaderLimits& limits);

}  // namespace h4mk::detail
