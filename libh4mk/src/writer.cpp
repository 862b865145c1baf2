#include "h4mk/writer.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "attachment_chunk.hpp"
#include "background_hash_chain.hpp"
#include "block_group.hpp"
#include "byte_order.hpp"
#include "chapter_json.hpp"
#include "chunk.hpp"
#include "crc32.hpp"
#include "group_builder.hpp"
#include "group_compression.hpp"
#include "h4mk/error.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/side_data.hpp"
#include "hint.hpp"
#include "json_text.hpp"
#include "padded_frame.hpp"
#include "rescale.hpp"
#include "seek_table.hpp"
#include "track_json.hpp"

namespace h4mk {

using namespace detail;

namespace {

// Largest group payload a reader with the default limits holds
// (ReaderLimits::max_core_chunk): a writer never writes what they would drop.
constexpr uint64_t kMaxGroupPayload = ReaderLimits{}.max_core_chunk;
// Room a block needs in its group beside its payload and side data: the
// group header, its record's fields and a mask envelope.
constexpr uint64_t kBlockRoom = 256;
// Blocks held while a picture expected as an attachment has not come
// (Writer::expect_attachment).
constexpr size_t kMaxHeldBlocks = 256;
constexpr size_t kMaxHeldBytes = size_t{16} << 20;

int64_t to_microseconds(int64_t ts, const Rational& tb) {
  return std::clamp(rescale(ts, tb, kMicroseconds, Round::kTowardZero), -kMaxTimestamp,
                    kMaxTimestamp);
}

// The smallest tick count >= us microseconds, at least 1.
int64_t ticks_at_least(int64_t us, const Rational& tb) {
  return std::clamp<int64_t>(rescale(us, kMicroseconds, tb, Round::kUp), 1, kMaxTimestamp);
}

struct TrackState {
  Track track;
  // The open group, encoded as its blocks arrive (set in add_track).
  std::optional<GroupBuilder> group;
  int64_t group_first_dts_us = 0;  // only kept when there are several tracks
  int64_t max_group_ticks = 0;     // max_group_duration_us in this track's ticks
  // Ordering checks across groups.
  bool has_blocks = false;
  int64_t last_dts = 0;
  bool has_key = false;
  int64_t last_key_pts = 0;
  uint64_t chain = 0;      // blocks from the last I block on, that one included
  uint32_t max_chain = 0;  // the track's bound (TRAK) and the writer's, whichever is lower
  // Index.
  SeekTable table;
  // Masking (set_mask_key).
  std::unique_ptr<BlockMasker> masker;
  // Track::compression (made in begin()).
  std::unique_ptr<GroupCompressor> compressor;
  // A track of whole frames: their samples (padded_frame.hpp; set in begin()).
  uint32_t frame_samples = 0;
};

}  // namespace

struct Writer::Impl {
  enum class State { kSetup, kWriting, kFinished, kFailed };

  Sink& sink;
  WriterOptions opt;
  // The span a group keeps: max_group_duration_us, or the interleave span
  // once begin() finds two or more audio or video tracks.
  int64_t group_duration_us;
  State state = State::kSetup;
  std::vector<TrackState> tracks;
  std::vector<int32_t> slot_of_id = std::vector<int32_t>(65536, -1);
  nlohmann::json meta = nlohmann::json::object();
  std::string safe;
  std::string note;
  std::vector<Chapter> chapters;
  std::vector<Attachment> attachments;
  std::vector<std::pair<Tag, std::vector<uint8_t>>> head_unknown;  // written after the head
  // Tracks whose picture is expected as an attachment, and the blocks held
  // until every one has come.
  std::set<uint16_t> expected_pictures;
  struct Held {
    BlockInfo info;
    std::vector<uint8_t> payload, side;
  };
  std::vector<Held> held;
  size_t held_bytes = 0;

  uint64_t offset = 0;
  // The CRC of the whole file, or, with a HINT, of the bytes after it
  // (finish() joins the parts once the HINT is filled in).
  uint32_t container_crc = 0;
  uint64_t hint_at = 0;  // 0: no HINT
  uint32_t crc_before_hint = 0;
  BackgroundHashChain chain;
  ChunkHeadCrc head_crc;
  CrcJoin crc_join;
  uint64_t core_count = 0;
  // Where the index region starts (TAIL's index_offset, §11): the end of the
  // last CORE, or of the head; unknown chunks written after it lie in it.
  uint64_t index_start = 0;
  uint64_t block_count = 0;
  std::vector<uint8_t> chunk_buf;
  std::vector<uint8_t> mask_buf;     // the envelope of the block being written
  std::vector<uint8_t> padded_side;  // its side data with skip samples (padded_frame.hpp)
  std::vector<uint8_t> compressed_chunk;

