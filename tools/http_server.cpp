// The libmicrohttpd side of http::Server: requests are routed on their first
// call, refused there when they must be (before any body is read), bodies are
// streamed to a temporary file, and producers that wait are suspended and woken
// by one timer thread instead of holding a polling thread.
#include "http_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <thread>

#include "http_framing.hpp"
#include "http_url.hpp"
#include "temporary_file.hpp"
#include "worker_pool.hpp"

namespace h4mk::cli::http {

Body::~Body() {
  if (fd >= 0) ::close(fd);
}

const std::string* Request::param(std::string_view key) const {
  for (const auto& [k, v] : params)
    if (k == key) return &v;
  return nullptr;
}

std::optional<std::string> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (equals_caseless(k, name)) return v;
  return std::nullopt;
}

Response Response::json(const nlohmann::ordered_json& j, int status) {
  Response r;
  r.status = status;
  r.body = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

Response Response::event_stream(std::unique_ptr<Producer> events) {
  Response r;
  r.content_type = "text/event-stream";
  r.headers = {{"Cache-Control", "no-cache"}};
  r.body = Produced{std::move(events), std::nullopt, ":\n\n"};
  return r;
}

Response Response::error(int status, const std::string& message) {
  return json({{"error", message}, {"status", status}}, status);
}

namespace {

bool is_loopback(const sockaddr* a) {
  if (!a) return false;
  if (a->sa_family == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr) >> 24) == 127;
  if (a->sa_family == AF_INET6) {
    const in6_addr& x = reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr;
    if (IN6_IS_ADDR_LOOPBACK(&x)) return true;
    return IN6_IS_ADDR_V4MAPPED(&x) && x.s6_addr[12] == 127;
  }
  return false;
}

size_t unescape(void*, MHD_Connection*, char* s) { return percent_decode(s); }

// A connection's values of one kind (headers, query arguments), in order.
void collect(MHD_Connection* c, MHD_ValueKind kind,
             std::vector<std::pair<std::string, std::string>>& out) {
  MHD_get_connection_values(
      c, kind,
      [](void* cls, MHD_ValueKind, const char* k, const char* v) -> MHD_Result {
        static_cast<std::vector<std::pair<std::string, std::string>>*>(cls)->emplace_back(
            k ? k : "", v ? v : "");
        return MHD_YES;
      },
      &out);
}

// Query parameters: no route takes more than a few.
constexpr size_t kMaxQueryParams = 32;
// A form's text fields: their count, and each one's name and value together.
constexpr size_t kMaxFormFields = 64, kMaxFieldBytes = 4096;
// A body that turned out bad (past its limit, malformed) is read on and
// dropped for this much more, so a client that sends it whole still reads
// its error (closing on a client still sending resets the connection, and
// the answer with it); beyond it, the connection closes.
constexpr uint64_t kMaxDrainBytes = 16 << 20;

}  // namespace

// A route's template as a regular expression: {x} is one path segment.
static std::regex path_pattern(const std::string& path) {
  std::string re;
  for (size_t i = 0; i < path.size(); i++) {
    if (path[i] == '{') {
      const size_t end = path.find('}', i);
      if (end == std::string::npos) throw std::invalid_argument("bad route " + path);
      re += "([^/]+)";
      i = end;
    } else if (std::strchr(".^$|()[]*+?\\", path[i])) {
      re += '\\';
      re += path[i];
    } else {
      re += path[i];
    }
  }
  return std::regex(re);
}

struct Server::Impl {
  std::vector<Route> routes;
  std::vector<std::regex> patterns;
  std::atomic<uint64_t> stored{0};  // bytes of bodies and answers held in temporary files
  ServerOptions opt;
  RequestLog log;
  MHD_Daemon* daemon = nullptr;
  std::unique_ptr<WorkerPool> pool;
  std::atomic<bool> halting{false};  // stop() has begun: work in progress gives up

  // Takes n bytes of the storage budget; false (and nothing taken) beyond it.
  bool reserve(uint64_t n) {
    if (stored.fetch_add(n) + n <= opt.max_stored_bytes) return true;
    stored -= n;
    return false;
  }

