#include "damage_log.hpp"

#include <algorithm>

namespace h4mk::detail {

void DamageLog::add(Damage d) {
  if (first_.size() < kFirst) {
    first_.push_back(std::move(d));
  } else {
    if (latest_.size() == kLatest) latest_.pop_front();
    latest_.push_back(std::move(d));
  }
  ++count_;
  kept_stale_ = true;
}

void DamageLog::truncate(uint64_t count) {
  if (count >= count_) return;
  // Only what is kept can be taken back; a probe adds a record or two.
  const uint64_t drop = std::min<uint64_t>(count_ - count, latest_.size());
  latest_.erase(latest_.end() - static_cast<std::ptrdiff_t>(drop), latest_.end());
  if (count < first_.size()) {
    first_.resize(static_cast<size_t>(count));
    latest_.clear();
  }
  count_ = count;
  kept_stale_ = true;
}

const std::vector<Damage>& DamageLog::kept() const {
  if (kept_stale_) {
    kept_.assign(first_.begin(), first_.end());
    kept_.insert(kept_.end(), latest_.begin(), latest_.end());
    kept_stale_ = false;
  }
  return kept_;
}

}  // namespace h4mk::detail
