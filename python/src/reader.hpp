// h4mk.Reader's core: libh4mk's Reader over a path, bytes or a file object.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <map>
#include <new>

#include "binding.hpp"

namespace h4mk::python {

class PyReader {
 public:
  // `source`: a path (str or os.PathLike), a bytes-like object, or a binary
  // file object.
  // public_key_pem: "" or a trusted Ed25519 key: every byte is then checked
  // against the file's signature as it is read (ReaderOptions).
  PyReader(py::object source, bool damaged_blocks, const std::string& public_key_pem);

  // The reader, for a call that holds its turn (turns()).
  Reader& r();
  // The reader for reading in file order: packets() stops where it was.
  Reader& in_file_order();
  // Calls from several threads take turns; reading and seeking run without the GIL.
  Turns& turns() { return turns_; }
  void close();

  py::list tracks();

  // The next block, or None at the end; damage is recorded, not returned.
  // (With the GIL: a block is a few hundred nanoseconds.)
  py::object next_block();

  // The next block in dts order across tracks (PacketReader), or None.
  py::object next_packet();

  // At the end of an iteration: damage skipped since the last warning is
  // said once (h4mk.DamageWarning), so a loop over blocks does not lose
  // blocks without a word.
  void warn_of_damage();

  py::list damage();
  uint64_t damage_count();

  py::dict seek(uint16_t track, int64_t t, const std::string& mode, bool all);

  py::list chain(uint16_t track, int64_t t);

  // Tracks as arrays, in one pass that runs without the GIL: timing, types,
  // flags, and every payload back to back in one buffer (offsets into it).
  // With a range (one track) the pass starts at the track's keyframe at or
  // before `from` and keeps the blocks with from <= pts < to. strict: damage
  // met on the way (which may have held blocks of the tracks) is an error
  // naming the first; otherwise the intact blocks come back.
  py::dict read_tracks(const std::vector<uint16_t>& tracks, bool strict,
                       std::optional<int64_t> from, std::optional<int64_t> to);

  // read_tracks' pass over one track, keeping only the payloads, which
  // must be whole frames of frame_bytes: a typed track's frames
  // (Reader.read_array) without writing an array per block field.
  py::array_t<uint8_t> read_payloads(uint16_t track, uint32_t frame_bytes, bool strict,
                                     std::optional<int64_t> from, std::optional<int64_t> to);

 private:
  template <class Blocks>
  static py::object next_of(Blocks& blocks);

  // Bytes appended without zeroing what is reserved first (a vector's
  // insert of a 16-byte payload was a fifth of read_payloads' time).
  struct Bytes {
    uint8_t* data = nullptr;
    size_t size = 0, capacity = 0;
    Bytes() = default;
    Bytes(const Bytes&) = delete;
    Bytes& operator=(const Bytes&) = delete;
    ~Bytes() { std::free(data); }
    void reserve(size_t n) {
      if (n <= capacity) return;
      auto* p = static_cast<uint8_t*>(std::realloc(data, n));
      if (!p) throw std::bad_alloc();
      data = p;
      capacity = n;
    }
    void append(std::span<const uint8_t> b) {
      if (b.size() > capacity - size) reserve(std::max(size + b.size(), capacity * 2));
      if (!b.empty()) std::memcpy(data + size, b.data(), b.size());
      size += b.size();
    }
  };

  struct TrackArrays {
    std::vector<int64_t> pts, dts, duration;
    std::vector<uint8_t> types, flags;
    std::vector<uint64_t> offsets{0};
    std::vector<uint8_t> payload;
  };

  void fill(std::map<uint16_t, TrackArrays>& arrays, bool strict, std::optional<int64_t> from,
            std::optional<int64_t> to);

  Reader& known(uint16_t track);

  // What to reserve for a whole pass's payloads: about the file (more when
  // compressed, and the buffer grows). Address space: pages are touched only
  // as they are written, and the regrowth is spared.
  std::optional<size_t> file_bytes() const;

  // One pass from the start (with `from`, from the first track's keyframe at
  // or before it) calling on_block for each block of `tracks` with
  // from <= pts < to; a seekable reader is rewound after, whatever happens
  // (a stream is read once: a second pass fails, naming the offset). strict:
  // damage met on the way (which may have held blocks of the tracks) is an
  // error naming the first; otherwise the intact blocks come.
  // on_block(block, count) for each run of blocks (Reader::next_run) when
  // there is no range; with one, for each block (count 1).
  template <class OnBlock>
  void pass(const std::vector<uint16_t>& tracks, bool strict, std::optional<int64_t> from,
            std::optional<int64_t> to, OnBlock&& on_block);

  Turns turns_;
  uint64_t warned_ = 0;  // damage regions warn_of_damage has said
  std::unique_ptr<ByteBuffer> keep_;
  std::unique_ptr<Source> source_;
  std::unique_ptr<Reader> reader_;
  std::unique_ptr<PacketReader> packets_;  // packets(): made on first use
};

}  // namespace h4mk::python
