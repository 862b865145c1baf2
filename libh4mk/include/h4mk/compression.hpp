// Per-group compression (docs/FORMAT.md §5.7): rewriting a file with some
// tracks compressed or expanded, and training a dictionary for them. What
// `h4mk compress` and `h4mk decompress` run. Reading is transparent: a
// Reader hands out the blocks of a compressed group as of any other.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "h4mk/export.h"
#include "h4mk/reader.hpp"
#include "h4mk/rewrite.hpp"
#include "h4mk/track.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

// A zstd dictionary of at most `capacity` bytes (256 B..1 MiB) trained on
// `samples` (each, say, one group's payloads back to back); empty when zstd
// finds too little to learn from, or when the dictionary would not save its
// own size on the samples (random bytes, coded media). Throws
// Error(kInvalidArgument) for another capacity.
std::vector<uint8_t> train_dictionary(const std::vector<std::vector<uint8_t>>& samples,
                                      size_t capacity);

// Samples for train_dictionary from the file `in` reads: each group's
// payloads of the tracks in `only` (every unmasked track when empty), at most
// `max_bytes` in all, taken evenly across the file (one pass).
std::vector<std::vector<uint8_t>> dictionary_samples(Reader& in, std::span<const uint16_t> only,
                                                     size_t max_bytes = 16u << 20);

// Copies the file `in` reads to `out` with the tracks in `only` (every
// unmasked track when empty) compressed as `how` says; other tracks keep
// what they had. Masked tracks are refused (Error(kInvalidArgument)).
RewriteReport compress_file(Reader& in, Sink& out, const TrackCompression& how,
                            std::span<const uint16_t> only = {},
                            const RewriteProgress& progress = {});

// Copies the file `in` reads to `out` with the tracks in `only` (every track
// when empty) stored uncompressed.
RewriteReport decompress_file(Reader& in, Sink& out, std::span<const uint16_t> only = {},
                              const RewriteProgress& progress = {});

}  // namespace h4mk
H4MK_CXX_API_END
