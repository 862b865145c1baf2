#include "http_framing.hpp"

#include <algorithm>
#include <cctype>

namespace h4mk::cli::http {

bool equals_caseless(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::string> ambiguous_framing(const Headers& headers, std::string_view version) {
  int content_length = 0, transfer_encoding = 0, host = 0;
  std::string te;
  for (const auto& [name, value] : headers) {
    if (name.empty() || name.find_first_of(" \t") != std::string::npos)
      return "white space in the header name '" + name + "'";
    if (equals_caseless(name, "Content-Length")) content_length++;
    if (equals_caseless(name, "Host")) host++;
    if (equals_caseless(name, "Transfer-Encoding")) {
      transfer_encoding++;
      te = value;
    }
  }
  if (content_length > 1) return "Content-Length is given more than once";
  if (transfer_encoding > 1) return "Transfer-Encoding is given more than once";
  if (transfer_encoding && content_length)
    return "both Transfer-Encoding and Content-Length: the body's length is ambiguous";
  if (transfer_encoding && version != "HTTP/1.1") return "Transfer-Encoding in an HTTP/1.0 request";
  if (transfer_encoding && te != "chunked")
    return "Transfer-Encoding '" + te + "': only 'chunked' is taken";
  if (version == "HTTP/1.1" && host != 1)
    return host ? "Host is given more than once" : "an HTTP/1.1 request without Host";
  return std::nullopt;
}

size_t query_parameters(std::string_view target) {
  const size_t q = target.find('?');
  if (q == std::string_view::npos) return 0;
  const std::string_view query = target.substr(q + 1);
  return 1 + size_t(std::count_if(query.begin(), query.end(),
                                  [](char c) { return c == '&' || c == ';'; }));
}

std::string media_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& ch : out) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace h4mk::cli::http
