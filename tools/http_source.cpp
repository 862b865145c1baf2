#include "http_source.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <optional>

#include "h4mk/error.hpp"

namespace h4mk::cli {

namespace {

CURL* as_curl(void* p) { return static_cast<CURL*>(p); }

struct Transfer {
  std::span<uint8_t> buf;
  size_t got = 0;
  bool overflow = false;
  std::string content_range, etag, last_modified;
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

// A header's value without surrounding blanks, if the line is that header.
std::optional<std::string> header_value(const std::string& line, const char* name) {
  const size_t n = std::strlen(name);
  if (line.size() <= n || strncasecmp(line.c_str(), name, n) != 0 || line[n] != ':')
    return std::nullopt;
  const size_t b = line.find_first_not_of(" \t", n + 1);
  const size_t e = line.find_last_not_of(" \t\r\n");
  return b == std::string::npos || e < b ? std::string() : line.substr(b, e - b + 1);
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {  // an answer begins (the next one after a redirect)
    t->content_range.clear();
    t->etag.clear();
    t->last_modified.clear();
  }
  if (auto v = header_value(line, "content-range")) t->content_range = *v;
  if (auto v = header_value(line, "etag")) t->etag = *v;
  if (auto v = header_value(line, "last-modified")) t->last_modified = *v;
  return size * n;
}

// A field value this client may send back in a header of its own (RFC 9110
// §5.5): no control character, so a server cannot make it add headers.
bool sendable(const std::string& v) {
  return std::all_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
  });
}

// "bytes FIRST-LAST/TOTAL", each a decimal number.
struct ContentRange {
  uint64_t first, last, total;
};
std::optional<ContentRange> parse_content_range(const std::string& v) {
  ContentRange r{};
  char tail = 0;
  if (std::sscanf(v.c_str(), "bytes %" SCNu64 "-%" SCNu64 "/%" SCNu64 "%c", &r.first, &r.last,
                  &r.total, &tail) != 3 ||
      r.first > r.last || r.last >= r.total)
    return std::nullopt;
  return r;
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
  Transfer t{buf, 0, false, {}, {}, {}};
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
  const auto r = parse_content_range(t.content_range);
  if (!r)
    throw Error(ErrorCode::kIo, at + "the answer's Content-Range '" + t.content_range +
                                    "' is not bytes FIRST-LAST/SIZE");
  if (r->first != from || r->last > last || r->last - r->first + 1 != t.got)
    throw Error(ErrorCode::kIo, at + "the server sent " + std::to_string(t.got) + " bytes as '" +
                                    t.content_range + "'");
  if (probe) {
    size_ = r->total;
    // Later requests ask for the same version of the file: a strong ETag,
    // else the date (RFC 9110 If-Range); a changed file then answers 200.
    // A validator with a control character in it is none.
    const bool strong = !t.etag.empty() && t.etag.rfind("W/", 0) != 0 && sendable(t.etag);
    const std::string validator = strong                      ? t.etag
                                  : sendable(t.last_modified) ? t.last_modified
                                                              : std::string();
    if (!validator.empty()) {
      if_range_ = curl_slist_append(nullptr, ("If-Range: " + validator).c_str());
      if (!if_range_) throw Error(ErrorCode::kOutOfMemory, "cannot set If-Range");
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, if_range_);
    }
    etag_ = t.etag;
  } else if (r->total != size_) {
    throw Error(ErrorCode::kIo, at + "the file changed on the server since it was opened (" +
                                    std::to_string(size_) + " bytes then, " +
                                    std::to_string(r->total) + " now)");
  } else if (!t.etag.empty() && !etag_.empty() && t.etag != etag_) {  // If-Range ignored
    throw Error(ErrorCode::kIo, at + "the file changed on the server since it was opened (ETag " +
                                    etag_ + " then, " + t.etag + " now)");
  }
  return t.got;
}

}  // namespace h4mk::cli
