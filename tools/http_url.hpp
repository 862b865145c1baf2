// Percent-decoding of a request's path and query (RFC 3986 §2.1).
#pragma once

#include <cstddef>

namespace h4mk::cli::http {

// Decodes s in place and returns its new length. %00 stays as it is: a decoded
// NUL would end the C string the HTTP library hands on, so "a.h4mk%00.txt"
// would become "a.h4mk"; kept, it matches no route and no parameter value.
// A '%' not followed by two hex digits stays too.
size_t percent_decode(char* s);

}  // namespace h4mk::cli::http