  Impl(Sink& s, WriterOptions o)
      : sink(s),
        opt(o),
        group_duration_us(o.max_group_duration_us),
        chain(o.write_veri && o.veri_thread) {
    if (opt.max_group_bytes == 0 || opt.max_group_blocks == 0 || opt.max_group_duration_us <= 0)
      throw Error(ErrorCode::kInvalidArgument, "group limits must be positive");
    if (opt.max_group_blocks > ReaderLimits{}.max_blocks_per_group)
      throw Error(ErrorCode::kInvalidArgument, "max_group_blocks above the 65536 readers accept");
    if (opt.max_group_bytes > kMaxGroupPayload - kBlockRoom)
      throw Error(ErrorCode::kInvalidArgument, "max_group_bytes above the " +
                                                   std::to_string(kMaxGroupPayload - kBlockRoom) +
                                                   " a group of readers' default limits holds");
    if (opt.max_chain_blocks == 0 || opt.max_chain_blocks > kMaxChainBlocks)
      throw Error(ErrorCode::kInvalidArgument, "max_chain_blocks is 1..65536");
  }

  void emit(std::span<const uint8_t> bytes) {
    sink.write(bytes);
    container_crc = crc32(container_crc, bytes.data(), bytes.size());
    offset += bytes.size();
  }

  // Writes a chunk whose first 12 bytes are reserved for its header. A
  // payload past the join threshold is CRC'd once: the container CRC is
  // extended from the chunk's CRC.
  void emit_chunk_bytes(Tag tag, std::span<uint8_t> chunk) {
    std::span<const uint8_t> payload(chunk.data() + kChunkHeaderSize,
                                     chunk.size() - kChunkHeaderSize);
    const auto size = static_cast<uint32_t>(payload.size());
    uint8_t* h = chunk.data();
    store_u32(h, tag);
    store_u32(h + 4, size);
    const uint32_t head = head_crc(h);
    const uint32_t crc = crc32(head, payload.data(), payload.size());
    store_u32(h + 8, crc);
    sink.write(chunk);
    if (opt.write_veri && tag != kTagVeri && tag != kTagHint)
      chain.add_chunk({h, kChunkHeaderSize}, payload);
    if (payload.size() >= crc32_join_threshold()) {
      container_crc = crc32(container_crc, h, kChunkHeaderSize);
      container_crc = crc_join.continue_from(container_crc, head, crc, size);
    } else {
      container_crc = crc32(container_crc, chunk.data(), chunk.size());
    }
    offset += chunk.size();
  }

  void emit_chunk(Tag tag, std::span<const uint8_t> payload) {
    chunk_buf.assign(kChunkHeaderSize, 0);
    chunk_buf.insert(chunk_buf.end(), payload.begin(), payload.end());
    emit_chunk_bytes(tag, chunk_buf);
  }

