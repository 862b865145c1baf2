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

// The bytes of one packed picture (planes back to back, no padding).
inline size_t picture_bytes(int pixel_format, uint32_t width, uint32_t height) {
  const size_t px = size_t(width) * height;
  switch (pixel_format) {
    case H4MK_PIXEL_RGB24:
      return px * 3;
    case H4MK_PIXEL_YUV420P:
      return px + 2 * (size_t((width + 1) / 2) * ((height + 1) / 2));
    default:
      return px;
  }
}

// A video output for a packed picture of picture_bytes() at `data`.
inline void set_picture(h4mk_adapter_output* out, const uint8_t* data, int pixel_format,
                        uint32_t width, uint32_t height) {
  out->kind = H4MK_OUTPUT_VIDEO;
  out->pixel_format = pixel_format;
  out->width = width;
  out->height = height;
  out->data = data;
  out->size = picture_bytes(pixel_format, width, height);
  out->planes[0] = data;
  out->linesize[0] = size_t(width) * (pixel_format == H4MK_PIXEL_RGB24 ? 3 : 1);
  if (pixel_format == H4MK_PIXEL_YUV420P) {
    const size_t cw = (width + 1) / 2, ch = (height + 1) / 2;
    out->planes[1] = data + size_t(width) * height;
    out->planes[2] = out->planes[1] + cw * ch;
    out->linesize[1] = out->linesize[2] = cw;
  }
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
