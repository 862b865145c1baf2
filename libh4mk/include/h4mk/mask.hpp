// h4mask: per-block masking with OpenSSL (docs/FORMAT.md §13).
//
// A masked track carries a TrackMask in TRAK (scheme, key id, a random salt
// and a key check value, never key material). The track key is derived once
// from the 32-byte master key and the salt (HKDF-SHA256), so every track of
// every file has its own key; BlockMasker keeps its cipher contexts and
// masks or unmasks blocks without allocating.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "h4mk/block.hpp"
#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

enum class MaskScheme : uint8_t {
  kAes256Gcm = 0,  // authenticated: 12-byte nonce + ciphertext + 16-byte tag
  kAes256Ctr = 1,  // length-preserving keystream, no bytes added
};

const char* mask_scheme_name(MaskScheme scheme) noexcept;
std::optional<MaskScheme> mask_scheme_from_name(std::string_view name) noexcept;

inline constexpr size_t kMaskKeySize = 32;
inline constexpr size_t kMaskSaltSize = 16;
inline constexpr size_t kMaskCheckSize = 8;
inline constexpr size_t kGcmNonceSize = 12;
inline constexpr size_t kGcmTagSize = 16;
inline constexpr size_t kGcmOverhead = kGcmNonceSize + kGcmTagSize;

using MaskKey = std::array<uint8_t, kMaskKeySize>;

// What an envelope is bound to: block type (u8), pts, dts (i64, little-endian),
// the gcm AAD of docs/FORMAT.md §13.3. Code that carries masked blocks apart
// from their file (FFmpeg packets) keeps these bytes with them.
inline constexpr size_t kMaskBindingSize = 17;
std::array<uint8_t, kMaskBindingSize> mask_binding(const BlockInfo& info) noexcept;

// 64 hex digits. Throws Error(kInvalidArgument) without echoing the text.
MaskKey parse_mask_key_hex(std::string_view hex);
// A key id for a key that was given none: 16 hex digits of
// HKDF-SHA256(key, "", "h4mask-v1 kid"), the same in every file.
std::string default_key_id(const MaskKey& key);

// The TRAK "mask" object of a track.
struct TrackMask {
  MaskScheme scheme = MaskScheme::kAes256Gcm;
  std::string kid;  // which key: printable ASCII, 1..64 characters
  std::array<uint8_t, kMaskSaltSize> salt{};
  std::array<uint8_t, kMaskCheckSize> check{};  // tells a wrong key at open
  friend bool operator==(const TrackMask&, const TrackMask&) = default;
};

// Fresh parameters for one track of one file: a random salt (OpenSSL
// RAND_bytes), unless one is given (test vectors), and the key's check value.
// An empty kid becomes default_key_id(key).
TrackMask make_track_mask(const MaskKey& key, MaskScheme scheme, std::string kid = {},
                          const std::array<uint8_t, kMaskSaltSize>* salt = nullptr);

// Masks and unmasks the blocks of one track. Not thread-safe; one per track.
class BlockMasker {
 public:
  // Derives the track key. Throws Error(kKeyMismatch) naming the track and KID
  // when the key's check value differs from mask.check.
  BlockMasker(const TrackMask& mask, const MaskKey& key, uint16_t track_id);
  ~BlockMasker();
  BlockMasker(const BlockMasker&) = delete;
  BlockMasker& operator=(const BlockMasker&) = delete;

  MaskScheme scheme() const { return mask_.scheme; }
  // Bytes an envelope adds to a payload: 28 (gcm) or 0 (ctr).
  size_t overhead() const;

  // Writes the envelope of `plain` to `out` (plain.size() + overhead() bytes).
  // The masker keeps what makes every envelope's keystream unique: gcm nonces
  // count the blocks it has masked (0, 1, 2, ...); ctr refuses, with
  // Error(kInvalidArgument), a block whose dts is not above the previous one's.
  void mask(const BlockInfo& info, std::span<const uint8_t> plain, std::span<uint8_t> out);
  // Writes the payload of `envelope` to `out` (envelope.size() - overhead()
  // bytes). Throws Error(kAuthFailed) naming the track and pts when a gcm
  // envelope does not authenticate (wrong track, time, type or file; altered
  // bytes) and Error(kCorrupt) when it is shorter than overhead().
  void unmask(const BlockInfo& info, std::span<const uint8_t> envelope, std::span<uint8_t> out);

 private:
  struct Impl;
  Impl* impl_;
  TrackMask mask_;
  uint64_t masked_ = 0;   // blocks masked so far: the next gcm nonce
  int64_t last_dts_ = 0;  // ctr: dts of the last masked block
};

}  // namespace h4mk
H4MK_CXX_API_END
