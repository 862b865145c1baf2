#include "http_source.hpp"

#include <curl/curl.h>

#include <cstring>
#include <string_view>

#include "h4mk/error.hpp"
#include "http_answer.hpp"

namespace h4mk::cli {

namespace {

CURL* as_curl(void* p) { return static_cast<CURL*>(p); }

struct Transfer {
  std::span<uint8_t> buf;
  size_t got = 0;
  bool overflow = false;
  http::RangeAnswer answer;
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

// A value the server sent, as an error message shows it: cut short, so a
// server cannot fill a screen (the commands print messages escaped).
std::string shown(std::string_view value) {
  constexpr size_t kShown = 80;
  return std::string(value.substr(0, kShown)) + (value.size() > kShown ? "..." : "");
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  static_cast<Transfer*>(user)->answer.take_line({data, size * n});
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
    curl_slist_free_all(static_cast<curl_slist*>(if_range_));
    throw;
  }
}

HttpSource::~HttpSource() {
  curl_easy_cleanup(as_curl(curl_));
  curl_slist_free_all(static_cast<curl_slist*>(if_range_));
}

size_t HttpSource::read(std::span<uint8_t> buf) {
  if (pos_ >= size_ || buf.empty()) return 0;
  buf = buf.first(size_t(std::min<uint64_t>(buf.size(), size_ - pos_)));
  const size_t n = get(pos_, buf, false);
  if (n == 0)
    throw Error(ErrorCode::kIo, "the server sent no bytes at offset " + std::to_string(pos_));
  pos_ += n;
  return n;
}

size_t HttpSource::get(uint64_t from, std::span<uint8_t> buf, bool probe) {
  CURL* c = as_curl(curl_);
  Transfer t{buf, 0, false, {}};
  const uint64_t last = from + buf.size() - 1;
  const std::string range = std::to_string(from) + "-" + std::to_string(last);
  curl_easy_setopt(c, CURLOPT_RANGE, range.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  const CURLcode rc = curl_easy_perform(c);
  ++requests_;
  bytes_ += t.got;
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  // Opening names the URL; a read's error is named by whoever reads.
  const std::string who = probe ? url_ + ": " : std::string();
  const std::string at = who + "bytes " + range + ": ";
  if (!probe && if_range_ && status == 200)  // If-Range: the validator no longer matches
    throw Error(ErrorCode::kIo, at + "the file changed on the server since it was opened");
  if (t.overflow || (rc == CURLE_OK && status != 206))
    throw Error(ErrorCode::kIo, who + "the server does not answer range requests (HTTP " +
                                    std::to_string(status) + ")");
  if (rc != CURLE_OK) throw Error(ErrorCode::kIo, who + curl_easy_strerror(rc));
  // The bytes must be those asked for, of the file that was opened.
  const http::RangeAnswer& a = t.answer;
  const auto r = http::parse_content_range(a.content_range);
  if (!r)
    throw Error(ErrorCode::kIo, at + "the answer's Content-Range '" + shown(a.content_range) +
                                    "' is not bytes FIRST-LAST/SIZE");
  if (r->first != from || r->last > last || r->last - r->first + 1 != t.got)
    throw Error(ErrorCode::kIo, at + "the server sent " + std::to_string(t.got) + " bytes as '" +
                                    shown(a.content_range) + "'");
  if (probe) {
    size_ = r->size;
    // Later requests ask for the same version of the file: a strong ETag,
    // else the date (RFC 9110 If-Range); a changed file then answers 200.
    // A validator with a control character in it is none.
    const bool strong = !a.etag.empty() && a.etag.rfind("W/", 0) != 0 && http::sendable(a.etag);
    const std::string validator = strong                            ? a.etag
                                  : http::sendable(a.last_modified) ? a.last_modified
                                                                    : std::string();
    if (!validator.empty()) {
      if_range_ = curl_slist_append(nullptr, ("If-Range: " + validator).c_str());
      if (!if_range_) throw Error(ErrorCode::kOutOfMemory, "cannot set If-Range");
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, if_range_);
    }
    etag_ = a.etag;
  } else if (r->size != size_) {
    throw Error(ErrorCode::kIo, at + "the file changed on the server since it was opened (" +
                                    std::to_string(size_) + " bytes then, " +
                                    std::to_string(r->size) + " now)");
  } else if (!a.etag.empty() && !etag_.empty() && a.etag != etag_) {  // If-Range ignored
    throw Error(ErrorCode::kIo, at + "the file changed on the server since it was opened (ETag " +
                                    shown(etag_) + " then, " + shown(a.etag) + " now)");
  }
  return t.got;
}

}  // namespace h4mk::cli
