// Reader's state, and the jobs it is split into: the head (file_head.cpp,
// read at open), sequential reading with damage (reader.cpp), the index at
// the end of the file (reader_index.cpp), and seeking and decode chains
// (reader_seek.cpp).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "block_group.hpp"
#include "chunk_reader.hpp"
#include "chunk_stream.hpp"
#include "damage_log.hpp"
#include "file_head.hpp"
#include "group_compression.hpp"
#include "h4mk/mask.hpp"
#include "h4mk/reader.hpp"
#include "seek_table.hpp"
#include "verifying_source.hpp"

namespace h4mk {

using namespace detail;

// Most bytes one read asks for beyond what is needed: sequential read-ahead
// once the file is open, and the span a seek reads at once (see seek()).
inline constexpr uint64_t kMaxReadAhead = 64 * 1024;

struct Reader::Impl {
  std::unique_ptr<VerifyingSource> verifying;  // with ReaderOptions::public_key_pem
  Source& source;
  ReaderOptions opt;
  ChunkStream stream;
  ChunkReader chunks;
  FileHead head;

  std::string veri_json, sign_json;
  std::function<void(const UnknownChunk&)> unknown_handler;  // after the head

  // The group being handed out.
  DecodedGroup group;
  size_t group_pos = 0;
  const uint8_t* group_base = nullptr;
  uint64_t group_chunk_offset = 0;
  uint16_t group_track_slot = 0;  // its track's position in head.tracks
  bool group_damaged = false;     // its CRC failed (salvage_group)
  bool group_expanded = false;    // it was compressed: its payloads are not in the file
  // A group larger than opt.hold_groups_up_to (scan_big_group): decoded in
  // the pass that took its CRC; describe() reads each block from the source.
  struct BigGroup {
    bool pending = false;  // decoded, for parse_group of the chunk at `offset`
    uint64_t offset = 0;
    std::optional<Error> error;  // what decoding it threw
    uint8_t head[kGroupHeaderSize];
    DecodedGroup group;  // becomes `group` when parse_group takes it
  } big;
  bool group_streamed = false;  // the group being handed out is one
  // The group seek_all landed in, kept decoded while reading goes back to
  // the other tracks' groups before it: when reading reaches its chunk with
  // the stream's window unchanged, it is taken as it is instead of having
  // its CRC checked and its records decoded a second time.
  struct ParkedGroup {
    bool set = false;
    uint64_t offset = 0;      // of its chunk
    uint64_t total = 0;       // the chunk's bytes
    uint32_t crc = 0;         // the chunk's CRC
    uint64_t generation = 0;  // the stream's, when parked
    const uint8_t* base = nullptr;
    uint16_t track_slot = 0;
    DecodedGroup group;
  } parked;
  uint64_t group_chunk_total = 0;  // the current group's chunk: its bytes
  std::vector<uint8_t> block_buf;
  size_t block_buf_pos = SIZE_MAX;  // the block of the group block_buf holds
  GroupExpander expander;
  bool hand_out_damaged = false;  // Reader::hand_out_damaged_groups
  bool at_end = false;

  // Where a track resumes after seek_all: its blocks before that point are
  // skipped.
  struct ResumePoint {
    enum Kind {
      kAtBlock,       // at (chunk_offset, index)
      kInEntryGroup,  // in the group at chunk_offset, decided when it is read
      kByTime,        // at the first I block presenting at or after t
    } kind;
    uint64_t chunk_offset;
    uint32_t index;
    int64_t t;
  };
  // A track's last group read since the last reposition: its last dts and
  // its chunk CRC.
  struct LastGroup {
    int64_t dts;
    uint32_t crc;
  };
  // Where reading stands in each track, by its slot in head.tracks (a
  // vector: a seek clears it without freeing or allocating). `resuming`
  // counts the resume points still set; with none, next() checks nothing.
  struct TrackCursor {
    std::optional<LastGroup> last_group;
    std::optional<ResumePoint> resume;
  };
  std::vector<TrackCursor> cursors;
  size_t resuming = 0;

  DamageLog damage;

  // Unmasking (set_mask_key): one cipher per keyed track, one reused buffer.
  std::unordered_map<uint16_t, std::unique_ptr<BlockMasker>> maskers;
  mutable std::vector<uint8_t> unmask_buf;

  enum class IndexState { kUnknown, kLoaded, kAbsent };
  IndexState index_state = IndexState::kUnknown;
  uint64_t index_offset = 0;  // where the CORE region ends, once the index is loaded
  std::map<uint16_t, SeekTable> tables;