  void emit_text_chunk(Tag tag, const std::string& text) {
    emit_chunk(tag, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

  // What the writer keeps of a track's description: the track, and what
  // follows from it.
  void describe(TrackState& ts, const Track& track) {
    ts.track = track;
    // A bound below the format's is declared in TRAK, so readers know it.
    ts.max_chain = std::min(track.chain_bound(), opt.max_chain_blocks);
    if (ts.max_chain < kMaxChainBlocks) ts.track.max_chain_blocks = ts.max_chain;
    ts.group.emplace(track.id, track.default_duration, kChunkHeaderSize);
    ts.max_group_ticks = ticks_at_least(opt.max_group_duration_us, track.time_base);
  }

  void require_setup(const char* what) {
    if (state != State::kSetup)
      throw Error(ErrorCode::kBadState, std::string(what) + " must come before the first block");
  }

  // The tracks are fixed by the first block, even one held for a picture.
  void require_no_block(const char* what) {
    require_setup(what);
    if (!held.empty())
      throw Error(ErrorCode::kBadState, std::string(what) + " must come before the first block");
  }

  void begin() {
    if (tracks.empty()) throw Error(ErrorCode::kBadState, "no tracks declared");
    const auto media = std::count_if(tracks.begin(), tracks.end(), [](const TrackState& ts) {
      return ts.track.kind == TrackKind::kAudio || ts.track.kind == TrackKind::kVideo;
    });
    if (media >= 2 && opt.interleave_duration_us > 0 &&
        opt.interleave_duration_us < group_duration_us) {
      group_duration_us = opt.interleave_duration_us;
      for (TrackState& ts : tracks)
        ts.max_group_ticks = ticks_at_least(group_duration_us, ts.track.time_base);
    }
    // The texts are made before the first byte is written: a begin() that
    // throws leaves nothing behind to be written twice.
    std::vector<Track> list;
    for (const auto& t : tracks) list.push_back(t.track);
    const std::string trak = encode_tracks(list);
    const std::string meta_text = meta.empty() ? std::string() : meta.dump();
    const std::string safe_text = safe_with_mask_summary();
    const std::string chap_text = chapters.empty() ? std::string() : encode_chapters(chapters);
    // Compression is what a 1.x reader cannot read: only a file that may
    // hold it says 2.0 (docs/FORMAT.md §3).
    const bool compressed = std::any_of(tracks.begin(), tracks.end(), [](const TrackState& ts) {
      return ts.track.compression.has_value();
    });
    for (TrackState& ts : tracks) {
      if (ts.track.compression)
        ts.compressor = std::make_unique<GroupCompressor>(*ts.track.compression);
      ts.frame_samples = opt.mark_padding ? whole_frame_samples(ts.track) : 0;
    }
    auto header = encode_file_header({.version_major = uint16_t(compressed ? 2 : 1)});
    emit(header);
    if (opt.write_veri) chain.start(header);
    emit_text_chunk(kTagTrak, trak);
    // A sink that can be written at an earlier offset gets a HINT, zeros
    // until finish() fills it in (§10.1); pipes get none.
    if (opt.write_index && sink.seekable()) {
      hint_at = offset;
      crc_before_hint = container_crc;
      emit_chunk(kTagHint, std::vector<uint8_t>(hint_payload_size(tracks.size())));
      container_crc = 0;
    }
    if (!meta_text.empty()) emit_text_chunk(kTagMeta, meta_text);
    if (!safe_text.empty()) emit_text_chunk(kTagSafe, safe_text);
    if (!note.empty()) emit_text_chunk(kTagNote, note);
    if (!chap_text.empty()) emit_text_chunk(kTagChap, chap_text);
    for (const Attachment& a : attachments) emit_chunk(kTagAtch, encode_attachment(a));
    for (const TrackState& ts : tracks)
      if (ts.track.compression && !ts.track.compression->dictionary.empty())
        emit_chunk(kTagDict, encode_dict_chunk(ts.track.id, ts.track.compression->dictionary));
    for (const auto& [tag, payload] : head_unknown) emit_chunk(tag, payload);
    head_unknown.clear();
    index_start = offset;
    state = State::kWriting;
  }

  // SAFE gains a "mask" summary of the masked tracks (scheme and key id per
  // track), so a reader knows which keys a file needs without parsing TRAK.
  std::string safe_with_mask_summary() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& ts : tracks)
      if (ts.track.mask)
        list.push_back({{"track", ts.track.id},
                        {"scheme", mask_scheme_name(ts.track.mask->scheme)},
                        {"kid", ts.track.mask->kid}});
    if (safe.empty() && list.empty()) return safe;
    // The writer owns SAFE's "mask": a remux that unmasks drops a stale one.
    nlohmann::json obj = safe.empty() ? nlohmann::json::object() : nlohmann::json::parse(safe);
    obj.erase("mask");
    if (!list.empty()) obj["mask"] = std::move(list);
    return obj.empty() ? std::string() : obj.dump();
  }

  // Masks a plain block of a masking track into mask_buf; returns the
  // envelope and sets b.masked.
  std::span<const uint8_t> mask_block(TrackState& ts, BlockInfo& b,
                                      std::span<const uint8_t> payload) {
    mask_buf.resize(payload.size() + ts.masker->overhead());
    ts.masker->mask(b, payload, mask_buf);
    b.masked = true;
    return mask_buf;
  }

  void close_group(TrackState& ts) {
    GroupBuilder& group = *ts.group;
    if (group.empty()) return;
    const uint64_t chunk_offset = offset;
    std::span<uint8_t> chunk = group.finish();
    if (chunk.size() - kChunkHeaderSize > kMaxGroupPayload)
      throw Error(
          ErrorCode::kInvalidArgument,
          "block group exceeds the " + std::to_string(kMaxGroupPayload) + " bytes readers hold");
    if (ts.compressor && ts.compressor->compress(chunk, compressed_chunk)) chunk = compressed_chunk;
    emit_chunk_bytes(kTagCore, chunk);
    ++core_count;
    index_start = offset;

    add_group(ts.table, group.summary(), chunk_offset);
    group.clear();
  }

  // Closes every open group. Their spans overlap, so their order only
  // matters to a file cut short: the groups with the most blocks per byte go
  // first, and such a file keeps at least as many blocks as one interleaved
  // block by block would (docs/FORMAT.md §12.2).
  void close_all_groups() {
    std::vector<TrackState*> open;
    for (auto& ts : tracks)
      if (!ts.group->empty()) open.push_back(&ts);
    std::stable_sort(open.begin(), open.end(), [](const TrackState* a, const TrackState* b) {
      const Int128 a_density = Int128(a->group->block_count()) * (b->group->data_bytes() + 1);
      const Int128 b_density = Int128(b->group->block_count()) * (a->group->data_bytes() + 1);
      if (a_density != b_density) return a_density > b_density;
      return a->group_first_dts_us < b->group_first_dts_us;
    });
    for (TrackState* ts : open) close_group(*ts);
  }

  // The messages are built out of line: a block that passes costs only the
  // compares (write_block runs once per block, and blocks can be 16 bytes).
  [[noreturn, gnu::cold, gnu::noinline]] static void reject(const BlockInfo& b,
                                                            const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, "track " + std::to_string(b.track_id) +
                                                 ", block at pts " + std::to_string(b.pts) + ": " +
                                                 why);
  }

