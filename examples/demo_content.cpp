// The built-in demo stream (the seeds' mt_build): 10 s of 16-byte model
// tokens at 50 Hz and I/P/B geometry blocks at 30 fps in decode order.
#include "demo_content.hpp"

namespace h4mk::demo {

DemoStats write_demo(Sink& sink) {
  Writer w(sink);
  Track tokens;
  tokens.id = 1;
  tokens.kind = TrackKind::kAudio;
  tokens.codec = "h4core";
  tokens.time_base = {1, 1000};
  tokens.default_duration = 20;
  tokens.sample_rate = 48000;
  tokens.channels = 1;
  tokens.adapter = "null";
  tokens.name = "model tokens";
  Track video;
  video.id = 2;
  video.kind = TrackKind::kVideo;
  video.codec = "h4core";
  video.time_base = {1, 30};
  video.default_duration = 1;
  video.width = 64;
  video.height = 64;
  video.name = "geometry";
  w.add_track(tokens);
  w.add_track(video);
  w.set_metadata("title", "h4mk demo");
  w.set_safe_json(R"({"policy":"transport_only"})");
  w.set_note("10 s of 16-byte tokens at 50 Hz and I/P/B geometry blocks at 30 fps");

  // 10 s: tokens every 20 ms; video GOPs of 6 frames in decode order I P B P B P.
  std::vector<uint8_t> payload(256);
  int frame = 0, decode_index = 0;
  for (int ms = 0; ms < 10000; ms += 20) {
    for (auto& b : payload) b = uint8_t(ms + (&b - payload.data()));
    w.write_block({1, BlockType::kI, ms, ms, 20}, {payload.data(), 16});
    while (frame * 1000 / 30 <= ms) {
      int g = frame % 6;
      // I0 P2 B1 P4 B3 P5: anchors first, then the B between them.
      static const int order[6] = {0, 2, 1, 4, 3, 5};
      static const BlockType type[6] = {BlockType::kI, BlockType::kP, BlockType::kB,
                                        BlockType::kP, BlockType::kB, BlockType::kP};
      int pts = frame - g + order[g];
      w.write_block({2, type[g], pts, decode_index - 1, 1, false, type[g] == BlockType::kB},
                    {payload.data(), size_t(40 + g * 10)});
      ++frame;
      ++decode_index;
    }
  }
  w.finish();
  return {w.blocks_written(), w.bytes_written()};
}

}  // namespace h4mk::demo
