// serve: a directory of .h4mk files over HTTP (http_server.hpp), read-only
// unless uploads are allowed. Every response about a file opens it anew, so
// memory per request is bounded by one block group (the reader's limits).
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string_view>

#include "commands.hpp"
#include "http_range.hpp"
#include "http_server.hpp"

namespace h4mk::cli {
namespace {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::ordered_json;
using HttpError = http::Error;

struct Counters {
  std::atomic<uint64_t> requests{0}, file_requests{0}, range_requests{0}, bytes_sent{0};
};

std::string http_date(time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

// One Server-Sent Event; text that is not UTF-8 is replaced, never thrown on.
std::string sse(const char* event, const ordered_json& data) {
  return std::string("event: ") + event +
         "\ndata: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n\n";
}

// Copies from `text` at `pos` into buf; returns the bytes copied.
size_t drain(const std::string& text, size_t& pos, char* buf, size_t max) {
  const size_t n = std::min(max, text.size() - pos);
  std::memcpy(buf, text.data() + pos, n);
  pos += n;
  return n;
}

// Base64 of data[pos..] into buf, whole 3-byte groups (the last may be short).
size_t base64_piece(std::span<const uint8_t> data, size_t& pos, char* buf, size_t max) {
  if (max < 5) return 0;
  size_t n = std::min(data.size() - pos, (max - 1) / 4 * 3);  // EVP adds a NUL
  if (n == 0) return 0;
  int w = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(buf), data.data() + pos,
                          static_cast<int>(n));
  pos += n;
  return static_cast<size_t>(w);
}

// A block's payload as the body of a /block response; the payload lives in
// the reader's buffer, so the reader lives as long as the response.
class BlockBody final : public http::Producer {
 public:
  BlockBody(std::unique_ptr<FileSource> src, std::unique_ptr<Reader> reader, Block b)
      : src_(std::move(src)), reader_(std::move(reader)), b_(b) {}
  http::Step produce(char* buf, size_t max) override {
    const size_t n = std::min(max, b_.data.size() - pos_);
    if (n == 0) return {http::Step::kEnd};
    std::memcpy(buf, b_.data.data() + pos_, n);
    pos_ += n;
    return {http::Step::kData, n};
  }

 private:
  std::unique_ptr<FileSource> src_;
  std::unique_ptr<Reader> reader_;
  Block b_;
  size_t pos_ = 0;
};

// The SSE body of /stream: a meta event, one block event per block (payload
// in base64, encoded as the client takes it), damage and error events, end.
class BlockEvents final : public http::Producer {
 public:
  struct Range {
    std::optional<uint16_t> track;
    int64_t from = INT64_MIN, to = INT64_MAX;
    bool pace = false;
  };
  BlockEvents(std::unique_ptr<FileSource> src, std::unique_ptr<Reader> reader, Range range,
              std::string meta, Counters& counters)
      : src_(std::move(src)),
        reader_(std::move(reader)),
        range_(range),
        text_(std::move(meta)),
        counters_(counters) {}

  http::Step produce(char* buf, size_t max) override {
    for (;;) {
      if (text_pos_ < text_.size()) return sent(drain(text_, text_pos_, buf, max));
      if (payload_) {
        if (payload_pos_ < block_.data.size())
          return sent(base64_piece(block_.data, payload_pos_, buf, max));
        payload_ = false;
        set_text("\"}\n\n");
        continue;
      }
      if (ended_) return {http::Step::kEnd};
      if (!have_block_ && !next()) continue;  // queued an event, or the end
      if (auto wait = pace_wait()) return {http::Step::kWait, 0, *wait};
      have_block_ = false;
      const Track& t = *reader_->track(block_.info.track_id);
      ordered_json j = block_json(block_, t);
      std::string head = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      head.pop_back();  // the closing brace: the payload follows
      set_text("event: block\ndata: " + head + ",\"payload\":\"");
      payload_ = true;
      payload_pos_ = 0;
      blocks_++;
    }
  }

