// The video transport tokenizer (the seeds' export): a raw byte stream cut
// into opaque blocks of block_size bytes, an I block every gop blocks, pts
// counting blocks (time base 1/fps). The null adapter decodes it back to the
// same bytes.
#pragma once

#include <cstdint>
#include <deque>
#include <span>
#include <vector>

#include "h4mk/adapter.hpp"
#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

class TransportTokenizer {
 public:
  // Throws Error(kInvalidArgument) for a zero block size or GOP.
  TransportTokenizer(uint32_t block_size, uint32_t gop);
  void push(std::span<const uint8_t> bytes);
  // No more input: the remainder becomes a last, shorter block.
  void finish();
  // false when no block is ready. Blocks have pts = dts = index, duration 1.
  bool next(TokenBlock& out);

  uint64_t blocks() const { return count_; }

 private:
  void emit(std::span<const uint8_t> payload);
  uint32_t block_size_, gop_;
  uint64_t count_ = 0;
  std::vector<uint8_t> partial_;
  std::deque<TokenBlock> ready_;
};

}  // namespace h4mk
H4MK_CXX_API_END
