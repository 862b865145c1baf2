// Rewriting a file's protection: every block copied to a new file with some
// tracks masked or unmasked (docs/FORMAT.md §13), its groups, header chunks,
// metadata and unknown chunks safe to copy kept (rewrite_options,
// GroupCopier, §9.6). What `h4mk mask` and
// `h4mk unmask` and the Python package run.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/export.h"
#include "h4mk/mask.hpp"
#include "h4mk/reader.hpp"
#include "h4mk/unknown_chunk.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct RewriteReport {
  std::vector<uint16_t> tracks;  // the tracks masked, or opened
  uint64_t blocks = 0;           // blocks copied
  std::vector<Damage> damage;    // regions of the source skipped (reported, not copied)
  UnknownChunksKept unknown_chunks;
};

// Called now and then with the source offset reached (progress bars).
using RewriteProgress = std::function<void(uint64_t offset)>;

// Copies the file `in` reads (from where it stands: a new reader reads from
// the start) to `out` masking the tracks in `only` (every track not masked
// yet when empty) with `key`. Throws Error(kNotFound) for a track of `only`
// the file lacks, Error(kInvalidArgument) for one that is masked already.
RewriteReport mask_file(Reader& in, Sink& out, const MaskKey& key, MaskScheme scheme,
                        const std::string& kid = {}, std::span<const uint16_t> only = {},
                        const RewriteProgress& progress = {});

// Copies the file `in` reads to `out` with every track `key` opens unmasked; other masked
// tracks stay as they are. Throws Error(kKeyMismatch) when the key opens no
// track, Error(kAuthFailed) naming the block when an envelope does not
// authenticate (the output is then incomplete).
RewriteReport unmask_file(Reader& in, Sink& out, const MaskKey& key,
                          const RewriteProgress& progress = {});

}  // namespace h4mk
H4MK_CXX_API_END
