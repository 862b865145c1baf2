// Compressed groups (docs/FORMAT.md §5.7): whatever a CORE payload claims,
// expanding it stays within kMaxExpansion times its frame and the reader's
// limit, or is refused; what expands decodes (or is refused) as any group;
// and a group compressed by the writer expands to exactly its bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../libh4mk/src/block_group.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/group_compression.hpp"
#include "h4mk/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  using namespace h4mk::detail;
  if (size < 2) return 0;
  // First byte: bit 0, the track has a dictionary: the raw content of the
  // compressed_dictionary vector's.
  const bool with_dict = data[0] & 1;
  std::span<const uint8_t> payload(data + 1, size - 1);
  static const std::vector<uint8_t> dict = [] {
    std::vector<uint8_t> d(128);
    for (size_t i = 0; i < d.size(); ++i) d[i] = uint8_t(i % 8 * 3);
    return d;
  }();
  ReaderLimits limits;
  limits.max_core_chunk = 4u << 20;
  GroupExpander expander(limits);
  std::vector<uint8_t> group;
  try {
    const GroupHeader h = decode_group_header(payload, 0);
    if (with_dict) expander.set_dictionary(h.track_id, dict);
    const auto expanded = expander.expand(payload, h, true, 0);
    if (expanded.size() > kGroupHeaderSize + kMaxExpansion * payload.size()) __builtin_trap();
    if (expanded.size() > limits.max_core_chunk) __builtin_trap();
    if (expanded[2] & (kGroupCompressed | kGroupDictionary)) __builtin_trap();
    group.assign(expanded.begin(), expanded.end());
    DecodedGroup decoded;
    decode_group(group, 1, 65536, 0, decoded);
  } catch (const Error&) {
    if (group.empty()) return 0;
  }
  if (group.empty()) return 0;
  // The writer's side: compressing the expanded group gives one that expands
  // back to it byte for byte (or is stored as it is).
  TrackCompression how;
  if (with_dict) how.dictionary = dict;
  GroupCompressor compressor(how);
  std::vector<uint8_t> chunk(kChunkHeaderSize);
  chunk.insert(chunk.end(), group.begin(), group.end());
  std::vector<uint8_t> out;
  if (!compressor.compress(chunk, out)) return 0;
  const std::span<const uint8_t> again(out.data() + kChunkHeaderSize,
                                       out.size() - kChunkHeaderSize);
  const auto back = expander.expand(again, decode_group_header(again, 0), true, 0);
  if (!std::equal(back.begin(), back.end(), group.begin(), group.end())) __builtin_trap();
  return 0;
}
