#include "http_answer.hpp"

#include <algorithm>
#include <charconv>

#include "http_framing.hpp"

namespace h4mk::cli::http {

namespace {

// The value of line if it is the header `name`, without the blanks around it.
std::optional<std::string_view> header_value(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':' ||
      !equals_caseless(line.substr(0, name.size()), name))
    return std::nullopt;
  std::string_view v = line.substr(name.size() + 1);
  const size_t b = v.find_first_not_of(" \t");
  if (b == std::string_view::npos) return std::string_view();
  v.remove_prefix(b);
  return v.substr(0, v.find_last_not_of(" \t\r\n") + 1);
}

// A decimal number of digits only that ends at `end`, read from *at on.
std::optional<uint64_t> number(std::string_view v, size_t* at, char end) {
  const size_t stop = end ? v.find(end, *at) : v.size();
  if (stop == std::string_view::npos || stop == *at) return std::nullopt;
  uint64_t n = 0;
  const auto [ptr, ec] = std::from_chars(v.data() + *at, v.data() + stop, n);
  if (ec != std::errc() || ptr != v.data() + stop) return std::nullopt;
  *at = stop + (end ? 1 : 0);
  return n;
}

}  // namespace

void RangeAnswer::take_line(std::string_view line) {
  if (line.starts_with("HTTP/")) *this = RangeAnswer();  // an answer begins
  if (auto v = header_value(line, "content-range")) content_range = *v;
  if (auto v = header_value(line, "etag")) etag = *v;
  if (auto v = header_value(line, "last-modified")) last_modified = *v;
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  if (value.size() < 6 || !equals_caseless(value.substr(0, 6), "bytes ")) return std::nullopt;
  size_t at = 6;
  // from_chars takes no sign and no blank, and refuses what overflows.
  const auto first = number(value, &at, '-');
  const auto last = first ? number(value, &at, '/') : std::nullopt;
  const auto size = last ? number(value, &at, 0) : std::nullopt;
  if (!size || *first > *last || *last >= *size) return std::nullopt;
  return ContentRange{*first, *last, *size};
}

bool sendable(std::string_view value) {
  return std::all_of(value.begin(), value.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

}  // namespace h4mk::cli::http