  [[gnu::always_inline]] void validate(const TrackState& ts, const BlockInfo& b, size_t size,
                                       std::span<const uint8_t> side) {
    if (static_cast<uint8_t>(b.type) > 2) reject(b, "invalid block type");
    if (b.pts < -kMaxTimestamp || b.pts > kMaxTimestamp || b.dts < -kMaxTimestamp ||
        b.dts > kMaxTimestamp)
      reject(b, "pts/dts outside -(2^62 - 1)..2^62 - 1");
    if (b.duration < 0 || b.duration > kMaxTimestamp) reject(b, "duration outside 0..2^62 - 1");
    if (b.dts > b.pts) reject(b, "dts " + std::to_string(b.dts) + " is after pts");
    if (ts.has_blocks && b.dts < ts.last_dts)
      reject(b, "dts " + std::to_string(b.dts) + " goes backwards (previous dts " +
                    std::to_string(ts.last_dts) + ")");
    if (b.type == BlockType::kI && ts.has_key && b.pts < ts.last_key_pts)
      reject(b, "I block pts goes backwards (previous I block pts " +
                    std::to_string(ts.last_key_pts) + ")");
    if (b.type != BlockType::kI && ts.chain >= ts.max_chain) reject_chain(ts, b);
    if (size > kMaxGroupPayload - kBlockRoom || side.size() > kMaxGroupPayload - kBlockRoom - size)
      reject(b, "payload of " + std::to_string(size) +
                    (side.empty() ? "" : " + side data of " + std::to_string(side.size())) +
                    " bytes is larger than a group readers hold (" +
                    std::to_string(kMaxGroupPayload - kBlockRoom) + " bytes)");
    if (!side.empty() && !valid_side_data(side)) reject(b, "side data entries are malformed");
    // Every block of a masked track is masked (docs/FORMAT.md §13).
    if (ts.track.mask && !ts.masker && !b.masked)
      reject(b, "a plain block on a masked track (give the writer the track's key to mask it)");
  }

  [[noreturn, gnu::cold, gnu::noinline]] static void reject_chain(const TrackState& ts,
                                                                  const BlockInfo& b) {
    reject(b, "a decode chain of this track holds at most " + std::to_string(ts.max_chain) +
                  " blocks from its I block (docs/FORMAT.md §12.1): write an I block");
  }

  [[noreturn, gnu::cold, gnu::noinline]] void reject_track(const BlockInfo& info) const {
    if (state != State::kWriting) throw Error(ErrorCode::kBadState, "writer is finished or failed");
    throw Error(ErrorCode::kInvalidArgument,
                "block for undeclared track " + std::to_string(info.track_id));
  }

  // The state of the block's track, once the writer may take blocks.
  [[gnu::always_inline]] TrackState& track_of(const BlockInfo& info) {
    if (state == State::kSetup) begin();
    const int32_t slot = slot_of_id[info.track_id];
    if (state != State::kWriting || slot < 0) reject_track(info);
    return tracks[static_cast<size_t>(slot)];
  }

  bool holding() const { return state == State::kSetup && !expected_pictures.empty(); }

  // Keeps the block back while pictures are expected, within the bounds;
  // false once they are reached (what was held is written first).
  bool hold(const BlockInfo& info, std::span<const uint8_t> payload,
            std::span<const uint8_t> side) {
    if (!holding()) return false;
    const size_t bytes = payload.size() + side.size();
    if (held.size() < kMaxHeldBlocks && bytes <= kMaxHeldBytes - held_bytes) {
      held.push_back({info, {payload.begin(), payload.end()}, {side.begin(), side.end()}});
      held_bytes += bytes;
      return true;
    }
    release_held();
    return false;
  }

  // Stops waiting for pictures: the held blocks are written, and a picture
  // that comes later is refused as any attachment after the first block.
  void release_held() {
    expected_pictures.clear();
    std::vector<Held> list = std::move(held);
    held.clear();
    held_bytes = 0;
    try {
      for (const Held& h : list) write_block(h.info, h.payload, h.side);
    } catch (const Error&) {
      state = State::kFailed;  // the blocks held after it cannot be handed back
      throw;
    }
  }

  void write_block(const BlockInfo& info, std::span<const uint8_t> payload,
                   std::span<const uint8_t> side) {
    if (hold(info, payload, side)) return;
    TrackState& ts = track_of(info);
    // (Malformed side data is left for validate() to name.)
    if (ts.frame_samples)
      if (const int64_t padding = padded_samples(ts.frame_samples, ts.track.sample_rate,
                                                 ts.track.time_base, info.duration);
          padding && valid_side_data(side))
        side = with_padding(side, padding, padded_side);
    validate(ts, info, payload.size(), side);
    add_block(ts, info, payload, side);
  }

