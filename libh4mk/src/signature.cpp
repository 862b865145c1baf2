// Ed25519 signatures over VERI (docs/FORMAT.md §8.1), with OpenSSL EVP.
#include "h4mk/signature.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "crc32.hpp"
#include "h4mk/error.hpp"
#include "h4mk/verify.hpp"
#include "hash_chain.hpp"
#include "json_text.hpp"

namespace h4mk {

using namespace detail;

namespace {

constexpr char kSignLabel[] = "H4MK-SIGN-v1";
constexpr size_t kEd25519KeySize = 32;
constexpr size_t kEd25519SigSize = 64;

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

Pkey read_pem(std::string_view pem, bool is_private) {
  BIO* bio = BIO_new_mem_buf(pem.data(), int(pem.size()));
  if (!bio) throw Error(ErrorCode::kOutOfMemory, "cannot allocate a BIO");
  Pkey key(is_private ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr)
                      : PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  const char* what = is_private ? "private" : "public";
  if (!key) throw Error(ErrorCode::kInvalidArgument, std::string("not a PEM ") + what + " key");
  if (EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519)
    throw Error(ErrorCode::kInvalidArgument, std::string("the ") + what + " key is not Ed25519");
  return key;
}

std::string raw_public_hex(EVP_PKEY* key) {
  uint8_t pub[kEd25519KeySize];
  size_t n = sizeof pub;
  if (EVP_PKEY_get_raw_public_key(key, pub, &n) != 1 || n != sizeof pub)
    throw Error(ErrorCode::kInternal, "cannot read the Ed25519 public key");
  return to_hex({pub, n});
}

// "H4MK-SIGN-v1" || VERI payload.
std::string signed_message(std::string_view veri_json) {
  return std::string(kSignLabel).append(veri_json);
}

void read_exact(Source& in, uint64_t offset, std::span<uint8_t> buf) {
  in.seek(offset);
  for (size_t got = 0; got < buf.size();) {
    size_t n = in.read(buf.subspan(got));
    if (n == 0)
      throw Error(ErrorCode::kTruncated, "file ends at offset " + std::to_string(offset + got));
    got += n;
  }
}

std::optional<std::vector<uint8_t>> from_hex(const std::string& s) {
  std::vector<uint8_t> out(s.size() / 2);
  if (s.size() % 2) return std::nullopt;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned v = 0;
    for (int k = 0; k < 2; ++k) {
      char c = s[2 * i + size_t(k)];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0) return std::nullopt;
      v = v << 4 | unsigned(d);
    }
    out[i] = uint8_t(v);
  }
  return out;
}

void append_chunk(std::vector<uint8_t>& out, Tag tag, std::span<const uint8_t> payload) {
  auto h = make_chunk_header(tag, payload);
  out.insert(out.end(), h.begin(), h.end());
  out.insert(out.end(), payload.begin(), payload.end());
}

// The HINT chunk with the signed file's size, to put over the old one
// (FORMAT.md §10.1); empty when the file has no HINT or one that was not this
// file's (zeros stay zeros). The HINT is outside the hash chain, so this
// leaves VERI and the signature intact.
struct HintPatch {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
};

HintPatch hint_with_new_size(Source& in, uint64_t old_size, uint64_t new_size,
                             uint64_t index_offset) {
  uint8_t h[kChunkHeaderSize];
  read_exact(in, kFileHeaderSize, h);
  const uint64_t at = kFileHeaderSize + kChunkHeaderSize + parse_chunk_header(h).size;
  if (at + kChunkHeaderSize + 8 > index_offset) return {};
  read_exact(in, at, h);
  const ChunkHeader c = parse_chunk_header(h);
  if (c.tag != kTagHint || c.size < 8 || at + kChunkHeaderSize + c.size > index_offset) return {};
  std::vector<uint8_t> payload(c.size);
  read_exact(in, at + kChunkHeaderSize, payload);
  if (load_u64(payload.data()) != old_size) return {};
  store_u64(payload.data(), new_size);
  HintPatch patch{at, {}};
  append_chunk(patch.bytes, kTagHint, payload);
  return patch;
}

}  // namespace

