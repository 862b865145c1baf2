// Reader: the index region at the end of a complete file (FORMAT.md §9.2),
// loaded on first use, and the HINT checked against it.
#include <string>
#include <vector>

#include "chunk.hpp"
#include "index_region.hpp"
#include "reader_impl.hpp"

namespace h4mk {

namespace {

// Largest index region (VERI + TSEKs) the reader loads in one go.
uint64_t max_index_region(const ReaderLimits& l) {
  return uint64_t(l.max_index_chunk) + l.max_json_chunk + (1u << 20);
}

}  // namespace

std::optional<TrackSummary> Reader::Impl::hinted_summary(uint16_t id) const {
  auto it = head.slot_of_id.find(id);
  if (!head.hint || it == head.slot_of_id.end()) return std::nullopt;
  return head.hint->tracks[it->second];
}

void Reader::Impl::check_hint_against_index() {
  // On a pipe there is no end to check against: the HINT stays advisory.
  if (!head.hint || !stream.seekable()) return;
  if (index_state != IndexState::kLoaded) {
    record(head.hint_offset, 0, ErrorCode::kCorrupt,
           "HINT chunk at offset " + std::to_string(head.hint_offset) +
               " is not used: the index it copies is unusable");
  } else {
    const std::string why = hint_disagreement(
        *head.hint, *stream.size(), index_offset, head.track_ids(),
        [&](size_t slot) -> const TrackSummary* {
          auto table = tables.find(head.tracks[slot].id);
          return table == tables.end() ? nullptr : &table->second.summary;
        },
        "its TSEK");
    if (!why.empty())
      record(head.hint_offset, 0, ErrorCode::kCorrupt,
             "HINT chunk at offset " + std::to_string(head.hint_offset) +
                 " disagrees with the end of the file: it " + why + "; the index is used");
  }
  head.hint.reset();
}

void Reader::Impl::ensure_index() {
  if (index_state != IndexState::kUnknown) return;
  load_index();
  check_hint_against_index();
}

void Reader::Impl::load_index() {
  index_state = IndexState::kAbsent;
  auto size = stream.size();
  if (!stream.seekable() || !size || *size < head.data_offset + kTailRegionSize) return;
  // One read for the end of the file: the TAIL and, for most files, the
  // whole index region before it (one range request over HTTP).
  constexpr uint64_t kTailWindow = 8 * 1024;
  uint64_t window = std::min<uint64_t>(kTailWindow, *size - head.data_offset);
  // Verifying, the index region is known (ROOT) and read whole below,
  // each piece once; the TAIL is held.
  if (verifying) window = kTailRegionSize;
  const uint64_t window_at = *size - window;
  std::vector<uint8_t> end_bytes;
  if (!stream.read_at(window_at, static_cast<size_t>(window), end_bytes)) return;
  const uint64_t tail_at = *size - kTailRegionSize;
  const uint8_t* tail_bytes = end_bytes.data() + (tail_at - window_at);
  ChunkHeader h = parse_chunk_header(tail_bytes);
  std::span<const uint8_t> tail_payload(tail_bytes + kChunkHeaderSize, kTailPayloadSize);
  if (h.tag != kTagTail || h.size != kTailPayloadSize ||
      chunk_crc(h.tag, h.size, tail_payload) != h.crc)
    return;  // an incomplete file: no tail, not damage
  TailInfo tail = decode_tail(tail_payload.data());
  auto bad_index = [&](uint64_t offset, const std::string& why) {
    tables.clear();
    record(offset, 0, ErrorCode::kCorrupt, "index unusable, seeking without it: " + why);
  };
  if (tail.index_offset < head.data_offset || tail.index_offset > tail_at ||
      tail_at - tail.index_offset > max_index_region(opt.limits))
    return bad_index(tail_at, "TAIL points to offset " + std::to_string(tail.index_offset));
  std::vector<uint8_t> buf;
  if (tail.index_offset >= window_at) {
    buf.assign(end_bytes.begin() + long(tail.index_offset - window_at),
               end_bytes.begin() + long(tail_at - window_at));
  } else if (!stream.read_at(tail.index_offset, static_cast<size_t>(tail_at - tail.index_offset),
                             buf)) {
    return bad_index(tail.index_offset, "index region cannot be read");
  }

  IndexRegion region([this](uint16_t id) { return track(id) != nullptr; });
  size_t pos = 0;
  while (pos < buf.size()) {
    const uint64_t at = tail.index_offset + pos;
    if (buf.size() - pos < kChunkHeaderSize) return bad_index(at, "stray bytes before TAIL");
    ChunkHeader c = parse_chunk_header(buf.data() + pos);
    if (c.size > buf.size() - pos - kChunkHeaderSize || c.size > size_limit_for(c.tag, opt.limits))
      return bad_index(at, tag_name(c.tag) + " chunk size runs past TAIL");
    std::span<const uint8_t> payload(buf.data() + pos + kChunkHeaderSize, c.size);
    if (chunk_crc(c.tag, c.size, payload) != c.crc)
      return bad_index(at, tag_name(c.tag) + " chunk CRC mismatch");
    if (c.tag == kTagVeri) {
      veri_json = payload_text(payload);
    } else if (c.tag == kTagSign) {
      sign_json = payload_text(payload);
    } else if (c.tag == kTagTsek) {
      if (auto p = region.take_seek_table(payload, at)) return bad_index(p->offset, p->message);
    }
    pos += kChunkHeaderSize + c.size;
  }
  if (auto p = region.check_entries(head.data_offset, tail.index_offset))
    return bad_index(p->offset, p->message);
  tables = region.take_tables();
  index_offset = tail.index_offset;
  index_state = IndexState::kLoaded;
}

}  // namespace h4mk
