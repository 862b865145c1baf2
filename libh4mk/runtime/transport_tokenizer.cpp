// TransportTokenizer: fixed-size opaque blocks from a byte stream.
#include <algorithm>

#include "h4mk/error.hpp"
#include "h4mk/transport.hpp"

namespace h4mk {

TransportTokenizer::TransportTokenizer(uint32_t block_size, uint32_t gop)
    : block_size_(block_size), gop_(gop) {
  if (block_size == 0) throw Error(ErrorCode::kInvalidArgument, "block size must be positive");
  if (gop == 0) throw Error(ErrorCode::kInvalidArgument, "GOP length must be positive");
}

void TransportTokenizer::emit(std::span<const uint8_t> payload) {
  TokenBlock b;
  b.type = count_ % gop_ == 0 ? BlockType::kI : BlockType::kP;
  b.pts = b.dts = static_cast<int64_t>(count_);
  b.duration = 1;
  b.data.assign(payload.begin(), payload.end());
  ready_.push_back(std::move(b));
  ++count_;
}

void TransportTokenizer::push(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (partial_.empty() && bytes.size() >= block_size_) {  // whole blocks without a copy
      emit(bytes.first(block_size_));
      bytes = bytes.subspan(block_size_);
      continue;
    }
    size_t take = std::min<size_t>(bytes.size(), block_size_ - partial_.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    if (partial_.size() == block_size_) {
      emit(partial_);
      partial_.clear();
    }
  }
}

void TransportTokenizer::finish() {
  if (!partial_.empty()) emit(partial_);
  partial_.clear();
}

bool TransportTokenizer::next(TokenBlock& out) {
  if (ready_.empty()) return false;
  out = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

}  // namespace h4mk
