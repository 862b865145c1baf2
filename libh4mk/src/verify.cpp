// verify(): one sequential pass that checks every CRC, the VERI chain, the
// index against the groups actually present, TAIL and the chunk order.
#include "h4mk/verify.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "attachment_chunk.hpp"
#include "background_hash_chain.hpp"
#include "block_group.hpp"
#include "byte_order.hpp"
#include "chapter_json.hpp"
#include "chunk.hpp"
#include "chunk_reader.hpp"
#include "chunk_stream.hpp"
#include "group_compression.hpp"
#include "h4mk/signature.hpp"
#include "hint.hpp"
#include "index_region.hpp"
#include "json_text.hpp"
#include "seek_table.hpp"
#include "signed_tree.hpp"
#include "track_json.hpp"
#include "verifying_source.hpp"

namespace h4mk {

using namespace detail;

namespace {

std::string_view as_text(std::span<const uint8_t> p) {
  return {reinterpret_cast<const char*>(p.data()), p.size()};
}

class Verifier {
 public:
  Verifier(Source& source, const VerifyOptions& opt)
      : opt_(opt),
        source_(source),
        stream_(source),
        chunks_(stream_, opt_.limits),
        expander_(opt_.limits) {
    stream_.track_crc(true);
    // Verify reads every byte in order: 256 KiB reads measured 10 % faster than
    // 64 KiB (fewer system calls; a 1 MiB window no longer stays in L2).
    stream_.enable_read_ahead(256 * 1024);
    chunks_.set_track_filter([this](uint16_t id) { return tracks_.count(id) != 0; });
  }

  VerifyReport run() {
    if (!check_file_header()) return std::move(report_);
    for (;;) {
      ChunkView v;
      ChunkStatus st = chunks_.peek_chunk(v);
      if (st == ChunkStatus::kEnd) break;
      if (st == ChunkStatus::kBad) {
        problem(v.offset, v.header.tag, v.code, v.why);
        stream_.consume(1);
        if (!chunks_.resync()) break;
        continue;
      }
      ++report_.chunks;
      // The HINT is filled in after the chain is computed, the HASH pages
      // by signing: both outside it (§8).
      if (opt_.check_veri && !report_.has_veri && v.header.tag != kTagVeri &&
          v.header.tag != kTagHint && v.header.tag != kTagHash)
        chain_.add_chunk({stream_.data(), kChunkHeaderSize}, v.payload);
      if (v.header.tag == kTagTail) {
        check_tail(v);
        break;
      }
      check_chunk(v);
      chunks_.consume(v);
    }
    finish();
    return std::move(report_);
  }

 private:
  // Per declared track: what TRAK says and what its groups have shown so far.
  struct TrackState {
    Track track;
    std::optional<int64_t> last_dts;  // of its last group, once it has one
    uint64_t chain = 0;               // blocks since its last I block, that one included
    uint32_t last_crc = 0;            // that group's chunk CRC
    SeekTable rebuilt;                // the index the groups call for
  };

  // Memory stays bounded whatever the file: all problems go to
  // on_problem, the first kKeptProblems into the report.
  void problem(uint64_t offset, Tag tag, ErrorCode code, std::string message) {
    Problem p{offset, tag ? tag_name(tag) : "", code, std::move(message)};
    last_problem_code_ = code;
    ++report_.problem_count;
    if (opt_.on_problem) opt_.on_problem(p);
    if (report_.problems.size() < VerifyReport::kKeptProblems)
      report_.problems.push_back(std::move(p));
  }

  bool check_file_header() {
    if (stream_.fill(kFileHeaderSize) < kFileHeaderSize) {
      problem(0, 0, ErrorCode::kTruncated, "file is shorter than the 16-byte header");
      return false;
    }
    try {
      version_major_ = decode_file_header(stream_.data()).version_major;
    } catch (const Error& e) {
      problem(0, 0, e.code(), e.what());
      if (e.code() != ErrorCode::kCrcMismatch) return false;
    }
    if (opt_.check_veri) chain_.start({stream_.data(), kFileHeaderSize});
    stream_.consume(kFileHeaderSize);
    return true;
  }

