#include "h4mk/rewrite.hpp"

#include <algorithm>

#include "h4mk/writer.hpp"

namespace h4mk {

namespace {

// Every block of `r` to `w`, group for group; damage is skipped and reported.
void copy_blocks(Reader& r, Writer& w, RewriteReport& report, const RewriteProgress& progress) {
  GroupCopier copier(w);
  Block b;
  for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) {
      report.damage.push_back(r.last_damage());
      continue;
    }
    copier.copy(b);
    if (++report.blocks % 1024 == 0 && progress) progress(b.chunk_offset);
  }
}

}  // namespace

RewriteReport mask_file(Reader& r, Sink& out, const MaskKey& key, MaskScheme scheme,
                        const std::string& kid, std::span<const uint16_t> only,
                        const RewriteProgress& progress) {
  for (uint16_t id : only) {
    const Track* t = r.track(id);
    if (!t) throw Error(ErrorCode::kNotFound, "no track " + std::to_string(id));
    if (t->mask)
      throw Error(ErrorCode::kInvalidArgument,
                  "track " + std::to_string(id) + " is masked already");
  }
  RewriteReport report;
  Writer w(out, rewrite_options());
  for (const Track& t : r.tracks()) w.add_track(t);
  for (const Track& t : r.tracks()) {
    const bool asked = only.empty() || std::find(only.begin(), only.end(), t.id) != only.end();
    if (!asked || t.mask) continue;
    w.set_mask_key(t.id, key, scheme, kid);
    report.tracks.push_back(t.id);
  }
  copy_header(r, w);
  copy_blocks(r, w, report, progress);
  w.finish();
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
  Writer w(out, rewrite_options());
  for (const Track& t : tracks) w.add_track(t);
  copy_header(r, w);
  copy_blocks(r, w, report, progress);
  w.finish();
  return report;
}

}  // namespace h4mk