  // Paced producers asleep: suspended connections and when to resume them.
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::multimap<Clock::time_point, MHD_Connection*> sleeping;
  std::thread waker;

  // Suspends `c` until `t`; false once the server is stopping.
  bool sleep(MHD_Connection* c, Clock::time_point t) {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping) return false;
    MHD_suspend_connection(c);
    sleeping.emplace(t, c);
    cv.notify_one();
    return true;
  }

  void wake_loop() {
    std::unique_lock<std::mutex> lock(mu);
    while (!stopping) {
      if (sleeping.empty()) {
        cv.wait(lock);
        continue;
      }
      auto first = sleeping.begin();
      if (Clock::now() >= first->first) {
        MHD_resume_connection(first->second);
        sleeping.erase(first);
        continue;
      }
      const Clock::time_point t = first->first;  // not a reference: stop() may clear the map
      cv.wait_until(lock, t);
    }
  }
};

namespace {

using Impl = Server::Impl;

// A response body from a Producer, with waits and heartbeats.
struct Stream {
  Stream(Impl* s, MHD_Connection* c, std::unique_ptr<Producer> p, std::string h)
      : server(s), connection(c), producer(std::move(p)), heartbeat(std::move(h)) {}
  Impl* server;
  MHD_Connection* connection;
  std::unique_ptr<Producer> producer;
  std::string heartbeat;
  std::optional<Clock::time_point> until;
  Clock::time_point last_sent = Clock::now();

  static ssize_t read(void* cls, uint64_t, char* buf, size_t max) {
    auto* s = static_cast<Stream*>(cls);
    const auto interval = s->server->opt.heartbeat_interval;
    for (;;) {
      const auto now = Clock::now();
      if (s->until) {
        if (now < *s->until) {
          if (!s->heartbeat.empty() && now - s->last_sent >= interval &&
              max >= s->heartbeat.size()) {
            std::memcpy(buf, s->heartbeat.data(), s->heartbeat.size());
            s->last_sent = now;
            return static_cast<ssize_t>(s->heartbeat.size());
          }
          auto wake = *s->until;
          if (!s->heartbeat.empty()) wake = std::min(wake, s->last_sent + interval);
          if (!s->server->sleep(s->connection, wake)) return MHD_CONTENT_READER_END_WITH_ERROR;
          return 0;  // suspended: called again when woken
        }
        s->until.reset();
      }
      Step step;
      try {
        step = s->producer->produce(buf, max);
      } catch (...) {
        return MHD_CONTENT_READER_END_WITH_ERROR;
      }
      switch (step.kind) {
        case Step::kData:
          if (step.size == 0) continue;
          s->last_sent = now;
          return static_cast<ssize_t>(step.size);
        case Step::kWait:
          s->until = step.until;
          continue;
        case Step::kEnd:
          return MHD_CONTENT_READER_END_OF_STREAM;
        case Step::kError:
          return MHD_CONTENT_READER_END_WITH_ERROR;
      }
    }
  }
  static void free(void* cls) { delete static_cast<Stream*>(cls); }
};

// One request, from its first call to its completion.
struct Exchange {
  Exchange(Impl* s, MHD_Connection* c) : server(s), connection(c) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  Impl* server;
  MHD_Connection* connection;
  Request req;
  const Route* route = nullptr;
  bool answered = false;
  int status = 0;
  uint64_t received = 0;
  std::atomic<uint64_t> stored{0};      // of the budget, held until the exchange ends
  std::optional<HttpError> body_error;  // once set, the rest of the body is discarded
  MHD_PostProcessor* form = nullptr;
  size_t field_bytes = 0;

  ~Exchange() {
    if (form) MHD_destroy_post_processor(form);
    server->stored -= stored;
  }