  // A validated block: closes the groups it must, then joins its track's.
  void add_block(TrackState& ts, const BlockInfo& info, std::span<const uint8_t> payload,
                 std::span<const uint8_t> side) {
    if (ts.masker && !info.masked) {
      BlockInfo masked = info;
      const std::span<const uint8_t> envelope = mask_block(ts, masked, payload);
      add_to_group(ts, masked, envelope, side);
    } else {
      add_to_group(ts, info, payload, side);
    }
  }

  enum class Closes { kNothing, kOwnGroup, kAllGroups };

  // A dts in microseconds, which only the closing across tracks compares
  // (0 with one track: no division per block).
  int64_t span_time_us(const TrackState& ts, int64_t dts) const {
    return tracks.size() > 1 ? to_microseconds(dts, ts.track.time_base) : 0;
  }

  // The rule that ends groups: what a block of `bytes` (payload and side
  // data) at `dts` (dts_us: span_time_us) closes before it joins ts's open
  // group, were that group to hold `blocks` blocks of `group_bytes` bytes
  // (write_run asks ahead of the blocks it adds). A block that brings its
  // group to max_group_bytes closes the group after itself. Each condition
  // only becomes true as dts, blocks and group_bytes grow.
  Closes closes_before(const TrackState& ts, int64_t dts, int64_t dts_us, uint64_t bytes,
                       uint64_t blocks, uint64_t group_bytes) const {
    const bool own_expired = blocks > 0 && dts - ts.group->first().dts >= ts.max_group_ticks;
    // With several tracks, a group whose span is used up closes them all, so
    // every track's groups cover the same spans: blocks of equal time stay
    // within one span of each other in the file.
    if (tracks.size() > 1) {
      if (own_expired) return Closes::kAllGroups;
      for (const TrackState& other : tracks)
        if (&other != &ts && !other.group->empty() &&
            dts_us - other.group_first_dts_us >= group_duration_us)
          return Closes::kAllGroups;
    }
    if (blocks == 0) return Closes::kNothing;
    // An empty block after only empty blocks starts a group: a group of
    // empty payloads holds one block (docs/FORMAT.md §5.3).
    const bool empty_after_empty = group_bytes == 0 && bytes == 0;
    if (empty_after_empty || own_expired || group_bytes + bytes > opt.max_group_bytes ||
        blocks >= opt.max_group_blocks)
      return Closes::kOwnGroup;
    return Closes::kNothing;
  }

  // add_block's, with the block as stored (a copy is made only to mask it).
  void add_to_group(TrackState& ts, const BlockInfo& b, std::span<const uint8_t> payload,
                    std::span<const uint8_t> side) {
    GroupBuilder& group = *ts.group;
    const int64_t dts_us = span_time_us(ts, b.dts);
    switch (closes_before(ts, b.dts, dts_us, payload.size() + side.size(), group.block_count(),
                          group.data_bytes())) {
      case Closes::kAllGroups:
        close_all_groups();
        break;
      case Closes::kOwnGroup:
        close_group(ts);
        break;
      case Closes::kNothing:
        break;
    }
    if (group.empty()) ts.group_first_dts_us = dts_us;
    group.add(b, side, payload);
    ts.has_blocks = true;
    ts.last_dts = b.dts;
    ts.chain = b.type == BlockType::kI ? 1 : ts.chain + 1;
    if (b.type == BlockType::kI) {
      ts.has_key = true;
      ts.last_key_pts = b.pts;
    }
    ++block_count;
    if (group.data_bytes() >= opt.max_group_bytes) close_group(ts);
  }

  // Writer::write_run. The run is checked whole (its first and last block)
  // before any of its blocks is added; then each block that would close a group
  // (add_block's rules) goes through add_block, and the blocks after it that
  // close nothing join the open group directly.
  void write_run(const BlockInfo& first, uint32_t count, std::span<const uint8_t> payloads) {
    auto bad = [&](const std::string& why) {
      throw Error(ErrorCode::kInvalidArgument,
                  "track " + std::to_string(first.track_id) + ", run of " + std::to_string(count) +
                      " blocks at pts " + std::to_string(first.pts) + ": " + why);
    };
    if (count == 0) {
      if (!payloads.empty()) bad(std::to_string(payloads.size()) + " payload bytes for no block");
      return;
    }
    if (holding()) release_held();
    TrackState& ts = track_of(first);
    const size_t size = payloads.size() / count;
    if (size * count != payloads.size())
      bad(std::to_string(payloads.size()) + " payload bytes do not split into equal blocks");
    if (first.dts != first.pts)
      bad("dts " + std::to_string(first.dts) +
          " differs from pts (a run's blocks have dts == pts)");
    validate(ts, first, size, {});
    if (first.type != BlockType::kI && count > ts.max_chain - ts.chain) reject_chain(ts, first);
    int64_t span, last_pts;
    if (__builtin_mul_overflow(first.duration, int64_t(count - 1), &span) ||
        __builtin_add_overflow(first.pts, span, &last_pts) || last_pts > kMaxTimestamp)
      bad("the last block's pts would pass 2^62 - 1");
    // Frames shorter than the track's frame each carry skip samples, as
    // write_block gives them.
    if (ts.frame_samples && padded_samples(ts.frame_samples, ts.track.sample_rate,
                                           ts.track.time_base, first.duration)) {
      for (uint32_t k = 0; k < count; ++k) {
        BlockInfo b = first;
        b.pts = b.dts = first.pts + int64_t(k) * first.duration;
        write_block(b, payloads.subspan(k * size, size), {});
      }
      return;
    }

    for (uint32_t k = 0; k < count;) {
      BlockInfo b = first;
      b.pts = b.dts = first.pts + int64_t(k) * first.duration;
      add_block(ts, b, payloads.subspan(k * size, size), {});
      ++k;
      b.pts = b.dts = b.pts + first.duration;  // the next block
      const uint32_t n = ts.masker ? 0 : blocks_that_close_nothing(ts, b, size, count - k);
      if (n == 0) continue;
      ts.group->add_run(b, n, size, payloads.data() + k * size);
      k += n;
      ts.last_dts = b.pts + int64_t(n - 1) * first.duration;
      if (b.type == BlockType::kI) ts.last_key_pts = ts.last_dts;
      ts.chain = b.type == BlockType::kI ? 1 : ts.chain + n;
      block_count += n;
    }
  }

