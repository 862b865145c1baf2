// The decode chain of one track (docs/FORMAT.md §17.3): blocks in decode
// order in, states in presentation order out. decode_range and the FFmpeg
// h4core decoders (through h4mk_chain_decoder_*) both run this one.
#pragma once

#include <cstdint>
#include <optional>

#include "h4mk/adapter.hpp"
#include "h4mk/block.hpp"
#include "h4mk/export.h"
#include "h4mk/limits.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

class ChainDecoder {
 public:
  // A state ready for finalize(), with the block it is of (data empty).
  struct Frame {
    AdapterBlock info;
    StatePtr state;
  };

  explicit ChainDecoder(ModelAdapter& adapter,
                        uint32_t max_chain_blocks = ReaderLimits{}.max_chain_blocks)
      : adapter_(&adapter), max_chain_(max_chain_blocks) {}

  // One block in decode order. I starts a chain, P builds on the last anchor,
  // B on the two last anchors; a block whose references are missing is
  // skipped (counted in skipped()). Returns the frame that becomes ready: a B
  // block at once, an anchor when the next anchor arrives. Throws the
  // adapter's Error (the chain is then unchanged), Error(kInvalidArgument)
  // for a B block the adapter cannot decode, or Error(kLimitExceeded) for a
  // P or B block past max_chain_blocks from its I block (the chain is then
  // forgotten, as after damage: what follows needs an I block).
  std::optional<Frame> push(const AdapterBlock& block);
  // The anchor still held (end of stream), at most once.
  std::optional<Frame> drain();
  // Forgets the chain (a seek, damage): what follows needs an I block.
  void reset();
  // The anchors held for the next blocks (after drain, the newer one stays a
  // reference without being handed out again).
  bool has_anchor() const { return newer_.has_value(); }
  uint64_t skipped() const { return skipped_; }

 private:
  ModelAdapter* adapter_;
  uint32_t max_chain_;
  uint64_t chain_ = 0;  // blocks from the last I block on
  std::optional<Frame> older_, newer_;
  bool newer_held_ = false;  // newer_ not handed out yet
  uint64_t skipped_ = 0;
};

}  // namespace h4mk
H4MK_CXX_API_END
