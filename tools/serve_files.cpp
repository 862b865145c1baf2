// h4mk serve's GET handlers: the served directory and what is in its files.
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <regex>

#include "http_range.hpp"
#include "serve_events.hpp"
#include "serve_handlers.hpp"
#include "serve_params.hpp"

namespace h4mk::cli {

namespace fs = std::filesystem;
using http::HttpError;
using http::Request;
using http::Response;
using nlohmann::ordered_json;

namespace {

std::string http_date(time_t t) {
  char buf[64];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

FileHandlers::FileHandlers(const ServeOptions& options, ServeCounters& counters)
    : options_(options), counters_(counters) {
  std::error_code ec;
  root_ = fs::canonical(options.root, ec);
  if (ec || !fs::is_directory(root_)) throw Failure{kExitInput, options.root + ": not a directory"};
}

// A name inside the root: one path component, no hidden files, .h4mk, and
// (after symlinks) still a regular file directly in the root.
fs::path FileHandlers::resolve(const std::string& name) const {
  static const std::regex ok(R"([A-Za-z0-9][A-Za-z0-9._-]{0,250}\.h4mk)");
  if (!std::regex_match(name, ok))
    throw HttpError{400, "bad file name '" + name + "': one .h4mk file in the served directory"};
  std::error_code ec;
  fs::path p = fs::canonical(root_ / name, ec);
  if (ec || p.parent_path() != root_ || !fs::is_regular_file(p))
    throw HttpError{404, "no file " + name};
  return p;
}

std::unique_ptr<FileSource> FileHandlers::open(const std::string& name) const {
  return std::make_unique<FileSource>(resolve(name).string());
}

std::unique_ptr<Reader> FileHandlers::reader(FileSource& src) const {
  auto r = std::make_unique<Reader>(src);
  if (options_.key) {
    try {
      r->set_mask_key(*options_.key);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kNotFound) throw;  // no masked track: nothing to unmask
    }
  }
  return r;
}

Response FileHandlers::list() const {
  ordered_json files = ordered_json::array();
  std::error_code ec;
  // What cannot be resolved or sized (a link loop, a dangling link, a
  // file gone meanwhile) is left out of the listing, not a 500 for it all.
  for (const auto& e : fs::directory_iterator(root_, ec)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".h4mk" || name[0] == '.' || !e.is_regular_file(ec) || ec) continue;
    if (fs::canonical(e.path(), ec).parent_path() != root_ || ec) continue;  // links out
    const uintmax_t size = e.file_size(ec);
    if (ec) continue;
    files.push_back({{"name", name}, {"size", size}});
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
  return Response::json({{"files", files}});
}

Response FileHandlers::file(const Request& req) {
  const fs::path p = resolve(req.matches[0]);
  UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw HttpError{404, "cannot open " + req.matches[0]};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw HttpError{404, "no file " + req.matches[0]};
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  char etag[64];
  std::snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)size,
                (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + st.st_mtim.tv_nsec);
  counters_.file_requests++;
  Response res;
  res.content_type = "application/octet-stream";
  res.headers = {
      {"Accept-Ranges", "bytes"}, {"ETag", etag}, {"Last-Modified", http_date(st.st_mtim.tv_sec)}};
  if (req.header("If-None-Match") == std::optional<std::string>(etag)) {
    res.status = 304;
    return res;
  }
  RangeRequest range;
  if (auto h = req.header("Range")) {
    counters_.range_requests++;
    const auto if_range = req.header("If-Range");
    if (!if_range || *if_range == etag) range = parse_range(*h, size);
  }
  if (range.kind == RangeRequest::kUnsatisfiable) {
    Response e = Response::error(416, "bad or unsatisfiable Range \"" + *req.header("Range") +
                                          "\" for " + std::to_string(size) + " bytes");
    e.headers.emplace_back("Content-Range", "bytes */" + std::to_string(size));
    return e;
  }
  http::FileRange body{std::move(fd), 0, size};
  if (range.kind == RangeRequest::kPart) {
    body.offset = range.first;
    body.length = range.last - range.first + 1;
    res.status = 206;
    res.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                  std::to_string(range.last) + "/" +
                                                  std::to_string(size));
  }
  if (req.method != "HEAD") counters_.bytes_sent += body.length;
  res.body = std::move(body);
  return res;
}

