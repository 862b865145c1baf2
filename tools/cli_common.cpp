#include "cli_common.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "h4mk/read_window.hpp"
#include "http_source.hpp"

namespace h4mk::cli {

int64_t parse_time(const std::string& text, const Rational& tb) {
  auto fail = [&] {
    return Failure{kExitUsage, "bad time \"" + text + "\": use 1.5s, 1500ms or a tick count"};
  };
  // Decimal digits only: no hex, exponents, inf or nan (std::stod takes them all).
  auto decimal = [](std::string_view v, bool fraction) {
    if (!v.empty() && v.front() == '-') v.remove_prefix(1);
    size_t dot = fraction ? v.find('.') : std::string_view::npos;
    std::string_view whole = v.substr(0, dot);
    std::string_view frac = dot == std::string_view::npos ? "" : v.substr(dot + 1);
    auto digits = [](std::string_view d) {
      return !d.empty() && d.find_first_not_of("0123456789") == std::string_view::npos;
    };
    return digits(whole) && (dot == std::string_view::npos || digits(frac));
  };
  auto scaled = [&](std::string_view number, long double per_second) {
    if (!decimal(number, true)) throw fail();
    long double ticks = std::strtold(std::string(number).c_str(), nullptr) * per_second *
                        static_cast<long double>(tb.den) / static_cast<long double>(tb.num);
    if (!std::isfinite(ticks) || std::fabs(ticks) >= 9.2e18L) throw fail();
    return static_cast<int64_t>(std::llround(ticks));
  };
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0)
    return scaled(std::string_view(text).substr(0, text.size() - 2), 0.001L);
  if (text.size() > 1 && text.back() == 's')
    return scaled(std::string_view(text).substr(0, text.size() - 1), 1.0L);
  if (!decimal(text, false)) throw fail();
  try {
    return std::stoll(text);
  } catch (const std::logic_error&) {
    throw fail();
  }
}

double seconds(int64_t ticks, const Rational& tb) {
  return double(ticks) * double(tb.num) / double(tb.den);
}

Rational time_base_for_fps(const std::string& fps) {
  auto fail = Failure{kExitUsage, "bad frame rate \"" + fps + "\": use 30, 29.97 or 30000/1001"};
  try {
    size_t slash = fps.find('/');
    if (slash != std::string::npos) {
      long long num = std::stoll(fps.substr(0, slash)), den = std::stoll(fps.substr(slash + 1));
      if (num <= 0 || den <= 0 || num > INT32_MAX || den > INT32_MAX) throw fail;
      return {den, num};
    }
    double f = std::stod(fps);
    if (!(f > 0) || f > 1e6) throw fail;
    // Up to three decimals: 29.97 -> 1000/29970.
    long long milli = std::llround(f * 1000);
    return {1000, milli};
  } catch (const std::logic_error&) {
    throw fail;
  }
}

std::unique_ptr<Source> open_input(const std::string& path) {
  try {
    if (is_http_url(path)) return std::make_unique<ReadWindow>(std::make_unique<HttpSource>(path));
    if (path == "-") return std::make_unique<FileSource>(stdin);
    return std::make_unique<FileSource>(path);
  } catch (const Error& e) {
    throw Failure{kExitInput, e.what()};
  }
}

const Track& require_track(const Reader& r, uint16_t id, const std::string& file) {
  const Track* t = r.track(id);
  if (!t) throw Failure{kExitNotFound, file + ": no track " + std::to_string(id)};
  return *t;
}

std::string hex(std::span<const uint8_t> bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

nlohmann::ordered_json block_json(const Block& b, const Track& t) {
  nlohmann::ordered_json j;
  j["chunk_offset"] = b.chunk_offset;
  j["data_offset"] = b.data_offset;
  j["track"] = b.info.track_id;
  j["index_in_group"] = b.index_in_group;
  j["type"] = block_type_name(b.info.type);
  j["pts"] = b.info.pts;
  j["dts"] = b.info.dts;
  j["duration"] = b.info.duration;
  j["pts_seconds"] = seconds(b.info.pts, t.time_base);
  j["dts_seconds"] = seconds(b.info.dts, t.time_base);
  j["size"] = b.data.size();
  j["masked"] = b.info.masked;
  j["discardable"] = b.info.discardable;
  j["damaged"] = b.damaged;
  j["side_data_size"] = b.side_data.size();
  // The seeds' 32-bit GOP flags, where the pts fits (0 .. 2^28-1 ms).
  double ms = seconds(b.info.pts, t.time_base) * 1000;
  if (ms >= 0 && ms <= kGopFlagsMaxPtsMs)
    j["gop_flags"] = pack_gop_flags(uint32_t(std::llround(ms)), b.info.type);
  else
    j["gop_flags"] = nullptr;
  return j;
}

Progress::Progress(const Options& o, uint64_t total)
    : on_(!o.quiet && !o.json && total > 0 && isatty(STDERR_FILENO)), total_(total) {}

void Progress::update(uint64_t done) {
  if (!on_) return;
  int pct = int(done * 100 / total_);
  if (pct == last_) return;
  last_ = pct;
  int bars = pct / 4;
  std::fprintf(stderr, "\r[%.*s%*s] %3d%%", bars, "#########################", 25 - bars, "", pct);
}

Progress::~Progress() {
  if (on_ && last_ >= 0) std::fprintf(stderr, "\r%*s\r", 40, "");
}

OutputFile::OutputFile(const std::string& path) : final_(path) {
  try {
    if (path == "-") {
      sink_ = std::make_unique<FileSink>(stdout);
      return;
    }
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
      sink_ = std::make_unique<FileSink>(path);
      return;
    }
    temp_ = path + ".h4mk-partial-" + std::to_string(::getpid());
    sink_ = std::make_unique<FileSink>(temp_);
  } catch (const Error& e) {
    throw Failure{kExitOutput, path + ": " + e.what()};
  }
}

