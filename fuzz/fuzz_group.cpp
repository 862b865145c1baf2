// Block group decoding: a CORE payload must decode within its bounds or be
// rejected; what decodes re-encodes to a group that decodes the same; verify's
// summarize_group accepts and rejects exactly what decode_group does, and its
// summary (span, keys, decode chains) is the decoded blocks'; a seek's
// landing block in a DecodedGroup is the one a scan of the blocks finds; a
// cut group (decode_cut_group on a prefix) gives exactly the blocks of the
// whole group that end before the cut, and stays within the prefix.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
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
  std::string summary_error, decode_error;
  GroupSummary s{};
  try {
    s = summarize_group(payload, default_duration, 65536, 0);
  } catch (const Error& e) {
    summary_error = e.what();
  }
  try {
    decode_group(payload, default_duration, 65536, 0, blocks);
  } catch (const Error& e) {
    decode_error = e.what();
  }
  if (summary_error != decode_error) __builtin_trap();
  if (decode_error.empty()) {
    // The summary is what the decoded blocks say.
    const DecodedBlock* key = nullptr;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    // Chains: blocks before the first I block, the most from one I block to
    // the next, from the last one to the end.
    uint32_t lead = 0, longest = 0, run = 0;
    for (const DecodedBlock& b : blocks) {
      if (b.info.type == BlockType::kI) {
        if (key) longest = std::max(longest, run);
        run = 1;
      } else if (key) {
        ++run;
      } else {
        ++lead;
      }
      if (!key && b.info.type == BlockType::kI) key = &b;
      int64_t end;
      if (__builtin_add_overflow(b.info.pts, b.info.duration, &end)) end = INT64_MAX;
      lo = std::min(lo, b.info.pts);
      hi = std::max(hi, end);
    }
    if (s.header.block_count != blocks.size() || s.has_key != (key != nullptr) ||
        (key && s.first_key_pts != key->info.pts) || s.min_pts != lo || s.max_end != hi ||
        s.first_dts != blocks.front().info.dts || s.last_dts != blocks.back().info.dts ||
        s.lead != lead || s.longest != longest || s.run != run)
      __builtin_trap();
    DecodedGroup group;
    decode_group(payload, default_duration, 65536, 0, group);
    // Cut at a point the input picks (its last byte), and at the end of the
    // first and the last block's payload.
    for (size_t cut : {size_t(data[size - 1]) * payload.size() / 256,
                       size_t(blocks.front().offset + blocks.front().size),
                       size_t(blocks.back().offset + blocks.back().size)}) {
      size_t whole = 0;
      while (whole < blocks.size() && blocks[whole].offset + uint64_t(blocks[whole].size) <= cut)
        ++whole;
      DecodedGroup cut_group;
      try {
        decode_cut_group(payload.first(cut), default_duration, 65536, 0, cut_group);
      } catch (const Error&) {
        if (whole != 0) __builtin_trap();
        continue;
      }
      if (cut_group.size() != whole) __builtin_trap();
      for (size_t i = 0; i < whole; ++i) {
        const DecodedBlock c = cut_group.block(i);
        if (!(c.info == blocks[i].info) || c.offset != blocks[i].offset ||
            c.size != blocks[i].size || c.offset + uint64_t(c.size) > cut)
          __builtin_trap();
      }
    }
    const int64_t below = lo == INT64_MIN ? lo : lo - 1;
    const int64_t middle = lo + int64_t((uint64_t(hi) - uint64_t(lo)) / 2);  // hi >= lo
    for (int64_t t : {INT64_MIN, INT64_MAX, lo, below, hi, blocks.back().info.pts, middle}) {
      long want = -1;
      for (size_t i = 0; i < blocks.size(); ++i)
        if (blocks[i].info.type == BlockType::kI && blocks[i].info.pts <= t) want = long(i);
      if (group.last_key_at_or_before(t) != want) __builtin_trap();
    }
  }
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
