#include "cli_common.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace h4mk::cli {

int64_t parse_time(const std::string& text, const Rational& tb) {
  auto fail = [&] {
    return Failure{kExitUsage, "bad time \"" + text + "\": use 1.5s, 1500ms or a tick count"};
  };
  try {
    size_t used = 0;
    if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0) {
      double ms = std::stod(text.substr(0, text.size() - 2), &used);
      if (used != text.size() - 2) throw fail();
      return std::llround(ms / 1000.0 * double(tb.den) / double(tb.num));
    }
    if (text.size() > 1 && text.back() == 's') {
      double s = std::stod(text.substr(0, text.size() - 1), &used);
      if (used != text.size() - 1) throw fail();
      return std::llround(s * double(tb.den) / double(tb.num));
    }
    long long ticks = std::stoll(text, &used);
    if (used != text.size()) throw fail();
    return ticks;
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

std::unique_ptr<FileSource> open_input(const std::string& path) {
  try {
    return path == "-" ? std::make_unique<FileSource>(stdin) : std::make_unique<FileSource>(path);
  } catch (const Error& e) {
    throw Failure{kExitInput, e.what()};
  }
}

const Track& require_track(const Reader& r, uint16_t id, const std::string& file) {
  const Track* t = r.track(id);
  if (!t) throw Failure{kExitNotFound, file + ": no track " + std::to_string(id)};
  return *t;
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

std::unique_ptr<FileSink> open_output(const std::string& path) {
  try {
    return path == "-" ? std::make_unique<FileSink>(stdout) : std::make_unique<FileSink>(path);
  } catch (const Error& e) {
    throw Failure{kExitOutput, e.what()};
  }
}

void close_output(FileSink& sink) {
  try {
    sink.close();
  } catch (const Error& e) {
    throw Failure{kExitOutput, e.what()};
  }
}

}  // namespace h4mk::cli
