// The dsp adapter's payload parser (adapters/dsp_tokens/dsp_tokens.hpp) on hostile bytes:
// as an I block, then as a P block on what the I block gave; whatever parses
// must re-encode to bytes that parse to the same frames.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "dsp_tokens.hpp"

namespace {

using namespace dsp_tokens;

bool parse(const uint8_t* data, size_t size, const std::vector<Frame>* base, Header& h,
           std::vector<Frame>& prev, std::vector<Frame>& cur) {
  try {
    Cursor c(data, size);
    h = get_header(c);
    const bool whole = base == nullptr;
    if ((whole && h.frames != 2) || (!whole && h.frames != 1)) return false;
    if (!whole && base->size() != h.channels) return false;
    prev.assign(h.channels, {});
    cur = whole ? std::vector<Frame>(h.channels) : *base;
    if (whole)
      for (auto& f : prev) get_frame(c, h.hop, true, f);
    for (auto& f : cur) get_frame(c, h.hop, whole, f);
    return c.done();
  } catch (const std::runtime_error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Header h;
  std::vector<Frame> prev, cur;
  if (parse(data, size, nullptr, h, prev, cur)) {
    std::vector<uint8_t> again;
    put_header(again, h);
    for (const auto& f : prev) put_frame(again, nullptr, f);
    for (const auto& f : cur) put_frame(again, nullptr, f);
    Header h2;
    std::vector<Frame> p2, c2;
    if (!parse(again.data(), again.size(), nullptr, h2, p2, c2) || p2 != prev || c2 != cur)
      __builtin_trap();
  }
  // The same bytes as a P block on a fixed reference.
  std::vector<Frame> base(1);
  for (uint16_t b = 0; b < 64; b += 3) base[0][b] = {uint16_t(30000 + b), uint16_t(b * 999)};
  parse(data, size, &base, h, prev, cur);
  return 0;
}
