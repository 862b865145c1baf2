// TRAK JSON decoding, and re-encoding what decodes; the registered members
// of what decodes read as values, which must write and read back the same;
// the padding a remux of the track would mark stays within a frame; the same
// bytes as text a writer repairs (replace_invalid_utf8) come out as UTF-8 it
// accepts, changed only when they were not UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../libh4mk/src/json_text.hpp"
#include "../libh4mk/src/padded_frame.hpp"
#include "../libh4mk/src/track_json.hpp"
#include "h4mk/error.hpp"
#include "h4mk/track_params.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  std::string text(reinterpret_cast<const char*>(data), size);
  {
    auto [repaired, replaced] = detail::replace_invalid_utf8(text);
    bool valid = true;
    try {
      detail::require_utf8(text, "text");
    } catch (const Error&) {
      valid = false;
    }
    if (valid != (replaced == 0) || (valid && repaired != text)) __builtin_trap();
    try {
      detail::require_utf8(repaired, "repaired text");
    } catch (const Error&) {
      __builtin_trap();
    }
  }
  try {
    auto tracks = detail::decode_tracks(text, 16, ReaderLimits{});
    // Whatever decodes must encode and decode to the same tracks.
    auto again = detail::decode_tracks(detail::encode_tracks(tracks), 16, ReaderLimits{});
    if (again != tracks) __builtin_trap();
    for (Track& t : tracks) {
      const TrackParams p = read_track_params(t);
      write_track_params(t, p);
      if (read_track_params(t) != p) __builtin_trap();
      const uint32_t frame = detail::whole_frame_samples(t);
      for (int64_t d : {int64_t{1}, int64_t(size), t.default_duration, int64_t{1} << 62}) {
        const int64_t pad = detail::padded_samples(frame, t.sample_rate, t.time_base, d);
        if (pad < 0 || (pad > 0 && pad >= int64_t(frame))) __builtin_trap();
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
