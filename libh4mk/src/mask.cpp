// h4mask with OpenSSL EVP: HKDF-SHA256 key schedule, AES-256-GCM envelopes
// and AES-256-CTR keystreams (docs/FORMAT.md §13).
#include "h4mk/mask.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "byte_order.hpp"
#include "h4mk/error.hpp"
#include "hash_chain.hpp"

namespace h4mk {

using detail::to_hex;

namespace {

constexpr char kKeyInfoPrefix[] = "h4mask-v1 ";
constexpr char kKidInfo[] = "h4mask-v1 kid";
// EVP lengths are int: long payloads go through in slices.
constexpr size_t kSlice = size_t(1) << 30;

void check(int ok, const char* what) {
  if (ok != 1) throw Error(ErrorCode::kInternal, std::string("OpenSSL failed in ") + what);
}

// HKDF-SHA256(ikm, salt, info) -> out.
void hkdf(std::span<const uint8_t> ikm, std::span<const uint8_t> salt, std::string_view info,
          std::span<uint8_t> out) {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!kdf) throw Error(ErrorCode::kInternal, "OpenSSL has no HKDF implementation");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  if (!ctx) throw Error(ErrorCode::kOutOfMemory, "cannot allocate an HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                                  const_cast<uint8_t*>(ikm.data()), ikm.size());
  if (!salt.empty())
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<uint8_t*>(salt.data()), salt.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  check(ok, "HKDF");
}

struct TrackKey {
  uint8_t key[kMaskKeySize];
  uint8_t check[kMaskCheckSize];
  ~TrackKey() { OPENSSL_cleanse(this, sizeof(*this)); }
};

// One HKDF call gives the track key and its check value.
void derive_track_key(const MaskKey& master, MaskScheme scheme,
                      std::span<const uint8_t, kMaskSaltSize> salt, TrackKey& out) {
  uint8_t okm[kMaskKeySize + kMaskCheckSize];
  hkdf(master, salt, std::string(kKeyInfoPrefix) + mask_scheme_name(scheme), okm);
  std::memcpy(out.key, okm, kMaskKeySize);
  std::memcpy(out.check, okm + kMaskKeySize, kMaskCheckSize);
  OPENSSL_cleanse(okm, sizeof okm);
}

const EVP_CIPHER* cipher_for(MaskScheme scheme) {
  static EVP_CIPHER* gcm = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  static EVP_CIPHER* ctr = EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr);
  EVP_CIPHER* c = scheme == MaskScheme::kAes256Gcm ? gcm : ctr;
  if (!c) throw Error(ErrorCode::kInternal, "OpenSSL has no AES-256 GCM/CTR implementation");
  return c;
}

// "track 2, P block at pts 40"; a masker of packets (track 0) knows no track.
std::string where(uint16_t track_id, const BlockInfo& info) {
  const uint16_t id = info.track_id ? info.track_id : track_id;
  return (id ? "track " + std::to_string(id) + ", " : std::string()) + block_type_name(info.type) +
         " block at pts " + std::to_string(info.pts);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::array<uint8_t, kMaskBindingSize> mask_binding(const BlockInfo& info) noexcept {
  std::array<uint8_t, kMaskBindingSize> b{};
  b[0] = uint8_t(info.type);
  detail::store_u64(b.data() + 1, uint64_t(info.pts));
  detail::store_u64(b.data() + 9, uint64_t(info.dts));
  return b;
}

const char* mask_scheme_name(MaskScheme scheme) noexcept {
  return scheme == MaskScheme::kAes256Ctr ? "aes-256-ctr" : "aes-256-gcm";
}

std::optional<MaskScheme> mask_scheme_from_name(std::string_view name) noexcept {
  if (name == "aes-256-gcm") return MaskScheme::kAes256Gcm;
  if (name == "aes-256-ctr") return MaskScheme::kAes256Ctr;
  return std::nullopt;
}

MaskKey parse_mask_key_hex(std::string_view hex) {
  MaskKey key{};
  if (hex.size() != 2 * kMaskKeySize)
    throw Error(ErrorCode::kInvalidArgument, "a mask key is 64 hex digits (32 bytes); got " +
                                                 std::to_string(hex.size()) + " characters");
  for (size_t i = 0; i < kMaskKeySize; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      OPENSSL_cleanse(key.data(), key.size());
      throw Error(ErrorCode::kInvalidArgument,
                  "a mask key is 64 hex digits; found another "
                  "character at position " +
                      std::to_string(2 * i + (hi < 0 ? 0 : 1)));
    }
    key[i] = uint8_t(hi << 4 | lo);
  }
  return key;
}

std::string default_key_id(const MaskKey& key) {
  uint8_t id[8];
  hkdf(key, {}, kKidInfo, id);
  return to_hex(id);
}

TrackMask make_track_mask(const MaskKey& key, MaskScheme scheme, std::string kid,
                          const std::array<uint8_t, kMaskSaltSize>* salt) {
  TrackMask m;
  m.scheme = scheme;
  m.kid = kid.empty() ? default_key_id(key) : std::move(kid);
  if (m.kid.size() > 64 ||
      !std::all_of(m.kid.begin(), m.kid.end(), [](char c) { return c >= 0x20 && c < 0x7f; }))
    throw Error(ErrorCode::kInvalidArgument, "a key id is 1..64 printable ASCII characters");
  if (salt)
    m.salt = *salt;
  else
    check(RAND_bytes(m.salt.data(), int(m.salt.size())), "RAND_bytes");
  TrackKey tk;
  derive_track_key(key, scheme, m.salt, tk);
  std::memcpy(m.check.data(), tk.check, kMaskCheckSize);
  return m;
}

struct BlockMasker::Impl {
  uint16_t track_id;
  EVP_CIPHER_CTX* enc = nullptr;  // gcm encrypt, or ctr both ways
  EVP_CIPHER_CTX* dec = nullptr;  // gcm decrypt
  std::array<uint8_t, kMaskBindingSize> aad{};

