// An encoder's padded last frame, written down as skip samples
// (docs/FORMAT.md §5.4): every writer on libh4mk applies the same rule, so
// every reader trims the same samples from a file, a pipe or a cut file.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "h4mk/track.hpp"

namespace h4mk::detail {

// The samples of one frame of a track whose every block is one whole frame
// (AAC, MP2, MP3, AC-3 or E-AC-3 audio with codec_params.frame_size and a
// sample rate), else 0.
uint32_t whole_frame_samples(const Track& track);

// The samples of padding in a block of such a track lasting `duration`
// ticks: how much less than a frame it lasts, 0 if it lasts a frame (within
// a tick) or its duration is unknown.
int64_t padded_samples(uint32_t frame_samples, uint32_t sample_rate, Rational time_base,
                       int64_t duration);

// `side` with a skip_samples entry (skip 0, discard `padding`) appended into
// `out`, or `side` itself when it already carries skip samples of its own.
std::span<const uint8_t> with_padding(std::span<const uint8_t> side, int64_t padding,
                                      std::vector<uint8_t>& out);

}  // namespace h4mk::detail