  Impl(Source& s, ReaderOptions o);

  const Track* track(uint16_t id) const { return head.track(id); }
  const Track& require_track(uint16_t id) const {
    const Track* t = track(id);
    if (!t) throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(id));
    return *t;
  }

  void record(uint64_t offset, uint64_t length, ErrorCode code, std::string message) {
    damage.add({offset, length, code, std::move(message)});
  }

  // --- sequential reading (reader.cpp) ---

  // Skips a bad chunk: scans to the next valid chunk and records the region.
  void skip_bad_chunk(const ChunkView& v);

  // The CORE chunk a cut file ends in (hand_out_damaged_groups): the blocks
  // it holds whole are handed out marked damaged, as matroska hands out the
  // blocks before a cut; its CRC cannot be checked. Only once the scan has
  // found nothing valid after it, so a chunk whose size field was damaged is
  // not taken for a cut, and at most once per file: the bytes are read
  // again from the chunk (still in the window on a pipe: nothing was read
  // past the end).
  void salvage_cut_group(const ChunkView& v);

  [[noreturn]] static void throw_undeclared(uint64_t offset, uint16_t track_id);

  // The chunk at the current position, as ChunkReader::peek_chunk gives it,
  // but a CORE chunk too big to hold is scanned instead (scan_big_group):
  // then the view's payload is just the group header, and the stream is
  // past the chunk. Either way, a chunk is left with pass(v) or, when bad,
  // skip_bad_chunk(v).
  ChunkStatus read_chunk(ChunkView& v);

  void pass(const ChunkView& v) { stream.seek(v.offset + v.total()); }

  // The first pass over a group too big to hold: its records decoded into
  // big.group (or the error that stopped them kept for parse_group) and its CRC
  // checked, a piece at a time. Nothing when the chunk at the current
  // position is not such a group, or the source cannot be read again.
  std::optional<ChunkStatus> scan_big_group(ChunkView& v);

  // Parses the group of a CORE chunk (throws Error naming what is wrong);
  // `cut`: `payload` is what a cut file holds of it (decode_cut_group).
  void parse_group(const ChunkView& v) { parse_group(v, v.payload, false); }
  void parse_group(const ChunkView& v, std::span<const uint8_t> payload, bool cut);
  // parse_group, a group that does not parse cleared and its error returned.
  std::optional<Error> try_parse_group(const ChunkView& v);

  // Keeps the current group for take_parked_group, if it lives in the
  // stream's window (not expanded, not read block by block) and its CRC
  // held (its track's cursor has the CRC).
  void park_group();

  // The parked group as the current one, when reading is at its chunk and
  // the bytes it was checked and decoded from are still where they were.
  // A group that would go back in time is left to parse_group to report.
  bool take_parked_group();

  // Parses the CORE chunk into the current group and moves past it. A bad
  // group is cleared and its error returned, recorded nowhere: seeking probes
  // groups, and their damage is reported when sequential reading reaches it.
  std::optional<Error> take_group(const ChunkView& v);

  // take_group for sequential reading: a bad group is damage.
  bool load_group(const ChunkView& v);
  // Reads the CORE chunk at `offset` into the current group (after reading
  // read_ahead bytes from there at once). False if it is not a valid group.
  bool load_group_at(uint64_t offset, size_t read_ahead = 0);

  // A CORE whose CRC fails but whose group parses and keeps the order of
  // §5.5 (hand_out_damaged_groups): reported, and its blocks handed out
  // marked damaged so decoders can conceal what changed. Never a masked
  // track's: an envelope that may have changed is not handed out.
  bool salvage_group(const ChunkView& v);

  // dts never goes back within a track (§5.5): a group that starts before
  // the track's last block read is a duplicated or misplaced chunk, whose
  // blocks must not be handed out a second time or out of order.
  // A group that starts at the track's last dts and has the last group's
  // CRC is that group again: a copy that equal dts alone cannot tell apart.
  bool goes_back(size_t track_slot, int64_t first_dts, uint32_t crc) const;
  void check_order(size_t track_slot, const ChunkView& v) const;

  // Block pos of the current group, unmasked when its track's key is set.
  void describe(size_t pos, Block& out);
  void hand_out(Block& out) { describe(group_pos++, out); }

  // A block of a group too big to hold, its side data and payload (which
  // follow each other, §5.2), into block_buf.
  void read_block(size_t pos, const DecodedGroup::Extent& payload,
                  const DecodedGroup::Extent& side);