  void check_chunk(const ChunkView& v) {
    const Tag tag = v.header.tag;
    auto order = [&](const std::string& why) {
      problem(v.offset, tag, ErrorCode::kCorrupt,
              tag_name(tag) + " chunk at offset " + std::to_string(v.offset) + " " + why);
    };
    if (report_.chunks == 1 && tag != kTagTrak) order("comes first; TRAK must");
    if (in_index_ && !is_index_tag(tag)) order("follows the index region");
    if (after_pages_ && tag != kTagHash && !is_index_tag(tag))
      order("follows a HASH page: the pages end the data region (FORMAT.md §8.2)");
    if (is_index_tag(tag) && !in_index_) index_start_ = v.offset;
    switch (tag) {
      case kTagTrak:
        if (report_.chunks != 1) order("is not the first chunk");
        try {
          for (Track& t : decode_tracks(std::string(v.payload.begin(), v.payload.end()), v.offset,
                                        opt_.limits)) {
            trak_order_.push_back(t.id);
            if (t.compression && version_major_ < 2)
              order("declares compression for track " + std::to_string(t.id) + " in a " +
                    std::to_string(version_major_) +
                    ".x file (compression needs 2.0: FORMAT.md §3)");
            tracks_[t.id].track = t;
          }
        } catch (const Error& e) {
          problem(v.offset, tag, e.code(), e.what());
        }
        break;
      case kTagMeta:
      case kTagSafe:
      case kTagNote:
      case kTagChap:
        if (report_.core_chunks) order("comes after the first CORE");
        if (!header_chunks_.insert(tag).second) order("appears twice");
        if ((tag == kTagMeta || tag == kTagSafe) &&
            !is_json_object(as_text(v.payload), opt_.limits.max_json_depth))
          order("is not a JSON object within the reader's limits");
        if (tag == kTagChap) check_chapters(v);
        if (tag == kTagNote) {
          try {
            require_utf8(as_text(v.payload), "NOTE chunk at offset " + std::to_string(v.offset));
          } catch (const Error& e) {
            problem(v.offset, tag, ErrorCode::kCorrupt, e.what());
          }
        }
        break;
      case kTagAtch:
        if (report_.core_chunks) order("comes after the first CORE");
        check_attachment(v);
        break;
      case kTagCore:
        check_group(v);
        break;
      case kTagHash:
        if (!report_.core_chunks) order("comes before the first CORE");
        after_pages_ = true;
        data_end_ = v.offset + v.total();
        break;
      case kTagRoot:
        if (!root_payload_.empty()) order("appears twice");
        if (previous_tag_ != kTagSign) order("does not follow SIGN");
        root_payload_.assign(v.payload.begin(), v.payload.end());
        break;
      case kTagDict:
        if (report_.core_chunks) order("comes after the first CORE");
        check_dictionary(v);
        break;
      case kTagVeri:
        check_veri(v);
        veri_json_ = as_text(v.payload);
        break;
      case kTagSign:
        if (report_.has_signature) order("appears twice");
        if (!veri_json_.empty() && previous_tag_ != kTagVeri) order("does not follow VERI");
        report_.has_signature = true;
        sign_json_ = as_text(v.payload);
        break;
      case kTagTsek:
        in_index_ = true;
        if (auto p = index_.take_seek_table(v.payload, v.offset))
          problem(p->offset, tag, p->code, p->message);
        break;
      case kTagHint:
        if (previous_tag_ != kTagTrak) order("does not follow TRAK");
        if (hint_offset_) {
          order("appears twice");
          break;
        }
        hint_offset_ = v.offset;
        try {
          hint_ = decode_hint(v.payload, trak_order_.size(), v.offset);
        } catch (const Error& e) {
          problem(v.offset, tag, e.code(), e.what());
        }
        break;
      default:
        if (!is_known_tag(tag)) note_unknown(v);
        break;
    }
    previous_tag_ = tag;
  }

  // An unknown tag is allowed and skipped; the report names it.
  void note_unknown(const ChunkView& v) {
    if (report_.unknown_chunk_count++ >= VerifyReport::kKeptUnknownChunks) return;
    UnknownChunk& c = report_.unknown_chunks.emplace_back();
    c.tag = tag_chars(v.header.tag);
    c.offset = v.offset;
    c.size = v.header.size;
    c.held = false;
  }

