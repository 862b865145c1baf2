// What `h4mk serve` answers: reads of the served directory's files, and
// uploads turned into files or event streams. The route table that maps
// paths to these is in cmd_serve.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "commands.hpp"
#include "http_server.hpp"

namespace h4mk::cli {

struct ServeCounters {
  std::atomic<uint64_t> requests{0}, file_requests{0}, range_requests{0}, bytes_sent{0};
};

// GET: the listing, a file by range, and what libh4mk reads in it. Every
// answer opens the file anew, so memory per request is bounded by one block
// group (the reader's limits).
class FileHandlers {
 public:
  // Throws Failure when the root is not a directory.
  FileHandlers(const ServeOptions& options, ServeCounters& counters);
  http::Response list() const;
  // The file itself: one Range (clamped to the file; 416 when it cannot be
  // met), ETag and Last-Modified, sent from the file by the kernel.
  http::Response file(const http::Request& req);
  http::Response manifest(const http::Request& req) const;
  http::Response seek_or_chain(const http::Request& req, bool seek) const;
  // One block's payload; masked blocks stay masked unless the server has the key.
  http::Response block(const http::Request& req);
  // Server-Sent Events, one per block, read as the client takes them;
  // pace=1 sends each block at its time.
  http::Response stream(const http::Request& req);

 private:
  std::filesystem::path resolve(const std::string& name) const;
  std::unique_ptr<FileSource> open(const std::string& name) const;
  std::unique_ptr<Reader> reader(FileSource& src) const;

  const ServeOptions& options_;
  ServeCounters& counters_;
  std::filesystem::path root_;
};

// POST: the seeds' uploads. Each body is in a temporary file (the server
// kept it); answers that are files are made in another and charged to the
// server's storage budget as they are written.
class UploadHandlers {
 public:
  UploadHandlers(const ServeOptions& options, ServeCounters& counters)
      : options_(options), counters_(counters) {}
  // A key may travel only over HTTPS or from loopback: checked from the
  // headers (the query) and again with the form's fields.
  static void key_may_travel(const http::Request& req);
  // The upload cut into blocks, as .h4mk (masked or compressed on request).
  http::Response video_export(http::Request& req);
  // The same cut as events: one per block, as export would write it.
  http::Response video_stream(http::Request& req);
  // Audio through the dsp tokenizer: its kept bins as events.
  http::Response audio_stream(http::Request& req);
  // The same tokens as .h4mk: an h4core audio track the dsp adapter decodes.
  http::Response audio_export(http::Request& req);
  // The upload cut into transport blocks, every one masked.
  http::Response audio_mask(http::Request& req);

 private:
  struct KeyHold;
  KeyHold mask_key(const http::Request& req, bool mask) const;
  template <typename F>
  http::Response h4mk_download(const http::Request& req, const std::string& filename, F&& write);

  const ServeOptions& options_;
  ServeCounters& counters_;
};

}  // namespace h4mk::cli
