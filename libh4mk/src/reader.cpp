#include "h4mk/reader.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "attachment_chunk.hpp"
#include "block_group.hpp"
#include "chapter_json.hpp"
#include "chunk.hpp"
#include "chunk_reader.hpp"
#include "chunk_stream.hpp"
#include "crc32.hpp"
#include "damage_log.hpp"
#include "group_compression.hpp"
#include "hint.hpp"
#include "index_region.hpp"
#include "json_text.hpp"
#include "payload_window.hpp"
#include "seek_table.hpp"
#include "track_json.hpp"
#include "verifying_source.hpp"

namespace h4mk {

using namespace detail;

namespace {

std::string text_of(std::span<const uint8_t> p) {
  return std::string(reinterpret_cast<const char*>(p.data()), p.size());
}

// Largest index region (VERI + TSEKs) the reader loads in one go.
uint64_t max_index_region(const ReaderLimits& l) {
  return uint64_t(l.max_index_chunk) + l.max_json_chunk + (1u << 20);
}

// Most bytes one read asks for beyond what is needed: sequential read-ahead
// once the file is open, and the span a seek reads at once (see seek()).
constexpr uint64_t kMaxReadAhead = 64 * 1024;
// How far before a seek's landing time seek_all goes back for another track's
// block (as Matroska's demuxer does for subtitles): 30 s.
constexpr int64_t kResumeWindowUs = 30'000'000;
// The most seek_all reads at once to cover other tracks' groups before the
// landing group as well (beyond it, a second read).
constexpr uint64_t kMaxSeekPrefetch = 512 * 1024;

__extension__ using Int128 = __int128;

// Bytes a VerifyingSource refused are never damage to skip: the read that
// met them fails, naming them, and the reader may seek elsewhere.
void keep_verification_failure(const Error& e) {
  if (e.code() == ErrorCode::kVerifyFailed) throw;
}

std::unique_ptr<VerifyingSource> verifying_source(Source& s, const ReaderOptions& o) {
  if (o.public_key_pem.empty()) return nullptr;
  return std::make_unique<VerifyingSource>(s, o.public_key_pem, o.limits);
}

}  // namespace

struct Reader::Impl {
  std::unique_ptr<VerifyingSource> verifying;  // with ReaderOptions::public_key_pem
  Source& source;
  ReaderOptions opt;
  ChunkStream stream;
  ChunkReader chunks;

  uint16_t version_major = 1, version_minor = 0;
  std::vector<Track> tracks;
  std::unordered_map<uint16_t, size_t> slot_of_id;
  std::string trak_json, meta_json, safe_json, note, veri_json, sign_json;
  std::vector<Chapter> chapters;
  std::vector<Attachment> attachments;
  uint64_t attachment_bytes = 0;

  // Unknown chunks (FORMAT.md §9.6): the head's as read at open, bounded;
  // after it, each given to the handler as reading passes it.
  static constexpr size_t kMaxListedUnknown = 256;
  static constexpr uint64_t kMaxHeldUnknownBytes = 1 << 20;
  std::vector<UnknownChunk> head_unknown;
  std::vector<std::vector<uint8_t>> head_unknown_bytes;  // the held payloads
  uint64_t head_unknown_held = 0, head_unknown_unlisted = 0;
  std::function<void(const UnknownChunk&)> unknown_handler;
  uint64_t data_offset = 0;

  // The group being handed out.
  DecodedGroup group;
  size_t group_pos = 0;
  const uint8_t* group_base = nullptr;
  uint64_t group_chunk_offset = 0;
  uint16_t group_track_slot = 0;  // its track's position in `tracks`
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
  // Where reading stands in each track, by its slot in `tracks` (a vector:
  // a seek clears it without freeing or allocating). `resuming` counts the
  // resume points still set; with none, next() checks nothing.
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
  // A filled-in HINT of this very file (its size matches): the track
  // summaries before the index is loaded. Checked against the index then.
  std::optional<Hint> hint;
  uint64_t hint_offset = 0;

  Impl(Source& s, ReaderOptions o)
      : verifying(verifying_source(s, o)),
        source(verifying ? *verifying : s),
        opt(o),
        stream(source),
        chunks(stream, opt.limits),
        expander(opt.limits) {
    chunks.set_track_filter([this](uint16_t id) { return slot_of_id.count(id) != 0; });
    open();  // exact reads: opening a remote file costs only what it needs
    stream.enable_read_ahead(kMaxReadAhead);
  }

  const Track* track(uint16_t id) const {
    auto it = slot_of_id.find(id);
    return it == slot_of_id.end() ? nullptr : &tracks[it->second];
  }

  const Track& require_track(uint16_t id) const {
    const Track* t = track(id);
    if (!t) throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(id));
    return *t;
  }

  void record(uint64_t offset, uint64_t length, ErrorCode code, std::string message) {
    damage.add({offset, length, code, std::move(message)});
  }

  // Skips a bad chunk: scans to the next valid chunk and records the region.
  void skip_bad_chunk(const ChunkView& v) {
    stream.seek(v.offset + 1);
    bool found = chunks.resync();
    uint64_t length = stream.position() - v.offset;
    if (!found && v.incomplete) {
      record(v.offset, length, ErrorCode::kTruncated,
             "incomplete file: " + v.why + " (" + std::to_string(length) + " bytes dropped)");
    } else {
      record(v.offset, length, v.code,
             v.why + "; skipped " + std::to_string(length) + " bytes" +
                 (found ? " to the next valid chunk at offset " + std::to_string(stream.position())
                        : " to the end of the file"));
    }
    if (!found) at_end = true;
    if (!found && v.incomplete) salvage_cut_group(v);
  }

  // The CORE chunk a cut file ends in (hand_out_damaged_groups): the blocks
  // it holds whole are handed out marked damaged, as matroska hands out the
  // blocks before a cut; its CRC cannot be checked. Only once the scan has
  // found nothing valid after it, so a chunk whose size field was damaged is
  // not taken for a cut, and at most once per file: the bytes are read
  // again from the chunk (still in the window on a pipe: nothing was read
  // past the end).
  void salvage_cut_group(const ChunkView& v) {
    if (!hand_out_damaged || v.header.tag != kTagCore || v.code != ErrorCode::kTruncated ||
        v.header.size == 0)
      return;
    const uint64_t end = stream.position(), from = v.offset + kChunkHeaderSize;
    if (end <= from) return;
    group_damaged = true;
    size_t got = 0;
    try {
      stream.seek(from);
      got = stream.fill(size_t(std::min<uint64_t>(v.header.size, end - from)));
      parse_group(v, {stream.data(), got}, /*cut=*/true);
    } catch (const Error& e) {
      keep_verification_failure(e);
      group.clear();
      group_damaged = false;
      if (stream.position() != end) stream.seek(end);
      return;
    }
    damage.last().message +=
        "; its " + std::to_string(group.size()) + " complete blocks are handed out marked damaged";
    stream.consume(got);  // the views into the window stay valid
    if (resuming) skip_to_resume_point();
  }

