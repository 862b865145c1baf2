// Signed files: h4mk sign's library half. A signature over VERI proves every
// byte before it; any change there, even with every CRC and VERI recomputed,
// fails verification against the trusted public key.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/hash_chain.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

struct KeyPair {
  std::string private_pem, public_pem;
};

KeyPair make_keys() {
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

std::vector<uint8_t> small_file() {
  StreamSpec spec;
  spec.seconds = 0.2;
  spec.max_video_block = 64;
  return write_stream(test_tracks(spec), make_stream(spec));
}

std::vector<uint8_t> signed_copy(std::span<const uint8_t> file, const std::string& pem) {
  MemorySource in(file);
  MemorySink out;
  sign_file(in, out, pem);
  return out.take();
}

VerifyReport verify_with(std::span<const uint8_t> file, const std::string& public_pem) {
  MemorySource src(file);
  VerifyOptions o;
  o.public_key_pem = public_pem;
  return verify(src, o);
}

uint64_t veri_offset(std::span<const uint8_t> f) {
  for (const auto& c : chunk_layout(f))
    if (c.tag == "VERI") return c.offset;
  return 0;
}

TEST(Signature, SignedFileVerifiesAndKeepsEveryByteBeforeVeri) {
  KeyPair k = make_keys();
  auto plain = small_file();
  auto s = signed_copy(plain, k.private_pem);
  const uint64_t v = veri_offset(plain);
  ASSERT_GT(v, 0u);
  // Every byte before VERI is kept but the HINT's CRC and file size (§10.1),
  // which now give the signed file's size.
  uint64_t hint_at = 0;
  for (const auto& c : chunk_layout(plain))
    if (c.tag == "HINT") hint_at = c.offset;
  ASSERT_GT(hint_at, 0u);
  auto expected = plain;
  std::copy(s.begin() + long(hint_at + 8), s.begin() + long(hint_at + 20),
            expected.begin() + long(hint_at + 8));
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + long(v), s.begin()));
  EXPECT_EQ(detail::load_u64(&s[hint_at + 12]), s.size());
  EXPECT_EQ(detail::load_u64(&plain[hint_at + 12]), plain.size());
  VerifyReport r = verify_with(s, k.public_pem);
  EXPECT_TRUE(r.ok() && r.complete && r.veri_ok && r.has_signature && r.signature_ok)
      << (r.problems.empty() ? "" : r.problems[0].message);
  // Readers that know nothing of signatures read the same blocks and index.
  EXPECT_EQ(read_all(s).blocks, read_all(plain).blocks);
  MemorySource src(s);
  Reader reader(src);
  EXPECT_TRUE(reader.has_index());
  EXPECT_NE(reader.signature_json().find("ed25519"), std::string::npos);
  // Signing again replaces the signature: still one SIGN chunk.
  auto again = signed_copy(s, make_keys().private_pem);
  int signs = 0;
  for (const auto& c : chunk_layout(again)) signs += c.tag == "SIGN";
  EXPECT_EQ(signs, 1);
}

TEST(Signature, EverySingleByteChangeBeforeVeriFails) {
  KeyPair k = make_keys();
  auto s = signed_copy(small_file(), k.private_pem);
  const uint64_t v = veri_offset(s);
  for (uint64_t i = 0; i < v; ++i) {
    auto bad = s;
    bad[i] ^= 0x01;
    EXPECT_FALSE(verify_with(bad, k.public_pem).ok()) << "byte " << i;
  }
}

// An alteration with every CRC and the VERI chain recomputed: only the
// signature can tell.
TEST(Signature, ConsistentForgeryFailsOnlyTheSignature) {
  using namespace detail;
  KeyPair k = make_keys();
  auto f = signed_copy(small_file(), k.private_pem);
  auto layout = chunk_layout(f);
  // Change the last payload byte of the first CORE and fix its CRC.
  for (const auto& c : layout)
    if (c.tag == "CORE") {
      f[c.end - 1] ^= 0xFF;
      std::span<const uint8_t> payload(&f[c.offset + 12], c.end - c.offset - 12);
      store_u32(&f[c.offset + 8], chunk_crc(make_tag("CORE"), uint32_t(payload.size()), payload));
      break;
    }
  // Recompute the VERI chain and rewrite the VERI chunk in place (same length).
  HashChain chain;
  chain.start({f.data(), 16});
  uint64_t veri_at = 0;
  for (const auto& c : layout) {
    if (c.tag == "VERI") {
      veri_at = c.offset;
      break;
    }
    if (c.tag == "HINT") continue;  // outside the chain (§8)
    chain.add_chunk({&f[c.offset], 12}, {&f[c.offset + 12], c.end - c.offset - 12});
  }
  std::string veri = R"({"algorithm":"sha256-chain-v1","chunks":)" + std::to_string(chain.count()) +
                     R"(,"hash":")" + chain.hex() + "\"}";
  ASSERT_EQ(load_u32(&f[veri_at + 4]), veri.size());
  std::copy(veri.begin(), veri.end(), f.begin() + long(veri_at + 12));
  std::span<const uint8_t> vp(&f[veri_at + 12], veri.size());
  store_u32(&f[veri_at + 8], chunk_crc(kTagVeri, uint32_t(vp.size()), vp));
  store_u32(&f[f.size() - 4], crc32(0, f.data(), f.size() - 4));

  MemorySource src(f);
  EXPECT_TRUE(verify(src).ok()) << "the forgery is consistent without a key";
  VerifyReport r = verify_with(f, k.public_pem);
  EXPECT_FALSE(r.signature_ok);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].code, ErrorCode::kAuthFailed);
  EXPECT_NE(r.problems[0].message.find("altered"), std::string::npos) << r.problems[0].message;
}

TEST(Signature, AnotherKeyAnUnsignedFileAndUnsignableFilesAreNamed) {
  KeyPair k = make_keys(), other = make_keys();
  auto plain = small_file();
  auto s = signed_copy(plain, k.private_pem);
  VerifyReport r = verify_with(s, other.public_pem);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problems[0].message.find("another key"), std::string::npos) << r.problems[0].message;
  r = verify_with(plain, k.public_pem);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.problems[0].message.find("not signed"), std::string::npos);
  // A cut file, or one without VERI, is not signed.
  std::vector<uint8_t> cut(plain.begin(), plain.end() - 40);
  EXPECT_THROW(signed_copy(cut, k.private_pem), Error);
  WriterOptions no_veri;
  no_veri.write_veri = false;
  StreamSpec spec;
  spec.seconds = 0.2;
  auto unhashed = write_stream(test_tracks(spec), make_stream(spec), no_veri);
  try {
    signed_copy(unhashed, k.private_pem);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kVerifyFailed);
  }
  EXPECT_THROW(signed_copy(plain, k.public_pem), Error);  // not a private key
}

}  // namespace
}  // namespace h4mk::test
