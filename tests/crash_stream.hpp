// The deterministic stream the crash-safety test writes and then expects back.
#pragma once

#include <cstdint>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace h4mk::test {

inline Track crash_track() {
  Track t;
  t.id = 1;
  t.kind = TrackKind::kAudio;
  t.time_base = {1, 1000};
  t.default_duration = 20;
  return t;
}

inline BlockInfo crash_block_info(int64_t i) {
  return {1, i % 25 == 0 ? BlockType::kI : BlockType::kP, i * 20, i * 20, 20};
}

inline std::vector<uint8_t> crash_block_data(int64_t i) {
  std::vector<uint8_t> d(size_t(20 + (i * 37) % 200));
  for (size_t k = 0; k < d.size(); ++k) d[k] = uint8_t(i * 7 + int64_t(k));
  return d;
}

}  // namespace h4mk::test
