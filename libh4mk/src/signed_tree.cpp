#include "signed_tree.hpp"

#include <openssl/evp.h>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

namespace {

constexpr uint32_t kMagicRoot = make_tag("H4RT");
constexpr char kSignLabelV2[] = "H4MK-SIGN-v2";

[[noreturn]] void bad(uint64_t at, const std::string& chunk, const std::string& why) {
  throw Error(ErrorCode::kVerifyFailed,
              chunk + " chunk at offset " + std::to_string(at) + ": " + why, at);
}

void put_piece(uint8_t* p, const Piece& e) {
  store_u64(p, e.offset);
  store_u32(p + 8, e.size);
  std::copy(e.digest.begin(), e.digest.end(), p + 12);
}

Piece get_piece(const uint8_t* p) {
  Piece e;
  e.offset = load_u64(p);
  e.size = load_u32(p + 8);
  std::copy(p + 12, p + 44, e.digest.begin());
  return e;
}

// Pieces in order, each of 1..kPieceMax bytes, back to back from `from`;
// returns where they end.
uint64_t check_tiling(const std::vector<Piece>& pieces, uint64_t from, uint64_t at,
                      const char* what) {
  for (const Piece& p : pieces) {
    if (p.offset != from || p.size == 0 || p.size > kPieceMax)
      bad(at, "ROOT",
          std::string("its ") + what + " pieces do not cover the file piece after piece (offset " +
              std::to_string(p.offset) + ", " + std::to_string(p.size) +
              " bytes, expected offset " + std::to_string(from) + ")");
    from += p.size;
  }
  return from;
}

}  // namespace

Digest sha256(std::span<const uint8_t> bytes) {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  Digest d;
  unsigned int n = 0;
  if (!md || EVP_Digest(bytes.data(), bytes.size(), d.data(), &n, md, nullptr) != 1 || n != 32)
    throw Error(ErrorCode::kInternal, "OpenSSL SHA-256 failed");
  return d;
}

size_t root_payload_size(size_t head, size_t pages, size_t index) {
  return kRootHeaderSize + (head + index) * kPieceEntrySize + pages * kPageEntrySize;
}

std::vector<uint8_t> encode_root(const SignedRoot& r) {
  std::vector<uint8_t> out(root_payload_size(r.head.size(), r.pages.size(), r.index.size()));
  uint8_t* p = out.data();
  store_u32(p, kMagicRoot);
  store_u32(p + 4, 0);
  store_u64(p + 8, r.file_size);
  store_u64(p + 16, r.data_offset);
  store_u64(p + 24, r.pages_offset);
  store_u64(p + 32, r.index_offset);
  store_u64(p + 40, r.core_count);
  store_u32(p + 48, uint32_t(r.head.size()));
  store_u32(p + 52, uint32_t(r.pages.size()));
  store_u32(p + 56, uint32_t(r.index.size()));
  store_u32(p + 60, 0);
  p += kRootHeaderSize;
  for (const Piece& e : r.head) put_piece(p, e), p += kPieceEntrySize;
  for (const PageRef& e : r.pages) {
    store_u64(p, e.span_start);
    put_piece(p + 8, {e.offset, e.size, e.digest});
    p += kPageEntrySize;
  }
  for (const Piece& e : r.index) put_piece(p, e), p += kPieceEntrySize;
  return out;
}

