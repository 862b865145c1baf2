// The stream shapes the benchmarks measure (issue targets are stated per shape).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace h4mk::bench {

struct Shape {
  std::string name;
  Track track;
  std::vector<BlockInfo> blocks;
  std::vector<uint32_t> sizes;
  uint64_t payload_bytes = 0;
};

// (a) 16-byte constant-size blocks at 50 Hz, all I.
Shape tokens16(double seconds);
// (b) 41-byte I/P/B blocks at 50 Hz (I every 50, then P and B alternating;
// pts == dts, as model token streams are written).
Shape ipb41(double seconds);
// (b') the same with B blocks reordered (dts != pts), as codecs with B-frames.
Shape ipb41_reordered(double seconds);
// Media-like: 25 Hz, 20,000-byte blocks, I every 25 blocks.
Shape video20k(double seconds);

// Keeps its capacity between runs, so a benchmark measures the writer and
// not the growth of a vector.
class ReusableSink final : public Sink {
 public:
  void write(std::span<const uint8_t> d) override { bytes.insert(bytes.end(), d.begin(), d.end()); }
  std::vector<uint8_t> bytes;
};

void write_to(Sink& sink, const Shape& s, const WriterOptions& o = {});
std::vector<uint8_t> write(const Shape& s, const WriterOptions& o = {});
// The same file through Writer::write_run: runs of up to max_run blocks.
void write_runs_to(Sink& sink, const Shape& s, size_t max_run, const WriterOptions& o = {});
// A payload pool the blocks are cut from.
const std::vector<uint8_t>& payload_pool();

}  // namespace h4mk::bench