  // How many of the up to `left` blocks from b on (same size, each one
  // duration after the one before, dts == pts) add_block would add to the
  // track's open group without closing a group before or after them: the
  // first that would is found by bisection, closes_before's conditions
  // only becoming true as the run goes on.
  uint32_t blocks_that_close_nothing(const TrackState& ts, const BlockInfo& b, size_t size,
                                     uint32_t left) const {
    const GroupBuilder& group = *ts.group;
    if (group.empty() || left == 0) return 0;  // the group was closed: a new one starts
    const uint64_t blocks = group.block_count(), bytes = group.data_bytes();
    auto closes = [&](uint64_t k) {  // block k of the run from b, as the group then is
      const uint64_t group_bytes = bytes + k * size;
      const int64_t dts = b.dts + int64_t(k) * b.duration;
      return closes_before(ts, dts, span_time_us(ts, dts), size, blocks + k, group_bytes) !=
                 Closes::kNothing ||
             group_bytes + size >= opt.max_group_bytes;
    };
    if (!closes(left - 1)) return left;  // most runs fit whole
    uint64_t lo = 0, hi = left - 1;      // the first block that closes is in [lo, hi]
    while (lo < hi) {
      const uint64_t mid = lo + (hi - lo) / 2;
      if (closes(mid))
        hi = mid;
      else
        lo = mid + 1;
    }
    return uint32_t(lo);
  }

  // Overwrites the HINT with the totals of the finished file and returns the
  // container CRC of the file as it now is. Done before the container CRC is
  // written, so a failure here leaves an incomplete file, not a wrong CRC.
  uint32_t fill_in_hint(uint64_t index_offset) {
    Hint h{offset + 4, index_offset, {}};
    for (const auto& ts : tracks) h.tracks.push_back(ts.table.summary);
    const std::vector<uint8_t> payload = encode_hint(h);
    const auto header = make_chunk_header(kTagHint, payload);
    std::vector<uint8_t> chunk(header.begin(), header.end());
    chunk.insert(chunk.end(), payload.begin(), payload.end());
    sink.write_at(hint_at, chunk);
    const uint32_t with_hint =
        crc32_concat(crc_before_hint, crc32(0, chunk.data(), chunk.size()), chunk.size());
    return crc32_concat(with_hint, container_crc, offset - (hint_at + chunk.size()));
  }

  void finish() {
    if (holding()) release_held();
    if (state == State::kSetup) begin();
    if (state != State::kWriting) throw Error(ErrorCode::kBadState, "writer is finished or failed");
    close_all_groups();
    const uint64_t index_offset = index_start;
    if (opt.write_veri) {
      nlohmann::json veri = {
          {"algorithm", "sha256-chain-v1"}, {"chunks", chain.count()}, {"hash", chain.hex()}};
      emit_text_chunk(kTagVeri, veri.dump());
    }
    if (opt.write_index)
      for (auto& ts : tracks) {
        ts.table.track_id = ts.track.id;
        emit_chunk(kTagTsek, encode_seek_table(ts.table));
      }
    emit_chunk(kTagTail, encode_tail({index_offset, core_count}));
    uint32_t file_crc = container_crc;
    if (hint_at) file_crc = fill_in_hint(index_offset);
    uint8_t crc[4];
    store_u32(crc, file_crc);
    emit(crc);
    sink.flush();
    state = State::kFinished;
  }

