// What a request to `h4mk serve` asks for: its query and form parameters,
// checked and converted, or an HttpError 400 (404 for a track the file does
// not have) naming the parameter and what it should be.
#pragma once

#include <cstdint>
#include <string>

#include "cli_common.hpp"
#include "http_server.hpp"

namespace h4mk::cli::serve_params {

// The parameter's text; "" when absent and not required.
std::string text(const http::Request& req, const char* key, bool required);
// A decimal integer in [0, max] (no sign, no spaces).
uint64_t number(const http::Request& req, const char* key, uint64_t max);
// true/false/1/0 (and Python's True/False); false when absent.
bool flag(const http::Request& req, const char* key);
// A time in t's ticks ("2.5s", "300ms", ticks).
int64_t time(const http::Request& req, const char* key, const Track& t);
// The track named by the "track" parameter.
const Track& track(const Reader& r, const http::Request& req);

}  // namespace h4mk::cli::serve_params
