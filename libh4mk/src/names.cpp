// Names of enum values, for messages and JSON.
#include <cstdint>
#include <string>

#include "h4mk/block.hpp"
#include "h4mk/error.hpp"
#include "h4mk/track.hpp"

namespace h4mk {

const char* error_code_name(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kOk:
      return "success";
    case ErrorCode::kEndOfStream:
      return "end of stream";
    case ErrorCode::kIo:
      return "I/O error";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kBadMagic:
      return "not an H4MK file";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported format version";
    case ErrorCode::kCrcMismatch:
      return "CRC mismatch";
    case ErrorCode::kCorrupt:
      return "malformed data";
    case ErrorCode::kLimitExceeded:
      return "exceeds a reader limit";
    case ErrorCode::kTruncated:
      return "file is truncated";
    case ErrorCode::kNotSeekable:
      return "source is not seekable";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kOutOfMemory:
      return "out of memory";
    case ErrorCode::kBadState:
      return "call not allowed in this state";
    case ErrorCode::kVerifyFailed:
      return "verification failed";
    case ErrorCode::kKeyMismatch:
      return "wrong key";
    case ErrorCode::kAuthFailed:
      return "authentication failed";
    case ErrorCode::kInternal:
      return "internal error";
  }
  return "unknown error";
}

Error::Error(ErrorCode code, std::string message, uint64_t offset)
    : std::runtime_error(std::move(message)), code_(code), offset_(offset) {}

std::string printable(std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  auto escape = [&](unsigned char c) {
    out += "\\x";
    out += kHex[c >> 4];
    out += kHex[c & 15];
  };
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f || c == '\\')
        escape(c);
      else
        out += static_cast<char>(c);
      ++i;
      continue;
    }
    // A well-formed UTF-8 sequence (no overlongs, surrogates or > U+10FFFF),
    // not a C1 control (U+0080..U+009F), passes as it is.
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = n != 0 && c <= 0xf4 && i + n <= text.size();
    uint32_t cp = n == 2 ? c & 0x1f : n == 3 ? c & 0x0f : c & 0x07;
    for (size_t k = 1; ok && k < n; k++) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    ok = ok && !(n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) &&
         !(n == 4 && (cp < 0x10000 || cp > 0x10ffff)) && !(cp >= 0x80 && cp <= 0x9f);
    if (!ok) {
      escape(c);
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

bool is_adapter_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxAdapterName) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front())) return false;
  for (char c : name)
    if (!alnum(c) && c != '_' && c != '-') return false;
  return true;
}

const char* track_kind_name(TrackKind kind) noexcept {
  switch (kind) {
    case TrackKind::kAudio:
      return "audio";
    case TrackKind::kVideo:
      return "video";
    case TrackKind::kData:
      return "data";
    case TrackKind::kSubtitle:
      return "subtitle";
    case TrackKind::kControl:
      return "control";
  }
  return "data";
}

TrackKind track_kind_from_name(const std::string& name) {
  for (TrackKind k : {TrackKind::kAudio, TrackKind::kVideo, TrackKind::kData, TrackKind::kSubtitle,
                      TrackKind::kControl})
    if (name == track_kind_name(k)) return k;
  throw Error(ErrorCode::kCorrupt, "unknown track kind \"" + name + "\"");
}

const char* block_type_name(BlockType type) noexcept {
  switch (type) {
    case BlockType::kI:
      return "I";
    case BlockType::kP:
      return "P";
    case BlockType::kB:
      return "B";
  }
  return "?";
}

}  // namespace h4mk