  // Runs f; a failure leaves the writer unusable (the file so far stays
  // recoverable up to the last complete group).
  template <typename F>
  void guarded(F&& f) {
    try {
      f();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidArgument && e.code() != ErrorCode::kBadState)
        state = State::kFailed;
      throw;
    } catch (const std::bad_alloc&) {
      state = State::kFailed;
      throw Error(ErrorCode::kOutOfMemory, "out of memory while writing");
    } catch (const std::exception& e) {
      // Nothing should get here (inputs are checked when given); if it does,
      // what was written may be half a chunk.
      state = State::kFailed;
      throw Error(ErrorCode::kInternal, std::string("writer failed: ") + e.what());
    }
  }
};

Writer::Writer(Sink& sink, WriterOptions options) : impl_(std::make_unique<Impl>(sink, options)) {}
Writer::~Writer() = default;

void Writer::add_track(const Track& track) {
  impl_->require_no_block("add_track");
  validate_track(track);
  if (impl_->slot_of_id[track.id] >= 0)
    throw Error(ErrorCode::kInvalidArgument,
                "track id " + std::to_string(track.id) + " declared twice");
  impl_->slot_of_id[track.id] = static_cast<int32_t>(impl_->tracks.size());
  impl_->tracks.push_back({});
  impl_->describe(impl_->tracks.back(), track);
}

const Track* Writer::track(uint16_t track_id) const {
  const int32_t slot = impl_->slot_of_id[track_id];
  return slot < 0 ? nullptr : &impl_->tracks[static_cast<size_t>(slot)].track;
}

void Writer::replace_track(const Track& track) {
  impl_->require_no_block("replace_track");
  const int32_t slot = impl_->slot_of_id[track.id];
  if (slot < 0)
    throw Error(ErrorCode::kInvalidArgument,
                "track " + std::to_string(track.id) + " is not declared");
  TrackState& ts = impl_->tracks[static_cast<size_t>(slot)];
  // Its masker was made with these parameters: other ones would not open
  // the envelopes it makes.
  if (ts.masker && track.mask != ts.track.mask)
    throw Error(ErrorCode::kInvalidArgument,
                "track " + std::to_string(track.id) +
                    " is masked by set_mask_key: its mask parameters are the writer's");
  validate_track(track);
  impl_->describe(ts, track);
}

void Writer::set_mask_key(uint16_t track_id, const MaskKey& key, MaskScheme scheme,
                          std::string kid) {
  impl_->require_no_block("set_mask_key");
  require_utf8(kid, "mask key id");
  const int32_t slot = impl_->slot_of_id[track_id];
  if (slot < 0)
    throw Error(ErrorCode::kInvalidArgument,
                "set_mask_key: track " + std::to_string(track_id) + " is not declared");
  TrackState& ts = impl_->tracks[static_cast<size_t>(slot)];
  // New parameters would strand the envelopes made with the old ones.
  if (ts.track.mask)
    throw Error(ErrorCode::kInvalidArgument,
                "set_mask_key: track " + std::to_string(track_id) +
                    " is masked already (its blocks keep their parameters)");
  if (ts.track.compression)
    throw Error(ErrorCode::kInvalidArgument,
                "set_mask_key: track " + std::to_string(track_id) +
                    " is compressed (a masked track is not: an envelope does not shrink)");
  ts.track.mask = make_track_mask(key, scheme, std::move(kid));
  ts.masker = std::make_unique<BlockMasker>(*ts.track.mask, key, track_id);
}

void Writer::set_metadata(std::string_view key, std::string_view value) {
  impl_->require_setup("set_metadata");
  require_utf8(key, "metadata key");
  require_utf8(value, "metadata '" + std::string(key) + "'");
  impl_->meta[std::string(key)] = std::string(value);
}

void Writer::set_metadata_json(std::string_view json_object) {
  impl_->require_setup("set_metadata_json");
  auto obj = nlohmann::json::parse(canonical_json_object(json_object, "metadata"));
  impl_->meta.update(obj);
}

void Writer::set_safe_json(std::string_view json_object) {
  impl_->require_setup("set_safe_json");
  impl_->safe = canonical_json_object(json_object, "SAFE");
}

void Writer::set_note(std::string_view utf8) {
  impl_->require_setup("set_note");
  require_utf8(utf8, "NOTE");
  impl_->note = std::string(utf8);
}

size_t Writer::add_chapter(const Chapter& chapter) {
  impl_->require_setup("add_chapter");
  validate_chapter(chapter, impl_->chapters.size());
  impl_->chapters.push_back(chapter);
  return impl_->chapters.size() - 1;
}

size_t Writer::add_attachment(const Attachment& attachment) {
  impl_->require_setup("add_attachment");
  const std::string at = "attachment #" + std::to_string(impl_->attachments.size()) + ": ";
  if (std::string why = attachment_problem(attachment); !why.empty())
    throw Error(ErrorCode::kInvalidArgument, at + why);
  if (attachment.track && impl_->slot_of_id[attachment.track] < 0)
    throw Error(ErrorCode::kInvalidArgument,
                at + "track " + std::to_string(attachment.track) + " is not declared");
  // The chunk size field is 32 bits.
  if (attachment.data.size() > UINT32_MAX - (1u << 20))
    throw Error(ErrorCode::kInvalidArgument, at + "data larger than an ATCH chunk holds");
  impl_->attachments.push_back(attachment);
  const size_t index = impl_->attachments.size() - 1;
  if (attachment.track && impl_->expected_pictures.erase(attachment.track) &&
      impl_->expected_pictures.empty())
    impl_->guarded([&] { impl_->release_held(); });
  return index;
}

