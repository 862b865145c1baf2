// The C API: a thin layer over the C++ classes that turns exceptions into
// status codes and keeps the strings it hands out alive.
#include <openssl/crypto.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attachment_chunk.hpp"
#include "byte_order.hpp"
#include "c_api_internal.hpp"
#include "chunk.hpp"
#include "crc32.hpp"
#include "h4mk/h4mk.h"
#include "h4mk/h4mk.hpp"
#include "json_text.hpp"
#include "side_data_struct.hpp"
#include "track_json.hpp"
#include "track_params_json.hpp"

using namespace h4mk;

namespace h4mk::detail {
std::string& c_open_error() {
  thread_local std::string error;  // per thread: opens may run on any thread
  return error;
}
}  // namespace h4mk::detail

namespace {

int code_of(ErrorCode c) { return static_cast<int>(c); }
using detail::guarded;

CallbackIo to_callbacks(const h4mk_io* io) {
  return CallbackIo{io->opaque, io->read, io->write, io->seek, io->size};
}

std::string str_or_empty(const char* s) { return s ? s : ""; }

// Strings stay as they are; any other JSON value becomes JSON text.
std::string value_text(const nlohmann::json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Follows a dotted path ("ffmpeg.format") through nested objects.
const nlohmann::json* find_path(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* node = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!node->is_object() || !node->contains(key)) return nullptr;
    node = &(*node)[key];
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
}

void set_path(nlohmann::json& root, const std::string& path, nlohmann::json value) {
  nlohmann::json* node = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (key.empty())
      throw Error(ErrorCode::kInvalidArgument, "empty component in path \"" + path + "\"");
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    nlohmann::json& next = (*node)[key];
    if (!next.is_object()) next = nlohmann::json::object();
    node = &next;
    start = dot + 1;
  }
}

// A C caller may put any int in an enum; it is read as its integer, since
// loading an out-of-range value through the C++ enum type is undefined.
template <typename Enum>
unsigned enum_value(const Enum& e) {
  static_assert(sizeof(Enum) == sizeof(unsigned));
  unsigned v;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

void fill_block(const Block& b, h4mk_block* out) {
  out->track_id = b.info.track_id;
  out->track_index = b.track_index;
  out->type = static_cast<h4mk_block_type>(b.info.type);
  out->flags = (b.info.masked ? H4MK_BLOCK_FLAG_MASKED : 0) |
               (b.info.discardable ? H4MK_BLOCK_FLAG_DISCARDABLE : 0) |
               (b.damaged ? H4MK_BLOCK_FLAG_DAMAGED : 0);
  out->pts = b.info.pts;
  out->dts = b.info.dts;
  out->duration = b.info.duration;
  out->data = b.data.data();
  out->size = b.data.size();
  out->chunk_offset = b.chunk_offset;
  out->index_in_group = b.index_in_group;
  out->side_data = b.side_data.empty() ? nullptr : b.side_data.data();
  out->side_data_size = b.side_data.size();
}

BlockInfo info_of(const h4mk_block* b) {
  BlockInfo info;
  info.track_id = b->track_id;
  if (enum_value(b->type) > 2)
    throw Error(ErrorCode::kInvalidArgument,
                "invalid block type " + std::to_string(enum_value(b->type)));
  info.type = static_cast<BlockType>(b->type);
  info.pts = b->pts;
  info.dts = b->dts;
  info.duration = b->duration;
  info.masked = b->flags & H4MK_BLOCK_FLAG_MASKED;
  info.discardable = b->flags & H4MK_BLOCK_FLAG_DISCARDABLE;
  return info;
}

MaskKey key_of(const uint8_t* key) {
  if (!key) throw Error(ErrorCode::kInvalidArgument, "no mask key given");
  MaskKey k;
  std::memcpy(k.data(), key, k.size());
  return k;
}

MaskScheme scheme_of(h4mk_mask_scheme s) {
  if (s != H4MK_MASK_AES_256_GCM && s != H4MK_MASK_AES_256_CTR)
    throw Error(ErrorCode::kInvalidArgument, "unknown mask scheme " + std::to_string(int(s)));
  return s == H4MK_MASK_AES_256_CTR ? MaskScheme::kAes256Ctr : MaskScheme::kAes256Gcm;
}

}  // namespace

struct h4mk_masker {
  TrackMask params;
  std::unique_ptr<BlockMasker> masker;
  std::string params_json;
  std::string error;
};

struct h4mk_reader {
  std::unique_ptr<CallbackSource> source;
  std::unique_ptr<Reader> reader;
  // h4mk_reader_next_packet's merge, made on first use; reading in file
  // order drops it. Discarded tracks are kept here to apply to the next one.
  std::unique_ptr<PacketReader> packets;
  std::vector<uint16_t> discarded;
  std::string error;
  std::vector<nlohmann::json> track_objects;  // parsed on first use
  std::vector<std::string> track_json;
  // Metadata and each track's tags as (key, value text) pairs, made once, so
  // the i-th entry is found in constant time and returned strings live as
  // long as the reader without piling up per call.
  using Entries = std::vector<std::pair<std::string, std::string>>;
  Entries meta;
  std::vector<Entries> track_tags;
  std::vector<Entries> chapter_tags;  // made on first use
  bool parsed = false;
  // Track properties handed out, by (track, path): asking again returns the
  // same string, so repeated calls do not pile up memory.
  std::map<std::pair<size_t, std::string>, std::string> properties;
  std::vector<h4mk_index_entry> index;
  // Each track's registered members, made on first use.
  std::map<size_t, TrackParams> track_params;

  static Entries entries_of(const nlohmann::json& obj) {
    Entries out;
    if (!obj.is_object()) return out;
    out.reserve(obj.size());
    for (auto it = obj.begin(); it != obj.end(); ++it)
      out.emplace_back(it.key(), value_text(it.value()));
    return out;
  }

  void parse() {
    if (parsed) return;
    auto all = nlohmann::json::parse(reader->tracks_json());
    for (auto& t : all["tracks"]) {
      track_json.push_back(t.dump());
      track_tags.push_back(t.contains("tags") ? entries_of(t["tags"]) : Entries{});
      track_objects.push_back(t);
    }
    meta = reader->metadata_json().empty()
               ? Entries{}
               : entries_of(nlohmann::json::parse(reader->metadata_json()));
    parsed = true;
  }
  const char* property(size_t track, const char* path, const nlohmann::json& v) {
    auto [it, added] = properties.try_emplace({track, path});
    if (added) it->second = value_text(v);
    return it->second.c_str();
  }
  // parse(), with its exceptions (out of memory) as a status.
  int parsed_or_error() {
    return parsed ? H4MK_OK : guarded(error, [&] { parse(); });
  }

