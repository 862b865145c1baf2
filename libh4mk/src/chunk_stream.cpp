#include "chunk_stream.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "crc32.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

namespace {
constexpr size_t kMinRead = 64 * 1024;
constexpr size_t kFirstReadAhead = 4 * 1024;
}  // namespace

// Reading always starts at the beginning of the file.
ChunkStream::ChunkStream(Source& source) : source_(source), size_(source.size()) {
  if (source_.seekable()) source_.seek(0);
}

size_t ChunkStream::fill(size_t n) {
  while (available() < n && !at_eof_) {
    // Grow step by step so a claimed size is only backed by memory as the
    // bytes actually arrive, unless the source says they are there: then the
    // window is made big enough at once (each step copied the window and
    // touched fresh pages: a fifth of verifying video20k).
    size_t want = std::min(n, std::max(available() * 2, kMinRead));
    if (size_ && window_offset_ + n <= *size_) want = n;
    // Read-ahead saves system calls on runs of small chunks. A request of
    // the read-ahead limit or more needs no help, and bytes read past it
    // would only be moved to the front of the window again.
    if (read_ahead_ && size_ && n - available() < read_ahead_limit_) {
      const uint64_t next = window_offset_ + want;  // the first byte not yet asked for
      if (*size_ > next)
        want += static_cast<size_t>(std::min<uint64_t>(read_ahead_, *size_ - next));
    }
    if (read_ahead_limit_)
      read_ahead_ = std::min(read_ahead_limit_, read_ahead_ ? read_ahead_ * 2 : kFirstReadAhead);
    if (start_ + want > capacity_) {
      ++generation_;
      fold_consumed_crc();  // those bytes are about to leave the window
      if (want > capacity_) {
        // A new window, left uninitialised: only the unconsumed bytes move.
        auto bigger = std::make_unique_for_overwrite<uint8_t[]>(want);
        if (available()) std::memcpy(bigger.get(), buf_.get() + start_, available());
        buf_ = std::move(bigger);
        capacity_ = want;
      } else if (available()) {
        std::memmove(buf_.get(), buf_.get() + start_, available());
      }
      end_ -= start_;
      start_ = 0;
    }
    size_t got = source_.read({buf_.get() + end_, want - available()});
    bytes_read_ += got;
    end_ += got;
    if (got == 0) at_eof_ = true;
  }
  return std::min(available(), n);
}

void ChunkStream::consume(size_t n) {
  if (track_crc_) crc_pending_ += n;
  start_ += n;
  window_offset_ += n;
}

void ChunkStream::consume(size_t n, uint32_t crc_from, uint32_t crc_to) {
  if (track_crc_) crc_ = crc_join_.continue_from(consumed_crc(), crc_from, crc_to, n);
  start_ += n;
  window_offset_ += n;
}

// Consumed bytes are CRC'd when they are about to leave the window or the
// CRC is asked for: one pass over many small chunks instead of one call each.
void ChunkStream::fold_consumed_crc() {
  if (!crc_pending_) return;
  crc_ = crc32(crc_, buf_.get() + start_ - crc_pending_, crc_pending_);
  crc_pending_ = 0;
}

uint32_t ChunkStream::consumed_crc() {
  fold_consumed_crc();
  return crc_;
}

void ChunkStream::seek(uint64_t offset) {
  if (offset >= window_offset_ && offset - window_offset_ <= available()) {
    consume(static_cast<size_t>(offset - window_offset_));
    return;
  }
  // Back over consumed bytes still in the buffer (buf_[0, start_) holds the
  // bytes just before the window): no new read. Not while the CRC of
  // consumed bytes is being taken, which only moves forward.
  if (offset < window_offset_ && window_offset_ - offset <= start_ && !track_crc_) {
    start_ -= static_cast<size_t>(window_offset_ - offset);
    window_offset_ = offset;
    return;
  }
  if (source_.seekable()) {
    fold_consumed_crc();
    source_.seek(offset);
    read_ahead_ = 0;  // the first read after a seek is only what is needed
    ++generation_;
    start_ = end_ = 0;
    window_offset_ = offset;
    at_eof_ = false;
    return;
  }
  if (offset < window_offset_)
    throw Error(ErrorCode::kNotSeekable,
                "cannot go back to offset " + std::to_string(offset) + " on a non-seekable source");
  while (window_offset_ < offset) {
    consume(available());
    if (fill(static_cast<size_t>(std::min<uint64_t>(offset - window_offset_, kMinRead))) == 0)
      break;
    consume(static_cast<size_t>(std::min<uint64_t>(offset - window_offset_, available())));
  }
}

bool ChunkStream::read_at(uint64_t offset, size_t n, std::vector<uint8_t>& out) {
  if (!source_.seekable()) throw Error(ErrorCode::kNotSeekable, "source is not seekable");
  const uint64_t resume = window_offset_ + available();
  source_.seek(offset);
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    size_t r = source_.read({out.data() + got, n - got});
    if (r == 0) break;
    got += r;
  }
  bytes_read_ += got;
  source_.seek(resume);
  return got == n;
}

}  // namespace h4mk::detail