  void open() {
    size_t got = stream.fill(kFileHeaderSize);
    if (got < kFileHeaderSize) {
      if (got >= 4 && std::string(reinterpret_cast<const char*>(stream.data()), 4) != "H4MK")
        throw Error(ErrorCode::kBadMagic, "not an H4MK file: the first 4 bytes are not 'H4MK'", 0);
      throw Error(ErrorCode::kTruncated,
                  "file is " + std::to_string(got) + " bytes, shorter than the 16-byte header", 0);
    }
    const FileHeader fh = decode_file_header(stream.data());
    version_major = fh.version_major;
    version_minor = fh.version_minor;
    stream.consume(kFileHeaderSize);

    ChunkView v;
    ChunkStatus st = chunks.peek_chunk(v);
    if (st == ChunkStatus::kEnd)
      throw Error(ErrorCode::kTruncated, "file ends after the header: no TRAK chunk", 16);
    if (st == ChunkStatus::kBad) throw Error(v.code, "cannot read the TRAK chunk: " + v.why, 16);
    if (v.header.tag != kTagTrak)
      throw Error(ErrorCode::kCorrupt,
                  "first chunk at offset 16 is '" + tag_name(v.header.tag) + "', expected TRAK",
                  16);
    trak_json = text_of(v.payload);
    tracks = decode_tracks(trak_json, v.offset, opt.limits);
    for (size_t i = 0; i < tracks.size(); ++i) slot_of_id[tracks[i].id] = i;
    cursors.assign(tracks.size(), TrackCursor{});
    stream.consume(v.total());

    // META, SAFE, NOTE (and chunks of tags this reader does not know) come
    // before the first CORE.
    for (;;) {
      // Verifying, ROOT says where the head ends: no need to fetch (and
      // check) the first leaf to see a CORE header there.
      if (verifying && stream.position() >= verifying->root().data_offset) break;
      if (stream.fill(kChunkHeaderSize) < kChunkHeaderSize) break;
      Tag tag = parse_chunk_header(stream.data()).tag;
      if (tag == kTagCore || is_index_tag(tag)) break;
      st = chunks.peek_chunk(v);
      if (st == ChunkStatus::kBad) {
        skip_bad_chunk(v);
        continue;
      }
      if (tag == kTagMeta || tag == kTagSafe) {
        std::string text = text_of(v.payload);
        if (!is_json_object(text, opt.limits.max_json_depth))
          record(v.offset, v.total(), ErrorCode::kCorrupt,
                 tag_name(tag) + " chunk at offset " + std::to_string(v.offset) +
                     " is not a JSON object within the reader's limits; ignored");
        else
          (tag == kTagMeta ? meta_json : safe_json) = std::move(text);
      } else if (tag == kTagNote) {
        note = text_of(v.payload);
      } else if (tag == kTagChap) {
        try {
          chapters = decode_chapters(text_of(v.payload), v.offset, opt.limits);
        } catch (const Error& e) {
          record(v.offset, v.total(), e.code(), std::string(e.what()) + "; ignored");
        }
      } else if (tag == kTagAtch) {
        take_attachment(v);
      } else if (tag == kTagHint) {
        take_hint(v);
      } else if (tag == kTagDict) {
        take_dictionary(v);
      } else if (!is_known_tag(tag)) {
        list_head_unknown(v);
      }
      stream.consume(v.total());
    }
    data_offset = stream.position();
  }

  static UnknownChunk unknown_chunk(const ChunkView& v) {
    UnknownChunk c;
    c.tag = tag_chars(v.header.tag);
    c.offset = v.offset;
    c.size = v.header.size;
    c.payload = v.payload;
    return c;
  }

  // Keeps what a rewrite needs of an unknown chunk before the first CORE.
  void list_head_unknown(const ChunkView& v) {
    if (head_unknown.size() == kMaxListedUnknown) {
      ++head_unknown_unlisted;
      return;
    }
    UnknownChunk c = unknown_chunk(v);
    c.held = c.safe_to_copy() && c.size <= kMaxHeldUnknownBytes - head_unknown_held;
    c.payload = {};
    if (c.held) {
      head_unknown_held += c.size;
      head_unknown_bytes.emplace_back(v.payload.begin(), v.payload.end());
      c.payload = head_unknown_bytes.back();  // a moved vector keeps its buffer
    }
    head_unknown.push_back(c);
  }

  // An attachment that cannot be read, names an undeclared track, or would
  // take the attachments past the reader's limit is reported and ignored.
  void take_attachment(const ChunkView& v) {
    try {
      Attachment a = decode_attachment(v.payload, v.offset, opt.limits,
                                       [&](uint16_t id) { return slot_of_id.count(id) != 0; });
      if (a.data.size() > opt.limits.max_attachment_bytes - attachment_bytes)
        throw Error(ErrorCode::kLimitExceeded,
                    "ATCH chunk at offset " + std::to_string(v.offset) +
                        ": the attachments exceed the reader's limit of " +
                        std::to_string(opt.limits.max_attachment_bytes) + " bytes",
                    v.offset);
      attachment_bytes += a.data.size();
      attachments.push_back(std::move(a));
    } catch (const Error& e) {
      record(v.offset, v.total(), e.code(), std::string(e.what()) + "; ignored");
    }
  }

  // A track's zstd dictionary. One that names a track that is not
  // compressed, or a second one, is reported and ignored: the groups made
  // with it then fail to expand, each reported.
  void take_dictionary(const ChunkView& v) {
    try {
      const DictChunk d = decode_dict_chunk(v.payload, v.offset);
      auto slot = slot_of_id.find(d.track_id);
      const std::string at = "DICT chunk at offset " + std::to_string(v.offset) + ": track " +
                             std::to_string(d.track_id);
      if (slot == slot_of_id.end())
        throw Error(ErrorCode::kCorrupt, at + " is not declared in TRAK", v.offset);
      Track& t = tracks[slot->second];
      if (!t.compression)
        throw Error(ErrorCode::kCorrupt, at + " does not declare compression", v.offset);
      if (expander.has_dictionary(d.track_id))
        throw Error(ErrorCode::kCorrupt, at + " has a dictionary already", v.offset);
      expander.set_dictionary(d.track_id, d.dictionary);
      t.compression->dictionary.assign(d.dictionary.begin(), d.dictionary.end());
    } catch (const Error& e) {
      record(v.offset, v.total(), e.code(), std::string(e.what()) + "; ignored");
    }
  }

  // A HINT left as zeros (the writer did not finish) or written for a file of
  // another size (cut, still growing, appended to) is not this file's: it is
  // ignored without a report, as a missing TAIL is.
  void take_hint(const ChunkView& v) {
    try {
      Hint h = decode_hint(v.payload, tracks.size(), v.offset);
      const auto size = stream.size();
      if (h.file_size == 0 || (size && *size != h.file_size)) return;
      // What can be checked without reading the end: a HINT that fails this
      // is no writer's, and is ignored (the index is read instead).
      const std::string why = implausible_hint(h, track_ids());
      if (!why.empty())
        throw Error(ErrorCode::kCorrupt,
                    "HINT chunk at offset " + std::to_string(v.offset) + ": " + why);
      hint = std::move(h);
      hint_offset = v.offset;
    } catch (const Error& e) {
      record(v.offset, v.total(), e.code(), std::string(e.what()) + "; ignored");
    }
  }

  std::vector<uint16_t> track_ids() const {
    std::vector<uint16_t> ids;
    for (const Track& t : tracks) ids.push_back(t.id);
    return ids;
  }

  std::optional<TrackSummary> hinted_summary(uint16_t id) const {
    auto it = slot_of_id.find(id);
    if (!hint || it == slot_of_id.end()) return std::nullopt;
    return hint->tracks[it->second];
  }