  static int entry(const Entries& list, size_t position, const char** key, const char** value) {
    if (!key || !value) return H4MK_ERR_INVALID_ARGUMENT;
    if (position >= list.size()) return H4MK_ERR_NOT_FOUND;
    *key = list[position].first.c_str();
    *value = list[position].second.c_str();
    return H4MK_OK;
  }
};

struct h4mk_writer {
  std::unique_ptr<CallbackSink> sink;
  std::unique_ptr<Writer> writer;
  std::string error;
  bool replace_invalid_utf8 = false;
  void (*warn)(void* opaque, const char* message) = nullptr;
  void* warn_opaque = nullptr;

  // Text as given, or, with replace_invalid_utf8, with what is not UTF-8
  // replaced (and said, naming `what`); the writer refuses what is left.
  std::string text(const char* s, const std::string& what) const {
    std::string t = s ? s : "";
    if (!replace_invalid_utf8) return t;
    auto [repaired, replaced] = detail::replace_invalid_utf8(t);
    if (replaced && warn) {
      const std::string message = what + " is not valid UTF-8: " + std::to_string(replaced) +
                                  " invalid sequence" + (replaced > 1 ? "s" : "") +
                                  " stored as U+FFFD";
      warn(warn_opaque, message.c_str());
    }
    return std::move(repaired);
  }

  // Changes the declared track `track_id` with `change` (the writer keeps
  // it as it was when the change throws or the result does not validate).
  void change_track(uint16_t track_id, const char* what,
                    const std::function<void(Track&)>& change) {
    const Track* declared = writer->track(track_id);
    if (!declared)
      throw Error(ErrorCode::kInvalidArgument,
                  std::string(what) + ": track " + std::to_string(track_id) + " is not declared");
    Track t = *declared;
    change(t);
    try {
      writer->replace_track(t);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kBadState) throw;
      throw Error(e.code(), std::string(what) + " must come before the first block");
    }
  }
};

extern "C" {

unsigned h4mk_version(void) {
  return (H4MK_VERSION_MAJOR << 16) | (H4MK_VERSION_MINOR << 8) | H4MK_VERSION_PATCH;
}

const char* h4mk_version_string(void) { return H4MK_VERSION_STRING; }

const char* h4mk_strerror(int status) { return error_code_name(static_cast<ErrorCode>(status)); }

int h4mk_is_adapter_name(const char* name) { return name && is_adapter_name(name); }

int h4mk_codec_is_registered(const char* codec) { return codec && is_registered_codec(codec); }

const char* h4mk_disposition_name(unsigned bit) {
  return bit < std::size(kDispositionNames) ? kDispositionNames[bit].data() : nullptr;
}

int h4mk_probe(const uint8_t* buf, size_t size) {
  using namespace h4mk::detail;
  if (!buf || size < kFileHeaderSize || load_u32(buf) != kMagicFile) return 0;
  if (crc32(0, buf, 12) != load_u32(buf + 12)) return 0;
  if (load_u16(buf + 4) != 1 && load_u16(buf + 4) != 2) return 0;
  return 100;
}

int h4mk_reader_open(h4mk_reader** out, const h4mk_io* io) {
  return h4mk_reader_open_verified(out, io, nullptr);
}

int h4mk_reader_open_verified(h4mk_reader** out, const h4mk_io* io, const char* public_key_pem) {
  if (!out || !io) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  if (public_key_pem && !*public_key_pem) return H4MK_ERR_INVALID_ARGUMENT;
  auto r = std::make_unique<h4mk_reader>();
  int rc = guarded(detail::c_open_error(), [&] {
    ReaderOptions o;
    if (public_key_pem) o.public_key_pem = public_key_pem;
    r->source = std::make_unique<CallbackSource>(to_callbacks(io));
    r->reader = std::make_unique<Reader>(*r->source, o);
  });
  if (rc == H4MK_OK) *out = r.release();
  return rc;
}

int h4mk_reader_verified(const h4mk_reader* r) { return r && r->reader->verified() ? 1 : 0; }

const char* h4mk_open_error(void) { return detail::c_open_error().c_str(); }

void h4mk_reader_free(h4mk_reader* r) { delete r; }

const char* h4mk_reader_last_error(const h4mk_reader* r) { return r ? r->error.c_str() : ""; }

size_t h4mk_reader_track_count(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->tracks().size();
}

int h4mk_reader_track_index(const h4mk_reader* r, uint16_t track_id, size_t* index) {
  if (!r || !index) return H4MK_ERR_INVALID_ARGUMENT;
  const Track* t = r->reader->track(track_id);
  if (!t) return H4MK_ERR_NOT_FOUND;
  *index = static_cast<size_t>(t - r->reader->tracks().data());
  return H4MK_OK;
}

int h4mk_reader_track_info(h4mk_reader* r, size_t index, h4mk_track_info* out) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  const auto& tracks = r->reader->tracks();
  if (index >= tracks.size() || !out) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  const Track& t = tracks[index];
  *out = h4mk_track_info{};
  out->id = t.id;
  out->kind = track_kind_name(t.kind);
  out->codec = t.codec.c_str();
  out->time_base_num = static_cast<int32_t>(t.time_base.num);
  out->time_base_den = static_cast<int32_t>(t.time_base.den);
  out->name = t.name.c_str();
  out->language = t.language.c_str();
  out->channel_layout = t.channel_layout.c_str();
  out->adapter = t.adapter.c_str();
  out->sample_rate = t.sample_rate;
  out->channels = t.channels;
  out->width = t.width;
  out->height = t.height;
  out->frame_rate_num = static_cast<int32_t>(t.frame_rate.num);
  out->frame_rate_den = static_cast<int32_t>(t.frame_rate.den);
  out->default_duration = t.default_duration;
  out->extradata = t.extradata.empty() ? nullptr : t.extradata.data();
  out->extradata_size = t.extradata.size();
  out->json = r->track_json[index].c_str();
  out->max_chain_blocks = t.max_chain_blocks;
  return H4MK_OK;
}

namespace {
// A text the reader holds, or "" without a reader.
const char* reader_text(const h4mk_reader* r, const std::string& (Reader::*text)() const) {
  return r ? ((*r->reader).*text)().c_str() : "";
}
}  // namespace

const char* h4mk_reader_tracks_json(const h4mk_reader* r) {
  return reader_text(r, &Reader::tracks_json);
}
const char* h4mk_reader_metadata_json(const h4mk_reader* r) {
  return reader_text(r, &Reader::metadata_json);
}
const char* h4mk_reader_safe_json(const h4mk_reader* r) {
  return reader_text(r, &Reader::safe_json);
}
const char* h4mk_reader_note(const h4mk_reader* r) { return reader_text(r, &Reader::note); }

