#include "track_json.hpp"

#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "base64.hpp"
#include "h4mk/error.hpp"
#include "hash_chain.hpp"
#include "json_text.hpp"

namespace h4mk::detail {

using detail::to_hex;
using nlohmann::json;

namespace {

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {"adapter",     "channel_layout",
                                             "channels",    "codec",
                                             "compression", "default_duration",
                                             "extradata",   "frame_rate",
                                             "height",      "id",
                                             "kind",        "language",
                                             "mask",        "max_chain_blocks",
                                             "name",        "notes",
                                             "sample_rate", "tags",
                                             "time_base",   "width"};
  return keys;
}

bool valid_rational_part(int64_t v) { return v > 0 && v <= INT32_MAX; }

json encode_mask(const TrackMask& m) {
  return {{"scheme", mask_scheme_name(m.scheme)},
          {"kid", m.kid},
          {"salt", to_hex(m.salt)},
          {"check", to_hex(m.check)}};
}

// Lowercase hex of exactly out.size() bytes.
bool decode_hex(const json& v, std::span<uint8_t> out) {
  if (!v.is_string()) return false;
  const std::string& s = v.get_ref<const std::string&>();
  if (s.size() != 2 * out.size()) return false;
  auto digit = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = digit(s[2 * i]), lo = digit(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = uint8_t(hi << 4 | lo);
  }
  return true;
}

// nullopt names what is wrong through `why`.
std::optional<TrackMask> decode_mask(const json& v, std::string& why) {
  if (!v.is_object()) return why = "is not an object", std::nullopt;
  TrackMask m;
  auto scheme = v.contains("scheme") && v["scheme"].is_string()
                    ? mask_scheme_from_name(v["scheme"].get<std::string>())
                    : std::nullopt;
  if (!scheme) return why = "\"scheme\" is not aes-256-gcm or aes-256-ctr", std::nullopt;
  m.scheme = *scheme;
  if (!v.contains("kid") || !v["kid"].is_string() || v["kid"].get<std::string>().empty() ||
      v["kid"].get<std::string>().size() > 64)
    return why = "\"kid\" is not a string of 1..64 characters", std::nullopt;
  m.kid = v["kid"].get<std::string>();
  for (char c : m.kid)
    if (c < 0x20 || c > 0x7e) return why = "\"kid\" is not printable ASCII", std::nullopt;
  if (!v.contains("salt") || !decode_hex(v["salt"], m.salt))
    return why = "\"salt\" is not 32 lowercase hex digits", std::nullopt;
  if (!v.contains("check") || !decode_hex(v["check"], m.check))
    return why = "\"check\" is not 16 lowercase hex digits", std::nullopt;
  return m;
}

// A dictionary is not named here: the track's DICT chunk is it.
json encode_compression(const TrackCompression&) { return {{"scheme", "zstd"}}; }

std::optional<TrackCompression> decode_compression(const json& v, std::string& why) {
  if (!v.is_object()) return why = "is not an object", std::nullopt;
  if (!v.contains("scheme") || v["scheme"] != "zstd")
    return why = "\"scheme\" is not \"zstd\" (the only scheme of format 2.0)", std::nullopt;
  return TrackCompression{};
}

// Writer input goes through the same depth limit readers apply.
json parse_object(std::string_view text, const char* what, ErrorCode code) {
  auto j = parse_json(text, ReaderLimits{}.max_json_depth);
  if (!j || !j->is_object())
    throw Error(code, std::string(what) + " is not a JSON object (nested at most " +
                          std::to_string(ReaderLimits{}.max_json_depth) + " levels)");
  return *j;
}

}  // namespace

