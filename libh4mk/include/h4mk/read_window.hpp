// A Source that reads the one below it in windows: 64 KiB after opening or
// a seek (a group header and its records, or a head of several small
// chunks, at once), then, while reading goes on where the last window
// ended, twice the last, up to 4 MiB. For a source whose every read is a
// request (a range over HTTP, an object store), where a Reader's exact
// reads at open would each be one. A read at least as large as the next
// window goes to the source as it is.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "h4mk/export.h"
#include "h4mk/io.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

class ReadWindow final : public Source {
 public:
  explicit ReadWindow(std::unique_ptr<Source> s) : s_(std::move(s)) {}

  size_t read(std::span<uint8_t> buf) override {
    if (buf.empty()) return 0;
    if (pos_ < start_ || pos_ - start_ >= window_.size()) {
      const size_t n = next_window_size();
      if (n == 0) return 0;  // at the source's end
      if (buf.size() >= n) {
        window_.clear();
        const size_t got = fetch(buf);
        pos_ += got;
        return got;
      }
      window_.resize(n);
      window_.resize(fetch(window_));
      start_ = pos_;
      if (window_.empty()) return 0;  // the end
    }
    const size_t at = size_t(pos_ - start_);
    const size_t n = std::min(buf.size(), window_.size() - at);
    std::memcpy(buf.data(), window_.data() + at, n);
    pos_ += n;
    return n;
  }
  bool seekable() const override { return s_->seekable(); }
  void seek(uint64_t offset) override { pos_ = offset; }
  std::optional<uint64_t> size() const override { return s_->size(); }

 private:
  static constexpr size_t kFirst = size_t(64) << 10;
  static constexpr int kMaxDoublings = 6;  // 64 KiB << 6 = 4 MiB

  size_t next_window_size() {
    streak_ = pos_ == end_ ? std::min(streak_ + 1, kMaxDoublings + 1) : 0;
    const size_t n = kFirst << std::max(0, streak_ - 1);
    const std::optional<uint64_t> size = s_->size();
    return size ? size_t(std::min<uint64_t>(n, *size - std::min(*size, pos_))) : n;
  }

  // The source's bytes from pos_ into buf, as many as it has.
  size_t fetch(std::span<uint8_t> buf) {
    if (pos_ != end_) s_->seek(pos_);
    size_t got = 0;
    while (got < buf.size()) {
      const size_t n = s_->read(buf.subspan(got));
      if (n == 0) break;
      got += n;
    }
    end_ = pos_ + got;
    return got;
  }

  std::unique_ptr<Source> s_;
  uint64_t pos_ = 0;    // where reading is
  uint64_t start_ = 0;  // where window_ starts
  uint64_t end_ = 0;    // where the source stands: the end of the last fetch
  std::vector<uint8_t> window_;
  int streak_ = 0;  // fetches in a row, each where the last ended
};

}  // namespace h4mk
H4MK_CXX_API_END