const char* h4mk_reader_veri_json(h4mk_reader* r) {
  if (!r) return "";
  static const std::string kEmpty;
  const std::string* s = &kEmpty;
  guarded(r->error, [&] { s = &r->reader->veri_json(); });
  return s->c_str();
}

uint64_t h4mk_reader_data_offset(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->data_offset();
}

int h4mk_reader_has_index(h4mk_reader* r) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  bool yes = false;
  guarded(r->error, [&] { yes = r->reader->has_index(); });
  return yes ? 1 : 0;
}

int h4mk_reader_track_summary(h4mk_reader* r, uint16_t track_id, uint64_t* block_count,
                              int64_t* start_pts, int64_t* end_pts) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    auto s = r->reader->summary(track_id);
    if (!s)
      throw Error(ErrorCode::kNotFound, "no index summary for track " + std::to_string(track_id));
    if (block_count) *block_count = s->block_count;
    if (start_pts) *start_pts = s->start_pts;
    if (end_pts) *end_pts = s->end_pts;
  });
}

int h4mk_reader_index(h4mk_reader* r, uint16_t track_id, const h4mk_index_entry** entries,
                      size_t* count) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (!entries || !count) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    auto idx = r->reader->index(track_id);
    r->index.resize(idx.size());
    for (size_t i = 0; i < idx.size(); ++i) r->index[i] = {idx[i].pts, idx[i].offset};
    *entries = r->index.data();
    *count = r->index.size();
  });
}

extern "C++" {
namespace {

// One read of h4mk_reader_next_block or h4mk_reader_next_packet.
template <class Next>
int next_block_of(h4mk_reader* r, h4mk_block* out, uint64_t* damage_offset, Next next) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (!out) return H4MK_ERR_INVALID_ARGUMENT;
  int result = H4MK_OK;
  int rc = guarded(r->error, [&] {
    Block b;
    ReadEvent ev;
    try {
      ev = next(b);
    } catch (const Error& e) {
      // A masked block that does not authenticate names its offset.
      if (damage_offset && e.offset() != kNoOffset) *damage_offset = e.offset();
      throw;
    }
    switch (ev) {
      case ReadEvent::kBlock:
        fill_block(b, out);
        break;
      case ReadEvent::kEnd:
        result = H4MK_ERR_EOF;
        break;
      case ReadEvent::kDamage: {
        const Damage& d = r->reader->last_damage();
        r->error = d.message;
        if (damage_offset) *damage_offset = d.offset;
        result = code_of(d.code);
        break;
      }
    }
  });
  return rc != H4MK_OK ? rc : result;
}

PacketReader& packets_of(h4mk_reader* r) {
  if (!r->packets) {
    r->packets = std::make_unique<PacketReader>(*r->reader);
    for (uint16_t id : r->discarded) r->packets->set_discarded(id);
  }
  return *r->packets;
}

}  // namespace
}  // extern "C++"

int h4mk_reader_next_block(h4mk_reader* r, h4mk_block* out, uint64_t* damage_offset) {
  if (r) r->packets.reset();
  return next_block_of(r, out, damage_offset, [&](Block& b) { return r->reader->next(b); });
}

int h4mk_reader_next_run(h4mk_reader* r, h4mk_block* out, uint32_t* count,
                         uint64_t* damage_offset) {
  if (!count) return H4MK_ERR_INVALID_ARGUMENT;
  *count = 0;
  if (r) r->packets.reset();
  uint32_t n = 0;
  const int rc =
      next_block_of(r, out, damage_offset, [&](Block& b) { return r->reader->next_run(b, n); });
  if (rc == H4MK_OK) *count = n;
  return rc;
}

int h4mk_reader_goes_on(int err) {
  return err == H4MK_ERR_CRC || err == H4MK_ERR_CORRUPT || err == H4MK_ERR_TRUNCATED ||
         err == H4MK_ERR_LIMIT || err == H4MK_ERR_AUTH;
}

int h4mk_reader_next_packet(h4mk_reader* r, h4mk_block* out, uint64_t* damage_offset) {
  return next_block_of(r, out, damage_offset, [&](Block& b) { return packets_of(r).next(b); });
}

int h4mk_reader_discard_track(h4mk_reader* r, uint16_t track_id, int discard) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    if (!r->reader->track(track_id))
      throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(track_id));
    std::erase(r->discarded, track_id);
    if (discard) r->discarded.push_back(track_id);
    if (r->packets) r->packets->set_discarded(track_id, discard != 0);
  });
}

int h4mk_reader_metadata(h4mk_reader* r, size_t index, const char** key, const char** value) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  return r->entry(r->meta, index, key, value);
}

int h4mk_reader_track_tag(h4mk_reader* r, size_t track_index, size_t index, const char** key,
                          const char** value) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  if (track_index >= r->track_tags.size()) return H4MK_ERR_INVALID_ARGUMENT;
  return r->entry(r->track_tags[track_index], index, key, value);
}

size_t h4mk_reader_chapter_count(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->chapters().size();
}

int h4mk_reader_chapter(h4mk_reader* r, size_t index, h4mk_chapter* out) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (!out) return H4MK_ERR_INVALID_ARGUMENT;
  const auto& list = r->reader->chapters();
  if (index >= list.size()) return H4MK_ERR_NOT_FOUND;
  const Chapter& c = list[index];
  *out = h4mk_chapter{};
  out->time_base_num = int32_t(c.time_base.num);
  out->time_base_den = int32_t(c.time_base.den);
  out->start = c.start;
  out->has_end = c.end.has_value();
  out->end = c.end.value_or(0);
  out->has_id = c.id.has_value();
  out->id = c.id.value_or(0);
  out->title = c.title.c_str();
  return H4MK_OK;
}

int h4mk_reader_hand_out_damaged_groups(h4mk_reader* r, int on) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  r->reader->hand_out_damaged_groups(on != 0);
  return H4MK_OK;
}

size_t h4mk_reader_attachment_count(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->attachments().size();
}

int h4mk_reader_attachment(const h4mk_reader* r, size_t index, h4mk_attachment* out) {
  if (!r || !out) return H4MK_ERR_INVALID_ARGUMENT;
  const auto& list = r->reader->attachments();
  if (index >= list.size()) return H4MK_ERR_NOT_FOUND;
  const Attachment& a = list[index];
  *out = h4mk_attachment{a.filename.c_str(), a.mimetype.c_str(), a.description.c_str(), a.track,
                         a.data.data(),      a.data.size()};
  return H4MK_OK;
}

