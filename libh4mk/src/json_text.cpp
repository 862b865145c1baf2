#include "json_text.hpp"

#include <algorithm>

#include "h4mk/error.hpp"

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

void require_utf8(std::string_view text, const std::string& what) {
  try {
    // nlohmann's serialiser is the one that would refuse it later.
    (void)nlohmann::json(std::string(text)).dump();
  } catch (const nlohmann::json::type_error& e) {
    // e.what(): "[json.exception.type_error.316] invalid UTF-8 byte at index 2: 0xFF"
    std::string detail = e.what();
    detail.erase(0, detail.find("] ") == std::string::npos ? 0 : detail.find("] ") + 2);
    throw Error(ErrorCode::kInvalidArgument, what + " is not valid UTF-8 (" + detail + ")");
  }
}

}  // namespace h4mk::detail
