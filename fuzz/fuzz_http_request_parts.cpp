// The parts of an HTTP request h4mk serve interprets itself (the rest is
// libmicrohttpd's): the Range header against a file size, and percent-decoding
// of the path and query. Checks what the server relies on: a range it will
// send lies inside the file, and a decoded string holds no NUL and never grows.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../tools/http_range.hpp"
#include "../tools/http_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 8) return 0;
  uint64_t file_size;
  std::memcpy(&file_size, data, 8);
  if (data[0] & 1) file_size &= 0xffff;  // small files as often as huge ones
  const std::string text(reinterpret_cast<const char*>(data + 8), size - 8);

  const h4mk::cli::RangeRequest r = h4mk::cli::parse_range(text, file_size);
  if (r.kind == h4mk::cli::RangeRequest::kPart && (r.first > r.last || r.last >= file_size))
    std::abort();

  std::vector<char> s(text.begin(), text.end());
  s.push_back('\0');
  const size_t before = std::strlen(s.data());
  const size_t after = h4mk::cli::http::percent_decode(s.data());
  if (after > before || std::strlen(s.data()) != after) std::abort();
  // Decoding is what it says: "%41" became "A", other bytes are kept.
  if (text.find('%') == std::string::npos && std::string(s.data()) != text.substr(0, before))
    std::abort();
  return 0;
}