int h4mk_reader_chapter_tag(h4mk_reader* r, size_t chapter, size_t index, const char** key,
                            const char** value) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  const auto& list = r->reader->chapters();
  if (chapter >= list.size()) return H4MK_ERR_INVALID_ARGUMENT;
  if (r->chapter_tags.empty()) {  // flattened once: the i-th tag in constant time
    r->chapter_tags.reserve(list.size());
    for (const Chapter& c : list) r->chapter_tags.emplace_back(c.tags.begin(), c.tags.end());
  }
  return r->entry(r->chapter_tags[chapter], index, key, value);
}

namespace {
// The member of the track object at `path`: H4MK_OK with *v set, or an error.
int find_track_property(h4mk_reader* r, size_t track_index, const char* path,
                        const nlohmann::json** v) {
  if (!r || !path) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  if (track_index >= r->track_objects.size()) return H4MK_ERR_INVALID_ARGUMENT;
  *v = find_path(r->track_objects[track_index], path);
  return *v ? H4MK_OK : H4MK_ERR_NOT_FOUND;
}
}  // namespace

int h4mk_reader_track_property(h4mk_reader* r, size_t track_index, const char* path,
                               const char** value) {
  const nlohmann::json* v = nullptr;
  if (!value) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = find_track_property(r, track_index, path, &v)) return e;
  *value = r->property(track_index, path, *v);
  return H4MK_OK;
}

int h4mk_reader_track_property_int(h4mk_reader* r, size_t track_index, const char* path,
                                   int64_t* value) {
  const nlohmann::json* v = nullptr;
  if (!value) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = find_track_property(r, track_index, path, &v)) return e;
  if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > INT64_MAX))
    return H4MK_ERR_CORRUPT;
  *value = v->get<int64_t>();
  return H4MK_OK;
}

extern "C++" {
namespace {

// The C form of codec parameters: 0 or -1 for absent, as h4mk.h says.
void to_c(const CodecParams& p, h4mk_codec_params* out) {
  *out = h4mk_codec_params{};
  out->bit_rate = p.bit_rate.value_or(0);
  out->bits_per_coded_sample = p.bits_per_coded_sample.value_or(0);
  out->bits_per_raw_sample = p.bits_per_raw_sample.value_or(0);
  out->block_align = p.block_align.value_or(0);
  out->frame_size = p.frame_size.value_or(0);
  out->encoder_delay = p.encoder_delay.value_or(0);
  out->trailing_padding = p.trailing_padding.value_or(0);
  out->seek_preroll = p.seek_preroll.value_or(0);
  out->video_delay = p.video_delay.value_or(0);
  if (p.sample_aspect_ratio) {
    out->sample_aspect_ratio_num = int32_t(p.sample_aspect_ratio->num);
    out->sample_aspect_ratio_den = int32_t(p.sample_aspect_ratio->den);
  }
  out->field_order =
      p.field_order ? h4mk_field_order(int(*p.field_order) + 1) : H4MK_FIELD_ORDER_UNKNOWN;
  out->color_range = p.color_range ? int(*p.color_range) : -1;
  out->color_primaries = p.color_primaries ? *p.color_primaries : -1;
  out->color_transfer = p.color_transfer ? *p.color_transfer : -1;
  out->color_matrix = p.color_matrix ? *p.color_matrix : -1;
  out->chroma_location = p.chroma_location ? *p.chroma_location : -1;
}

CodecParams from_c(const h4mk_codec_params& c) {
  CodecParams p;
  const auto present = [](auto v) { return v != 0 ? std::optional(v) : std::nullopt; };
  p.bit_rate = present(c.bit_rate);
  p.bits_per_coded_sample = present(c.bits_per_coded_sample);
  p.bits_per_raw_sample = present(c.bits_per_raw_sample);
  p.block_align = present(c.block_align);
  p.frame_size = present(c.frame_size);
  p.encoder_delay = present(c.encoder_delay);
  p.trailing_padding = present(c.trailing_padding);
  p.seek_preroll = present(c.seek_preroll);
  p.video_delay = present(c.video_delay);
  if (c.sample_aspect_ratio_num || c.sample_aspect_ratio_den)
    p.sample_aspect_ratio = Rational{c.sample_aspect_ratio_num, c.sample_aspect_ratio_den};
  if (c.field_order < H4MK_FIELD_ORDER_UNKNOWN || c.field_order > H4MK_FIELD_BT)
    throw Error(ErrorCode::kInvalidArgument, "field_order " + std::to_string(int(c.field_order)) +
                                                 " is not an h4mk_field_order");
  if (c.field_order != H4MK_FIELD_ORDER_UNKNOWN) p.field_order = FieldOrder(c.field_order - 1);
  if (c.color_range < -1 || c.color_range > 1)
    throw Error(ErrorCode::kInvalidArgument,
                "color_range " + std::to_string(c.color_range) + " is not -1, 0 or 1");
  if (c.color_range >= 0) p.color_range = ColorRange(c.color_range);
  const struct {
    const char* name;
    int v, max;
  } codes[] = {{"color_primaries", c.color_primaries, 255},
               {"color_transfer", c.color_transfer, 255},
               {"color_matrix", c.color_matrix, 255},
               {"chroma_location", c.chroma_location, 5}};
  for (const auto& [name, v, max] : codes)
    if (v < -1 || v > max)
      throw Error(ErrorCode::kInvalidArgument, std::string(name) + " " + std::to_string(v) +
                                                   " is not -1 or a code point in its range");
  const auto code = [](int v) { return v >= 0 ? std::optional(uint8_t(v)) : std::nullopt; };
  p.color_primaries = code(c.color_primaries);
  p.color_transfer = code(c.color_transfer);
  p.color_matrix = code(c.color_matrix);
  p.chroma_location = code(c.chroma_location);
  return p;
}

// The track's registered members, read once (messages for what was left out
// go to `ignored` on every call).
const TrackParams* params_of(h4mk_reader* r, size_t track_index, h4mk_ignored_fn ignored,
                             void* opaque) {
  std::vector<std::string> left_out;
  const nlohmann::json& object = r->track_objects[track_index];
  auto it = r->track_params.find(track_index);
  if (it == r->track_params.end())  // kept: side data handed out lives as long as the reader
    it = r->track_params.emplace(track_index, detail::track_params_of(object, &left_out)).first;
  else if (ignored)
    detail::track_params_of(object, &left_out);
  if (ignored)
    for (const std::string& m : left_out) ignored(opaque, m.c_str());
  return &it->second;
}

}  // namespace
}  // extern "C++"

int h4mk_reader_track_params(h4mk_reader* r, size_t track_index, h4mk_codec_params* params,
                             unsigned* disposition, h4mk_ignored_fn ignored, void* opaque) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  if (track_index >= r->track_objects.size()) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    const TrackParams* p = params_of(r, track_index, ignored, opaque);
    if (params) to_c(p->codec, params);
    if (disposition) *disposition = p->disposition;
  });
}

