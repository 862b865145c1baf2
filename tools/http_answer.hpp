// What the HTTP client (HttpSource) takes from a server's answer to a range
// request: its Content-Range, ETag and Last-Modified, read from the header
// lines libcurl hands over. A server is as hostile as a file: numbers are
// digits only, checked for overflow, and a validator is sent back only if it
// cannot add a header of its own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace h4mk::cli::http {

// The headers of the last answer read (a redirect's answer is replaced by
// the next one).
struct RangeAnswer {
  std::string content_range, etag, last_modified;

  // One header line, as received: "Name: value\r\n", or a status line.
  void take_line(std::string_view line);
};

// A Content-Range of a complete length: "bytes FIRST-LAST/SIZE" (RFC 9110
// §14.4; the unit in any case), FIRST <= LAST < SIZE.
struct ContentRange {
  uint64_t first, last, size;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

// Whether a field value may be sent back in a header of this client's own
// (RFC 9110 §5.5): no control character but HTAB.
bool sendable(std::string_view value);

}  // namespace h4mk::cli::http