  MHD_Result answer(Response r) {
    MHD_Response* m = nullptr;
    if (auto* p = std::get_if<Produced>(&r.body)) {
      auto* s = new Stream(server, connection, std::move(p->producer), p->heartbeat);
      m = MHD_create_response_from_callback(p->length.value_or(MHD_SIZE_UNKNOWN), 64 * 1024,
                                            &Stream::read, s, &Stream::free);
      if (!m) delete s;
    } else if (auto* f = std::get_if<FileRange>(&r.body); f && f->length > 0) {
      // The response owns the descriptor from here (closed with it).
      m = MHD_create_response_from_fd_at_offset64(f->length, f->fd.get(), f->offset);
      if (m) f->fd.release();
    } else {
      std::string* text = std::get_if<std::string>(&r.body);
      m = MHD_create_response_from_buffer(text ? text->size() : 0, text ? text->data() : nullptr,
                                          MHD_RESPMEM_MUST_COPY);
    }
    if (!m) return MHD_NO;
    MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, r.content_type.c_str());
    for (const auto& [k, v] : r.headers) MHD_add_response_header(m, k.c_str(), v.c_str());
    MHD_Result ok = MHD_queue_response(connection, static_cast<unsigned>(r.status), m);
    MHD_destroy_response(m);
    answered = true;
    status = r.status;
    return ok;
  }

  MHD_Result answer_error(const HttpError& e) {
    return answer(Response::error(e.status, e.message));
  }

  // What a worker made, answered once the connection is resumed.
  std::optional<Response> result;

  // Runs the handler: here when the route is quick, else on the worker pool
  // with the connection suspended until the answer is ready.
  MHD_Result dispatch() {
    if (route->quick) return answer(run());
    MHD_suspend_connection(connection);
    const bool queued = server->pool->submit([this](bool cancelled) {
      Response r = cancelled ? Response::error(503, "the server is stopping") : run();
      result.emplace(std::move(r));
      MHD_resume_connection(connection);
    });
    if (queued) return MHD_YES;
    MHD_resume_connection(connection);
    Response busy = Response::error(503, "the server is busy; try again later");
    busy.headers.emplace_back("Retry-After", "1");
    return answer(std::move(busy));
  }

  Response run() {
    try {
      return route->handle(req);
    } catch (const HttpError& e) {
      return Response::error(e.status, e.message);
    } catch (const std::bad_alloc&) {
      return Response::error(503, "out of memory for this request");
    } catch (const std::exception& e) {
      return Response::error(500, e.what());
    } catch (...) {
      return Response::error(500, "internal error");
    }
  }

  // The first call: framing, route, parameters, admission. Throws HttpError.
  void begin(const char* url, const char* method, const char* version) {
    // A copy: a handler on a worker thread does not touch the connection.
    collect(connection, MHD_HEADER_KIND, req.headers);
    if (auto why = ambiguous_framing(req.headers, version ? version : ""))
      throw HttpError{400, *why};
    req.method = method;
    req.path = url;
    collect(connection, MHD_GET_ARGUMENT_KIND, req.params);
    const MHD_ConnectionInfo* ci =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    req.loopback = ci && is_loopback(ci->client_addr);
    req.tls = !server->opt.tls_cert_pem.empty();
    Impl* s = server;
    req.stopping = [s] { return s->halting.load(); };
    req.store_answer = [this](uint64_t n) {
      if (!server->reserve(n))
        throw HttpError{503,
                        "the server holds as many uploads and answers as it may; try again later"};
      stored += n;
    };

    bool path_known = false;
    const std::string m = req.method == "HEAD" ? "GET" : req.method;
    for (size_t i = 0; i < server->routes.size(); i++) {
      const Route& r = server->routes[i];
      std::smatch sm;
      if (!std::regex_match(req.path, sm, server->patterns[i])) continue;
      path_known = true;
      if (r.method != m) continue;
      route = &r;
      for (size_t g = 1; g < sm.size(); g++) req.matches.push_back(sm[g].str());
      break;
    }
    if (!route) {
      if (path_known) throw HttpError{405, req.method + " is not allowed on " + req.path};
      throw HttpError{404, "no such endpoint: " + req.path};
    }
    only_known_params();
    if (!route->body.accepted) {
      const auto len = req.header(MHD_HTTP_HEADER_CONTENT_LENGTH);
      if ((len && *len != "0") || req.header(MHD_HTTP_HEADER_TRANSFER_ENCODING))
        throw HttpError{413, route->method + " " + route->path + " takes no request body"};
      return;
    }
    if (route->body.admit) route->body.admit(req);
    if (auto len = req.header(MHD_HTTP_HEADER_CONTENT_LENGTH)) {
      char* end = nullptr;
      errno = 0;
      unsigned long long n = std::strtoull(len->c_str(), &end, 10);
      if (!errno && end && *end == '\0' && n > route->body.limit)
        throw HttpError{413, "request body of " + *len +
                                 " bytes is above this endpoint's limit of " +
                                 std::to_string(route->body.limit)};
    }
    // A body is a form only as multipart/form-data; any other form type
    // is refused rather than taken as the upload, with its fields (a mask
    // request, a key) unread.
    const auto type = req.header(MHD_HTTP_HEADER_CONTENT_TYPE);
    const std::string media = type ? media_type(*type) : "";
    if (media == "multipart/form-data") {
      form = MHD_create_post_processor(connection, 64 * 1024, &Exchange::on_field, this);
      if (!form)
        throw HttpError{400, "multipart/form-data without a usable boundary parameter: " + *type};
    } else if (media == "application/x-www-form-urlencoded" || media.rfind("multipart/", 0) == 0) {
      throw HttpError{415, "a " + media +
                               " body is not taken: send the fields as multipart/form-data, or the "
                               "upload as the raw body with its own Content-Type (e.g. "
                               "application/octet-stream) and the parameters in the query"};
    }
  }

