// decode: a time range of a track through an adapter, to WAV (audio) or raw
// bytes (pictures: planes one after the other; opaque outputs as they come).
#include <cstdio>
#include <cstring>
#include <iostream>

#include "commands.hpp"

namespace h4mk::cli {
namespace {

void put_le(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) out.push_back(uint8_t(v >> (8 * i)));
}

// A canonical 44-byte WAV header (PCM s16 or IEEE float); sizes of 0xFFFFFFFF
// when unknown (standard output), as ffmpeg writes to pipes.
std::vector<uint8_t> wav_header(const DecodedAudio& f, uint64_t data_bytes) {
  const uint32_t bits = f.sample_format == H4MK_SAMPLE_S16 ? 16 : 32;
  const uint32_t block_align = f.channels * bits / 8;
  std::vector<uint8_t> h;
  h.reserve(44);
  auto tag = [&](const char* t) {
    for (int i = 0; i < 4; i++) h.push_back(uint8_t(t[i]));
  };
  const bool known = data_bytes <= 0xFFFFFFFFull - 36;
  tag("RIFF");
  put_le(h, known ? 36 + data_bytes : 0xFFFFFFFFull, 4);
  tag("WAVE");
  tag("fmt ");
  put_le(h, 16, 4);
  put_le(h, f.sample_format == H4MK_SAMPLE_S16 ? 1 : 3, 2);
  put_le(h, f.channels, 2);
  put_le(h, f.sample_rate, 4);
  put_le(h, uint64_t(f.sample_rate) * block_align, 4);
  put_le(h, block_align, 2);
  put_le(h, bits, 2);
  tag("data");
  put_le(h, known ? data_bytes : 0xFFFFFFFFull, 4);
  return h;
}

const Track& pick_track(const Reader& r, std::optional<uint16_t> id, const std::string& file) {
  if (id) return require_track(r, *id, file);
  for (const auto& t : r.tracks())
    if (t.codec == "h4core" && !t.adapter.empty()) return t;
  for (const auto& t : r.tracks())
    if (t.codec == "h4core") return t;
  throw Failure{kExitNotFound, file + ": no h4core track; name one with --track"};
}

}  // namespace

int decode(const Options& o, const std::string& file, std::optional<uint16_t> track_id,
           const std::string& adapter_name, const std::string& adapter_options,
           const std::string& from, const std::string& to, const std::string& out,
           const KeySource& key) {
  auto src = open_input(file);
  Reader reader(*src);
  const Track& track = pick_track(reader, track_id, file);
  if (key.given()) reader.set_mask_key(KeyScrub{load_mask_key(key)}.key, track.id);
  if (adapter_name.empty() && track.adapter.empty())
    throw Failure{kExitUsage, file + ": track " + std::to_string(track.id) +
                                  " names no adapter; give --adapter NAME or a plugin path"};
  // A path only from the command line; what the file names is a name.
  std::unique_ptr<ModelAdapter> adapter;
  try {
    const std::string config = adapter_config_json(track);
    adapter = adapter_name.empty() ? load_adapter(track.adapter, adapter_options, config)
                                   : load_user_adapter(adapter_name, adapter_options, config);
  } catch (const Error& e) {
    throw Failure{kExitUsage,
                  (adapter_name.empty() ? file + ": track " + std::to_string(track.id) + ": "
                                        : std::string()) +
                      e.what()};
  }
  const int64_t t0 = from.empty() ? kRangeStart : parse_time(from, track.time_base);
  const int64_t t1 = to.empty() ? kRangeEnd : parse_time(to, track.time_base);
  if (t0 >= t1) throw Failure{kExitUsage, "--from must be before --to"};

  auto sink = open_output(out);
  const bool to_stdout = out == "-";
  nlohmann::ordered_json summary{{"file", file}, {"track", track.id}, {"adapter", adapter->name()}};
  // Audio tracks become WAV; the header is rewritten with the sizes when the
  // output is a file (a FileSink cannot seek, so the file is patched after).
  if (track.kind == TrackKind::kAudio) {
    uint64_t data_bytes = 0;
    bool header_written = false;
    auto audio = stream_audio_range(reader, track.id, t0, t1, *adapter,
                                    [&](const DecodedAudio& f, std::span<const uint8_t> s) {
                                      if (!header_written) {
                                        auto h = wav_header(f, to_stdout ? ~0ull : 0);
                                        sink->write(h);
                                        header_written = true;
                                      }
                                      sink->write(s);
                                      data_bytes += s.size();
                                    });
    if (!header_written) throw Failure{kExitNotFound, file + ": nothing to decode in that range"};
    close_output(*sink);
    if (!to_stdout) {
      auto h = wav_header(audio, data_bytes);
      std::FILE* f = std::fopen(out.c_str(), "r+b");
      if (!f || std::fwrite(h.data(), 1, h.size(), f) != h.size() || std::fclose(f) != 0)
        throw Failure{kExitOutput, out + ": cannot finish the WAV header"};
    }
    const uint32_t frame = audio.channels * (audio.sample_format == H4MK_SAMPLE_S16 ? 2 : 4);
    summary["kind"] = "audio";
    summary["sample_rate"] = audio.sample_rate;
    summary["channels"] = audio.channels;
    summary["sample_format"] = audio.sample_format == H4MK_SAMPLE_S16 ? "s16" : "f32";
    summary["first_sample"] = audio.first_sample;
    summary["samples"] = data_bytes / frame;
    summary["blocks"] = audio.frames;
  } else {
    uint64_t bytes = 0;
    uint64_t frames = decode_range(
        reader, track.id, t0, t1, *adapter, [&](const BlockInfo&, const AdapterOutput& a) {
          if (a.kind == H4MK_OUTPUT_VIDEO) {
            const uint32_t planes = a.pixel_format == H4MK_PIXEL_YUV420P ? 3 : 1;
            for (uint32_t p = 0; p < planes; p++) {
              const uint32_t w = p == 0 ? a.width * (a.pixel_format == H4MK_PIXEL_RGB24 ? 3 : 1)
                                        : (a.width + 1) / 2;
              const uint32_t h = p == 0 ? a.height : (a.height + 1) / 2;
              for (uint32_t y = 0; y < h; y++)
                sink->write({a.planes[p] + size_t(y) * a.linesize[p], w});
              bytes += uint64_t(w) * h;
            }
          } else {
            sink->write({a.data, a.size});
            bytes += a.size;
          }
        });
    close_output(*sink);
    summary["kind"] = track_kind_name(track.kind);
    summary["blocks"] = frames;
    summary["bytes"] = bytes;
  }
  if (o.json)
    std::cout << summary.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: decoded %s track %u with adapter %s to %s\n", file.c_str(),
                 unsigned(track.id), adapter->name().c_str(), out.c_str());
  return kExitOk;
}

}  // namespace h4mk::cli
