// Block group decoding: a CORE payload must decode within its bounds or be
// rejected; what decodes re-encodes to a group that decodes the same.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../libh4mk/src/block_group.hpp"
#include "h4mk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  using namespace h4mk::detail;
  if (size < 8) return 0;
  const int64_t default_duration = int64_t(data[0]);  // first byte: the track default
  std::span<const uint8_t> payload(data + 1, size - 1);
  std::vector<DecodedBlock> blocks;
  try {
    GroupHeader g = decode_group(payload, default_duration, 65536, 0, blocks);
    std::vector<PendingBlock> pending;
    std::vector<uint8_t> bytes;
    for (const DecodedBlock& b : blocks) {
      if (b.offset + uint64_t(b.size) > payload.size()) __builtin_trap();
      pending.push_back({b.info, b.size, b.side_size});
      bytes.insert(bytes.end(), payload.begin() + b.side_offset,
                   payload.begin() + b.side_offset + b.side_size);
      bytes.insert(bytes.end(), payload.begin() + b.offset, payload.begin() + b.offset + b.size);
    }
    std::vector<uint8_t> encoded;
    encode_group(g.track_id, default_duration, pending, bytes, encoded);
    std::vector<DecodedBlock> again;
    decode_group(encoded, default_duration, 65536, 0, again);
    if (again.size() != blocks.size()) __builtin_trap();
    for (size_t i = 0; i < blocks.size(); ++i)
      if (!(again[i].info == blocks[i].info) || again[i].size != blocks[i].size) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
