// h4mask unmasking of hostile input. An input that starts with "H4MK" is a
// file read with the test vectors' key (every masked block is unmasked or
// refused); any other input is one envelope: 1 byte (scheme, type), 8 bytes
// pts, 8 bytes dts, then the envelope. Nothing may crash, and no block may
// come out of a gcm envelope unless it authenticates.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace {

h4mk::MaskKey vector_key() {
  h4mk::MaskKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i);
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace h4mk;
  static const MaskKey key = vector_key();
  if (size >= 4 && std::memcmp(data, "H4MK", 4) == 0) {
    try {
      MemorySource src({data, size});
      Reader r(src);
      r.set_mask_key(key);
      Block b;
      for (size_t n = 0; n < 100000; ++n) {
        try {
          if (r.next(b) == ReadEvent::kEnd) break;
        } catch (const Error& e) {
          if (e.code() != ErrorCode::kAuthFailed && e.code() != ErrorCode::kCorrupt) throw;
        }
      }
    } catch (const Error&) {
    }
    return 0;
  }
  if (size < 17) return 0;
  static const std::array<uint8_t, kMaskSaltSize> salt{};
  const auto scheme = data[0] & 1 ? MaskScheme::kAes256Ctr : MaskScheme::kAes256Gcm;
  BlockMasker m(make_track_mask(key, scheme, "fuzz", &salt), key, 1);
  BlockInfo info;
  info.track_id = 1;
  info.type = static_cast<BlockType>((data[0] >> 1) % 3);
  std::memcpy(&info.pts, data + 1, 8);
  std::memcpy(&info.dts, data + 9, 8);
  std::span<const uint8_t> env(data + 17, size - 17);
  if (env.size() < m.overhead()) return 0;
  std::vector<uint8_t> out(env.size() - m.overhead());
  try {
    m.unmask(info, env, out);
    // Authenticated (or ctr): masking the result again with the same nonce
    // must give the same envelope back.
    if (scheme == MaskScheme::kAes256Ctr) {
      std::vector<uint8_t> again(env.size());
      BlockMasker fresh(make_track_mask(key, scheme, "fuzz", &salt), key, 1);
      fresh.mask(info, out, again);
      if (again != std::vector<uint8_t>(env.begin(), env.end())) __builtin_trap();
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kAuthFailed) __builtin_trap();
  }
  return 0;
}
