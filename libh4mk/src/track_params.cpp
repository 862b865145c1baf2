#include "h4mk/track_params.hpp"

#include <nlohmann/json.hpp>

#include "base64.hpp"
#include "h4mk/error.hpp"
#include "h4mk/side_data_layout.hpp"
#include "json_text.hpp"
#include "track_params_json.hpp"

namespace h4mk {

namespace {

using nlohmann::json;

constexpr std::string_view kFieldOrders[] = {"progressive", "tt", "bb", "tb", "bt"};
constexpr std::string_view kColorRanges[] = {"limited", "full"};
constexpr uint32_t kMaxJsonDepth = 64;

// The 1..2^31-1 members, by name and place.
struct IntMember {
  const char* name;
  std::optional<int32_t> CodecParams::*field;
};
constexpr IntMember kIntMembers[] = {{"bits_per_coded_sample", &CodecParams::bits_per_coded_sample},
                                     {"bits_per_raw_sample", &CodecParams::bits_per_raw_sample},
                                     {"block_align", &CodecParams::block_align},
                                     {"frame_size", &CodecParams::frame_size},
                                     {"encoder_delay", &CodecParams::encoder_delay},
                                     {"trailing_padding", &CodecParams::trailing_padding},
                                     {"seek_preroll", &CodecParams::seek_preroll},
                                     {"video_delay", &CodecParams::video_delay}};

struct CodeMember {
  const char* name;
  std::optional<uint8_t> CodecParams::*field;
  int max;
};
constexpr CodeMember kColorCodes[] = {{"primaries", &CodecParams::color_primaries, 255},
                                      {"transfer", &CodecParams::color_transfer, 255},
                                      {"matrix", &CodecParams::color_matrix, 255},
                                      {"chroma_location", &CodecParams::chroma_location, 5}};

class Reading {
 public:
  explicit Reading(std::vector<std::string>* ignored) : ignored_(ignored) {}

  void ignore(const std::string& member, const std::string& why) {
    if (ignored_) ignored_->push_back(member + " " + why);
  }

  // An integer in [min, max] at o[key], or nothing (noting why when present).
  std::optional<int64_t> integer(const json& o, const char* key, const std::string& member,
                                 int64_t min, int64_t max) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (it->is_number_integer() && !(it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX)) {
      const int64_t v = it->get<int64_t>();
      if (v >= min && v <= max) return v;
    }
    ignore(member, "is not an integer in " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }

  template <size_t N>
  std::optional<size_t> name(const json& o, const char* key, const std::string& member,
                             const std::string_view (&names)[N]) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (it->is_string())
      for (size_t i = 0; i < N; ++i)
        if (it->get_ref<const std::string&>() == names[i]) return i;
    ignore(member, "is not a registered name");
    return std::nullopt;
  }

 private:
  std::vector<std::string>* ignored_;
};

CodecParams codec_params_of(const json& o, Reading& r) {
  CodecParams p;
  if (auto v = r.integer(o, "bit_rate", "codec_params.bit_rate", 1, INT64_MAX)) p.bit_rate = *v;
  for (const IntMember& m : kIntMembers)
    if (auto v = r.integer(o, m.name, std::string("codec_params.") + m.name, 1, INT32_MAX))
      p.*m.field = int32_t(*v);
  if (auto it = o.find("sample_aspect_ratio"); it != o.end()) {
    const auto positive = [](const json& v) {
      return v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= INT32_MAX;
    };
    if (it->is_array() && it->size() == 2 && positive((*it)[0]) && positive((*it)[1]))
      p.sample_aspect_ratio = Rational{(*it)[0].get<int64_t>(), (*it)[1].get<int64_t>()};
    else
      r.ignore("codec_params.sample_aspect_ratio", "is not [num, den] of 1..2147483647");
  }
  if (auto i = r.name(o, "field_order", "codec_params.field_order", kFieldOrders))
    p.field_order = FieldOrder(*i);
  if (auto it = o.find("color"); it != o.end()) {
    if (!it->is_object()) {
      r.ignore("codec_params.color", "is not an object");
      return p;
    }
    if (auto i = r.name(*it, "range", "codec_params.color.range", kColorRanges))
      p.color_range = ColorRange(*i);
    for (const CodeMember& m : kColorCodes)
      if (auto v = r.integer(*it, m.name, std::string("codec_params.color.") + m.name, 0, m.max))
        p.*m.field = uint8_t(*v);
  }
  return p;
}

uint32_t disposition_of(const std::string& names, Reading& r) {
  uint32_t bits = 0;
  for (size_t from = 0; from <= names.size();) {
    size_t plus = names.find('+', from);
    if (plus == std::string::npos) plus = names.size();
    const std::string_view one(names.data() + from, plus - from);
    bool known = false;
    for (size_t i = 0; i < std::size(kDispositionNames); ++i)
      if (one == kDispositionNames[i]) bits |= 1u << i, known = true;
    if (!known && !one.empty()) r.ignore("disposition \"" + printable(one) + "\"", "is not known");
    from = plus + 1;
  }
  return bits;
}

void check_range(const char* member, int64_t v, int64_t min, int64_t max) {
  if (v < min || v > max)
    throw Error(ErrorCode::kInvalidArgument, std::string("codec_params.") + member + " " +
                                                 std::to_string(v) + " is not in " +
                                                 std::to_string(min) + ".." + std::to_string(max));
}

json codec_params_json(const CodecParams& p) {
  json o = json::object();
  if (p.bit_rate) check_range("bit_rate", *p.bit_rate, 1, INT64_MAX), o["bit_rate"] = *p.bit_rate;
  for (const IntMember& m : kIntMembers)
    if (const auto& v = p.*m.field) check_range(m.name, *v, 1, INT32_MAX), o[m.name] = *v;
  if (const auto& sar = p.sample_aspect_ratio) {
    check_range("sample_aspect_ratio", sar->num, 1, INT32_MAX);
    check_range("sample_aspect_ratio", sar->den, 1, INT32_MAX);
    o["sample_aspect_ratio"] = {sar->num, sar->den};
  }
  if (p.field_order) o["field_order"] = kFieldOrders[size_t(*p.field_order)];
  json color = json::object();
  if (p.color_range) color["range"] = kColorRanges[size_t(*p.color_range)];
  for (const CodeMember& m : kColorCodes)
    if (const auto& v = p.*m.field) check_range(m.name, *v, 0, m.max), color[m.name] = *v;
  if (!color.empty()) o["color"] = std::move(color);
  return o;
}

}  // namespace

