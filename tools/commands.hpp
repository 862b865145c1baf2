// The h4mk subcommands. Each returns an exit code (cli_common.hpp) and throws
// Failure or h4mk::Error for main() to report.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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

// Integrity (cmd_verify.cpp)
int verify(const Options& o, const std::string& file);

}  // namespace h4mk::cli