  // Once the index is known, a HINT that says otherwise is damage.
  void check_hint_against_index() {
    // On a pipe there is no end to check against: the HINT stays advisory.
    if (!hint || !stream.seekable()) return;
    if (index_state != IndexState::kLoaded) {
      record(hint_offset, 0, ErrorCode::kCorrupt,
             "HINT chunk at offset " + std::to_string(hint_offset) +
                 " is not used: the index it copies is unusable");
    } else {
      const std::string why = hint_disagreement(
          *hint, *stream.size(), index_offset, track_ids(),
          [&](size_t slot) -> const TrackSummary* {
            auto table = tables.find(tracks[slot].id);
            return table == tables.end() ? nullptr : &table->second.summary;
          },
          "its TSEK");
      if (!why.empty())
        record(hint_offset, 0, ErrorCode::kCorrupt,
               "HINT chunk at offset " + std::to_string(hint_offset) +
                   " disagrees with the end of the file: it " + why + "; the index is used");
    }
    hint.reset();
  }

  // --- sequential reading ---

  [[noreturn]] static void throw_undeclared(uint64_t offset, uint16_t track_id) {
    throw Error(ErrorCode::kCorrupt,
                "CORE chunk at offset " + std::to_string(offset) + ": track " +
                    std::to_string(track_id) + " is not declared in TRAK",
                offset);
  }

  // The chunk at the current position, as ChunkReader::peek_chunk gives it,
  // but a CORE chunk too big to hold is scanned instead (scan_big_group):
  // then the view's payload is just the group header, and the stream is
  // past the chunk. Either way, a chunk is left with pass(v) or, when bad,
  // skip_bad_chunk(v).
  ChunkStatus read_chunk(ChunkView& v) {
    big.pending = false;
    if (auto st = scan_big_group(v)) return *st;
    return chunks.peek_chunk(v);
  }

  void pass(const ChunkView& v) { stream.seek(v.offset + v.total()); }

  // The first pass over a group too big to hold: its records decoded into
  // big.group (or the error that stopped them kept for parse_group) and its CRC
  // checked, a piece at a time. Nothing when the chunk at the current
  // position is not such a group, or the source cannot be read again.
  std::optional<ChunkStatus> scan_big_group(ChunkView& v) {
    constexpr size_t kHeads = kChunkHeaderSize + kGroupHeaderSize;
    const std::optional<uint64_t> size = stream.size();
    if (!opt.hold_groups_up_to || !stream.seekable() || !size || stream.fill(kHeads) < kHeads)
      return std::nullopt;
    const uint64_t at = stream.position();
    const ChunkHeader h = parse_chunk_header(stream.data());
    // Compressed groups are expanded whole; a chunk the file cannot hold, or
    // one past the limit, is the usual path's to report.
    if (h.tag != kTagCore || h.size <= opt.hold_groups_up_to || h.size < kGroupHeaderSize ||
        h.size > opt.limits.max_core_chunk || at + kChunkHeaderSize + h.size > *size ||
        (stream.data()[kChunkHeaderSize + 2] & kGroupCompressed))
      return std::nullopt;
    v.reset(at);
    v.header = h;
    std::memcpy(big.head, stream.data() + kChunkHeaderSize, kGroupHeaderSize);
    const uint32_t head_crc = crc32(0, stream.data(), 8);
    stream.consume(kChunkHeaderSize);
    PayloadWindow in(stream, h.size, head_crc, at);
    big.error.reset();
    uint32_t crc;
    try {
      try {
        const GroupHeader g = decode_group_header({big.head, kGroupHeaderSize}, at);
        in.skip(kGroupHeaderSize);
        const Track* t = track(g.track_id);
        if (!t) throw_undeclared(at, g.track_id);
        decode_group(in, g, t->default_duration, opt.limits.max_blocks_per_group, at, big.group);
      } catch (const Error& e) {
        if (e.code() == ErrorCode::kTruncated) throw;
        keep_verification_failure(e);
        big.group.clear();
        big.error = e;
      }
      crc = in.finish();
    } catch (const Error& e) {  // the file is shorter than it said: the usual path reports it
      keep_verification_failure(e);
      stream.seek(at);
      return std::nullopt;
    }
    v.payload = {big.head, kGroupHeaderSize};
    big.pending = true;
    big.offset = at;
    if (crc == h.crc) return ChunkStatus::kOk;
    v.code = ErrorCode::kCrcMismatch;
    v.why = "CORE chunk at offset " + std::to_string(at) + ": CRC mismatch";
    return ChunkStatus::kBad;
  }

  // Parses the group of a CORE chunk (throws Error naming what is wrong);
  // `cut`: `payload` is what a cut file holds of it (decode_cut_group).
  void parse_group(const ChunkView& v) { parse_group(v, v.payload, false); }
  void parse_group(const ChunkView& v, std::span<const uint8_t> payload, bool cut) {
    GroupHeader g = decode_group_header(payload, v.offset);
    const auto slot = slot_of_id.find(g.track_id);
    if (slot == slot_of_id.end()) throw_undeclared(v.offset, g.track_id);
    const size_t track_slot = slot->second;
    if (group_damaged && tracks[track_slot].mask)
      throw Error(ErrorCode::kCorrupt, "a masked track's group is never handed out damaged");
    group_expanded = (g.flags & kGroupCompressed) != 0;
    group_streamed = big.pending && big.offset == v.offset;
    block_buf_pos = SIZE_MAX;
    if (group_streamed) {
      big.pending = false;
      if (big.error) throw *big.error;
      std::swap(group, big.group);
    } else {
      // A cut frame cannot be checked: no block of it is handed out.
      if (group_expanded && cut)
        throw Error(ErrorCode::kTruncated, "a compressed group cut short is not salvaged");
      payload = expander.expand(payload, g, tracks[track_slot].compression.has_value(), v.offset);
      if (cut)
        decode_cut_group(payload, tracks[track_slot].default_duration,
                         opt.limits.max_blocks_per_group, v.offset, group);
      else
        decode_group(payload, tracks[track_slot].default_duration, opt.limits.max_blocks_per_group,
                     v.offset, group);
    }
    check_order(track_slot, v);
    group_track_slot = static_cast<uint16_t>(track_slot);
    if (tracks[track_slot].mask && group.any_plain())
      throw Error(ErrorCode::kCorrupt,
                  "CORE chunk at offset " + std::to_string(v.offset) + ": track " +
                      std::to_string(g.track_id) +
                      " is masked, but this group holds a plain block (FORMAT.md §13)",
                  v.offset);
    // A damaged group's timing is not trusted to judge the groups after it.
    if (!group_damaged)
      cursors[track_slot].last_group = LastGroup{group.info(group.size() - 1).dts, v.header.crc};
    group_pos = 0;
    group_base = payload.data();
    group_chunk_offset = v.offset;
    group_chunk_total = v.total();
  }

  // Keeps the current group for take_parked_group, if it lives in the
  // stream's window (not expanded, not read block by block) and its CRC
  // held (its track's cursor has the CRC).
  void park_group() {
    parked.set = !group_streamed && !group_expanded && !group_damaged && !group.empty() &&
                 cursors[group_track_slot].last_group;
    if (!parked.set) return;
    parked.offset = group_chunk_offset;
    parked.total = group_chunk_total;
    parked.crc = cursors[group_track_slot].last_group->crc;
    parked.generation = stream.generation();
    parked.base = group_base;
    parked.track_slot = group_track_slot;
    std::swap(parked.group, group);
  }

