// Chunks (12-byte header + payload) and the 16-byte file header.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace h4mk::detail {

inline constexpr size_t kFileHeaderSize = 16;
inline constexpr size_t kChunkHeaderSize = 12;
inline constexpr size_t kTailPayloadSize = 16;
// TAIL chunk (12 + 16) followed by the 4-byte container CRC.
inline constexpr size_t kTailRegionSize = kChunkHeaderSize + kTailPayloadSize + 4;

using Tag = uint32_t;  // the 4 tag bytes, loaded little-endian

// A tag from its four characters, and back.
constexpr Tag tag_of(const std::array<char, 4>& c) {
  return Tag(uint8_t(c[0])) | (Tag(uint8_t(c[1])) << 8) | (Tag(uint8_t(c[2])) << 16) |
         (Tag(uint8_t(c[3])) << 24);
}
constexpr std::array<char, 4> tag_chars(Tag tag) {
  return {char(tag), char(tag >> 8), char(tag >> 16), char(tag >> 24)};
}
constexpr Tag make_tag(const char (&s)[5]) { return tag_of({s[0], s[1], s[2], s[3]}); }

inline constexpr Tag kTagTrak = make_tag("TRAK");
inline constexpr Tag kTagMeta = make_tag("META");
inline constexpr Tag kTagSafe = make_tag("SAFE");
inline constexpr Tag kTagNote = make_tag("NOTE");
inline constexpr Tag kTagChap = make_tag("CHAP");
inline constexpr Tag kTagAtch = make_tag("ATCH");
inline constexpr Tag kTagCore = make_tag("CORE");
inline constexpr Tag kTagVeri = make_tag("VERI");
inline constexpr Tag kTagSign = make_tag("SIGN");
inline constexpr Tag kTagTsek = make_tag("TSEK");
inline constexpr Tag kTagTail = make_tag("TAIL");
inline constexpr Tag kTagHint = make_tag("HINT");
inline constexpr Tag kTagDict = make_tag("DICT");
inline constexpr Tag kTagHash = make_tag("HASH");
inline constexpr Tag kTagRoot = make_tag("ROOT");

inline constexpr uint32_t kMagicFile = make_tag("H4MK");
inline constexpr uint32_t kMagicSeek = make_tag("H4TS");

bool is_known_tag(Tag tag);
// VERI, SIGN, ROOT, TSEK and TAIL: the chunks of the index region (after the
// last CORE and the HASH pages).
constexpr bool is_index_tag(Tag tag) {
  return tag == kTagVeri || tag == kTagSign || tag == kTagRoot || tag == kTagTsek ||
         tag == kTagTail;
}
// Printable form for messages: "CORE", or "0x01020304" for non-ASCII tags.
std::string tag_name(Tag tag);
// A payload as text (JSON chunks, NOTE).
inline std::string payload_text(std::span<const uint8_t> p) {
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

struct ChunkHeader {
  Tag tag = 0;
  uint32_t size = 0;
  uint32_t crc = 0;
};

ChunkHeader parse_chunk_header(const uint8_t* p);
uint32_t chunk_crc(Tag tag, uint32_t size, std::span<const uint8_t> payload);
// The running CRC after a chunk header's tag and size (bytes 0..7), kept for
// the last pair seen. Runs of chunks of one size are the rule (FIXED_SIZE
// groups), and an 8-byte CRC call (~7 ns, bench_primitives BM_Crc32_zlib/8)
// costs as much as 400 payload bytes do.
class ChunkHeadCrc {
 public:
  ChunkHeadCrc();
  uint32_t operator()(const uint8_t* head) {
    uint64_t key;
    std::memcpy(&key, head, sizeof key);
    if (key != key_) remember(key, head);
    return crc_;
  }

 private:
  void remember(uint64_t key, const uint8_t* head);
  uint64_t key_ = 0;
  uint32_t crc_ = 0;
};

// Header with the CRC filled in.
std::array<uint8_t, kChunkHeaderSize> make_chunk_header(Tag tag, std::span<const uint8_t> payload);

struct FileHeader {
  uint16_t version_major = 1;
  uint16_t version_minor = 0;
  uint32_t flags = 0;
};

std::array<uint8_t, kFileHeaderSize> encode_file_header(const FileHeader& h);
// Throws Error (bad magic, CRC, unsupported major) naming offset 0.
FileHeader decode_file_header(const uint8_t* p);

struct TailInfo {
  uint64_t index_offset = 0;  // first chunk after the last CORE
  uint64_t core_count = 0;
};

std::array<uint8_t, kTailPayloadSize> encode_tail(const TailInfo& t);
TailInfo decode_tail(const uint8_t* payload);

}  // namespace h4mk::detail
