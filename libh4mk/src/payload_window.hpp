// A chunk payload too big to hold (a block group past
// ReaderOptions::hold_groups_up_to), read front to back through the
// stream's window a piece at a time, its CRC taken on the way. It is the
// cursor decode_group walks for such a group: the same fields, checks and
// errors as over a payload in memory, with at most a piece (or one block's
// side data) in memory at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "chunk_stream.hpp"

namespace h4mk::detail {

class PayloadWindow {
 public:
  // `stream` is at the payload's first byte; `crc` is the running CRC of
  // the chunk's tag and size, which the payload's bytes continue.
  PayloadWindow(ChunkStream& stream, uint32_t payload_size, uint32_t crc, uint64_t chunk_offset)
      : stream_(stream), size_(payload_size), crc_(crc), chunk_offset_(chunk_offset) {}

  uint32_t payload_size() const { return size_; }
  size_t left() const { return size_ - pos_; }
  uint32_t offset() const { return pos_; }  // from the payload's start

  // The fields of a block record (block_group.cpp's RecordCursor).
  uint8_t flags(uint32_t i);
  uint64_t leb(uint32_t i, const char* field);
  uint32_t size(uint32_t i);
  int64_t duration(uint32_t i);
  void skip_sizes(uint32_t from, uint32_t stop);
  void expect_end() const;

  // The next n bytes (n <= left()), contiguous, without moving past them;
  // valid until the next call.
  std::span<const uint8_t> view(size_t n);
  void skip(size_t n);
  // Reads what is left; the chunk's CRC.
  uint32_t finish();

  // The CRC of each block's bytes (its side data and payload, which follow
  // each other), read between begin_block_bytes and end_block_bytes, in
  // block order: the reader reads such a group's blocks a second time and
  // checks each against what the chunk's CRC covered.
  void begin_block_bytes() { block_crc_ = 0; }
  void end_block_bytes() { block_crcs_.push_back(block_crc_); }
  // count blocks of size bytes each, back to back (FIXED_SIZE).
  void skip_fixed_blocks(uint32_t count, uint32_t size);
  std::vector<uint32_t> take_block_crcs() { return std::move(block_crcs_); }

 private:
  void need(size_t n);
  void advance(size_t n);

  ChunkStream& stream_;
  const uint32_t size_;
  uint32_t pos_ = 0;
  uint32_t crc_;
  const uint64_t chunk_offset_;
  uint32_t block_crc_ = 0;
  std::vector<uint32_t> block_crcs_;
};

}  // namespace h4mk::detail