  // The parked group as the current one, when reading is at its chunk and
  // the bytes it was checked and decoded from are still where they were.
  // A group that would go back in time is left to parse_group to report.
  bool take_parked_group() {
    if (!parked.set || stream.position() != parked.offset ||
        stream.generation() != parked.generation || stream.available() < parked.total)
      return false;
    parked.set = false;
    if (goes_back(parked.track_slot, parked.group.info(0).dts, parked.crc)) return false;
    big.pending = false;
    std::swap(group, parked.group);
    group_pos = 0;
    group_base = parked.base;
    group_chunk_offset = parked.offset;
    group_chunk_total = parked.total;
    group_track_slot = parked.track_slot;
    group_damaged = group_expanded = group_streamed = false;
    block_buf_pos = SIZE_MAX;
    cursors[group_track_slot].last_group = LastGroup{group.info(group.size() - 1).dts, parked.crc};
    stream.consume(static_cast<size_t>(parked.total));
    return true;
  }

  // Parses the CORE chunk into the current group and moves past it. A bad
  // group is cleared and its error returned, recorded nowhere: seeking probes
  // groups, and their damage is reported when sequential reading reaches it.
  std::optional<Error> take_group(const ChunkView& v) {
    group_damaged = false;
    std::optional<Error> bad;
    try {
      parse_group(v);
    } catch (const Error& e) {
      keep_verification_failure(e);
      group.clear();
      bad = e;
    }
    pass(v);
    return bad;
  }

  // take_group for sequential reading: a bad group is damage.
  bool load_group(const ChunkView& v) {
    const std::optional<Error> bad = take_group(v);
    if (bad) record(v.offset, v.total(), bad->code(), bad->what());
    return !bad;
  }

  // A CORE whose CRC fails but whose group parses and keeps the order of
  // §5.5 (hand_out_damaged_groups): reported, and its blocks handed out
  // marked damaged so decoders can conceal what changed. Never a masked
  // track's: an envelope that may have changed is not handed out.
  bool salvage_group(const ChunkView& v) {
    if (!hand_out_damaged || v.header.tag != kTagCore || v.code != ErrorCode::kCrcMismatch)
      return false;
    group_damaged = true;
    try {
      parse_group(v);
    } catch (const Error& e) {
      keep_verification_failure(e);
      group.clear();
      group_damaged = false;
      return false;
    }
    record(
        v.offset, v.total(), v.code,
        v.why + "; its " + std::to_string(group.size()) + " blocks are handed out marked damaged");
    pass(v);
    if (resuming) skip_to_resume_point();
    return true;
  }

  // dts never goes back within a track (§5.5): a group that starts before
  // the track's last block read is a duplicated or misplaced chunk, whose
  // blocks must not be handed out a second time or out of order.
  // A group that starts at the track's last dts and has the last group's
  // CRC is that group again: a copy that equal dts alone cannot tell apart.
  bool goes_back(size_t track_slot, int64_t first_dts, uint32_t crc) const {
    const std::optional<LastGroup>& last = cursors[track_slot].last_group;
    return last && (first_dts < last->dts || (first_dts == last->dts && crc == last->crc));
  }

  void check_order(size_t track_slot, const ChunkView& v) const {
    const uint64_t offset = v.offset;
    const int64_t first_dts = group.info(0).dts;
    if (goes_back(track_slot, first_dts, v.header.crc))
      throw Error(ErrorCode::kCorrupt,
                  "CORE chunk at offset " + std::to_string(offset) + ": track " +
                      std::to_string(tracks[track_slot].id) + " goes back in time (dts " +
                      std::to_string(first_dts) + " after " +
                      std::to_string(cursors[track_slot].last_group->dts) +
                      "): a duplicated or misplaced chunk",
                  offset);
  }

  void describe(size_t pos, Block& out) {
    DecodedGroup::Extent payload, side;
    group.get(pos, out.info, payload, side);
    if (group_streamed) {
      read_block(pos, payload, side);
      out.data = {block_buf.data() + side.size, payload.size};
      out.side_data = {block_buf.data(), side.size};
    } else {
      out.data = {group_base + payload.offset, payload.size};
      out.side_data = {group_base + side.offset, side.size};
    }
    out.chunk_offset = group_chunk_offset;
    out.data_offset = group_expanded ? 0 : group_chunk_offset + kChunkHeaderSize + payload.offset;
    out.index_in_group = static_cast<uint32_t>(pos);
    out.track_index = group_track_slot;
    out.damaged = group_damaged;
    if (out.info.masked && !maskers.empty()) unmask(out);
  }

  // A block of a group too big to hold, its side data and payload (which
  // follow each other, §5.2), into block_buf.
  void read_block(size_t pos, const DecodedGroup::Extent& payload,
                  const DecodedGroup::Extent& side) {
    if (block_buf_pos == pos) return;
    block_buf_pos = SIZE_MAX;
    const uint32_t from = side.size ? side.offset : payload.offset;
    const uint64_t at = group_chunk_offset + kChunkHeaderSize + from;
    if (!stream.read_at(at, payload.offset + payload.size - from, block_buf))
      throw Error(ErrorCode::kTruncated,
                  "CORE chunk at offset " + std::to_string(group_chunk_offset) + ": block " +
                      std::to_string(pos) +
                      " runs past the end of the file, which is shorter than when the group "
                      "was checked",
                  at);
    block_buf_pos = pos;
  }

  void unmask(Block& out) const {
    auto it = maskers.find(out.info.track_id);
    if (it == maskers.end()) return;
    BlockMasker& m = *it->second;
    // A payload shorter than an envelope is refused by unmask() itself.
    unmask_buf.resize(out.data.size() - std::min(out.data.size(), m.overhead()));
    try {
      m.unmask(out.info, out.data, unmask_buf);
    } catch (const Error& e) {
      throw Error(e.code(),
                  std::string(e.what()) + " (offset " + std::to_string(out.data_offset) + ")",
                  out.data_offset);
    }
    out.data = unmask_buf;
    out.info.masked = false;
  }