  void only_known_params() const {
    const auto& known = route->params;
    for (size_t i = 0; i < req.params.size(); i++) {
      const std::string& key = req.params[i].first;
      if (std::find(known.begin(), known.end(), key) == known.end())
        throw HttpError{400, "unknown parameter '" + key + "' for " + route->method + " " +
                                 route->path +
                                 (key == "mask" || key.find("key") != std::string::npos
                                      ? ": this endpoint does not mask; nothing was done"
                                      : "")};
      for (size_t j = 0; j < i; j++)
        if (req.params[j].first == key)
          throw HttpError{400, "parameter '" + key + "' is given twice"};
    }
  }

  void store(const char* data, size_t n) {
    if (!server->reserve(n)) {
      body_error =
          HttpError{503, "the server holds as many uploads and answers as it may; try again later"};
      return;
    }
    stored += n;
    if (req.body.fd < 0) {
      req.body.fd = temporary_file().release();
      if (req.body.fd < 0) {
        body_error = HttpError{507, "cannot store the request body: no temporary file"};
        return;
      }
    }
    if (!write_all(req.body.fd, data, n)) {
      body_error = HttpError{507, "cannot store the request body: write failed"};
      return;
    }
    req.body.size += n;
  }

  static MHD_Result on_field(void* cls, MHD_ValueKind, const char* key, const char* filename,
                             const char*, const char*, const char* data, uint64_t off,
                             size_t size) {
    auto* x = static_cast<Exchange*>(cls);
    try {
      return x->field(key, filename, data, off, size);
    } catch (...) {
      x->body_error = HttpError{503, "out of memory for this form"};
      return MHD_NO;
    }
  }

  MHD_Result field(const char* key, const char* filename, const char* data, uint64_t off,
                   size_t size) {
    const std::string k = key ? key : "";
    if (filename) {  // the file part
      if (off == 0 && req.body.fd >= 0) {
        body_error = HttpError{400, "more than one file part in the form (field '" + k + "')"};
        return MHD_NO;
      }
      if (off == 0) {
        if (k.size() + std::strlen(filename) > kMaxFieldBytes) {
          body_error = HttpError{400, "the file part's field and file names are longer than " +
                                          std::to_string(kMaxFieldBytes) + " bytes"};
          return MHD_NO;
        }
        req.body.file_field = k;
        req.body.filename = filename;
        req.body.fd = temporary_file().release();
        if (req.body.fd < 0) {
          body_error = HttpError{507, "cannot store the upload: no temporary file"};
          return MHD_NO;
        }
      }
      if (size) store(data, size);
      return body_error ? MHD_NO : MHD_YES;
    }
    auto& fields = req.body.fields;
    if (off == 0) {
      if (fields.size() >= kMaxFormFields) {
        body_error = HttpError{400, "more than " + std::to_string(kMaxFormFields) + " form fields"};
        return MHD_NO;
      }
      field_bytes = k.size();
      if (field_bytes > kMaxFieldBytes) {
        body_error = HttpError{
            400, "a form field's name is longer than " + std::to_string(kMaxFieldBytes) + " bytes"};
        return MHD_NO;
      }
      fields.emplace_back(k, "");
    }
    field_bytes += size;
    if (field_bytes > kMaxFieldBytes) {
      body_error = HttpError{400, "form field '" + k + "' is longer than " +
                                      std::to_string(kMaxFieldBytes) + " bytes"};
      return MHD_NO;
    }
    fields.back().second.append(data, size);
    return MHD_YES;
  }

