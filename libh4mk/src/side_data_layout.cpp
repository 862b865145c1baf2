#include "h4mk/side_data_layout.hpp"

#include <nlohmann/json.hpp>
#include <string>

#include "h4mk/error.hpp"

namespace h4mk {

namespace {

using T = SideDataFieldType;
using K = SideDataKind;
using F = SideDataField;

constexpr std::string_view kStereoTypes[] = {
    "2d",           "side_by_side",          "top_bottom", "frame_sequence",
    "checkerboard", "side_by_side_quincunx", "lines",      "columns",
    "unspecified"};
constexpr std::string_view kStereoFlags[] = {"none", "invert"};
constexpr std::string_view kStereoViews[] = {"packed", "left", "right", "unspecified"};
constexpr std::string_view kPrimaryEyes[] = {"none", "left", "right"};
constexpr std::string_view kServiceTypes[] = {
    "main",       "effects",   "visually_impaired", "hearing_impaired", "dialogue",
    "commentary", "emergency", "voice_over",        "karaoke"};
constexpr std::string_view kProjections[] = {
    "equirectangular", "cubemap", "equirectangular_tile", "half_equirectangular",
    "rectilinear",     "fisheye", "parametric_immersive"};
constexpr std::string_view kAnimationTypes[] = {"step", "linear", "bezier"};

constexpr F kSkipSamples[] = {
    {"skip", T::kU32}, {"discard", T::kU32}, {"skip_reason", T::kU8}, {"discard_reason", T::kU8}};
constexpr F kMbInfo[] = {{"bit_offset", T::kU32}, {"quantizer", T::kU8},
                         {"gob_number", T::kU8},  {"macroblock_address", T::kU16},
                         {"hmv1", T::kU8},        {"vmv1", T::kU8},
                         {"hmv2", T::kU8},        {"vmv2", T::kU8}};
constexpr F kU8Value[] = {{"value", T::kU8}};
constexpr F kRectangle[] = {{"x1", T::kU32}, {"y1", T::kU32}, {"x2", T::kU32}, {"y2", T::kU32}};
constexpr F kCropping[] = {
    {"top", T::kU32}, {"bottom", T::kU32}, {"left", T::kU32}, {"right", T::kU32}};
constexpr F kMdcv[] = {
    {"green_x", T::kU16, 1, true, {}, 50000},       {"green_y", T::kU16, 1, true, {}, 50000},
    {"blue_x", T::kU16, 1, true, {}, 50000},        {"blue_y", T::kU16, 1, true, {}, 50000},
    {"red_x", T::kU16, 1, true, {}, 50000},         {"red_y", T::kU16, 1, true, {}, 50000},
    {"white_point_x", T::kU16, 1, true, {}, 50000}, {"white_point_y", T::kU16, 1, true, {}, 50000},
    {"max_luminance", T::kU32, 1, true, {}, 10000}, {"min_luminance", T::kU32, 1, true, {}, 10000}};
constexpr F kClli[] = {{"max_content_light_level", T::kU16, 1, true},
                       {"max_pic_average_light_level", T::kU16, 1, true}};
constexpr F kDvcc[] = {{"dv_version_major", T::kU8},
                       {"dv_version_minor", T::kU8},
                       {"dv_profile", T::kBits, 7},
                       {"dv_level", T::kBits, 6},
                       {"rpu_present_flag", T::kBits, 1},
                       {"el_present_flag", T::kBits, 1},
                       {"bl_present_flag", T::kBits, 1},
                       {"dv_bl_signal_compatibility_id", T::kBits, 4},
                       {"dv_md_compression", T::kBits, 2},
                       {"", T::kReservedBits, 26},
                       {"", T::kReserved, 16}};
constexpr F kPalette[] = {{"argb", T::kU32, 256}};
constexpr F kReplayGain[] = {{"track_gain", T::kI32},
                             {"track_peak", T::kU32},
                             {"album_gain", T::kI32},
                             {"album_peak", T::kU32}};
constexpr F kDisplayMatrix[] = {{"matrix", T::kI32, 9}};
constexpr F kStereo3d[] = {{"type", T::kU32, 1, false, kStereoTypes},
                           {"flags", T::kU32, 1, false, kStereoFlags},
                           {"view", T::kU32, 1, false, kStereoViews},
                           {"primary_eye", T::kU32, 1, false, kPrimaryEyes},
                           {"baseline", T::kU32},
                           {"horizontal_disparity_adjustment", T::kRational},
                           {"horizontal_field_of_view", T::kRational}};
constexpr F kServiceType[] = {{"type", T::kU32, 1, false, kServiceTypes}};
constexpr F kFallback[] = {{"track", T::kI32}};
constexpr F kCpb[] = {{"max_bitrate", T::kI64},
                      {"min_bitrate", T::kI64},
                      {"avg_bitrate", T::kI64},
                      {"buffer_size", T::kI64},
                      {"vbv_delay", T::kU64}};
constexpr F kSpherical[] = {{"projection", T::kU32, 1, false, kProjections},
                            {"yaw", T::kI32},
                            {"pitch", T::kI32},
                            {"roll", T::kI32},
                            {"bound_left", T::kU32},
                            {"bound_top", T::kU32},
                            {"bound_right", T::kU32},
                            {"bound_bottom", T::kU32},
                            {"padding", T::kU32}};
constexpr F kPrft[] = {{"wallclock", T::kI64}, {"flags", T::kI32}, {"", T::kReserved, 4}};
constexpr F kTimecode[] = {{"timecodes", T::kU32, 4}};
constexpr F kAmbient[] = {{"ambient_illuminance", T::kRational},
                          {"ambient_light_x", T::kRational},
                          {"ambient_light_y", T::kRational}};
constexpr F kRtcpSr[] = {
    {"ssrc", T::kU32},          {"", T::kReserved, 4},          {"ntp_timestamp", T::kU64},
    {"rtp_timestamp", T::kU32}, {"sender_nb_packets", T::kU32}, {"sender_nb_bytes", T::kU32},
    {"", T::kReserved, 4}};

// IAMF parameter data: the header names its type and subblock count.
template <int64_t kType>
constexpr F kIamfHeader[] = {{"type", T::kU32, 1, false, {}, 0, kType},
                             {"nb_subblocks", T::kU32},
                             {"parameter_id", T::kU32},
                             {"parameter_rate", T::kU32},
                             {"duration", T::kU32},
                             {"constant_subblock_duration", T::kU32}};
constexpr F kMixGain[] = {
    {"subblock_duration", T::kU32},        {"animation_type", T::kU32, 1, false, kAnimationTypes},
    {"start_point_value", T::kRational},   {"end_point_value", T::kRational},
    {"control_point_value", T::kRational}, {"control_point_relative_time", T::kRational}};
constexpr F kDemixing[] = {{"subblock_duration", T::kU32}, {"dmixp_mode", T::kU32}};
constexpr F kReconGain[] = {{"subblock_duration", T::kU32}, {"recon_gain", T::kU8, 72}};

constexpr F kRefDisplaysHeader[] = {{"prec_ref_display_width", T::kU8},
                                    {"ref_viewing_distance_flag", T::kU8},
                                    {"prec_ref_viewing_dist", T::kU8},
                                    {"num_ref_displays", T::kU8}};
constexpr F kRefDisplay[] = {{"left_view_id", T::kU16},
                             {"right_view_id", T::kU16},
                             {"exponent_ref_display_width", T::kU8},
                             {"mantissa_ref_display_width", T::kU8},
                             {"exponent_ref_viewing_distance", T::kU8},
                             {"mantissa_ref_viewing_distance", T::kU8},
                             {"additional_shift_present_flag", T::kU8},
                             {"", T::kReserved, 1},
                             {"num_sample_shift", T::kI16}};

constexpr SideDataLayout kLayouts[] = {
    {"skip_samples", K::kFields, kSkipSamples},
    {"new_extradata", K::kBytes},
    {"param_change", K::kParamChange},
    {"h263_mb_info", K::kFields, {}, kMbInfo},
    {"jp_dualmono", K::kFields, kU8Value},
    {"strings_metadata", K::kBytes},
    {"metadata_update", K::kBytes},
    {"subtitle_position", K::kFields, kRectangle},
    {"matroska_block_additional", K::kBytes, {}, {}, -1, 0, 0, 8},
    {"webvtt_id", K::kBytes},
    {"webvtt_settings", K::kBytes},
    {"a53_cc", K::kBytes, {}, {}, -1, 0, 3},
    {"afd", K::kFields, kU8Value},
    {"icc_profile", K::kBytes},
    {"frame_cropping", K::kFields, kCropping},
    {"lcevc", K::kBytes},
    {"exif", K::kBytes},
    {"dovi_el_hvcc", K::kBytes},
    {"mdcv", K::kFields, kMdcv},
    {"clli", K::kFields, kClli},
    {"dvcc", K::kFields, kDvcc},
    {"hdr10plus", K::kT35},
    {"smpte2094_50", K::kT35},
    {"palette", K::kFields, kPalette},
    {"replay_gain", K::kFields, kReplayGain},
    {"display_matrix", K::kFields, kDisplayMatrix},
    {"stereo3d", K::kFields, kStereo3d},
    {"audio_service_type", K::kFields, kServiceType},
    {"fallback_track", K::kFields, kFallback},
    {"cpb_properties", K::kFields, kCpb},
    {"spherical", K::kFields, kSpherical},
    {"producer_reference_time", K::kFields, kPrft},
    {"s12m_timecode", K::kFields, kTimecode},
    {"ambient_viewing_environment", K::kFields, kAmbient},
    {"rtcp_sr", K::kFields, kRtcpSr},
    {"iamf_mix_gain", K::kFields, kIamfHeader<0>, kMixGain, 1},
    {"iamf_demixing", K::kFields, kIamfHeader<1>, kDemixing, 1},
    {"iamf_recon_gain", K::kFields, kIamfHeader<2>, kReconGain, 1},
    {"ref_displays_3d", K::kFields, kRefDisplaysHeader, kRefDisplay, 3},
};

bool is_bits(const F& f) { return f.type == T::kBits || f.type == T::kReservedBits; }

size_t value_count(const F& f) {
  switch (f.type) {
    case T::kRational:
      return 2 * size_t{f.count};
    case T::kReserved:
    case T::kReservedBits:
      return 0;
    case T::kBits:
      return 1;
    default:
      return f.count;
  }
}

size_t unit_bytes(T t) {
  switch (t) {
    case T::kU8:
      return 1;
    case T::kU16:
    case T::kI16:
      return 2;
    case T::kU32:
    case T::kI32:
      return 4;
    default:
      return 8;
  }
}

bool is_signed(T t) { return t == T::kI16 || t == T::kI32 || t == T::kI64 || t == T::kRational; }

size_t byte_count(std::span<const F> fields) {
  size_t bits = 0, bytes = 0;
  for (const F& f : fields) {
    if (is_bits(f))
      bits += f.count;
    else if (f.type == T::kReserved)
      bytes += f.count;
    else
      bytes += unit_bytes(f.type) * f.count;
  }
  return bytes + bits / 8;
}

size_t values_of(std::span<const F> fields) {
  size_t n = 0;
  for (const F& f : fields) n += value_count(f);
  return n;
}

// The bit field run starting at fields[i]: its fields and its bytes.
size_t run_end(std::span<const F> fields, size_t i) {
  while (i < fields.size() && is_bits(fields[i])) ++i;
  return i;
}

std::string where(const SideDataLayout& l, const F& f, size_t pos) {
  return "side data \"" + std::string(l.id) +
         "\": " + (f.name.empty() ? std::string("reserved field") : std::string(f.name)) +
         " at byte " + std::to_string(pos);
}

uint64_t load(const uint8_t* p, size_t n, bool big_endian) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= uint64_t{p[big_endian ? n - 1 - k : k]} << (8 * k);
  return v;
}

void store(uint8_t* p, size_t n, bool big_endian, uint64_t v) {
  for (size_t k = 0; k < n; ++k) p[big_endian ? n - 1 - k : k] = uint8_t(v >> (8 * k));
}

int64_t extend(uint64_t v, size_t bytes, bool is_signed_type) {
  if (bytes == 8 || !is_signed_type) return static_cast<int64_t>(v);
  const uint64_t sign = uint64_t{1} << (8 * bytes - 1);
  return static_cast<int64_t>((v ^ sign) - sign);
}

// Whether v fits the field's type, enumeration and fixed value.
bool fits(const F& f, int64_t v) {
  if (f.fixed >= 0 && v != f.fixed) return false;
  if (!f.symbols.empty() && (v < 0 || uint64_t(v) >= f.symbols.size())) return false;
  switch (f.type) {
    case T::kU8:
      return v >= 0 && v <= 0xFF;
    case T::kU16:
      return v >= 0 && v <= 0xFFFF;
    case T::kU32:
      return v >= 0 && v <= 0xFFFFFFFFll;
    case T::kI16:
      return v >= INT16_MIN && v <= INT16_MAX;
    case T::kI32:
    case T::kRational:
      return v >= INT32_MIN && v <= INT32_MAX;
    case T::kBits:
      return v >= 0 && v < (int64_t{1} << f.count);
    default:
      return true;
  }
}

void read_fields(const SideDataLayout& l, std::span<const F> fields, const uint8_t* base,
                 size_t& pos, std::vector<int64_t>& out) {
  for (size_t i = 0; i < fields.size();) {
    const F& f = fields[i];
    if (is_bits(f)) {
      const size_t end = run_end(fields, i);
      const size_t bytes = byte_count(fields.subspan(i, end - i));
      const uint64_t run = load(base + pos, bytes, true);
      size_t left = bytes * 8;
      for (; i < end; ++i) {
        left -= fields[i].count;
        if (fields[i].type == T::kReservedBits) continue;
        const int64_t v = int64_t((run >> left) & ((uint64_t{1} << fields[i].count) - 1));
        if (!fits(fields[i], v))
          throw Error(ErrorCode::kCorrupt, where(l, fields[i], pos) + " does not fit");
        out.push_back(v);
      }
      pos += bytes;
      continue;
    }
    if (f.type == T::kReserved) {
      pos += f.count;
      ++i;
      continue;
    }
    const size_t unit = f.type == T::kRational ? 4 : unit_bytes(f.type);
    for (size_t k = 0; k < value_count(f); ++k, pos += unit) {
      const int64_t v = extend(load(base + pos, unit, f.big_endian), unit, is_signed(f.type));
      if (!fits(f, v))
        throw Error(ErrorCode::kCorrupt,
                    where(l, f, pos) + ": " + std::to_string(v) +
                        (f.symbols.empty() ? " does not fit" : " is not a listed value"));
      out.push_back(v);
    }
    ++i;
  }
}

void write_fields(const SideDataLayout& l, std::span<const F> fields, const int64_t*& v,
                  std::vector<uint8_t>& out) {
  for (size_t i = 0; i < fields.size();) {
    const F& f = fields[i];
    if (is_bits(f)) {
      const size_t end = run_end(fields, i);
      const size_t bytes = byte_count(fields.subspan(i, end - i));
      uint64_t run = 0;
      for (; i < end; ++i) {
        run <<= fields[i].count;
        if (fields[i].type == T::kReservedBits) continue;
        if (!fits(fields[i], *v))
          throw Error(ErrorCode::kInvalidArgument, where(l, fields[i], out.size()) + ": " +
                                                       std::to_string(*v) + " does not fit " +
                                                       std::to_string(fields[i].count) + " bits");
        run |= uint64_t(*v++);
      }
      out.resize(out.size() + bytes);
      store(out.data() + out.size() - bytes, bytes, true, run);
      continue;
    }
    if (f.type == T::kReserved) {
      out.resize(out.size() + f.count, 0);
      ++i;
      continue;
    }
    const size_t unit = f.type == T::kRational ? 4 : unit_bytes(f.type);
    for (size_t k = 0; k < value_count(f); ++k) {
      if (!fits(f, *v))
        throw Error(ErrorCode::kInvalidArgument,
                    where(l, f, out.size()) + ": " + std::to_string(*v) +
                        (f.symbols.empty() ? " does not fit its field" : " is not a listed value"));
      out.resize(out.size() + unit);
      store(out.data() + out.size() - unit, unit, f.big_endian, uint64_t(*v++));
    }
    ++i;
  }
}

std::string named(const SideDataLayout& l) { return "side data \"" + std::string(l.id) + "\": "; }

// The entries a kFields layout's bytes hold, after checking the size.
size_t entries_of(const SideDataLayout& l, std::span<const uint8_t> bytes, int64_t counted) {
  const size_t head = byte_count(l.fields), each = byte_count(l.entry);
  if (bytes.size() < head || (l.entry.empty() && bytes.size() != head))
    throw Error(ErrorCode::kCorrupt, named(l) + std::to_string(bytes.size()) +
                                         " bytes, the layout has " + std::to_string(head));
  if (l.entry.empty()) return 0;
  const size_t rest = bytes.size() - head;
  if (rest % each)
    throw Error(ErrorCode::kCorrupt, named(l) + std::to_string(bytes.size()) + " bytes are not " +
                                         std::to_string(head) + " + n × " + std::to_string(each));
  if (counted >= 0 && uint64_t(counted) != rest / each)
    throw Error(ErrorCode::kCorrupt, named(l) + "the header counts " + std::to_string(counted) +
                                         " entries, the size holds " + std::to_string(rest / each));
  return rest / each;
}

void check_param_change(const SideDataLayout& l, std::span<const uint8_t> b) {
  constexpr uint32_t kSampleRate = 4, kDimensions = 8;
  if (b.size() < 4) throw Error(ErrorCode::kCorrupt, named(l) + "shorter than its flags");
  const auto flags = static_cast<uint32_t>(load(b.data(), 4, false));
  if (flags & ~(kSampleRate | kDimensions))
    throw Error(ErrorCode::kCorrupt, named(l) + "flags " + std::to_string(flags) +
                                         " name fields the layout does not have");
  const size_t want = 4 + ((flags & kSampleRate) ? 4 : 0) + ((flags & kDimensions) ? 8 : 0);
  if (b.size() != want)
    throw Error(ErrorCode::kCorrupt, named(l) + std::to_string(b.size()) +
                                         " bytes, its flags name " + std::to_string(want));
}

}  // namespace

