// Errors raised by libh4mk's C++ API. Every error carries a code (the same
// values the C API returns) and, where it applies, the file offset it is about.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class ErrorCode : int {
  kOk = 0,
  kEndOfStream = -1,
  kIo = -2,
  kInvalidArgument = -3,
  kBadMagic = -4,
  kUnsupportedVersion = -5,
  kCrcMismatch = -6,
  kCorrupt = -7,
  kLimitExceeded = -8,
  kTruncated = -9,
  kNotSeekable = -10,
  kNotFound = -11,
  kOutOfMemory = -12,
  kBadState = -13,
  kVerifyFailed = -14,
  kKeyMismatch = -15,  // a mask key that is not the track's (check value)
  kAuthFailed = -16,   // a masked block or a signature does not verify
  kInternal = -99,
};

// Sentinel for "this error is not about a particular byte of the file".
inline constexpr uint64_t kNoOffset = UINT64_MAX;

const char* error_code_name(ErrorCode code) noexcept;

// Text from a file made safe to print: control characters, DEL and bytes
// that are not UTF-8 become \xHH escapes (a file cannot drive a terminal).
std::string printable(std::string_view text);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message, uint64_t offset = kNoOffset);
  ErrorCode code() const noexcept { return code_; }
  uint64_t offset() const noexcept { return offset_; }

 private:
  ErrorCode code_;
  uint64_t offset_;
};

}  // namespace h4mk
H4MK_CXX_API_END
