#include "padded_frame.hpp"

#include <array>
#include <string_view>

#include "h4mk/side_data.hpp"
#include "h4mk/side_data_layout.hpp"
#include "h4mk/track_params.hpp"
#include "rescale.hpp"

namespace h4mk::detail {
namespace {

// Codecs whose every packet is one frame of frame_size samples: a packet that
// lasts less holds padding. (Opus and Vorbis packets vary in length.)
constexpr std::array<std::string_view, 5> kWholeFrameCodecs = {"aac", "mp2", "mp3", "ac3", "eac3"};

constexpr std::string_view kSkipSamples = "skip_samples";

// ticks (not negative) of tb in samples at `rate`, to the nearest, as
// libavformat rescales.
int64_t in_samples(int64_t ticks, Rational tb, uint32_t rate) {
  return rescale(ticks, tb, Rational{1, rate}, Round::kNearest);
}

}  // namespace

uint32_t whole_frame_samples(const Track& track) {
  if (track.kind != TrackKind::kAudio || track.sample_rate == 0) return 0;
  bool listed = false;
  for (std::string_view c : kWholeFrameCodecs) listed = listed || track.codec == c;
  if (!listed) return 0;
  const std::optional<int32_t> size = read_track_params(track).codec.frame_size;
  return size && *size > 0 ? uint32_t(*size) : 0;
}

int64_t padded_samples(uint32_t frame_samples, uint32_t sample_rate, Rational time_base,
                       int64_t duration) {
  if (frame_samples == 0 || sample_rate == 0 || duration <= 0 || duration >= INT64_MAX - 1)
    return 0;
  // A time base that cannot hold a whole frame (MPEG-TS's 1/90000) leaves
  // durations up to a tick short of it, which is no padding. Where a tick is
  // longer than a sample (matroska's milliseconds), the frame is taken to
  // last to the end of the tick after its duration: no real sample is
  // dropped, at most a tick of padding is kept.
  const bool coarse = Int128(time_base.num) * sample_rate > time_base.den;
  const int64_t length = in_samples(coarse ? duration + 1 : duration, time_base, sample_rate);
  if (length <= 0 || length >= frame_samples ||
      in_samples(duration + 1, time_base, sample_rate) >= frame_samples)
    return 0;
  return frame_samples - length;
}

std::span<const uint8_t> with_padding(std::span<const uint8_t> side, int64_t padding,
                                      std::vector<uint8_t>& out) {
  size_t pos = 0;
  SideDataEntry e;
  while (next_side_data(side, pos, e))
    if (e.key == kSkipSamples) return side;
  // skip 0, discard `padding`, no reasons, in the registry's layout (§6.1)
  static const SideDataLayout& layout = *find_side_data_layout(kSkipSamples);
  const int64_t values[] = {0, padding, 0, 0};
  out.assign(side.begin(), side.end());
  append_side_data(out, kSkipSamples, write_side_data_values(layout, values));
  return out;
}

}  // namespace h4mk::detail
