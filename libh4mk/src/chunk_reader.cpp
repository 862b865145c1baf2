#include "chunk_reader.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <set>
#include <vector>

#include "block_group.hpp"
#include "byte_order.hpp"
#include "crc32.hpp"
#include "group_compression.hpp"
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
    case kTagDict:
      return uint32_t(kDictHeaderSize + kMaxDictionaryBytes);
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

// Scans for the first position where a valid chunk starts, in time linear in
// the bytes scanned plus O(log n) per candidate position. Each candidate's
// CRC comes from one running CRC of the scanned bytes: with P(x) the CRC of
// the first x bytes, a payload [s, e) starting from the head's CRC h has
// CRC crc32(h, [s, e)), the affine image of P(e) = crc32(P(s), [s, e)). So
// no byte is passed over twice, whatever sizes the candidates claim (a file
// of "NOTE" + size headers made the old scan, one CRC per candidate,
// quadratic: 17.5 s for 2 MiB).
bool ChunkReader::resync() {
  struct Candidate {
    uint64_t start, payload_end;  // relative to where the scan began
    uint32_t head_crc, expected;
    uint32_t crc_at_payload = 0;  // P(start + 12)
  };
  enum EventKind { kPayloadStart = 0, kPayloadEnd = 1 };
  struct Event {
    uint64_t at;
    EventKind kind;
    size_t candidate;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : kind > o.kind; }
  };
  std::vector<Candidate> candidates;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  std::set<uint64_t> pending;     // starts of candidates not yet decided
  std::optional<uint64_t> found;  // the earliest start found valid
  uint64_t base = 0;              // bytes consumed since the scan began
  uint64_t crc_pos = 0;           // P is known up to here
  uint32_t crc = 0;               // P(crc_pos)
  CrcJoin join;
  // The bytes from here to the end of the file; all there are when its size is not known.
  const uint64_t total = stream_.size() ? *stream_.size() - stream_.position() : UINT64_MAX;

  // Makes bytes [base, at) of the scan available; false at the end of data.
  auto have = [&](uint64_t at) {
    const size_t need = size_t(at - base);
    if (stream_.available() >= need) return true;
    return stream_.fill(std::max({need, stream_.available() * 2, size_t(64) << 10})) >= need;
  };
  auto advance_crc = [&](uint64_t to) {
    if (to > crc_pos) {
      crc = crc32(crc, stream_.data() + (crc_pos - base), size_t(to - crc_pos));
      crc_pos = to;
    }
  };
  auto done = [&]() {  // the earliest undecided or valid start is a valid one
    return found && (pending.empty() || *pending.begin() > *found);
  };

  for (uint64_t i = 0;; ++i) {
    // Decide what ends here, in order.
    while (!events.empty() && events.top().at <= i) {
      const Event e = events.top();
      events.pop();
      Candidate& c = candidates[e.candidate];
      advance_crc(e.at);
      if (e.kind == kPayloadStart) {
        c.crc_at_payload = crc;
        events.push({c.payload_end, kPayloadEnd, e.candidate});
        continue;
      }
      pending.erase(c.start);
      const uint64_t n = c.payload_end - c.start - kChunkHeaderSize;
      if (join.continue_from(c.head_crc, c.crc_at_payload, crc, n) == c.expected &&
          (!found || c.start < *found))
        found = c.start;
    }
    if (done()) break;
    if (events.empty()) {
      // Nothing to check: the running CRC may start afresh, and the scan
      // skips to the next known tag in a tight loop (the common case).
      bool more = true;
      for (;;) {
        if (i - base >= (size_t(64) << 10)) {
          stream_.consume(size_t(i - base));
          base = i;
        }
        if (!have(i + kChunkHeaderSize)) {
          more = false;
          break;
        }
        const uint8_t* d = stream_.data();
        const size_t avail = stream_.available();
        size_t j = size_t(i - base);
        while (j + kChunkHeaderSize <= avail && !is_known_tag(load_u32(d + j))) ++j;
        i = base + j;
        if (j + kChunkHeaderSize <= avail) break;  // a known tag at i
      }
      if (!more) break;
      crc_pos = i;
      crc = 0;
    }
    // Drop what no candidate needs any more.
    const uint64_t keep =
        std::min({i, crc_pos, pending.empty() ? i : *pending.begin(), found.value_or(i)});
    if (keep - base >= (size_t(64) << 10)) {
      stream_.consume(size_t(keep - base));
      base = keep;
    }
    if (found) {  // later starts cannot win: on to the next candidate's next event
      const uint64_t next = events.top().at;
      if (!have(next)) break;
      i = next - 1;
      continue;
    }
    if (!have(i + kChunkHeaderSize)) {  // no chunk starts this close to the end
      if (!have(i + 1)) break;          // the data ends
      continue;
    }
    const uint8_t* p = stream_.data() + (i - base);
    const Tag tag = load_u32(p);
    if (!is_known_tag(tag)) continue;
    const ChunkHeader h = parse_chunk_header(p);
    if (h.size > size_limit_for(tag, limits_) || (tag == kTagTail && h.size != kTailPayloadSize))
      continue;
    const uint64_t end = i + kChunkHeaderSize + h.size;
    if (end > total) continue;  // runs past the end of the file
    if (tag == kTagCore) {      // a sane group header for a known track, before any CRC
      if (h.size < kGroupHeaderSize || !have(i + kChunkHeaderSize + kGroupHeaderSize)) continue;
      p = stream_.data() + (i - base);
      const uint8_t* g = p + kChunkHeaderSize;
      const uint16_t track = load_u16(g);
      if ((g[2] & ~kGroupKnownFlags) || track == 0 || (known_track_ && !known_track_(track)))
        continue;
    }
    candidates.push_back({i, end, head_crc_(p), h.crc});
    pending.insert(i);
    events.push({i + kChunkHeaderSize, kPayloadStart, candidates.size() - 1});
  }
  if (!found) {
    stream_.consume(stream_.available());
    return false;
  }
  stream_.consume(size_t(*found - base));
  return true;
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
