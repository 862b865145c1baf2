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

std::pair<std::string, size_t> replace_invalid_utf8(std::string_view text) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  auto count = [](std::string_view s) {
    size_t n = 0;
    for (size_t at = s.find(kReplacement); at != std::string_view::npos;
         at = s.find(kReplacement, at + kReplacement.size()))
      ++n;
    return n;
  };
  // nlohmann's serialiser makes the replacements; its output is a JSON string.
  const std::string quoted = nlohmann::json(std::string(text))
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::string repaired = nlohmann::json::parse(quoted).get<std::string>();
  const size_t replaced = count(repaired) - count(text);
  return {std::move(repaired), replaced};
}

}  // namespace h4mk::detail
