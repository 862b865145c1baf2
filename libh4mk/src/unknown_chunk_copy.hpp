// What a rewrite does with its source's chunks of unknown tags (FORMAT.md
// §9.6): those safe to copy go to the writer where the source has them, the
// head's at once and the others as reading passes them; the rest are left
// out and counted.
#pragma once

#include "h4mk/reader.hpp"
#include "h4mk/unknown_chunk.hpp"
#include "h4mk/writer.hpp"

namespace h4mk::detail {

class UnknownChunkCopy {
 public:
  // After the header chunks are copied, before the first block.
  UnknownChunkCopy(Reader& from, GroupCopier& to, UnknownChunksKept& report);
  ~UnknownChunkCopy();
  UnknownChunkCopy(const UnknownChunkCopy&) = delete;
  UnknownChunkCopy& operator=(const UnknownChunkCopy&) = delete;

 private:
  void take(const UnknownChunk& c);
  void leave_out(uint64_t count, const std::string& which);

  Reader& from_;
  GroupCopier& to_;
  UnknownChunksKept& report_;
};

}  // namespace h4mk::detail
