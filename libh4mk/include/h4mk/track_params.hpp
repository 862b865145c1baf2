// The registered TRAK members of docs/FORMAT.md §6.1 as typed values:
// codec_params, disposition and the track's side data. Read from and written
// to a track's other members (Track::extra_json), checked here so that every
// program (FFmpeg's glue, the command line, Python) takes the same values
// from the same file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "h4mk/export.h"
#include "h4mk/track.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class FieldOrder : uint8_t { kProgressive, kTT, kBB, kTB, kBT };
enum class ColorRange : uint8_t { kLimited, kFull };

// Absent members are unknown or unset. Each present value is in its
// registered range (§6.1): bit_rate 1..2^63-1, the others 1..2^31-1, colour
// code points 0..255, chroma_location 0..5.
struct CodecParams {
  std::optional<int64_t> bit_rate;
  std::optional<int32_t> bits_per_coded_sample, bits_per_raw_sample, block_align, frame_size,
      encoder_delay, trailing_padding, seek_preroll, video_delay;
  std::optional<Rational> sample_aspect_ratio;
  std::optional<FieldOrder> field_order;
  std::optional<ColorRange> color_range;
  std::optional<uint8_t> color_primaries, color_transfer, color_matrix, chroma_location;
  friend bool operator==(const CodecParams&, const CodecParams&) = default;
};

// Disposition names in bit order (bit i is kDispositionNames[i]).
inline constexpr std::string_view kDispositionNames[] = {
    "default",         "dub",           "original",     "comment",
    "lyrics",          "karaoke",       "forced",       "hearing_impaired",
    "visual_impaired", "clean_effects", "attached_pic", "timed_thumbnails",
    "non_diegetic",    "captions",      "descriptions", "metadata",
    "dependent",       "still_image",   "multilayer"};

struct TrackParams {
  CodecParams codec;
  uint32_t disposition = 0;  // bits as kDispositionNames
  // The track's side data by registered id, each fitting its layout.
  std::map<std::string, std::vector<uint8_t>> side_data;
  friend bool operator==(const TrackParams&, const TrackParams&) = default;
};

// The registered members of a track. A value that does not fit (wrong type,
// out of range, an unknown name, side data that is not base64 or not its
// layout) is left out, and described in *ignored when given: the media
// stays readable.
TrackParams read_track_params(const Track& track, std::vector<std::string>* ignored = nullptr);

// Sets the registered members of track.extra_json to params, replacing what
// it held under codec_params, disposition and side_data. Throws
// Error(kInvalidArgument) naming a value out of its range or side data
// that does not fit its layout.
void write_track_params(Track& track, const TrackParams& params);

}  // namespace h4mk
H4MK_CXX_API_END
