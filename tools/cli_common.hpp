// Shared pieces of the h4mk command line: exit codes, time arguments,
// opening files, progress on a terminal.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "h4mk/adapters.hpp"

namespace h4mk::cli {

// Documented in `h4mk --help` and README.md.
enum Exit : int {
  kExitOk = 0,
  kExitProblems = 1,  // verify found problems
  kExitUsage = 2,     // bad command line
  kExitInput = 3,     // a file cannot be read, or is not H4MK
  kExitNotFound = 4,  // no such track, block or seek target
  kExitOutput = 5,    // an output cannot be written
};

struct Options {
  bool quiet = false;
  bool json = false;
};

// A user-facing failure with its exit code; main() prints it on stderr.
struct Failure {
  int exit;
  std::string message;
};

// TIME as "1.5s", "1500ms" or a plain integer of ticks, in the track's time base.
int64_t parse_time(const std::string& text, const Rational& time_base);
double seconds(int64_t ticks, const Rational& time_base);
// Lower-case hex digits, two a byte.
std::string hex(std::span<const uint8_t> bytes);

// Frames per second as "30", "29.97" or "30000/1001"; returns the time base 1/fps.
Rational time_base_for_fps(const std::string& fps);

// Opens FILE for reading: a path, "-" (standard input), or an http(s) URL
// read by range in windows (ReadWindow over HttpSource: every request for
// the version of the file first seen).
std::unique_ptr<Source> open_input(const std::string& path);
// An output file written beside its final name and renamed over it by
// close_output, so a command never truncates its own input (`-o` naming the
// input) and a failed command leaves no partial file. Standard output ("-")
// and files that are not regular (a FIFO, /dev/null) are written in place.
class OutputFile final : public Sink {
 public:
  explicit OutputFile(const std::string& path);
  ~OutputFile() override;  // removes the temporary file unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;
  void write(std::span<const uint8_t> data) override;
  void flush() override;
  bool seekable() const override { return sink_->seekable(); }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override;
  // Closes and renames into place; throws Failure{kExitOutput}.
  void commit();
  // A write to this output failed (so an error is the output's, not the input's).
  bool failed() const { return failed_; }

 private:
  template <typename F>
  void writing(F&& f);
  std::string final_, temp_;
  std::unique_ptr<FileSink> sink_;
  bool failed_ = false;
};

// Opens FILE ("-" = standard output) for writing; close_output reports what a
// destructor would swallow. Both throw Failure{kExitOutput}.
std::unique_ptr<OutputFile> open_output(const std::string& path);
void close_output(OutputFile& sink);

// A small file the user names (a key, a certificate) in whole; what: "key"...
std::string read_text_file(const std::string& path, const char* what);

// A chunk of a tag this version does not know, as a file holds it: JSON
// (tag, offset, size, safe_to_copy) and text ("'XTRA' at offset 119, 20
// bytes, not safe to copy: a rewrite leaves it out").
nlohmann::ordered_json unknown_chunk_json(const UnknownChunk& c);
std::string describe_unknown_chunk(const UnknownChunk& c);
// The chunks of unknown tags a rewrite kept and left out, as JSON; and on
// stderr, even with -q, which it left out (a loss the user must see).
nlohmann::ordered_json unknown_chunks_json(const UnknownChunksKept& u);
void warn_left_out(const UnknownChunksKept& u);
// What a rewrite (mask, unmask, compress, decompress) did: the damage it
// skipped and the unknown chunks it left out on stderr, then a JSON document
// or one line (what, files, blocks, tracks; with `sizes`, the bytes of IN and
// OUT too).
void report_rewrite(const Options& o, const char* what, const std::string& in,
                    const std::string& out, const RewriteReport& r, bool sizes);
// Runs one rewrite of IN into OUT and reports it. The library's errors
// become h4mk's exit codes: no such track 4, a refused request 2, a key that
// opens nothing 3, a block that fails authentication 1.
using RewriteRun = std::function<RewriteReport(Reader&, Sink&, const RewriteProgress&)>;
int run_rewrite(const Options& o, const char* what, const std::string& in, const std::string& out,
                const RewriteRun& run, bool sizes);

const Track& require_track(const Reader& r, uint16_t id, const std::string& file);

nlohmann::ordered_json block_json(const Block& b, const Track& t);

// A one-line progress bar on stderr, only when stderr is a terminal.
class Progress {
 public:
  Progress(const Options& o, uint64_t total);
  void update(uint64_t done);
  ~Progress();

 private:
  bool on_;
  uint64_t total_;
  int last_ = -1;
};

}  // namespace h4mk::cli
