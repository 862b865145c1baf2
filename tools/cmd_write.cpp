// build --demo, pack, repair: commands that write a file.
#include <cstdio>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "demo_content.hpp"

namespace h4mk::cli {

int build_demo(const Options& o, const std::string& out) {
  auto sink = open_output(out);
  demo::DemoStats s = demo::write_demo(*sink);
  close_output(*sink);
  if (o.json)
    std::cout
        << nlohmann::ordered_json{{"file", out}, {"blocks", s.blocks}, {"bytes", s.bytes}}.dump(2)
        << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: wrote %s: %llu blocks, %llu bytes\n", out.c_str(),
                 (unsigned long long)s.blocks, (unsigned long long)s.bytes);
  return kExitOk;
}

// The seeds' video transport export: a raw byte stream cut into opaque blocks
// of block_size bytes, an I block every gop blocks, pts from the frame rate.
int pack(const Options& o, const std::string& raw, const std::string& out, uint32_t block_size,
         const std::string& fps, uint32_t gop, const std::string& track_name) {
  if (block_size == 0) throw Failure{kExitUsage, "--block-size must be positive"};
  if (gop == 0) throw Failure{kExitUsage, "--gop must be positive"};
  if (block_size > (64u << 20)) throw Failure{kExitUsage, "--block-size above 64 MiB"};
  Rational tb = time_base_for_fps(fps);
  auto in = open_input(raw);
  auto sink = open_output(out);
  Writer w(*sink);
  Track t;
  t.id = 1;
  t.kind = TrackKind::kVideo;
  t.codec = "h4core";
  t.time_base = tb;
  t.frame_rate = {tb.den, tb.num};
  t.default_duration = 1;
  t.name = track_name;
  t.adapter = "null";  // decodes back to the same bytes
  t.notes = "video transport: raw bytes in blocks of " + std::to_string(block_size);
  w.add_track(t);
  Progress progress(o, in->size().value_or(0));
  TransportTokenizer tokens(block_size, gop);
  TokenBlock b;
  std::vector<uint8_t> buf(1 << 16);
  uint64_t total = 0;
  auto drain = [&] {
    while (tokens.next(b)) w.write_block({1, b.type, b.pts, b.dts, b.duration}, b.data);
  };
  for (size_t got; (got = in->read(buf)) > 0;) {
    tokens.push({buf.data(), got});
    drain();
    total += got;
    progress.update(total);
  }
  tokens.finish();
  drain();
  const uint64_t n = tokens.blocks();
  w.finish();
  close_output(*sink);
  if (o.json)
    std::cout << nlohmann::ordered_json{{"file", out},
                                        {"blocks", n},
                                        {"payload_bytes", total},
                                        {"bytes", w.bytes_written()}}
                     .dump(2)
              << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "h4mk: packed %llu bytes into %llu blocks (%s)\n",
                 (unsigned long long)total, (unsigned long long)n, out.c_str());
  return kExitOk;
}

int repair(const Options& o, const std::string& in, const std::string& out) {
  auto src = open_input(in);
  auto sink = open_output(out);
  RepairReport rep = h4mk::repair(*src, *sink);
  close_output(*sink);
  nlohmann::ordered_json dropped = nlohmann::ordered_json::array();
  for (const Damage& d : rep.damage)
    dropped.push_back({{"offset", d.offset}, {"length", d.length}, {"message", d.message}});
  if (o.json) {
    std::cout << nlohmann::ordered_json{{"input", in},
                                        {"output", out},
                                        {"blocks_kept", rep.blocks_kept},
                                        {"blocks_rejected", rep.blocks_rejected},
                                        {"dropped", dropped},
                                        {"notes", rep.notes}}
                     .dump(2)
              << "\n";
  } else if (!o.quiet) {
    std::fprintf(stderr, "h4mk: %s -> %s: %llu blocks kept, %zu damaged regions dropped\n",
                 in.c_str(), out.c_str(), (unsigned long long)rep.blocks_kept, rep.damage.size());
    for (const Damage& d : rep.damage) std::fprintf(stderr, "  dropped: %s\n", d.message.c_str());
    for (const std::string& n : rep.notes) std::fprintf(stderr, "  %s\n", n.c_str());
  }
  return kExitOk;
}

}  // namespace h4mk::cli