  void take(const char* data, size_t n) {
    received += n;
    if (received > route->body.limit) {
      body_error = HttpError{413, "request body is above this endpoint's limit of " +
                                      std::to_string(route->body.limit) + " bytes"};
      return;
    }
    if (!form) {
      store(data, n);
      return;
    }
    if (MHD_post_process(form, data, n) != MHD_YES && !body_error)
      body_error = HttpError{
          400, "malformed multipart/form-data body near byte " + std::to_string(received)};
  }

  // The whole body has arrived: fields become parameters after the query's.
  void end_body() {
    if (form) {
      const bool complete = MHD_destroy_post_processor(form) == MHD_YES;
      form = nullptr;
      if (!complete && !body_error)
        body_error = HttpError{400, "truncated multipart/form-data body"};
      for (auto& f : req.body.fields) req.params.push_back(f);
      if (!body_error) {
        try {
          only_known_params();
        } catch (const HttpError& e) {
          body_error = e;
        }
      }
    }
    if (req.body.fd >= 0 && ::lseek(req.body.fd, 0, SEEK_SET) != 0)
      body_error = HttpError{507, "cannot read the stored request body back"};
  }
};

// What on_uri hands the first call of a request whose query it cut off.
char too_many_params;

// Called with the raw request target before libmicrohttpd parses its
// query: each parameter takes room in the connection's memory pool, and
// libmicrohttpd 0.9.75 stops answering a connection whose query fills it
// (500 parameters did). A query with more than kMaxQueryParams is cut off
// before parsing (its first character made the end), and the request is
// answered 414 on its first call.
void* on_uri(void*, const char* uri, MHD_Connection*) {
  if (!uri || query_parameters(uri) <= kMaxQueryParams) return nullptr;
  char* query = const_cast<char*>(std::strchr(uri, '?'));
  query[1] = '\0';  // the buffer is the connection's own, written by libmicrohttpd itself
  return &too_many_params;
}

MHD_Result handle_call(Impl* server, MHD_Connection* c, const char* url, const char* method,
                       const char* version, const char* upload, size_t* upload_size,
                       void** con_cls) {
  const bool cut_query = *con_cls == &too_many_params;
  auto* x = cut_query ? nullptr : static_cast<Exchange*>(*con_cls);
  if (!x) {
    x = new Exchange(server, c);
    *con_cls = x;
    try {
      if (cut_query)
        throw HttpError{414, "more than " + std::to_string(kMaxQueryParams) + " query parameters"};
      x->begin(url, method, version);
    } catch (const HttpError& e) {
      // Refused from its headers: whatever follows on the connection (a body,
      // or bytes that framing read otherwise would make a request) is not read.
      Response r = Response::error(e.status, e.message);
      r.headers.emplace_back(MHD_HTTP_HEADER_CONNECTION, "close");
      return x->answer(std::move(r));
    }
    return MHD_YES;  // answered on the next call, once the library knows if a body follows
  }
  if (x->result) {  // a worker's answer, after resuming
    Response r = std::move(*x->result);
    x->result.reset();
    return x->answer(std::move(r));
  }
  if (x->answered) return *upload_size ? MHD_NO : MHD_YES;  // a body nobody asked for: close
  if (!x->route->body.accepted) {
    if (*upload_size)
      return x->answer_error(HttpError{413, x->req.path + " takes no request body"});
    return x->dispatch();
  }
  if (*upload_size) {
    // Answered once the body has ended: after an error the rest is read and
    // dropped, up to kMaxDrainBytes past the limit (a declared length past
    // it got its 413 from the headers).
    if (!x->body_error)
      x->take(upload, *upload_size);
    else
      x->received += *upload_size;
    *upload_size = 0;
    if (x->body_error && x->body_error->status >= 500) return MHD_NO;  // no room: stop reading
    return x->received - std::min(x->received, x->route->body.limit) > kMaxDrainBytes ? MHD_NO
                                                                                      : MHD_YES;
  }
  x->end_body();
  if (x->body_error) return x->answer_error(*x->body_error);
  return x->dispatch();
}

