// Compressed block groups (docs/FORMAT.md §5.7): a CORE payload whose records
// are one zstd frame behind the group header, and the DICT chunk that holds a
// track's dictionary. Compressing and expanding; block_group.cpp decodes the
// expanded bytes as it decodes any group.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "block_group.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/track.hpp"

namespace h4mk::detail {

// After the header: one zstd frame, which declares the size of the records
// it holds as its content size.
inline constexpr size_t kCompressedPrefix = kGroupHeaderSize;
// That size is at most this many times the frame's: expanding a file costs
// at most this per byte stored.
inline constexpr uint64_t kMaxExpansion = 256;
// DICT payload: u16 track_id, u16 reserved (0), the dictionary.
inline constexpr size_t kDictHeaderSize = 4;

struct DictChunk {
  uint16_t track_id;
  std::span<const uint8_t> dictionary;
};
// Throws Error(kCorrupt or kLimitExceeded) naming chunk_offset.
DictChunk decode_dict_chunk(std::span<const uint8_t> payload, uint64_t chunk_offset);
std::vector<uint8_t> encode_dict_chunk(uint16_t track_id, std::span<const uint8_t> dictionary);

// The reader's side: one decompression context, the dictionaries of the
// tracks, and the buffer the last group expanded into.
class GroupExpander {
 public:
  explicit GroupExpander(const ReaderLimits& limits);
  ~GroupExpander();
  GroupExpander(const GroupExpander&) = delete;
  GroupExpander& operator=(const GroupExpander&) = delete;

  void set_dictionary(uint16_t track_id, std::span<const uint8_t> dictionary);
  bool has_dictionary(uint16_t track_id) const;

  // `payload` itself when the group is not compressed. Otherwise the group
  // as it would be stored uncompressed (its header with the compression
  // flags cleared, then the records), in a buffer that stays valid until
  // the next call. `compressed_track`: the group's track declares
  // compression. Throws Error(kCorrupt or kLimitExceeded) naming the chunk.
  std::span<const uint8_t> expand(std::span<const uint8_t> payload, const GroupHeader& header,
                                  bool compressed_track, uint64_t chunk_offset);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ReaderLimits limits_;
};

// The writer's side, for one track.
class GroupCompressor {
 public:
  explicit GroupCompressor(const TrackCompression& c);
  ~GroupCompressor();
  GroupCompressor(const GroupCompressor&) = delete;
  GroupCompressor& operator=(const GroupCompressor&) = delete;

  // `chunk`: a CORE chunk's 12 reserved header bytes and its uncompressed
  // group. Fills `out` likewise with the compressed group and returns true
  // when that is smaller and within kMaxExpansion; false otherwise (the
  // group is stored as it is).
  bool compress(std::span<const uint8_t> chunk, std::vector<uint8_t>& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace h4mk::detail
