// A Source over HTTP(S) range requests (libcurl): what the h4mk commands read
// a URL through (ReadWindow on top, but for verify). Each read is one request
// for exactly the bytes asked; the size comes from the first request's
// Content-Range, and every later request asks, with If-Range, for that same
// version of the file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "h4mk/io.hpp"

namespace h4mk::cli {

bool is_http_url(const std::string& name);

class HttpSource final : public Source {
 public:
  // Throws Error(kIo) when the server cannot be reached, does not answer
  // range requests, or answers with something else than asked: other
  // bytes, or those of a file changed since the first request.
  explicit HttpSource(std::string url);
  ~HttpSource() override;
  HttpSource(const HttpSource&) = delete;
  HttpSource& operator=(const HttpSource&) = delete;

  size_t read(std::span<uint8_t> buf) override;
  bool seekable() const override { return true; }
  void seek(uint64_t offset) override { pos_ = offset; }
  std::optional<uint64_t> size() const override { return size_; }

  uint64_t requests() const { return requests_; }
  uint64_t bytes() const { return bytes_; }

 private:
  // One GET of [from, from + buf.size()); returns the bytes received.
  size_t get(uint64_t from, std::span<uint8_t> buf, bool probe);

  std::string url_;
  void* curl_;                // CURL*
  void* if_range_ = nullptr;  // curl_slist*: the If-Range header of every read after the first
  uint64_t pos_ = 0;
  uint64_t size_ = 0;
  std::string etag_;  // the first answer's
  uint64_t requests_ = 0, bytes_ = 0;
};

}  // namespace h4mk::cli
