// TRAK chunk: {"tracks":[...]} <-> Track objects. Keys are written sorted so
// the same tracks always give the same bytes.
#pragma once

#include <string>
#include <vector>

#include "h4mk/limits.hpp"
#include "h4mk/track.hpp"

namespace h4mk::detail {

// Throws Error(kInvalidArgument) for a track a writer must not emit.
void validate_track(const Track& t);

std::string encode_tracks(const std::vector<Track>& tracks);
// Throws Error(kCorrupt) naming the track index and field at chunk_offset.
std::vector<Track> decode_tracks(const std::string& json, uint64_t chunk_offset,
                                 const ReaderLimits& limits);

// The TRAK "mask" object of a track (docs/FORMAT.md §13.1) as JSON text, and
// back; decode throws Error(kInvalidArgument) naming what is wrong.
std::string encode_track_mask(const TrackMask& mask);
TrackMask decode_track_mask(std::string_view json);

// Validates that text is one JSON object; returns it re-serialised with sorted keys.
std::string canonical_json_object(std::string_view text, const char* what);

}  // namespace h4mk::detail
