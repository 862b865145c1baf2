// check_adapter_output: an adapter's output against what its kind says, so
// that no consumer (decode_range's callers, the C chain decoder, FFmpeg's
// h4core decoders, Python) reads past the buffers an adapter handed out.
#include <string>

#include "h4mk/decode.hpp"
#include "h4mk/error.hpp"

namespace h4mk {
namespace {

[[noreturn]] void bad(const std::string& what) {
  throw Error(ErrorCode::kCorrupt, "the adapter gave " + what);
}

}  // namespace

void check_adapter_output(const AdapterOutput& o) {
  switch (o.kind) {
    case H4MK_OUTPUT_BYTES:  // opaque: Python's adapters give only its size
      return;
    case H4MK_OUTPUT_AUDIO: {
      if (o.sample_format != H4MK_SAMPLE_S16 && o.sample_format != H4MK_SAMPLE_F32)
        bad("sample format " + std::to_string(o.sample_format));
      if (o.channels < 1 || o.channels > kMaxAudioChannels)
        bad(std::to_string(o.channels) + " channels (1.." + std::to_string(kMaxAudioChannels) +
            ")");
      if (o.sample_rate < 1 || o.sample_rate > kMaxSampleRate)
        bad("sample rate " + std::to_string(o.sample_rate));
      const uint64_t need =
          uint64_t(o.nb_samples) * o.channels * (o.sample_format == H4MK_SAMPLE_S16 ? 2 : 4);
      if (o.size < need || (need && !o.data))
        bad(std::to_string(o.nb_samples) + " samples of " + std::to_string(o.channels) +
            " channels in a buffer of " + std::to_string(o.data ? o.size : 0) + " bytes");
      return;
    }
    case H4MK_OUTPUT_VIDEO: {
      if (o.pixel_format != H4MK_PIXEL_GRAY8 && o.pixel_format != H4MK_PIXEL_RGB24 &&
          o.pixel_format != H4MK_PIXEL_YUV420P)
        bad("pixel format " + std::to_string(o.pixel_format));
      if (o.width < 1 || o.height < 1 || o.width > kMaxPictureSide || o.height > kMaxPictureSide)
        bad("a picture of " + std::to_string(o.width) + "x" + std::to_string(o.height) +
            " (sides 1.." + std::to_string(kMaxPictureSide) + ")");
      const int planes = o.pixel_format == H4MK_PIXEL_YUV420P ? 3 : 1;
      for (int p = 0; p < planes; ++p) {
        const uint64_t row = p ? (o.width + 1) / 2
                               : uint64_t(o.width) * (o.pixel_format == H4MK_PIXEL_RGB24 ? 3 : 1);
        if (!o.planes[p] || o.linesize[p] < row)
          bad("plane " + std::to_string(p) + " with " +
              (o.planes[p] ? "rows of " + std::to_string(o.linesize[p]) + " bytes"
                           : std::string("no buffer")) +
              " for " + std::to_string(row) + "-byte rows");
      }
      return;
    }
    default:
      bad("output kind " + std::to_string(o.kind));
  }
}

}  // namespace h4mk
