// PacketReader over hostile files: whatever the file, it hands out exactly
// the blocks reading in file order gives (merged, never lost or doubled), its
// read-ahead stays within its bounds, and a seek that fails leaves the next
// block what it would have been. From memory and from a pipe.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "h4mk/h4mk.hpp"

namespace {

using namespace h4mk;

// A memory source that cannot seek, as a pipe.
class Pipe final : public Source {
 public:
  explicit Pipe(std::span<const uint8_t> d) : d_(d) {}
  size_t read(std::span<uint8_t> buf) override {
    const size_t n = std::min(buf.size(), d_.size() - pos_);
    std::copy_n(d_.begin() + long(pos_), n, buf.begin());
    pos_ += n;
    return n;
  }

 private:
  std::span<const uint8_t> d_;
  size_t pos_ = 0;
};

std::string key(const Block& b) {
  std::string k = std::to_string(b.info.track_id) + "/" + std::to_string(b.info.dts) + "/" +
                  std::to_string(b.chunk_offset) + "/" + std::to_string(b.index_in_group) + "|";
  k.append(b.data.begin(), b.data.end());
  k.append(b.side_data.begin(), b.side_data.end());
  return k;
}

constexpr size_t kMaxBlocks = 20000;

// Both return false when reading threw (a reader error ends both, and the
// merge's queue with it): nothing to compare then.
bool in_file_order(Source& src, std::vector<std::string>& out) {
  try {
    Reader r(src);
    Block b;
    for (ReadEvent ev; out.size() < kMaxBlocks && (ev = r.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) out.push_back(key(b));
  } catch (const Error&) {
    return false;
  }
  return true;
}

bool merged(Source& src, size_t cap, std::vector<std::string>& out) {
  try {
    Reader r(src);
    PacketReaderOptions o;
    o.max_queued_packets = cap;
    o.max_queued_bytes = cap * 64;
    PacketReader p(r, o);
    Block b;
    for (ReadEvent ev; out.size() < kMaxBlocks && (ev = p.next(b)) != ReadEvent::kEnd;) {
      if (p.queued_packets() > o.max_queued_packets) __builtin_trap();
      if (ev == ReadEvent::kBlock) out.push_back(key(b));
    }
  } catch (const Error&) {
    return false;
  }
  return true;
}

// Reads `before` blocks, tries a seek, and returns the next block's key, or
// "" when the seek succeeded (or reading ended first).
std::string after_a_seek(Source& src, size_t before, uint16_t track, int64_t t, SeekMode mode,
                         bool seek) {
  try {
    Reader r(src);
    PacketReader p(r);
    Block b;
    for (size_t i = 0; i < before;)
      if (ReadEvent ev = p.next(b); ev == ReadEvent::kEnd)
        return "";
      else if (ev == ReadEvent::kBlock)
        ++i;
    if (seek) {
      try {
        p.seek(track, t, mode);
        return "";
      } catch (const Error&) {
      }
    }
    for (ReadEvent ev; (ev = p.next(b)) != ReadEvent::kEnd;)
      if (ev == ReadEvent::kBlock) return key(b);
    return "end";
  } catch (const Error& e) {
    return std::string("E") + e.what();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> file(data, size);
  MemorySource whole(file);
  std::vector<std::string> want;
  const bool whole_read = in_file_order(whole, want);
  if (want.size() >= kMaxBlocks) return 0;
  std::sort(want.begin(), want.end());
  for (size_t cap : {size_t(3), size_t(1) << 16}) {
    MemorySource mem(file);
    Pipe pipe(file);
    for (Source* src : {static_cast<Source*>(&mem), static_cast<Source*>(&pipe)}) {
      std::vector<std::string> got;
      if (!merged(*src, cap, got) || !whole_read) continue;
      std::sort(got.begin(), got.end());
      if (got != want) __builtin_trap();
    }
  }
  // A failed seek changes nothing: the first track, a few times and modes.
  uint16_t track = 0;
  try {
    MemorySource src(file);
    Reader r(src);
    if (r.tracks().empty()) return 0;
    track = r.tracks()[size % r.tracks().size()].id;
  } catch (const Error&) {
    return 0;
  }
  const size_t before = size % 7;
  for (int64_t t : {int64_t(-1), int64_t(0), int64_t(1000), INT64_MAX}) {
    for (SeekMode mode : {SeekMode::kKeyBefore, SeekMode::kKeyAfter, SeekMode::kAnyBefore}) {
      for (bool pipe : {false, true}) {
        MemorySource m1(file), m2(file);
        Pipe p1(file), p2(file);
        const std::string tried =
            after_a_seek(pipe ? static_cast<Source&>(p1) : m1, before, track, t, mode, true);
        if (tried.empty()) continue;
        const std::string plain =
            after_a_seek(pipe ? static_cast<Source&>(p2) : m2, before, track, t, mode, false);
        if (tried != plain) __builtin_trap();
      }
    }
  }
  return 0;
}
