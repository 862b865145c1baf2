// verify: every CRC, the container CRC, VERI, the index and, with a key, the
// signed tree; or, with --from/--to, just what reading that range uses.
#include <cstdio>
#include <iostream>

#include "commands.hpp"
#include "counting_source.hpp"
#include "http_source.hpp"

namespace h4mk::cli {

namespace {

using nlohmann::ordered_json;

// verify reads exactly what it checks, and reports what it read: over
// HTTP, a request per read.
std::unique_ptr<Source> open_exact(const std::string& name) {
  if (!is_http_url(name)) return open_input(name);
  try {
    return std::make_unique<HttpSource>(name);
  } catch (const Error& e) {
    throw Failure{kExitInput, e.what()};
  }
}

// A time range of one track, read with the key: every byte it uses checked
// against the signed tree (docs/FORMAT.md §8.2), nothing else read.
int verify_range(const Options& o, const std::string& file, const std::string& pem,
                 std::optional<uint16_t> track_id, const std::string& from, const std::string& to) {
  auto raw = open_exact(file);
  CountingSource src(*raw);
  ReaderOptions ro;
  ro.public_key_pem = pem;
  uint64_t blocks = 0;
  std::string problem;
  uint64_t problem_offset = kNoOffset;
  uint16_t id = 0;
  int64_t t0 = INT64_MIN, t1 = INT64_MAX;
  try {
    Reader r(src, ro);
    if (r.tracks().empty()) throw Failure{kExitNotFound, file + ": no tracks"};
    id = track_id ? *track_id : r.tracks()[0].id;
    const Track& t = require_track(r, id, file);
    if (!from.empty()) t0 = parse_time(from, t.time_base);
    if (!to.empty()) t1 = parse_time(to, t.time_base);
    if (!from.empty()) r.seek_all(id, t0);
    Block b;
    for (ReadEvent ev; (ev = r.next(b)) != ReadEvent::kEnd;) {
      if (ev == ReadEvent::kDamage) {
        problem = r.last_damage().message;
        problem_offset = r.last_damage().offset;
        break;
      }
      if (b.info.track_id == id && b.info.dts >= t1) break;
      ++blocks;
    }
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kVerifyFailed && e.code() != ErrorCode::kAuthFailed &&
        e.code() != ErrorCode::kNotSeekable)
      throw;
    problem = e.what();
    problem_offset = e.offset();
  }
  const auto* http = dynamic_cast<const HttpSource*>(raw.get());
  const uint64_t requests = http ? http->requests() : src.requests;
  if (o.json) {
    ordered_json j{{"file", file},
                   {"ok", problem.empty()},
                   {"track", id},
                   {"from", from.empty() ? ordered_json(nullptr) : ordered_json(t0)},
                   {"to", to.empty() ? ordered_json(nullptr) : ordered_json(t1)},
                   {"blocks", blocks},
                   {"bytes_read", http ? http->bytes() : src.bytes},
                   {"requests", requests},
                   {"problem", problem.empty() ? ordered_json(nullptr) : ordered_json(problem)},
                   {"offset", problem_offset == kNoOffset ? ordered_json(nullptr)
                                                          : ordered_json(problem_offset)}};
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (!problem.empty())
      std::fprintf(stderr, "h4mk: %s: %s%s\n", file.c_str(),
                   problem_offset == kNoOffset
                       ? ""
                       : ("offset " + std::to_string(problem_offset) + ": ").c_str(),
                   problem.c_str());
    if (!o.quiet)
      std::printf(
          "%s: %s (track %u, %s to %s: %llu blocks checked against the signature; read %llu "
          "bytes in %llu %s)\n",
          file.c_str(), problem.empty() ? "OK" : "FAILED", unsigned(id),
          from.empty() ? "start" : from.c_str(), to.empty() ? "end" : to.c_str(),
          (unsigned long long)blocks, (unsigned long long)(http ? http->bytes() : src.bytes),
          (unsigned long long)requests, http ? "requests" : "reads");
  }
  return problem.empty() ? kExitOk : kExitProblems;
}

}  // namespace