  void check_group(const ChunkView& v) {
    ++report_.core_chunks;
    data_end_ = v.offset + v.total();
    GroupSummary g;
    TrackState* track = nullptr;
    try {
      const GroupHeader h = decode_group_header(v.payload, v.offset);
      track = track_state(h.track_id);
      if (!track)
        throw Error(ErrorCode::kCorrupt, "CORE chunk at offset " + std::to_string(v.offset) +
                                             ": track " + std::to_string(h.track_id) +
                                             " is not declared in TRAK");
      const auto group =
          expander_.expand(v.payload, h, track->track.compression.has_value(), v.offset);
      g = group.data() == v.payload.data()
              ? summarize_group(group, h, track->track.default_duration,
                                opt_.limits.max_blocks_per_group, v.offset)
              : summarize_group(group, track->track.default_duration,
                                opt_.limits.max_blocks_per_group, v.offset);
    } catch (const Error& e) {
      problem(v.offset, kTagCore, e.code(), e.what());
      return;
    }
    if (!(g.header.flags & kGroupUniform) && opt_.veri_thread && !chain_may_use_thread_) {
      chain_may_use_thread_ = true;
      chain_.allow_thread();
    }
    report_.blocks += g.header.block_count;
    if (track->last_dts && (g.first_dts < *track->last_dts ||
                            (g.first_dts == *track->last_dts && v.header.crc == track->last_crc)))
      problem(v.offset, kTagCore, ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(v.offset) + ": track " +
                  std::to_string(g.header.track_id) + " goes back in time (dts " +
                  std::to_string(g.first_dts) + " after " + std::to_string(*track->last_dts) +
                  "): a duplicated or misplaced chunk");
    track->last_dts = g.last_dts;
    track->last_crc = v.header.crc;
    if (track->track.mask && g.any_plain)
      problem(v.offset, kTagCore, ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(v.offset) + ": track " +
                  std::to_string(g.header.track_id) +
                  " is masked, but this group holds a plain block (FORMAT.md §13)");
    check_chain(*track, g, v.offset);
    add_group(track->rebuilt, g, v.offset);
    if (g.out_of_bounds)
      problem(v.offset, kTagCore, ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(v.offset) + ": track " +
                  std::to_string(g.header.track_id) +
                  " has a pts, dts or duration of 2^62 or more in magnitude (FORMAT.md §5.5)");
  }

  void check_dictionary(const ChunkView& v) {
    try {
      const DictChunk d = decode_dict_chunk(v.payload, v.offset);
      const std::string at = "DICT chunk at offset " + std::to_string(v.offset) + ": track " +
                             std::to_string(d.track_id);
      TrackState* track = track_state(d.track_id);
      if (!track) throw Error(ErrorCode::kCorrupt, at + " is not declared in TRAK", v.offset);
      if (!track->track.compression)
        throw Error(ErrorCode::kCorrupt, at + " does not declare compression", v.offset);
      if (expander_.has_dictionary(d.track_id))
        throw Error(ErrorCode::kCorrupt, at + " has a dictionary already", v.offset);
      expander_.set_dictionary(d.track_id, d.dictionary);
    } catch (const Error& e) {
      problem(v.offset, kTagDict, e.code(), e.what());
    }
  }

  // A decode chain longer than the track's bound (TRAK max_chain_blocks, or
  // the format's ceiling) is reported once, at the group where it passes it.
  void check_chain(TrackState& track, const GroupSummary& g, uint64_t offset) {
    const uint64_t bound = track.track.chain_bound();
    const uint64_t before = track.chain;
    // The chain the group continues, and the ones it starts.
    const bool over = (before <= bound && before + g.lead > bound) ||
                      (g.has_key && (g.longest > bound || g.run > bound));
    track.chain = g.has_key ? g.run : before + g.lead;
    if (over)
      problem(offset, kTagCore, ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(offset) + ": track " +
                  std::to_string(track.track.id) + " has a decode chain longer than " +
                  std::to_string(bound) + " blocks" +
                  (track.track.max_chain_blocks ? " (its TRAK max_chain_blocks)"
                                                : " (the format's bound)") +
                  " (FORMAT.md §12.1)");
  }

  // Groups mostly follow the group before on the same track: the last track
  // looked up is kept (a map's nodes stay where they are).
  TrackState* track_state(uint16_t id) {
    if (!last_track_ || last_track_->track.id != id) {
      auto t = tracks_.find(id);
      if (t == tracks_.end()) return nullptr;
      last_track_ = &t->second;
    }
    return last_track_;
  }

