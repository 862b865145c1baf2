#include "h4mk/codec_ids.hpp"

#include <algorithm>
#include <iterator>

namespace h4mk {
namespace {

constexpr std::string_view kIds[] = {
    "h264",         "hevc",         "vvc",        "av1",          "vp8",
    "vp9",          "mpeg1video",   "mpeg2video", "mpeg4",        "h263",
    "vc1",          "theora",       "mjpeg",      "png",          "prores",
    "dnxhd",        "ffv1",         "rawvideo",   "aac",          "opus",
    "vorbis",       "flac",         "alac",       "mp3",          "mp2",
    "ac3",          "eac3",         "dts",        "truehd",       "wavpack",
    "speex",        "amr_nb",       "amr_wb",     "pcm_u8",       "pcm_s16le",
    "pcm_s16be",    "pcm_s24le",    "pcm_s24be",  "pcm_s32le",    "pcm_s32be",
    "pcm_f32le",    "pcm_f64le",    "pcm_alaw",   "pcm_mulaw",    "subrip",
    "ass",          "webvtt",       "mov_text",   "dvd_subtitle", "hdmv_pgs_subtitle",
    "dvb_subtitle", "dvb_teletext", "eia_608",    "h4core",
};

}  // namespace

std::span<const std::string_view> registered_codec_ids() noexcept { return kIds; }

bool is_registered_codec(std::string_view id) noexcept {
  return std::find(std::begin(kIds), std::end(kIds), id) != std::end(kIds);
}

}  // namespace h4mk
