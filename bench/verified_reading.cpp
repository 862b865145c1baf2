// Verified random access over plain HTTP (docs/FORMAT.md §8.2): what a reader
// with the trusted key reads beyond one without it, through nginx, on
// 10-hour files of 20 ms token blocks. Counts, not times:
//
//   verified_reading write DIR       writes tokens.h4mk (16-byte tokens at
//                                     50 Hz, 2 s groups) and av.h4mk (the
//                                     same tokens and 20 KB of video per
//                                     0.5 s group), 10 hours each
//   verified_reading read URL KEY    opens URL with and without KEY (PEM
//                                     public key) and seeks to 50 times;
//                                     prints the requests and bytes each
//                                     took (bench/verified_reading.sh)
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "../tools/counting_source.hpp"
#include "../tools/http_source.hpp"
#include "h4mk/h4mk.hpp"

using namespace h4mk;

namespace {

constexpr int64_t kSeconds = 36000;

void write_file(const std::string& path, bool video) {
  FileSink sink(path);
  WriterOptions o;
  if (video) o.max_group_duration_us = 500'000;
  Writer w(sink, o);
  auto track = [](uint16_t id, TrackKind kind, Rational time_base, int64_t duration) {
    Track t;
    t.id = id;
    t.kind = kind;
    t.codec = "h4core";
    t.time_base = time_base;
    t.default_duration = duration;
    return t;
  };
  w.add_track(track(1, TrackKind::kAudio, {1, 1000}, 20));
  if (video) w.add_track(track(2, TrackKind::kVideo, {1, 25}, 1));
  std::mt19937 rng(7);
  std::vector<uint8_t> token(16), frame(1600);
  for (int64_t ms = 0; ms < kSeconds * 1000; ms += 20) {
    if (video && ms % 40 == 0) {
      for (auto& b : frame) b = uint8_t(rng());
      const int64_t f = ms / 40;
      w.write_block({2, f % 25 ? BlockType::kP : BlockType::kI, f, f, 1}, frame);
    }
    for (auto& b : token) b = uint8_t(rng() & 0x3f);
    w.write_block({1, BlockType::kI, ms, ms, 20}, token);
  }
  w.finish();
  sink.close();
  std::printf("%s: %llu blocks, %llu bytes\n", path.c_str(), (unsigned long long)w.blocks_written(),
              (unsigned long long)w.bytes_written());
}

struct Cost {
  uint64_t requests = 0, bytes = 0;
};

Cost since(const cli::HttpSource& s, Cost& last) {
  Cost now{s.requests(), s.bytes()}, d{now.requests - last.requests, now.bytes - last.bytes};
  last = now;
  return d;
}

int read_url(const std::string& url, const std::string& key_path) {
  std::ifstream in(key_path);
  const std::string pem((std::istreambuf_iterator<char>(in)), {});
  cli::HttpSource plain_src(url), checked_src(url);
  Cost a, b;
  since(plain_src, a);
  since(checked_src, b);
  Reader plain(plain_src);
  ReaderOptions o;
  o.public_key_pem = pem;
  Reader checked(checked_src, o);
  const Cost open_a = since(plain_src, a), open_b = since(checked_src, b);
  std::printf(
      "open: unverified %llu requests %llu bytes; verified %llu requests %llu bytes "
      "(+%lld bytes)\n",
      (unsigned long long)open_a.requests, (unsigned long long)open_a.bytes,
      (unsigned long long)open_b.requests, (unsigned long long)open_b.bytes,
      (long long)open_b.bytes - (long long)open_a.bytes);
  // The index, loaded by the first seek of both: the same region.
  plain.has_index();
  checked.has_index();
  const Cost index_a = since(plain_src, a), index_b = since(checked_src, b);
  std::printf("index: unverified %llu requests %llu bytes; verified %llu requests %llu bytes\n",
              (unsigned long long)index_a.requests, (unsigned long long)index_a.bytes,
              (unsigned long long)index_b.requests, (unsigned long long)index_b.bytes);
  std::mt19937 rng(11);
  uint64_t worst_req = 0, sum_req = 0, n = 0;
  int64_t worst_bytes = 0, sum_bytes = 0;
  for (int i = 0; i < 50; ++i) {
    const int64_t t = int64_t(rng() % uint32_t(kSeconds - 10)) * 1000;
    for (Reader* r : {&plain, &checked}) {
      r->seek_all(1, t);
      Block blk;
      for (int k = 0; k < 50; ++k)  // one second of tokens
        if (r->next(blk) != ReadEvent::kBlock) return 1;
    }
    const Cost ca = since(plain_src, a), cb = since(checked_src, b);
    const int64_t extra = int64_t(cb.bytes) - int64_t(ca.bytes);
    const uint64_t extra_req = cb.requests - std::min(cb.requests, ca.requests);
    worst_req = std::max(worst_req, extra_req);
    worst_bytes = std::max(worst_bytes, extra);
    sum_req += extra_req;
    sum_bytes += extra;
    ++n;
  }
  std::printf(
      "seek + 1 s, 50 times: extra requests mean %.2f max %llu; extra bytes mean %lld "
      "max %lld\n",
      double(sum_req) / double(n), (unsigned long long)worst_req,
      (long long)(sum_bytes / int64_t(n)), (long long)worst_bytes);
  std::printf("total: unverified %llu requests %llu bytes; verified %llu requests %llu bytes\n",
              (unsigned long long)plain_src.requests(), (unsigned long long)plain_src.bytes(),
              (unsigned long long)checked_src.requests(), (unsigned long long)checked_src.bytes());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string cmd = argc > 1 ? argv[1] : "";
    if (cmd == "write" && argc == 3) {
      write_file(std::string(argv[2]) + "/tokens.h4mk", false);
      write_file(std::string(argv[2]) + "/av.h4mk", true);
      return 0;
    }
    if (cmd == "read" && argc == 4) return read_url(argv[2], argv[3]);
  } catch (const Error& e) {
    std::fprintf(stderr, "verified_reading: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: verified_reading write DIR | read URL PUBLIC_KEY.pem\n");
  return 2;
}
