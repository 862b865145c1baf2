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
#include <initializer_list>
#include <regex>
#include <string_view>

#include "commands.hpp"
#include "http_range.hpp"
#include "http_server.hpp"
#include "openapi.hpp"
#include "serve_events.hpp"

namespace h4mk::cli {
namespace {

namespace fs = std::filesystem;
using http::Request;
using http::Response;
using nlohmann::ordered_json;
using HttpError = http::Error;

constexpr uint32_t kMinStreamBlock = 16;

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

class Service {
 public:
  Service(const ServeOptions& so) : so_(so) {
    std::error_code ec;
    root_ = fs::canonical(so.root, ec);
    if (ec || !fs::is_directory(root_)) throw Failure{kExitInput, so.root + ": not a directory"};
  }

  std::vector<http::Route> routes() {
    std::vector<http::Route> r;
    // quick: answered from memory or an open file on the polling thread;
    // everything else reads files or uploads on the worker pool.
    auto get = [&](const char* path, std::vector<std::string> params,
                   std::function<Response(Request&)> f, bool quick = false) {
      r.push_back({"GET", path, std::move(params), {}, counted(std::move(f)), quick});
    };
    get(
        "/health", {},
        [](Request&) {
          return Response::json({{"status", "ok"}});
        },
        true);
    get(
        "/v1/stats", {},
        [this](Request&) {
          return Response::json({{"requests", counters_.requests.load()},
                                 {"file_requests", counters_.file_requests.load()},
                                 {"range_requests", counters_.range_requests.load()},
                                 {"bytes_sent", counters_.bytes_sent.load()}});
        },
        true);
    get("/v1/files", {}, [this](Request&) { return list(); });
    get(
        "/v1/files/{name}", {}, [this](Request& req) { return file(req); }, true);
    get("/v1/files/{name}/manifest", {}, [this](Request& req) {
      auto src = open(req.matches[0]);
      Reader rd(*src);
      return Response::json(manifest_json(rd, req.matches[0]));
    });
    get("/v1/files/{name}/seek", {"track", "t"},
        [this](Request& req) { return seek_or_chain(req, true); });
    get("/v1/files/{name}/chain", {"track", "t"},
        [this](Request& req) { return seek_or_chain(req, false); });
    get("/v1/files/{name}/block", {"track", "index", "offset", "decompress"},
        [this](Request& req) { return block(req); });
    get("/v1/files/{name}/stream", {"track", "from", "to", "pace"},
        [this](Request& req) { return stream(req); });
    // The built-in documents, answered from memory.
    auto document = [&](const char* path, const char* type, std::string_view body,
                        const char* cache) {
      get(
          path, {},
          [type, body, cache](Request&) {
            Response res;
            res.content_type = type;
            if (cache) res.headers = {{"Cache-Control", cache}};
            res.text = std::string(body);
            return res;
          },
          true);
    };
    document("/openapi.json", "application/json", openapi_document(), nullptr);
    document("/docs", "text/html; charset=utf-8", docs_page(), nullptr);
    document("/docs/redoc.standalone.js", "text/javascript; charset=utf-8", docs_renderer(),
             "max-age=86400");
    // Uploads are refused from their headers (403 when uploads are off; a key
    // over plain HTTP from another host) before the body is read.
    using Handler = Response (Service::*)(Request&);
    auto post = [&](std::initializer_list<const char*> paths, Handler h,
                    std::vector<std::string> params) {
      http::BodyRule rule{true, so_.max_upload, [this](const Request& req) {
                            if (!so_.allow_upload)
                              throw HttpError{403,
                                              "uploads are disabled: start the server with "
                                              "--allow-upload"};
                            key_may_travel(req);
                          }};
      for (const char* path : paths)
        r.push_back({"POST", path, params, rule, counted([this, h](Request& req) {
                       key_may_travel(req);  // a key in the form
                       return (this->*h)(req);
                     })});
    };
    post({"/v1/export", "/v1/video/export", "/video/export"}, &Service::video_export,
         {"block_size", "gop", "fps", "fps_hint", "mask", "master_key_hex", "compress",
          "decompress"});
    post({"/v1/video/stream", "/video/stream"}, &Service::video_stream,
         {"block_size", "gop", "fps", "fps_hint"});
    post({"/v1/audio/stream", "/audio/stream"}, &Service::audio_stream,
         {"format", "sample_rate", "channels", "frame_size", "hop", "top_k", "gop"});
    post({"/v1/audio/export", "/audio/export"}, &Service::audio_export,
         {"format", "sample_rate", "channels", "frame_size", "hop", "top_k", "gop", "mask",
          "master_key_hex"});
    post({"/v1/audio/mask", "/audio/mask"}, &Service::audio_mask,
         {"block_size", "block_rate", "master_key_hex"});
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
    // "True"/"False" as Python's requests sends a bool.
    if (*v == "1" || *v == "true" || *v == "True") return true;
    if (*v == "0" || *v == "false" || *v == "False") return false;
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

  Response list() const {
    ordered_json files = ordered_json::array();
    std::error_code ec;
    // What cannot be resolved or sized (a link loop, a dangling link, a
    // file gone meanwhile) is left out of the listing, not a 500 for it all.
    for (const auto& e : fs::directory_iterator(root_, ec)) {
      const std::string name = e.path().filename().string();
      if (e.path().extension() != ".h4mk" || name[0] == '.' || !e.is_regular_file(ec) || ec)
        continue;
      if (fs::canonical(e.path(), ec).parent_path() != root_ || ec) continue;  // links out
      const uintmax_t size = e.file_size(ec);
      if (ec) continue;
      files.push_back({{"name", name}, {"size", size}});
    }
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
    return Response::json({{"files", files}});
  }

  // The file itself: Range (one range, clamped to the file; 416 when it
  // cannot be met), ETag and Last-Modified, sent from the file by the kernel.
  Response file(const Request& req) {
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

  Response seek_or_chain(const Request& req, bool seek) const {
    auto src = open(req.matches[0]);
    auto r = reader(*src);
    const Track& t = track_param(*r, req);
    const int64_t ticks = time_param(req, "t", t);
    if (seek) return Response::json(seek_json(*r, t, ticks));
    return Response::json({{"track", t.id}, {"t", ticks}, {"chain", chain_json(*r, t, ticks)}});
  }

  // One block's payload; masked blocks stay masked unless the server has the key.
  Response block(const Request& req) {
    // The seeds' API asks for decompress=true. A compressed group is one
    // zstd frame (FORMAT.md §5.7), so no block has stored bytes of its own
    // to hand out instead.
    if (req.param("decompress") && !flag(req, "decompress"))
      throw HttpError{400,
                      "decompress=false: a block is always served expanded, since a compressed "
                      "group is compressed as a whole; GET /v1/files/{name} with Range gives the "
                      "stored bytes"};
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
    res.producer = block_body(std::move(src), std::move(r), b);
    return res;
  }

  // Server-Sent Events, one per block, read as the client takes them;
  // pace=1 sends each block at its time.
  Response stream(const Request& req) {
    auto src = open(req.matches[0]);
    auto rd = reader(*src);
    BlockSelection range;
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
    res.producer =
        block_events(std::move(src), std::move(rd), range, sse("meta", meta), counters_.bytes_sent);
    return res;
  }

  // --- uploads ---

  // Key material held for one request, wiped when it ends.
  struct KeyHold {
    std::optional<MaskKey> key;
    const MaskKey* get() const { return key ? &*key : nullptr; }
    ~KeyHold() {
      if (key) OPENSSL_cleanse(key->data(), key->size());
    }
  };

  struct StdioFile {
    explicit StdioFile(std::FILE* file) : f(file) {}
    StdioFile(const StdioFile&) = delete;
    StdioFile& operator=(const StdioFile&) = delete;
    ~StdioFile() {
      if (f) std::fclose(f);
    }
    std::FILE* f;
  };

  // A key may travel only over HTTPS or from loopback.
  static void key_may_travel(const Request& req) {
    if (req.param("master_key_hex") && !req.tls && !req.loopback)
      throw HttpError{403, "a key may travel only over HTTPS (--tls-cert) or from loopback"};
  }

  // The upload (a form's file part, or the raw body), read from its start.
  static StdioFile upload(const Request& req) {
    if (req.body.fd < 0 || req.body.size == 0)
      throw HttpError{400, !req.body.fields.empty() && req.body.file_field.empty()
                               ? "the form has no file part"
                               : "the upload is empty"};
    const int fd = ::dup(req.body.fd);
    std::FILE* f = fd >= 0 && ::lseek(fd, 0, SEEK_SET) == 0 ? ::fdopen(fd, "rb") : nullptr;
    if (!f) {
      if (fd >= 0) ::close(fd);
      throw HttpError{507, "cannot read the stored upload"};
    }
    return StdioFile(f);
  }

  // The key to mask with: the request's master_key_hex, else the server's
  // (--key-file). mask with neither is refused, and so is a key without mask.
  KeyHold mask_key(const Request& req, bool mask) const {
    KeyHold k;
    if (const std::string* hex = req.param("master_key_hex")) {
      if (!mask) throw HttpError{400, "master_key_hex is given without mask=true"};
      try {
        k.key = parse_mask_key_hex(*hex);
      } catch (const Error& e) {
        throw HttpError{400, std::string("master_key_hex: ") + e.what()};
      }
    } else if (mask) {
      if (!so_.key)
        throw HttpError{400,
                        "masking needs master_key_hex or a server started with a key "
                        "(--key-file); nothing was exported"};
      k.key = so_.key;
    }
    return k;
  }

  static void say_masked(Response& res, const KeyHold& k, const Request& req) {
    res.headers.emplace_back("X-H4MK-Masked-Tracks", k.key ? "1" : "");
    if (!k.key) return;
    res.headers.emplace_back("X-H4MK-KID", default_key_id(*k.key));
    res.headers.emplace_back("X-H4MK-Key-Source",
                             req.param("master_key_hex") ? "request" : "server");
  }

  // The answer file as a sink: every byte is charged to the server's storage
  // budget before it is written, and writing gives up once the server stops.
  class AnswerSink final : public Sink {
   public:
    AnswerSink(std::FILE* f, const Request& req) : file_(f), req_(req) {}
    void write(std::span<const uint8_t> data) override {
      if (req_.stopping()) throw HttpError{503, "the server is stopping"};
      req_.store_answer(data.size());
      file_.write(data);
    }
    void flush() override { file_.flush(); }
    bool seekable() const override { return file_.seekable(); }
    void write_at(uint64_t offset, std::span<const uint8_t> data) override {
      file_.write_at(offset, data);
    }

   private:
    FileSink file_;
    const Request& req_;
  };

  // A .h4mk that `write` makes in an unlinked temporary file, as the answer.
  template <typename F>
  Response h4mk_download(const Request& req, const std::string& filename, F&& write) {
    const int fd = http::temporary_file();
    if (fd < 0) throw HttpError{507, "cannot store the answer: no temporary file"};
    const int wfd = ::dup(fd);
    StdioFile out{wfd >= 0 ? ::fdopen(wfd, "wb") : nullptr};
    struct stat st {};
    try {
      if (!out.f) throw HttpError{507, "cannot store the answer"};
      AnswerSink sink(out.f, req);
      write(sink);
      sink.flush();
      if (std::fflush(out.f) != 0 || ::fstat(fd, &st) != 0)
        throw HttpError{507, "cannot store the answer"};
    } catch (...) {
      if (!out.f && wfd >= 0) ::close(wfd);
      ::close(fd);
      throw;
    }
    Response res;
    res.content_type = "application/octet-stream";
    res.fd = fd;
    res.length = static_cast<uint64_t>(st.st_size);
    res.headers = {{"Content-Disposition", "attachment; filename=\"" + filename + "\""}};
    counters_.bytes_sent += res.length;
    return res;
  }

  static Response event_stream() {
    Response res;
    res.content_type = "text/event-stream";
    res.headers = {{"Cache-Control", "no-cache"}};
    res.heartbeat = ":\n\n";
    return res;
  }

  struct TransportParams {
    uint32_t block_size, gop;
    Rational time_base;
  };
  static TransportParams transport_params(const Request& req) {
    if (req.param("fps") && req.param("fps_hint"))
      throw HttpError{400, "give fps or fps_hint (the same), not both"};
    TransportParams p;
    p.block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
    p.gop = static_cast<uint32_t>(req.param("gop") ? number(req, "gop", 1u << 20) : 30);
    if (p.block_size == 0 || p.gop == 0)
      throw HttpError{400, "block_size and gop must be positive"};
    const std::string* fps = req.param("fps") ? req.param("fps") : req.param("fps_hint");
    try {
      p.time_base = time_base_for_fps(fps ? *fps : "30");
    } catch (const Failure& f) {
      throw HttpError{400, f.message};
    }
    return p;
  }

  // The seeds' video export: the upload cut into blocks, as .h4mk.
  Response video_export(Request& req) {
    const TransportParams p = transport_params(req);
    KeyHold key = mask_key(req, flag(req, "mask"));
    std::optional<TrackCompression> how;
    // decompress=true, the seeds' name, asks for groups stored as they are.
    if (flag(req, "decompress") && req.param("compress"))
      throw HttpError{400, "compress and decompress=true exclude each other"};
    if (req.param("compress")) {
      if (key.get()) throw HttpError{400, "compress and mask exclude each other"};
      how.emplace();
      how->level = int(number(req, "compress", 19));
      if (how->level < 1) throw HttpError{400, "compress is a zstd level, 1..19"};
    }
    StdioFile in_file = upload(req);
    FileSource in(in_file.f);
    PackResult packed;
    Response res = h4mk_download(req, "export.h4mk", [&](Sink& out) {
      packed = pack_stream(in, out,
                           {p.block_size, p.time_base, p.gop, "", TrackKind::kVideo, key.get(),
                            how ? &*how : nullptr});
    });
    res.headers.emplace_back("X-H4MK-Blocks", std::to_string(packed.blocks));
    say_masked(res, key, req);
    return res;
  }

  // The same cut as events: one per block, as export would write it. An
  // event is about 190 bytes, so blocks of at least 16 bytes keep the stream
  // within 12 bytes per byte uploaded.
  Response video_stream(Request& req) {
    const TransportParams p = transport_params(req);
    if (p.block_size < kMinStreamBlock)
      throw HttpError{400, "block_size is at least " + std::to_string(kMinStreamBlock) +
                               " for a stream: every block is an event of its own"};
    StdioFile in = upload(req);
    const int fd = ::dup(::fileno(in.f));
    if (fd < 0) throw HttpError{507, "cannot read the stored upload"};
    const ordered_json meta{{"blocks", (req.body.size + p.block_size - 1) / p.block_size},
                            {"block_size", p.block_size},
                            {"fps", double(p.time_base.den) / double(p.time_base.num)},
                            {"gop", p.gop},
                            {"bytes", req.body.size}};
    Response res = event_stream();
    res.producer = transport_events(fd, p.block_size, p.time_base, p.gop, sse("meta", meta));
    return res;
  }

  struct AudioParams {
    AudioFormat format;
    DspSettings dsp;
  };
  static AudioParams audio_params(const Request& req) {
    AudioParams p;
    if (const std::string* f = req.param("format")) p.format.container = *f;
    if (req.param("sample_rate"))
      p.format.sample_rate = static_cast<uint32_t>(number(req, "sample_rate", 768000));
    if (req.param("channels"))
      p.format.channels = static_cast<uint32_t>(number(req, "channels", 8));
    if (req.param("sample_rate") && !p.format.sample_rate)
      throw HttpError{400, "sample_rate must be positive"};
    if (req.param("channels") && !p.format.channels)
      throw HttpError{400, "channels must be positive"};
    if (req.param("frame_size") && req.param("hop"))
      throw HttpError{400, "give frame_size or hop (frame_size = 2 hop), not both"};
    if (req.param("frame_size")) {
      const auto n = number(req, "frame_size", 16384);
      if (n < 32 || n % 4) throw HttpError{400, "frame_size is a multiple of 4 in [32, 16384]"};
      p.dsp.hop = static_cast<unsigned>(n / 2);
    }
    if (req.param("hop")) {
      const auto n = number(req, "hop", 8192);
      if (n < 16 || n % 2) throw HttpError{400, "hop is even, in [16, 8192]"};
      p.dsp.hop = static_cast<unsigned>(n);
    }
    // Each kept bin becomes an event of about 230 bytes: at most hop/8 bins
    // a frame keeps the token stream within about 30 bytes per byte of
    // 8-bit audio uploaded (15 for 16-bit).
    const unsigned max_top_k = std::max(1u, p.dsp.hop / 8);
    p.dsp.top_k = std::min(p.dsp.top_k, max_top_k);
    if (req.param("top_k")) {
      p.dsp.top_k = static_cast<unsigned>(number(req, "top_k", 8193));
      if (p.dsp.top_k > max_top_k)
        throw HttpError{400, "top_k is at most hop/8 = " + std::to_string(max_top_k) +
                                 " here: every kept bin is an event of its own"};
    }
    if (req.param("gop")) p.dsp.gop = static_cast<unsigned>(number(req, "gop", 100000));
    if (!p.dsp.top_k || !p.dsp.gop) throw HttpError{400, "top_k and gop must be positive"};
    return p;
  }

  static std::unique_ptr<AudioInput> audio_input(const Request& req, const AudioFormat& format) {
    StdioFile in = upload(req);  // says what is wrong with an empty one
    try {
      return std::make_unique<AudioInput>(::fileno(in.f), format);
    } catch (const std::invalid_argument& e) {
      throw HttpError{400, e.what()};
    }
  }

  static std::unique_ptr<Tokenizer> dsp_tokenizer(const DspSettings& s, const AudioInput& a) {
    const std::string options = "hop=" + std::to_string(s.hop) + ":k=" + std::to_string(s.top_k) +
                                ":gop=" + std::to_string(s.gop);
    try {
      return load_tokenizer("dsp", options, {a.sample_rate(), a.channels()});
    } catch (const Error& e) {
      if (e.code() == ErrorCode::kNotFound)
        throw HttpError{503, std::string("the dsp tokenizer is not installed here: ") + e.what()};
      throw HttpError{400, std::string("dsp tokenizer: ") + e.what()};
    }
  }

  static ordered_json audio_meta(const AudioInput& a, const DspSettings& s) {
    return {{"sample_rate", a.sample_rate()},
            {"channels", a.channels()},
            {"format", a.container()},
            {"frame_size", 2 * s.hop},
            {"hop", s.hop},
            {"top_k", s.top_k},
            {"gop", s.gop}};
  }

  // The seeds' audio stream: the dsp tokenizer's bins, as events.
  Response audio_stream(Request& req) {
    const AudioParams p = audio_params(req);
    auto audio = audio_input(req, p.format);
    auto tok = dsp_tokenizer(p.dsp, *audio);
    const ordered_json meta = audio_meta(*audio, p.dsp);
    Response res = event_stream();
    res.producer = dsp_token_events(std::move(audio), std::move(tok), p.dsp, sse("meta", meta));
    return res;
  }

  // The same tokens as .h4mk: an h4core audio track the dsp adapter decodes
  // (ffmpeg -i gives the audio back).
  Response audio_export(Request& req) {
    const AudioParams p = audio_params(req);
    KeyHold key = mask_key(req, flag(req, "mask"));
    auto audio = audio_input(req, p.format);
    auto tok = dsp_tokenizer(p.dsp, *audio);
    uint64_t blocks = 0;
    Response res = h4mk_download(req, "audio.h4mk", [&](Sink& out) {
      Writer w(out);
      Track t;
      t.id = 1;
      t.kind = TrackKind::kAudio;
      t.codec = "h4core";
      t.adapter = "dsp";
      t.sample_rate = audio->sample_rate();
      t.channels = audio->channels();
      t.time_base = {1, audio->sample_rate()};
      t.notes = "dsp tokens: hop " + std::to_string(p.dsp.hop) + ", top " +
                std::to_string(p.dsp.top_k) + " bins";
      w.add_track(t);
      if (key.key) w.set_mask_key(t.id, *key.key);
      TokenBlock b;
      auto drain = [&] {
        for (; tok->next(b); blocks++) w.write_block({1, b.type, b.pts, b.dts, b.duration}, b.data);
      };
      for (size_t n; (n = audio->read(4096)) > 0;) {
        tok->push(audio->planes(), n);
        drain();
      }
      tok->finish();
      drain();
      w.finish();
    });
    res.headers.emplace_back("X-H4MK-Blocks", std::to_string(blocks));
    say_masked(res, key, req);
    return res;
  }

  // The seeds' audio mask: the upload cut into transport blocks of
  // block_size, every one masked with the library's masking (never XOR).
  Response audio_mask(Request& req) {
    const auto block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
    if (block_size == 0) throw HttpError{400, "block_size must be positive"};
    Rational tb;
    try {
      const std::string* rate = req.param("block_rate");
      tb = time_base_for_fps(rate ? *rate : "50");
    } catch (const Failure& f) {
      throw HttpError{400, "block_rate: " + f.message};
    }
    KeyHold key = mask_key(req, true);
    StdioFile in_file = upload(req);
    FileSource in(in_file.f);
    PackResult packed;
    Response res = h4mk_download(req, "audio.masked.h4mk", [&](Sink& out) {
      packed = pack_stream(in, out, {block_size, tb, 1, "", TrackKind::kAudio, key.get()});
    });
    res.headers.emplace_back("X-H4MK-Blocks", std::to_string(packed.blocks));
    say_masked(res, key, req);
    return res;
  }

  ServeOptions so_;
  fs::path root_;
  Counters counters_;
};

}  // namespace

int serve(const Options& o, const ServeOptions& so) {
  if (so.tls_cert.empty() != so.tls_key.empty())
    throw Failure{kExitUsage, "--tls-cert and --tls-key go together"};
  Service service(so);
  if (so.list_routes) {
    for (const http::Route& r : service.routes()) {
      std::string params;
      for (const auto& p : r.params) params += (params.empty() ? "" : ",") + p;
      std::printf("%s %s %s\n", r.method.c_str(), r.path.c_str(), params.c_str());
    }
    return kExitOk;
  }
  http::ServerOptions ho;
  ho.host = so.host;
  ho.port = so.port;
  ho.threads = std::clamp(so.threads, 1u, 64u);
  ho.workers = std::clamp(so.workers, 1u, 64u);
  ho.idle_timeout_s = so.idle_timeout;
  ho.max_connections_per_ip = so.max_connections_per_ip;
  ho.max_stored_bytes = std::max(so.max_upload_total, so.max_upload);
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
    ho.tls_cert_pem = read_text_file(so.tls_cert, "TLS certificate");
    ho.tls_key_pem = read_text_file(so.tls_key, "TLS key");
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
