// Decoding a time range of a track through a ModelAdapter (docs/FORMAT.md
// §17.3): the seeds' quick start, with the chain computed by the reader.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "h4mk/adapter.hpp"
#include "h4mk/export.h"
#include "h4mk/reader.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

inline constexpr int64_t kRangeStart = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kRangeEnd = std::numeric_limits<int64_t>::max();

// What decoding may produce for what it reads: at most
// output_per_input_byte bytes of adapter output per payload byte given to
// the adapter, plus output_allowance (docs/FORMAT.md §17.3). Past that,
// Error(kLimitExceeded): a small file cannot decode into gigabytes.
struct DecodeLimits {
  uint64_t output_per_input_byte = 4096;
  uint64_t output_allowance = 64u << 20;
};

// The most an adapter output may hold: channels, a sample rate, a picture's
// side.
inline constexpr uint32_t kMaxAudioChannels = 64;
inline constexpr uint32_t kMaxSampleRate = 1'000'000'000;
inline constexpr uint32_t kMaxPictureSide = 32768;

// Throws Error(kCorrupt) saying what is wrong when an adapter's output is
// not what its kind says (a byte string is opaque): an unknown kind, sample
// or pixel format; channels, rate or picture sides out of their bounds; a
// buffer shorter than the samples or rows it holds, or missing.
// OutputBudget::made checks every output so.
void check_adapter_output(const AdapterOutput& output);

// What a decoder has read and made, against DecodeLimits: decode_range and
// the C chain decoder (FFmpeg's h4core decoders) each keep one.
class OutputBudget {
 public:
  explicit OutputBudget(const DecodeLimits& limits = {}) : limits_(limits) {}
  void read(uint64_t payload_bytes) { input_ += payload_bytes; }
  // Checks an adapter output (check_adapter_output) and counts it (a
  // picture by its planes, else its buffer); throws Error(kLimitExceeded)
  // saying what was made of what once the output passes the limits.
  void made(const AdapterOutput& output);

 private:
  DecodeLimits limits_;
  uint64_t input_ = 0, output_ = 0;
};

// Called once per decoded block, in presentation order. `output` is valid
// during the call only.
using FrameCallback = std::function<void(const BlockInfo& info, const AdapterOutput& output)>;

// Decodes the blocks of `track_id` whose presentation [pts, pts + duration)
// meets [t0, t1) (ticks of the track's time base; a block without a duration
// counts as the instant pts). Starts at the last I block with pts <= t0, feeds
// every block of the track in decode order (I: decode_I, P: apply_P on the
// last anchor, B: apply_B on the two last anchors) and finalizes in
// presentation order. After damage the chain restarts at the next I block:
// blocks that cannot be decoded exactly are skipped, never guessed. Throws
// Error(kInvalidArgument) for a masked block (give the reader the key).
// Returns the number of frames delivered.
uint64_t decode_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                      ModelAdapter& adapter, const FrameCallback& on_frame,
                      const DecodeLimits& limits = {});

// Audio output of a range: exactly the samples of [t0, t1), interleaved.
struct DecodedAudio {
  int sample_format = H4MK_SAMPLE_F32;  // enum h4mk_sample_format
  uint32_t sample_rate = 0;
  uint32_t channels = 0;
  int64_t first_sample = 0;  // index of bytes' first sample (time_base → samples)
  std::vector<uint8_t> bytes;
  uint64_t frames = 0;  // adapter outputs used
};
// Streaming form: `on_samples` gets consecutive interleaved samples (the
// format in `format`, first_sample/bytes/frames not used), gaps filled with
// silence. Returns the same totals as decode_audio_range, without bytes.
using SamplesCallback =
    std::function<void(const DecodedAudio& format, std::span<const uint8_t> interleaved)>;
DecodedAudio stream_audio_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                                ModelAdapter& adapter, const SamplesCallback& on_samples,
                                const DecodeLimits& limits = {});
// For tracks whose adapter outputs audio; a block's samples start at its pts
// converted to samples at the output's rate. Throws Error(kCorrupt) when an
// output is not audio or its format changes within the range.
DecodedAudio decode_audio_range(Reader& reader, uint16_t track_id, int64_t t0, int64_t t1,
                                ModelAdapter& adapter, const DecodeLimits& limits = {});

}  // namespace h4mk
H4MK_CXX_API_END
