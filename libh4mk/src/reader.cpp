// Reader: opening a file, reading it block by block through damage, and
// the public API over Reader::Impl (reader_impl.hpp).
#include "h4mk/reader.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "block_group.hpp"
#include "chunk.hpp"
#include "crc32.hpp"
#include "payload_window.hpp"
#include "reader_impl.hpp"

namespace h4mk {

namespace {

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

Reader::Impl::Impl(Source& s, ReaderOptions o)
    : verifying(verifying_source(s, o)),
      source(verifying ? *verifying : s),
      opt(o),
      stream(source),
      chunks(stream, opt.limits),
      expander(opt.limits) {
  chunks.set_track_filter([this](uint16_t id) { return head.slot_of_id.count(id) != 0; });
  // Exact reads: opening a remote file costs only what it needs. Verifying,
  // ROOT says where the head ends: no need to fetch (and check) the first
  // leaf to see a CORE header there.
  read_file_head(head, stream, chunks, opt.limits, damage,
                 verifying ? std::optional<uint64_t>(verifying->root().data_offset) : std::nullopt,
                 [this](const ChunkView& v) { skip_bad_chunk(v); });
  cursors.assign(head.tracks.size(), TrackCursor{});
  for (const Track& t : head.tracks)
    if (t.compression && !t.compression->dictionary.empty())
      expander.set_dictionary(t.id, t.compression->dictionary);
  stream.enable_read_ahead(kMaxReadAhead);
}

void Reader::Impl::skip_bad_chunk(const ChunkView& v) {
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

void Reader::Impl::salvage_cut_group(const ChunkView& v) {
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

void Reader::Impl::throw_undeclared(uint64_t offset, uint16_t track_id) {
  throw Error(ErrorCode::kCorrupt,
              "CORE chunk at offset " + std::to_string(offset) + ": track " +
                  std::to_string(track_id) + " is not declared in TRAK",
              offset);
}

ChunkStatus Reader::Impl::read_chunk(ChunkView& v) {
  big.pending = false;
  if (auto st = scan_big_group(v)) return *st;
  return chunks.peek_chunk(v);
}

std::optional<ChunkStatus> Reader::Impl::scan_big_group(ChunkView& v) {
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

void Reader::Impl::parse_group(const ChunkView& v, std::span<const uint8_t> payload, bool cut) {
  GroupHeader g = decode_group_header(payload, v.offset);
  const auto slot = head.slot_of_id.find(g.track_id);
  if (slot == head.slot_of_id.end()) throw_undeclared(v.offset, g.track_id);
  const size_t track_slot = slot->second;
  if (group_damaged && head.tracks[track_slot].mask)
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
    payload =
        expander.expand(payload, g, head.tracks[track_slot].compression.has_value(), v.offset);
    if (cut)
      decode_cut_group(payload, head.tracks[track_slot].default_duration,
                       opt.limits.max_blocks_per_group, v.offset, group);
    else
      decode_group(payload, head.tracks[track_slot].default_duration,
                   opt.limits.max_blocks_per_group, v.offset, group);
  }
  check_order(track_slot, v);
  group_track_slot = static_cast<uint16_t>(track_slot);
  if (head.tracks[track_slot].mask && group.any_plain())
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

void Reader::Impl::park_group() {
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

bool Reader::Impl::take_parked_group() {
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

std::optional<Error> Reader::Impl::try_parse_group(const ChunkView& v) {
  try {
    parse_group(v);
  } catch (const Error& e) {
    keep_verification_failure(e);
    group.clear();
    return e;
  }
  return std::nullopt;
}

std::optional<Error> Reader::Impl::take_group(const ChunkView& v) {
  group_damaged = false;
  std::optional<Error> bad = try_parse_group(v);
  pass(v);
  return bad;
}

bool Reader::Impl::load_group(const ChunkView& v) {
  const std::optional<Error> bad = take_group(v);
  if (bad) record(v.offset, v.total(), bad->code(), bad->what());
  return !bad;
}

bool Reader::Impl::load_group_at(uint64_t offset, size_t read_ahead) {
  reposition(offset);
  if (read_ahead) prefetch(read_ahead);
  ChunkView v;
  if (read_chunk(v) != ChunkStatus::kOk || v.header.tag != kTagCore) return false;
  return !take_group(v);
}

bool Reader::Impl::salvage_group(const ChunkView& v) {
  if (!hand_out_damaged || v.header.tag != kTagCore || v.code != ErrorCode::kCrcMismatch)
    return false;
  group_damaged = true;
  if (try_parse_group(v)) {
    group_damaged = false;
    return false;
  }
  record(v.offset, v.total(), v.code,
         v.why + "; its " + std::to_string(group.size()) + " blocks are handed out marked damaged");
  pass(v);
  if (resuming) skip_to_resume_point();
  return true;
}

bool Reader::Impl::goes_back(size_t track_slot, int64_t first_dts, uint32_t crc) const {
  const std::optional<LastGroup>& last = cursors[track_slot].last_group;
  return last && (first_dts < last->dts || (first_dts == last->dts && crc == last->crc));
}

void Reader::Impl::check_order(size_t track_slot, const ChunkView& v) const {
  const uint64_t offset = v.offset;
  const int64_t first_dts = group.info(0).dts;
  if (goes_back(track_slot, first_dts, v.header.crc))
    throw Error(ErrorCode::kCorrupt,
                "CORE chunk at offset " + std::to_string(offset) + ": track " +
                    std::to_string(head.tracks[track_slot].id) + " goes back in time (dts " +
                    std::to_string(first_dts) + " after " +
                    std::to_string(cursors[track_slot].last_group->dts) +
                    "): a duplicated or misplaced chunk",
                offset);
}

void Reader::Impl::describe(size_t pos, Block& out) {
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

void Reader::Impl::read_block(size_t pos, const DecodedGroup::Extent& payload,
                              const DecodedGroup::Extent& side) {
  if (block_buf_pos == pos) return;
  block_buf_pos = SIZE_MAX;
  const uint32_t from = side.size ? side.offset : payload.offset;
  const uint64_t at = group_chunk_offset + kChunkHeaderSize + from;
  // What the second pass found that the first did not.
  const auto refuse = [&](ErrorCode code, const char* what) {
    throw Error(code,
                "CORE chunk at offset " + std::to_string(group_chunk_offset) + ": block " +
                    std::to_string(pos) + what,
                at);
  };
  if (!stream.read_at(at, payload.offset + payload.size - from, block_buf))
    refuse(ErrorCode::kTruncated,
           " runs past the end of the file, which is shorter than when the group was checked");
  // Bytes that changed since the first pass (the file written over while
  // it is read) are not the bytes the chunk's CRC vouched for.
  const std::vector<uint32_t>& crcs = group.block_crcs();
  if (pos >= crcs.size() || crc32(0, block_buf.data(), block_buf.size()) != crcs[pos])
    refuse(ErrorCode::kCrcMismatch,
           " changed since the group's CRC was checked (the file is being written over)");
  block_buf_pos = pos;
}

void Reader::Impl::unmask(Block& out) const {
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

void Reader::Impl::set_mask_key(const MaskKey& key, uint16_t id) {
  // With track 0 the key serves every masked track it matches (a file may
  // use several keys); it is an error only if it matches none.
  std::optional<Error> mismatch;
  bool any = false;
  size_t masked = 0;
  for (const Track& t : head.tracks) {
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

ReadEvent Reader::Impl::next(Block& out) {
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

bool Reader::Impl::pass_other_chunk(const ChunkView& v) {
  if (unknown_handler && !is_known_tag(v.header.tag)) unknown_handler(unknown_chunk(v));
  if (v.header.tag == kTagVeri && veri_json.empty()) veri_json = payload_text(v.payload);
  if (v.header.tag == kTagSign && sign_json.empty()) sign_json = payload_text(v.payload);
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

Reader::Impl::Position Reader::Impl::position() const {
  return {group_pos < group.size(),
          group_chunk_offset,
          group_pos,
          stream.position(),
          at_end,
          cursors,
          resuming};
}

void Reader::Impl::restore(const Position& p) {
  if (!p.in_group || !load_group_at(p.group_offset)) {
    reposition(p.stream_pos);
  } else {
    group_pos = p.group_pos;
  }
  at_end = p.at_end;
  cursors = p.cursors;
  resuming = p.resuming;
}

void Reader::Impl::reposition(uint64_t offset) {
  big.pending = false;
  std::fill(cursors.begin(), cursors.end(), TrackCursor{});
  resuming = 0;
  group.clear();
  group_pos = 0;
  at_end = false;
  stream.seek(offset);
}

Reader::Reader(Source& source, ReaderOptions options)
    : impl_(std::make_unique<Impl>(source, options)) {}
Reader::~Reader() = default;

uint16_t Reader::version_major() const { return impl_->head.version_major; }
bool Reader::verified() const { return impl_->verifying != nullptr; }
uint16_t Reader::version_minor() const { return impl_->head.version_minor; }
const ReaderLimits& Reader::limits() const { return impl_->opt.limits; }
const std::vector<Track>& Reader::tracks() const { return impl_->head.tracks; }
const Track* Reader::track(uint16_t id) const { return impl_->track(id); }
const std::string& Reader::tracks_json() const { return impl_->head.trak_json; }
const std::string& Reader::metadata_json() const { return impl_->head.meta_json; }
const std::string& Reader::safe_json() const { return impl_->head.safe_json; }
const std::string& Reader::note() const { return impl_->head.note; }
const std::vector<Chapter>& Reader::chapters() const { return impl_->head.chapters; }
const std::vector<Attachment>& Reader::attachments() const { return impl_->head.attachments; }
void Reader::hand_out_damaged_groups(bool on) { impl_->hand_out_damaged = on; }
uint64_t Reader::data_offset() const { return impl_->head.data_offset; }
std::span<const UnknownChunk> Reader::head_unknown_chunks() const { return impl_->head.unknown; }
uint64_t Reader::head_unknown_chunks_unlisted() const { return impl_->head.unknown_unlisted; }
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
  if (impl_->head.hint) return impl_->hinted_summary(track_id);
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

void Reader::rewind() { impl_->reposition(impl_->head.data_offset); }

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
    if (chunk_offset < impl_->head.data_offset || !impl_->load_group_at(chunk_offset))
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