void sign_file(Source& in, Sink& out, std::string_view private_key_pem) {
  Pkey key = read_pem(private_key_pem, true);
  if (!in.seekable() || !in.size())
    throw Error(ErrorCode::kNotSeekable, "signing needs a seekable file of known size");
  VerifyReport report = verify(in);
  if (!report.complete || !report.has_veri || !report.veri_ok || !report.ok())
    throw Error(ErrorCode::kVerifyFailed,
                !report.complete   ? "cannot sign an incomplete file (no TAIL)"
                : !report.has_veri ? "cannot sign a file without VERI (written with veri off)"
                : !report.veri_ok  ? "cannot sign: the VERI hash chain does not hold"
                                   : "cannot sign a damaged file: " + report.problems[0].message);

  // The tail gives the index region; verify() has checked all of it.
  const uint64_t size = *in.size();
  uint8_t tail[kTailRegionSize];
  read_exact(in, size - kTailRegionSize, tail);
  const uint64_t index_offset = decode_tail(tail + kChunkHeaderSize).index_offset;
  std::vector<uint8_t> region(size - kTailRegionSize - index_offset);
  read_exact(in, index_offset, region);

  // The index region again, a fresh SIGN after VERI, any old SIGN dropped.
  std::vector<uint8_t> new_region;
  for (size_t pos = 0; pos < region.size();) {
    const ChunkHeader c = parse_chunk_header(region.data() + pos);
    std::span<const uint8_t> payload(region.data() + pos + kChunkHeaderSize, c.size);
    pos += kChunkHeaderSize + c.size;
    if (c.tag == kTagSign) continue;
    append_chunk(new_region, c.tag, payload);
    if (c.tag != kTagVeri) continue;
    const auto msg =
        signed_message({reinterpret_cast<const char*>(payload.data()), payload.size()});
    uint8_t sig[kEd25519SigSize];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
                    EVP_DigestSign(ctx, sig, &sig_len, reinterpret_cast<const uint8_t*>(msg.data()),
                                   msg.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) throw Error(ErrorCode::kInternal, "OpenSSL Ed25519 signing failed");
    const std::string sign = nlohmann::json{
        {"algorithm", "ed25519"},
        {"public_key", raw_public_hex(key.get())},
        {"signature",
         to_hex({sig, sig_len})}}.dump();
    append_chunk(new_region, kTagSign,
                 {reinterpret_cast<const uint8_t*>(sign.data()), sign.size()});
  }
  const uint64_t new_size = index_offset + new_region.size() + kTailRegionSize;
  const HintPatch hint = hint_with_new_size(in, size, new_size, index_offset);

  // The data before the index, byte for byte but for the HINT's file size.
  uint32_t crc = 0;
  in.seek(0);
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t at = 0; at < index_offset;) {
    const size_t n =
        in.read({buf.data(), size_t(std::min<uint64_t>(index_offset - at, buf.size()))});
    if (n == 0) throw Error(ErrorCode::kTruncated, "file shrank while being signed");
    const uint64_t from = std::max(at, hint.offset);
    const uint64_t to = std::min(at + n, hint.offset + hint.bytes.size());
    if (from < to)
      std::memcpy(buf.data() + (from - at), hint.bytes.data() + (from - hint.offset), to - from);
    out.write({buf.data(), n});
    crc = crc32(crc, buf.data(), n);
    at += n;
  }
  out.write(new_region);
  crc = crc32(crc, new_region.data(), new_region.size());

  // TAIL (unchanged: the index still starts where it did) and the new CRC.
  out.write({tail, kChunkHeaderSize + kTailPayloadSize});
  crc = crc32(crc, tail, kChunkHeaderSize + kTailPayloadSize);
  uint8_t crc_bytes[4];
  store_u32(crc_bytes, crc);
  out.write(crc_bytes);
  out.flush();
}

std::string check_signature(std::string_view sign_json, std::string_view veri_json,
                            std::string_view public_key_pem) {
  Pkey key = read_pem(public_key_pem, false);
  if (sign_json.empty()) return "the file is not signed (no SIGN chunk)";
  if (veri_json.empty()) return "the file has no VERI chunk to check the signature against";
  auto j = parse_json(sign_json, 8);
  if (!j || !j->is_object() || !j->contains("algorithm") || !(*j)["algorithm"].is_string() ||
      !j->contains("signature") || !(*j)["signature"].is_string())
    return "the SIGN chunk is not a valid signature object";
  if ((*j)["algorithm"] != "ed25519")
    return "unknown signature algorithm '" + (*j)["algorithm"].get<std::string>() + "'";
  auto sig = from_hex((*j)["signature"].get<std::string>());
  if (!sig || sig->size() != kEd25519SigSize) return "the signature is not 128 hex digits";
  const auto msg = signed_message(veri_json);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
                  EVP_DigestVerify(ctx, sig->data(), sig->size(),
                                   reinterpret_cast<const uint8_t*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (ok) return "";
  std::string stored = j->contains("public_key") && (*j)["public_key"].is_string()
                           ? (*j)["public_key"].get<std::string>()
                           : "";
  if (stored != raw_public_hex(key.get()))
    return "signed by another key (public key " + stored + "), not the one given";
  return "the signature does not match VERI: the file was altered";
}

}  // namespace h4mk
