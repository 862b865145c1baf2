// Signed files: h4mk sign's library half. A signature over ROOT proves every
// byte of the file; any change, even with every CRC and VERI recomputed,
// fails verification against the trusted public key.
#include <gtest/gtest.h>

#include "../libh4mk/src/byte_order.hpp"
#include "../libh4mk/src/chunk.hpp"
#include "../libh4mk/src/crc32.hpp"
#include "../libh4mk/src/hash_chain.hpp"
#include "test_keys.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

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

[[maybe_unused]] uint64_t veri_offset(std::span<const uint8_t> f) {
  for (const auto& c : chunk_layout(f))
    if (c.tag == "VERI") return c.offset;
  return 0;
}

TEST(Signature, SignedFileVerifiesAndKeepsEveryByteUpToTheLastCore) {
  KeyPair k = make_keys();
  auto plain = small_file();
  auto s = signed_copy(plain, k.private_pem);
  const uint64_t v = veri_offset(plain);
  ASSERT_GT(v, 0u);
  // Every byte before VERI is kept but the HINT's CRC, file size and index
  // offset (§10.1), which now give the signed file's; the HASH pages follow.
  uint64_t hint_at = 0;
  for (const auto& c : chunk_layout(plain))
    if (c.tag == "HINT") hint_at = c.offset;
  ASSERT_GT(hint_at, 0u);
  auto expected = plain;
  std::copy(s.begin() + long(hint_at + 8), s.begin() + long(hint_at + 28),
            expected.begin() + long(hint_at + 8));
  EXPECT_TRUE(std::equal(expected.begin(), expected.begin() + long(v), s.begin()));
  EXPECT_EQ(detail::load_u64(&s[hint_at + 12]), s.size());
  EXPECT_EQ(detail::load_u64(&plain[hint_at + 12]), plain.size());
  std::vector<std::string> after;
  for (const auto& c : chunk_layout(s))
    if (c.offset >= v) after.push_back(c.tag);
  ASSERT_GE(after.size(), 5u);
  EXPECT_EQ(after[0], "HASH");
  const auto veri = std::find(after.begin(), after.end(), "VERI");
  ASSERT_LE(veri + 2, after.end() - 1);
  EXPECT_EQ(veri[1], "SIGN");
  EXPECT_EQ(veri[2], "ROOT");
  EXPECT_EQ(detail::load_u64(&s[hint_at + 20]), detail::load_u64(&s[s.size() - 20]))
      << "the HINT's index offset is the TAIL's";
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

TEST(Signature, EverySingleByteChangeFails) {
  KeyPair k = make_keys();
  auto s = signed_copy(small_file(), k.private_pem);
  for (uint64_t i = 0; i < s.size(); ++i) {
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
    if (c.tag == "HINT" || c.tag == "HASH") continue;  // outside the chain (§8)
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
  // The leaf holding the CORE, and the VERI that was rewritten: both are
  // named, as signature problems.
  ASSERT_EQ(r.problems.size(), 2u);
  for (const auto& p : r.problems) {
    EXPECT_EQ(p.code, ErrorCode::kAuthFailed);
    EXPECT_NE(p.message.find("altered"), std::string::npos) << p.message;
  }
  EXPECT_LT(r.problems[0].offset, veri_at);
  EXPECT_EQ(r.problems[1].offset, veri_at);
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