int h4mk_reader_track_side_data(h4mk_reader* r, size_t track_index, const char* id,
                                const uint8_t** data, size_t* size) {
  if (!r || !id || !data || !size) return H4MK_ERR_INVALID_ARGUMENT;
  if (int e = r->parsed_or_error()) return e;
  if (track_index >= r->track_objects.size()) return H4MK_ERR_INVALID_ARGUMENT;
  int found = H4MK_ERR_NOT_FOUND;
  int rc = guarded(r->error, [&] {
    const TrackParams* p = params_of(r, track_index, nullptr, nullptr);
    if (auto it = p->side_data.find(id); it != p->side_data.end()) {
      *data = it->second.data();
      *size = it->second.size();
      found = H4MK_OK;
    }
  });
  return rc != H4MK_OK ? rc : found;
}

namespace {

// Changes a declared track's other members (extra_json) with `change`.
int change_extra(h4mk_writer* w, uint16_t track_id,
                 const std::function<void(nlohmann::json&)>& change) {
  return guarded(w->error, [&] {
    w->change_track(track_id, "track property", [&](Track& t) {
      nlohmann::json extra =
          t.extra_json.empty() ? nlohmann::json::object() : nlohmann::json::parse(t.extra_json);
      change(extra);
      t.extra_json = extra.empty() ? "" : extra.dump();
    });
  });
}

}  // namespace

int h4mk_writer_set_track_params(h4mk_writer* w, uint16_t track_id, const h4mk_codec_params* params,
                                 unsigned disposition) {
  if (!w || !params) return H4MK_ERR_INVALID_ARGUMENT;
  return change_extra(w, track_id, [&](nlohmann::json& extra) {
    detail::set_codec_params(extra, from_c(*params), disposition);
  });
}

int h4mk_writer_set_track_side_data(h4mk_writer* w, uint16_t track_id, const char* id,
                                    const uint8_t* data, size_t size) {
  if (!w || !id || (!data && size)) return H4MK_ERR_INVALID_ARGUMENT;
  return change_extra(w, track_id, [&](nlohmann::json& extra) {
    detail::set_side_data(extra, id, {data, size});
  });
}

namespace {

void describe_landing(const Reader& reader, const SeekPoint& p, const BlockInfo* info,
                      h4mk_block* landed) {
  *landed = h4mk_block{};
  if (info) {
    Block b;
    b.info = *info;
    fill_block(b, landed);
  }
  landed->track_id = p.track_id;
  if (const Track* t = reader.track(p.track_id))
    landed->track_index = static_cast<uint16_t>(t - reader.tracks().data());
  landed->pts = p.pts;
  landed->dts = p.dts;
  landed->chunk_offset = p.chunk_offset;
  landed->index_in_group = p.index_in_group;
  landed->data = nullptr;
  landed->size = 0;
  landed->side_data = nullptr;
  landed->side_data_size = 0;
}

}  // namespace

int h4mk_reader_seek(h4mk_reader* r, uint16_t track_id, int64_t t, h4mk_seek_mode mode,
                     h4mk_block* landed) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  r->packets.reset();
  if (enum_value(mode) > H4MK_SEEK_ANY_BEFORE) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    SeekPoint p = r->reader->seek(track_id, t, static_cast<SeekMode>(mode));
    if (!landed) return;
    // Type, flags and duration from the block itself (reading stays put).
    Block b;
    const bool loaded = r->reader->peek(b);
    describe_landing(*r->reader, p, loaded ? &b.info : nullptr, landed);
  });
}

int h4mk_reader_seek_all(h4mk_reader* r, uint16_t track_id, int64_t t, h4mk_seek_mode mode,
                         h4mk_block* landed) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  r->packets.reset();
  if (enum_value(mode) > H4MK_SEEK_ANY_BEFORE) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    BlockInfo info;
    SeekPoint p = r->reader->seek_all(track_id, t, static_cast<SeekMode>(mode), &info);
    if (landed) describe_landing(*r->reader, p, &info, landed);
  });
}

int h4mk_reader_seek_to_group(h4mk_reader* r, uint64_t chunk_offset, uint32_t index_in_group) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  r->packets.reset();
  return guarded(r->error, [&] { r->reader->seek_to_group(chunk_offset, index_in_group); });
}

int h4mk_reader_rewind(h4mk_reader* r) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  r->packets.reset();
  return guarded(r->error, [&] { r->reader->rewind(); });
}

int h4mk_reader_seek_packets(h4mk_reader* r, uint16_t track_id, int64_t t, h4mk_seek_mode mode,
                             h4mk_block* landed) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (enum_value(mode) > H4MK_SEEK_ANY_BEFORE) return H4MK_ERR_INVALID_ARGUMENT;
  int result = 0;
  const int rc = guarded(r->error, [&] {
    const PacketSeek s = packets_of(r).seek(track_id, t, static_cast<SeekMode>(mode));
    if (s.how != PacketSeek::How::kLanded) return;
    result = 1;
    if (landed) describe_landing(*r->reader, s.point, &s.block, landed);
  });
  return rc != H4MK_OK ? rc : result;
}

uint64_t h4mk_reader_bytes_read(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->bytes_read();
}

size_t h4mk_reader_damage_count(const h4mk_reader* r) {
  if (!r) return 0;
  return r->reader->damage().size();
}

int h4mk_reader_damage(const h4mk_reader* r, size_t index, uint64_t* offset, const char** message) {
  if (!r) return H4MK_ERR_INVALID_ARGUMENT;
  if (!offset || !message) return H4MK_ERR_INVALID_ARGUMENT;
  const auto& list = r->reader->damage();
  if (index >= list.size()) return H4MK_ERR_NOT_FOUND;
  *offset = list[index].offset;
  *message = list[index].message.c_str();
  return H4MK_OK;
}

int h4mk_writer_open(h4mk_writer** out, const h4mk_io* io, const h4mk_writer_options* opts) {
  if (!out || !io) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  auto w = std::make_unique<h4mk_writer>();
  int rc = guarded(detail::c_open_error(), [&] {
    WriterOptions o;
    if (opts) {
      if (opts->max_group_bytes) o.max_group_bytes = opts->max_group_bytes;
      if (opts->max_group_blocks) o.max_group_blocks = opts->max_group_blocks;
      if (opts->max_group_duration_us) o.max_group_duration_us = opts->max_group_duration_us;
      if (opts->interleave_duration_us)
        o.interleave_duration_us = std::max<int64_t>(opts->interleave_duration_us, 0);
      o.write_veri = !opts->no_veri;
      o.write_index = !opts->no_index;
      w->replace_invalid_utf8 = opts->replace_invalid_utf8 != 0;
      w->warn = opts->warn;
      w->warn_opaque = opts->warn_opaque;
    }
    w->sink = std::make_unique<CallbackSink>(to_callbacks(io));
    w->writer = std::make_unique<Writer>(*w->sink, o);
  });
  if (rc == H4MK_OK) *out = w.release();
  return rc;
}

