// The dsp adapter's block payload (docs/FORMAT.md §17.4): the top-K bins of
// short-time spectra, quantised in log-magnitude and phase. An I block carries
// two whole frames (its own and the next, which it overlaps with); a P block
// carries the next frame as changes against the previous one.
//
//   u8  version (1)      u8 channels (1..8)     u16 hop (16..8192, even)
//   u8  frames (I: 2, P: 1)
//   per frame, per channel:
//     u16 n_set,   n_set × { u16 bin, u16 log_magnitude, u16 phase }
//     u16 n_clear, n_clear × u16 bin            (always 0 in an I block)
// All integers little-endian; bins are strictly increasing within a list.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace dsp_tokens {

constexpr uint8_t kVersion = 1;
constexpr unsigned kMaxChannels = 8;
constexpr unsigned kMinHop = 16, kMaxHop = 8192;

struct Bin {
  uint16_t log_magnitude = 0;  // round((log2|X| + 32) * 1024), 0 = silence
  uint16_t phase = 0;          // round(arg X / 2π · 65536) mod 65536
  friend bool operator==(const Bin&, const Bin&) = default;
};
using Frame = std::map<uint16_t, Bin>;  // bin index → value; absent = 0

inline Bin quantize(float re, float im) {
  double mag = std::hypot(double(re), double(im));
  double lm = mag > 0 ? std::round((std::log2(mag) + 32.0) * 1024.0) : 0.0;
  lm = lm < 1 ? 0 : lm > 65535 ? 65535 : lm;
  double ph = std::round(std::atan2(double(im), double(re)) / (2 * M_PI) * 65536.0);
  long p = long(ph) % 65536;
  if (p < 0) p += 65536;
  return {uint16_t(lm), uint16_t(p)};
}

inline void dequantize(const Bin& b, float& re, float& im) {
  if (b.log_magnitude == 0) {
    re = im = 0;
    return;
  }
  double mag = std::exp2(b.log_magnitude / 1024.0 - 32.0);
  double ph = b.phase * (2 * M_PI / 65536.0);
  re = float(mag * std::cos(ph));
  im = float(mag * std::sin(ph));
}

struct Header {
  uint8_t channels = 1;
  uint16_t hop = 512;
  uint8_t frames = 2;
};

// --- writing ---
inline void put16(std::vector<uint8_t>& out, unsigned v) {
  out.push_back(uint8_t(v));
  out.push_back(uint8_t(v >> 8));
}

inline void put_header(std::vector<uint8_t>& out, const Header& h) {
  out.push_back(kVersion);
  out.push_back(h.channels);
  put16(out, h.hop);
  out.push_back(h.frames);
}

// A whole frame (I) or the changes from `prev` to `next` (P).
inline void put_frame(std::vector<uint8_t>& out, const Frame* prev, const Frame& next) {
  std::vector<std::pair<uint16_t, Bin>> set;
  std::vector<uint16_t> clear;
  for (const auto& [bin, value] : next) {
    if (prev) {
      auto it = prev->find(bin);
      if (it != prev->end() && it->second == value) continue;
    }
    set.emplace_back(bin, value);
  }
  if (prev)
    for (const auto& [bin, value] : *prev)
      if (!next.count(bin)) clear.push_back(bin);
  put16(out, unsigned(set.size()));
  for (const auto& [bin, value] : set) {
    put16(out, bin);
    put16(out, value.log_magnitude);
    put16(out, value.phase);
  }
  put16(out, unsigned(clear.size()));
  for (uint16_t bin : clear) put16(out, bin);
}

// --- reading (every length and index checked) ---
class Cursor {
 public:
  Cursor(const uint8_t* data, size_t size) : p_(data), end_(data + size), start_(data) {}
  uint8_t u8() {
    need(1);
    return *p_++;
  }
  uint16_t u16() {
    need(2);
    uint16_t v = uint16_t(p_[0] | p_[1] << 8);
    p_ += 2;
    return v;
  }
  bool done() const { return p_ == end_; }
  size_t offset() const { return size_t(p_ - start_); }

 private:
  void need(size_t n) const {
    if (size_t(end_ - p_) < n)
      throw std::runtime_error("payload ends at byte " + std::to_string(offset()) +
                               " inside a field");
  }
  const uint8_t* p_;
  const uint8_t* end_;
  const uint8_t* start_;
};

inline Header get_header(Cursor& c) {
  uint8_t version = c.u8();
  if (version != kVersion)
    throw std::runtime_error("dsp payload version " + std::to_string(version) + " (expected 1)");
  Header h;
  h.channels = c.u8();
  h.hop = c.u16();
  h.frames = c.u8();
  if (h.channels < 1 || h.channels > kMaxChannels)
    throw std::runtime_error("dsp payload with " + std::to_string(h.channels) + " channels");
  if (h.hop < kMinHop || h.hop > kMaxHop || h.hop % 2)
    throw std::runtime_error("dsp payload with hop " + std::to_string(h.hop));
  if (h.frames != 1 && h.frames != 2)
    throw std::runtime_error("dsp payload with " + std::to_string(h.frames) + " frames");
  return h;
}

// Applies one frame record to `frame` (cleared first for a whole frame).
inline void get_frame(Cursor& c, unsigned max_bin, bool whole, Frame& frame) {
  if (whole) frame.clear();
  unsigned n_set = c.u16();
  long last = -1;
  for (unsigned i = 0; i < n_set; i++) {
    uint16_t bin = c.u16();
    Bin v{c.u16(), c.u16()};
    if (bin > max_bin || long(bin) <= last)
      throw std::runtime_error("bin " + std::to_string(bin) + " out of order or above " +
                               std::to_string(max_bin) + " at byte " + std::to_string(c.offset()));
    last = bin;
    frame[bin] = v;
  }
  unsigned n_clear = c.u16();
  if (whole && n_clear)
    throw std::runtime_error("a whole frame with cleared bins at byte " +
                             std::to_string(c.offset()));
  last = -1;
  for (unsigned i = 0; i < n_clear; i++) {
    uint16_t bin = c.u16();
    if (bin > max_bin || long(bin) <= last)
      throw std::runtime_error("cleared bin " + std::to_string(bin) + " out of order or above " +
                               std::to_string(max_bin));
    last = bin;
    frame.erase(bin);
  }
}

}  // namespace dsp_tokens
