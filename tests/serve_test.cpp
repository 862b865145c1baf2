// h4mk serve as a real process on a loopback port, driven by a real HTTP
// client (cpp-httplib) and raw sockets: every endpoint, Range and caching,
// traversal and malformed requests, concurrency, uploads, SIGTERM.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "serve_process.hpp"
#include "test_keys.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path dir() {
  static const fs::path d = [] {
    fs::path p = process_work_dir(H4MK_WORK_DIR, "serve");
    fs::create_directories(p / "root");
    return p;
  }();
  return d;
}

// The server on this process's root directory.
class Server : public ServeProcess {
 public:
  explicit Server(std::vector<std::string> extra = {})
      : ServeProcess(H4MK_TOOL, (dir() / "root").string(), std::move(extra)) {}
};

// What a raw socket gets back for bytes that may not be HTTP at all.
std::string raw_exchange(int port, const std::string& request) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return "";
  }
  // A request that never ends is answered by nothing but the idle timeout.
  timeval wait{1, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  send(s, request.data(), request.size(), MSG_NOSIGNAL);
  shutdown(s, SHUT_WR);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(s, buf, sizeof buf, 0)) > 0;) out.append(buf, size_t(n));
  close(s);
  return out;
}

const std::vector<uint8_t>& demo_file() {
  static const std::vector<uint8_t> bytes = [] {
    StreamSpec spec;
    spec.seconds = 20;
    auto b = write_stream(test_tracks(spec), make_stream(spec));
    write_file((dir() / "root" / "a.h4mk").string(), b);
    return b;
  }();
  return bytes;
}

// An export is masked (no payload in the clear) and the key opens it to `raw`.
void expect_masked_export(const std::string& body, const std::string& raw, const MaskKey& key) {
  std::vector<uint8_t> h4(body.begin(), body.end());
  EXPECT_EQ(std::search(h4.begin(), h4.end(), raw.begin(), raw.begin() + 64), h4.end());
  MemorySource src(h4);
  Reader r(src);
  ASSERT_TRUE(r.track(1) && r.track(1)->mask);
  r.set_mask_key(key);
  std::string joined;
  Block b;
  while (r.next(b) == ReadEvent::kBlock) joined.append(b.data.begin(), b.data.end());
  EXPECT_EQ(joined, raw);
}

std::vector<uint8_t> from_base64(const std::string& s) {
  std::vector<uint8_t> out(3 * s.size() / 4 + 3);
  int n =
      EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), int(s.size()));
  out.resize(size_t(n) - (s.size() >= 1 && s.back() == '=') -
             (s.size() >= 2 && s[s.size() - 2] == '='));
  return out;
}

TEST(Serve, ListManifestSeekChainBlock) {
  const auto& file = demo_file();
  Server srv;
  auto c = srv.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["status"], "ok");

  r = c.Get("/v1/files");
  ASSERT_TRUE(r);
  json files = json::parse(r->body)["files"];
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0]["name"], "a.h4mk");
  EXPECT_EQ(files[0]["size"], file.size());

  r = c.Get("/v1/files/a.h4mk/manifest");
  ASSERT_TRUE(r);
  json m = json::parse(r->body);
  EXPECT_EQ(m["complete"], true);
  ASSERT_EQ(m["tracks"].size(), 3u);
  EXPECT_EQ(m["tracks"][1]["summary"]["block_count"], 600);

  MemorySource src(file);
  Reader reader(src);
  r = c.Get("/v1/files/a.h4mk/seek?track=2&t=5.5s");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  SeekPoint p = reader.seek(2, 5.5 * 90000);
  json s = json::parse(r->body);
  EXPECT_EQ(s["pts"], p.pts);
  EXPECT_EQ(s["chunk_offset"], p.chunk_offset);

  r = c.Get("/v1/files/a.h4mk/chain?track=2&t=495000");
  ASSERT_TRUE(r);
  auto chain = reader.decode_chain(2, 495000);
  json links = json::parse(r->body)["chain"];
  ASSERT_EQ(links.size(), chain.size());
  for (size_t i = 0; i < chain.size(); i++) EXPECT_EQ(links[i]["pts"], chain[i].info.pts);

  auto blocks = of_track(read_all(file).blocks, 2);
  for (size_t i : {size_t(0), size_t(7), blocks.size() - 1}) {
    r = c.Get("/v1/files/a.h4mk/block?track=2&index=" + std::to_string(i));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::string(blocks[i].data.begin(), blocks[i].data.end())) << i;
    EXPECT_EQ(r->get_header_value("X-H4MK-Pts"), std::to_string(blocks[i].info.pts));
  }
  r = c.Get("/v1/files/a.h4mk/block?track=2&index=" + std::to_string(blocks.size()));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("no block"), std::string::npos);
}

