// Buffered, position-tracking reading over a Source. Chunk payloads are read
// into one reusable window so a group's blocks can be handed out as views
// without copying; the window never grows beyond twice the bytes actually
// present or the size the source reports (plus 64 KiB, and the read-ahead
// limit: 256 KiB at most in libh4mk), whatever sizes a hostile file claims.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "crc32.hpp"
#include "h4mk/io.hpp"

namespace h4mk::detail {

class ChunkStream {
 public:
  explicit ChunkStream(Source& source);

  uint64_t position() const { return window_offset_; }  // file offset of data()[0]
  size_t available() const { return end_ - start_; }
  const uint8_t* data() const { return buf_.get() + start_; }

  // Tries to make n bytes available; returns how many are (fewer only at end).
  // Invalidates pointers previously obtained from data().
  size_t fill(size_t n);
  void consume(size_t n);
  // The same, for bytes whose CRC the caller already took: run on from
  // crc_from over them, it gave crc_to.
  void consume(size_t n, uint32_t crc_from, uint32_t crc_to);
  // Moves to an absolute offset. Backward moves need a seekable source or a
  // target still inside the window; forward moves on pipes read and discard.
  void seek(uint64_t offset);
  // Reads bytes elsewhere in the file without disturbing the window.
  // Returns false if the source ends first. Seekable sources only.
  bool read_at(uint64_t offset, size_t n, std::vector<uint8_t>& out);

  // Sequential read-ahead: each read from the source then asks for more than
  // the caller needs, starting small after opening or a seek and doubling up
  // to `limit`, and never past the size the source reported (so a live or
  // growing source is never waited on for bytes it has not produced).
  void enable_read_ahead(size_t limit) {
    read_ahead_limit_ = limit;
    read_ahead_ = 0;
  }

  // Counts the times bytes in the buffer were moved or dropped: a pointer
  // from data() stays valid while this is unchanged.
  uint64_t generation() const { return generation_; }

  bool seekable() const { return source_.seekable(); }
  std::optional<uint64_t> size() const { return size_; }
  uint64_t bytes_read() const { return bytes_read_; }

  // A running CRC-32 of every consumed byte (used by verify). Turn it on
  // before consuming anything.
  void track_crc(bool on) { track_crc_ = on; }
  bool tracking_crc() const { return track_crc_; }
  uint32_t consumed_crc();

 private:
  Source& source_;
  std::optional<uint64_t> size_;
  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0;
  size_t start_ = 0;
  size_t end_ = 0;
  uint64_t window_offset_ = 0;
  uint64_t generation_ = 0;
  bool at_eof_ = false;
  uint64_t bytes_read_ = 0;
  size_t read_ahead_limit_ = 0;
  size_t read_ahead_ = 0;  // extra bytes the next source read asks for
  void fold_consumed_crc();
  bool track_crc_ = false;
  uint32_t crc_ = 0;
  CrcJoin crc_join_;
  size_t crc_pending_ = 0;  // consumed bytes, still in the window, not yet in crc_
};

}  // namespace h4mk::detail