void h4mk_writer_free(h4mk_writer* w) { delete w; }

const char* h4mk_writer_last_error(const h4mk_writer* w) { return w ? w->error.c_str() : ""; }

int h4mk_writer_add_track(h4mk_writer* w, const h4mk_track_desc* d) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!d || !d->kind || !d->codec) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    Track t;
    t.id = d->id;
    try {
      t.kind = track_kind_from_name(d->kind);
    } catch (const Error& e) {
      throw Error(ErrorCode::kInvalidArgument, e.what());
    }
    t.codec = d->codec;
    t.time_base = {d->time_base_num, d->time_base_den};
    const std::string at = "track " + std::to_string(d->id) + " ";
    t.name = w->text(d->name, at + "name");
    t.language = w->text(d->language, at + "language");
    t.channel_layout = str_or_empty(d->channel_layout);
    t.adapter = str_or_empty(d->adapter);
    t.sample_rate = d->sample_rate;
    t.channels = d->channels;
    t.width = d->width;
    t.height = d->height;
    t.frame_rate = {d->frame_rate_num, d->frame_rate_den};
    t.default_duration = d->default_duration;
    if (d->extradata && d->extradata_size)
      t.extradata.assign(d->extradata, d->extradata + d->extradata_size);
    t.extra_json = str_or_empty(d->extra_json);
    t.max_chain_blocks = d->max_chain_blocks;
    w->writer->add_track(t);
  });
}

int h4mk_writer_set_track_tag(h4mk_writer* w, uint16_t track_id, const char* key,
                              const char* value) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!key || !value) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    const std::string at = "track " + std::to_string(track_id) + " ";
    std::string name = w->text(key, at + "tag name");
    std::string text = w->text(value, at + "tag '" + name + "'");
    w->change_track(track_id, "track tag", [&](Track& t) { t.tags[name] = std::move(text); });
  });
}

namespace {
int set_property(h4mk_writer* w, uint16_t track_id, const char* path, nlohmann::json value) {
  if (!path) return H4MK_ERR_INVALID_ARGUMENT;
  return change_extra(w, track_id,
                      [&](nlohmann::json& extra) { set_path(extra, path, std::move(value)); });
}
}  // namespace

int h4mk_writer_set_track_property(h4mk_writer* w, uint16_t track_id, const char* path,
                                   const char* value) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!value) return H4MK_ERR_INVALID_ARGUMENT;
  return set_property(w, track_id, path, value);
}

int h4mk_writer_set_track_property_int(h4mk_writer* w, uint16_t track_id, const char* path,
                                       int64_t value) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  return set_property(w, track_id, path, value);
}

int h4mk_writer_set_track_property_json(h4mk_writer* w, uint16_t track_id, const char* path,
                                        const char* json) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!json) return H4MK_ERR_INVALID_ARGUMENT;
  nlohmann::json value = nlohmann::json::parse(json, nullptr, false);
  if (value.is_discarded())
    return guarded(w->error, [&] {
      throw Error(ErrorCode::kInvalidArgument,
                  "track property \"" + str_or_empty(path) + "\" is not JSON");
    });
  return set_property(w, track_id, path, std::move(value));
}

int h4mk_writer_add_chapter(h4mk_writer* w, const h4mk_chapter* chapter) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!chapter) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    Chapter c;
    c.time_base = {chapter->time_base_num, chapter->time_base_den};
    c.start = chapter->start;
    if (chapter->has_end) c.end = chapter->end;
    if (chapter->has_id) c.id = chapter->id;
    c.title = w->text(chapter->title, "chapter title");
    w->writer->add_chapter(c);
  });
}

int h4mk_writer_add_attachment(h4mk_writer* w, const h4mk_attachment* attachment) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!attachment || !attachment->filename || (!attachment->data && attachment->size))
    return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    Attachment a;
    a.filename = attachment->filename;
    a.mimetype = str_or_empty(attachment->mimetype);
    a.description = str_or_empty(attachment->description);
    a.track = attachment->track_id;
    if (attachment->size) a.data.assign(attachment->data, attachment->data + attachment->size);
    w->writer->add_attachment(a);
  });
}

int h4mk_writer_expect_attachment(h4mk_writer* w, uint16_t track_id) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->expect_attachment(track_id); });
}

int h4mk_writer_set_chapter_tag(h4mk_writer* w, size_t chapter, const char* key,
                                const char* value) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!key || !value) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    const std::string at = "chapter #" + std::to_string(chapter) + " ";
    std::string name = w->text(key, at + "tag name");
    w->writer->set_chapter_tag(chapter, name, w->text(value, at + "tag '" + name + "'"));
  });
}

int h4mk_writer_set_metadata(h4mk_writer* w, const char* key, const char* value) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!key || !value) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    std::string name = w->text(key, "metadata key");
    w->writer->set_metadata(name, w->text(value, "metadata '" + name + "'"));
  });
}

int h4mk_writer_set_metadata_json(h4mk_writer* w, const char* json_object) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!json_object) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->set_metadata_json(json_object); });
}

int h4mk_writer_set_safe_json(h4mk_writer* w, const char* json_object) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!json_object) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->set_safe_json(json_object); });
}

int h4mk_writer_set_note(h4mk_writer* w, const char* utf8) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!utf8) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->set_note(w->text(utf8, "NOTE")); });
}

int h4mk_writer_write_block(h4mk_writer* w, const h4mk_block* b) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!b || (!b->data && b->size)) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    w->writer->write_block(info_of(b), {b->data, b->size},
                           {b->side_data, b->side_data ? b->side_data_size : 0});
  });
}

int h4mk_writer_write_run(h4mk_writer* w, const h4mk_block* first, uint32_t count) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!first || (!first->data && first->size) || first->side_data) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    w->writer->write_run(info_of(first), count, {first->data, first->size});
  });
}

int h4mk_writer_flush(h4mk_writer* w) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->flush(); });
}

int h4mk_writer_finish(h4mk_writer* w) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] { w->writer->finish(); });
}