OutputFile::~OutputFile() {
  sink_.reset();
  if (!temp_.empty()) std::remove(temp_.c_str());
}

// A write error is the output's: remembered, so a command can say so.
template <typename F>
void OutputFile::writing(F&& f) {
  try {
    f();
  } catch (const Error&) {
    failed_ = true;
    throw;
  }
}

void OutputFile::write(std::span<const uint8_t> data) {
  writing([&] { sink_->write(data); });
}

void OutputFile::flush() {
  writing([&] { sink_->flush(); });
}

void OutputFile::write_at(uint64_t offset, std::span<const uint8_t> data) {
  writing([&] { sink_->write_at(offset, data); });
}

void OutputFile::commit() {
  try {
    sink_->close();
  } catch (const Error& e) {
    failed_ = true;
    throw Failure{kExitOutput, e.what()};
  }
  if (temp_.empty()) return;
  if (std::rename(temp_.c_str(), final_.c_str()) != 0)
    throw Failure{kExitOutput,
                  final_ + ": cannot rename " + temp_ + " into place: " + std::strerror(errno)};
  temp_.clear();
}

std::unique_ptr<OutputFile> open_output(const std::string& path) {
  return std::make_unique<OutputFile>(path);
}

void close_output(OutputFile& sink) { sink.commit(); }

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Failure{kExitInput, std::string("cannot read the ") + what + " file " + path};
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

namespace {

std::string tag_text(const std::array<char, 4>& tag) {
  std::string t;
  for (char ch : tag) t += ch >= 0x20 && ch < 0x7f ? ch : '?';
  return t;
}

}  // namespace

nlohmann::ordered_json unknown_chunk_json(const UnknownChunk& c) {
  return {{"tag", tag_text(c.tag)},
          {"offset", c.offset},
          {"size", c.size},
          {"safe_to_copy", c.safe_to_copy()}};
}

std::string describe_unknown_chunk(const UnknownChunk& c) {
  return "'" + tag_text(c.tag) + "' at offset " + std::to_string(c.offset) + ", " +
         std::to_string(c.size) + " bytes, " +
         (c.safe_to_copy() ? "safe to copy: a rewrite keeps it"
                           : "not safe to copy: a rewrite leaves it out");
}

nlohmann::ordered_json unknown_chunks_json(const UnknownChunksKept& u) {
  nlohmann::ordered_json j{{"kept", u.kept}, {"left_out", u.left_out}};
  if (u.left_out) j["first_left_out"] = u.first_left_out;
  return j;
}

void warn_left_out(const UnknownChunksKept& u) {
  if (u.left_out)
    std::fprintf(stderr,
                 "h4mk: left out %llu chunk(s) of unknown tags (docs/FORMAT.md 9.6), the first "
                 "%s\n",
                 (unsigned long long)u.left_out, u.first_left_out.c_str());
}

void report_rewrite(const Options& o, const char* what, const std::string& in,
                    const std::string& out, const RewriteReport& r, bool sizes) {
  for (const Damage& d : r.damage)
    std::fprintf(stderr, "h4mk: skipped damage: %s\n", d.message.c_str());
  warn_left_out(r.unknown_chunks);
  auto size_of = [](const std::string& path) -> uint64_t {
    std::error_code ec;
    const auto n = path == "-" ? 0 : std::filesystem::file_size(path, ec);
    return ec ? 0 : n;
  };
  const nlohmann::ordered_json tracks = r.tracks;
  nlohmann::ordered_json j{{"input", in},
                           {"output", out},
                           {"blocks", r.blocks},
                           {"tracks", tracks},
                           {"unknown_chunks", unknown_chunks_json(r.unknown_chunks)}};
  std::string line = std::string("h4mk: ") + what + " " + in + " -> " + out + ": " +
                     std::to_string(r.blocks) + " blocks, tracks " + tracks.dump();
  if (sizes) {
    j["input_bytes"] = size_of(in);
    j["output_bytes"] = size_of(out);
    line += ", " + std::to_string(size_of(in)) + " -> " + std::to_string(size_of(out)) + " bytes";
  }
  if (o.json)
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  else if (!o.quiet)
    std::fprintf(stderr, "%s\n", line.c_str());
}

int run_rewrite(const Options& o, const char* what, const std::string& in, const std::string& out,
                const RewriteRun& run, bool sizes) {
  auto src = open_input(in);
  Reader reader(*src);
  auto sink = open_output(out);
  Progress progress(o, src->size().value_or(0));
  RewriteReport r;
  try {
    r = run(reader, *sink, [&](uint64_t at) { progress.update(at); });
  } catch (const Error& e) {
    const std::string why = in + ": " + e.what();
    switch (e.code()) {
      case ErrorCode::kNotFound:
        throw Failure{kExitNotFound, why};
      case ErrorCode::kInvalidArgument:
        throw Failure{kExitUsage, why};
      case ErrorCode::kKeyMismatch:
        throw Failure{kExitInput, why};
      case ErrorCode::kAuthFailed:
        throw Failure{kExitProblems, why};
      default:
        throw;
    }
  }
  close_output(*sink);
  report_rewrite(o, what, in, out, r, sizes);
  return kExitOk;
}

}  // namespace h4mk::cli