namespace detail {

TrackParams track_params_of(const json& track, std::vector<std::string>* ignored) {
  Reading r(ignored);
  TrackParams p;
  if (!track.is_object()) return p;
  if (auto it = track.find("codec_params"); it != track.end()) {
    if (it->is_object())
      p.codec = codec_params_of(*it, r);
    else
      r.ignore("codec_params", "is not an object");
  }
  if (auto it = track.find("disposition"); it != track.end()) {
    if (it->is_string())
      p.disposition = disposition_of(it->get_ref<const std::string&>(), r);
    else
      r.ignore("disposition", "is not a string");
  }
  if (auto it = track.find("side_data"); it != track.end()) {
    if (!it->is_object()) {
      r.ignore("side_data", "is not an object");
      return p;
    }
    for (const auto& [id, value] : it->items()) {
      const SideDataLayout* l = find_side_data_layout(id);
      if (!l) continue;  // an id of a later minor version
      const std::string member = "side_data." + id;
      std::optional<std::vector<uint8_t>> bytes;
      if (value.is_string()) bytes = base64_decode(value.get_ref<const std::string&>());
      if (!bytes || bytes->empty()) {
        r.ignore(member, "is not base64");
        continue;
      }
      try {
        check_side_data(*l, *bytes);
      } catch (const Error& e) {
        r.ignore(member, std::string("does not fit its layout (") + e.what() + ")");
        continue;
      }
      p.side_data.emplace(id, std::move(*bytes));
    }
  }
  return p;
}

void set_codec_params(json& track, const CodecParams& codec, uint32_t disposition) {
  json o = codec_params_json(codec);
  if (disposition >> std::size(kDispositionNames))
    throw Error(ErrorCode::kInvalidArgument, "disposition bits " + std::to_string(disposition) +
                                                 " name no registered disposition");
  std::string names;
  for (size_t i = 0; i < std::size(kDispositionNames); ++i)
    if (disposition & (1u << i)) (names += names.empty() ? "" : "+") += kDispositionNames[i];
  if (o.empty())
    track.erase("codec_params");
  else
    track["codec_params"] = std::move(o);
  if (names.empty())
    track.erase("disposition");
  else
    track["disposition"] = names;
}

void set_side_data(json& track, const std::string& id, std::span<const uint8_t> bytes) {
  const SideDataLayout* l = find_side_data_layout(id);
  if (!l)
    throw Error(ErrorCode::kInvalidArgument,
                "side data \"" + printable(id) + "\" is not registered");
  if (bytes.empty()) throw Error(ErrorCode::kInvalidArgument, "side data \"" + id + "\" is empty");
  try {
    check_side_data(*l, bytes);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, e.what());
  }
  json& side = track["side_data"];
  if (!side.is_object()) side = json::object();
  side[id] = base64_encode(bytes);
}

void set_track_params(json& track, const TrackParams& p) {
  json updated = track;  // nothing changes unless every value fits
  set_codec_params(updated, p.codec, p.disposition);
  updated.erase("side_data");
  for (const auto& [id, bytes] : p.side_data) set_side_data(updated, id, bytes);
  track = std::move(updated);
}

}  // namespace detail

TrackParams read_track_params(const Track& track, std::vector<std::string>* ignored) {
  if (track.extra_json.empty()) return {};
  const std::optional<json> extra = detail::parse_json(track.extra_json, kMaxJsonDepth);
  if (!extra) {
    if (ignored) ignored->push_back("the track's other members are not JSON");
    return {};
  }
  return detail::track_params_of(*extra, ignored);
}

void write_track_params(Track& track, const TrackParams& params) {
  json extra = json::object();
  if (!track.extra_json.empty()) {
    std::optional<json> parsed = detail::parse_json(track.extra_json, kMaxJsonDepth);
    if (!parsed || !parsed->is_object())
      throw Error(ErrorCode::kInvalidArgument, "the track's other members are not a JSON object");
    extra = std::move(*parsed);
  }
  detail::set_track_params(extra, params);
  track.extra_json = extra.empty() ? "" : extra.dump();
}

}  // namespace h4mk
