// One-pass H4MK writer. Never seeks: output to a pipe is byte-identical to
// output to a file. Memory is O(tracks + index entries + one open group per
// track), independent of how many payload bytes pass through.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "h4mk/attachment.hpp"
#include "h4mk/block.hpp"
#include "h4mk/chapter.hpp"
#include "h4mk/export.h"
#include "h4mk/io.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/mask.hpp"
#include "h4mk/track.hpp"
#include "h4mk/unknown_chunk.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct WriterOptions {
  // A track's open group is closed (written) when adding the next block would
  // exceed one of these, or on flush(). A block larger than max_group_bytes is
  // written alone in its own group. With several tracks, a group whose
  // duration is used up closes every open group, densest (blocks per byte)
  // first (docs/FORMAT.md §12.2). At most 256 MiB - 256: no group passes the
  // limit readers hold (ReaderLimits::max_core_chunk), and no larger block is
  // written.
  uint32_t max_group_bytes = 1u << 20;
  uint32_t max_group_blocks = 4096;
  int64_t max_group_duration_us = 2'000'000;  // span of dts within a group
  // With two or more audio or video tracks, groups span at most this (0:
  // off): a reader then meets every track within it, and consecutive blocks'
  // dts never go back by more than it plus one block (players, ffmpeg -re).
  int64_t interleave_duration_us = 500'000;
  bool write_veri = true;  // SHA-256 hash chain chunk
  // Compute the VERI chain on a second thread when the process may run on
  // more than one CPU; the file is the same either way. That thread is not
  // in a child forked while the writer is open: finish the writer in the
  // process that made it (or turn this off).
  bool veri_thread = true;
  bool write_index = true;  // TSEK chunks
  // A P or B block that would make a decode chain longer than this (or
  // than the track's Track::max_chain_blocks) is refused; a bound below the
  // format's 65536 is declared in each track's TRAK entry.
  uint32_t max_chain_blocks = kMaxChainBlocks;
  // Skip samples for an encoder's padded frame (write_block, FORMAT.md
  // §5.4). Off in rewrite_options(): a rewrite changes no block's side data.
  bool mark_padding = true;
};

class Writer {
 public:
  explicit Writer(Sink& sink, WriterOptions options = {});
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // --- before the first block ---
  void add_track(const Track& track);
  // A declared track as it stands (nullptr if none has that id); valid
  // until the next add_track.
  const Track* track(uint16_t track_id) const;
  // Replaces a declared track (the one with track.id): its tags, codec
  // parameters, compression and the like may change until the first block
  // (one held for expect_attachment too, as for add_track and
  // set_mask_key). A track masked by set_mask_key keeps the mask parameters
  // made for it.
  void replace_track(const Track& track);
  void set_metadata(std::string_view key, std::string_view value);
  // Merges the members of a JSON object into META.
  void set_metadata_json(std::string_view json_object);
  void set_safe_json(std::string_view json_object);
  void set_note(std::string_view utf8);
  // Chapters (CHAP chunk), in the order given; returns the chapter's index.
  size_t add_chapter(const Chapter& chapter);
  void set_chapter_tag(size_t index, std::string_view key, std::string_view value);
  // A file attached to the container (ATCH chunk), such as a font; with
  // attachment.track set, that track's picture (cover art). Returns its index.
  size_t add_attachment(const Attachment& attachment);
  // The track's picture is to come as an attachment, maybe after other
  // tracks' first blocks (a muxer gets cover art as a packet): blocks are
  // held, up to 256 or 16 MiB, until every expected picture is added. Past
  // that bound, or on write_run, close_group, flush or finish, they are
  // written, and a picture that comes later is refused (kBadState) as any
  // attachment after the first block.
  void expect_attachment(uint16_t track_id);
  // Masks every block of the track that is not already masked (h4mask,
  // docs/FORMAT.md §13): draws a random salt, stores scheme, key id, salt and
  // check value in TRAK, and derives the track key once. An empty kid becomes
  // default_key_id(key). Blocks given with info.masked set are envelopes
  // already and are written as they are. A track declared with mask
  // parameters (a remux of a masked file) is refused: it keeps them.
  void set_mask_key(uint16_t track_id, const MaskKey& key,
                    MaskScheme scheme = MaskScheme::kAes256Gcm, std::string kid = {});

  // --- blocks, in decode order (dts non-decreasing within a track) ---
  // side_data: entries built with append_side_data() (h4mk/side_data.hpp).
  // A block of a whole-frame audio codec that lasts less than its track's
  // codec_params.frame_size gains skip samples for its padding, unless it
  // carries its own (docs/FORMAT.md §5.4; WriterOptions::mark_padding).
  void write_block(const BlockInfo& info, std::span<const uint8_t> payload,
                   std::span<const uint8_t> side_data = {});
  // `count` blocks of one track at once, as a model emits frames: each
  // payloads.size() / count bytes, back to back in `payloads`, all as `first`
  // but block k at pts = dts = first.pts + k * first.duration (first.dts must
  // equal first.pts). The file is byte for byte what count write_block calls
  // would make, at a fraction of their cost for small blocks: the run is
  // checked once, not block by block. Nothing is written if the run is
  // refused. No side data (but write_block's skip samples for padding).
  void write_run(const BlockInfo& first, uint32_t count, std::span<const uint8_t> payloads);
  // Closes the track's open group, if any: the next block of the track
  // starts a new one (a rewrite keeps its source's groups this way).
  void close_group(uint16_t track_id);
  // Writes a chunk of a tag this version does not know that is safe to copy
  // (docs/FORMAT.md §9.6: its fourth byte a lowercase letter), as a rewrite
  // keeps one: before the first block, after the header chunks; later,
  // where writing stands, open groups closed first. Throws
  // Error(kInvalidArgument) for any other tag.
  void write_unknown_chunk(const std::array<char, 4>& tag, std::span<const uint8_t> payload);
  // Closes every open group and flushes the sink (live streaming).
  void flush();
  // Writes the remaining groups, VERI, TSEK, TAIL and the container CRC.
  void finish();

  uint64_t bytes_written() const;
  uint64_t blocks_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class Reader;

// What a command that rewrites a file keeps besides tracks and blocks: META,
// SAFE, NOTE, the chapters (with their tags) and the attachments, copied from `from` into `to`
// before its first block. (SIGN cannot stay valid over new bytes; HINT, VERI,
// TSEK and TAIL are the writer's own; chunks of unknown tags are kept, where
// safe to copy, by the rewrites themselves: docs/FORMAT.md §9.6.)
void copy_header(const Reader& from, Writer& to);

// Options for a rewrite (mask, unmask, repair) whose groups are the groups of
// the file it reads: no limit of the writer's own splits them (up to the
// format's), when every block goes through a GroupCopier.
WriterOptions rewrite_options();

// Writes the blocks read from another file group for group: each group of
// the source becomes one group, written where the source has it, so a
// rewrite keeps the source's interleaving and seek points.
class GroupCopier {
 public:
  explicit GroupCopier(Writer& to) : to_(to) {}
  void copy(const Block& b);
  // A chunk of an unknown tag, safe to copy, after the group being copied.
  void copy(const UnknownChunk& c);

 private:
  Writer& to_;
  uint16_t track_ = 0;  // of the group being copied; 0 before the first block
  uint64_t chunk_ = 0;
};

}  // namespace h4mk
H4MK_CXX_API_END