void Writer::expect_attachment(uint16_t track_id) {
  impl_->require_setup("expect_attachment");
  if (impl_->slot_of_id[track_id] < 0)
    throw Error(ErrorCode::kInvalidArgument,
                "expect_attachment: track " + std::to_string(track_id) + " is not declared");
  impl_->expected_pictures.insert(track_id);
}

void Writer::set_chapter_tag(size_t index, std::string_view key, std::string_view value) {
  impl_->require_setup("set_chapter_tag");
  if (index >= impl_->chapters.size())
    throw Error(ErrorCode::kInvalidArgument,
                "set_chapter_tag: there is no chapter #" + std::to_string(index));
  const std::string at = "chapter #" + std::to_string(index) + ": ";
  require_utf8(key, at + "a tag name");
  require_utf8(value, at + "tag '" + std::string(key) + "'");
  impl_->chapters[index].tags[std::string(key)] = std::string(value);
}

void Writer::write_block(const BlockInfo& info, std::span<const uint8_t> payload,
                         std::span<const uint8_t> side_data) {
  impl_->guarded([&] { impl_->write_block(info, payload, side_data); });
}

void Writer::write_run(const BlockInfo& first, uint32_t count, std::span<const uint8_t> payloads) {
  impl_->guarded([&] { impl_->write_run(first, count, payloads); });
}

void Writer::close_group(uint16_t track_id) {
  impl_->guarded([&] {
    const int32_t slot = impl_->slot_of_id[track_id];
    if (slot < 0)
      throw Error(ErrorCode::kInvalidArgument,
                  "close_group: track " + std::to_string(track_id) + " is not declared");
    if (impl_->holding()) impl_->release_held();
    if (impl_->state == Impl::State::kWriting)
      impl_->close_group(impl_->tracks[static_cast<size_t>(slot)]);
  });
}

WriterOptions rewrite_options() {
  WriterOptions o;
  o.max_group_bytes = uint32_t(kMaxGroupPayload - kBlockRoom);  // the most readers hold
  o.max_group_blocks = 65536;  // ReaderLimits::max_blocks_per_group
  o.max_group_duration_us = INT64_MAX;
  o.interleave_duration_us = 0;
  o.mark_padding = false;
  return o;
}

void GroupCopier::copy(const Block& b) {
  if (track_ && b.chunk_offset != chunk_) to_.close_group(track_);
  to_.write_block(b.info, b.data, b.side_data);
  track_ = b.info.track_id;
  chunk_ = b.chunk_offset;
}

void GroupCopier::copy(const UnknownChunk& c) {
  to_.write_unknown_chunk(c.tag, c.payload);
  track_ = 0;  // the writer closed the group
}

void Writer::write_unknown_chunk(const std::array<char, 4>& name,
                                 std::span<const uint8_t> payload) {
  impl_->guarded([&] {
    const Tag tag = tag_of(name);
    if (is_known_tag(tag) || !is_safe_to_copy(name))
      throw Error(ErrorCode::kInvalidArgument,
                  "write_unknown_chunk: '" + tag_name(tag) +
                      "' is not an unknown tag safe to copy (FORMAT.md §9.6)");
    if (payload.size() > kMaxGroupPayload)
      throw Error(ErrorCode::kInvalidArgument, "write_unknown_chunk: a payload of " +
                                                   std::to_string(payload.size()) +
                                                   " bytes is more than readers hold");
    if (impl_->state == Impl::State::kSetup && !impl_->holding()) {
      impl_->head_unknown.emplace_back(tag, std::vector<uint8_t>(payload.begin(), payload.end()));
      return;
    }
    if (impl_->holding()) impl_->release_held();
    if (impl_->state != Impl::State::kWriting)
      throw Error(ErrorCode::kBadState, "writer is finished or failed");
    impl_->close_all_groups();
    impl_->emit_chunk(tag, payload);
  });
}

void Writer::flush() {
  impl_->guarded([&] {
    if (impl_->holding()) impl_->release_held();
    if (impl_->state == Impl::State::kSetup) impl_->begin();
    if (impl_->state != Impl::State::kWriting)
      throw Error(ErrorCode::kBadState, "writer is finished or failed");
    impl_->close_all_groups();
    impl_->sink.flush();
  });
}

void Writer::finish() {
  impl_->guarded([&] { impl_->finish(); });
}

uint64_t Writer::bytes_written() const { return impl_->offset; }
uint64_t Writer::blocks_written() const { return impl_->block_count; }

}  // namespace h4mk