  void set_mask_key(const MaskKey& key, uint16_t id) {
    // With track 0 the key serves every masked track it matches (a file may
    // use several keys); it is an error only if it matches none.
    std::optional<Error> mismatch;
    bool any = false;
    size_t masked = 0;
    for (const Track& t : tracks) {
      if (!t.mask || (id != 0 && t.id != id)) continue;
      ++masked;
      try {
        maskers[t.id] = std::make_unique<BlockMasker>(*t.mask, key, t.id);
        any = true;
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kKeyMismatch || id != 0) throw;
        if (!mismatch) mismatch = e;
      }
    }
    if (!any && mismatch && masked == 1) throw *mismatch;
    if (!any && mismatch)
      throw Error(ErrorCode::kKeyMismatch, "the key opens none of the " + std::to_string(masked) +
                                               " masked tracks (" + mismatch->what() + ")");
    if (!any && id != 0)
      throw Error(ErrorCode::kNotFound, "track " + std::to_string(id) + " is not a masked track");
  }

  void hand_out(Block& out) { describe(group_pos++, out); }

  ReadEvent next(Block& out) {
    if (group_pos < group.size()) {
      hand_out(out);
      return ReadEvent::kBlock;
    }
    group.clear();
    group_pos = 0;
    uint64_t damage_before = damage.count();
    while (!at_end) {
      if (!take_parked_group()) {
        ChunkView v;
        switch (read_chunk(v)) {
          case ChunkStatus::kEnd:
            at_end = true;
            return ReadEvent::kEnd;
          case ChunkStatus::kBad:
            if (!salvage_group(v)) skip_bad_chunk(v);
            return ReadEvent::kDamage;
          case ChunkStatus::kOk:
            break;
        }
        if (v.header.tag != kTagCore) {
          if (pass_other_chunk(v)) return ReadEvent::kDamage;
          continue;
        }
        if (!load_group(v)) {
          if (damage.count() > damage_before) return ReadEvent::kDamage;
          continue;
        }
      }
      // A resume point only ever cuts off the front of a group.
      if (resuming) skip_to_resume_point();
      if (group_pos < group.size()) {
        hand_out(out);
        return ReadEvent::kBlock;
      }
      group.clear();  // every block came before its track's resume point
      group_pos = 0;
    }
    return ReadEvent::kEnd;
  }

  // Moves past a chunk that is not a group, keeping what the reader needs
  // of it; true if the file ends there without its container CRC.
  bool pass_other_chunk(const ChunkView& v) {
    if (unknown_handler && !is_known_tag(v.header.tag)) unknown_handler(unknown_chunk(v));
    if (v.header.tag == kTagVeri && veri_json.empty()) veri_json = text_of(v.payload);
    if (v.header.tag == kTagSign && sign_json.empty()) sign_json = text_of(v.payload);
    stream.consume(v.total());
    if (v.header.tag != kTagTail) return false;
    at_end = true;
    if (stream.fill(4) < 4) {
      record(stream.position(), stream.available(), ErrorCode::kTruncated,
             "incomplete file: the container CRC after TAIL is missing");
      return true;
    }
    stream.consume(4);
    return false;
  }

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

  Position position() const {
    return {group_pos < group.size(),
            group_chunk_offset,
            group_pos,
            stream.position(),
            at_end,
            cursors,
            resuming};
  }

  void restore(const Position& p) {
    if (!p.in_group || !load_group_at(p.group_offset)) {
      reposition(p.stream_pos);
    } else {
      group_pos = p.group_pos;
    }
    at_end = p.at_end;
    cursors = p.cursors;
    resuming = p.resuming;
  }

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

  void reposition(uint64_t offset) {
    big.pending = false;
    std::fill(cursors.begin(), cursors.end(), TrackCursor{});
    resuming = 0;
    group.clear();
    group_pos = 0;
    at_end = false;
    stream.seek(offset);
  }

  // --- index ---

  void ensure_index() {
    if (index_state != IndexState::kUnknown) return;
    load_index();
    check_hint_against_index();
  }

  void load_index() {
    index_state = IndexState::kAbsent;
    auto size = stream.size();
    if (!stream.seekable() || !size || *size < data_offset + kTailRegionSize) return;
    // One read for the end of the file: the TAIL and, for most files, the
    // whole index region before it (one range request over HTTP).
    constexpr uint64_t kTailWindow = 8 * 1024;
    uint64_t window = std::min<uint64_t>(kTailWindow, *size - data_offset);
    // Verifying, the index region is known (ROOT) and read whole below,
    // each piece once; the TAIL is held.
    if (verifying) window = kTailRegionSize;
    const uint64_t window_at = *size - window;
    std::vector<uint8_t> end_bytes;
    if (!stream.read_at(window_at, static_cast<size_t>(window), end_bytes)) return;
    const uint64_t tail_at = *size - kTailRegionSize;
    const uint8_t* tail_bytes = end_bytes.data() + (tail_at - window_at);
    ChunkHeader h = parse_chunk_header(tail_bytes);
    std::span<const uint8_t> tail_payload(tail_bytes + kChunkHeaderSize, kTailPayloadSize);
    if (h.tag != kTagTail || h.size != kTailPayloadSize ||
        chunk_crc(h.tag, h.size, tail_payload) != h.crc)
      return;  // an incomplete file: no tail, not damage
    TailInfo tail = decode_tail(tail_payload.data());
    auto bad_index = [&](uint64_t offset, const std::string& why) {
      tables.clear();
      record(offset, 0, ErrorCode::kCorrupt, "index unusable, seeking without it: " + why);
    };
    if (tail.index_offset < data_offset || tail.index_offset > tail_at ||
        tail_at - tail.index_offset > max_index_region(opt.limits))
      return bad_index(tail_at, "TAIL points to offset " + std::to_string(tail.index_offset));
    std::vector<uint8_t> buf;
    if (tail.index_offset >= window_at) {
      buf.assign(end_bytes.begin() + long(tail.index_offset - window_at),
                 end_bytes.begin() + long(tail_at - window_at));
    } else if (!stream.read_at(tail.index_offset, static_cast<size_t>(tail_at - tail.index_offset),
                               buf)) {
      return bad_index(tail.index_offset, "index region cannot be read");
    }

    IndexRegion region([this](uint16_t id) { return track(id) != nullptr; });
    size_t pos = 0;
    while (pos < buf.size()) {
      const uint64_t at = tail.index_offset + pos;
      if (buf.size() - pos < kChunkHeaderSize) return bad_index(at, "stray bytes before TAIL");
      ChunkHeader c = parse_chunk_header(buf.data() + pos);
      if (c.size > buf.size() - pos - kChunkHeaderSize ||
          c.size > size_limit_for(c.tag, opt.limits))
        return bad_index(at, tag_name(c.tag) + " chunk size runs past TAIL");
      std::span<const uint8_t> payload(buf.data() + pos + kChunkHeaderSize, c.size);
      if (chunk_crc(c.tag, c.size, payload) != c.crc)
        return bad_index(at, tag_name(c.tag) + " chunk CRC mismatch");
      if (c.tag == kTagVeri) {
        veri_json = text_of(payload);
      } else if (c.tag == kTagSign) {
        sign_json = text_of(payload);
      } else if (c.tag == kTagTsek) {
        if (auto p = region.take_seek_table(payload, at)) return bad_index(p->offset, p->message);
      }
      pos += kChunkHeaderSize + c.size;
    }
    if (auto p = region.check_entries(data_offset, tail.index_offset))
      return bad_index(p->offset, p->message);
    tables = region.take_tables();
    index_offset = tail.index_offset;
    index_state = IndexState::kLoaded;
  }

  // --- seeking ---

  // Reads the CORE chunk at `offset` into the current group. False if it is
  // not a valid group.
  bool load_group_at(uint64_t offset, size_t read_ahead = 0) {
    reposition(offset);
    if (read_ahead) prefetch(read_ahead);
    ChunkView v;
    if (read_chunk(v) != ChunkStatus::kOk || v.header.tag != kTagCore) return false;
    return !take_group(v);
  }

  SeekPoint land(size_t index) {
    group_pos = index;
    const BlockInfo b = group.info(index);
    return {b.track_id, b.pts, b.dts, group_chunk_offset, static_cast<uint32_t>(index)};
  }

  [[noreturn]] void not_found(uint16_t id, int64_t t) {
    throw Error(ErrorCode::kNotFound,
                "track " + std::to_string(id) + " has no I block with pts <= " + std::to_string(t));
  }

  // The index entry of the track's last group whose first I block has pts
  // <= t (the group holding its last I block with pts <= t), and where its
  // next indexed group, or the end of the CORE region, starts.
  struct EntrySpan {
    const IndexEntry* entry;
    uint64_t next_offset;
  };
  std::optional<EntrySpan> entry_at_or_before(const SeekTable& table, int64_t t) const {
    const auto& entries = table.entries;
    auto e = std::upper_bound(entries.begin(), entries.end(), t,
                              [](int64_t v, const IndexEntry& x) { return v < x.pts; });
    if (e == entries.begin()) return std::nullopt;
    --e;
    return EntrySpan{&*e, e + 1 != entries.end() ? (e + 1)->offset : index_offset};
  }

  SeekPoint seek(uint16_t id, int64_t t) {
    require_track(id);
    ensure_index();
    auto it = tables.find(id);
    if (it == tables.end()) return seek_without_index(id, t);
    const auto found = entry_at_or_before(it->second, t);
    if (!found) not_found(id, t);
    const IndexEntry* e = found->entry;
    // The span up to the track's next indexed group (or the end of the CORE
    // region) holds the group and what sequential reading needs right after
    // it: reading it at once saves a second read for the payload (a system
    // call, or a range request), up to a bound.
    const uint64_t span = found->next_offset - e->offset;
    if (load_group_at(e->offset, static_cast<size_t>(std::min<uint64_t>(span, kMaxReadAhead))) &&
        group.track_id() == id) {
      long k = group.last_key_at_or_before(t);
      if (k >= 0) return land(size_t(k));
    }
    record(e->offset, 0, ErrorCode::kCorrupt,
           "TSEK entry for track " + std::to_string(id) + " does not point at a matching group");
    return seek_without_index(id, t);
  }

  SeekPoint seek(uint16_t id, int64_t t, SeekMode mode) {
    if (mode == SeekMode::kKeyBefore) return seek(id, t);
    std::optional<SeekPoint> key;
    try {
      key = seek(id, t);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;
      reposition(data_offset);
    }
    if (mode == SeekMode::kKeyAfter && key && key->pts >= t) return *key;
    std::optional<std::pair<uint64_t, uint32_t>> best;
    Block b;
    for (ReadEvent ev; (ev = next(b)) != ReadEvent::kEnd;) {
      if (ev != ReadEvent::kBlock || b.info.track_id != id) continue;
      if (mode == SeekMode::kKeyAfter) {
        if (b.info.type == BlockType::kI && b.info.pts >= t) {
          best = {b.chunk_offset, b.index_in_group};
          break;
        }
      } else {
        if (b.info.dts > t) break;
        if (b.info.pts <= t) best = {b.chunk_offset, b.index_in_group};
      }
    }
    if (!best || !load_group_at(best->first))
      throw Error(ErrorCode::kNotFound, "track " + std::to_string(id) +
                                            " has no block to land on for " + std::to_string(t));
    return land(best->second);
  }

  // --- seeking every track (seek_all) ---

  // Skips the blocks of the current group (one track's) that come before
  // their track's resume point; the point is dropped once a block passes it.
  void skip_to_resume_point() {
    if (group_pos >= group.size()) return;
    std::optional<ResumePoint>& point = cursors[group_track_slot].resume;
    if (!point) return;
    ResumePoint& r = *point;
    if (r.kind == ResumePoint::kInEntryGroup) {
      if (group_chunk_offset < r.chunk_offset) {  // the track's earlier groups
        group_pos = group.size();
        return;
      }
      r = group_chunk_offset == r.chunk_offset ? point_in_entry_group(r.t)
                                               : ResumePoint{ResumePoint::kByTime, 0, 0, r.t};
    }
    for (; group_pos < group.size(); ++group_pos) {
      const BlockInfo b = group.info(group_pos);
      const bool before = r.kind == ResumePoint::kAtBlock
                              ? group_chunk_offset < r.chunk_offset ||
                                    (group_chunk_offset == r.chunk_offset && group_pos < r.index)
                              : !(b.type == BlockType::kI && presents_in_group(group_pos, r.t));
      if (!before) {
        point.reset();
        --resuming;
        return;
      }
    }
  }

  // In the loaded group, the group of a track's last index entry with pts <=
  // t: the track resumes at its last I block with pts <= t when that block
  // still presents at t or may have P/B blocks after it that need it (the
  // next block of the group is one, or it ends the group); otherwise by time.
  // A subtitle's blocks stand alone (§6.2): a cue that ended before t is
  // not handed out again, as Matroska's demuxer does not.
  ResumePoint point_in_entry_group(int64_t t) const {
    const long k = group.last_key_at_or_before(t);
    if (k >= 0) {
      const size_t i = size_t(k);
      const Track* subject = track(group.track_id());
      const bool stand_alone = subject && subject->kind == TrackKind::kSubtitle;
      const bool dependents =
          !stand_alone && (i + 1 == group.size() || group.info(i + 1).type != BlockType::kI);
      if (presents_in_group(i, t) || dependents)
        return {ResumePoint::kAtBlock, group_chunk_offset, uint32_t(i), t};
    }
    return {ResumePoint::kByTime, 0, 0, t};
  }

  static bool presents_at_or_after(const BlockInfo& b, int64_t t) {
    int64_t end;
    if (__builtin_add_overflow(b.pts, b.duration, &end)) end = INT64_MAX;
    return b.pts >= t || end > t;
  }

  // Whether block pos of the loaded group presents at or after t. A block
  // of duration 0 (not known: FLAC from NUT) lasts until the next block of
  // its track, when the group holds that block.
  bool presents_in_group(size_t pos, int64_t t) const {
    const BlockInfo b = group.info(pos);
    return presents_at_or_after(b, t) ||
           (b.duration == 0 && pos + 1 < group.size() && group.info(pos + 1).pts > t);
  }

  // t in ticks of `from`, in ticks of `to`, rounded down (saturating).
  static int64_t rescale(int64_t t, Rational from, Rational to) {
    const Int128 num = Int128(t) * from.num * to.den;
    const Int128 den = Int128(from.den) * to.num;
    Int128 q = num / den;
    if (num % den != 0 && (num < 0) != (den < 0)) --q;  // floor, not truncation
    if (q > INT64_MAX) return INT64_MAX;
    if (q < INT64_MIN) return INT64_MIN;
    return int64_t(q);
  }

  // The track's index entry (group) holding its last I block with pts <= t
  // (its ticks), if it starts at most kResumeWindowUs before t: a sparse
  // track's long-past block is not worth reading back for.
  const IndexEntry* entry_to_resume_in(const Track& track, int64_t t) const {
    auto table = tables.find(track.id);
    if (table == tables.end()) return nullptr;
    const auto found = entry_at_or_before(table->second, t);
    if (!found) return nullptr;
    const int64_t window = rescale(kResumeWindowUs, Rational{1, 1000000}, track.time_base);
    return Int128(t) - found->entry->pts > window ? nullptr : found->entry;
  }

  SeekPoint seek_all(uint16_t id, int64_t t, SeekMode mode, BlockInfo* landed_block) {
    if (tracks.size() > 1) prefetch_for_seek_all(id, t);
    const SeekPoint landed = seek(id, t, mode);
    if (landed_block) {  // seek() loaded its group
      *landed_block = group.info(group_pos);
      if (landed_block->masked && maskers.count(id)) landed_block->masked = false;  // as next()
    }
    if (tracks.size() < 2) return landed;
    const Rational base = require_track(id).time_base;
    std::vector<std::optional<ResumePoint>> points(tracks.size());
    uint64_t start = landed.chunk_offset;
    for (size_t i = 0; i < tracks.size(); ++i) {
      const Track& other = tracks[i];
      if (other.id == id) {
        points[i] = {ResumePoint::kAtBlock, landed.chunk_offset, landed.index_in_group, landed.pts};
        continue;
      }
      const int64_t at = rescale(landed.pts, base, other.time_base);
      if (const IndexEntry* e = entry_to_resume_in(other, at)) {
        points[i] = {ResumePoint::kInEntryGroup, e->offset, 0, at};
        start = std::min(start, e->offset);
      } else {
        points[i] = {ResumePoint::kByTime, 0, 0, at};
      }
    }
    park_group();
    reposition(start);  // within the window the prefetch read: no second read
    for (size_t i = 0; i < tracks.size(); ++i) cursors[i].resume = points[i];
    resuming = tracks.size();
    return landed;
  }

  // Reads, in one go, the span seek_all will read from: the other tracks'
  // groups for the landing time (which lies between the first I block of the
  // track's landing group and t; a writer may put them before or after the
  // landing group) to the end of the span seek() reads. Then landing, and
  // going back to where reading starts, cost no further read (a system call,
  // or a range request).
  void prefetch_for_seek_all(uint16_t id, int64_t t) {
    ensure_index();
    auto table = tables.find(id);
    if (table == tables.end()) return;
    const auto found = entry_at_or_before(table->second, t);
    if (!found) return;
    const Rational base = require_track(id).time_base;
    const uint64_t landing = found->entry->offset;
    uint64_t from = landing, last = landing;
    for (const Track& other : tracks) {
      if (other.id == id) continue;
      for (const int64_t at : {found->entry->pts, t})
        if (const IndexEntry* o = entry_to_resume_in(other, rescale(at, base, other.time_base))) {
          from = std::min(from, o->offset);
          last = std::max(last, o->offset);
        }
    }
    if (from == landing && last == landing) return;  // seek() reads what it needs
    const uint64_t end = found->next_offset;
    if (end <= from || end - from > kMaxSeekPrefetch) return;
    reposition(from);
    prefetch(static_cast<size_t>(end - from));
  }

  // Reads ahead what reading is about to need, in one request. Bytes there
  // that fail verification fail the read that needs them, not this one.
  void prefetch(size_t n) {
    try {
      stream.fill(n);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kVerifyFailed) throw;
    }
  }

  struct Probe {
    uint64_t offset;
    int64_t first_dts;
  };

  // The first group of `id` at or after `from` (scanning no further than
  // `limit`), resynchronising from an arbitrary byte offset.
  std::optional<Probe> probe(uint16_t id, uint64_t from, uint64_t limit) {
    reposition(from);
    if (!chunks.resync()) return std::nullopt;
    while (stream.position() < limit) {
      ChunkView v;
      ChunkStatus st = read_chunk(v);
      if (st == ChunkStatus::kEnd) return std::nullopt;
      if (st == ChunkStatus::kBad) {
        stream.seek(v.offset + 1);
        if (!chunks.resync()) return std::nullopt;
        continue;
      }
      if (is_index_tag(v.header.tag)) return std::nullopt;
      if (v.header.tag == kTagCore && v.payload.size() >= kGroupHeaderSize &&
          decode_group_header(v.payload, v.offset).track_id == id) {
        const uint64_t at = v.offset;
        if (!take_group(v)) return Probe{at, group.info(0).dts};
        continue;
      }
      pass(v);
    }
    return std::nullopt;
  }

  uint64_t data_end() {
    ensure_index();
    return *stream.size();
  }

  SeekPoint seek_without_index(uint16_t id, int64_t t) {
    require_track(id);
    if (!stream.seekable() || !stream.size())
      throw Error(ErrorCode::kNotSeekable, "cannot seek: the source is not seekable");
    const uint64_t end = data_end();
    // 1. Bisection for P, the first group of the track whose first dts > t.
    //    Blocks from P on have pts >= dts > t, so the answer lies before P.
    // Stops once the range is small: the window scan below covers the rest.
    constexpr uint64_t kScanWindow = 64 * 1024;
    uint64_t lo = data_offset, hi = end, first_after = end;
    while (lo + kScanWindow / 2 < hi) {
      uint64_t mid = lo + (hi - lo) / 2;
      auto g = probe(id, mid, hi);
      if (!g || g->offset >= hi) {
        hi = mid;
      } else if (g->first_dts > t) {
        first_after = g->offset;
        hi = mid;
      } else {
        lo = g->offset + 1;
      }
    }
    // 2. Scan windows ending at P, doubling backwards, for the last I block of
    //    the track with pts <= t (I block pts never decrease in decode order).
    for (uint64_t window = kScanWindow;; window *= 2) {
      uint64_t start = first_after > data_offset + window ? first_after - window : data_offset;
      std::optional<std::pair<uint64_t, size_t>> best;
      reposition(start);
      bool found = start == data_offset || chunks.resync();
      while (found && stream.position() < first_after) {
        ChunkView v;
        ChunkStatus st = read_chunk(v);
        if (st == ChunkStatus::kEnd) break;
        if (st == ChunkStatus::kBad) {
          stream.seek(v.offset + 1);
          if (!chunks.resync()) break;
          continue;
        }
        if (v.header.tag != kTagCore) {
          if (is_index_tag(v.header.tag)) break;
          pass(v);
          continue;
        }
        const uint64_t at = v.offset;
        if (take_group(v)) continue;
        if (group.track_id() != id) continue;
        long k = group.last_key_at_or_before(t);
        if (k >= 0) best = {at, size_t(k)};
      }
      if (best) {
        if (!load_group_at(best->first)) break;
        return land(best->second);
      }
      if (start == data_offset) break;
    }
    not_found(id, t);
  }

  std::vector<ChainLink> decode_chain(uint16_t id, int64_t t, bool payloads) {
    seek(id, t);
    std::vector<ChainLink> gop;  // blocks of the track from the key, in decode order
    // A bound the track declares holds; otherwise the reader's limit.
    const Track& track = require_track(id);
    const uint32_t max_chain = track.max_chain_blocks
                                   ? std::min(opt.limits.max_chain_blocks, track.max_chain_blocks)
                                   : opt.limits.max_chain_blocks;
    uint64_t gop_bytes = 0;
    Block b;
    std::optional<Damage> gap;  // damage met since the last block of the GOP
    for (;;) {
      ReadEvent ev = next(b);
      if (ev == ReadEvent::kEnd) break;
      if (ev == ReadEvent::kDamage) {
        gap = damage.last();
        continue;
      }
      if (b.info.track_id != id) continue;
      if (!gop.empty() && (b.info.type == BlockType::kI || b.info.dts > t)) break;
      // Blocks of this GOP on both sides of a damaged region: some may be lost.
      if (gap)
        throw Error(ErrorCode::kCorrupt,
                    "decode chain for track " + std::to_string(id) + " at " + std::to_string(t) +
                        " crosses damage: " + gap->message,
                    gap->offset);
      if (payloads) gop_bytes += b.data.size();
      if (gop.size() >= max_chain || gop_bytes > opt.limits.max_chain_bytes)
        throw Error(ErrorCode::kLimitExceeded,
                    "decode chain for track " + std::to_string(id) + " at " + std::to_string(t) +
                        " is longer than " + std::to_string(max_chain) + " blocks or " +
                        std::to_string(opt.limits.max_chain_bytes) +
                        " bytes from its I block at offset " +
                        std::to_string(gop.empty() ? b.chunk_offset : gop.front().chunk_offset) +
                        (max_chain < opt.limits.max_chain_blocks ? " (the track's bound in TRAK)"
                                                                 : " (reader limit)"),
                    b.chunk_offset);
      ChainLink& link =
          gop.emplace_back(ChainLink{b.info, b.chunk_offset, b.index_in_group, b.data.size(), {}});
      if (payloads) link.payload.assign(b.data.begin(), b.data.end());
    }
    // The presenting block: greatest pts <= t, the later one on ties.
    size_t present = 0;
    for (size_t i = 0; i < gop.size(); ++i)
      if (gop[i].info.pts <= t && gop[i].info.pts >= gop[present].info.pts) present = i;
    // Anchors (I/P) up to the presenting block, or up to the B block's later
    // anchor (the last anchor before it in decode order), then the B block.
    std::vector<ChainLink> chain;
    for (size_t i = 0; i <= present; ++i)
      if (gop[i].info.type != BlockType::kB) chain.push_back(std::move(gop[i]));
    if (gop[present].info.type == BlockType::kB) chain.push_back(std::move(gop[present]));
    return chain;
  }
};

