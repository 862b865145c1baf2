// The codec ids of docs/FORMAT.md §6.2: what TRAK `codec` names when it
// names a coding the format registers. Anything else is an application's
// own name under its prefix (`ffmpeg.pcm_s8`), or a codec a reader does not
// know and presents as data.
#pragma once

#include <span>
#include <string_view>

namespace h4mk {

// Every registered id, in §6.2's order.
std::span<const std::string_view> registered_codec_ids() noexcept;

bool is_registered_codec(std::string_view id) noexcept;

}  // namespace h4mk