std::span<const SideDataLayout> side_data_layouts() noexcept { return kLayouts; }

const SideDataLayout* find_side_data_layout(std::string_view id) noexcept {
  for (const SideDataLayout& l : kLayouts)
    if (l.id == id) return &l;
  return nullptr;
}

size_t side_data_field_values(const SideDataField& field) noexcept { return value_count(field); }

size_t side_data_unit_bytes(SideDataFieldType type) noexcept { return unit_bytes(type); }

size_t side_data_header_values(const SideDataLayout& layout) noexcept {
  return values_of(layout.fields);
}

size_t side_data_entry_values(const SideDataLayout& layout) noexcept {
  return values_of(layout.entry);
}

void check_side_data(const SideDataLayout& l, std::span<const uint8_t> bytes) {
  switch (l.kind) {
    case K::kBytes:
      if ((l.size && bytes.size() != l.size) || (l.multiple && bytes.size() % l.multiple) ||
          bytes.size() < l.min)
        throw Error(ErrorCode::kCorrupt,
                    named(l) + std::to_string(bytes.size()) + " bytes do not fit its layout");
      return;
    case K::kParamChange:
      check_param_change(l, bytes);
      return;
    case K::kT35:
      return;
    case K::kFields:
      (void)read_side_data_values(l, bytes);
      return;
  }
}