  void check_chapters(const ChunkView& v) {
    try {
      (void)decode_chapters(as_text(v.payload), v.offset, opt_.limits);
    } catch (const Error& e) {
      problem(v.offset, kTagChap, e.code(), e.what());
    }
  }

  void check_attachment(const ChunkView& v) {
    try {
      (void)decode_attachment(v.payload, v.offset, opt_.limits,
                              [&](uint16_t id) { return tracks_.count(id) != 0; });
    } catch (const Error& e) {
      problem(v.offset, kTagAtch, e.code(), e.what());
    }
  }

  void check_veri(const ChunkView& v) {
    const std::string at = "VERI chunk at offset " + std::to_string(v.offset);
    if (report_.has_veri) {
      problem(v.offset, kTagVeri, ErrorCode::kCorrupt, at + " appears twice");
      return;
    }
    report_.has_veri = true;
    in_index_ = true;
    auto parsed = parse_json(as_text(v.payload), opt_.limits.max_json_depth);
    nlohmann::json j = parsed ? *parsed : nlohmann::json();
    if (!j.is_object() || !j.contains("hash") || !j["hash"].is_string() || !j.contains("chunks") ||
        !j["chunks"].is_number_unsigned() || j.value("algorithm", "") != "sha256-chain-v1") {
      problem(v.offset, kTagVeri, ErrorCode::kCorrupt, at + " is not a valid VERI object");
      return;
    }
    if (!opt_.check_veri) return;
    report_.veri_hash = chain_.hex();
    if (j["chunks"].get<uint64_t>() != chain_.count() ||
        j["hash"].get<std::string>() != chain_.hex())
      problem(v.offset, kTagVeri, ErrorCode::kVerifyFailed,
              at + ": hash chain mismatch (stored " + j["hash"].get<std::string>() + " over " +
                  std::to_string(j["chunks"].get<uint64_t>()) + " chunks, computed " +
                  chain_.hex() + " over " + std::to_string(chain_.count()) + ")");
    else
      report_.veri_ok = true;
  }

  void check_tail(const ChunkView& v) {
    TailInfo tail = decode_tail(v.payload.data());
    tail_offset_ = v.offset;
    if (!in_index_) index_start_ = v.offset;
    chunks_.consume(v);
    const uint32_t computed = stream_.consumed_crc();
    if (stream_.fill(4) < 4) {
      problem(stream_.position(), 0, ErrorCode::kTruncated, "container CRC after TAIL is missing");
      return;
    }
    report_.complete = true;
    uint32_t stored = load_u32(stream_.data());
    stream_.consume(4);
    report_.container_crc_ok = stored == computed;
    if (!report_.container_crc_ok)
      problem(v.offset + v.total(), 0, ErrorCode::kCrcMismatch, "container CRC mismatch");
    const uint64_t index_offset = report_.core_chunks ? data_end_ : index_start_;
    if (tail.index_offset != index_offset)
      problem(v.offset, kTagTail, ErrorCode::kCorrupt,
              "TAIL index offset " + std::to_string(tail.index_offset) + ", expected " +
                  std::to_string(index_offset));
    if (tail.core_count != report_.core_chunks)
      problem(v.offset, kTagTail, ErrorCode::kCorrupt,
              "TAIL counts " + std::to_string(tail.core_count) + " CORE chunks, file has " +
                  std::to_string(report_.core_chunks));
    size_t extra = 0;
    while (size_t n = stream_.fill(64 * 1024)) {
      extra += n;
      stream_.consume(n);
    }
    if (extra)
      problem(v.offset + v.total() + 4, 0, ErrorCode::kCorrupt,
              std::to_string(extra) + " bytes follow the container CRC");
    file_size_ = stream_.position();
    tail_index_offset_ = tail.index_offset;
  }