int verify(const Options& o, const std::string& file, const std::string& public_key_file,
           std::optional<uint16_t> track, const std::string& from, const std::string& to) {
  for (const std::string* time : {&from, &to})  // reject bad syntax before any output
    if (!time->empty()) (void)parse_time(*time, {1, 1000});
  if ((!from.empty() || !to.empty() || track) && public_key_file.empty())
    throw Failure{kExitUsage,
                  "--from, --to and --track check a range against the signature: "
                  "give --pubkey"};
  VerifyOptions opt;
  if (!public_key_file.empty()) opt.public_key_pem = read_public_key(public_key_file);
  if (!from.empty() || !to.empty() || track)
    return verify_range(o, file, opt.public_key_pem, track, from, to);
  // Text: every problem as it is found; JSON: the report's first ones and
  // the count (memory stays bounded whatever the file).
  if (!o.json)
    opt.on_problem = [&](const Problem& p) {
      std::fprintf(stderr, "h4mk: %s: offset %llu%s%s: %s\n", file.c_str(),
                   (unsigned long long)p.offset, p.chunk.empty() ? "" : " ", p.chunk.c_str(),
                   p.message.c_str());
    };
  auto src = open_exact(file);
  VerifyReport v = h4mk::verify(*src, opt);
  const char* signature = !opt.public_key_pem.empty() ? (v.signature_ok ? "ok" : "invalid")
                          : v.has_signature           ? "unchecked"
                                                      : "absent";
  if (o.json) {
    ordered_json problems = ordered_json::array();
    ordered_json unknown = ordered_json::array();
    for (const UnknownChunk& c : v.unknown_chunks) unknown.push_back(unknown_chunk_json(c));
    for (const Problem& p : v.problems)
      problems.push_back(
          {{"offset", p.offset},
           {"chunk", p.chunk.empty() ? ordered_json(nullptr) : ordered_json(p.chunk)},
           {"error", error_code_name(p.code)},
           {"message", p.message}});
    std::cout << ordered_json{{"file", file},
                              {"ok", v.ok()},
                              {"complete", v.complete},
                              {"chunks", v.chunks},
                              {"blocks", v.blocks},
                              {"veri", v.has_veri ? (v.veri_ok ? "ok" : "mismatch") : "absent"},
                              {"container_crc",
                               v.complete ? (v.container_crc_ok ? "ok" : "mismatch") : "absent"},
                              {"signature", signature},
                              {"problems", problems},
                              {"problem_count", v.problem_count},
                              {"unknown_chunks", unknown},
                              {"unknown_chunk_count", v.unknown_chunk_count}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    if (!o.quiet)
      std::printf("%s: %s (%llu chunks, %llu blocks, VERI %s, container CRC %s, signature %s)\n",
                  file.c_str(), v.ok() ? "OK" : "FAILED", (unsigned long long)v.chunks,
                  (unsigned long long)v.blocks,
                  v.has_veri ? (v.veri_ok ? "ok" : "mismatch") : "absent",
                  v.complete ? (v.container_crc_ok ? "ok" : "mismatch") : "absent", signature);
    // Allowed (FORMAT.md 9.6), but what a reader of this version skips.
    if (!o.quiet) {
      for (const UnknownChunk& c : v.unknown_chunks)
        std::printf("  unknown chunk %s\n", describe_unknown_chunk(c).c_str());
      if (v.unknown_chunk_count > v.unknown_chunks.size())
        std::printf("  and %llu more chunks of unknown tags\n",
                    (unsigned long long)(v.unknown_chunk_count - v.unknown_chunks.size()));
    }
  }
  return v.ok() ? kExitOk : kExitProblems;
}

}  // namespace h4mk::cli
