#include "verifying_source.hpp"

#include <algorithm>
#include <cstring>

#include "byte_order.hpp"
#include "chunk.hpp"
#include "crc32.hpp"

namespace h4mk::detail {

namespace {

// Reads of the head up to this size take the whole head at once.
constexpr uint64_t kWholeHead = 64 * 1024;
// VERI and SIGN are short JSON objects.
constexpr uint32_t kMaxSignedJson = 64 * 1024;

std::string at_text(uint64_t offset) { return "offset " + std::to_string(offset); }

// The piece of `pieces` (sorted, back to back) holding `at`.
template <class List>
size_t piece_at(const List& pieces, uint64_t at) {
  auto it = std::upper_bound(pieces.begin(), pieces.end(), at,
                             [](uint64_t a, const auto& p) { return a < p.offset; });
  return size_t(it - pieces.begin()) - 1;
}

}  // namespace

VerifyingSource::VerifyingSource(Source& raw, std::string_view public_key_pem,
                                 const ReaderLimits& limits)
    : raw_(raw) {
  if (!raw.seekable() || !raw.size())
    throw Error(ErrorCode::kNotSeekable,
                "checking a signed file as it is read needs a seekable source of known size");
  const uint64_t size = *raw.size();
  if (size < kFileHeaderSize + kTailRegionSize)
    throw Error(ErrorCode::kAuthFailed,
                "the file is " + std::to_string(size) + " bytes: too short to be signed", 0);
  tail_.offset = size - kTailRegionSize;
  fetch(tail_.offset, kTailRegionSize, tail_.bytes);
  const ChunkHeader t = parse_chunk_header(tail_.bytes.data());
  if (t.tag != kTagTail || t.size != kTailPayloadSize ||
      t.crc != chunk_crc(t.tag, t.size, {tail_.bytes.data() + kChunkHeaderSize, t.size}))
    throw Error(ErrorCode::kAuthFailed,
                "no TAIL at " + at_text(tail_.offset) +
                    ": an incomplete file cannot be checked against a signature",
                tail_.offset);
  const TailInfo tail = decode_tail(tail_.bytes.data() + kChunkHeaderSize);
  if (tail.index_offset < kFileHeaderSize || tail.index_offset > tail_.offset)
    throw Error(
        ErrorCode::kAuthFailed,
        "the TAIL's index offset " + std::to_string(tail.index_offset) + " is outside the file",
        tail_.offset);

  // VERI, SIGN and ROOT open the index region of a file signed with a
  // tree: read forward from its start, in one request unless ROOT is long.
  std::vector<uint8_t> region;
  const uint64_t start = tail.index_offset;
  auto have = [&](uint64_t end) {
    if (end > tail_.offset)
      throw Error(ErrorCode::kAuthFailed,
                  "the index region's chunks run past the TAIL at " + at_text(tail_.offset), start);
    if (start + region.size() >= end) return;
    std::vector<uint8_t> more;
    fetch(start + region.size(),
          size_t(std::max<uint64_t>(end, std::min<uint64_t>(start + 16 * 1024, tail_.offset)) -
                 (start + region.size())),
          more);
    region.insert(region.end(), more.begin(), more.end());
  };
  struct Found {
    uint64_t offset;
    ChunkHeader header;
  };
  auto chunk_at = [&](uint64_t at, uint32_t max_size) -> std::optional<Found> {
    if (at + kChunkHeaderSize > tail_.offset) return std::nullopt;
    have(at + kChunkHeaderSize);
    const ChunkHeader h = parse_chunk_header(region.data() + (at - start));
    if (h.size > max_size) return Found{at, h};  // not ours: the caller names it
    have(at + kChunkHeaderSize + h.size);
    if (h.crc !=
        chunk_crc(h.tag, h.size, {region.data() + (at - start) + kChunkHeaderSize, h.size}))
      throw Error(ErrorCode::kAuthFailed,
                  tag_name(h.tag) + " chunk at " + at_text(at) + ": CRC mismatch", at);
    return Found{at, h};
  };
  const auto veri = chunk_at(start, kMaxSignedJson);
  const auto sign = veri && veri->header.tag == kTagVeri
                        ? chunk_at(start + kChunkHeaderSize + veri->header.size, kMaxSignedJson)
                        : std::nullopt;
  if (!sign || sign->header.tag != kTagSign)
    throw Error(ErrorCode::kAuthFailed,
                "the file is not signed (no SIGN after a VERI at the start of the index region, " +
                    at_text(start) + "): refused, since a trusted key was given",
                start);
  const uint64_t root_at = sign->offset + kChunkHeaderSize + sign->header.size;
  const auto root = chunk_at(root_at, limits.max_index_chunk);
  if (!root || root->header.tag != kTagRoot)
    throw Error(ErrorCode::kAuthFailed,
                "the file is signed without a hash tree (no ROOT after the SIGN at " +
                    at_text(sign->offset) +
                    "): only a whole-file check (h4mk verify --pubkey) can verify it; sign it "
                    "again to read it verified",
                sign->offset);
  if (root->header.size > limits.max_index_chunk)
    throw Error(ErrorCode::kLimitExceeded,
                "ROOT chunk at " + at_text(root_at) + " is " + std::to_string(root->header.size) +
                    " bytes, over the reader's limit for an index chunk",
                root_at);
  const uint8_t* sign_payload = region.data() + (sign->offset - start) + kChunkHeaderSize;
  const std::span<const uint8_t> root_payload(region.data() + (root_at - start) + kChunkHeaderSize,
                                              root->header.size);
  const std::string why =
      check_root_signature({reinterpret_cast<const char*>(sign_payload), sign->header.size},
                           root_payload, public_key_pem);
  if (!why.empty())
    throw Error(ErrorCode::kAuthFailed,
                "signature (SIGN chunk at " + at_text(sign->offset) + "): " + why, sign->offset);
  const uint64_t sign_total = kChunkHeaderSize + sign->header.size;
  const uint64_t root_total = kChunkHeaderSize + root->header.size;
  root_ = decode_root(root_payload, root_at, root_total, sign->offset, sign_total);
  if (root_.file_size != size)
    throw Error(ErrorCode::kVerifyFailed,
                "the file is " + std::to_string(size) + " bytes, its signed ROOT says " +
                    std::to_string(root_.file_size) + ": cut, or appended to",
                std::min(size, root_.file_size));
  if (root_.index_offset != tail.index_offset || root_.core_count != tail.core_count)
    throw Error(
        ErrorCode::kVerifyFailed,
        "TAIL chunk at " + at_text(tail_.offset) + " does not say what the signed ROOT says",
        tail_.offset);
  signed_.offset = sign->offset;
  signed_.bytes.assign(region.begin() + ptrdiff_t(sign->offset - start),
                       region.begin() + ptrdiff_t(root_at - start + root_total));
}

size_t VerifyingSource::read(std::span<uint8_t> buf) {
  if (pos_ >= root_.file_size || buf.empty()) return 0;
  if (pos_ < held_.offset || pos_ >= held_.offset + held_.bytes.size()) {
    load(pos_, buf.size());
    if (pos_ < held_.offset || pos_ >= held_.offset + held_.bytes.size())
      throw Error(ErrorCode::kInternal,
                  "the verified bytes held do not cover offset " + std::to_string(pos_));
  }
  const size_t n = size_t(std::min<uint64_t>(buf.size(), held_.offset + held_.bytes.size() - pos_));
  std::memcpy(buf.data(), held_.bytes.data() + (pos_ - held_.offset), n);
  pos_ += n;
  return n;
}

void VerifyingSource::fetch(uint64_t offset, size_t size, std::vector<uint8_t>& out) {
  out.resize(size);
  raw_.seek(offset);
  for (size_t got = 0; got < size;) {
    const size_t n = raw_.read({out.data() + got, size - got});
    if (n == 0)
      throw Error(ErrorCode::kVerifyFailed,
                  "the file ends at " + at_text(offset + got) + ", before its signed size",
                  offset + got);
    got += n;
  }
}

void VerifyingSource::load(uint64_t at, size_t want) {
  held_.bytes.clear();
  extent_end_ = at + 1;
  if (at >= tail_.offset) {
    extent_end_ = root_.file_size;
    held_.offset = tail_.offset;
    held_.bytes = tail_.bytes;
  } else if (at >= signed_.offset && at < signed_.offset + signed_.bytes.size()) {
    extent_end_ = signed_.offset + signed_.bytes.size();
    held_.offset = signed_.offset;
    held_.bytes = signed_.bytes;
  } else if (at < root_.data_offset) {
    if (root_.data_offset <= kWholeHead)
      load_run(root_.head, 0, at, root_.data_offset - at, "head");
    else
      load_run(root_.head, piece_at(root_.head, at), at, want, "head");
  } else if (at < root_.pages_offset) {
    const size_t i =
        size_t(std::upper_bound(root_.pages.begin(), root_.pages.end(), at,
                                [](uint64_t a, const PageRef& g) { return a < g.span_start; }) -
               root_.pages.begin()) -
        1;
    extent_end_ = i + 1 < root_.pages.size() ? root_.pages[i + 1].span_start : root_.pages_offset;
    const HashPage& p = page(i);
    load_run(p.leaves, piece_at(p.leaves, at), at, want, "leaf");
  } else if (at < root_.index_offset) {
    const size_t i =
        size_t(std::upper_bound(root_.pages.begin(), root_.pages.end(), at,
                                [](uint64_t a, const PageRef& g) { return a < g.offset; }) -
               root_.pages.begin()) -
        1;
    const PageRef& g = root_.pages[i];
    extent_end_ = g.offset + g.size;
    std::vector<uint8_t> bytes;
    fetch(g.offset, g.size, bytes);
    if (sha256(bytes) != g.digest)
      throw Error(ErrorCode::kVerifyFailed,
                  "HASH chunk at " + at_text(g.offset) +
                      " does not match its digest in the signed ROOT: the file was altered there",
                  g.offset);
    held_.offset = g.offset;
    held_.bytes = std::move(bytes);
  } else {
    load_run(root_.index, piece_at(root_.index, at), at, want, "index");
  }
}

// Fetches pieces[first...] in one read: those that end within [at, at +
// want), or the first alone, and holds those that match their digests, up
// to the first that does not (which must come after `at`). A read stops at a piece's end rather
// than fetch a piece it needs only the start of: sequential reading then never fetches a byte
// twice, and a read after a seek costs what the unverified read does but
// for the piece's bytes before `at`.
void VerifyingSource::load_run(const std::vector<Piece>& pieces, size_t first, uint64_t at,
                               uint64_t want, const char* what) {
  const Piece& p0 = pieces[first];
  size_t last = first + 1;
  while (last < pieces.size() && pieces[last].offset + pieces[last].size <= at + want) ++last;
  const uint64_t end = pieces[last - 1].offset + pieces[last - 1].size;
  std::vector<uint8_t> bytes;
  fetch(p0.offset, size_t(end - p0.offset), bytes);
  size_t k = first;
  for (; k < last; ++k) {
    const Piece& p = pieces[k];
    if (sha256({bytes.data() + (p.offset - p0.offset), p.size}) != p.digest) break;
  }
  const uint64_t good = k == first ? p0.offset : pieces[k - 1].offset + pieces[k - 1].size;
  if (at >= good) {
    const Piece& bad = pieces[k];
    extent_end_ = bad.offset + bad.size;
    throw Error(ErrorCode::kVerifyFailed,
                std::string("bytes ") + std::to_string(bad.offset) + " to " +
                    std::to_string(bad.offset + bad.size) + " (a " + what +
                    " piece) do not match their signed digest: the file was altered there",
                bad.offset);
  }
  bytes.resize(size_t(good - p0.offset));
  // A run of index pieces spans SIGN and ROOT: their bytes are the ones
  // checked at opening, not these.
  const uint64_t lo = std::max(p0.offset, signed_.offset);
  const uint64_t hi = std::min(good, signed_.offset + signed_.bytes.size());
  if (lo < hi)
    std::memcpy(bytes.data() + (lo - p0.offset), signed_.bytes.data() + (lo - signed_.offset),
                size_t(hi - lo));
  held_.offset = p0.offset;
  held_.bytes = std::move(bytes);
}

const HashPage& VerifyingSource::page(size_t i) {
  if (page_index_ == i) return page_;
  page_index_.reset();
  const PageRef& g = root_.pages[i];
  std::vector<uint8_t> bytes;
  fetch(g.offset, g.size, bytes);
  if (sha256(bytes) != g.digest)
    throw Error(ErrorCode::kVerifyFailed,
                "HASH chunk at " + at_text(g.offset) +
                    " does not match its digest in the signed ROOT: the data bytes " +
                    std::to_string(g.span_start) + " to " + std::to_string(extent_end_) +
                    " it covers cannot be checked",
                g.offset);
  const ChunkHeader h = parse_chunk_header(bytes.data());
  if (h.tag != kTagHash || h.size != g.size - kChunkHeaderSize)
    throw Error(ErrorCode::kVerifyFailed,
                "the chunk at " + at_text(g.offset) + " is not the HASH chunk ROOT lists",
                g.offset);
  const uint64_t end =
      i + 1 < root_.pages.size() ? root_.pages[i + 1].span_start : root_.pages_offset;
  page_ = decode_page({bytes.data() + kChunkHeaderSize, h.size}, g.offset, g.span_start, end);
  page_index_ = i;
  return page_;
}

}  // namespace h4mk::detail
