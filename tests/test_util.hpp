// Helpers shared by the libh4mk tests: deterministic multi-track streams,
// writing them to memory, and reading everything back.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "h4mk/adapters.hpp"
#include "h4mk/h4mk.h"

namespace h4mk::test {

struct TestBlock {
  BlockInfo info;
  std::vector<uint8_t> data;
  std::vector<uint8_t> side;  // side data blob, usually empty
  friend bool operator==(const TestBlock&, const TestBlock&) = default;
};

struct StreamSpec {
  uint32_t seed = 1;
  double seconds = 10;
  bool audio_fixed_size = true;   // 16-byte blocks: UNIFORM + FIXED_SIZE groups
  size_t max_video_block = 4000;  // plus an occasional block up to 1 MiB when large_blocks
  bool large_blocks = false;
  bool data_track = true;
};

// Track 1: audio 1/48000 (20 ms blocks, all I); track 2: video 1/90000 with
// I/P/B in decode order (dts != pts, discardable B blocks); track 3: sparse
// data 1/1000 with varied durations.
std::vector<Track> test_tracks(const StreamSpec& spec);
// One track of audio in ms, 20 ms blocks (the vectors' `minimal`).
Track audio_ms_track();
// Track 1: audio of opaque h4core payloads at `rate` Hz (time base 1/rate),
// decoded by `adapter`.
Track h4core_audio_track(uint32_t rate, uint32_t channels, const std::string& adapter);
// A small file of one such track (8 kHz mono, 10 blocks of s16 silence) whose
// TRAK "adapter" is `adapter` as given (at most 32 bytes; a path too, which
// no writer would make) and whose extradata is `extradata`.
std::vector<uint8_t> h4core_file_naming(const std::string& adapter,
                                        const std::vector<uint8_t>& extradata = {});
// A bad chunk after TRAK, then region_bytes of "NOTE" chunk headers each
// claiming the rest of the region (a quadratic resync's worst case), then
// `blocks` blocks of 160 s16 samples on track 1.
std::vector<uint8_t> file_with_claiming_headers(size_t region_bytes, int blocks);
// Track `t` (id 1): one I block, then `p_blocks` P blocks of `sample`: a
// decode chain longer than any writer writes (FORMAT.md §12.1), made as a
// hostile writer would: I blocks written, then their type bytes turned to P
// (no index, no VERI; CRCs resealed).
std::vector<uint8_t> long_chain_file(const Track& t, uint32_t p_blocks,
                                     std::span<const uint8_t> sample);
// All tracks' blocks interleaved by decode time.
std::vector<TestBlock> make_stream(const StreamSpec& spec);

// Writes the stream with the tests' metadata to `sink`.
void write_stream_to(Sink& sink, const std::vector<Track>& tracks,
                     const std::vector<TestBlock>& blocks, const WriterOptions& options = {});
// To memory, which is seekable: the file gets a filled-in HINT.
std::vector<uint8_t> write_stream(const std::vector<Track>& tracks,
                                  const std::vector<TestBlock>& blocks,
                                  const WriterOptions& options = {});
// What a pipe receives: the same file without a HINT.
std::vector<uint8_t> write_stream_unseekable(const std::vector<Track>& tracks,
                                             const std::vector<TestBlock>& blocks,
                                             const WriterOptions& options = {});

// A memory sink that cannot go back, as a pipe.
class PipeLikeSink final : public Sink {
 public:
  void write(std::span<const uint8_t> data) override {
    bytes.insert(bytes.end(), data.begin(), data.end());
  }
  std::vector<uint8_t> bytes;
};

struct ReadBack {
  std::vector<TestBlock> blocks;
  std::vector<uint64_t> chunk_offsets;  // per block
  std::vector<Damage> damage;
};
ReadBack read_all(Source& source);
ReadBack read_all(std::span<const uint8_t> file);

// Every block in file order through Reader::next_run, each run expanded
// into its blocks; the longest run in *longest_run.
std::vector<TestBlock> read_by_runs(Reader& reader, uint32_t* longest_run = nullptr);

// The blocks of one track, in order.
std::vector<TestBlock> of_track(const std::vector<TestBlock>& blocks, uint16_t track);

// A memory source that behaves like a pipe: not seekable, size unknown, and
// short reads of at most `max_read` bytes.
class PipeLikeSource final : public Source {
 public:
  explicit PipeLikeSource(std::span<const uint8_t> data, size_t max_read = 4093)
      : data_(data), max_read_(max_read) {}
  size_t read(std::span<uint8_t> buf) override;

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  size_t max_read_;
};

// A file in memory behind the C API's callbacks: written through writing(),
// then read through reading() (a stream: no seek, no size).
struct CMemoryFile {
  std::vector<uint8_t> bytes;
  size_t pos = 0;
  h4mk_io writing();
  h4mk_io reading();
};

struct ChunkExtent {
  uint64_t offset;
  uint64_t end;
  std::string tag;
};
// Walks the chunk headers of a well-formed file (test oracle, no CRC checks).
std::vector<ChunkExtent> chunk_layout(std::span<const uint8_t> file);
// Appends a chunk (header with its CRC, then the payload) to `file`.
void append_chunk(std::vector<uint8_t>& file, std::string_view tag,
                  std::span<const uint8_t> payload);
// Rewrites the CRCs a forger would after editing the chunk at `at`: the
// chunk's own (over the tag and size its header now says) and the container's.
void reseal_chunk(std::vector<uint8_t>& file, uint64_t at);

std::string to_hex_string(std::span<const uint8_t> bytes);

std::vector<uint8_t> read_file(const std::string& path);

// An empty directory PARENT/PREFIX-PID for this test process (ctest runs cases
// in parallel processes). It is removed at exit when every test the process
// ran passed, and kept for inspection when one failed.
std::filesystem::path process_work_dir(const std::filesystem::path& parent,
                                       const std::string& prefix);
void write_file(const std::string& path, std::span<const uint8_t> bytes);

#ifdef H4MK_VECTORS_DIR
// docs/FORMAT.md, whose tables tests hold the library to; "" if unreadable.
inline std::string format_md() {
  std::ifstream in(std::string(H4MK_VECTORS_DIR) + "/../../docs/FORMAT.md");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The ids a FORMAT.md table lists in its first column (`a`, `b`, ...),
// between the first `from` and the `to` after it; empty if either is not
// there.
inline std::set<std::string> format_md_table_ids(const std::string& from, const std::string& to) {
  const std::string doc = format_md();
  const size_t begin = doc.find(from);
  const size_t end = begin == std::string::npos ? begin : doc.find(to, begin);
  std::set<std::string> ids;
  if (end == std::string::npos) return ids;
  const std::string table = doc.substr(begin, end - begin);
  const std::regex row(R"(\n\| (`[a-z0-9_]+`(?:, `[a-z0-9_]+`)*) \|)"), id("`([a-z0-9_]+)`");
  for (std::sregex_iterator it(table.begin(), table.end(), row), last; it != last; ++it) {
    const std::string cell = (*it)[1];
    for (std::sregex_iterator i(cell.begin(), cell.end(), id); i != last; ++i) ids.insert((*i)[1]);
  }
  return ids;
}
#endif

}  // namespace h4mk::test