 private:
  http::Step sent(size_t n) {
    counters_.bytes_sent += n;
    return {http::Step::kData, n};
  }
  void set_text(std::string s) {
    text_ = std::move(s);
    text_pos_ = 0;
  }
  void end() {
    set_text(sse("end", ordered_json{{"blocks", blocks_}}));
    ended_ = true;
  }

  // Reads until a block to send (true) or an event to send (false).
  bool next() {
    for (;;) {
      ReadEvent ev;
      try {
        ev = reader_->next(block_);
      } catch (const Error& e) {  // e.g. a masked block that does not authenticate
        set_text(sse("error", ordered_json{{"error", e.what()}}));
        return false;
      }
      if (ev == ReadEvent::kEnd) {
        end();
        return false;
      }
      if (ev == ReadEvent::kDamage) {
        const Damage& d = reader_->last_damage();
        set_text(sse("damage", ordered_json{{"offset", d.offset}, {"message", d.message}}));
        return false;
      }
      if (range_.track && block_.info.track_id != *range_.track) continue;
      if (block_.info.pts < range_.from) continue;
      if (block_.info.pts >= range_.to) {
        if (block_.info.type == BlockType::kI) {  // nothing later presents before `to`
          end();
          return false;
        }
        continue;
      }
      have_block_ = true;
      return true;
    }
  }

  // pace=1: a block goes out at its time after the first one.
  std::optional<http::Clock::time_point> pace_wait() {
    if (!range_.pace) return std::nullopt;
    const double at = seconds(block_.info.pts, reader_->track(block_.info.track_id)->time_base);
    const auto now = http::Clock::now();
    if (!start_) {
      start_ = now;
      first_ = at;
    }
    const auto due = *start_ + std::chrono::duration_cast<http::Clock::duration>(
                                   std::chrono::duration<double>(std::max(0.0, at - first_)));
    if (now >= due) return std::nullopt;
    return due;
  }

  std::unique_ptr<FileSource> src_;
  std::unique_ptr<Reader> reader_;
  Range range_;
  std::string text_;
  size_t text_pos_ = 0;
  Block block_;
  bool have_block_ = false, payload_ = false, ended_ = false;
  size_t payload_pos_ = 0;
  uint64_t blocks_ = 0;
  std::optional<http::Clock::time_point> start_;
  double first_ = 0;
  Counters& counters_;
};

class Service {
 public:
  Service(const ServeOptions& so) : so_(so) {
    std::error_code ec;
    root_ = fs::canonical(so.root, ec);
    if (ec || !fs::is_directory(root_)) throw Failure{kExitInput, so.root + ": not a directory"};
  }

  std::vector<http::Route> routes() {
    std::vector<http::Route> r;
    auto get = [&](const char* pattern, std::function<Response(Request&)> f) {
      r.push_back({"GET", std::regex(pattern), {}, counted(std::move(f))});
    };
    get("/health", [](Request& req) {
      only_params(req, {});
      return Response::json({{"status", "ok"}});
    });
    get("/v1/stats", [this](Request& req) {
      only_params(req, {});
      return Response::json({{"requests", counters_.requests.load()},
                             {"file_requests", counters_.file_requests.load()},
                             {"range_requests", counters_.range_requests.load()},
                             {"bytes_sent", counters_.bytes_sent.load()}});
    });
    get("/v1/files", [this](Request& req) { return list(req); });
    get("/v1/files/([^/]+)", [this](Request& req) { return file(req); });
    get("/v1/files/([^/]+)/manifest", [this](Request& req) {
      only_params(req, {});
      auto src = open(req.matches[0]);
      Reader rd(*src);
      return Response::json(manifest_json(rd, req.matches[0]));
    });
    get("/v1/files/([^/]+)/(seek|chain)", [this](Request& req) { return seek_or_chain(req); });
    get("/v1/files/([^/]+)/block", [this](Request& req) { return block(req); });
    get("/v1/files/([^/]+)/stream", [this](Request& req) { return stream(req); });
    http::BodyRule upload_rule{true, so_.max_upload, [this](const Request& req) {
                                 if (!so_.allow_upload)
                                   throw HttpError{403,
                                                   "uploads are disabled: start the server with "
                                                   "--allow-upload"};
                                 export_params(req, false);
                               }};
    for (const char* path : {"/v1/export", "/v1/video/export", "/video/export"})
      r.push_back({"POST", std::regex(path), upload_rule,
                   counted([this](Request& req) { return export_upload(req); })});
    return r;
  }