void validate_track(const Track& t) {
  auto bad = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, "track " + std::to_string(t.id) + ": " + why);
  };
  if (t.id == 0) bad("id 0 is invalid (ids are 1..65535)");
  const std::string at = "track " + std::to_string(t.id) + ": ";
  for (const auto& [field, text] : {std::pair<const char*, const std::string&>{"codec", t.codec},
                                    {"name", t.name},
                                    {"language", t.language},
                                    {"channel_layout", t.channel_layout},
                                    {"adapter", t.adapter},
                                    {"notes", t.notes}})
    require_utf8(text, at + field);
  for (const auto& [k, v] : t.tags) {
    require_utf8(k, at + "a tag name");
    require_utf8(v, at + "tag '" + k + "'");
  }
  if (t.mask) require_utf8(t.mask->kid, at + "mask key id");
  if (t.codec.empty()) bad("codec is empty");
  if (!t.adapter.empty() && !is_adapter_name(t.adapter))
    bad("adapter '" + printable(t.adapter) +
        "' is not an adapter name (1-32 of a-z 0-9 _ -, starting with a letter or digit)");
  if (!valid_rational_part(t.time_base.num) || !valid_rational_part(t.time_base.den))
    bad("time_base " + std::to_string(t.time_base.num) + "/" + std::to_string(t.time_base.den) +
        " must have 0 < num, den <= 2^31-1");
  if ((t.frame_rate.num || t.frame_rate.den) &&
      (!valid_rational_part(t.frame_rate.num) || !valid_rational_part(t.frame_rate.den)))
    bad("frame_rate must be absent (0/0) or positive");
  if (t.default_duration < 0) bad("default_duration is negative");
  if (t.max_chain_blocks > kMaxChainBlocks)
    bad("max_chain_blocks " + std::to_string(t.max_chain_blocks) + " is above the format's " +
        std::to_string(kMaxChainBlocks));
  if (t.mask && (t.mask->kid.empty() || t.mask->kid.size() > 64))
    bad("mask key id must be 1..64 characters");
  if (t.compression) {
    if (t.mask) bad("a masked track is not compressed (an envelope does not shrink)");
    if (t.compression->level < 1 || t.compression->level > 19)
      bad("compression level " + std::to_string(t.compression->level) + " is not 1..19");
    if (t.compression->dictionary.size() > kMaxDictionaryBytes)
      bad("compression dictionary of " + std::to_string(t.compression->dictionary.size()) +
          " bytes exceeds " + std::to_string(kMaxDictionaryBytes));
  }
  if (!t.extra_json.empty()) {
    json extra = parse_object(t.extra_json, "extra_json", ErrorCode::kInvalidArgument);
    for (auto& [k, v] : extra.items())
      if (known_keys().count(k)) bad("extra_json repeats the standard key '" + k + "'");
  }
}

std::string encode_tracks(const std::vector<Track>& tracks) {
  json list = json::array();
  for (const Track& t : tracks) {
    json o = t.extra_json.empty() ? json::object() : json::parse(t.extra_json);
    o["id"] = t.id;
    o["kind"] = track_kind_name(t.kind);
    o["codec"] = t.codec;
    o["time_base"] = {t.time_base.num, t.time_base.den};
    if (!t.name.empty()) o["name"] = t.name;
    if (!t.language.empty()) o["language"] = t.language;
    if (!t.channel_layout.empty()) o["channel_layout"] = t.channel_layout;
    if (!t.adapter.empty()) o["adapter"] = t.adapter;
    if (t.sample_rate) o["sample_rate"] = t.sample_rate;
    if (t.channels) o["channels"] = t.channels;
    if (t.width) o["width"] = t.width;
    if (t.height) o["height"] = t.height;
    if (t.frame_rate.num) o["frame_rate"] = {t.frame_rate.num, t.frame_rate.den};
    if (t.default_duration) o["default_duration"] = t.default_duration;
    if (t.max_chain_blocks) o["max_chain_blocks"] = t.max_chain_blocks;
    if (!t.extradata.empty()) o["extradata"] = base64_encode(t.extradata);
    if (!t.notes.empty()) o["notes"] = t.notes;
    if (!t.tags.empty()) o["tags"] = t.tags;
    if (t.mask) o["mask"] = encode_mask(*t.mask);
    if (t.compression) o["compression"] = encode_compression(*t.compression);
    list.push_back(std::move(o));
  }
  return json{{"tracks", std::move(list)}}.dump();
}

