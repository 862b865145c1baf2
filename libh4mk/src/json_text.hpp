// Parsing JSON chunk payloads within the reader's limits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace h4mk::detail {

// Deepest nesting of arrays and objects, found without parsing (strings and
// escapes are skipped), so hostile nesting is refused before a parser builds it.
uint32_t json_nesting_depth(std::string_view text);

// nullopt when the text is not JSON or nests deeper than max_depth.
std::optional<nlohmann::json> parse_json(std::string_view text, uint32_t max_depth);

bool is_json_object(std::string_view text, uint32_t max_depth);

// Throws Error(kInvalidArgument) "<what> is not valid UTF-8 (...)" unless
// text is UTF-8 that a JSON chunk can hold. Writers check strings when they
// are given, so a bad one is refused before anything is written.
void require_utf8(std::string_view text, const std::string& what);

// text with each invalid UTF-8 sequence replaced by U+FFFD, and how many
// were.
std::pair<std::string, size_t> replace_invalid_utf8(std::string_view text);

}  // namespace h4mk::detail