 private:
  std::function<Response(Request&)> counted(std::function<Response(Request&)> f) {
    return [this, f = std::move(f)](Request& req) {
      counters_.requests++;
      try {
        return f(req);
      } catch (const Failure& e) {
        return Response::error(400, e.message);
      } catch (const Error& e) {
        // A file that cannot be read is the file's problem, not the request's.
        return Response::error(e.code() == ErrorCode::kNotFound ? 404 : 422, e.what());
      }
    };
  }

  // A name inside the root: one path component, no hidden files, .h4mk, and
  // (after symlinks) still a regular file directly in the root.
  fs::path resolve(const std::string& name) const {
    static const std::regex ok(R"([A-Za-z0-9][A-Za-z0-9._-]{0,250}\.h4mk)");
    if (!std::regex_match(name, ok))
      throw HttpError{400, "bad file name '" + name + "': one .h4mk file in the served directory"};
    std::error_code ec;
    fs::path p = fs::canonical(root_ / name, ec);
    if (ec || p.parent_path() != root_ || !fs::is_regular_file(p))
      throw HttpError{404, "no file " + name};
    return p;
  }

  std::unique_ptr<FileSource> open(const std::string& name) const {
    return std::make_unique<FileSource>(resolve(name).string());
  }

  std::unique_ptr<Reader> reader(FileSource& src) const {
    auto r = std::make_unique<Reader>(src);
    if (so_.key) {
      try {
        r->set_mask_key(*so_.key);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound) throw;  // no masked track: nothing to unmask
      }
    }
    return r;
  }

  // No parameter is ignored: one the endpoint does not take, or one given
  // twice, is a 400 naming it (an ignored mask=true once gave a plaintext export).
  static void only_params(const Request& req, std::initializer_list<std::string_view> known) {
    for (size_t i = 0; i < req.params.size(); i++) {
      const std::string& key = req.params[i].first;
      if (std::find(known.begin(), known.end(), key) == known.end())
        throw HttpError{400, "unknown parameter '" + key + "'" +
                                 (key == "mask" || key.find("key") != std::string::npos
                                      ? ": this endpoint does not mask; nothing was done"
                                      : "")};
      for (size_t j = 0; j < i; j++)
        if (req.params[j].first == key)
          throw HttpError{400, "parameter '" + key + "' is given twice"};
    }
  }

  static std::string param(const Request& req, const char* key, bool required) {
    const std::string* v = req.param(key);
    if (!v) {
      if (required) throw HttpError{400, std::string("missing parameter ") + key};
      return {};
    }
    return *v;
  }

  static uint64_t number(const Request& req, const char* key, uint64_t max) {
    const std::string v = param(req, key, true);
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || v[0] == '-' || v[0] == '+' || v[0] == ' ' || n > max)
      throw HttpError{400, std::string("parameter ") + key + "=" + v +
                               " is not an integer in [0, " + std::to_string(max) + "]"};
    return n;
  }

  static bool flag(const Request& req, const char* key) {
    const std::string* v = req.param(key);
    if (!v) return false;
    if (*v == "1" || *v == "true") return true;
    if (*v == "0" || *v == "false") return false;
    throw HttpError{400, std::string("parameter ") + key + "=" + *v + " is not true/false/1/0"};
  }

  static int64_t time_param(const Request& req, const char* key, const Track& t) {
    try {
      return parse_time(param(req, key, true), t.time_base);
    } catch (const Failure& f) {
      throw HttpError{400, std::string("parameter ") + key + ": " + f.message};
    }
  }

  static const Track& track_param(const Reader& r, const Request& req) {
    auto id = static_cast<uint16_t>(number(req, "track", 65535));
    const Track* t = r.track(id);
    if (!t) throw HttpError{404, "no track " + std::to_string(id)};
    return *t;
  }

