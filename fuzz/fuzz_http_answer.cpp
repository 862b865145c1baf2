// What the HTTP client takes from a hostile server's answer (HttpSource):
// header lines from the input's lines, then the Content-Range parser on
// what they left and on the input itself. Checks what the client relies on:
// a range it takes is ordered and inside its size, is digits only and reads
// back from its own text; kept values carry no blank around them and no
// line end after them; a value it would send back holds no control character.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../tools/http_answer.hpp"

namespace {

namespace http = h4mk::cli::http;

void check_range(std::string_view v) {
  const auto r = http::parse_content_range(v);
  if (!r) return;
  if (r->first > r->last || r->last >= r->size) std::abort();
  for (char c : v.substr(6))
    if (!(c >= '0' && c <= '9') && c != '-' && c != '/') std::abort();
  const std::string again = "bytes " + std::to_string(r->first) + "-" + std::to_string(r->last) +
                            "/" + std::to_string(r->size);
  const auto back = http::parse_content_range(again);
  if (!back || back->first != r->first || back->last != r->last || back->size != r->size)
    std::abort();
}

// Without the blanks around it (RFC 9110 §5.6.3) and the line end.
void check_kept(const std::string& v) {
  if (v.empty()) return;
  if (v.front() == ' ' || v.front() == '\t') std::abort();
  for (char end : {' ', '\t', '\r', '\n'})
    if (v.back() == end) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  http::RangeAnswer answer;
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    end = end == std::string_view::npos ? text.size() : end + 1;  // libcurl keeps the LF
    answer.take_line(text.substr(at, end - at));
    at = end;
  }
  for (const std::string* v : {&answer.content_range, &answer.etag, &answer.last_modified})
    check_kept(*v);
  check_range(answer.content_range);
  check_range(text);
  if (http::sendable(text))
    for (char c : text)
      if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) std::abort();
  return 0;
}
