// A Source that counts what reaches the one below it: bytes, and reads that
// do not continue the one before (what a range reader sends as separate
// requests). `h4mk verify --from/--to` reports them; tests compare readers
// with them.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "h4mk/io.hpp"

namespace h4mk::cli {

class CountingSource final : public Source {
 public:
  explicit CountingSource(Source& s, bool record_ranges = false)
      : s_(s), record_ranges_(record_ranges) {}
  size_t read(std::span<uint8_t> buf) override {
    const size_t n = s_.read(buf);
    if (pos_ != end_) ++requests;
    bytes += n;
    if (record_ranges_ && n) ranges.push_back({pos_, pos_ + n});
    pos_ += n;
    end_ = pos_;
    return n;
  }
  bool seekable() const override { return s_.seekable(); }
  void seek(uint64_t offset) override {
    s_.seek(offset);
    pos_ = offset;
  }
  std::optional<uint64_t> size() const override { return s_.size(); }
  void reset() {
    bytes = requests = 0;
    ranges.clear();
  }

  uint64_t bytes = 0, requests = 0;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // [from, to), when recorded

 private:
  Source& s_;
  bool record_ranges_;
  uint64_t pos_ = 0, end_ = UINT64_MAX;
};

}  // namespace h4mk::cli