  Response list(const Request& req) const {
    only_params(req, {});
    ordered_json files = ordered_json::array();
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_, ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || e.path().extension() != ".h4mk" || name[0] == '.') continue;
      if (fs::canonical(e.path(), ec).parent_path() != root_ || ec) continue;  // links out
      files.push_back({{"name", name}, {"size", e.file_size()}});
    }
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
    return Response::json({{"files", files}});
  }

  // The file itself: Range (one range, clamped to the file; 416 when it
  // cannot be met), ETag and Last-Modified, sent from the file by the kernel.
  Response file(const Request& req) {
    only_params(req, {});
    const fs::path p = resolve(req.matches[0]);
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw HttpError{404, "cannot open " + req.matches[0]};
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      ::close(fd);
      throw HttpError{404, "no file " + req.matches[0]};
    }
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)size,
                  (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
    counters_.file_requests++;
    Response res;
    res.content_type = "application/octet-stream";
    res.headers = {{"Accept-Ranges", "bytes"},
                   {"ETag", etag},
                   {"Last-Modified", http_date(st.st_mtim.tv_sec)}};
    if (req.header("If-None-Match") == std::optional<std::string>(etag)) {
      ::close(fd);
      res.status = 304;
      return res;
    }
    RangeRequest range;
    if (auto h = req.header("Range")) {
      counters_.range_requests++;
      const auto if_range = req.header("If-Range");
      if (!if_range || *if_range == etag) range = parse_range(*h, size);
    }
    if (range.kind == RangeRequest::kUnsatisfiable) {
      ::close(fd);
      Response e = Response::error(416, "bad or unsatisfiable Range \"" + *req.header("Range") +
                                            "\" for " + std::to_string(size) + " bytes");
      e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
      return e;
    }
    res.fd = fd;
    res.length = size;
    if (range.kind == RangeRequest::kPart) {
      res.offset = range.first;
      res.length = range.last - range.first + 1;
      res.status = 206;
      res.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                    std::to_string(range.last) + "/" +
                                                    std::to_string(size));
    }
    if (req.method != "HEAD") counters_.bytes_sent += res.length;
    return res;
  }

  Response seek_or_chain(const Request& req) const {
    only_params(req, {"track", "t"});
    auto src = open(req.matches[0]);
    auto r = reader(*src);
    const Track& t = track_param(*r, req);
    const int64_t ticks = time_param(req, "t", t);
    if (req.matches[1] == "seek") return Response::json(seek_json(*r, t, ticks));
    return Response::json({{"track", t.id}, {"t", ticks}, {"chain", chain_json(*r, t, ticks)}});
  }

  // One block's payload; masked blocks stay masked unless the server has the key.
  Response block(const Request& req) {
    only_params(req, {"track", "index", "offset"});
    auto src = open(req.matches[0]);
    auto r = reader(*src);
    std::optional<uint16_t> track;
    if (req.param("track")) track = track_param(*r, req).id;
    std::optional<uint64_t> index, offset;
    if (req.param("offset")) {
      if (req.param("index")) throw HttpError{400, "give index or offset, not both"};
      offset = number(req, "offset", UINT64_MAX);
    } else {
      index = number(req, "index", UINT64_MAX);
    }
    Block b;
    if (!find_block(*r, track, index, offset, b))
      throw HttpError{404, "no block " + (index ? "number " + std::to_string(*index)
                                                : "at offset " + std::to_string(*offset))};
    Response res;
    res.content_type = "application/octet-stream";
    res.headers = {{"X-H4MK-Track", std::to_string(b.info.track_id)},
                   {"X-H4MK-Type", block_type_name(b.info.type)},
                   {"X-H4MK-Pts", std::to_string(b.info.pts)},
                   {"X-H4MK-Dts", std::to_string(b.info.dts)},
                   {"X-H4MK-Masked", b.info.masked ? "1" : "0"}};
    res.producer_length = b.data.size();
    if (req.method != "HEAD") counters_.bytes_sent += b.data.size();
    res.producer = std::make_unique<BlockBody>(std::move(src), std::move(r), b);
    return res;
  }

  // Server-Sent Events, one per block, read as the client takes them;
  // pace=1 sends each block at its time.
  Response stream(const Request& req) {
    only_params(req, {"track", "from", "to", "pace"});
    auto src = open(req.matches[0]);
    auto rd = reader(*src);
    BlockEvents::Range range;
    if (req.param("track")) {
      const Track& t = track_param(*rd, req);
      range.track = t.id;
      if (req.param("from")) range.from = time_param(req, "from", t);
      if (req.param("to")) range.to = time_param(req, "to", t);
      if (range.from != INT64_MIN) {
        try {
          rd->seek(t.id, range.from);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNotFound) throw;
        }
      }
    } else if (req.param("from") || req.param("to")) {
      throw HttpError{400, "from/to need a track"};
    }
    range.pace = flag(req, "pace");
    ordered_json tracks = ordered_json::array();
    for (const Track& t : rd->tracks())
      tracks.push_back(
          {{"id", t.id},
           {"kind", track_kind_name(t.kind)},
           {"codec", t.codec},
           {"time_base", std::to_string(t.time_base.num) + "/" + std::to_string(t.time_base.den)},
           {"masked", t.mask.has_value()}});
    ordered_json meta{{"file", req.matches[0]}, {"tracks", tracks}, {"pace", range.pace}};
    if (range.track) meta["track"] = *range.track;
    Response res;
    res.content_type = "text/event-stream";
    res.headers = {{"Cache-Control", "no-cache"}};
    res.heartbeat = ":\n\n";
    res.producer = std::make_unique<BlockEvents>(std::move(src), std::move(rd), range,
                                                 sse("meta", meta), counters_);
    return res;
  }

  // The export parameters, from the query (before the body) or the form.
  // complete: the form has arrived, so a missing block_size is an error.
  void export_params(const Request& req, bool complete) const {
    only_params(req, {"block_size", "gop", "fps", "fps_hint", "mask", "master_key_hex"});
    if (req.param("fps") && req.param("fps_hint"))
      throw HttpError{400, "give fps or fps_hint (the same), not both"};
    if (req.param("master_key_hex") && !req.tls && !req.loopback)
      throw HttpError{403, "a key may travel only over HTTPS (--tls-cert) or from loopback"};
    if (complete && !req.param("block_size")) throw HttpError{400, "missing parameter block_size"};
  }

  // The seeds' video export: the upload (raw body, or a form's file part) cut
  // into blocks, returned as .h4mk; mask=true masks the track.
  Response export_upload(Request& req) {
    export_params(req, true);
    const auto block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
    const auto gop = static_cast<uint32_t>(req.param("gop") ? number(req, "gop", 1u << 20) : 30);
    if (block_size == 0 || gop == 0) throw HttpError{400, "block_size and gop must be positive"};
    const std::string* fps = req.param("fps") ? req.param("fps") : req.param("fps_hint");
    Rational tb;
    try {
      tb = time_base_for_fps(fps ? *fps : "30");
    } catch (const Failure& f) {
      throw HttpError{400, f.message};
    }
    // The key: the request's, else the server's (--key-file); mask=true with
    // neither is refused, and a key without mask=true is not ignored either.
    const bool mask = flag(req, "mask");
    std::optional<MaskKey> key;
    if (const std::string* hex = req.param("master_key_hex")) {
      if (!mask) throw HttpError{400, "master_key_hex is given without mask=true"};
      try {
        key = parse_mask_key_hex(*hex);
      } catch (const Error& e) {
        throw HttpError{400, std::string("master_key_hex: ") + e.what()};
      }
    } else if (mask) {
      if (!so_.key)
        throw HttpError{400,
                        "mask=true needs master_key_hex or a server started with a key "
                        "(--key-file); nothing was exported"};
      key = so_.key;
    }
    if (req.body.fd < 0 || req.body.size == 0)
      throw HttpError{400, req.body.file_field.empty() && !req.body.fields.empty()
                               ? "the form has no file part"
                               : "the upload is empty"};
    std::FILE* in_stream = ::fdopen(::dup(req.body.fd), "rb");
    if (!in_stream) throw HttpError{507, "cannot read the stored upload"};
    FileSource in(in_stream);
    const int out_fd = dup_temporary();
    std::FILE* out_stream = ::fdopen(::dup(out_fd), "wb");
    if (!out_stream) {
      ::close(out_fd);
      throw HttpError{507, "cannot store the export"};
    }
    PackResult packed;
    try {
      FileSink out(out_stream);
      packed = pack_stream(in, out, block_size, tb, gop, "", {}, key ? &*key : nullptr);
      out.flush();
    } catch (...) {
      std::fclose(out_stream);
      ::close(out_fd);
      if (key) OPENSSL_cleanse(key->data(), key->size());
      throw;
    }
    std::fclose(out_stream);
    Response res;
    res.content_type = "application/octet-stream";
    res.fd = out_fd;
    res.length = packed.bytes;
    res.headers = {{"Content-Disposition", "attachment; filename=\"export.h4mk\""},
                   {"X-H4MK-Blocks", std::to_string(packed.blocks)},
                   {"X-H4MK-Masked-Tracks", key ? "1" : ""}};
    if (key) {
      res.headers.emplace_back("X-H4MK-KID", default_key_id(*key));
      res.headers.emplace_back("X-H4MK-Key-Source",
                               req.param("master_key_hex") ? "request" : "server");
      OPENSSL_cleanse(key->data(), key->size());
    }
    counters_.bytes_sent += packed.bytes;
    return res;
  }

  static int dup_temporary() {
    const std::string dir = fs::temp_directory_path().string();
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) throw HttpError{507, "cannot store the export: no temporary file"};
    return fd;
  }

  ServeOptions so_;
  fs::path root_;
  Counters counters_;
};

