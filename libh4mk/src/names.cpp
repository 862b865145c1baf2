// Names of enum values, for messages and JSON.
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
