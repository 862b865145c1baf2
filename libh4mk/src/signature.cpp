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
#include "signed_tree.hpp"

namespace h4mk {

using namespace detail;

namespace {

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

// The HINT chunk with the signed file's size and index offset, to put over
// the old one (FORMAT.md §10.1); empty when the file has no HINT or one that
// was not this file's (zeros stay zeros). The HINT is outside the hash
// chain, so this leaves VERI intact; ROOT covers it as it is written.
struct HintPatch {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
};

HintPatch hint_for(Source& in, uint64_t old_size, uint64_t new_size, uint64_t index_offset,
                   uint64_t old_index) {
  uint8_t h[kChunkHeaderSize];
  read_exact(in, kFileHeaderSize, h);
  const uint64_t at = kFileHeaderSize + kChunkHeaderSize + parse_chunk_header(h).size;
  if (at + kChunkHeaderSize + 16 > old_index) return {};
  read_exact(in, at, h);
  const ChunkHeader c = parse_chunk_header(h);
  if (c.tag != kTagHint || c.size < 16 || at + kChunkHeaderSize + c.size > old_index) return {};
  std::vector<uint8_t> payload(c.size);
  read_exact(in, at + kChunkHeaderSize, payload);
  if (load_u64(payload.data()) != old_size) return {};
  store_u64(payload.data(), new_size);
  store_u64(payload.data() + 8, index_offset);
  HintPatch patch{at, {}};
  append_chunk(patch.bytes, kTagHint, payload);
  return patch;
}

}  // namespace

namespace {

std::vector<uint8_t> ed25519_sign(EVP_PKEY* key, std::string_view msg) {
  std::vector<uint8_t> sig(kEd25519SigSize);
  size_t sig_len = sig.size();
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = ctx && EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, key) == 1 &&
                  EVP_DigestSign(ctx, sig.data(), &sig_len,
                                 reinterpret_cast<const uint8_t*>(msg.data()), msg.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok || sig_len != kEd25519SigSize)
    throw Error(ErrorCode::kInternal, "OpenSSL Ed25519 signing failed");
  return sig;
}

std::string sign_json(EVP_PKEY* key, std::span<const uint8_t> sig) {
  return nlohmann::json{
      {"algorithm", "ed25519"}, {"public_key", raw_public_hex(key)}, {"signature", to_hex(sig)}}
      .dump();
}

struct ChunkAt {
  uint64_t offset;
  ChunkHeader header;
  uint64_t end() const { return offset + kChunkHeaderSize + header.size; }
};

ChunkAt chunk_at(Source& in, uint64_t offset) {
  uint8_t h[kChunkHeaderSize];
  read_exact(in, offset, h);
  return {offset, parse_chunk_header(h)};
}

// Digests of [from, to) cut into pieces at the chunk boundaries `cuts`
// (and every kPieceMax bytes), with `patch` over the bytes it covers.
void add_pieces(Source& in, uint64_t from, uint64_t to, const std::vector<uint64_t>& cuts,
                const HintPatch& patch, std::vector<Piece>& out) {
  std::vector<uint8_t> buf;
  size_t next_cut = 0;
  for (uint64_t at = from; at < to;) {
    while (next_cut < cuts.size() && cuts[next_cut] <= at) ++next_cut;
    const uint64_t cut = next_cut < cuts.size() ? std::min(cuts[next_cut], to) : to;
    const uint64_t end = std::min<uint64_t>(cut, at + kPieceMax);
    buf.resize(size_t(end - at));
    read_exact(in, at, buf);
    const uint64_t lo = std::max(at, patch.offset),
                   hi = std::min(end, patch.offset + patch.bytes.size());
    if (lo < hi)
      std::memcpy(buf.data() + (lo - at), patch.bytes.data() + (lo - patch.offset), hi - lo);
    out.push_back({at, uint32_t(buf.size()), sha256(buf)});
    at = end;
  }
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

  // verify() has checked every chunk: they follow each other to the TAIL.
  const uint64_t size = *in.size();
  uint8_t tail[kTailRegionSize];
  read_exact(in, size - kTailRegionSize, tail);
  TailInfo tail_info = decode_tail(tail + kChunkHeaderSize);

  // The head's chunks, up to the first CORE (or index chunk).
  std::vector<uint64_t> head_cuts{kFileHeaderSize};
  uint64_t data_offset = kFileHeaderSize;
  for (ChunkAt c = chunk_at(in, data_offset);; c = chunk_at(in, data_offset)) {
    if (c.header.tag == kTagCore || c.header.tag == kTagHash || is_index_tag(c.header.tag)) break;
    data_offset = c.end();
    head_cuts.push_back(data_offset);
  }

  // The leaves: runs of the data region's chunks, up to the first chunk of
  // the index region (so with any chunk between the last CORE and VERI,
  // which the chain covers). The HASH pages of an earlier signature are
  // dropped and made again.
  std::vector<Piece> leaves;
  std::vector<uint8_t> leaf;
  uint64_t leaf_start = data_offset, data_end = data_offset;
  auto close_leaf = [&] {
    if (leaf.empty()) return;
    leaves.push_back({leaf_start, uint32_t(leaf.size()), sha256(leaf)});
    leaf_start += leaf.size();
    leaf.clear();
  };
  uint64_t index_start = data_offset;
  for (;;) {
    const ChunkAt c = chunk_at(in, index_start);
    if (is_index_tag(c.header.tag)) break;
    index_start = c.end();
    if (c.header.tag == kTagHash) continue;
    if (c.end() - c.offset >= kLeafMin) close_leaf();
    for (uint64_t from = c.offset; from < c.end();) {
      const size_t take = size_t(std::min<uint64_t>(c.end() - from, kPieceMax - leaf.size()));
      leaf.resize(leaf.size() + take);
      read_exact(in, from, {leaf.data() + leaf.size() - take, take});
      from += take;
      if (leaf.size() == kPieceMax) close_leaf();
    }
    if (leaf.size() >= kLeafMin) close_leaf();
    data_end = c.end();
  }
  close_leaf();

  // The pages, right after the last CORE.
  std::vector<std::vector<uint8_t>> pages;
  SignedRoot root;
  root.data_offset = data_offset;
  root.pages_offset = data_end;
  root.core_count = tail_info.core_count;
  uint64_t at = data_end;
  const size_t per_page = leaves_per_page(leaves.size());
  for (size_t i = 0; i < leaves.size(); i += per_page) {
    HashPage page{leaves[i].offset, {}};
    page.leaves.assign(leaves.begin() + ptrdiff_t(i),
                       leaves.begin() + ptrdiff_t(std::min(leaves.size(), i + per_page)));
    std::vector<uint8_t> chunk;
    append_chunk(chunk, kTagHash, encode_page(page));
    root.pages.push_back({page.span_start, at, uint32_t(chunk.size()), sha256(chunk)});
    at += chunk.size();
    pages.push_back(std::move(chunk));
  }
  root.index_offset = at;

  // The index region: VERI, SIGN, ROOT, then the TSEKs and any other chunk
  // as they were; an earlier SIGN and ROOT are replaced.
  if (chunk_at(in, index_start).header.tag != kTagVeri)
    throw Error(ErrorCode::kVerifyFailed, "cannot sign: the index region at offset " +
                                              std::to_string(index_start) +
                                              " does not start with VERI");
  std::vector<uint8_t> veri;
  std::vector<std::vector<uint8_t>> rest;
  for (uint64_t pos = index_start; pos < size - kTailRegionSize;) {
    const ChunkAt c = chunk_at(in, pos);
    std::vector<uint8_t> bytes(size_t(c.end() - pos));
    read_exact(in, pos, bytes);
    pos = c.end();
    if (c.header.tag == kTagVeri)
      veri = std::move(bytes);
    else if (c.header.tag != kTagSign && c.header.tag != kTagRoot)
      rest.push_back(std::move(bytes));
  }
  const std::vector<uint8_t> no_sig(kEd25519SigSize);
  const size_t sign_size = kChunkHeaderSize + sign_json(key.get(), no_sig).size();
  auto pieces_of = [](uint64_t from, const std::vector<uint8_t>& bytes, std::vector<Piece>& into) {
    for (size_t k = 0; k < bytes.size(); k += kPieceMax) {
      const size_t len = std::min<size_t>(bytes.size() - k, kPieceMax);
      into.push_back({from + k, uint32_t(len), sha256({bytes.data() + k, len})});
    }
  };
  size_t index_pieces = (veri.size() + kPieceMax - 1) / kPieceMax;
  for (const auto& c : rest) index_pieces += (c.size() + kPieceMax - 1) / kPieceMax;
  size_t head_pieces = 0;
  for (size_t i = 0; i + 1 < head_cuts.size(); ++i)
    head_pieces += size_t((head_cuts[i + 1] - head_cuts[i] + kPieceMax - 1) / kPieceMax);
  head_pieces += 1;  // the file header
  const size_t root_size =
      kChunkHeaderSize + root_payload_size(head_pieces, root.pages.size(), index_pieces);
  const uint64_t sign_at = root.index_offset + veri.size();
  at = sign_at + sign_size + root_size;
  pieces_of(root.index_offset, veri, root.index);
  for (const auto& c : rest) {
    pieces_of(at, c, root.index);
    at += c.size();
  }
  root.file_size = at + kTailRegionSize;

  // The HINT, now of this file, and the head's digests with it.
  const HintPatch hint = hint_for(in, size, root.file_size, root.index_offset, index_start);
  add_pieces(in, 0, data_offset, head_cuts, hint, root.head);
  if (root.head.size() != head_pieces)
    throw Error(ErrorCode::kInternal, "the head's pieces were miscounted");

  const std::vector<uint8_t> root_payload = encode_root(root);
  const std::vector<uint8_t> sig = ed25519_sign(key.get(), root_signed_message(root_payload));
  const std::string sign = sign_json(key.get(), sig);
  std::vector<uint8_t> new_region;
  for (const auto& p : pages) new_region.insert(new_region.end(), p.begin(), p.end());
  new_region.insert(new_region.end(), veri.begin(), veri.end());
  append_chunk(new_region, kTagSign, {reinterpret_cast<const uint8_t*>(sign.data()), sign.size()});
  append_chunk(new_region, kTagRoot, root_payload);
  for (const auto& c : rest) new_region.insert(new_region.end(), c.begin(), c.end());
  if (data_end + new_region.size() + kTailRegionSize != root.file_size)
    throw Error(ErrorCode::kInternal, "the signed file's layout was miscounted");

  // The data before the pages, byte for byte but for the HINT.
  uint32_t crc = 0;
  in.seek(0);
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t pos = 0; pos < data_end;) {
    const size_t n = in.read({buf.data(), size_t(std::min<uint64_t>(data_end - pos, buf.size()))});
    if (n == 0) throw Error(ErrorCode::kTruncated, "file shrank while being signed");
    const uint64_t from = std::max(pos, hint.offset);
    const uint64_t to = std::min(pos + n, hint.offset + hint.bytes.size());
    if (from < to)
      std::memcpy(buf.data() + (from - pos), hint.bytes.data() + (from - hint.offset), to - from);
    out.write({buf.data(), n});
    crc = crc32(crc, buf.data(), n);
    pos += n;
  }
  out.write(new_region);
  crc = crc32(crc, new_region.data(), new_region.size());

