// A track as declared in the TRAK chunk.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "h4mk/export.h"
#include "h4mk/mask.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class TrackKind { kAudio, kVideo, kData, kSubtitle, kControl };

const char* track_kind_name(TrackKind kind) noexcept;
// Throws Error(kCorrupt) for a name that is not one of the five kinds.
TrackKind track_kind_from_name(const std::string& name);

// An adapter a file may name (TRAK "adapter", docs/FORMAT.md §17.1): 1 to 32
// of a-z 0-9 '_' '-', starting with a letter or digit. Never a path: what a
// file names is looked up only in trusted directories.
inline constexpr size_t kMaxAdapterName = 32;
bool is_adapter_name(std::string_view name) noexcept;

struct Rational {
  int64_t num = 0;
  int64_t den = 0;
  friend bool operator==(const Rational&, const Rational&) = default;
};

// Per-group zstd compression of a track (TRAK "compression", docs/FORMAT.md
// §5.7). Never on a masked track: an envelope does not compress.
struct TrackCompression {
  // The track's zstd dictionary (its DICT chunk); empty: none. At most
  // kMaxDictionaryBytes.
  std::vector<uint8_t> dictionary;
  // zstd level the writer compresses at (1..19); not stored in the file.
  int level = 3;
  friend bool operator==(const TrackCompression&, const TrackCompression&) = default;
};
inline constexpr size_t kMaxDictionaryBytes = 1u << 20;

// The format's ceiling on a decode chain: the blocks of a track from an I
// block up to a block that depends on it (docs/FORMAT.md §12.1).
inline constexpr uint32_t kMaxChainBlocks = 65536;

struct Track {
  uint16_t id = 0;  // 1..65535
  TrackKind kind = TrackKind::kData;
  std::string codec = "h4core";  // FFmpeg codec name, or h4core for opaque payloads
  Rational time_base{1, 1000};   // both > 0 and <= INT32_MAX

  // Optional fields: empty / zero means "absent" and is not written.
  std::string name;
  std::string language;
  std::string channel_layout;
  std::string adapter;  // decode adapter for h4core payloads (is_adapter_name)
  uint32_t sample_rate = 0;
  uint32_t channels = 0;
  uint32_t width = 0;
  uint32_t height = 0;
  Rational frame_rate{0, 0};
  int64_t default_duration = 0;  // in time_base ticks; 0 = none
  // TRAK "max_chain_blocks": no decode chain of the track is longer
  // (1..kMaxChainBlocks; 0 = absent, the ceiling). Writers enforce it.
  uint32_t max_chain_blocks = 0;
  std::vector<uint8_t> extradata;
  std::string notes;
  std::map<std::string, std::string> tags;  // per-track user metadata
  // Masking parameters (TRAK "mask"): blocks flagged masked are h4mask
  // envelopes made with them. Never key material.
  std::optional<TrackMask> mask;
  // Groups of this track may be zstd-compressed (the writer compresses each
  // group that shrinks; readers decompress transparently).
  std::optional<TrackCompression> compression;
  // Any other members of the track object, as JSON object text ("" = none).
  // Unknown keys read from a file are kept here, so a remux preserves them.
  std::string extra_json;

  // The longest decode chain the track may hold.
  uint32_t chain_bound() const { return max_chain_blocks ? max_chain_blocks : kMaxChainBlocks; }

  friend bool operator==(const Track&, const Track&) = default;
};

// The config_json an adapter is created with: the track's TRAK object.
std::string adapter_config_json(const Track& track);

}  // namespace h4mk
H4MK_CXX_API_END
