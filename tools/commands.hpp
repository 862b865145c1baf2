// The h4mk subcommands. Each returns an exit code (cli_common.hpp) and throws
// Failure or h4mk::Error for main() to report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"

namespace h4mk::cli {

// Reading (cmd_read.cpp)
int inspect(const Options& o, const std::string& file);
int list(const Options& o, const std::string& file, std::optional<uint16_t> track,
         const std::string& from, const std::string& to);
int chain(const Options& o, const std::string& file, uint16_t track, const std::string& time);
int seek(const Options& o, const std::string& file, uint16_t track, const std::string& time);
int block(const Options& o, const std::string& file, std::optional<uint16_t> track,
          std::optional<uint64_t> index, std::optional<uint64_t> offset, const std::string& out);

// Writing (cmd_write.cpp)
int build_demo(const Options& o, const std::string& out);
int pack(const Options& o, const std::string& raw, const std::string& out, uint32_t block_size,
         const std::string& fps, uint32_t gop, const std::string& track_name);
int repair(const Options& o, const std::string& in, const std::string& out);

// Integrity (cmd_verify.cpp). public_key_file: a trusted Ed25519 key (PEM)
// the file's signature must hold for; "" = no signature check.
int verify(const Options& o, const std::string& file, const std::string& public_key_file);

// Protection (cmd_mask.cpp)
struct KeySource {  // exactly one is set
  std::string hex, file, env;
};
MaskKey load_mask_key(const KeySource& k);
std::string read_public_key(const std::string& path);
// only: the tracks to mask; empty = every track not masked yet.
int mask(const Options& o, const std::string& in, const std::string& out, const KeySource& key,
         const std::string& scheme, const std::string& kid, const std::vector<uint16_t>& only);
int unmask(const Options& o, const std::string& in, const std::string& out, const KeySource& key);
int sign(const Options& o, const std::string& in, const std::string& out,
         const std::string& private_key_file);

// Decoding (cmd_decode.cpp): a range of a track through an adapter, to WAV
// for audio, raw bytes otherwise. Empty from/to = the whole track.
int decode(const Options& o, const std::string& file, std::optional<uint16_t> track,
           const std::string& adapter, const std::string& adapter_options, const std::string& from,
           const std::string& to, const std::string& out, const KeySource& key);

}  // namespace h4mk::cli
