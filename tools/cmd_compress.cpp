// compress, decompress, dictionary: rewriting tracks with per-group zstd
// compression (docs/FORMAT.md §5.7), and training the dictionary for it.
#include <cstdio>
#include <functional>
#include <iostream>

#include "commands.hpp"

namespace h4mk::cli {

namespace {

std::vector<uint8_t> train_from(const std::string& in, const std::vector<uint16_t>& only,
                                size_t size) {
  auto src = open_input(in);
  Reader reader(*src);
  return train_dictionary(dictionary_samples(reader, only), size);
}

// Why no dictionary came out of IN's groups.
const char* kNoDictionary =
    "no dictionary: too little to learn from, or it would not save its own size";

}  // namespace

std::vector<uint8_t> load_dictionary(const std::string& path) {
  const std::string text = read_text_file(path, "dictionary");
  if (text.empty() || text.size() > kMaxDictionaryBytes)
    throw Failure{kExitUsage, path + ": a dictionary is 1 byte to 1 MiB"};
  return {text.begin(), text.end()};
}

int compress(const Options& o, const std::string& in, const std::string& out,
             const CompressOptions& c) {
  if (c.level < 1 || c.level > 19) throw Failure{kExitUsage, "--level is 1..19"};
  if (!c.dictionary_file.empty() && c.train_bytes)
    throw Failure{kExitUsage, "give --dictionary or --train-dictionary, not both"};
  TrackCompression how;
  how.level = c.level;
  if (!c.dictionary_file.empty()) how.dictionary = load_dictionary(c.dictionary_file);
  if (c.train_bytes) {
    if (in == "-") throw Failure{kExitUsage, "--train-dictionary reads IN twice: not a pipe"};
    how.dictionary = train_from(in, c.tracks, c.train_bytes);
    if (how.dictionary.empty() && !o.quiet)
      std::fprintf(stderr, "h4mk: %s: %s; compressing without one\n", in.c_str(), kNoDictionary);
  }
  return run_rewrite(
      o, "compressed", in, out,
      [&](Reader& r, Sink& sink, const RewriteProgress& p) {
        return compress_file(r, sink, how, c.tracks, p);
      },
      true);
}

int decompress(const Options& o, const std::string& in, const std::string& out,
               const std::vector<uint16_t>& tracks) {
  return run_rewrite(
      o, "decompressed", in, out,
      [&](Reader& r, Sink& sink, const RewriteProgress& p) {
        return decompress_file(r, sink, tracks, p);
      },
      true);
}

int dictionary(const Options& o, const std::string& in, const std::string& out, size_t size,
               const std::vector<uint16_t>& tracks) {
  if (in == "-") throw Failure{kExitUsage, "dictionary reads a file, not a pipe"};
  const std::vector<uint8_t> dict = train_from(in, tracks, size);
  if (dict.empty()) throw Failure{kExitInput, in + ": " + kNoDictionary};
  auto sink = open_output(out);
  sink->write(dict);
  close_output(*sink);
  if (!o.quiet)
    std::fprintf(stderr, "h4mk: a %zu-byte dictionary from %s -> %s\n", dict.size(), in.c_str(),
                 out.c_str());
  return kExitOk;
}

}  // namespace h4mk::cli