  tail_info.index_offset = root.index_offset;
  std::vector<uint8_t> tail_chunk;
  append_chunk(tail_chunk, kTagTail, encode_tail(tail_info));
  out.write(tail_chunk);
  crc = crc32(crc, tail_chunk.data(), tail_chunk.size());
  uint8_t crc_bytes[4];
  store_u32(crc_bytes, crc);
  out.write(crc_bytes);
  out.flush();
}

namespace {

std::string check_signed(std::string_view sign_json, std::string_view message,
                         std::string_view public_key_pem, const char* what) {
  Pkey key = read_pem(public_key_pem, false);
  if (sign_json.empty()) return "the file is not signed (no SIGN chunk)";
  auto j = parse_json(sign_json, 8);
  if (!j || !j->is_object() || !j->contains("algorithm") || !(*j)["algorithm"].is_string() ||
      !j->contains("signature") || !(*j)["signature"].is_string())
    return "the SIGN chunk is not a valid signature object";
  if ((*j)["algorithm"] != "ed25519")
    return "unknown signature algorithm '" + printable((*j)["algorithm"].get<std::string>()) + "'";
  auto sig = from_hex((*j)["signature"].get<std::string>());
  if (!sig || sig->size() != kEd25519SigSize) return "the signature is not 128 hex digits";
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      ctx && EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx, sig->data(), sig->size(),
                       reinterpret_cast<const uint8_t*>(message.data()), message.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (ok) return "";
  std::string stored = j->contains("public_key") && (*j)["public_key"].is_string()
                           ? (*j)["public_key"].get<std::string>()
                           : "";
  if (stored != raw_public_hex(key.get()))
    return "signed by another key (public key " + printable(stored) + "), not the one given";
  return std::string("the signature does not match ") + what + ": the file was altered";
}

}  // namespace

namespace detail {
std::string check_root_signature(std::string_view sign_json, std::span<const uint8_t> root_payload,
                                 std::string_view public_key_pem) {
  return check_signed(sign_json, root_signed_message(root_payload), public_key_pem, "ROOT");
}
}  // namespace detail

}  // namespace h4mk
