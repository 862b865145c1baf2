#include "chapter_json.hpp"

#include <climits>
#include <nlohmann/json.hpp>

#include "block_group.hpp"  // kMaxTimestamp
#include "h4mk/error.hpp"
#include "json_text.hpp"

namespace h4mk::detail {

using nlohmann::json;

namespace {

bool valid_time_base(const Rational& tb) {
  return tb.num > 0 && tb.num <= INT32_MAX && tb.den > 0 && tb.den <= INT32_MAX;
}

bool valid_time(int64_t t) { return t >= -kMaxTimestamp && t <= kMaxTimestamp; }

// Why a chapter is not one a file may hold, or "" (shared by writer and reader).
std::string chapter_problem(const Chapter& c) {
  if (!valid_time_base(c.time_base)) return "\"time_base\" needs 0 < num, den <= 2^31-1";
  if (!valid_time(c.start)) return "\"start\" is outside -(2^62 - 1)..2^62 - 1";
  if (c.end && !valid_time(*c.end)) return "\"end\" is outside -(2^62 - 1)..2^62 - 1";
  if (c.end && *c.end < c.start) return "\"end\" is before \"start\"";
  return {};
}

// An integer member that fits int64, or nullopt when absent; `why` is set
// when it is present but not one.
std::optional<int64_t> int64_member(const json& o, const char* key, std::string& why) {
  auto it = o.find(key);
  if (it == o.end()) return std::nullopt;
  if (!it->is_number_integer() || (it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX)) {
    why = std::string("\"") + key + "\" is not a 64-bit integer";
    return std::nullopt;
  }
  return it->get<int64_t>();
}

}  // namespace

void validate_chapter(const Chapter& c, size_t index) {
  const std::string at = "chapter #" + std::to_string(index) + ": ";
  if (std::string why = chapter_problem(c); !why.empty())
    throw Error(ErrorCode::kInvalidArgument, at + why);
  require_utf8(c.title, at + "title");
  for (const auto& [k, v] : c.tags) {
    require_utf8(k, at + "a tag name");
    require_utf8(v, at + "tag '" + k + "'");
  }
}

std::string encode_chapters(const std::vector<Chapter>& chapters) {
  json list = json::array();
  for (const Chapter& c : chapters) {
    json o = {{"time_base", {c.time_base.num, c.time_base.den}}, {"start", c.start}};
    if (c.end) o["end"] = *c.end;
    if (c.id) o["id"] = *c.id;
    if (!c.title.empty()) o["title"] = c.title;
    if (!c.tags.empty()) o["tags"] = c.tags;
    list.push_back(std::move(o));
  }
  return json{{"chapters", std::move(list)}}.dump();
}

std::vector<Chapter> decode_chapters(std::string_view text, uint64_t chunk_offset,
                                     const ReaderLimits& limits) {
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCode::kCorrupt,
                 "CHAP chunk at offset " + std::to_string(chunk_offset) + ": " + why, chunk_offset);
  };
  auto root = parse_json(text, limits.max_json_depth);
  if (!root)
    throw corrupt("payload is not JSON nested at most " + std::to_string(limits.max_json_depth) +
                  " levels");
  if (!root->is_object() || !root->contains("chapters") || !(*root)["chapters"].is_array())
    throw corrupt("expected an object with a \"chapters\" array");

  std::vector<Chapter> chapters;
  const json& list = (*root)["chapters"];
  for (size_t i = 0; i < list.size(); ++i) {
    const json& o = list[i];
    const std::string at = "chapter #" + std::to_string(i) + ": ";
    if (!o.is_object()) throw corrupt(at + "not an object");
    Chapter c;
    std::string why;
    const json* tb = o.contains("time_base") ? &o["time_base"] : nullptr;
    if (!tb || !tb->is_array() || tb->size() != 2 || !(*tb)[0].is_number_integer() ||
        !(*tb)[1].is_number_integer())
      throw corrupt(at + "\"time_base\" is missing or not [num, den]");
    c.time_base = {(*tb)[0].get<int64_t>(), (*tb)[1].get<int64_t>()};
    auto start = int64_member(o, "start", why);
    if (!start && why.empty()) why = "\"start\" is missing";
    c.start = start.value_or(0);
    c.end = int64_member(o, "end", why);
    c.id = int64_member(o, "id", why);
    if (!why.empty()) throw corrupt(at + why);
    if (std::string bad = chapter_problem(c); !bad.empty()) throw corrupt(at + bad);
    if (o.contains("title")) {
      if (!o["title"].is_string()) throw corrupt(at + "\"title\" is not a string");
      c.title = o["title"].get<std::string>();
    }
    if (o.contains("tags")) {
      if (!o["tags"].is_object()) throw corrupt(at + "\"tags\" is not an object");
      for (const auto& [k, v] : o["tags"].items()) {
        if (!v.is_string()) throw corrupt(at + "tag \"" + k + "\" is not a string");
        c.tags[k] = v.get<std::string>();
      }
    }
    chapters.push_back(std::move(c));
  }
  return chapters;
}

}  // namespace h4mk::detail