Reader::Reader(Source& source, ReaderOptions options)
    : impl_(std::make_unique<Impl>(source, options)) {}
Reader::~Reader() = default;

uint16_t Reader::version_major() const { return impl_->version_major; }
bool Reader::verified() const { return impl_->verifying != nullptr; }
uint16_t Reader::version_minor() const { return impl_->version_minor; }
const ReaderLimits& Reader::limits() const { return impl_->opt.limits; }
const std::vector<Track>& Reader::tracks() const { return impl_->tracks; }
const Track* Reader::track(uint16_t id) const { return impl_->track(id); }
const std::string& Reader::tracks_json() const { return impl_->trak_json; }
const std::string& Reader::metadata_json() const { return impl_->meta_json; }
const std::string& Reader::safe_json() const { return impl_->safe_json; }
const std::string& Reader::note() const { return impl_->note; }
const std::vector<Chapter>& Reader::chapters() const { return impl_->chapters; }
const std::vector<Attachment>& Reader::attachments() const { return impl_->attachments; }
void Reader::hand_out_damaged_groups(bool on) { impl_->hand_out_damaged = on; }
uint64_t Reader::data_offset() const { return impl_->data_offset; }
std::span<const UnknownChunk> Reader::head_unknown_chunks() const { return impl_->head_unknown; }
uint64_t Reader::head_unknown_chunks_unlisted() const { return impl_->head_unknown_unlisted; }
void Reader::on_unknown_chunk(std::function<void(const UnknownChunk&)> handler) {
  impl_->unknown_handler = std::move(handler);
}
const std::string& Reader::signature_json() {
  impl_->ensure_index();
  return impl_->sign_json;
}

