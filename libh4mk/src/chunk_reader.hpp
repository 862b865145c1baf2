// Reading whole chunks from a ChunkStream, checking limits and CRCs, and
// resynchronising after damage by scanning for the next chunk that checks.
#pragma once

#include <functional>
#include <span>
#include <string>

#include "chunk.hpp"
#include "chunk_stream.hpp"
#include "h4mk/error.hpp"
#include "h4mk/limits.hpp"

namespace h4mk::detail {

enum class ChunkStatus { kOk, kEnd, kBad };

struct ChunkView {
  ChunkView() { reset(0); }
  uint64_t offset;
  ChunkHeader header;
  std::span<const uint8_t> payload;  // valid until the stream's next fill()
  // Set when the container CRC is tracked (verify) and the payload is big
  // enough to be joined to it rather than passed over again: the payload's
  // CRC run on from crc_from (that of the tag and size) is crc_to.
  bool join_payload_crc;
  uint32_t payload_crc_from, payload_crc_to;
  // When kBad:
  ErrorCode code;
  bool incomplete;  // the chunk would run past the end of the data
  std::string why;
  size_t total() const { return kChunkHeaderSize + header.size; }
  // Every field's starting value, set in place: a fresh ChunkView per chunk
  // builds and copies a temporary, half of peek_chunk's time under perf.
  void reset(uint64_t at) {
    offset = at;
    header = {};
    payload = {};
    join_payload_crc = false;
    payload_crc_from = payload_crc_to = 0;
    code = ErrorCode::kCorrupt;
    incomplete = false;
    why.clear();
  }
};

uint32_t size_limit_for(Tag tag, const ReaderLimits& limits);

class ChunkReader {
 public:
  // plausible(group payload prefix) lets the caller reject CORE candidates
  // cheaply during resync (e.g. unknown track ids) before their CRC is read.
  ChunkReader(ChunkStream& stream, const ReaderLimits& limits) : stream_(stream), limits_(limits) {}

  void set_track_filter(std::function<bool(uint16_t)> known_track) {
    known_track_ = std::move(known_track);
  }

  // Reads the chunk at the current position without consuming it.
  ChunkStatus peek_chunk(ChunkView& v);
  // Scans forward from the current position to the next position where a
  // valid chunk starts; returns false (having consumed everything) at the end.
  bool resync();
  // Consumes a chunk that peek_chunk() returned kOk for.
  void consume(const ChunkView& v);

 private:
  ChunkStream& stream_;
  const ReaderLimits& limits_;
  std::function<bool(uint16_t)> known_track_;
  ChunkHeadCrc head_crc_;
};

}  // namespace h4mk::detail