// No exception crosses into the library: one that escapes closes the connection.
MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method,
                      const char* version, const char* upload, size_t* upload_size,
                      void** con_cls) {
  try {
    return handle_call(static_cast<Impl*>(cls), c, url, method, version, upload, upload_size,
                       con_cls);
  } catch (...) {
    return MHD_NO;
  }
}

void on_completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  auto* server = static_cast<Impl*>(cls);
  if (*con_cls == &too_many_params) *con_cls = nullptr;  // never got to a first call
  auto* x = static_cast<Exchange*>(*con_cls);
  if (!x) return;
  if (server->log) server->log(x->req.method, x->req.path, x->status);
  delete x;
  *con_cls = nullptr;
}

}  // namespace

Server::Server(std::vector<Route> routes, ServerOptions options, RequestLog log)
    : impl_(std::make_unique<Impl>()) {
  impl_->routes = std::move(routes);
  for (const Route& r : impl_->routes) impl_->patterns.push_back(path_pattern(r.path));
  impl_->opt = std::move(options);
  impl_->log = std::move(log);
}

Server::~Server() { stop(); }

int Server::start() {
  const ServerOptions& o = impl_->opt;
  addrinfo hints{}, *ai = nullptr;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  if (::getaddrinfo(o.host.c_str(), std::to_string(o.port).c_str(), &hints, &ai) != 0 || !ai)
    throw std::runtime_error("cannot resolve the address " + o.host);
  sockaddr_storage addr{};
  std::memcpy(&addr, ai->ai_addr, std::min<size_t>(ai->ai_addrlen, sizeof addr));
  const bool v6 = ai->ai_family == AF_INET6;
  ::freeaddrinfo(ai);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  if (v6) flags |= MHD_USE_IPv6;
  const bool tls = !o.tls_cert_pem.empty();
  if (tls) flags |= MHD_USE_TLS;
  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, &addr},
      {MHD_OPTION_CONNECTION_LIMIT, o.max_connections, nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, o.max_connections_per_ip, nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, o.idle_timeout_s, nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&on_completed), impl_.get()},
      {MHD_OPTION_UNESCAPE_CALLBACK, reinterpret_cast<intptr_t>(&unescape), nullptr},
      {MHD_OPTION_URI_LOG_CALLBACK, reinterpret_cast<intptr_t>(&on_uri), nullptr},
  };
  if (o.threads > 1) opts.push_back({MHD_OPTION_THREAD_POOL_SIZE, o.threads, nullptr});
  if (tls) {
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(o.tls_cert_pem.c_str())});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(o.tls_key_pem.c_str())});
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  // Before the daemon: its first request may need a worker.
  impl_->pool = std::make_unique<WorkerPool>(std::max(1u, o.workers), o.max_queued);
  impl_->daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &on_request, impl_.get(),
                                   MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
  if (!impl_->daemon)
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                             (tls ? " with this certificate and key" : ""));
  impl_->waker = std::thread([this] { impl_->wake_loop(); });
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl_->daemon, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : o.port;
}

void Server::stop() {
  if (!impl_ || !impl_->daemon) return;
  // Work gives up (Request::stopping), queued work is answered 503; every
  // connection a job suspended is resumed by it before the join returns.
  impl_->halting = true;
  if (impl_->pool) impl_->pool->stop();
  {
    // Every sleeping connection is resumed (the library requires it before
    // stopping) and no producer may sleep again: they end with an error.
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stopping = true;
    for (auto& [t, c] : impl_->sleeping) MHD_resume_connection(c);
    impl_->sleeping.clear();
    impl_->cv.notify_all();
  }
  if (impl_->waker.joinable()) impl_->waker.join();
  MHD_stop_daemon(impl_->daemon);
  impl_->daemon = nullptr;
}

}  // namespace h4mk::cli::http
