#include "payload_window.hpp"

#include <algorithm>
#include <string>

#include "block_group.hpp"
#include "crc32.hpp"
#include "h4mk/error.hpp"
#include "leb128.hpp"

namespace h4mk::detail {

namespace {
// Bytes passed over (payloads) are read this many at a time.
constexpr size_t kPiece = 256 * 1024;
}  // namespace

void PayloadWindow::need(size_t n) {
  if (stream_.available() >= n) return;
  if (stream_.fill(n) < n)
    throw Error(ErrorCode::kTruncated,
                "CORE chunk at offset " + std::to_string(chunk_offset_) +
                    ": the data ends inside it, at payload byte " +
                    std::to_string(pos_ + stream_.available()),
                chunk_offset_);
}

void PayloadWindow::advance(size_t n) {
  crc_ = crc32(crc_, stream_.data(), n);
  block_crc_ = crc32(block_crc_, stream_.data(), n);
  stream_.consume(n);
  pos_ += uint32_t(n);
}

uint8_t PayloadWindow::flags(uint32_t i) {
  if (left() == 0) throw_bad_block(chunk_offset_, i, "flags byte runs past the chunk");
  need(1);
  const uint8_t f = *stream_.data();
  advance(1);
  if ((f & kBlockTypeMask) == 3) throw_bad_block(chunk_offset_, i, "block type 3 is invalid");
  return f;
}

uint64_t PayloadWindow::leb(uint32_t i, const char* field) {
  const size_t n = std::min<size_t>(left(), kMaxLeb128Bytes);
  need(n);
  const uint8_t* p = stream_.data();
  uint64_t v;
  if (!get_uleb128(p, stream_.data() + n, v))
    throw_bad_block(chunk_offset_, i, std::string("bad LEB128 ") + field);
  advance(size_t(p - stream_.data()));
  return v;
}

uint32_t PayloadWindow::size(uint32_t i) {
  const uint64_t size = leb(i, "size");
  if (size > left())
    throw_bad_block(chunk_offset_, i, "size " + std::to_string(size) + " runs past the chunk");
  return uint32_t(size);
}

int64_t PayloadWindow::duration(uint32_t i) {
  const uint64_t v = leb(i, "duration");
  if (v > uint64_t(INT64_MAX)) throw_bad_block(chunk_offset_, i, "duration exceeds int64");
  return int64_t(v);
}

void PayloadWindow::skip_sizes(uint32_t from, uint32_t stop) {
  for (uint32_t i = from; i < stop; ++i) skip(size(i));
}

void PayloadWindow::expect_end() const {
  if (left())
    throw_bad_group(chunk_offset_, std::to_string(left()) + " bytes follow the last block record");
}

std::span<const uint8_t> PayloadWindow::view(size_t n) {
  need(n);
  return {stream_.data(), n};
}

void PayloadWindow::skip(size_t n) {
  if (n > left())
    throw_bad_group(chunk_offset_, std::to_string(n) + " bytes to pass run past the chunk");
  while (n) {
    const size_t k = std::min(n, kPiece);
    need(k);
    advance(k);
    n -= k;
  }
}

void PayloadWindow::skip_fixed_blocks(uint32_t count, uint32_t size) {
  for (uint32_t i = 0; i < count; ++i) {
    begin_block_bytes();
    skip(size);
    end_block_bytes();
  }
}

uint32_t PayloadWindow::finish() {
  skip(left());
  return crc_;
}

}  // namespace h4mk::detail
