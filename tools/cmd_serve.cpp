// serve: a directory of .h4mk files over HTTP (cpp-httplib), read-only unless
// uploads are allowed. Every response about a file opens it anew, so memory per
// request is bounded by one block group (the reader's limits), not the file.
#include <httplib.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <initializer_list>
#include <iostream>
#include <regex>
#include <string_view>
#include <thread>

#include "commands.hpp"
#include "http_range.hpp"

namespace h4mk::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

struct Counters {
  std::atomic<uint64_t> requests{0}, file_requests{0}, range_requests{0}, bytes_sent{0};
};

// An HTTP error with its status; answered as {"error": ..., "status": ...}.
struct HttpError {
  int status;
  std::string message;
};

void send_json(httplib::Response& res, const ordered_json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

std::string http_date(time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

std::string base64(std::span<const uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

class Service {
 public:
  Service(const ServeOptions& so, bool quiet) : so_(so), quiet_(quiet) {
    std::error_code ec;
    root_ = fs::canonical(so.root, ec);
    if (ec || !fs::is_directory(root_)) throw Failure{kExitInput, so.root + ": not a directory"};
  }

  void install(httplib::Server& svr) {
    svr.Get("/health", [&](const auto&, auto& res) { send_json(res, {{"status", "ok"}}); });
    svr.Get("/v1/stats", [&](const auto&, auto& res) {
      send_json(res, {{"requests", counters_.requests.load()},
                      {"file_requests", counters_.file_requests.load()},
                      {"range_requests", counters_.range_requests.load()},
                      {"bytes_sent", counters_.bytes_sent.load()}});
    });
    svr.Get("/v1/files", [&](const auto&, auto& res) { list(res); });
    svr.Get(R"(/v1/files/([^/]+))", guard([&](const auto& req, auto& res) { file(req, res); }));
    svr.Get(R"(/v1/files/([^/]+)/manifest)", guard([&](const auto& req, auto& res) {
              auto src = open(req.matches[1]);
              Reader r(*src);
              send_json(res, manifest_json(r, req.matches[1]));
            }));
    svr.Get(R"(/v1/files/([^/]+)/(seek|chain))",
            guard([&](const auto& req, auto& res) { seek_or_chain(req, res); }));
    svr.Get(R"(/v1/files/([^/]+)/block)",
            guard([&](const auto& req, auto& res) { block(req, res); }));
    svr.Get(R"(/v1/files/([^/]+)/stream)",
            guard([&](const auto& req, auto& res) { stream(req, res); }));
    svr.Post("/v1/export", guard([&](const auto& req, auto& res) { upload(req, res); }));

    svr.set_pre_routing_handler([&](const auto&, auto&) {
      counters_.requests++;
      return httplib::Server::HandlerResponse::Unhandled;
    });
    svr.set_error_handler([this](const auto& req, auto& res) {
      if (!res.body.empty()) return;  // a handler's own JSON error
      // httplib refuses a malformed Range before routing; say how long the file is.
      static const std::regex file_path(R"(/v1/files/([^/]+))");
      std::smatch m;
      if (res.status == 416 && std::regex_match(req.path, m, file_path)) {
        try {
          res.set_header("Content-Range",
                         "bytes */" + std::to_string(fs::file_size(resolve(m[1]))));
        } catch (...) {
        }
      }
      std::string what = res.status == 404   ? "no such endpoint: " + req.path
                         : res.status == 413 ? "request body too large"
                         : res.status == 416 ? "bad Range header"
                                             : "HTTP status " + std::to_string(res.status);
      send_json(res, {{"error", what}, {"status", res.status}}, res.status);
    });
    svr.set_exception_handler([](const auto&, auto& res, std::exception_ptr ep) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      send_json(res, {{"error", what}, {"status", 500}}, 500);
    });
    if (!quiet_)
      svr.set_logger([](const auto& req, const auto& res) {
        std::fprintf(stderr, "h4mk serve: %s %s -> %d\n", req.method.c_str(), req.path.c_str(),
                     res.status);
      });
  }

 private:
  template <typename F>
  httplib::Server::Handler guard(F f) {
    return [f](const httplib::Request& req, httplib::Response& res) {
      try {
        f(req, res);
      } catch (const HttpError& e) {
        send_json(res, {{"error", e.message}, {"status", e.status}}, e.status);
      } catch (const Failure& e) {
        send_json(res, {{"error", e.message}, {"status", 400}}, 400);
      } catch (const Error& e) {
        // A file that cannot be read is the file's problem, not the request's.
        int status = e.code() == ErrorCode::kNotFound ? 404 : 422;
        send_json(res, {{"error", e.what()}, {"status", status}}, status);
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

  // No parameter is ignored: one the endpoint does not take is a 400 naming it
  // (an ignored mask=true once gave a plaintext export).
  static void only_params(const httplib::Request& req,
                          std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : req.params)
      if (std::find(known.begin(), known.end(), key) == known.end())
        throw HttpError{400, "unknown parameter '" + key + "'" +
                                 (key == "mask" || key.find("key") != std::string::npos
                                      ? ": this endpoint does not mask; nothing was exported"
                                      : "")};
  }

  // One Server-Sent Event; text that is not UTF-8 is replaced, never thrown on.
  static std::string sse(const char* event, const ordered_json& data) {
    return std::string("event: ") + event +
           "\ndata: " + data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "\n\n";
  }

  static std::string param(const httplib::Request& req, const char* key, bool required) {
    if (!req.has_param(key)) {
      if (required) throw HttpError{400, std::string("missing parameter ") + key};
      return {};
    }
    return req.get_param_value(key);
  }

  static uint64_t number(const httplib::Request& req, const char* key, uint64_t max) {
    const std::string v = param(req, key, true);
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || v[0] == '-' || n > max)
      throw HttpError{400, std::string("parameter ") + key + "=" + v +
                               " is not an integer in [0, " + std::to_string(max) + "]"};
    return n;
  }

  static const Track& track_param(const Reader& r, const httplib::Request& req) {
    auto id = static_cast<uint16_t>(number(req, "track", 65535));
    const Track* t = r.track(id);
    if (!t) throw HttpError{404, "no track " + std::to_string(id)};
    return *t;
  }

  void list(httplib::Response& res) const {
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
    send_json(res, {{"files", files}});
  }

  // The file itself: Range (one range; 416 when unsatisfiable), ETag and
  // Last-Modified, read in 64 KiB pieces as the client takes them.
  void file(const httplib::Request& req, httplib::Response& res) {
    const fs::path p = resolve(req.matches[1]);
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) throw HttpError{404, "no file " + std::string(req.matches[1])};
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    char etag[64];
    std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)size,
                  (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
    counters_.file_requests++;
    res.set_header("Accept-Ranges", "bytes");
    res.set_header("ETag", etag);
    res.set_header("Last-Modified", http_date(st.st_mtim.tv_sec));
    if (req.get_header_value("If-None-Match") == etag) {
      res.status = 304;
      return;
    }
    RangeRequest range;
    if (req.has_header("Range")) {
      counters_.range_requests++;
      const std::string if_range = req.get_header_value("If-Range");
      if (if_range.empty() || if_range == etag)
        range = parse_range(req.get_header_value("Range"), size);
    }
    // httplib would slice the body again for the ranges it parsed itself: the
    // ranges are answered here (exact bounds, 416), so its copy is dropped.
    const_cast<httplib::Request&>(req).ranges.clear();
    if (range.kind == RangeRequest::kUnsatisfiable) {
      res.set_header("Content-Range", "bytes */" + std::to_string(size));
      send_json(res,
                {{"error", "bad or unsatisfiable Range \"" + req.get_header_value("Range") +
                               "\" for " + std::to_string(size) + " bytes"},
                 {"status", 416}},
                416);
      return;
    }
    uint64_t first = 0, length = size;
    if (range.kind == RangeRequest::kPart) {
      first = range.first;
      length = range.last - range.first + 1;
      res.status = 206;
      res.set_header("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                          std::to_string(range.last) + "/" + std::to_string(size));
    }
    auto f = std::shared_ptr<std::FILE>(std::fopen(p.c_str(), "rb"), [](std::FILE* x) {
      if (x) std::fclose(x);
    });
    if (!f) throw HttpError{404, "cannot open " + std::string(req.matches[1])};
    res.set_content_provider(
        length, "application/octet-stream",
        [this, f, first](size_t offset, size_t want, httplib::DataSink& sink) {
          char buf[65536];
          const size_t n = std::min(want, sizeof buf);
          if (std::fseek(f.get(), static_cast<long>(first + offset), SEEK_SET) != 0) return false;
          const size_t got = std::fread(buf, 1, n, f.get());
          if (got == 0) return false;  // the file shrank under us: end the response
          counters_.bytes_sent += got;
          return sink.write(buf, got);
        });
  }

  void seek_or_chain(const httplib::Request& req, httplib::Response& res) const {
    only_params(req, {"track", "t"});
    auto src = open(req.matches[1]);
    auto r = reader(*src);
    const Track& t = track_param(*r, req);
    int64_t ticks = 0;
    try {
      ticks = parse_time(param(req, "t", true), t.time_base);
    } catch (const Failure& f) {
      throw HttpError{400, f.message};
    }
    if (req.matches[2] == "seek")
      send_json(res, seek_json(*r, t, ticks));
    else
      send_json(res, {{"track", t.id}, {"t", ticks}, {"chain", chain_json(*r, t, ticks)}});
  }

  // One block's payload; masked blocks stay masked unless the server has the key.
  void block(const httplib::Request& req, httplib::Response& res) const {
    only_params(req, {"track", "index", "offset"});
    auto src = open(req.matches[1]);
    auto r = reader(*src);
    std::optional<uint16_t> track;
    if (req.has_param("track")) track = track_param(*r, req).id;
    std::optional<uint64_t> index, offset;
    if (req.has_param("offset"))
      offset = number(req, "offset", UINT64_MAX);
    else
      index = number(req, "index", UINT64_MAX);
    Block b;
    if (!find_block(*r, track, index, offset, b))
      throw HttpError{404, "no block " + (index ? "number " + std::to_string(*index)
                                                : "at offset " + std::to_string(*offset))};
    res.set_header("X-H4MK-Track", std::to_string(b.info.track_id));
    res.set_header("X-H4MK-Type", block_type_name(b.info.type));
    res.set_header("X-H4MK-Pts", std::to_string(b.info.pts));
    res.set_header("X-H4MK-Dts", std::to_string(b.info.dts));
    res.set_header("X-H4MK-Masked", b.info.masked ? "1" : "0");
    res.set_content(std::string(b.data.begin(), b.data.end()), "application/octet-stream");
    counters_.bytes_sent += b.data.size();
  }

  // Server-Sent Events, one per block (metadata and base64 payload), read as
  // the client takes them; pace=1 sends each block at its time.
  void stream(const httplib::Request& req, httplib::Response& res) const {
    only_params(req, {"track", "from", "to", "pace"});
    struct State {
      std::unique_ptr<FileSource> src;
      std::unique_ptr<Reader> reader;
      std::optional<uint16_t> track;
      int64_t from = INT64_MIN, to = INT64_MAX;
      bool pace = false;
      std::optional<std::chrono::steady_clock::time_point> start;
      double first_seconds = 0;
      uint64_t sent = 0;
    };
    auto s = std::make_shared<State>();
    s->src = open(req.matches[1]);
    s->reader = reader(*s->src);
    if (req.has_param("track")) {
      const Track& t = track_param(*s->reader, req);
      s->track = t.id;
      try {
        if (req.has_param("from")) s->from = parse_time(param(req, "from", true), t.time_base);
        if (req.has_param("to")) s->to = parse_time(param(req, "to", true), t.time_base);
      } catch (const Failure& f) {
        throw HttpError{400, f.message};
      }
      if (s->from != INT64_MIN) {
        try {
          s->reader->seek(t.id, s->from);
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kNotFound) throw;
        }
      }
    } else if (req.has_param("from") || req.has_param("to")) {
      throw HttpError{400, "from/to need a track"};
    }
    s->pace = req.has_param("pace") && req.get_param_value("pace") == "1";
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, s](size_t, httplib::DataSink& sink) {
          Block b;
          for (;;) {
            ReadEvent ev;
            try {
              ev = s->reader->next(b);
            } catch (const Error& e) {  // e.g. a masked block that does not authenticate
              std::string msg = sse("error", ordered_json{{"error", e.what()}});
              if (!sink.write(msg.data(), msg.size())) return false;
              continue;
            }
            if (ev == ReadEvent::kEnd) {
              std::string msg = sse("end", ordered_json{{"blocks", s->sent}});
              sink.write(msg.data(), msg.size());
              sink.done();
              return true;
            }
            if (ev == ReadEvent::kDamage) {
              const Damage& d = s->reader->last_damage();
              std::string msg =
                  sse("damage", ordered_json{{"offset", d.offset}, {"message", d.message}});
              if (!sink.write(msg.data(), msg.size())) return false;
              continue;
            }
            if (s->track && b.info.track_id != *s->track) continue;
            if (b.info.pts < s->from) continue;
            if (b.info.pts >= s->to) {
              if (b.info.type == BlockType::kI) {  // nothing later presents before `to`
                std::string msg = sse("end", ordered_json{{"blocks", s->sent}});
                sink.write(msg.data(), msg.size());
                sink.done();
                return true;
              }
              continue;
            }
            const Track& t = *s->reader->track(b.info.track_id);
            if (s->pace) {
              const double at = seconds(b.info.pts, t.time_base);
              if (!s->start) {
                s->start = std::chrono::steady_clock::now();
                s->first_seconds = at;
              }
              std::this_thread::sleep_until(
                  *s->start + std::chrono::duration<double>(std::max(0.0, at - s->first_seconds)));
            }
            ordered_json j = block_json(b, t);
            j["payload"] = base64(b.data);
            std::string msg = sse("block", j);
            s->sent++;
            counters_.bytes_sent += msg.size();
            return sink.write(msg.data(), msg.size());
          }
        });
  }

  // The seeds' video export: a raw body cut into blocks (pack), returned as .h4mk.
  void upload(const httplib::Request& req, httplib::Response& res) const {
    if (!so_.allow_upload)
      throw HttpError{403, "uploads are disabled: start the server with --allow-upload"};
    only_params(req, {"block_size", "gop", "fps"});
    const auto block_size = static_cast<uint32_t>(number(req, "block_size", 64u << 20));
    const auto gop =
        static_cast<uint32_t>(req.has_param("gop") ? number(req, "gop", 1u << 20) : 30);
    if (block_size == 0 || gop == 0) throw HttpError{400, "block_size and gop must be positive"};
    Rational tb;
    try {
      tb = time_base_for_fps(req.has_param("fps") ? req.get_param_value("fps") : "30");
    } catch (const Failure& f) {
      throw HttpError{400, f.message};
    }
    MemorySource in({reinterpret_cast<const uint8_t*>(req.body.data()), req.body.size()});
    MemorySink sink;
    PackResult packed = pack_stream(in, sink, block_size, tb, gop, "");
    res.set_header("Content-Disposition", "attachment; filename=\"export.h4mk\"");
    res.set_header("X-H4MK-Blocks", std::to_string(packed.blocks));
    res.set_content(std::string(sink.bytes().begin(), sink.bytes().end()),
                    "application/octet-stream");
  }

  ServeOptions so_;
  bool quiet_;
  fs::path root_;
  mutable Counters counters_;
};

}  // namespace