  ~Impl() {
    EVP_CIPHER_CTX_free(enc);
    EVP_CIPHER_CTX_free(dec);
  }

  void set_aad(const BlockInfo& info) { aad = mask_binding(info); }

  // The ctr counter block: dts (big-endian, so distinct dts values start
  // 2^64 AES blocks apart) then a 64-bit block counter from 0.
  static void ctr_iv(const BlockInfo& info, uint8_t iv[16]) {
    const auto d = uint64_t(info.dts);
    for (int i = 0; i < 8; ++i) iv[i] = uint8_t(d >> (56 - 8 * i));
    std::memset(iv + 8, 0, 8);
  }

  // Runs the cipher over in -> out in int-sized slices.
  static void run(EVP_CIPHER_CTX* ctx, bool encrypt, std::span<const uint8_t> in, uint8_t* out) {
    for (size_t done = 0; done < in.size();) {
      const size_t n = std::min(kSlice, in.size() - done);
      int len = 0;
      check(encrypt ? EVP_EncryptUpdate(ctx, out + done, &len, in.data() + done, int(n))
                    : EVP_DecryptUpdate(ctx, out + done, &len, in.data() + done, int(n)),
            "AES update");
      done += n;
    }
  }
};

BlockMasker::BlockMasker(const TrackMask& mask, const MaskKey& key, uint16_t track_id)
    : impl_(new Impl{track_id}), mask_(mask) {
  try {
    TrackKey tk;
    derive_track_key(key, mask.scheme, mask.salt, tk);
    if (CRYPTO_memcmp(tk.check, mask.check.data(), kMaskCheckSize) != 0)
      throw Error(ErrorCode::kKeyMismatch,
                  (track_id ? "track " + std::to_string(track_id) + ": " : std::string()) +
                      "the key is not the one the track was masked with (key id '" + mask.kid +
                      "')");
    const EVP_CIPHER* cipher = cipher_for(mask.scheme);
    impl_->enc = EVP_CIPHER_CTX_new();
    if (!impl_->enc) throw Error(ErrorCode::kOutOfMemory, "cannot allocate a cipher context");
    check(EVP_EncryptInit_ex(impl_->enc, cipher, nullptr, tk.key, nullptr), "AES key setup");
    if (mask.scheme == MaskScheme::kAes256Gcm) {
      impl_->dec = EVP_CIPHER_CTX_new();
      if (!impl_->dec) throw Error(ErrorCode::kOutOfMemory, "cannot allocate a cipher context");
      check(EVP_DecryptInit_ex(impl_->dec, cipher, nullptr, tk.key, nullptr), "AES key setup");
    }
  } catch (...) {
    delete impl_;
    throw;
  }
}

BlockMasker::~BlockMasker() { delete impl_; }

size_t BlockMasker::overhead() const {
  return mask_.scheme == MaskScheme::kAes256Gcm ? kGcmOverhead : 0;
}

void BlockMasker::mask(const BlockInfo& info, std::span<const uint8_t> plain,
                       std::span<uint8_t> out) {
  if (out.size() != plain.size() + overhead())
    throw Error(ErrorCode::kInvalidArgument, "mask: output must be the payload size + overhead");
  if (mask_.scheme == MaskScheme::kAes256Ctr && masked_ > 0 && info.dts <= last_dts_)
    throw Error(ErrorCode::kInvalidArgument,
                where(impl_->track_id, info) +
                    ": aes-256-ctr masking needs strictly increasing dts (dts " +
                    std::to_string(info.dts) + " after " + std::to_string(last_dts_) +
                    ") so no keystream is used twice");
  const uint64_t sequence = masked_;
  Impl& m = *impl_;
  if (mask_.scheme == MaskScheme::kAes256Ctr) {
    uint8_t iv[16];
    Impl::ctr_iv(info, iv);
    check(EVP_EncryptInit_ex(m.enc, nullptr, nullptr, nullptr, iv), "AES-CTR iv");
    Impl::run(m.enc, true, plain, out.data());
    ++masked_;
    last_dts_ = info.dts;
    return;
  }
  uint8_t* nonce = out.data();
  std::memset(nonce, 0, 4);
  detail::store_u64(nonce + 4, sequence);
  m.set_aad(info);
  int len = 0;
  check(EVP_EncryptInit_ex(m.enc, nullptr, nullptr, nullptr, nonce), "AES-GCM nonce");
  check(EVP_EncryptUpdate(m.enc, nullptr, &len, m.aad.data(), int(m.aad.size())), "AES-GCM aad");
  Impl::run(m.enc, true, plain, out.data() + kGcmNonceSize);
  check(EVP_EncryptFinal_ex(m.enc, out.data() + kGcmNonceSize + plain.size(), &len),
        "AES-GCM final");
  check(EVP_CIPHER_CTX_ctrl(m.enc, EVP_CTRL_GCM_GET_TAG, kGcmTagSize,
                            out.data() + kGcmNonceSize + plain.size()),
        "AES-GCM tag");
  ++masked_;
  last_dts_ = info.dts;
}

void BlockMasker::unmask(const BlockInfo& info, std::span<const uint8_t> envelope,
                         std::span<uint8_t> out) {
  Impl& m = *impl_;
  if (envelope.size() < overhead())
    throw Error(ErrorCode::kCorrupt, where(m.track_id, info) + ": masked payload of " +
                                         std::to_string(envelope.size()) +
                                         " bytes is shorter than an aes-256-gcm envelope (28)");
  if (out.size() != envelope.size() - overhead())
    throw Error(ErrorCode::kInvalidArgument, "unmask: output must be the envelope size - overhead");
  if (mask_.scheme == MaskScheme::kAes256Ctr) {
    uint8_t iv[16];
    Impl::ctr_iv(info, iv);
    check(EVP_EncryptInit_ex(m.enc, nullptr, nullptr, nullptr, iv), "AES-CTR iv");
    Impl::run(m.enc, true, envelope, out.data());
    return;
  }
  const size_t n = envelope.size() - kGcmOverhead;
  m.set_aad(info);
  int len = 0;
  check(EVP_DecryptInit_ex(m.dec, nullptr, nullptr, nullptr, envelope.data()), "AES-GCM nonce");
  check(EVP_DecryptUpdate(m.dec, nullptr, &len, m.aad.data(), int(m.aad.size())), "AES-GCM aad");
  Impl::run(m.dec, false, envelope.subspan(kGcmNonceSize, n), out.data());
  check(EVP_CIPHER_CTX_ctrl(m.dec, EVP_CTRL_GCM_SET_TAG, kGcmTagSize,
                            const_cast<uint8_t*>(envelope.data() + kGcmNonceSize + n)),
        "AES-GCM tag");
  if (EVP_DecryptFinal_ex(m.dec, out.data() + n, &len) != 1) {
    OPENSSL_cleanse(out.data(), out.size());  // never hand out unauthenticated bytes
    throw Error(ErrorCode::kAuthFailed,
                where(m.track_id, info) +
                    ": the masked payload does not authenticate (altered, or moved from another "
                    "track, time or file)");
  }
}

}  // namespace h4mk