std::string read_pem(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure{kExitInput, std::string("cannot read the TLS ") + what + " " + path};
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

int serve(const Options& o, const ServeOptions& so) {
  if (so.tls_cert.empty() != so.tls_key.empty())
    throw Failure{kExitUsage, "--tls-cert and --tls-key go together"};
  Service service(so);
  http::ServerOptions ho;
  ho.host = so.host;
  ho.port = so.port;
  ho.threads = std::clamp(so.threads, 1u, 64u);
  ho.idle_timeout_s = so.idle_timeout;
  ho.max_connections_per_ip = so.max_connections_per_ip;
  // Each connection is a descriptor, and so is every file a request opens.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  ::getrlimit(RLIMIT_NOFILE, &nofile);
  const uint64_t fd_room = nofile.rlim_cur > 128 ? (nofile.rlim_cur - 64) / 2 : 16;
  ho.max_connections = static_cast<unsigned>(std::min<uint64_t>(so.max_connections, fd_room));
  if (!so.tls_cert.empty()) {
    ho.tls_cert_pem = read_pem(so.tls_cert, "certificate");
    ho.tls_key_pem = read_pem(so.tls_key, "key");
  }
  http::RequestLog log;
  if (!o.quiet)
    log = [](const std::string& method, const std::string& path, int status) {
      std::fprintf(stderr, "h4mk serve: %s %s -> %d\n", method.c_str(), path.c_str(), status);
    };

  // SIGTERM/SIGINT: this thread waits for them; every other thread (the
  // server's are made after this) has them blocked. A closed pipe is an error
  // on that connection, not the end of the process.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  http::Server server(service.routes(), ho, log);
  int port = 0;
  try {
    port = server.start();
  } catch (const std::runtime_error& e) {
    if (!ho.tls_key_pem.empty()) OPENSSL_cleanse(ho.tls_key_pem.data(), ho.tls_key_pem.size());
    throw Failure{kExitOutput, e.what()};
  }
  std::printf("h4mk serve: %s://%s:%d/ (root %s%s)\n", so.tls_cert.empty() ? "http" : "https",
              so.host.c_str(), port, so.root.c_str(), so.allow_upload ? ", uploads allowed" : "");
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  server.stop();
  if (!o.quiet) std::fprintf(stderr, "h4mk serve: stopped\n");
  return kExitOk;
}

}  // namespace h4mk::cli
