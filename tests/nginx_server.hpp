// nginx (Debian's nginx-light) serving a directory on loopback, with Range
// support, for as long as the object lives: the plain HTTP server, CDN or
// object store a remote reader meets. Its access log counts the requests
// and bytes a reader cost.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace h4mk::test {

class NginxServer {
 public:
  explicit NginxServer(std::filesystem::path root) : root_(std::move(root)), port_(free_port()) {
    const std::filesystem::path d = root_ / "nginx";
    std::filesystem::create_directories(d);
    // Each line: the status and the bytes sent in the body.
    std::ofstream(d / "nginx.conf")
        << "worker_processes 1;\npid " << (d / "nginx.pid").string() << ";\n"
        << "error_log " << (d / "error.log").string() << ";\n"
        << "events { worker_connections 64; }\n"
        << "http {\n  log_format counts '$status $body_bytes_sent $http_range';\n"
        << "  access_log " << (d / "access.log").string() << " counts;\n"
        << "  client_body_temp_path " << d.string() << ";\n"
        << "  server { listen 127.0.0.1:" << port_ << "; root " << root_.string() << "; }\n}\n";
    started_ = std::system(("nginx -e " + (d / "error.log").string() + " -p " + d.string() +
                            " -c " + (d / "nginx.conf").string())
                               .c_str()) == 0;
    EXPECT_TRUE(started_) << slurp(d / "error.log");
  }
  ~NginxServer() {
    if (started_)
      std::system(("nginx -p " + (root_ / "nginx").string() + " -c " +
                   (root_ / "nginx" / "nginx.conf").string() + " -s stop")
                      .c_str());
  }
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  std::string url(const std::string& file) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + file;
  }
  // Requests answered so far, and the body bytes sent for them.
  size_t requests() const {
    const std::string log = slurp(root_ / "nginx" / "access.log");
    return size_t(std::count(log.begin(), log.end(), '\n'));
  }
  uint64_t bytes_sent() const {
    std::istringstream log(slurp(root_ / "nginx" / "access.log"));
    uint64_t total = 0;
    for (std::string line; std::getline(log, line);) {
      std::istringstream fields(line);
      int status = 0;
      uint64_t bytes = 0;
      fields >> status >> bytes;
      total += bytes;
    }
    return total;
  }

 private:
  static std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  // A free loopback port (the kernel picks it; nginx binds it right after).
  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    close(fd);
    return ntohs(a.sin_port);
  }

  std::filesystem::path root_;
  int port_;
  bool started_ = false;
};

}  // namespace h4mk::test