void Reader::set_mask_key(const MaskKey& key, uint16_t track_id) {
  impl_->set_mask_key(key, track_id);
}

bool Reader::unmasks(uint16_t track_id) const { return impl_->maskers.count(track_id) != 0; }

bool Reader::has_index() {
  impl_->ensure_index();
  return impl_->index_state == Impl::IndexState::kLoaded;
}

std::span<const IndexEntry> Reader::index(uint16_t track_id) {
  impl_->ensure_index();
  auto it = impl_->tables.find(track_id);
  if (it == impl_->tables.end()) return {};
  return it->second.entries;
}

std::optional<TrackSummary> Reader::summary(uint16_t track_id) {
  // From the HINT until the index is loaded (no read at the end of the file),
  // and on a pipe, where there is no index to load.
  if (impl_->hint) return impl_->hinted_summary(track_id);
  impl_->ensure_index();
  auto it = impl_->tables.find(track_id);
  if (it == impl_->tables.end()) return std::nullopt;
  return it->second.summary;
}

const std::string& Reader::veri_json() {
  impl_->ensure_index();
  return impl_->veri_json;
}

ReadEvent Reader::next(Block& out) { return impl_->next(out); }

ReadEvent Reader::next_run(Block& out, uint32_t& count) {
  count = 0;
  const ReadEvent ev = impl_->next(out);
  if (ev != ReadEvent::kBlock) return ev;
  count = 1;
  Impl& r = *impl_;
  const size_t pos = r.group_pos - 1;
  // Only payloads in place in the held group: not a block read apart from a
  // group too big to hold, nor one unmasked into a buffer of its own.
  const bool unmasked = r.group.info(pos).masked && r.maskers.count(out.info.track_id);
  const size_t more = r.group.run_from(pos) - 1;
  if (more == 0 || r.group_streamed || unmasked) return ev;
  count += uint32_t(more);
  out.data = {out.data.data(), out.data.size() * count};
  r.group_pos += more;
  return ev;
}

