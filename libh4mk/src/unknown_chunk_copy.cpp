#include "unknown_chunk_copy.hpp"

#include <string>

namespace h4mk::detail {

namespace {

std::string describe(const UnknownChunk& c) {
  std::string tag;
  for (char ch : c.tag) tag += ch >= 0x20 && ch < 0x7f ? ch : '?';
  return "'" + tag + "' at offset " + std::to_string(c.offset);
}

}  // namespace

UnknownChunkCopy::UnknownChunkCopy(Reader& from, GroupCopier& to, UnknownChunksKept& report)
    : from_(from), to_(to), report_(report) {
  for (const UnknownChunk& c : from.head_unknown_chunks()) take(c);
  if (const uint64_t n = from.head_unknown_chunks_unlisted())
    leave_out(n, std::to_string(n) +
                     " chunks of unknown tags before the first CORE, past the 256 a reader lists");
  from.on_unknown_chunk([this](const UnknownChunk& c) { take(c); });
}

UnknownChunkCopy::~UnknownChunkCopy() { from_.on_unknown_chunk({}); }

void UnknownChunkCopy::take(const UnknownChunk& c) {
  if (!c.safe_to_copy()) return leave_out(1, describe(c) + ": not safe to copy");
  if (!c.held)
    return leave_out(1, describe(c) + ": past the 1 MiB a reader holds of the head's chunks");
  to_.copy(c);
  ++report_.kept;
}

void UnknownChunkCopy::leave_out(uint64_t count, const std::string& which) {
  if (report_.left_out == 0) report_.first_left_out = which;
  report_.left_out += count;
}

}  // namespace h4mk::detail
