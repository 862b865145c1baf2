// Helpers shared by the adapter plugins in this directory: option strings and
// error reporting across the C ABI (h4mk/adapter.h).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <stdexcept>
#include <string>

#include "h4mk/adapter.h"

namespace h4mk_plugin {

// "key=value:key=value" (FFmpeg's option-string style).
inline std::map<std::string, std::string> parse_options(const char* text) {
  std::map<std::string, std::string> out;
  std::string s = text ? text : "";
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(':', start);
    if (end == std::string::npos) end = s.size();
    std::string item = s.substr(start, end - start);
    if (!item.empty()) {
      size_t eq = item.find('=');
      if (eq == std::string::npos || eq == 0)
        throw std::invalid_argument("option '" + item + "' is not key=value");
      out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    start = end + 1;
  }
  return out;
}

// An integer option within [lo, hi], or its default.
inline long int_option(std::map<std::string, std::string>& opts, const std::string& key, long def,
                       long lo, long hi) {
  auto it = opts.find(key);
  if (it == opts.end()) return def;
  char* end = nullptr;
  long v = std::strtol(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || v < lo || v > hi)
    throw std::invalid_argument("option " + key + "=" + it->second + " is not an integer in [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  opts.erase(it);
  return v;
}

inline void refuse_unknown(const std::map<std::string, std::string>& opts) {
  if (!opts.empty()) throw std::invalid_argument("unknown option '" + opts.begin()->first + "'");
}

inline void copy_error(char* error, size_t size, const std::string& what) {
  if (error && size) std::snprintf(error, size, "%s", what.c_str());
}

// Negative H4MK_ERR_* codes the plugins return (h4mk.h).
constexpr int kErrInvalid = -3;
constexpr int kErrCorrupt = -7;
constexpr int kErrNoMemory = -12;

// Runs body(obj) across the C ABI: its result, or `failure` (kErrNoMemory
// when out of memory) with the message kept in obj.error for last_error().
template <typename Obj, typename F>
int guarded(Obj& obj, int failure, F&& body) {
  try {
    return body(obj);
  } catch (const std::bad_alloc&) {
    obj.error = "out of memory";
    return kErrNoMemory;
  } catch (const std::exception& e) {
    obj.error = e.what();
    return failure;
  }
}

}  // namespace h4mk_plugin
