// A track as declared in the TRAK chunk.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "h4mk/mask.hpp"

namespace h4mk {

enum class TrackKind { kAudio, kVideo, kData, kSubtitle, kControl };

const char* track_kind_name(TrackKind kind) noexcept;
// Throws Error(kCorrupt) for a name that is not one of the five kinds.
TrackKind track_kind_from_name(const std::string& name);

struct Rational {
  int64_t num = 0;
  int64_t den = 0;
  friend bool operator==(const Rational&, const Rational&) = default;
};

struct Track {
  uint16_t id = 0;  // 1..65535
  TrackKind kind = TrackKind::kData;
  std::string codec = "h4core";  // FFmpeg codec name, or h4core for opaque payloads
  Rational time_base{1, 1000};   // both > 0 and <= INT32_MAX

  // Optional fields: empty / zero means "absent" and is not written.
  std::string name;
  std::string language;
  std::string channel_layout;
  std::string adapter;  // decode adapter for h4core payloads
  uint32_t sample_rate = 0;
  uint32_t channels = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  Rational frame_rate{0, 0};
  int64_t default_duration = 0;  // in time_base ticks; 0 = none
  std::vector<uint8_t> extradata;
  std::string notes;
  std::map<std::string, std::string> tags;  // per-track user metadata
  // Masking parameters (TRAK "mask"): blocks flagged masked are h4mask
  // envelopes made with them. Never key material.
  std::optional<TrackMask> mask;
  // Any other members of the track object, as JSON object text ("" = none).
  // Unknown keys read from a file are kept here, so a remux preserves them.
  std::string extra_json;

  friend bool operator==(const Track&, const Track&) = default;
};

}  // namespace h4mk