bool Reader::peek(Block& out) const {
  if (impl_->group_pos >= impl_->group.size()) return false;
  impl_->describe(impl_->group_pos, out);
  return true;
}

const Damage& Reader::last_damage() const {
  static const Damage kNone{};
  return impl_->damage.count() == 0 ? kNone : impl_->damage.last();
}

const std::vector<Damage>& Reader::damage() const { return impl_->damage.kept(); }
uint64_t Reader::damage_count() const { return impl_->damage.count(); }

void Reader::rewind() { impl_->reposition(impl_->data_offset); }

bool Reader::seekable() const { return impl_->stream.seekable(); }

SeekPoint Reader::seek(uint16_t track_id, int64_t t) {
  return impl_->unchanged_on_failure([&] { return impl_->seek(track_id, t); });
}

SeekPoint Reader::seek(uint16_t track_id, int64_t t, SeekMode mode) {
  return impl_->unchanged_on_failure([&] { return impl_->seek(track_id, t, mode); });
}

SeekPoint Reader::seek_all(uint16_t track_id, int64_t t, SeekMode mode, BlockInfo* landed_block) {
  return impl_->unchanged_on_failure(
      [&] { return impl_->seek_all(track_id, t, mode, landed_block); });
}

SeekPoint Reader::seek_without_index(uint16_t track_id, int64_t t) {
  return impl_->unchanged_on_failure([&] { return impl_->seek_without_index(track_id, t); });
}

void Reader::seek_to_group(uint64_t chunk_offset, uint32_t index_in_group) {
  impl_->unchanged_on_failure([&] {
    if (chunk_offset < impl_->data_offset || !impl_->load_group_at(chunk_offset))
      throw Error(ErrorCode::kCorrupt,
                  "no valid CORE chunk at offset " + std::to_string(chunk_offset), chunk_offset);
    if (index_in_group >= impl_->group.size())
      throw Error(ErrorCode::kInvalidArgument, "group at offset " + std::to_string(chunk_offset) +
                                                   " has no block " +
                                                   std::to_string(index_in_group));
    impl_->group_pos = index_in_group;
  });
}

std::vector<ChainLink> Reader::decode_chain(uint16_t track_id, int64_t t, bool payloads) {
  return impl_->unchanged_on_failure([&] { return impl_->decode_chain(track_id, t, payloads); });
}

uint64_t Reader::bytes_read() const { return impl_->stream.bytes_read(); }

}  // namespace h4mk
