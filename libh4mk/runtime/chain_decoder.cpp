// ChainDecoder: which blocks a block builds on, and when a state comes out.
#include "h4mk/chain_decoder.hpp"

#include <string>
#include <utility>

#include "h4mk/error.hpp"

namespace h4mk {

std::optional<ChainDecoder::Frame> ChainDecoder::push(const AdapterBlock& block) {
  AdapterBlock info = block;
  info.data = {};
  StatePtr state;
  if (block.type != BlockType::kI && newer_ && chain_ >= max_chain_) {
    reset();
    ++skipped_;
    throw Error(ErrorCode::kLimitExceeded,
                "a decode chain longer than " + std::to_string(max_chain_) +
                    " blocks from its I block; the track's blocks up to its next I block are "
                    "skipped");
  }
  switch (block.type) {
    case BlockType::kI:
      state = adapter_->decode_I(block);
      chain_ = 0;
      break;
    case BlockType::kP:
      if (!newer_) {  // its reference is before where decoding started, or lost
        ++skipped_;
        return std::nullopt;
      }
      state = adapter_->apply_P(*newer_->state, block);
      break;
    case BlockType::kB:
      if (!older_ || !newer_) {
        ++skipped_;
        return std::nullopt;
      }
      if (!adapter_->supports_B())
        throw Error(ErrorCode::kInvalidArgument,
                    "adapter " + adapter_->name() + " does not decode B blocks");
      state = adapter_->apply_B(*older_->state, *newer_->state, block);
      ++chain_;
      return Frame{info, std::move(state)};
  }
  ++chain_;
  std::optional<Frame> ready;
  if (newer_ && newer_held_) ready = *newer_;
  older_ = std::move(newer_);
  newer_ = Frame{info, std::move(state)};
  newer_held_ = true;
  return ready;
}

std::optional<ChainDecoder::Frame> ChainDecoder::drain() {
  if (!newer_ || !newer_held_) return std::nullopt;
  newer_held_ = false;
  return *newer_;
}

void ChainDecoder::reset() {
  older_.reset();
  newer_.reset();
  newer_held_ = false;
}

}  // namespace h4mk
