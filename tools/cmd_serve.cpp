// serve: a directory of .h4mk files over HTTP (http_server.hpp), read-only
// unless uploads are allowed. This file is the route table and the server's
// start and stop; the handlers are in serve_files.cpp and serve_uploads.cpp.
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <string_view>

#include "commands.hpp"
#include "http_server.hpp"
#include "openapi.hpp"
#include "serve_handlers.hpp"

namespace h4mk::cli {
namespace {

using http::HttpError;
using http::Request;
using http::Response;

class Service {
 public:
  explicit Service(const ServeOptions& so)
      : so_(so), files_(so_, counters_), uploads_(so_, counters_) {}

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
    FileHandlers& f = files_;
    get("/v1/files", {}, [&f](Request&) { return f.list(); });
    get(
        "/v1/files/{name}", {}, [&f](Request& req) { return f.file(req); }, true);
    get("/v1/files/{name}/manifest", {}, [&f](Request& req) { return f.manifest(req); });
    get("/v1/files/{name}/seek", {"track", "t"},
        [&f](Request& req) { return f.seek_or_chain(req, true); });
    get("/v1/files/{name}/chain", {"track", "t"},
        [&f](Request& req) { return f.seek_or_chain(req, false); });
    get("/v1/files/{name}/block", {"track", "index", "offset", "decompress"},
        [&f](Request& req) { return f.block(req); });
    get("/v1/files/{name}/stream", {"track", "from", "to", "pace"},
        [&f](Request& req) { return f.stream(req); });
    // The built-in documents, answered from memory.
    auto document = [&](const char* path, const char* type, std::string_view body,
                        const char* cache) {
      get(
          path, {},
          [type, body, cache](Request&) {
            Response res;
            res.content_type = type;
            if (cache) res.headers = {{"Cache-Control", cache}};
            res.body = std::string(body);
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
    using Handler = Response (UploadHandlers::*)(Request&);
    auto post = [&](std::initializer_list<const char*> paths, Handler h,
                    std::vector<std::string> params) {
      http::BodyRule rule{true, so_.max_upload, [this](const Request& req) {
                            if (!so_.allow_upload)
                              throw HttpError{403,
                                              "uploads are disabled: start the server with "
                                              "--allow-upload"};
                            UploadHandlers::key_may_travel(req);
                          }};
      for (const char* path : paths)
        r.push_back({"POST", path, params, rule, counted([this, h](Request& req) {
                       UploadHandlers::key_may_travel(req);  // a key in the form
                       return (uploads_.*h)(req);
                     })});
    };
    post({"/v1/export", "/v1/video/export", "/video/export"}, &UploadHandlers::video_export,
         {"block_size", "gop", "fps", "fps_hint", "mask", "master_key_hex", "compress",
          "decompress"});
    post({"/v1/video/stream", "/video/stream"}, &UploadHandlers::video_stream,
         {"block_size", "gop", "fps", "fps_hint"});
    post({"/v1/audio/stream", "/audio/stream"}, &UploadHandlers::audio_stream,
         {"format", "sample_rate", "channels", "frame_size", "hop", "top_k", "gop"});
    post({"/v1/audio/export", "/audio/export"}, &UploadHandlers::audio_export,
         {"format", "sample_rate", "channels", "frame_size", "hop", "top_k", "gop", "mask",
          "master_key_hex"});
    post({"/v1/audio/mask", "/audio/mask"}, &UploadHandlers::audio_mask,
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

  ServeOptions so_;
  ServeCounters counters_;
  FileHandlers files_;
  UploadHandlers uploads_;
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
