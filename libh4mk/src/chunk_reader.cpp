#include "chunk_reader.hpp"

#include <algorithm>
#include <cstdint>

#include "block_group.hpp"
#include "byte_order.hpp"
#include "crc32.hpp"
#include "hint.hpp"

namespace h4mk::detail {

uint32_t size_limit_for(Tag tag, const ReaderLimits& limits) {
  switch (tag) {
    case kTagTrak:
    case kTagMeta:
    case kTagSafe:
    case kTagNote:
    case kTagChap:
    case kTagVeri:
    case kTagSign:
      return limits.max_json_chunk;
    case kTagTsek:
      return limits.max_index_chunk;
    case kTagHint:  // 16 + 24 bytes per track
      return uint32_t(std::min<size_t>(hint_payload_size(limits.max_tracks), UINT32_MAX));
    case kTagTail:
      return kTailPayloadSize;
    default:
      return limits.max_core_chunk;  // CORE and unknown tags
  }
}

ChunkStatus ChunkReader::peek_chunk(ChunkView& v) {
  v.reset(stream_.position());
  // Messages are built only for bad chunks: this runs once per chunk read.
  auto at = [&] { return " at offset " + std::to_string(v.offset); };
  size_t got = stream_.fill(kChunkHeaderSize);
  if (got == 0) return ChunkStatus::kEnd;
  if (got < kChunkHeaderSize) {
    v.incomplete = true;
    v.code = ErrorCode::kTruncated;
    v.why = "chunk header" + at() + " is cut after " + std::to_string(got) + " bytes";
    return ChunkStatus::kBad;
  }
  v.header = parse_chunk_header(stream_.data());
  auto name = [&] { return tag_name(v.header.tag) + " chunk" + at(); };
  const uint32_t limit = size_limit_for(v.header.tag, limits_);
  if (v.header.size > limit || (v.header.tag == kTagTail && v.header.size != kTailPayloadSize)) {
    v.code = ErrorCode::kLimitExceeded;
    v.why = name() + " claims " + std::to_string(v.header.size) + " bytes (limit " +
            std::to_string(limit) + ")";
    return ChunkStatus::kBad;
  }
  const uint64_t total = v.total();
  if ((stream_.size() && v.offset + total > *stream_.size()) || stream_.fill(total) < total) {
    v.incomplete = true;
    v.code = ErrorCode::kTruncated;
    v.why = name() + " needs " + std::to_string(total) + " bytes but the data ends first";
    return ChunkStatus::kBad;
  }
  v.payload = {stream_.data() + kChunkHeaderSize, v.header.size};
  const uint32_t head = head_crc_(stream_.data());
  const uint32_t crc = crc32(head, v.payload.data(), v.payload.size());
  // While the container CRC is tracked (verify), a payload past the join
  // threshold extends it from this CRC instead of a second pass over it.
  if (stream_.tracking_crc() && v.payload.size() >= crc32_join_threshold()) {
    v.join_payload_crc = true;
    v.payload_crc_from = head;
    v.payload_crc_to = crc;
  }
  if (crc != v.header.crc) {
    v.code = ErrorCode::kCrcMismatch;
    v.why = name() + ": CRC mismatch";
    return ChunkStatus::kBad;
  }
  return ChunkStatus::kOk;
}

// A CORE candidate must start with a sane group header for a known track.
bool ChunkReader::plausible_core_start() {
  if (stream_.fill(kChunkHeaderSize + kGroupHeaderSize) < kChunkHeaderSize + kGroupHeaderSize)
    return false;
  const uint8_t* p = stream_.data();
  if (load_u32(p + 4) < kGroupHeaderSize) return false;
  const uint8_t* g = p + kChunkHeaderSize;
  if (load_u32(g) != kMagicGroup || (g[6] & ~(kGroupUniform | kGroupFixedSize))) return false;
  uint16_t track = load_u16(g + 4);
  return track != 0 && (!known_track_ || known_track_(track));
}

bool ChunkReader::resync() {
  constexpr size_t kWindow = 4096;  // small: bisection probes resync often
  for (;;) {
    size_t avail = stream_.fill(kWindow);
    if (avail < kChunkHeaderSize) {
      stream_.consume(avail);
      return false;
    }
    size_t i = 0;
    bool restart = false;
    for (; i + kChunkHeaderSize <= avail; ++i) {
      Tag tag = load_u32(stream_.data() + i);
      if (!is_known_tag(tag)) continue;
      stream_.consume(i);
      if (tag != kTagCore || plausible_core_start()) {
        ChunkView v;
        if (peek_chunk(v) == ChunkStatus::kOk) return true;
      }
      stream_.consume(1);  // not a chunk after all; keep scanning after it
      restart = true;
      break;
    }
    if (!restart) stream_.consume(i);
  }
}

}  // namespace h4mk::detail

namespace h4mk::detail {

void ChunkReader::consume(const ChunkView& v) {
  stream_.consume(kChunkHeaderSize);
  if (v.join_payload_crc)
    stream_.consume(v.header.size, v.payload_crc_from, v.payload_crc_to);
  else
    stream_.consume(v.header.size);
}

}  // namespace h4mk::detail