TEST(Serve, FileRangesEtagsAndHead) {
  const auto& file = demo_file();
  const std::string whole(file.begin(), file.end());
  const uint64_t n = file.size();
  Server srv;
  auto c = srv.client();
  auto r = c.Get("/v1/files/a.h4mk");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body, whole);
  const std::string etag = r->get_header_value("ETag");
  EXPECT_FALSE(etag.empty());
  EXPECT_FALSE(r->get_header_value("Last-Modified").empty());
  EXPECT_EQ(r->get_header_value("Accept-Ranges"), "bytes");

  struct Case {
    std::string range;
    uint64_t first, last;
  };
  for (const Case& k : {Case{"bytes=0-0", 0, 0}, Case{"bytes=100-199", 100, 199},
                        Case{"bytes=1000-", 1000, n - 1}, Case{"bytes=-500", n - 500, n - 1},
                        Case{"bytes=10-99999999", 10, n - 1}, Case{"bytes=-99999999", 0, n - 1}}) {
    r = c.Get("/v1/files/a.h4mk", httplib::Headers{{"Range", k.range}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 206) << k.range;
    EXPECT_EQ(r->body, whole.substr(k.first, k.last - k.first + 1)) << k.range;
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes " + std::to_string(k.first) + "-" +
                                                        std::to_string(k.last) + "/" +
                                                        std::to_string(n));
  }
  for (std::string bad : {"bytes=" + std::to_string(n) + "-", std::string("bytes=5-2"),
                          std::string("bytes=abc"), std::string("bytes=-0"),
                          std::string("bytes=1-2-3"), std::string("bytes=99999999999999999999-")}) {
    r = c.Get("/v1/files/a.h4mk", httplib::Headers{{"Range", bad}});
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 416) << bad;
    EXPECT_EQ(r->get_header_value("Content-Range"), "bytes */" + std::to_string(n)) << bad;
  }
  // Several ranges, or another unit: the whole file (RFC 9110 allows ignoring).
  r = c.Get("/v1/files/a.h4mk", httplib::Headers{{"Range", "bytes=0-1,5-6"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), n);
  // Caching: a matching If-None-Match is 304; a stale If-Range gets everything.
  r = c.Get("/v1/files/a.h4mk", httplib::Headers{{"If-None-Match", etag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  r = c.Get("/v1/files/a.h4mk",
            httplib::Headers{{"Range", "bytes=0-9"}, {"If-Range", "\"other\""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  r = c.Head("/v1/files/a.h4mk");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Length"), std::to_string(n));
  EXPECT_TRUE(r->body.empty());

  // Every answer gives its file back, sent or not (304, 416, HEAD, a range):
  // the server holds no more descriptors after many than after one.
  const size_t held = srv.open_descriptors();
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(c.Get("/v1/files/a.h4mk", httplib::Headers{{"If-None-Match", etag}}));
    ASSERT_TRUE(c.Get("/v1/files/a.h4mk", httplib::Headers{{"Range", "bytes=5-2"}}));
    ASSERT_TRUE(c.Get("/v1/files/a.h4mk", httplib::Headers{{"Range", "bytes=0-99"}}));
    ASSERT_TRUE(c.Head("/v1/files/a.h4mk"));
  }
  size_t now = srv.open_descriptors();
  for (int wait = 0; wait < 100 && now > held; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    now = srv.open_descriptors();
  }
  EXPECT_LE(now, held) << "descriptors held after 200 answers from the file";
}

// A signed file needs nothing of the server but its bytes by range: a
// remote verifier checks a time range through /v1/files/{name} alone.
TEST(Serve, ARemoteVerifierChecksARangeThroughTheFileEndpoint) {
  const KeyPair keys = make_keys();
  {
    MemorySource in(demo_file());
    MemorySink out;
    sign_file(in, out, keys.private_pem);
    write_file((dir() / "root" / "signed.h4mk").string(), out.bytes());
  }
  const std::string pub = (dir() / "verifier.pub").string();
  write_file(pub,
             {reinterpret_cast<const uint8_t*>(keys.public_pem.data()), keys.public_pem.size()});
  Server srv;
  const std::string url =
      "http://127.0.0.1:" + std::to_string(srv.port()) + "/v1/files/signed.h4mk";
  FILE* p = popen((std::string(H4MK_TOOL) + " verify --json " + url + " --pubkey " + pub +
                   " --from 12s --to 13s")
                      .c_str(),
                  "r");
  std::string out;
  char buf[4096];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  EXPECT_EQ(pclose(p), 0) << out;
  const json j = json::parse(out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << out;
  EXPECT_EQ(j["ok"], true) << out;
  EXPECT_GT(j["blocks"].get<int>(), 0);
  EXPECT_LT(j["bytes_read"].get<uint64_t>(), demo_file().size() / 4);
  const json stats = json::parse(srv.client().Get("/v1/stats")->body, nullptr, false);
  EXPECT_GE(stats["range_requests"].get<uint64_t>(), j["requests"].get<uint64_t>()) << stats;
}

TEST(Serve, StreamSendsOneEventPerBlock) {
  const auto& file = demo_file();
  Server srv;
  auto c = srv.client();
  std::string body;
  auto r = c.Get("/v1/files/a.h4mk/stream?track=1&from=2s&to=3s", [&](const char* d, size_t n) {
    body.append(d, n);
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  std::vector<TestBlock> want;
  for (const auto& b : of_track(read_all(file).blocks, 1))
    if (b.info.pts >= 2 * 48000 && b.info.pts < 3 * 48000) want.push_back(b);
  size_t i = 0, pos = 0;
  bool ended = false;
  while ((pos = body.find("event: ", pos)) != std::string::npos) {
    size_t eol = body.find('\n', pos);
    std::string event = body.substr(pos + 7, eol - pos - 7);
    size_t data = body.find("data: ", eol) + 6;
    json j = json::parse(body.substr(data, body.find('\n', data) - data));
    if (event == "block") {
      ASSERT_LT(i, want.size());
      EXPECT_EQ(j["pts"], want[i].info.pts);
      EXPECT_EQ(from_base64(j["payload"]), want[i].data) << i;
      i++;
    } else if (event == "end") {
      EXPECT_EQ(j["blocks"], want.size());
      ended = true;
    }
    pos = data;
  }
  EXPECT_EQ(i, want.size());
  EXPECT_TRUE(ended);
  // Paced: 0.5 s of blocks take about 0.5 s.
  const auto t0 = std::chrono::steady_clock::now();
  r = c.Get("/v1/files/a.h4mk/stream?track=1&from=1s&to=1.5s&pace=1");
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r);
  EXPECT_GT(took, 0.4);
  r = c.Get("/v1/files/a.h4mk/stream?from=1s");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
}

TEST(Serve, HostileRequestsGet4xxAndTheServerLives) {
  demo_file();
  // A file outside the root, reachable only through a symlink, and a hidden one.
  write_file((dir() / "secret.h4mk").string(), demo_file());
  fs::create_symlink(dir() / "secret.h4mk", dir() / "root" / "link.h4mk");
  write_file((dir() / "root" / ".hidden.h4mk").string(), demo_file());
  Server srv;
  auto c = srv.client();
  for (std::string path :
       {"/v1/files/..", "/v1/files/..%2Fsecret.h4mk", "/v1/files/%2e%2e%2fsecret.h4mk",
        "/v1/files/link.h4mk", "/v1/files/.hidden.h4mk", "/v1/files/a.txt",
        "/v1/files/%2Fetc%2Fpasswd", "/v1/files/a.h4mk%00.txt", "/v1/files/nope.h4mk/manifest",
        "/v1/files/a.h4mk/seek?track=2", "/v1/files/a.h4mk/seek?track=9&t=1",
        "/v1/files/a.h4mk/seek?track=-1&t=1", "/v1/files/a.h4mk/seek?track=2&t=soon",
        "/v1/files/a.h4mk/block?index=x", "/v1/files/a.h4mk/block?track=99999&index=0",
        "/v1/files/a.h4mk/chain?track=1&t=-5", "/v1/nothing"}) {
    auto r = c.Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_GE(r->status, 400) << path;
    EXPECT_LT(r->status, 500) << path;
    EXPECT_TRUE(json::parse(r->body, nullptr, false).contains("error")) << path << r->body;
  }
  auto r = c.Post("/v1/export?block_size=10", "abc", "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  // Not HTTP, truncated HTTP, an enormous URI and header: answered or closed, never a crash.
  raw_exchange(srv.port(), "\x16\x03\x01\x02\x00garbage\r\n\r\n");
  raw_exchange(srv.port(), "GET /v1/files/a.h4mk HTTP/1.1\r\nRange: bytes=");
  // An over-long request line or header: a 4xx (the request line fits the
  // connection's memory and names no endpoint; the header does not fit).
  const std::string long_uri = raw_exchange(
      srv.port(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(long_uri.rfind("HTTP/1.1 4", 0), 0u) << long_uri.substr(0, 100);
  const std::string long_header =
      raw_exchange(srv.port(), "GET / HTTP/1.1\r\nX: " + std::string(100000, 'b') + "\r\n\r\n");
  EXPECT_EQ(long_header.rfind("HTTP/1.1 431", 0), 0u) << long_header.substr(0, 100);
  std::mt19937 rng(4);
  for (int i = 0; i < 50; i++) {
    std::string junk(rng() % 300, '\0');
    for (auto& ch : junk) ch = char(rng());
    raw_exchange(srv.port(), "GET /v1/files/a.h4mk HTTP/1.1\r\nConnection: close\r\nRange: " +
                                 junk + "\r\n\r\n");
  }
  r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(srv.stop(), 0);
}

TEST(Serve, ConcurrentClientsGetExactBytes) {
  const auto& file = demo_file();
  Server srv({"--threads", "4"});
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; t++)
    clients.emplace_back([&, t] {
      std::mt19937 rng{uint32_t(t)};
      auto c = srv.client();
      for (int i = 0; i < 40; i++) {
        uint64_t a = rng() % file.size(),
                 b = std::min<uint64_t>(file.size() - 1, a + rng() % 70000);
        auto r = c.Get(
            "/v1/files/a.h4mk",
            httplib::Headers{{"Range", "bytes=" + std::to_string(a) + "-" + std::to_string(b)}});
        if (!r || r->status != 206) {
          failed++;
          continue;
        }
        if (r->body != std::string(file.begin() + long(a), file.begin() + long(b) + 1)) wrong++;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(srv.stats()["range_requests"], 320);
}

TEST(Serve, ExportPacksAnUploadWhenAllowed) {
  Server srv({"--allow-upload", "--max-upload", "100000"});
  auto c = srv.client();
  std::string raw(50000, '\0');
  for (size_t i = 0; i < raw.size(); i++) raw[i] = char(i * 7 + i / 300);
  auto r = c.Post("/v1/export?block_size=4096&fps=25&gop=5", raw, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<uint8_t> h4(r->body.begin(), r->body.end());
  auto back = read_all(h4);
  ASSERT_EQ(back.blocks.size(), 13u);
  std::string joined;
  for (const auto& b : back.blocks) joined.append(b.data.begin(), b.data.end());
  EXPECT_EQ(joined, raw);
  EXPECT_EQ(back.blocks[5].info.type, BlockType::kI);
  // compress=LEVEL: the same blocks, groups zstd-compressed where they shrink.
  const std::string tokens(60000, 'q');
  r = c.Post("/v1/export?block_size=16&fps=50&compress=3", tokens, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body[4], 2);  // format 2.0
  EXPECT_LT(r->body.size(), tokens.size() / 4);
  std::string expanded;
  for (const auto& b : read_all(std::vector<uint8_t>(r->body.begin(), r->body.end())).blocks)
    expanded.append(b.data.begin(), b.data.end());
  EXPECT_EQ(expanded, tokens);
  // The seeds' decompress=true: /block hands a compressed group's block out
  // expanded, and refuses decompress=false (a group is one zstd frame, so a
  // block has no stored bytes of its own); on export it stores the groups
  // as they are.
  {
    std::ofstream((dir() / "root" / "packed.h4mk").string(), std::ios::binary) << r->body;
    auto blocks = read_all(std::vector<uint8_t>(r->body.begin(), r->body.end())).blocks;
    for (const char* ask : {"", "&decompress=true", "&decompress=1"}) {
      auto b = c.Get(std::string("/v1/files/packed.h4mk/block?index=3") + ask);
      ASSERT_TRUE(b) << ask;
      ASSERT_EQ(b->status, 200) << ask << b->body;
      EXPECT_EQ(b->body, std::string(blocks[3].data.begin(), blocks[3].data.end())) << ask;
    }
    auto b = c.Get("/v1/files/packed.h4mk/block?index=3&decompress=false");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 400);
    EXPECT_NE(b->body.find("always served expanded"), std::string::npos) << b->body;
  }
  r = c.Post("/v1/export?block_size=16&fps=50&decompress=true", tokens, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body[4], 1);  // format 1.0: nothing compressed
  EXPECT_GT(r->body.size(), tokens.size());
  for (const char* refused :
       {"/v1/export?block_size=16&compress=3&decompress=true",
        "/v1/export?block_size=16&compress=0", "/v1/export?block_size=16&compress=20",
        "/v1/export?block_size=16&compress=3&mask=true&master_key_hex="
        "0000000000000000000000000000000000000000000000000000000000000000"}) {
    r = c.Post(refused, raw, "application/octet-stream");
    ASSERT_TRUE(r) << refused;
    EXPECT_EQ(r->status, 400) << refused << r->body;
  }
  r = c.Post("/v1/export?block_size=4096", std::string(200000, 'x'), "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = c.Post("/v1/export?block_size=0", raw, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = c.Post("/v1/export?block_size=10&fps=fast", raw, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  // A request for protection is honoured or refused, never ignored (an
  // ignored mask=true once gave a plaintext export).
  const std::string hex(64, 'a');
  r = c.Post("/v1/export?block_size=4096&mask=true&master_key_hex=" + hex, raw,
             "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-H4MK-Masked-Tracks"), "1");
  MaskKey key = parse_mask_key_hex(hex);
  EXPECT_EQ(r->get_header_value("X-H4MK-KID"), default_key_id(key));
  EXPECT_EQ(r->get_header_value("X-H4MK-Key-Source"), "request");
  expect_masked_export(r->body, raw, key);
  for (const char* refused :
       {"/v1/export?block_size=4096&mask=true",          // no key anywhere
        "/v1/export?block_size=4096&master_key_hex=aa",  // a key without mask=true
        "/v1/export?block_size=4096&mask=yes", "/v1/export?block_size=4096&mask=1&mask=1",
        "/v1/export?block_size=4096&kid=x", "/v1/export?block_size=4096&fps=30&fps_hint=30"}) {
    r = c.Post(refused, raw, "application/octet-stream");
    ASSERT_TRUE(r) << refused;
    EXPECT_EQ(r->status, 400) << refused << r->body;
  }
  r = c.Post("/v1/export?block_size=4096&mask=true", raw, "application/octet-stream");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("nothing was exported"), std::string::npos) << r->body;
  r = c.Get("/v1/files/demo.h4mk/seek?track=1&t=0&tolerance=5");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

// The seeds' curl: a multipart form with the file part first and the fields
// after it, mask=true with the key in the form; a raw body with its own
// content type; and `curl --data-binary`'s url-encoded form type, refused
// (its fields, a mask request among them, would go unread).
TEST(Serve, ExportTakesTheSeedsMultipartFormAndCurlsRawBody) {
  Server srv({"--allow-upload", "--max-upload", "1000000"});
  auto c = srv.client();
  std::string raw(300000, '\0');
  std::mt19937 rng(9);
  for (auto& ch : raw) ch = char(rng());
  const std::string hex = "6dd516ea8669e2464a31f0624a5550d76dd516ea8669e2464a31f0624a5550d7";
  httplib::MultipartFormDataItems form = {{"file", raw, "input.raw", "application/octet-stream"},
                                          {"block_size", "65536", "", ""},
                                          {"fps_hint", "30", "", ""},
                                          {"gop", "2", "", ""},
                                          {"mask", "true", "", ""},
                                          {"master_key_hex", hex, "", ""}};
  auto r = c.Post("/video/export", form);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("X-H4MK-Blocks"), "5");
  expect_masked_export(r->body, raw, parse_mask_key_hex(hex));

  form.pop_back();
  form.pop_back();
  form.push_back({"colour", "blue", "", ""});
  r = c.Post("/v1/export", form);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("unknown parameter 'colour'"), std::string::npos) << r->body;
  r = c.Post("/v1/export", httplib::MultipartFormDataItems{{"block_size", "10", "", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("no file part"), std::string::npos) << r->body;
  r = c.Post("/v1/export",
             httplib::MultipartFormDataItems{{"file", "abc", "a", ""}, {"file", "def", "b", ""}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;

  for (const char* type : {"application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded",
                           "multipart/mixed; boundary=x"}) {
    r = c.Post("/v1/export?block_size=65536", raw, type);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415) << type << r->body;
    EXPECT_NE(r->body.find("is not taken"), std::string::npos) << r->body;
  }
  r = c.Post("/v1/export?block_size=65536", raw, "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<uint8_t> h4(r->body.begin(), r->body.end());
  std::string joined;
  for (const auto& b : read_all(h4).blocks) joined.append(b.data.begin(), b.data.end());
  EXPECT_EQ(joined, raw);
  // Too large is said only of what is too large.
  // (answered from the headers, before the body: a client still sending it
  // may not read the answer, so the headers alone are sent here)
  const std::string reply = raw_exchange(
      srv.port(),
      "POST /v1/export?block_size=65536 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000001\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\n\r\n");
  EXPECT_EQ(reply.rfind("HTTP/1.1 413", 0), 0u) << reply;
  EXPECT_NE(reply.find("limit of 1000000"), std::string::npos) << reply;
}

// Media types are case-insensitive (RFC 9110 §8.3.1): a form whose type is
// spelt Multipart/Form-Data is parsed as a form and its mask=true honoured,
// never taken as a raw upload (which once answered plaintext, with the
// key's hex inside the file).
TEST(Serve, AFormIsAFormWhateverTheCaseOfItsType) {
  Server srv({"--allow-upload", "--max-upload", "1000000"});
  std::string raw(20000, '\0');
  std::mt19937 rng(11);
  for (auto& ch : raw) ch = char(rng());
  const std::string hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  std::string body;
  auto part = [&](const std::string& name, const std::string& value, const char* file) {
    body += "--XyZ\r\nContent-Disposition: form-data; name=\"" + name + "\"" +
            (file ? std::string("; filename=\"") + file + "\"" : "") + "\r\n\r\n" + value + "\r\n";
  };
  part("file", raw, "in.raw");
  part("block_size", "4096", nullptr);
  part("mask", "true", nullptr);
  part("master_key_hex", hex, nullptr);
  body += "--XyZ--\r\n";
  for (const char* type : {"Multipart/Form-Data; boundary=XyZ", "MULTIPART/FORM-DATA ;boundary=XyZ",
                           " multipart/form-data; boundary=XyZ"}) {
    const std::string reply = raw_exchange(
        srv.port(), "POST /v1/export HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: " +
                        std::string(type) + "\r\nContent-Length: " + std::to_string(body.size()) +
                        "\r\n\r\n" + body);
    ASSERT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << type << "\n" << reply.substr(0, 400);
    EXPECT_NE(reply.find("X-H4MK-Masked-Tracks: 1"), std::string::npos) << type;
    const std::string file = reply.substr(reply.find("\r\n\r\n") + 4);
    EXPECT_EQ(file.find(hex), std::string::npos) << type << ": the key is inside the file";
    expect_masked_export(file, raw, parse_mask_key_hex(hex));
  }
  // Field names count against the form's limits, as values do.
  std::string many;
  for (int i = 0; i < 2; i++)
    many += "--XyZ\r\nContent-Disposition: form-data; name=\"" +
            std::string(60000, char('a' + i % 26)) + "\"\r\n\r\nv\r\n";
  many += "--XyZ--\r\n";
  const std::string reply =
      raw_exchange(srv.port(),
                   "POST /v1/export?block_size=4096 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   "Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: " +
                       std::to_string(many.size()) + "\r\n\r\n" + many);
  EXPECT_EQ(reply.rfind("HTTP/1.1 400", 0), 0u) << reply.substr(0, 400);
  EXPECT_NE(reply.find("name is longer than 4096"), std::string::npos) << reply.substr(0, 400);
}

// The tokenizing uploads refuse, with a 4xx naming the problem, what they
// cannot do: never a 500, a crash or an answer that ignores a parameter.
TEST(Serve, TokenizingUploadsRefuseWhatTheyCannotDo) {
  Server srv({"--allow-upload", "--max-upload", "1000000"});
  auto c = srv.client();
  const std::string pcm(4000, '\x01');
  // A WAV header claiming 65,535 channels and a data chunk of 2 GiB.
  auto le = [](uint32_t v, int n) {
    std::string out;
    for (int i = 0; i < n; i++) out += char((v >> (8 * i)) & 0xff);
    return out;
  };
  const std::string wav_lies = "RIFF" + le(0x7fffffff, 4) + "WAVEfmt " + le(16, 4) + le(1, 2) +
                               le(65535, 2) + le(8000, 4) + le(16000, 4) + le(2, 2) + le(16, 2) +
                               "data" + le(0x7fffffff, 4) + std::string(100, 'x');
  // A-law samples in a WAV file: a codec libsndfile would decode.
  const std::string wav_alaw = "RIFF" + le(36 + 400, 4) + "WAVEfmt " + le(16, 4) + le(6, 2) +
                               le(1, 2) + le(8000, 4) + le(8000, 4) + le(1, 2) + le(8, 2) + "data" +
                               le(400, 4) + std::string(400, 'x');
  struct Case {
    std::string target, body, says;
  } cases[] = {
      {"/v1/audio/stream", pcm, "needs sample_rate"},
      {"/v1/audio/stream?sample_rate=8000&frame_size=1023", pcm, "frame_size"},
      {"/v1/audio/stream?sample_rate=8000&frame_size=1024&hop=512", pcm, "not both"},
      {"/v1/audio/stream?sample_rate=8000&format=mp3", pcm, "wav, s16le or f32le"},
      {"/v1/audio/stream?sample_rate=8000&channels=9", pcm, "channels"},
      {"/v1/audio/stream?sample_rate=0", pcm, "positive"},
      {"/v1/audio/stream?format=wav", pcm, "not a WAV file"},
      // Other formats libsndfile knows never reach it as format=wav.
      {"/v1/audio/stream?format=wav", "FORM" + le(4000, 4) + "AIFFCOMM" + pcm, "not a WAV file"},
      {"/v1/audio/stream?format=wav", "fLaC" + pcm, "not a WAV file"},
      {"/v1/audio/stream?format=wav", "caff" + pcm, "not a WAV file"},
      {"/v1/audio/stream?format=wav", "OggS" + pcm, "not a WAV file"},
      {"/v1/audio/stream?format=wav", "RIFF" + le(4000, 4) + "AVI " + pcm, "not a WAV file"},
      {"/v1/audio/stream", wav_alaw, "coded samples"},
      {"/v1/audio/stream", wav_lies, "not wav audio"},
      {"/v1/audio/stream?sample_rate=8000&top_k=0", pcm, "positive"},
      {"/v1/audio/stream?sample_rate=8000&window=hann", pcm, "unknown parameter 'window'"},
      {"/v1/audio/export?sample_rate=8000&mask=true", pcm, "nothing was exported"},
      {"/v1/audio/export?sample_rate=8000&master_key_hex=00", pcm, "without mask=true"},
      {"/v1/audio/mask?block_size=100", pcm, "masking needs master_key_hex"},
      {"/v1/audio/mask?block_size=100&master_key_hex=abc", pcm, "master_key_hex"},
      {"/v1/audio/mask?block_size=100&mask=true", pcm, "unknown parameter 'mask'"},
      {"/v1/video/stream?block_size=100&mask=true", pcm, "unknown parameter 'mask'"},
      {"/v1/video/stream?block_size=0", pcm, "positive"},
      {"/v1/video/stream?block_size=100", "", "empty"},
  };
  for (const Case& k : cases) {
    auto r = c.Post(k.target, k.body, "application/octet-stream");
    ASSERT_TRUE(r) << k.target;
    EXPECT_EQ(r->status / 100, 4) << k.target << ": " << r->body;
    EXPECT_NE(r->body.find(k.says), std::string::npos) << k.target << ": " << r->body;
  }
  // Samples that are not numbers have no tokens (with the dsp tokenizer).
  const char* adapters = std::getenv("H4MK_ADAPTER_PATH");
  if (adapters &&
      std::filesystem::exists(std::filesystem::path(adapters) / "h4mk-adapter-dsp.so")) {
    std::vector<float> samples(4000, 0.25f);
    samples[1234] = std::nanf("");
    const std::string nan_pcm(reinterpret_cast<const char*>(samples.data()), samples.size() * 4);
    auto r = c.Post("/v1/audio/export?format=f32le&sample_rate=8000", nan_pcm,
                    "application/octet-stream");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status / 100, 4) << r->body;
    EXPECT_NE(r->body.find("sample 1234 of channel 0 is not a number"), std::string::npos)
        << r->body;
  }
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(Serve, MaskedBlocksStayMaskedWithoutTheKey) {
  const auto& file = demo_file();
  MaskKey key{};
  key.fill(3);
  {
    MemorySource src(file);
    Reader r(src);
    MemorySink sink;
    Writer w(sink);
    for (const auto& t : r.tracks()) w.add_track(t);
    w.set_mask_key(2, key);
    Block b;
    while (r.next(b) == ReadEvent::kBlock) w.write_block(b.info, b.data, b.side_data);
    w.finish();
    write_file((dir() / "root" / "m.h4mk").string(), sink.bytes());
  }
  auto plain = of_track(read_all(file).blocks, 2)[3];
  Server without;
  auto r = without.client().Get("/v1/files/m.h4mk/block?track=2&index=3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-H4MK-Masked"), "1");
  EXPECT_NE(r->body, std::string(plain.data.begin(), plain.data.end()));
  std::string hex;
  for (int i = 0; i < 32; i++) hex += "03";
  Server with({"--key", hex});
  r = with.client().Get("/v1/files/m.h4mk/block?track=2&index=3");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-H4MK-Masked"), "0");
  EXPECT_EQ(r->body, std::string(plain.data.begin(), plain.data.end()));
  fs::remove(dir() / "root" / "m.h4mk");
}

TEST(Serve, SigtermStopsItCleanlyWhileAClientIsConnected) {
  demo_file();
  Server srv;
  std::thread slow([&] {  // a paced stream still running when the signal comes
    auto c = srv.client();
    c.Get("/v1/files/a.h4mk/stream?track=1&pace=1");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(srv.stop(), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  slow.join();
}

}  // namespace
// A key given with --key is gone from the process list once parsed, and a
// server holding a key leaves no core dump.
TEST(Serve, AKeyOnTheCommandLineLeavesTheProcessList) {
  const std::string hex(64, 'c');
  Server srv({"--key", hex});
  ASSERT_GT(srv.pid(), 0);
  auto c = srv.client();
  auto r = c.Get("/health");
  ASSERT_TRUE(r);
  std::ifstream cmdline("/proc/" + std::to_string(srv.pid()) + "/cmdline", std::ios::binary);
  std::string args((std::istreambuf_iterator<char>(cmdline)), {});
  EXPECT_NE(args.find("--key"), std::string::npos);
  EXPECT_EQ(args.find(hex), std::string::npos);
  std::ifstream limits("/proc/" + std::to_string(srv.pid()) + "/limits");
  std::string line;
  bool found = false;
  while (std::getline(limits, line))
    if (line.rfind("Max core file size", 0) == 0) {
      found = true;
      std::istringstream fields(line.substr(18));
      std::string soft;
      fields >> soft;
      EXPECT_EQ(soft, "0") << line;
    }
  EXPECT_TRUE(found);
}

// A file name that is not UTF-8 in the served directory is listed (its bad
// bytes replaced), never a 500 for everyone.
TEST(Serve, AFileNameThatIsNotUtf8DoesNotBreakTheListing) {
  demo_file();
  const fs::path odd = dir() / "root" / "bad\xff\xfe.h4mk";
  write_file(odd.string(), demo_file());
  Server srv;
  auto c = srv.client();
  auto r = c.Get("/v1/files");
  fs::remove(odd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["files"].size(), 2u) << r->body;
}

}  // namespace h4mk::test