Response FileHandlers::manifest(const Request& req) const {
  auto src = open(req.matches[0]);
  Reader rd(*src);
  return Response::json(manifest_json(rd, req.matches[0]));
}

Response FileHandlers::seek_or_chain(const Request& req, bool seek) const {
  auto src = open(req.matches[0]);
  auto r = reader(*src);
  const Track& t = serve_params::track(*r, req);
  const int64_t ticks = serve_params::time(req, "t", t);
  if (seek) return Response::json(seek_json(*r, t, ticks));
  return Response::json({{"track", t.id}, {"t", ticks}, {"chain", chain_json(*r, t, ticks)}});
}

Response FileHandlers::block(const Request& req) {
  // The seeds' API asks for decompress=true. A compressed group is one
  // zstd frame (FORMAT.md §5.7), so no block has stored bytes of its own
  // to hand out instead.
  if (req.param("decompress") && !serve_params::flag(req, "decompress"))
    throw HttpError{400,
                    "decompress=false: a block is always served expanded, since a compressed "
                    "group is compressed as a whole; GET /v1/files/{name} with Range gives the "
                    "stored bytes"};
  auto src = open(req.matches[0]);
  auto r = reader(*src);
  std::optional<uint16_t> track;
  if (req.param("track")) track = serve_params::track(*r, req).id;
  std::optional<uint64_t> index, offset;
  if (req.param("offset")) {
    if (req.param("index")) throw HttpError{400, "give index or offset, not both"};
    offset = serve_params::number(req, "offset", UINT64_MAX);
  } else {
    index = serve_params::number(req, "index", UINT64_MAX);
  }
  Block b;
  if (!find_block(*r, track, index, offset, b))
    throw HttpError{404, "no block " + (index ? "number " + std::to_string(*index)
                                              : "at offset " + std::to_string(*offset))};
  Response res;
  res.content_type = "application/octet-stream";
  res.headers = {{"X-H4MK-Track", std::to_string(b.info.track_id)},
                 {"X-H4MK-Type", block_type_name(b.info.type)},
                 {"X-H4MK-Pts", std::to_string(b.info.pts)},
                 {"X-H4MK-Dts", std::to_string(b.info.dts)},
                 {"X-H4MK-Masked", b.info.masked ? "1" : "0"}};
  if (req.method != "HEAD") counters_.bytes_sent += b.data.size();
  const uint64_t length = b.data.size();
  res.body = http::Produced{block_body(std::move(src), std::move(r), b), length, {}};
  return res;
}

Response FileHandlers::stream(const Request& req) {
  auto src = open(req.matches[0]);
  auto rd = reader(*src);
  BlockSelection range;
  if (req.param("track")) {
    const Track& t = serve_params::track(*rd, req);
    range.track = t.id;
    if (req.param("from")) range.from = serve_params::time(req, "from", t);
    if (req.param("to")) range.to = serve_params::time(req, "to", t);
    if (range.from != INT64_MIN) {
      try {
        rd->seek(t.id, range.from);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kNotFound) throw;
      }
    }
  } else if (req.param("from") || req.param("to")) {
    throw HttpError{400, "from/to need a track"};
  }
  range.pace = serve_params::flag(req, "pace");
  ordered_json tracks = ordered_json::array();
  for (const Track& t : rd->tracks())
    tracks.push_back(
        {{"id", t.id},
         {"kind", track_kind_name(t.kind)},
         {"codec", t.codec},
         {"time_base", std::to_string(t.time_base.num) + "/" + std::to_string(t.time_base.den)},
         {"masked", t.mask.has_value()}});
  ordered_json meta{{"file", req.matches[0]}, {"tracks", tracks}, {"pace", range.pace}};
  if (range.track) meta["track"] = *range.track;
  return Response::event_stream(
      block_events(std::move(src), std::move(rd), range, sse("meta", meta), counters_.bytes_sent));
}

}  // namespace h4mk::cli
