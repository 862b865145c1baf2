// ATCH chunk payload <-> Attachment (docs/FORMAT.md §7.2).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/attachment.hpp"
#include "h4mk/limits.hpp"

namespace h4mk::detail {

// Why an attachment's fields are not ones a file may hold, or "" (the
// writer's and the reader's rule; whether `track` is declared is the
// caller's to check).
std::string attachment_problem(const Attachment& a);

std::vector<uint8_t> encode_attachment(const Attachment& a);
// Throws Error(kCorrupt) naming the chunk offset and the field, also for a
// track that `declared` says TRAK does not declare.
Attachment decode_attachment(std::span<const uint8_t> payload, uint64_t chunk_offset,
                             const ReaderLimits& limits,
                             const std::function<bool(uint16_t)>& declared);

}  // namespace h4mk::detail
