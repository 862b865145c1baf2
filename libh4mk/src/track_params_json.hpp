// track_params on a parsed track object, for the C API, which keeps each
// track's object parsed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "h4mk/track_params.hpp"

namespace h4mk::detail {

TrackParams track_params_of(const nlohmann::json& track, std::vector<std::string>* ignored);
void set_track_params(nlohmann::json& track, const TrackParams& params);

}  // namespace h4mk::detail
