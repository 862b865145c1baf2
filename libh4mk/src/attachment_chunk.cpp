#include "attachment_chunk.hpp"

#include <nlohmann/json.hpp>

#include "byte_order.hpp"
#include "h4mk/error.hpp"
#include "json_text.hpp"

namespace h4mk::detail {

using nlohmann::json;

namespace {

constexpr size_t kHeaderSizeField = 4;

bool is_utf8(std::string_view s) {
  try {
    require_utf8(s, "");
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::string attachment_problem(const Attachment& a) {
  // A reader may save it under this name (ffmpeg -dump_attachment does):
  // it must not name a directory or leave the one it is saved in.
  if (a.filename.empty()) return "\"filename\" is empty";
  if (a.filename == "." || a.filename == ".." ||
      a.filename.find_first_of(std::string_view("/\\\0", 3)) != std::string::npos)
    return "\"filename\" is not a bare file name";
  for (const std::string* s : {&a.filename, &a.mimetype, &a.description})
    if (!is_utf8(*s)) return "a text field is not valid UTF-8";
  return {};
}

std::vector<uint8_t> encode_attachment(const Attachment& a) {
  json o = {{"filename", a.filename}, {"mimetype", a.mimetype}};
  if (!a.description.empty()) o["description"] = a.description;
  if (a.track) o["track"] = a.track;
  const std::string header = o.dump();
  std::vector<uint8_t> out(kHeaderSizeField + header.size() + a.data.size());
  store_u32(out.data(), uint32_t(header.size()));
  std::copy(header.begin(), header.end(), out.begin() + kHeaderSizeField);
  std::copy(a.data.begin(), a.data.end(), out.begin() + kHeaderSizeField + header.size());
  return out;
}

Attachment decode_attachment(std::span<const uint8_t> payload, uint64_t chunk_offset,
                             const ReaderLimits& limits,
                             const std::function<bool(uint16_t)>& declared) {
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCode::kCorrupt,
                 "ATCH chunk at offset " + std::to_string(chunk_offset) + ": " + why, chunk_offset);
  };
  if (payload.size() < kHeaderSizeField) throw corrupt("shorter than its header size field");
  const uint32_t header_size = load_u32(payload.data());
  if (header_size > payload.size() - kHeaderSizeField || header_size > limits.max_json_chunk)
    throw corrupt("header of " + std::to_string(header_size) + " bytes does not fit the chunk");
  const std::string_view text(reinterpret_cast<const char*>(payload.data()) + kHeaderSizeField,
                              header_size);
  auto root = parse_json(text, limits.max_json_depth);
  if (!root || !root->is_object()) throw corrupt("header is not a JSON object");
  Attachment a;
  for (const char* key : {"filename", "mimetype"}) {
    auto it = root->find(key);
    if (it == root->end() || !it->is_string())
      throw corrupt(std::string("\"") + key + "\" is missing or not a string");
  }
  a.filename = (*root)["filename"].get<std::string>();
  a.mimetype = (*root)["mimetype"].get<std::string>();
  if (auto it = root->find("description"); it != root->end()) {
    if (!it->is_string()) throw corrupt("\"description\" is not a string");
    a.description = it->get<std::string>();
  }
  if (auto it = root->find("track"); it != root->end()) {
    if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 || it->get<uint64_t>() > 65535)
      throw corrupt("\"track\" is not a track id (1..65535)");
    a.track = uint16_t(it->get<uint64_t>());
    if (!declared(a.track))
      throw corrupt("\"track\" " + std::to_string(a.track) + " is not a declared track");
  }
  if (std::string why = attachment_problem(a); !why.empty()) throw corrupt(why);
  a.data.assign(payload.begin() + kHeaderSizeField + header_size, payload.end());
  return a;
}

}  // namespace h4mk::detail
