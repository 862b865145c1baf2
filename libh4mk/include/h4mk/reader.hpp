// Random-access H4MK reader with recovery. Works on non-seekable sources
// (sequential reading only); on seekable ones it uses the tail index when the
// file is complete, and bisection over byte offsets when it is not.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/attachment.hpp"
#include "h4mk/block.hpp"
#include "h4mk/chapter.hpp"
#include "h4mk/error.hpp"
#include "h4mk/export.h"
#include "h4mk/io.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/mask.hpp"
#include "h4mk/track.hpp"
#include "h4mk/unknown_chunk.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct ReaderOptions {
  ReaderLimits limits;
  // A block group larger than this (a CORE payload, in bytes) on a seekable
  // source is not held: one pass over it checks its CRC and decodes its
  // records, and each block is read from the source when it is handed out
  // and checked against the CRC its bytes had in that pass (Error
  // kCrcMismatch when the file changed in between). Memory then follows the
  // largest block, not the group. Compressed groups
  // are expanded whole (FORMAT.md §5.7). 0: every group is held.
  uint32_t hold_groups_up_to = 4u << 20;
  // A trusted Ed25519 public key (PEM). The file must then be signed with a
  // hash tree (docs/FORMAT.md §8.2) by this key: opening checks the
  // signature (Error kAuthFailed for an unsigned file or another key), and
  // every byte the reader uses is checked before it is parsed; bytes that
  // do not match make that read fail with Error(kVerifyFailed) naming them,
  // and no block of theirs is handed out. Needs a seekable source of known
  // size (an HTTP source reads one HASH page more per seek).
  std::string public_key_pem;
};

// A region the reader skipped: a chunk whose CRC failed, a malformed group, or
// the incomplete last chunk of a cut file.
struct Damage {
  uint64_t offset = 0;  // where the bad bytes start
  uint64_t length = 0;  // bytes skipped
  ErrorCode code = ErrorCode::kCorrupt;
  std::string message;  // names the chunk and what is wrong
};

enum class ReadEvent { kBlock, kDamage, kEnd };

struct IndexEntry {
  int64_t pts = 0;      // pts of the group's first I block of the track
  uint64_t offset = 0;  // offset of the CORE chunk header
  friend bool operator==(const IndexEntry&, const IndexEntry&) = default;
};

// Per-track totals stored with the TSEK of a complete file.
struct TrackSummary {
  uint64_t block_count = 0;
  int64_t start_pts = 0;  // smallest pts
  int64_t end_pts = 0;    // largest pts + duration
  friend bool operator==(const TrackSummary&, const TrackSummary&) = default;
};

struct SeekPoint {
  uint16_t track_id = 0;
  int64_t pts = 0;
  int64_t dts = 0;
  uint64_t chunk_offset = 0;
  uint32_t index_in_group = 0;
  friend bool operator==(const SeekPoint&, const SeekPoint&) = default;
};

// One block of a decode chain, with a copy of its payload (unless asked
// for without: then payload is empty and size still says how long it is).
struct ChainLink {
  BlockInfo info;
  uint64_t chunk_offset = 0;
  uint32_t index_in_group = 0;
  size_t size = 0;  // the payload's bytes
  std::vector<uint8_t> payload;
};

// Where a seek lands, relative to the target time t (FFmpeg's BACKWARD, default
// and ANY seeks).
enum class SeekMode {
  kKeyBefore,  // the last I block with pts <= t
  kKeyAfter,   // the first I block with pts >= t
  kAnyBefore,  // the last block with pts <= t among those with dts <= t
};

class Reader {
 public:
  // Reads the file header and the chunks before the first CORE. Throws Error.
  explicit Reader(Source& source, ReaderOptions options = {});
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  uint16_t version_major() const;
  // True when reading with ReaderOptions::public_key_pem: every byte handed
  // out was checked against the signed hash tree.
  bool verified() const;  // 1, or 2 when tracks may be compressed
  uint16_t version_minor() const;
  const ReaderLimits& limits() const;
  const std::vector<Track>& tracks() const;
  const Track* track(uint16_t id) const;
  const std::string& tracks_json() const;    // TRAK payload
  const std::string& metadata_json() const;  // META payload, "" if absent
  const std::string& safe_json() const;      // SAFE payload, "" if absent
  const std::string& note() const;           // NOTE payload, "" if absent
  // From the CHAP chunk; none when it is absent or damaged (then reported).
  const std::vector<Chapter>& chapters() const;
  // From the ATCH chunks before the first CORE, in file order; a damaged one
  // is reported and left out.
  const std::vector<Attachment>& attachments() const;
  uint64_t data_offset() const;  // offset of the first CORE
  // The chunks of unknown tags before the first CORE, in file order, as
  // opening read them: at most 256 (head_unknown_chunks_unlisted() counts
  // the rest), the payloads of those safe to copy held while they come to
  // at most 1 MiB in all (the others, and those past it, have held false).
  std::span<const UnknownChunk> head_unknown_chunks() const;
  uint64_t head_unknown_chunks_unlisted() const;
  // From now on, each chunk of an unknown tag that next() passes after the
  // first CORE goes to `handler` (its payload valid during the call), in
  // file order: between the blocks of the group before it and those of the
  // group after it. An empty handler stops this.
  void on_unknown_chunk(std::function<void(const UnknownChunk&)> handler);

