#include "http_source.hpp"

#include <curl/curl.h>

#include <cstring>

#include "h4mk/error.hpp"

namespace h4mk::cli {

namespace {

CURL* as_curl(void* p) { return static_cast<CURL*>(p); }

struct Transfer {
  std::span<uint8_t> buf;
  size_t got = 0;
  bool overflow = false;
  std::string content_range;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (len > t->buf.size() - t->got) {  // more than asked: a server that ignored Range
    t->overflow = true;
    return 0;
  }
  std::memcpy(t->buf.data() + t->got, data, len);
  t->got += len;
  return len;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.size() > 14 && strncasecmp(line.c_str(), "content-range:", 14) == 0)
    t->content_range = line.substr(14);
  return size * n;
}

}  // namespace

bool is_http_url(const std::string& name) {
  return name.rfind("http://", 0) == 0 || name.rfind("https://", 0) == 0;
}

HttpSource::HttpSource(std::string url) : url_(std::move(url)), curl_(curl_easy_init()) {
  if (!curl_) throw Error(ErrorCode::kOutOfMemory, "cannot start libcurl");
  CURL* c = as_curl(curl_);
  curl_easy_setopt(c, CURLOPT_URL, url_.c_str());
  // A URL names a file to read, nothing else: no other protocol, even
  // through a redirect; bounded waits.
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  uint8_t first[1];
  try {
    get(0, first, true);
  } catch (...) {  // no destructor runs for an object whose constructor threw
    curl_easy_cleanup(c);
    throw;
  }
}

HttpSource::~HttpSource() { curl_easy_cleanup(as_curl(curl_)); }

size_t HttpSource::read(std::span<uint8_t> buf) {
  if (pos_ >= size_ || buf.empty()) return 0;
  buf = buf.first(size_t(std::min<uint64_t>(buf.size(), size_ - pos_)));
  const size_t n = get(pos_, buf, false);
  if (n == 0)
    throw Error(ErrorCode::kIo,
                url_ + ": the server sent no bytes at offset " + std::to_string(pos_));
  pos_ += n;
  return n;
}

size_t HttpSource::get(uint64_t from, std::span<uint8_t> buf, bool probe) {
  CURL* c = as_curl(curl_);
  Transfer t{buf, 0, false, {}};
  const std::string range = std::to_string(from) + "-" + std::to_string(from + buf.size() - 1);
  curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  const CURLcode rc = curl_easy_perform(c);
  ++requests_;
  bytes_ += t.got;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (t.overflow || (rc == CURLE_OK && status != 206))
    throw Error(ErrorCode::kIo, url_ + ": the server does not answer range requests (HTTP " +
                                    std::to_string(status) + ")");
  if (rc != CURLE_OK) throw Error(ErrorCode::kIo, url_ + ": " + curl_easy_strerror(rc));
  if (probe) {
    // "bytes 0-0/12345": the total after the slash.
    const size_t slash = t.content_range.find('/');
    try {
      size_ = slash == std::string::npos ? 0 : std::stoull(t.content_range.substr(slash + 1));
    } catch (const std::logic_error&) {
      size_ = 0;
    }
    if (size_ == 0) throw Error(ErrorCode::kIo, url_ + ": the server does not say the file's size");
  }
  return t.got;
}

}  // namespace h4mk::cli
