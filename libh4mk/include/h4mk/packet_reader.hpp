// The blocks of every track in decode order, as a player or a muxer wants
// them. Groups are per track (docs/FORMAT.md §12.2): in file order a reader
// meets up to one group span of one track before the other tracks' blocks of
// the same time. A PacketReader reads ahead and hands the blocks out in dts
// order across tracks, with memory bounded by its options whatever the file
// or the number of tracks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "h4mk/block.hpp"
#include "h4mk/export.h"
#include "h4mk/reader.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct PacketReaderOptions {
  // Read-ahead bounds: when either is reached, the earliest queued block goes
  // out even if a track might still deliver an earlier one.
  size_t max_queued_packets = size_t{1} << 16;
  size_t max_queued_bytes = size_t{64} << 20;
};

// Where reading goes on after PacketReader::seek.
struct PacketSeek {
  enum class How {
    kLanded,     // at `point` (Reader::seek_all): every track from what it needs there
    kFromStart,  // from the first block of the file: t is at or before the track's first I block
    kByReading,  // a source that cannot seek: reading goes on, and each track drops its
                 // blocks before its first I block presenting at or after t
  } how = How::kLanded;
  SeekPoint point;  // kLanded
  BlockInfo block;  // kLanded: the landing block
};

class PacketReader {
 public:
  // Reads through `reader`, which must outlive it and is not to be read or
  // moved by anyone else meanwhile.
  explicit PacketReader(Reader& reader, PacketReaderOptions options = {});
  ~PacketReader();
  PacketReader(const PacketReader&) = delete;
  PacketReader& operator=(const PacketReader&) = delete;

  // Blocks of a discarded track are dropped as they are read, and the merge
  // does not wait for the track. Error(kNotFound) for a track the file does
  // not declare.
  void set_discarded(uint16_t track_id, bool discarded = true);

  // The next block in dts order across tracks (equal dts: file order). A
  // block goes out once no track can still deliver an earlier one: every
  // track waited for has delivered a later block, or the block lies more than
  // the longest group span seen (at least 1 s) before the latest block read,
  // or a bound is reached, or the file ended. A track waits for nothing once
  // it has delivered the blocks its summary counts (an empty track, from the
  // start). The block's data and side data stay valid until the next call.
  // Damage passes through as it is met (Reader::last_damage()); errors of
  // Reader::next() propagate, and reading may go on after them.
  ReadEvent next(Block& out);

  // Moves reading to time t of a track (its ticks), for reading every track
  // from there. Either it succeeds or it throws with reading unchanged: no
  // queued block is lost. On a seekable source, Reader::seek_all, or from
  // the start when t is at or before the track's first I block (so a seek to
  // 0 keeps audio that starts before the first picture). On a source that
  // cannot seek: forward by reading on, and a time before the latest block
  // handed out throws Error(kNotSeekable).
  PacketSeek seek(uint16_t track_id, int64_t t, SeekMode mode = SeekMode::kKeyBefore);

  size_t queued_packets() const;
  size_t queued_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace h4mk
H4MK_CXX_API_END
