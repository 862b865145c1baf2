// Whole-file passes over a Reader: the rewrites (h4mk/rewrite.hpp,
// h4mk/compression.hpp) and the samples a dictionary is trained on.
#include "h4mk/rewrite.hpp"

#include <algorithm>
#include <functional>

#include "h4mk/compression.hpp"
#include "h4mk/writer.hpp"
#include "unknown_chunk_copy.hpp"

namespace h4mk {

namespace {

// Throws for a block a rewrite cannot copy as asked.
using BlockCheck = std::function<void(const Block&)>;

// Every block of `r` to `w`, group for group, with the chunks of unknown
// tags safe to copy in their place; damage is skipped and reported.
void copy_blocks(Reader& r, Writer& w, RewriteReport& report, const RewriteProgress& progress,
                 const BlockCheck& check) {
  GroupCopier copier(w);
  detail::UnknownChunkCopy unknown(r, copier, report.unknown_chunks);
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) {
      report.damage.push_back(r.last_damage());
      continue;
    }
    if (check) check(b);
    copier.copy(b);
    if (++report.blocks % 1024 == 0 && progress) progress(b.chunk_offset);
  }
}

bool selected(std::span<const uint16_t> only, uint16_t id) {
  return only.empty() || std::find(only.begin(), only.end(), id) != only.end();
}

void require_tracks(const Reader& r, std::span<const uint16_t> only) {
  for (uint16_t id : only)
    if (!r.track(id)) throw Error(ErrorCode::kNotFound, "no track " + std::to_string(id));
}

// The file `r` reads, as a writer of `tracks` writes it: header chunks and
// blocks, group for group. `setup` may set the writer up further before
// anything is written.
void copy_file(Reader& r, Sink& out, const std::vector<Track>& tracks, RewriteReport& report,
               const RewriteProgress& progress, const std::function<void(Writer&)>& setup = {},
               const BlockCheck& check = {}) {
  Writer w(out, rewrite_options());
  for (const Track& t : tracks) w.add_track(t);
  if (setup) setup(w);
  copy_header(r, w);
  copy_blocks(r, w, report, progress, check);
  w.finish();
}

}  // namespace

RewriteReport mask_file(Reader& r, Sink& out, const MaskKey& key, MaskScheme scheme,
                        const std::string& kid, std::span<const uint16_t> only,
                        const RewriteProgress& progress) {
  require_tracks(r, only);
  for (uint16_t id : only)
    if (r.track(id)->mask)
      throw Error(ErrorCode::kInvalidArgument,
                  "track " + std::to_string(id) + " is masked already");
  RewriteReport report;
  std::vector<Track> tracks = r.tracks();
  for (Track& t : tracks) {
    if (!selected(only, t.id) || t.mask) continue;
    // A track it masks is stored uncompressed: an envelope does not shrink.
    t.compression.reset();
    report.tracks.push_back(t.id);
  }
  // A block marked masked on a track without mask parameters is an opaque
  // payload no key opens (docs/FORMAT.md §13.1): copied into a track this
  // key masks, it would pass for an envelope of the key while its bytes
  // stay as they are. The track is not masked, loudly.
  const auto masking = [&](uint16_t id) {
    return std::find(report.tracks.begin(), report.tracks.end(), id) != report.tracks.end();
  };
  const BlockCheck opaque = [&](const Block& b) {
    if (b.info.masked && masking(b.info.track_id))
      throw Error(ErrorCode::kInvalidArgument,
                  "track " + std::to_string(b.info.track_id) + ": the block at pts " +
                      std::to_string(b.info.pts) + " (group at offset " +
                      std::to_string(b.chunk_offset) +
                      ") is marked masked, but the track has no mask parameters: no key opens "
                      "it, and masking the track would leave its bytes as they are (mask only "
                      "the other tracks)",
                  b.chunk_offset);
  };
  copy_file(
      r, out, tracks, report, progress,
      [&](Writer& w) {
        for (uint16_t id : report.tracks) w.set_mask_key(id, key, scheme, kid);
      },
      opaque);
  return report;
}

RewriteReport unmask_file(Reader& r, Sink& out, const MaskKey& key,
                          const RewriteProgress& progress) {
  RewriteReport report;
  std::vector<Track> tracks = r.tracks();
  for (Track& t : tracks) {
    if (!t.mask) continue;
    try {
      BlockMasker probe(*t.mask, key, t.id);
      t.mask.reset();
      report.tracks.push_back(t.id);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kKeyMismatch) throw;
    }
  }
  r.set_mask_key(key);  // Error(kKeyMismatch) when it opens no track
  copy_file(r, out, tracks, report, progress);
  return report;
}

RewriteReport compress_file(Reader& r, Sink& out, const TrackCompression& how,
                            std::span<const uint16_t> only, const RewriteProgress& progress) {
  require_tracks(r, only);
  RewriteReport report;
  std::vector<Track> tracks = r.tracks();
  for (Track& t : tracks) {
    if (!selected(only, t.id)) continue;
    if (t.mask) {
      if (only.empty()) continue;
      throw Error(ErrorCode::kInvalidArgument,
                  "track " + std::to_string(t.id) +
                      " is masked: a masked track is not compressed (an envelope does not shrink)");
    }
    t.compression = how;
    report.tracks.push_back(t.id);
  }
  copy_file(r, out, tracks, report, progress);
  return report;
}

RewriteReport decompress_file(Reader& r, Sink& out, std::span<const uint16_t> only,
                              const RewriteProgress& progress) {
  require_tracks(r, only);
  RewriteReport report;
  std::vector<Track> tracks = r.tracks();
  for (Track& t : tracks) {
    if (!selected(only, t.id) || !t.compression) continue;
    t.compression.reset();
    report.tracks.push_back(t.id);
  }
  copy_file(r, out, tracks, report, progress);
  return report;
}

std::vector<std::vector<uint8_t>> dictionary_samples(Reader& r, std::span<const uint16_t> only,
                                                     size_t max_bytes) {
  require_tracks(r, only);
  // One sample per group; past max_bytes every other one is dropped and
  // the stride doubles, so what is kept stays spread over the whole file.
  std::vector<std::vector<uint8_t>> kept;
  size_t kept_bytes = 0, stride = 1, seen = 0;
  std::vector<uint8_t> current;
  uint64_t current_chunk = 0;
  bool in_group = false;
  auto close = [&] {
    if (in_group && seen++ % stride == 0 && !current.empty()) {
      kept_bytes += current.size();
      kept.push_back(std::move(current));
      while (kept_bytes > max_bytes && kept.size() > 1) {
        std::vector<std::vector<uint8_t>> half;
        kept_bytes = 0;
        for (size_t i = 0; i < kept.size(); i += 2) {
          kept_bytes += kept[i].size();
          half.push_back(std::move(kept[i]));
        }
        kept = std::move(half);
        stride *= 2;
      }
    }
    current.clear();
    in_group = false;
  };
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) continue;
    const Track* t = r.track(b.info.track_id);
    if (!t || t->mask || b.info.masked || !selected(only, t->id)) continue;
    if (!in_group || b.chunk_offset != current_chunk) close();
    in_group = true;
    current_chunk = b.chunk_offset;
    current.insert(current.end(), b.data.begin(), b.data.end());
  }
  close();
  return kept;
}

}  // namespace h4mk
