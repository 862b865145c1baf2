#include "json_text.hpp"

#include <algorithm>

namespace h4mk::detail {

uint32_t json_nesting_depth(std::string_view text) {
  uint32_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{')
      deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0)
      --depth;
  }
  return deepest;
}

std::optional<nlohmann::json> parse_json(std::string_view text, uint32_t max_depth) {
  if (json_nesting_depth(text) > max_depth) return std::nullopt;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool is_json_object(std::string_view text, uint32_t max_depth) {
  auto j = parse_json(text, max_depth);
  return j && j->is_object();
}

}  // namespace h4mk::detail
