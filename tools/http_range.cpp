// parse_range: "bytes=a-b", "bytes=a-", "bytes=-n".
#include "http_range.hpp"

#include <cctype>

namespace h4mk::cli {
namespace {

// Digits only, no sign or space; a value beyond 2^64 - 1 becomes 2^64 - 1,
// which every bound below clamps (a last byte past the end means the end).
bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    const auto d = static_cast<uint64_t>(c - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
  }
  return true;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

}  // namespace

RangeRequest parse_range(const std::string& header, uint64_t size) {
  RangeRequest r;
  const std::string h = trim(header);
  if (h.empty()) return r;
  if (h.rfind("bytes=", 0) != 0) return r;  // another unit: ignored (RFC 9110 §14.2)
  const std::string spec = trim(h.substr(6));
  if (spec.find(',') != std::string::npos) return r;  // several ranges: the whole file
  r.kind = RangeRequest::kUnsatisfiable;
  const size_t dash = spec.find('-');
  if (dash == std::string::npos) return r;
  const std::string a = trim(spec.substr(0, dash)), b = trim(spec.substr(dash + 1));
  uint64_t first = 0, last = 0;
  if (a.empty()) {  // suffix: the last n bytes
    if (!parse_u64(b, last) || last == 0 || size == 0) return r;
    r.first = last >= size ? 0 : size - last;
    r.last = size - 1;
  } else {
    if (!parse_u64(a, first) || first >= size) return r;
    if (b.empty()) {
      last = size - 1;
    } else if (!parse_u64(b, last) || last < first) {
      return r;
    }
    r.first = first;
    r.last = last >= size ? size - 1 : last;
  }
  r.kind = RangeRequest::kPart;
  return r;
}

}  // namespace h4mk::cli
