// The damage a reader has met, kept for its life with bounded memory: the
// first kFirst records and the latest kLatest, and how many there were in
// all (a file with a million damaged spots costs the same as one with a
// thousand).
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "h4mk/reader.hpp"

namespace h4mk::detail {

class DamageLog {
 public:
  static constexpr size_t kFirst = 1000, kLatest = 24;

  void add(Damage d);
  uint64_t count() const { return count_; }
  // The latest record; count() must be > 0.
  Damage& last() { return latest_.empty() ? first_.back() : latest_.back(); }
  const Damage& last() const { return latest_.empty() ? first_.back() : latest_.back(); }
  // The records kept, in order: the first ones, then the latest.
  const std::vector<Damage>& kept() const;

 private:
  uint64_t count_ = 0;
  std::vector<Damage> first_;
  std::deque<Damage> latest_;  // records kFirst.., the newest last
  mutable std::vector<Damage> kept_;
  mutable bool kept_stale_ = false;
};

}  // namespace h4mk::detail
