// track_params on a parsed track object, for the C API, which keeps each
// track's object parsed.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "h4mk/track_params.hpp"

namespace h4mk::detail {

TrackParams track_params_of(const nlohmann::json& track, std::vector<std::string>* ignored);
// Replaces codec_params, disposition and side_data.
void set_track_params(nlohmann::json& track, const TrackParams& params);
// Each changes its own members only, leaving the rest (side data of ids a
// later version registers, ...) as it is.
void set_codec_params(nlohmann::json& track, const CodecParams& codec, uint32_t disposition);
void set_side_data(nlohmann::json& track, const std::string& id, std::span<const uint8_t> bytes);

}  // namespace h4mk::detail
