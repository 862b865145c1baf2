// The parts of an HTTP request h4mk serve interprets itself (the rest is
// libmicrohttpd's): the Range header against a file size, percent-decoding
// of the path and query, the framing checks (headers from the input's lines)
// and the media type. Checks what the server relies on: a range it will send
// lies inside the file, a decoded string holds no NUL and never grows,
// framing it lets through has one length and one host, and a media type is
// lower-case with nothing around it.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../tools/http_framing.hpp"
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

  namespace http = h4mk::cli::http;
  http::Headers headers;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    const size_t colon = line.find(':');
    if (colon != std::string::npos)
      headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    at = end + 1;
  }
  const char* version = data[1] & 1 ? "HTTP/1.1" : "HTTP/1.0";
  if (!http::ambiguous_framing(headers, version)) {
    int lengths = 0, codings = 0, hosts = 0;
    for (const auto& [k, v] : headers) {
      lengths += http::equals_caseless(k, "content-length");
      codings += http::equals_caseless(k, "transfer-encoding");
      hosts += http::equals_caseless(k, "host");
      if (http::equals_caseless(k, "transfer-encoding") && v != "chunked") std::abort();
    }
    if (lengths + codings > 1 || (data[1] & 1 && hosts != 1)) std::abort();
  }
  const std::string media = http::media_type(text);
  for (char c : media)
    if (c == ';' || (c >= 'A' && c <= 'Z')) std::abort();
  if (!media.empty() && (media.front() == ' ' || media.back() == ' ')) std::abort();
  if (text.find('?') == std::string::npos ? http::query_parameters(text) != 0
                                          : http::query_parameters(text) == 0)
    std::abort();
  return 0;
}