  // With a trusted key: the signature over ROOT, then every byte of the
  // file against the tree it signs, in a second pass through a
  // VerifyingSource (the checks a reader makes as it reads, all of them).
  void check_signature_with_key() {
    if (opt_.public_key_pem.empty()) return;
    auto fail = [&](uint64_t offset, std::string why) {
      problem(offset == kNoOffset ? sign_offset() : offset, kTagSign, ErrorCode::kAuthFailed,
              "signature: " + why);
    };
    std::string why;
    try {
      why = !sign_json_.empty() && root_payload_.empty()
                ? "the file is signed without a hash tree (no ROOT after SIGN); sign it again"
                : check_root_signature(sign_json_, root_payload_, opt_.public_key_pem);
    } catch (const Error& e) {
      why = e.what();
    }
    if (!why.empty()) return fail(kNoOffset, why);
    if (!report_.complete) return fail(kNoOffset, "an incomplete file cannot be checked");
    if (!source_.seekable() || !source_.size())
      return fail(kNoOffset,
                  "the hash tree is checked in a second pass, which needs a "
                  "seekable source; none of its digests was checked");
    const uint64_t before = report_.problem_count;
    try {
      VerifyingSource tree(source_, opt_.public_key_pem, opt_.limits);
      tree.check_all([&](uint64_t offset, const std::string& message) { fail(offset, message); });
    } catch (const Error& e) {
      fail(e.offset(), e.what());
    }
    report_.signature_ok = report_.problem_count == before;
  }

  uint64_t sign_offset() const { return index_start_; }

  // A filled-in HINT must say what the end of the file says (zeros: the
  // writer could not fill it in, which is allowed).
  void check_hint() {
    if (!hint_ || hint_->file_size == 0) return;
    const std::string why = hint_disagreement(
        *hint_, file_size_, tail_index_offset_, trak_order_,
        [&](size_t slot) { return &tracks_[trak_order_[slot]].rebuilt.summary; }, "its blocks");
    if (!why.empty())
      problem(hint_offset_, kTagHint, ErrorCode::kCorrupt,
              "HINT chunk at offset " + std::to_string(hint_offset_) + " " + why);
  }

  void finish() {
    check_signature_with_key();
    if (!report_.complete) {
      if (report_.problem_count == 0 || last_problem_code_ != ErrorCode::kTruncated)
        problem(stream_.position(), 0, ErrorCode::kTruncated,
                "no TAIL: the file is incomplete (cut, or still being written)");
      return;
    }
    check_hint();
    const auto& stored = index_.tables();
    if (stored.empty()) return;  // written without an index
    for (const auto& [id, track] : tracks_) {
      auto s = stored.find(id);
      if (s == stored.end()) {
        problem(tail_offset_, kTagTsek, ErrorCode::kCorrupt,
                "no TSEK for track " + std::to_string(id));
        continue;
      }
      const SeekTable& want = track.rebuilt;
      if (s->second.entries != want.entries || !(s->second.summary == want.summary))
        problem(tail_offset_, kTagTsek, ErrorCode::kCorrupt,
                "TSEK of track " + std::to_string(id) + " does not match the groups in the file");
    }
  }

  const VerifyOptions& opt_;
  Source& source_;
  ChunkStream stream_;
  ChunkReader chunks_;
  GroupExpander expander_;
  uint16_t version_major_ = 1;
  VerifyReport report_;
  ErrorCode last_problem_code_ = ErrorCode::kOk;
  // On the caller's thread until a group with a record per block turns up:
  // checking those costs enough to be worth overlapping with the chain;
  // for other files the hand-off costs more than it wins (bench/RESULTS.md).
  BackgroundHashChain chain_{false};
  bool chain_may_use_thread_ = false;
  std::map<uint16_t, TrackState> tracks_;
  TrackState* last_track_ = nullptr;
  std::vector<uint16_t> trak_order_;
  std::optional<Hint> hint_;
  uint64_t hint_offset_ = 0;
  uint64_t file_size_ = 0;
  uint64_t tail_index_offset_ = 0;
  std::set<Tag> header_chunks_;
  // The TSEKs (checked as they come: TRAK declares their tracks, one each).
  IndexRegion index_{[this](uint16_t id) { return tracks_.count(id) != 0; }};
  bool in_index_ = false;
  uint64_t data_end_ = 0;  // of the last CORE or HASH chunk
  bool after_pages_ = false;
  uint64_t tail_offset_ = 0;
  uint64_t index_start_ = 0;  // first VERI/TSEK/TAIL: the index region when there is no CORE
  Tag previous_tag_ = 0;
  // Kept for the signature check; copies, since the stream moves on.
  std::string veri_json_, sign_json_;
  std::vector<uint8_t> root_payload_;
};

}  // namespace

VerifyReport verify(Source& source, const VerifyOptions& options) {
  return Verifier(source, options).run();
}

}  // namespace h4mk
