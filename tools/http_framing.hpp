// The framing of a request that h4mk serve checks itself before acting on
// it, beyond what libmicrohttpd checks: where a proxy in front and this
// server could read a request's length or host differently (RFC 9112 §6.3,
// §3.2), how many query parameters it has, and its body's media type.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace h4mk::cli::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Why the request's framing is ambiguous, or nothing: Content-Length or
// Transfer-Encoding given twice or together, a transfer coding other than
// exactly "chunked", chunked in HTTP/1.0, an HTTP/1.1 request without
// exactly one Host, white space in a header name.
std::optional<std::string> ambiguous_framing(const Headers& headers, std::string_view version);

// The number of parameters of a request target's query ("&" and ";"
// separate them); 0 without a query.
size_t query_parameters(std::string_view target);

// A Content-Type's media type, lower-cased, without parameters or the white
// space around it (media types are case-insensitive: RFC 9110 §8.3.1).
std::string media_type(std::string_view content_type);

bool equals_caseless(std::string_view a, std::string_view b);

}  // namespace h4mk::cli::http
