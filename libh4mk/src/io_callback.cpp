#include <string>

#include "h4mk/error.hpp"
#include "h4mk/io.hpp"

namespace h4mk {

namespace {
// Reading and writing share the callback and its error message.
void seek_callback(const CallbackIo& io, uint64_t offset) {
  int64_t r = io.seek(io.opaque, static_cast<int64_t>(offset));
  if (r < 0)
    throw Error(ErrorCode::kIo,
                "seek callback to " + std::to_string(offset) + " failed with " + std::to_string(r));
}
}  // namespace

CallbackSource::CallbackSource(const CallbackIo& io) : io_(io) {
  if (!io_.read) throw Error(ErrorCode::kInvalidArgument, "I/O callbacks have no read function");
}

size_t CallbackSource::read(std::span<uint8_t> buf) {
  size_t total = 0;
  while (total < buf.size()) {
    int64_t n = io_.read(io_.opaque, buf.data() + total, buf.size() - total);
    if (n < 0) throw Error(ErrorCode::kIo, "read callback failed with " + std::to_string(n));
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  return total;
}

void CallbackSource::seek(uint64_t offset) {
  if (!io_.seek) throw Error(ErrorCode::kNotSeekable, "source is not seekable");
  seek_callback(io_, offset);
}

std::optional<uint64_t> CallbackSource::size() const {
  if (!io_.size) return std::nullopt;
  int64_t s = io_.size(io_.opaque);
  if (s < 0) return std::nullopt;
  return static_cast<uint64_t>(s);
}

CallbackSink::CallbackSink(const CallbackIo& io) : io_(io) {
  if (!io_.write) throw Error(ErrorCode::kInvalidArgument, "I/O callbacks have no write function");
}

void CallbackSink::write(std::span<const uint8_t> data) {
  size_t total = 0;
  while (total < data.size()) {
    int64_t n = io_.write(io_.opaque, data.data() + total, data.size() - total);
    if (n <= 0) throw Error(ErrorCode::kIo, "write callback failed with " + std::to_string(n));
    total += static_cast<size_t>(n);
  }
  written_ += data.size();
}

void CallbackSink::write_at(uint64_t offset, std::span<const uint8_t> data) {
  if (!io_.seek) throw Error(ErrorCode::kNotSeekable, "sink is not seekable");
  const uint64_t end = written_;
  seek_callback(io_, offset);
  write(data);
  seek_callback(io_, end);
  written_ = end;
}

}  // namespace h4mk
