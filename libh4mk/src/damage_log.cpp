#include "damage_log.hpp"

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

const std::vector<Damage>& DamageLog::kept() const {
  if (kept_stale_) {
    kept_.assign(first_.begin(), first_.end());
    kept_.insert(kept_.end(), latest_.begin(), latest_.end());
    kept_stale_ = false;
  }
  return kept_;
}

}  // namespace h4mk::detail