std::vector<int64_t> read_side_data_values(const SideDataLayout& l,
                                           std::span<const uint8_t> bytes) {
  if (l.kind != K::kFields)
    throw Error(ErrorCode::kInvalidArgument, named(l) + "its layout has no fields");
  // The count field lies in the header: read the header alone first.
  const size_t head = byte_count(l.fields);
  if (bytes.size() < head)
    throw Error(ErrorCode::kCorrupt, named(l) + std::to_string(bytes.size()) +
                                         " bytes, the layout has " + std::to_string(head));
  std::vector<int64_t> values;
  size_t pos = 0;
  read_fields(l, l.fields, bytes.data(), pos, values);
  const size_t n = entries_of(l, bytes, l.count_field >= 0 ? values[size_t(l.count_field)] : -1);
  values.reserve(values.size() + n * values_of(l.entry));
  for (size_t e = 0; e < n; ++e) read_fields(l, l.entry, bytes.data(), pos, values);
  return values;
}

std::vector<uint8_t> write_side_data_values(const SideDataLayout& l,
                                            std::span<const int64_t> values) {
  if (l.kind != K::kFields)
    throw Error(ErrorCode::kInvalidArgument, named(l) + "its layout has no fields");
  const size_t head = values_of(l.fields), each = values_of(l.entry);
  size_t n = 0;
  if (values.size() < head || (each == 0 && values.size() != head) ||
      (each && (values.size() - head) % each))
    throw Error(ErrorCode::kInvalidArgument,
                named(l) + std::to_string(values.size()) + " values do not fill its fields");
  if (each) n = (values.size() - head) / each;
  if (l.count_field >= 0 && values[size_t(l.count_field)] != int64_t(n))
    throw Error(ErrorCode::kInvalidArgument, named(l) + "the header counts " +
                                                 std::to_string(values[size_t(l.count_field)]) +
                                                 " entries, " + std::to_string(n) + " are given");
  std::vector<uint8_t> out;
  out.reserve(byte_count(l.fields) + n * byte_count(l.entry));
  const int64_t* v = values.data();
  write_fields(l, l.fields, v, out);
  for (size_t e = 0; e < n; ++e) write_fields(l, l.entry, v, out);
  return out;
}