int serve(const Options& o, const ServeOptions& so) {
  Service service(so, o.quiet);
  httplib::Server svr;
  const unsigned threads = so.threads ? so.threads : 32;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(so.max_upload);
  svr.set_read_timeout(10);
  svr.set_write_timeout(10);
  // httplib gives a worker to a connection for its keep-alive life: rotate
  // connections so waiting ones get a worker.
  svr.set_keep_alive_max_count(100);
  svr.set_tcp_nodelay(true);  // headers and body are separate writes: no Nagle delay
  service.install(svr);

  // SIGTERM/SIGINT: a thread waits for them and stops the server; every other
  // thread (the pool is made after this) has them blocked.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  int port = so.port;
  if (port == 0)
    port = svr.bind_to_any_port(so.host);
  else if (!svr.bind_to_port(so.host, port))
    port = -1;
  if (port < 0)
    throw Failure{kExitOutput, "cannot listen on " + so.host + ":" + std::to_string(so.port)};
  std::printf("h4mk serve: http://%s:%d/ (root %s%s)\n", so.host.c_str(), port, so.root.c_str(),
              so.allow_upload ? ", uploads allowed" : "");
  std::fflush(stdout);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    if (sig != 0) svr.stop();
  });
  svr.listen_after_bind();
  // listen returns after stop(); if it returned for another reason, wake the waiter.
  if (svr.is_running()) svr.stop();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (!o.quiet) std::fprintf(stderr, "h4mk serve: stopped\n");
  return kExitOk;
}

}  // namespace h4mk::cli