size_t h4mk_side_data_put(uint8_t* dst, size_t cap, size_t* size, const char* key,
                          const uint8_t* value, size_t value_size) {
  if (!key || !*key || !size || (!value && value_size)) return 0;
  std::vector<uint8_t> entry;
  try {
    append_side_data(entry, key, {value, value_size});
  } catch (...) {
    return 0;
  }
  if (dst && *size <= cap && entry.size() <= cap - *size) {
    std::copy(entry.begin(), entry.end(), dst + *size);
    *size += entry.size();
  }
  return entry.size();
}

static_assert(kPacketFlagsKey == H4MK_PACKET_FLAGS_KEY && kPacketDiscard == H4MK_PACKET_DISCARD &&
              kPacketCorrupt == H4MK_PACKET_CORRUPT);

unsigned h4mk_packet_flags_parse(const uint8_t* value, size_t size) {
  if (!value) return 0;
  return parse_packet_flags({reinterpret_cast<const char*>(value), size});
}

size_t h4mk_packet_flags_format(unsigned flags, char* out, size_t out_size) {
  const std::string value = format_packet_flags(flags);
  if (out && value.size() < out_size) std::memcpy(out, value.c_str(), value.size() + 1);
  return value.size();
}

int h4mk_side_data_next(const uint8_t* blob, size_t blob_size, size_t* pos, const char** key,
                        size_t* key_size, const uint8_t** value, size_t* value_size) {
  if (!pos || !key || !key_size || !value || !value_size || (!blob && blob_size))
    return H4MK_ERR_INVALID_ARGUMENT;
  try {
    SideDataEntry e;
    if (!next_side_data({blob, blob_size}, *pos, e)) return H4MK_ERR_EOF;
    *key = e.key.data();
    *key_size = e.key.size();
    *value = e.value.data();
    *value_size = e.value.size();
    return H4MK_OK;
  } catch (...) {
    return H4MK_ERR_CORRUPT;
  }
}

namespace {

// The layout of a registered id, or nullptr (also for a NULL id).
const SideDataLayout* registered_layout(const char* id, size_t id_size) {
  return id ? find_side_data_layout({id, id_size}) : nullptr;
}

}  // namespace

int h4mk_side_data_check(const char* id, size_t id_size, const uint8_t* value, size_t size) {
  const SideDataLayout* l = registered_layout(id, id_size);
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!value && size) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] { check_side_data(*l, {value, size}); });
}

int h4mk_side_data_read_values(const char* id, size_t id_size, const uint8_t* value, size_t size,
                               int64_t* values, size_t cap, size_t* count) {
  const SideDataLayout* l = registered_layout(id, id_size);
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!count || (!value && size) || (!values && cap)) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] {
    const std::vector<int64_t> v = read_side_data_values(*l, {value, size});
    *count = v.size();
    if (v.size() <= cap) std::copy(v.begin(), v.end(), values);
  });
}

int h4mk_side_data_write_values(const char* id, size_t id_size, const int64_t* values, size_t count,
                                uint8_t* out, size_t cap, size_t* size) {
  const SideDataLayout* l = registered_layout(id, id_size);
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!size || (!values && count) || (!out && cap)) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] {
    const std::vector<uint8_t> b = write_side_data_values(*l, {values, count});
    *size = b.size();
    if (b.size() <= cap) std::copy(b.begin(), b.end(), out);
  });
}

int h4mk_side_data_from_struct(const char* id, const h4mk_struct_map* map, const void* s,
                               size_t entries, uint8_t* out, size_t cap, size_t* size) {
  const SideDataLayout* l = id ? find_side_data_layout(id) : nullptr;
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!map || !s || !size || (!out && cap)) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] {
    const std::vector<uint8_t> b = detail::side_data_from_struct(*l, *map, s, entries);
    *size = b.size();
    if (b.size() <= cap) std::copy(b.begin(), b.end(), out);
  });
}

int h4mk_side_data_entries(const char* id, const uint8_t* value, size_t size, size_t* entries) {
  const SideDataLayout* l = id ? find_side_data_layout(id) : nullptr;
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!entries || (!value && size)) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] { *entries = detail::side_data_entries(*l, {value, size}); });
}

int h4mk_side_data_to_struct(const char* id, const h4mk_struct_map* map, const uint8_t* value,
                             size_t size, void* s) {
  const SideDataLayout* l = id ? find_side_data_layout(id) : nullptr;
  if (!l) return H4MK_ERR_NOT_FOUND;
  if (!map || !s || (!value && size)) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] { detail::side_data_to_struct(*l, *map, {value, size}, s); });
}

int h4mk_gop_flags_pack(uint32_t pts_ms, h4mk_block_type type, uint32_t* flags) {
  if (!flags || enum_value(type) > 2) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] { *flags = pack_gop_flags(pts_ms, static_cast<BlockType>(type)); });
}

int h4mk_gop_flags_unpack(uint32_t flags, uint32_t* pts_ms, h4mk_block_type* type) {
  if (!pts_ms || !type) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] {
    GopFlags g = unpack_gop_flags(flags);
    *pts_ms = g.pts_ms;
    *type = static_cast<h4mk_block_type>(g.type);
  });
}

// --- masking ---

const char* h4mk_mask_scheme_name(h4mk_mask_scheme scheme) {
  if (scheme != H4MK_MASK_AES_256_GCM && scheme != H4MK_MASK_AES_256_CTR) return nullptr;
  return mask_scheme_name(scheme_of(scheme));
}

int h4mk_mask_scheme_from_name(const char* name, h4mk_mask_scheme* out) {
  if (!name || !out) return H4MK_ERR_INVALID_ARGUMENT;
  auto s = mask_scheme_from_name(name);
  if (!s) return H4MK_ERR_INVALID_ARGUMENT;
  *out = *s == MaskScheme::kAes256Ctr ? H4MK_MASK_AES_256_CTR : H4MK_MASK_AES_256_GCM;
  return H4MK_OK;
}

int h4mk_mask_key_from_hex(const char* hex, uint8_t key[H4MK_MASK_KEY_SIZE]) {
  if (!hex || !key) return H4MK_ERR_INVALID_ARGUMENT;
  std::string ignored;
  return guarded(ignored, [&] {
    MaskKey k = parse_mask_key_hex(hex);
    std::memcpy(key, k.data(), k.size());
    OPENSSL_cleanse(k.data(), k.size());
  });
}

int h4mk_writer_set_mask_key(h4mk_writer* w, uint16_t track_id,
                             const uint8_t key[H4MK_MASK_KEY_SIZE], h4mk_mask_scheme scheme,
                             const char* kid) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    MaskKey k = key_of(key);
    try {
      w->writer->set_mask_key(track_id, k, scheme_of(scheme), str_or_empty(kid));
    } catch (...) {
      OPENSSL_cleanse(k.data(), k.size());
      throw;
    }
    OPENSSL_cleanse(k.data(), k.size());
  });
}