std::vector<Track> decode_tracks(const std::string& text, uint64_t chunk_offset,
                                 const ReaderLimits& limits) {
  const uint32_t max_tracks = limits.max_tracks;
  auto fail = [&](const std::string& why) -> void {
    throw Error(ErrorCode::kCorrupt,
                "TRAK chunk at offset " + std::to_string(chunk_offset) + ": " + why, chunk_offset);
  };
  if (json_nesting_depth(text) > limits.max_json_depth)
    fail("JSON nests deeper than " + std::to_string(limits.max_json_depth) + " levels");
  json root = json::parse(text, nullptr, false);
  if (root.is_discarded()) fail("payload is not valid JSON");
  if (!root.is_object() || !root.contains("tracks") || !root["tracks"].is_array())
    fail("expected an object with a \"tracks\" array");
  const json& list = root["tracks"];
  if (list.size() > max_tracks)
    throw Error(ErrorCode::kLimitExceeded,
                "TRAK chunk at offset " + std::to_string(chunk_offset) + ": " +
                    std::to_string(list.size()) + " tracks exceed the reader limit of " +
                    std::to_string(max_tracks),
                chunk_offset);

  std::vector<Track> tracks;
  std::set<uint16_t> seen;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& o = list[i];
    std::string at = "track #" + std::to_string(i) + ": ";
    if (!o.is_object()) fail(at + "not an object");
    auto int_field = [&](const char* key, int64_t lo, int64_t hi, bool required) -> int64_t {
      if (!o.contains(key)) {
        if (required) fail(at + "missing \"" + key + "\"");
        return 0;
      }
      const json& v = o[key];
      if (!v.is_number_integer()) fail(at + "\"" + key + "\" is not an integer");
      int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)
                      ? INT64_MAX
                      : v.get<int64_t>();
      if (x < lo || x > hi) fail(at + "\"" + key + "\" = " + v.dump() + " is out of range");
      return x;
    };
    auto str_field = [&](const char* key, bool required) -> std::string {
      if (!o.contains(key)) {
        if (required) fail(at + "missing \"" + key + "\"");
        return {};
      }
      if (!o[key].is_string()) fail(at + "\"" + key + "\" is not a string");
      return o[key].get<std::string>();
    };
    auto rational_field = [&](const char* key, bool required) -> Rational {
      if (!o.contains(key)) {
        if (required) fail(at + "missing \"" + key + "\"");
        return {0, 0};
      }
      const json& v = o[key];
      if (!v.is_array() || v.size() != 2 || !v[0].is_number_integer() || !v[1].is_number_integer())
        fail(at + "\"" + key + "\" is not [num, den]");
      int64_t num = v[0].get<int64_t>(), den = v[1].get<int64_t>();
      if (!valid_rational_part(num) || !valid_rational_part(den))
        fail(at + "\"" + key + "\" " + v.dump() + " needs 0 < num, den <= 2^31-1");
      return {num, den};
    };

    Track t;
    t.id = static_cast<uint16_t>(int_field("id", 1, 65535, true));
    if (!seen.insert(t.id).second) fail(at + "duplicate id " + std::to_string(t.id));
    try {
      t.kind = track_kind_from_name(str_field("kind", true));
    } catch (const Error& e) {
      fail(at + e.what());
    }
    t.codec = str_field("codec", true);
    if (t.codec.empty()) fail(at + "\"codec\" is empty");
    t.time_base = rational_field("time_base", true);
    t.name = str_field("name", false);
    t.language = str_field("language", false);
    t.channel_layout = str_field("channel_layout", false);
    t.adapter = str_field("adapter", false);
    t.notes = str_field("notes", false);
    t.sample_rate = uint32_t(int_field("sample_rate", 0, UINT32_MAX, false));
    t.channels = uint32_t(int_field("channels", 0, UINT32_MAX, false));
    t.width = uint32_t(int_field("width", 0, UINT32_MAX, false));
    t.height = uint32_t(int_field("height", 0, UINT32_MAX, false));
    t.frame_rate = rational_field("frame_rate", false);
    t.default_duration = int_field("default_duration", 0, INT64_MAX, false);
    t.max_chain_blocks = uint32_t(int_field("max_chain_blocks", 1, kMaxChainBlocks, false));
    if (o.contains("extradata")) {
      auto bytes = base64_decode(str_field("extradata", true));
      if (!bytes) fail(at + "\"extradata\" is not canonical base64");
      t.extradata = std::move(*bytes);
    }
    if (o.contains("tags")) {
      const json& tags = o["tags"];
      if (!tags.is_object()) fail(at + "\"tags\" is not an object");
      for (auto& [k, v] : tags.items()) {
        if (!v.is_string()) fail(at + "tag \"" + k + "\" is not a string");
        t.tags[k] = v.get<std::string>();
      }
    }
    if (o.contains("mask")) {
      std::string why;
      t.mask = decode_mask(o["mask"], why);
      if (!t.mask) fail(at + "\"mask\" " + why);
    }
    if (o.contains("compression")) {
      std::string why;
      t.compression = decode_compression(o["compression"], why);
      if (!t.compression) fail(at + "\"compression\" " + why);
      if (t.mask) fail(at + "a masked track cannot be compressed");
    }
    json extra = json::object();
    for (auto& [k, v] : o.items())
      if (!known_keys().count(k)) extra[k] = v;
    if (!extra.empty()) t.extra_json = extra.dump();
    tracks.push_back(std::move(t));
  }
  return tracks;
}

std::string encode_track_mask(const TrackMask& mask) { return encode_mask(mask).dump(); }

TrackMask decode_track_mask(std::string_view text) {
  json j = parse_object(text, "mask parameters", ErrorCode::kInvalidArgument);
  std::string why;
  auto m = decode_mask(j, why);
  if (!m) throw Error(ErrorCode::kInvalidArgument, "mask parameters: " + why);
  return *m;
}

std::string canonical_json_object(std::string_view text, const char* what) {
  return parse_object(text, what, ErrorCode::kInvalidArgument).dump();
}

}  // namespace h4mk::detail

namespace h4mk {

std::string adapter_config_json(const Track& track) {
  auto doc = nlohmann::json::parse(detail::encode_tracks({track}));
  return doc.at("tracks").at(0).dump();
}

}  // namespace h4mk
