#include <algorithm>
#include <cstring>

#include "h4mk/error.hpp"
#include "h4mk/io.hpp"

namespace h4mk {

void Source::seek(uint64_t) { throw Error(ErrorCode::kNotSeekable, "source is not seekable"); }

size_t MemorySource::read(std::span<uint8_t> buf) {
  size_t n = std::min(buf.size(), data_.size() - pos_);
  if (n) std::memcpy(buf.data(), data_.data() + pos_, n);
  pos_ += n;
  return n;
}

void MemorySource::seek(uint64_t offset) {
  pos_ = static_cast<size_t>(std::min<uint64_t>(offset, data_.size()));
}

void MemorySink::write(std::span<const uint8_t> data) {
  bytes_.insert(bytes_.end(), data.begin(), data.end());
}

void Sink::write_at(uint64_t, std::span<const uint8_t>) {
  throw Error(ErrorCode::kNotSeekable, "sink is not seekable");
}

void MemorySink::write_at(uint64_t offset, std::span<const uint8_t> data) {
  if (offset > bytes_.size() || data.size() > bytes_.size() - offset)
    throw Error(ErrorCode::kInvalidArgument, "write_at past the end of the bytes written");
  std::memcpy(bytes_.data() + offset, data.data(), data.size());
}

}  // namespace h4mk