int h4mk_writer_set_track_mask(h4mk_writer* w, uint16_t track_id, const char* params_json) {
  if (!w) return H4MK_ERR_INVALID_ARGUMENT;
  if (!params_json) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    TrackMask mask = detail::decode_track_mask(params_json);
    w->change_track(track_id, "set_track_mask", [&](Track& t) { t.mask = std::move(mask); });
  });
}

int h4mk_writer_set_track_compression(h4mk_writer* w, uint16_t track_id, int level,
                                      const uint8_t* dict, size_t dict_size) {
  if (!w || (!dict && dict_size)) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(w->error, [&] {
    if (level < 0 || level > 19)
      throw Error(ErrorCode::kInvalidArgument, "compression level " + std::to_string(level) +
                                                   " is not 1..19 (0: the default, 3)");
    if (dict_size > kMaxDictionaryBytes)
      throw Error(ErrorCode::kInvalidArgument, "a dictionary is at most 1 MiB");
    TrackCompression c;
    c.level = level == 0 ? 3 : level;
    if (dict) c.dictionary.assign(dict, dict + dict_size);
    w->change_track(track_id, "set_track_compression",
                    [&](Track& t) { t.compression = std::move(c); });
  });
}

int h4mk_reader_set_mask_key(h4mk_reader* r, uint16_t track_id,
                             const uint8_t key[H4MK_MASK_KEY_SIZE]) {
  if (!r || !key) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(r->error, [&] {
    MaskKey k = key_of(key);
    r->reader->set_mask_key(k, track_id);
    OPENSSL_cleanse(k.data(), k.size());
  });
}

int h4mk_reader_track_unmasked(const h4mk_reader* r, uint16_t track_id) {
  return r && r->reader->unmasks(track_id) ? 1 : 0;
}

namespace {
int open_masker(h4mk_masker** out, const uint8_t* key, const std::function<TrackMask()>& params) {
  if (!out) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  auto m = std::make_unique<h4mk_masker>();
  int rc = guarded(detail::c_open_error(), [&] {
    MaskKey k = key_of(key);
    m->params = params();
    m->masker = std::make_unique<BlockMasker>(m->params, k, 0);
    OPENSSL_cleanse(k.data(), k.size());
    m->params_json = detail::encode_track_mask(m->params);
  });
  if (rc == H4MK_OK) *out = m.release();
  return rc;
}
}  // namespace

int h4mk_masker_create(h4mk_masker** out, const uint8_t key[H4MK_MASK_KEY_SIZE],
                       h4mk_mask_scheme scheme, const char* kid) {
  return open_masker(
      out, key, [&] { return make_track_mask(key_of(key), scheme_of(scheme), str_or_empty(kid)); });
}

int h4mk_masker_open(h4mk_masker** out, const char* params_json,
                     const uint8_t key[H4MK_MASK_KEY_SIZE]) {
  if (!params_json) return H4MK_ERR_INVALID_ARGUMENT;
  return open_masker(out, key, [&] { return detail::decode_track_mask(params_json); });
}

void h4mk_masker_free(h4mk_masker* m) { delete m; }
const char* h4mk_masker_last_error(const h4mk_masker* m) { return m ? m->error.c_str() : ""; }
const char* h4mk_masker_params_json(const h4mk_masker* m) {
  if (!m) return "";
  return m->params_json.c_str();
}
const char* h4mk_masker_kid(const h4mk_masker* m) {
  if (!m) return "";
  return m->params.kid.c_str();
}
h4mk_mask_scheme h4mk_masker_scheme(const h4mk_masker* m) {
  if (!m) return H4MK_MASK_AES_256_GCM;
  return m->params.scheme == MaskScheme::kAes256Ctr ? H4MK_MASK_AES_256_CTR : H4MK_MASK_AES_256_GCM;
}
size_t h4mk_masker_overhead(const h4mk_masker* m) {
  if (!m) return 0;
  return m->masker->overhead();
}

int h4mk_masker_mask(h4mk_masker* m, const h4mk_block* b, uint8_t* out, size_t out_size) {
  if (!m || !b || !out || (!b->data && b->size)) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(m->error, [&] {
    m->masker->mask(info_of(b), {b->data, b->size}, {out, out_size});
  });
}

int h4mk_masker_unmask(h4mk_masker* m, const h4mk_block* b, uint8_t* out, size_t out_size) {
  if (!m || !b || (!out && out_size) || (!b->data && b->size)) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(m->error, [&] {
    m->masker->unmask(info_of(b), {b->data, b->size}, {out, out_size});
  });
}

int h4mk_mask_binding(const h4mk_block* b, uint8_t out[H4MK_MASK_BINDING_SIZE]) {
  if (!b || !out || enum_value(b->type) > 2) return H4MK_ERR_INVALID_ARGUMENT;
  BlockInfo info;
  info.type = static_cast<BlockType>(b->type);
  info.pts = b->pts;
  info.dts = b->dts;
  const auto bytes = mask_binding(info);
  std::memcpy(out, bytes.data(), bytes.size());
  return H4MK_OK;
}

int h4mk_mask_binding_parse(const uint8_t* in, size_t size, h4mk_block* b) {
  if (!in || !b || size != kMaskBindingSize || in[0] > H4MK_BLOCK_B)
    return H4MK_ERR_INVALID_ARGUMENT;
  b->type = static_cast<h4mk_block_type>(in[0]);
  b->pts = detail::load_i64(in + 1);
  b->dts = detail::load_i64(in + 9);
  return H4MK_OK;
}

// --- signed files ---

int h4mk_sign(const h4mk_io* in, const h4mk_io* out, const char* private_key_pem) {
  if (!in || !out || !private_key_pem) return H4MK_ERR_INVALID_ARGUMENT;
  return guarded(detail::c_open_error(), [&] {
    CallbackSource src(to_callbacks(in));
    CallbackSink sink(to_callbacks(out));
    sign_file(src, sink, private_key_pem);
  });
}

int h4mk_verify_signature(const h4mk_io* in, const char* public_key_pem) {
  if (!in || !public_key_pem) return H4MK_ERR_INVALID_ARGUMENT;
  int result = H4MK_OK;
  int rc = guarded(detail::c_open_error(), [&] {
    CallbackSource src(to_callbacks(in));
    VerifyOptions o;
    o.public_key_pem = public_key_pem;
    VerifyReport r = verify(src, o);
    if (!r.ok()) {
      detail::c_open_error() = r.problems[0].message;
      result = r.problems[0].code == ErrorCode::kAuthFailed ? H4MK_ERR_AUTH : H4MK_ERR_VERIFY;
    }
  });
  return rc != H4MK_OK ? rc : result;
}

}  // extern "C"