  void unmask(Block& out) const;
  void set_mask_key(const MaskKey& key, uint16_t id);

  ReadEvent next(Block& out);

  // Moves past a chunk that is not a group, keeping what the reader needs
  // of it; true if the file ends there without its container CRC.
  bool pass_other_chunk(const ChunkView& v);

  // Where reading stands: a seek that fails puts it back (Reader::seek*).
  struct Position {
    bool in_group;  // blocks of the loaded group are still to come
    uint64_t group_offset;
    size_t group_pos;
    uint64_t stream_pos;
    bool at_end;
    std::vector<TrackCursor> cursors;
    size_t resuming;
  };
  Position position() const;
  void restore(const Position& p);

  // Runs a seek; if it throws, reading is where it was before (on a pipe
  // too: what a seek there moves over is still in the stream's window).
  template <class F>
  auto unchanged_on_failure(F&& seek) {
    Position before = position();
    try {
      return seek();
    } catch (...) {
      try {
        restore(before);
      } catch (const Error&) {
        // The source failed again: the seek's own error is the one to tell.
      }
      throw;
    }
  }

  // Reading from `offset` on, every track's cursor cleared.
  void reposition(uint64_t offset);

  // --- the index (reader_index.cpp) ---

  // Loads the index region on first use, then checks the HINT against it.
  void ensure_index();
  void load_index();
  // Once the index is known, a HINT that says otherwise is damage.
  void check_hint_against_index();
  std::optional<TrackSummary> hinted_summary(uint16_t id) const;

  // --- seeking (reader_seek.cpp) ---

  SeekPoint land(size_t index);
  [[noreturn]] void not_found(uint16_t id, int64_t t);

  // The index entry of the track's last group whose first I block has pts
  // <= t (the group holding its last I block with pts <= t), and where its
  // next indexed group, or the end of the CORE region, starts.
  struct EntrySpan {
    const IndexEntry* entry;
    uint64_t next_offset;
  };
  std::optional<EntrySpan> entry_at_or_before(const SeekTable& table, int64_t t) const;

  SeekPoint seek(uint16_t id, int64_t t);
  SeekPoint seek(uint16_t id, int64_t t, SeekMode mode);

  SeekPoint seek_all(uint16_t id, int64_t t, SeekMode mode, BlockInfo* landed_block);

  // Skips the blocks of the current group (one track's) that come before
  // their track's resume point; the point is dropped once a block passes it.
  void skip_to_resume_point();

  // In the loaded group, the group of a track's last index entry with pts <=
  // t: the track resumes at its last I block with pts <= t when that block
  // still presents at t or may have P/B blocks after it that need it (the
  // next block of the group is one, or it ends the group); otherwise by time.
  // A subtitle's blocks stand alone (§6.2): a cue that ended before t is
  // not handed out again, as Matroska's demuxer does not.
  ResumePoint point_in_entry_group(int64_t t) const;

  // Whether block pos of the loaded group presents at or after t. A block
  // of duration 0 (not known: FLAC from NUT) lasts until the next block of
  // its track, when the group holds that block.
  bool presents_in_group(size_t pos, int64_t t) const;

  // The track's index entry (group) holding its last I block with pts <= t
  // (its ticks), if it starts at most kResumeWindowUs before t: a sparse
  // track's long-past block is not worth reading back for.
  const IndexEntry* entry_to_resume_in(const Track& track, int64_t t) const;

  // Reads, in one go, the span seek_all will read from: the other tracks'
  // groups for the landing time (which lies between the first I block of the
  // track's landing group and t; a writer may put them before or after the
  // landing group) to the end of the span seek() reads. Then landing, and
  // going back to where reading starts, cost no further read (a system call,
  // or a range request).
  void prefetch_for_seek_all(uint16_t id, int64_t t);

  // Reads ahead what reading is about to need, in one request. Bytes there
  // that fail verification fail the read that needs them, not this one.
  void prefetch(size_t n);

  struct Probe {
    uint64_t offset;
    int64_t first_dts;
  };
  // The first group of `id` at or after `from` (scanning no further than
  // `limit`), resynchronising from an arbitrary byte offset.
  std::optional<Probe> probe(uint16_t id, uint64_t from, uint64_t limit);

  uint64_t data_end();
  SeekPoint seek_without_index(uint16_t id, int64_t t);

  std::vector<ChainLink> decode_chain(uint16_t id, int64_t t, bool payloads);
};

}  // namespace h4mk
