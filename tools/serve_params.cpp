#include "serve_params.hpp"

#include <cerrno>
#include <cstdlib>

namespace h4mk::cli::serve_params {

using http::HttpError;

std::string text(const http::Request& req, const char* key, bool required) {
  const std::string* v = req.param(key);
  if (!v) {
    if (required) throw HttpError{400, std::string("missing parameter ") + key};
    return {};
  }
  return *v;
}

uint64_t number(const http::Request& req, const char* key, uint64_t max) {
  const std::string v = text(req, key, true);
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end || errno || v[0] == '-' || v[0] == '+' || v[0] == ' ' || n > max)
    throw HttpError{400, std::string("parameter ") + key + "=" + v + " is not an integer in [0, " +
                             std::to_string(max) + "]"};
  return n;
}

bool flag(const http::Request& req, const char* key) {
  const std::string* v = req.param(key);
  if (!v) return false;
  // "True"/"False" as Python's requests sends a bool.
  if (*v == "1" || *v == "true" || *v == "True") return true;
  if (*v == "0" || *v == "false" || *v == "False") return false;
  throw HttpError{400, std::string("parameter ") + key + "=" + *v + " is not true/false/1/0"};
}

int64_t time(const http::Request& req, const char* key, const Track& t) {
  try {
    return parse_time(text(req, key, true), t.time_base);
  } catch (const Failure& f) {
    throw HttpError{400, std::string("parameter ") + key + ": " + f.message};
  }
}

const Track& track(const Reader& r, const http::Request& req) {
  auto id = static_cast<uint16_t>(number(req, "track", 65535));
  const Track* t = r.track(id);
  if (!t) throw HttpError{404, "no track " + std::to_string(id)};
  return *t;
}

}  // namespace h4mk::cli::serve_params
