// The Ed25519 key of the signed test vectors: the seed 40 41 .. 5f (RFC 8032
// keys are their 32-byte seeds), in PEM. A test key, published.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <string>

namespace h4mk::test {

inline std::string vector_signing_pem(bool private_key) {
  uint8_t seed[32];
  for (size_t i = 0; i < sizeof seed; ++i) seed[i] = uint8_t(0x40 + i);
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed, sizeof seed);
  BIO* bio = BIO_new(BIO_s_mem());
  const int ok = private_key
                     ? PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr)
                     : PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  const long n = ok == 1 ? BIO_get_mem_data(bio, &data) : 0;
  std::string pem(data ? data : "", size_t(n));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return pem;
}

}  // namespace h4mk::test
