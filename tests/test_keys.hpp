// Fresh Ed25519 key pairs (OpenSSL) for the signature tests.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>

namespace h4mk::test {

struct KeyPair {
  std::string private_pem, public_pem;
};

inline KeyPair make_keys() {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  EXPECT_NE(k, nullptr);
  auto pem = [&](bool priv) {
    BIO* bio = BIO_new(BIO_s_mem());
    EXPECT_EQ(priv ? PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr)
                   : PEM_write_bio_PUBKEY(bio, k),
              1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string s(data, size_t(n));
    BIO_free(bio);
    return s;
  };
  KeyPair kp{pem(true), pem(false)};
  EVP_PKEY_free(k);
  return kp;
}

}  // namespace h4mk::test
