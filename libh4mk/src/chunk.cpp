#include "chunk.hpp"

#include <cstdio>

#include "byte_order.hpp"
#include "crc32.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

bool is_known_tag(Tag tag) {
  switch (tag) {
    case kTagTrak:
    case kTagMeta:
    case kTagSafe:
    case kTagNote:
    case kTagChap:
    case kTagAtch:
    case kTagCore:
    case kTagVeri:
    case kTagSign:
    case kTagTsek:
    case kTagTail:
    case kTagHint:
    case kTagDict:
    case kTagHash:
    case kTagRoot:
      return true;
    default:
      return false;
  }
}

std::string tag_name(Tag tag) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    char c = char(tag >> (8 * i));
    if (c < 0x20 || c > 0x7e) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0x%08x", unsigned(tag));
      return buf;
    }
    s.push_back(c);
  }
  return s;
}

ChunkHeader parse_chunk_header(const uint8_t* p) {
  return ChunkHeader{load_u32(p), load_u32(p + 4), load_u32(p + 8)};
}

uint32_t chunk_crc(Tag tag, uint32_t size, std::span<const uint8_t> payload) {
  uint8_t head[8];
  store_u32(head, tag);
  store_u32(head + 4, size);
  uint32_t crc = crc32(0, head, sizeof head);
  return crc32(crc, payload.data(), payload.size());
}

ChunkHeadCrc::ChunkHeadCrc() {
  const uint8_t zeros[8] = {};
  remember(0, zeros);
}

void ChunkHeadCrc::remember(uint64_t key, const uint8_t* head) {
  key_ = key;
  crc_ = crc32(0, head, 8);
}

std::array<uint8_t, kChunkHeaderSize> make_chunk_header(Tag tag, std::span<const uint8_t> payload) {
  std::array<uint8_t, kChunkHeaderSize> h{};
  auto size = static_cast<uint32_t>(payload.size());
  store_u32(h.data(), tag);
  store_u32(h.data() + 4, size);
  store_u32(h.data() + 8, chunk_crc(tag, size, payload));
  return h;
}

std::array<uint8_t, kFileHeaderSize> encode_file_header(const FileHeader& fh) {
  std::array<uint8_t, kFileHeaderSize> h{};
  store_u32(h.data(), kMagicFile);
  store_u16(h.data() + 4, fh.version_major);
  store_u16(h.data() + 6, fh.version_minor);
  store_u32(h.data() + 8, fh.flags);
  store_u32(h.data() + 12, crc32(0, h.data(), 12));
  return h;
}

FileHeader decode_file_header(const uint8_t* p) {
  if (load_u32(p) != kMagicFile)
    throw Error(ErrorCode::kBadMagic, "not an H4MK file: the first 4 bytes are not 'H4MK'", 0);
  if (crc32(0, p, 12) != load_u32(p + 12))
    throw Error(ErrorCode::kCrcMismatch, "file header CRC mismatch (bytes 0..11)", 0);
  FileHeader fh{load_u16(p + 4), load_u16(p + 6), load_u32(p + 8)};
  // 2.0 adds compressed groups to 1.0 (docs/FORMAT.md §3): a 1.x file is
  // read by the same rules.
  if (fh.version_major != 1 && fh.version_major != 2)
    throw Error(ErrorCode::kUnsupportedVersion,
                "unsupported H4MK major version " + std::to_string(fh.version_major) +
                    " (this reader handles 1.x and 2.x)",
                4);
  return fh;
}

std::array<uint8_t, kTailPayloadSize> encode_tail(const TailInfo& t) {
  std::array<uint8_t, kTailPayloadSize> p{};
  store_u64(p.data(), t.index_offset);
  store_u64(p.data() + 8, t.core_count);
  return p;
}

TailInfo decode_tail(const uint8_t* payload) { return {load_u64(payload), load_u64(payload + 8)}; }

}  // namespace h4mk::detail