namespace {

nlohmann::ordered_json fields_json(std::span<const F> fields, const int64_t*& v) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  for (const F& f : fields) {
    if (f.type == T::kReserved || f.type == T::kReservedBits) continue;
    auto one = [&]() -> nlohmann::ordered_json {
      if (f.type == T::kRational) {
        const int64_t num = *v++;
        return {num, *v++};
      }
      if (!f.symbols.empty()) return std::string(f.symbols[size_t(*v++)]);
      if (f.type == T::kU64) return static_cast<uint64_t>(*v++);
      return *v++;
    };
    if (f.count > 1 && f.type != T::kBits) {
      nlohmann::ordered_json list = nlohmann::ordered_json::array();
      for (size_t k = 0; k < f.count; ++k) list.push_back(one());
      j[std::string(f.name)] = std::move(list);
    } else {
      j[std::string(f.name)] = one();
    }
  }
  return j;
}

}  // namespace

std::string side_data_values_json(const SideDataLayout& l, std::span<const uint8_t> bytes) {
  const std::vector<int64_t> values = read_side_data_values(l, bytes);
  const int64_t* v = values.data();
  nlohmann::ordered_json j = fields_json(l.fields, v);
  if (!l.entry.empty()) {
    nlohmann::ordered_json entries = nlohmann::ordered_json::array();
    while (v < values.data() + values.size()) entries.push_back(fields_json(l.entry, v));
    j["entries"] = std::move(entries);
  }
  return j.dump();
}

}  // namespace h4mk
