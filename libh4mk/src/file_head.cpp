#include "file_head.hpp"

#include <string>
#include <utility>

#include "attachment_chunk.hpp"
#include "chapter_json.hpp"
#include "chunk.hpp"
#include "group_compression.hpp"
#include "index_region.hpp"
#include "json_text.hpp"
#include "track_json.hpp"

namespace h4mk::detail {

std::vector<uint16_t> FileHead::track_ids() const {
  std::vector<uint16_t> ids;
  for (const Track& t : tracks) ids.push_back(t.id);
  return ids;
}

UnknownChunk unknown_chunk(const ChunkView& v) {
  UnknownChunk c;
  c.tag = tag_chars(v.header.tag);
  c.offset = v.offset;
  c.size = v.header.size;
  c.payload = v.payload;
  return c;
}

namespace {

class HeadReader {
 public:
  HeadReader(FileHead& head, ChunkStream& stream, ChunkReader& chunks, const ReaderLimits& limits,
             DamageLog& damage)
      : head_(head), stream_(stream), chunks_(chunks), limits_(limits), damage_(damage) {}

  void read(std::optional<uint64_t> head_end,
            const std::function<void(const ChunkView&)>& skip_bad_chunk) {
    read_trak();
    // META, SAFE, NOTE (and chunks of tags this reader does not know) come
    // before the first CORE.
    for (;;) {
      if (head_end && stream_.position() >= *head_end) break;
      if (stream_.fill(kChunkHeaderSize) < kChunkHeaderSize) break;
      const Tag tag = parse_chunk_header(stream_.data()).tag;
      if (tag == kTagCore || is_index_tag(tag)) break;
      ChunkView v;
      if (chunks_.peek_chunk(v) == ChunkStatus::kBad) {
        skip_bad_chunk(v);
        continue;
      }
      take(tag, v);
      stream_.consume(v.total());
    }
    head_.data_offset = stream_.position();
  }

 private:
  void read_trak() {
    const size_t got = stream_.fill(kFileHeaderSize);
    if (got < kFileHeaderSize) {
      if (got >= 4 && std::string(reinterpret_cast<const char*>(stream_.data()), 4) != "H4MK")
        throw Error(ErrorCode::kBadMagic, "not an H4MK file: the first 4 bytes are not 'H4MK'", 0);
      throw Error(ErrorCode::kTruncated,
                  "file is " + std::to_string(got) + " bytes, shorter than the 16-byte header", 0);
    }
    const FileHeader fh = decode_file_header(stream_.data());
    head_.version_major = fh.version_major;
    head_.version_minor = fh.version_minor;
    stream_.consume(kFileHeaderSize);

    ChunkView v;
    const ChunkStatus st = chunks_.peek_chunk(v);
    if (st == ChunkStatus::kEnd)
      throw Error(ErrorCode::kTruncated, "file ends after the header: no TRAK chunk", 16);
    if (st == ChunkStatus::kBad) throw Error(v.code, "cannot read the TRAK chunk: " + v.why, 16);
    if (v.header.tag != kTagTrak)
      throw Error(ErrorCode::kCorrupt,
                  "first chunk at offset 16 is '" + tag_name(v.header.tag) + "', expected TRAK",
                  16);
    head_.trak_json = payload_text(v.payload);
    head_.tracks = decode_tracks(head_.trak_json, v.offset, limits_);
    for (size_t i = 0; i < head_.tracks.size(); ++i) head_.slot_of_id[head_.tracks[i].id] = i;
    stream_.consume(v.total());
  }

  void take(Tag tag, const ChunkView& v) {
    try {
      if (tag == kTagMeta || tag == kTagSafe) {
        std::string text = payload_text(v.payload);
        if (!is_json_object(text, limits_.max_json_depth))
          throw Error(ErrorCode::kCorrupt, tag_name(tag) + " chunk at offset " +
                                               std::to_string(v.offset) +
                                               " is not a JSON object within the reader's limits");
        (tag == kTagMeta ? head_.meta_json : head_.safe_json) = std::move(text);
      } else if (tag == kTagNote) {
        head_.note = payload_text(v.payload);
      } else if (tag == kTagChap) {
        head_.chapters = decode_chapters(payload_text(v.payload), v.offset, limits_);
      } else if (tag == kTagAtch) {
        take_attachment(v);
      } else if (tag == kTagHint) {
        take_hint(v);
      } else if (tag == kTagDict) {
        take_dictionary(v);
      } else if (!is_known_tag(tag)) {
        list_unknown(v);
      }
    } catch (const Error& e) {
      damage_.add({v.offset, v.total(), e.code(), std::string(e.what()) + "; ignored"});
    }
  }

