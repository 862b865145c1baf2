#include "hash_chain.hpp"

#include <openssl/evp.h>

#include "h4mk/error.hpp"

namespace h4mk::detail {

namespace {
constexpr char kChainLabel[] = "H4MK-VERI-v1";

EVP_MD_CTX* as_ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

// Fetched once: EVP_sha256() makes every EVP_DigestInit_ex look the
// implementation up again, which cost ~3 us per chunk (bench BM_Write).
const EVP_MD* sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw Error(ErrorCode::kInternal, "OpenSSL has no SHA256 implementation");
  return md;
}

void check(int ok, const char* what) {
  if (ok != 1) throw Error(ErrorCode::kInternal, std::string("OpenSSL SHA-256 failed in ") + what);
}
}  // namespace

HashChain::HashChain() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw Error(ErrorCode::kOutOfMemory, "cannot allocate a SHA-256 context");
}

HashChain::~HashChain() { EVP_MD_CTX_free(as_ctx(ctx_)); }

void HashChain::start(std::span<const uint8_t> file_header) {
  EVP_MD_CTX* ctx = as_ctx(ctx_);
  check(EVP_DigestInit_ex(ctx, sha256(), nullptr), "init");
  check(EVP_DigestUpdate(ctx, kChainLabel, sizeof(kChainLabel) - 1), "update");
  check(EVP_DigestUpdate(ctx, file_header.data(), file_header.size()), "update");
  check(EVP_DigestFinal_ex(ctx, h_.data(), nullptr), "final");
  count_ = 0;
}

void HashChain::add_chunk(std::span<const uint8_t> header12, std::span<const uint8_t> payload) {
  EVP_MD_CTX* ctx = as_ctx(ctx_);
  check(EVP_DigestInit_ex(ctx, sha256(), nullptr), "init");
  check(EVP_DigestUpdate(ctx, h_.data(), h_.size()), "update");
  check(EVP_DigestUpdate(ctx, header12.data(), header12.size()), "update");
  if (!payload.empty()) check(EVP_DigestUpdate(ctx, payload.data(), payload.size()), "update");
  check(EVP_DigestFinal_ex(ctx, h_.data(), nullptr), "final");
  ++count_;
}

std::string HashChain::hex() const { return to_hex(h_); }

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
  }
  return s;
}

}  // namespace h4mk::detail