  // From now on, a CORE whose CRC fails but whose group still parses (and
  // keeps the order of FORMAT.md §5.5) is reported as damage and its blocks
  // are handed out after it with Block::damaged set, so a decoder can
  // conceal the changed bytes (FFmpeg's AV_PKT_FLAG_CORRUPT) instead of
  // losing the group. Never for a masked track. Off by default.
  void hand_out_damaged_groups(bool on = true);

  // --- masked tracks (h4mask)
  // From now on, blocks of the masked track (track_id 0: of every masked
  // track) come out unmasked: data is the plain payload, valid like any
  // block's, and info.masked is false. Throws Error(kKeyMismatch) naming the
  // track and key id when the key is not the one the track was masked with,
  // Error(kNotFound) when track_id names no masked track. A block that then
  // fails authentication makes next() throw Error(kAuthFailed) naming the
  // track, pts and offset; reading can go on with the next block.
  void set_mask_key(const MaskKey& key, uint16_t track_id = 0);
  // Whether a key given to set_mask_key opens the track's blocks.
  bool unmasks(uint16_t track_id) const;

  // --- tail index (loaded on first use; needs a seekable source of known size)
  // True when the file ends in a valid TAIL and its index chunks check.
  bool has_index();
  std::span<const IndexEntry> index(uint16_t track_id);
  // From a filled-in HINT chunk of this file while the index is not loaded
  // (no read at the end; on a pipe, the only source), then from the index.
  // Once the index loads, a HINT that disagrees with it is reported as damage.
  std::optional<TrackSummary> summary(uint16_t track_id);
  const std::string& veri_json();       // VERI payload, "" if absent
  const std::string& signature_json();  // SIGN payload (h4mk/signature.hpp), "" if absent

  // --- sequential reading in file order ---
  ReadEvent next(Block& out);
  // next(), and with a block, the blocks after it in its group whose
  // payloads are stored back to back at one size (a FIXED_SIZE group, §5.3),
  // that share its type (a KEY_FIRST group's I block is a run of its own)
  // and that are handed out as they are stored (no key unmasks them):
  // `count` blocks at once. out describes the first; the i-th has pts (and dts)
  // out.info.pts + i * duration, index_in_group + i, and the i-th
  // out.data.size() / count bytes of out.data as payload. count is 0
  // unless the event is kBlock. For bulk reads of fixed-size frames: a
  // group costs one call rather than one per block.
  ReadEvent next_run(Block& out, uint32_t& count);
  // The block next() would return, without consuming it; false if next()
  // has to read a new chunk first (e.g. right after a group was used up).
  // In a group too big to hold (hold_groups_up_to) it reads the block, and
  // the block handed out before it is no longer valid.
  bool peek(Block& out) const;
  const Damage& last_damage() const;
  // The damage met so far, bounded whatever the file: the first 1000
  // records and the latest 24 (damage_count() says how many in all). Each
  // one is also a kDamage event of next(), where a caller that wants them all
  // takes them as they come.
  const std::vector<Damage>& damage() const;
  uint64_t damage_count() const;
  // Back to the first CORE (seekable sources, or before anything was read).
  void rewind();

  // --- random access (seekable sources) ---
  // Every seek below (and decode_chain) either succeeds or throws with
  // reading left where it was: the next block is the one it would have been.
  bool seekable() const;
  // Positions reading so that next() returns the last I block of the track with
  // pts <= t (in decode order), then everything after it in file order.
  // Throws Error(kNotFound) when there is none. Uses the index when present.
  SeekPoint seek(uint16_t track_id, int64_t t);
  // The same with another landing rule; kKeyAfter and kAnyBefore read forward
  // from the kKeyBefore point (at most to the next I block).
  SeekPoint seek(uint16_t track_id, int64_t t, SeekMode mode);
  // For reading every track on from a time, as a player or FFmpeg does: the
  // track lands as seek(track_id, t, mode) lands, and every other track
  // resumes with the block it needs to present the landing block's time:
  // its last I block with pts at or before that time, when that block still
  // presents then or may have P/B blocks depending on it (and its group
  // starts at most 30 s earlier), else its first I block presenting at or
  // after it. Reading starts at the earliest of these, and blocks of each
  // track before its point are skipped, so no track comes back late or with
  // stale blocks (docs/FORMAT.md §9.5). A track without an index resumes by
  // time only.
  // The next seek, rewind or seek_to_group ends this. `landed_block`, if
  // given, receives the landing block's info (type, duration, flags).
  SeekPoint seek_all(uint16_t track_id, int64_t t, SeekMode mode = SeekMode::kKeyBefore,
                     BlockInfo* landed_block = nullptr);
  // The same answer without the index: bisection over byte offsets with resync.
  SeekPoint seek_without_index(uint16_t track_id, int64_t t);
  // Positions reading at a given group (e.g. an index entry) and block.
  void seek_to_group(uint64_t chunk_offset, uint32_t index_in_group = 0);
  // The minimal decode chain for presenting t (docs/FORMAT.md §17.2), at
  // most limits().max_chain_blocks long (else Error(kLimitExceeded));
  // payloads = false lists it without copying payloads.
  std::vector<ChainLink> decode_chain(uint16_t track_id, int64_t t, bool payloads = true);

  // Bytes requested from the source so far (what opening and seeking cost).
  uint64_t bytes_read() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace h4mk
H4MK_CXX_API_END