  // An attachment that names an undeclared track, or would take the
  // attachments past the reader's limit, is ignored.
  void take_attachment(const ChunkView& v) {
    Attachment a = decode_attachment(v.payload, v.offset, limits_,
                                     [&](uint16_t id) { return head_.slot_of_id.count(id) != 0; });
    if (a.data.size() > limits_.max_attachment_bytes - attachment_bytes_)
      throw Error(ErrorCode::kLimitExceeded,
                  "ATCH chunk at offset " + std::to_string(v.offset) +
                      ": the attachments exceed the reader's limit of " +
                      std::to_string(limits_.max_attachment_bytes) + " bytes",
                  v.offset);
    attachment_bytes_ += a.data.size();
    head_.attachments.push_back(std::move(a));
  }

  // A track's zstd dictionary. One that names a track that is not
  // compressed, or a second one, is ignored: the groups made with it then
  // fail to expand, each reported.
  void take_dictionary(const ChunkView& v) {
    const DictChunk d = decode_dict_chunk(v.payload, v.offset);
    auto slot = head_.slot_of_id.find(d.track_id);
    const std::string at = "DICT chunk at offset " + std::to_string(v.offset) + ": track " +
                           std::to_string(d.track_id);
    if (slot == head_.slot_of_id.end())
      throw Error(ErrorCode::kCorrupt, at + " is not declared in TRAK", v.offset);
    Track& t = head_.tracks[slot->second];
    if (!t.compression)
      throw Error(ErrorCode::kCorrupt, at + " does not declare compression", v.offset);
    if (!t.compression->dictionary.empty())  // decode_dict_chunk refuses an empty one
      throw Error(ErrorCode::kCorrupt, at + " has a dictionary already", v.offset);
    t.compression->dictionary.assign(d.dictionary.begin(), d.dictionary.end());
  }

  // A HINT left as zeros (the writer did not finish) or written for a file
  // of another size (cut, still growing, appended to) is not this file's:
  // it is ignored without a report, as a missing TAIL is.
  void take_hint(const ChunkView& v) {
    Hint h = decode_hint(v.payload, head_.tracks.size(), v.offset);
    const auto size = stream_.size();
    if (h.file_size == 0 || (size && *size != h.file_size)) return;
    // What can be checked without reading the end: a HINT that fails this
    // is no writer's, and is ignored (the index is read instead).
    const std::string why = implausible_hint(h, head_.track_ids());
    if (!why.empty())
      throw Error(ErrorCode::kCorrupt,
                  "HINT chunk at offset " + std::to_string(v.offset) + ": " + why);
    head_.hint = std::move(h);
    head_.hint_offset = v.offset;
  }

  // Keeps what a rewrite needs of an unknown chunk.
  void list_unknown(const ChunkView& v) {
    if (head_.unknown.size() == FileHead::kMaxListedUnknown) {
      ++head_.unknown_unlisted;
      return;
    }
    UnknownChunk c = unknown_chunk(v);
    c.held = c.safe_to_copy() && c.size <= FileHead::kMaxHeldUnknownBytes - unknown_held_;
    c.payload = {};
    if (c.held) {
      unknown_held_ += c.size;
      head_.unknown_bytes.emplace_back(v.payload.begin(), v.payload.end());
      c.payload = head_.unknown_bytes.back();  // a moved vector keeps its buffer
    }
    head_.unknown.push_back(c);
  }

  FileHead& head_;
  ChunkStream& stream_;
  ChunkReader& chunks_;
  const ReaderLimits& limits_;
  DamageLog& damage_;
  uint64_t attachment_bytes_ = 0, unknown_held_ = 0;
};

}  // namespace

void read_file_head(FileHead& head, ChunkStream& stream, ChunkReader& chunks,
                    const ReaderLimits& limits, DamageLog& damage, std::optional<uint64_t> head_end,
                    const std::function<void(const ChunkView&)>& skip_bad_chunk) {
  HeadReader(head, stream, chunks, limits, damage).read(head_end, skip_bad_chunk);
}

}  // namespace h4mk::detail
