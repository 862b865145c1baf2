// An HTTP/1.1 server for `h4mk serve` over GNU libmicrohttpd: event-driven
// (epoll, a few polling threads), so idle, slow and paced connections hold no
// thread; connection count, per-connection memory and idle time are bounded by
// the library; request bodies arrive in pieces and are counted against the
// route's limit whatever their transfer encoding, before anything is kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "unique_fd.hpp"

namespace h4mk::cli::http {

using Clock = std::chrono::steady_clock;

// An error a handler throws; answered as {"error": message, "status": status}.
struct HttpError {
  int status;
  std::string message;
};

// A request body: the raw body, or the parts of a multipart/form-data body
// (small text fields, and one file part kept like a raw body). Body bytes go
// to an unlinked temporary file, never to memory.
struct Body {
  int fd = -1;  // the raw body or the file part; -1 when there was none
  uint64_t size = 0;
  std::string file_field, filename;  // the file part's field and file name
  std::vector<std::pair<std::string, std::string>> fields;
  Body() = default;
  Body(const Body&) = delete;
  Body& operator=(const Body&) = delete;
  ~Body();
};

struct Request {
  std::string method, path;
  std::vector<std::string> matches;  // the route pattern's groups
  // Query parameters, then (for a form body) its text fields, in order.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, std::string>> headers;
  bool tls = false, loopback = false;
  Body body;
  // For work that takes time: true once the server is stopping (the work
  // gives up: stop() waits for it), and a charge of n more bytes of an
  // answer kept in a temporary file against the server's storage budget,
  // held until the answer has been sent; throws Error{503} beyond it.
  std::function<bool()> stopping;
  std::function<void(uint64_t n)> store_answer;

  const std::string* param(std::string_view key) const;
  std::optional<std::string> header(std::string_view name) const;  // case-insensitive
};

// A response's body is produced in pieces by a Producer when it is large or
// open-ended: each call fills `buf` or says to wait or to stop.
struct Step {
  enum Kind { kData, kWait, kEnd, kError } kind;
  size_t size = 0;            // kData: bytes written to buf
  Clock::time_point until{};  // kWait: call again at this time
};
class Producer {
 public:
  virtual ~Producer() = default;
  virtual Step produce(char* buf, size_t max) = 0;
};

// A body sent from a file by the kernel: `length` bytes from `offset`.
struct FileRange {
  UniqueFd fd;
  uint64_t offset = 0, length = 0;
};
// A body made piece by piece.
struct Produced {
  std::unique_ptr<Producer> producer;
  std::optional<uint64_t> length;  // known length, else chunked
  // While the producer waits, this is sent every heartbeat_interval so that
  // a client that has gone away is noticed (an SSE comment for event streams).
  std::string heartbeat;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::variant<std::string, FileRange, Produced> body;

  static Response json(const nlohmann::ordered_json& j, int status = 200);
  static Response error(int status, const std::string& message);
  // text/event-stream from `events`, with a heartbeat comment while it waits.
  static Response event_stream(std::unique_ptr<Producer> events);
};

// What a route does with a request body.
struct BodyRule {
  bool accepted = false;
  uint64_t limit = 0;  // bytes of raw body, or of the file part plus fields
  // Refuses a request before any body is read (permission, parameters): an
  // Error thrown here is answered at once and the body is never taken.
  std::function<void(const Request&)> admit;
};

struct Route {
  std::string method;
  // An OpenAPI path template: "/v1/files/{name}/block"; each {x} matches one
  // non-empty path segment, handed over in Request::matches.
  std::string path;
  // The parameters it takes, from the query or a form's text fields: any
  // other, or one given twice, is a 400 naming it (an ignored mask=true once
  // gave a plaintext export).
  std::vector<std::string> params;
  BodyRule body;
  std::function<Response(Request&)> handle;
  // Answers from memory or an open file at once: run on the polling thread.
  // Every other handler runs on the worker pool.
  bool quick = false;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  unsigned threads = 2;                   // polling threads
  unsigned max_connections = 1000;        // beyond: refused at accept
  unsigned max_connections_per_ip = 0;    // 0: no per-address limit
  unsigned idle_timeout_s = 10;           // a connection that sends nothing is closed
  std::string tls_cert_pem, tls_key_pem;  // both set: HTTPS only
  std::chrono::milliseconds heartbeat_interval{500};
  // Request bodies and answers held in temporary files, all requests
  // together: beyond, a body is cut off and an answer given up with 503
  // (uploads cannot fill the disk).
  uint64_t max_stored_bytes = 1ull << 30;
  // Handlers that take time run on `workers` threads; at most `max_queued`
  // wait for one, beyond which a request is answered 503 at once.
  unsigned workers = 2;
  size_t max_queued = 32;
};

using RequestLog =
    std::function<void(const std::string& method, const std::string& path, int status)>;

class Server {
 public:
  Server(std::vector<Route> routes, ServerOptions options, RequestLog log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Starts listening; returns the bound port. Throws std::runtime_error.
  int start();
  // Ends every paced wait, cancels queued work and waits for running work
  // (which sees Request::stopping), closes every connection and joins the
  // threads.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace h4mk::cli::http
