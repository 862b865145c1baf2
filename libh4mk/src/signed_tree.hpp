// The signed hash tree of a file (docs/FORMAT.md §8.2): a ROOT chunk in the
// index region lists the digests of the head, of every hash page and of the
// index chunks; each HASH page (after the last CORE) lists the digests of the
// leaves, runs of whole chunks of the data region. One signature over ROOT
// then lets a reader check any byte it uses with one extra page read.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace h4mk::detail {

using Digest = std::array<uint8_t, 32>;
Digest sha256(std::span<const uint8_t> bytes);

// A leaf closes at the first chunk end at or past kLeafMin bytes, before a
// chunk of kLeafMin bytes or more (a large group is a leaf of its own, so a
// read that stops before it never fetches it), and at kPieceMax bytes inside
// a longer chunk; head and index chunks are pieces of their own, cut at
// kPieceMax too. A verifier holds one piece at a time.
inline constexpr uint32_t kLeafMin = 4096;
inline constexpr uint32_t kPieceMax = 1u << 20;
// A page lists 1 to kLeavesPerPageMax leaves. A signer lists 64 to a page,
// or 128 or 256 when that keeps ROOT's page table within kRootPagesTarget
// bytes: a seek reads one page, an opening the whole ROOT.
inline constexpr uint32_t kLeavesPerPageMax = 256;
inline constexpr size_t kRootPagesTarget = 61'440;

struct Piece {
  uint64_t offset = 0;
  uint32_t size = 0;
  Digest digest{};
};

struct PageRef {
  uint64_t span_start = 0;  // the first leaf it lists
  uint64_t offset = 0;      // of the HASH chunk
  uint32_t size = 0;        // the HASH chunk's, header included
  Digest digest{};          // of the whole HASH chunk
};

struct HashPage {
  uint64_t span_start = 0;
  std::vector<Piece> leaves;  // offsets follow from span_start and the sizes
};

struct SignedRoot {
  uint64_t file_size = 0;
  uint64_t data_offset = 0;   // the first CORE (or the index region)
  uint64_t pages_offset = 0;  // the first HASH chunk: where the leaves end
  uint64_t index_offset = 0;  // as in TAIL
  uint64_t core_count = 0;    // as in TAIL
  std::vector<Piece> head;    // tile [0, data_offset)
  std::vector<PageRef> pages;
  // Every chunk of the index region but SIGN and ROOT, before TAIL.
  std::vector<Piece> index;
};

inline constexpr size_t kRootHeaderSize = 64;
inline constexpr size_t kPieceEntrySize = 44;
inline constexpr size_t kPageEntrySize = 52;
inline constexpr size_t kLeafEntrySize = 36;

std::vector<uint8_t> encode_root(const SignedRoot& root);
size_t root_payload_size(size_t head, size_t pages, size_t index);
// Decodes a ROOT payload and checks that its parts tile the file: the head
// [0, data_offset), the leaves (page spans) [data_offset, pages_offset), the
// pages [pages_offset, index_offset), the index pieces with SIGN and ROOT
// (at sign_at and root_at, of those sizes) [index_offset, file_size - 32).
// Throws Error(kVerifyFailed) naming the ROOT's offset and what is wrong.
SignedRoot decode_root(std::span<const uint8_t> payload, uint64_t root_at, uint64_t root_size,
                       uint64_t sign_at, uint64_t sign_size);

// How many leaves a signer lists per page for a file of `leaves` leaves.
uint32_t leaves_per_page(size_t leaves);

std::vector<uint8_t> encode_page(const HashPage& page);
// Decodes a HASH payload, which must list leaves covering exactly
// [span_start, span_end): Error(kVerifyFailed) otherwise.
HashPage decode_page(std::span<const uint8_t> payload, uint64_t page_at, uint64_t span_start,
                     uint64_t span_end);

// "H4MK-SIGN-v2" || ROOT payload: what a SIGN next to a ROOT signs.
std::string root_signed_message(std::span<const uint8_t> root_payload);

// Checks a SIGN payload over a ROOT payload with a trusted public key (PEM),
// as h4mk::check_signature does over VERI: "" when it holds, else what is
// wrong. Defined in signature.cpp.
std::string check_root_signature(std::string_view sign_json, std::span<const uint8_t> root_payload,
                                 std::string_view public_key_pem);

}  // namespace h4mk::detail