SignedRoot decode_root(std::span<const uint8_t> payload, uint64_t root_at, uint64_t root_size,
                       uint64_t sign_at, uint64_t sign_size) {
  if (payload.size() < kRootHeaderSize || load_u32(payload.data()) != kMagicRoot ||
      load_u32(payload.data() + 4) != 0 || load_u32(payload.data() + 60) != 0)
    bad(root_at, "ROOT", "not a hash tree root (magic 'H4RT', reserved fields 0)");
  const uint8_t* p = payload.data();
  SignedRoot r;
  r.file_size = load_u64(p + 8);
  r.data_offset = load_u64(p + 16);
  r.pages_offset = load_u64(p + 24);
  r.index_offset = load_u64(p + 32);
  r.core_count = load_u64(p + 40);
  const uint64_t heads = load_u32(p + 48), pages = load_u32(p + 52), index = load_u32(p + 56);
  if (payload.size() != root_payload_size(heads, pages, index))
    bad(root_at, "ROOT",
        "its size does not match its counts (" + std::to_string(heads) + " head, " +
            std::to_string(pages) + " page and " + std::to_string(index) + " index entries)");
  p += kRootHeaderSize;
  for (uint64_t i = 0; i < heads; ++i, p += kPieceEntrySize) r.head.push_back(get_piece(p));
  for (uint64_t i = 0; i < pages; ++i, p += kPageEntrySize) {
    const Piece e = get_piece(p + 8);
    r.pages.push_back({load_u64(p), e.offset, e.size, e.digest});
  }
  for (uint64_t i = 0; i < index; ++i, p += kPieceEntrySize) r.index.push_back(get_piece(p));

  if (r.file_size < kFileHeaderSize + kTailRegionSize || r.data_offset > r.pages_offset ||
      r.pages_offset > r.index_offset || r.index_offset > r.file_size - kTailRegionSize)
    bad(root_at, "ROOT", "its offsets are out of order or outside the file");
  if (check_tiling(r.head, 0, root_at, "head") != r.data_offset)
    bad(root_at, "ROOT", "its head pieces do not end at the first CORE");
  // Page spans tile the leaves' region, the pages themselves the next one.
  uint64_t at = r.pages_offset;
  for (size_t i = 0; i < r.pages.size(); ++i) {
    const PageRef& g = r.pages[i];
    const uint64_t end = i + 1 < r.pages.size() ? r.pages[i + 1].span_start : r.pages_offset;
    if ((i == 0 && g.span_start != r.data_offset) || g.span_start >= end || g.offset != at ||
        g.size <= kChunkHeaderSize + 8 ||
        g.size > kChunkHeaderSize + 8 + kLeavesPerPageMax * kLeafEntrySize)
      bad(root_at, "ROOT",
          "its entry for the HASH chunk at offset " + std::to_string(g.offset) +
              " does not follow the one before it");
    at += g.size;
  }
  if (at != r.index_offset || (r.pages.empty() && r.data_offset != r.pages_offset))
    bad(root_at, "ROOT", "its pages do not end where the index region starts");
  // The index region: pieces, with SIGN and ROOT at their places among them.
  uint64_t from = r.index_offset;
  size_t k = 0;
  while (k < r.index.size() || from == sign_at || from == root_at) {
    if (from == sign_at) {
      from += sign_size;
      continue;
    }
    if (from == root_at) {
      from += root_size;
      continue;
    }
    const Piece& e = r.index[k++];
    if (e.offset != from || e.size == 0 || e.size > kPieceMax)
      bad(root_at, "ROOT",
          "its index pieces do not cover the index region piece after piece (at offset " +
              std::to_string(from) + ")");
    from += e.size;
  }
  if (from != r.file_size - kTailRegionSize)
    bad(root_at, "ROOT",
        "its index pieces end at offset " + std::to_string(from) + ", not at the TAIL (" +
            std::to_string(r.file_size - kTailRegionSize) + ")");
  return r;
}

uint32_t leaves_per_page(size_t leaves) {
  uint32_t per_page = 64;
  while (per_page < kLeavesPerPageMax &&
         (leaves + per_page - 1) / per_page * kPageEntrySize > kRootPagesTarget)
    per_page *= 2;
  return per_page;
}

std::vector<uint8_t> encode_page(const HashPage& page) {
  std::vector<uint8_t> out(8 + page.leaves.size() * kLeafEntrySize);
  store_u64(out.data(), page.span_start);
  uint8_t* p = out.data() + 8;
  for (const Piece& l : page.leaves) {
    store_u32(p, l.size);
    std::copy(l.digest.begin(), l.digest.end(), p + 4);
    p += kLeafEntrySize;
  }
  return out;
}

HashPage decode_page(std::span<const uint8_t> payload, uint64_t page_at, uint64_t span_start,
                     uint64_t span_end) {
  if (payload.size() < 8 + kLeafEntrySize || (payload.size() - 8) % kLeafEntrySize ||
      (payload.size() - 8) / kLeafEntrySize > kLeavesPerPageMax)
    bad(page_at, "HASH", "not a page of 1 to 256 leaf entries");
  HashPage page;
  page.span_start = load_u64(payload.data());
  if (page.span_start != span_start)
    bad(page_at, "HASH",
        "its leaves start at offset " + std::to_string(page.span_start) +
            ", not where ROOT says (" + std::to_string(span_start) + ")");
  uint64_t at = span_start;
  for (const uint8_t* p = payload.data() + 8; p < payload.data() + payload.size();
       p += kLeafEntrySize) {
    Piece l;
    l.offset = at;
    l.size = load_u32(p);
    std::copy(p + 4, p + 36, l.digest.begin());
    if (l.size == 0 || l.size > kPieceMax)
      bad(page_at, "HASH", "a leaf of " + std::to_string(l.size) + " bytes");
    at += l.size;
    page.leaves.push_back(l);
  }
  if (at != span_end)
    bad(page_at, "HASH",
        "its leaves end at offset " + std::to_string(at) + ", not at " + std::to_string(span_end));
  return page;
}

std::string root_signed_message(std::span<const uint8_t> root_payload) {
  return std::string(kSignLabelV2)
      .append(reinterpret_cast<const char*>(root_payload.data()), root_payload.size());
}

}  // namespace h4mk::detail
