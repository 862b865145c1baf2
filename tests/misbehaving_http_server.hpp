// A one-file HTTP server on loopback that answers range requests in one of
// a few ways a broken or hostile server, proxy or CDN does, for as long as
// the object lives: what a remote reader must refuse by name. kHonest
// answers as nginx would (the control).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace h4mk::test {

class MisbehavingHttpServer {
 public:
  enum class Mode {
    kHonest,               // 206 with the bytes asked, a strong ETag, If-Range honoured
    kShiftedRange,         // 206 with the bytes one further on, and says so
    kChangesAfterOpen,     // after the first answer the file has a byte more and a new ETag
    kChangesIgnoringEtag,  // the same, but If-Range is ignored: 206 of the new file
    kChangesInPlace,       // after the first answer a byte differs, new ETag, If-Range ignored
    kHeaderInEtag,         // honest, but its ETag holds a bare CR and a header after it
    kHostileContentRange,  // a size above 2^64 - 1, then a terminal escape, in Content-Range
  };
  // What kHeaderInEtag's ETag carries after the CR.
  static constexpr const char* kInjected = "X-Injected: yes";

  MisbehavingHttpServer(std::vector<uint8_t> file, Mode mode)
      : file_(std::move(file)), mode_(mode), fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || listen(fd_, 8) != 0)
      return;
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~MisbehavingHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  MisbehavingHttpServer(const MisbehavingHttpServer&) = delete;
  MisbehavingHttpServer& operator=(const MisbehavingHttpServer&) = delete;

  bool started() const { return port_ != 0; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/f.h4mk"; }
  int requests() const { return requests_; }
  // Whether some request's head held `text`.
  bool was_sent(const std::string& text) const {
    std::lock_guard<std::mutex> lock(heads_lock_);
    for (const std::string& h : heads_)
      if (h.find(text) != std::string::npos) return true;
    return false;
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      answer(c, read_head(c));
      close(c);
    }
  }

  static std::string read_head(int c) {
    std::string head;
    char buf[1024];
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
      const ssize_t n = recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, size_t(n));
    }
    return head;
  }

  static std::string header(const std::string& head, const std::string& name) {
    const size_t at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) return {};
    const size_t from = at + 4 + name.size();
    return head.substr(from, head.find("\r\n", from) - from);
  }

  static void send_all(int c, const std::string& head, const uint8_t* body, size_t n) {
    std::string out = head;
    out.append(reinterpret_cast<const char*>(body), n);
    for (size_t sent = 0; sent < out.size();) {
      const ssize_t k = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (k <= 0) return;
      sent += size_t(k);
    }
  }

  void answer(int c, const std::string& head) {
    {
      std::lock_guard<std::mutex> lock(heads_lock_);
      heads_.push_back(head);
    }
    const bool first = requests_++ == 0;
    const bool changed =
        !first && (mode_ == Mode::kChangesAfterOpen || mode_ == Mode::kChangesIgnoringEtag ||
                   mode_ == Mode::kChangesInPlace);
    const bool ignores_if_range =
        mode_ == Mode::kChangesIgnoringEtag || mode_ == Mode::kChangesInPlace;
    std::vector<uint8_t> file = file_;
    if (changed && mode_ == Mode::kChangesInPlace)
      file.back() ^= 1;
    else if (changed)
      file.push_back(0);
    const std::string etag = mode_ == Mode::kHeaderInEtag ? std::string("\"v1\"\r") + kInjected
                             : changed                    ? "\"v2\""
                                                          : "\"v1\"";
    uint64_t a = 0, b = 0;
    const std::string range = header(head, "Range");
    const bool ranged = std::sscanf(range.c_str(), "bytes=%" SCNu64 "-%" SCNu64, &a, &b) == 2;
    const std::string if_range = header(head, "If-Range");
    const bool whole = !ranged || (!ignores_if_range && !if_range.empty() && if_range != etag);
    if (whole) {
      send_all(c,
               "HTTP/1.1 200 OK\r\nETag: " + etag + "\r\nContent-Length: " +
                   std::to_string(file.size()) + "\r\nConnection: close\r\n\r\n",
               file.data(), file.size());
      return;
    }
    if (mode_ == Mode::kShiftedRange) ++a, ++b;
    b = std::min<uint64_t>(b, file.size() - 1);
    if (a > b) {
      send_all(c, "HTTP/1.1 416 Range Not Satisfiable\r\nConnection: close\r\n\r\n", nullptr, 0);
      return;
    }
    send_all(c,
             "HTTP/1.1 206 Partial Content\r\nETag: " + etag + "\r\nContent-Range: bytes " +
                 std::to_string(a) + "-" + std::to_string(b) + "/" +
                 (mode_ == Mode::kHostileContentRange ? "18446744073709551616\x1b[2J"
                                                      : std::to_string(file.size())) +
                 "\r\nContent-Length: " + std::to_string(b - a + 1) +
                 "\r\nConnection: close\r\n\r\n",
             file.data() + a, size_t(b - a + 1));
  }

  std::vector<uint8_t> file_;
  Mode mode_;
  int fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  mutable std::mutex heads_lock_;
  std::vector<std::string> heads_;  // of every request
  std::thread thread_;
};

}  // namespace h4mk::test
