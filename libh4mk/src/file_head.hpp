// The head of a file (FORMAT.md §2, §9.1): the file header and the chunks before
// the first group (TRAK, then META, SAFE, NOTE, CHAP, ATCH, HINT, DICT and
// chunks of tags this reader does not know), read once when a Reader opens
// the file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "chunk_reader.hpp"
#include "chunk_stream.hpp"
#include "damage_log.hpp"
#include "h4mk/attachment.hpp"
#include "h4mk/chapter.hpp"
#include "h4mk/reader.hpp"
#include "h4mk/track.hpp"
#include "h4mk/unknown_chunk.hpp"
#include "hint.hpp"

namespace h4mk::detail {

struct FileHead {
  uint16_t version_major = 1, version_minor = 0;
  std::vector<Track> tracks;  // in TRAK order: a track's slot is its position here
  std::unordered_map<uint16_t, size_t> slot_of_id;
  std::string trak_json, meta_json, safe_json, note;
  std::vector<Chapter> chapters;
  std::vector<Attachment> attachments;

  // Unknown chunks (FORMAT.md §9.6), as a rewrite needs them: at most
  // kMaxListedUnknown listed, and the payloads of those safe to copy held
  // up to kMaxHeldUnknownBytes in all.
  static constexpr size_t kMaxListedUnknown = 256;
  static constexpr uint64_t kMaxHeldUnknownBytes = 1 << 20;
  std::vector<UnknownChunk> unknown;
  std::vector<std::vector<uint8_t>> unknown_bytes;  // the held payloads
  uint64_t unknown_unlisted = 0;

  // A filled-in HINT of this very file (its size matches): the track
  // summaries until the index is loaded, which then checks it.
  std::optional<Hint> hint;
  uint64_t hint_offset = 0;

  uint64_t data_offset = 0;  // where the head ends

  const Track* track(uint16_t id) const {
    auto it = slot_of_id.find(id);
    return it == slot_of_id.end() ? nullptr : &tracks[it->second];
  }
  std::vector<uint16_t> track_ids() const;
};

// Reads the head from the start of the stream into `head`, which is filled
// in as it goes: resynchronising after a bad chunk, the chunk reader's track
// filter looks at the tracks TRAK declared. Throws Error for a file that
// cannot be read at all (no header, no TRAK). After TRAK, a chunk that
// cannot be read goes to skip_bad_chunk; one that reads but cannot be used
// is recorded in `damage` and ignored. head_end: where a verified file's
// head ends (its ROOT says), so the first group is not fetched to find it.
void read_file_head(FileHead& head, ChunkStream& stream, ChunkReader& chunks,
                    const ReaderLimits& limits, DamageLog& damage, std::optional<uint64_t> head_end,
                    const std::function<void(const ChunkView&)>& skip_bad_chunk);

// An unknown chunk as a rewrite sees it; its payload is the view's.
UnknownChunk unknown_chunk(const ChunkView& v);

}  // namespace h4mk::detail
