// `h4mk serve` as a child process for tests: started on a free loopback
// port (read from its first line of output), stopped with SIGTERM.
#pragma once

#include <httplib.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

extern char** environ;

namespace h4mk::test {

// A work directory for one test program: `root/` (what the server serves)
// holding a.h4mk, `seconds` of the test streams.
inline std::filesystem::path served_work_dir(const std::filesystem::path& parent,
                                             const std::string& name, double seconds) {
  std::filesystem::path p = process_work_dir(parent, name);
  std::filesystem::create_directories(p / "root");
  StreamSpec spec;
  spec.seconds = seconds;
  write_file((p / "root" / "a.h4mk").string(), write_stream(test_tracks(spec), make_stream(spec)));
  return p;
}

class ServeProcess {
 public:
  ServeProcess(const std::string& tool, const std::string& root, std::vector<std::string> extra) {
    int out[2];
    if (pipe(out) != 0) return;
    std::vector<std::string> args = {tool, "serve", root, "--port", "0", "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    // fork + exec rather than posix_spawn: the server is told to end with
    // this process, so a test that crashes leaves no server holding ctest's pipe.
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != parent) _exit(127);
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      execve(argv[0], argv.data(), environ);
      _exit(127);
    }
    if (pid_ < 0) pid_ = 0;
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    auto colon = line.rfind(':');
    port_ = colon == std::string::npos ? 0 : std::atoi(line.c_str() + colon + 1);
  }
  ~ServeProcess() {
    if (pid_ > 0) stop();
  }
  pid_t pid() const { return pid_; }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  // SIGTERM; the exit status, or -1 if it did not exit within 10 s.
  int stop() {
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; i++) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = 0;
    return -1;
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(10);
    return c;
  }
  nlohmann::json stats() const {
    auto r = client().Get("/v1/stats");
    return r ? nlohmann::json::parse(r->body) : nlohmann::json();
  }

  // The server's own resources, from /proc: a field of status in kB
  // ("VmHWM", "VmRSS"), the peak reset, and its open descriptors.
  long status_kb(const std::string& field) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    return -1;
  }
  void reset_peak_memory() const {
    std::ofstream("/proc/" + std::to_string(pid_) + "/clear_refs") << "5";
  }
  size_t open_descriptors() const {
    size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid_) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
      n++;
    return n;
  }

 private:
  pid_t pid_ = 0;
  int port_ = 0;
};

}  // namespace h4mk::test
