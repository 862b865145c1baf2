// h4mk serve's API as users meet it: /openapi.json against the routes the
// server installs (both ways, parameters included), the events each stream
// sends against the ones documented, /docs rendered in headless Chromium, and
// the seeds' own curl commands with the real curl.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "serve_process.hpp"
#include "test_util.hpp"

namespace h4mk::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path dir() {
  static const fs::path d = served_work_dir(H4MK_WORK_DIR, "serve_api", 4);
  return d;
}

struct Output {
  int status;
  std::string out;
};
Output run(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[65536];
  for (size_t k; (k = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, k);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// METHOD PATH -> parameters, as `h4mk serve --routes` prints them.
std::map<std::string, std::set<std::string>> installed_routes() {
  Output r = run(std::string(H4MK_TOOL) + " serve '" + (dir() / "root").string() + "' --routes");
  EXPECT_EQ(r.status, 0);
  std::map<std::string, std::set<std::string>> routes;
  std::istringstream lines(r.out);
  std::string method, path, params;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    params.clear();
    f >> method >> path >> params;
    std::set<std::string>& p = routes[method + " " + path];
    std::istringstream names(params);
    for (std::string n; std::getline(names, n, ',');) p.insert(n);
  }
  return routes;
}

json openapi(const ServeProcess& srv) {
  auto r = srv.client().Get("/openapi.json");
  EXPECT_TRUE(r && r->status == 200);
  return r ? json::parse(r->body) : json();
}

TEST(ServeApi, OpenApiListsEveryRouteWithItsParametersAndNothingElse) {
  ServeProcess srv(H4MK_TOOL, (dir() / "root").string(), {});
  const json doc = openapi(srv);
  ASSERT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  std::map<std::string, std::set<std::string>> documented;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      std::string m = method;
      for (auto& ch : m) ch = char(std::toupper(static_cast<unsigned char>(ch)));
      std::set<std::string> query, form;
      for (const auto& p : op["parameters"])
        if (p["in"] == "query") query.insert(p["name"].get<std::string>());
      if (op.contains("requestBody")) {
        for (const auto& [name, schema] :
             op["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"].items())
          if (name != "file") form.insert(name);
        EXPECT_EQ(form, query) << method << " " << path << ": form fields and query differ";
      }
      for (const char* status : {"200", "400"})
        EXPECT_TRUE(op["responses"].contains(status)) << method << " " << path << " " << status;
      documented[m + " " + path] = query;
    }
  const auto routes = installed_routes();
  ASSERT_GT(routes.size(), 20u);
  for (const auto& [route, params] : routes) {
    ASSERT_TRUE(documented.count(route)) << route << " is not in /openapi.json";
    EXPECT_EQ(documented[route], params) << route;
  }
  for (const auto& [route, params] : documented)
    EXPECT_TRUE(routes.count(route)) << route << " is documented but not served";
}

// The event names of a text/event-stream body.
std::set<std::string> events_of(const std::string& body) {
  std::set<std::string> names;
  std::istringstream lines(body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("event: ", 0) == 0) names.insert(line.substr(7));
  return names;
}

std::set<std::string> documented_events(const json& doc, const std::string& path) {
  std::set<std::string> names;
  const json& ops = doc.at("paths").at(path);
  const json& op = ops.contains("post") ? ops.at("post") : ops.at("get");
  for (const auto& [name, what] : op.at("x-sse-events").items()) names.insert(name);
  return names;
}

bool have_dsp() {
  const char* path = std::getenv("H4MK_ADAPTER_PATH");
  return path && fs::exists(fs::path(path) / "h4mk-adapter-dsp.so");
}

std::string tone_pcm(double hz, int rate, double seconds) {
  std::string pcm(size_t(rate * seconds) * 2, '\0');
  for (size_t i = 0; i < pcm.size() / 2; i++) {
    const auto v = int16_t(12000 * std::sin(2 * M_PI * hz * double(i) / rate));
    pcm[2 * i] = char(v & 0xff);
    pcm[2 * i + 1] = char((v >> 8) & 0xff);
  }
  return pcm;
}

TEST(ServeApi, EveryEventAStreamSendsIsDocumented) {
  ServeProcess srv(H4MK_TOOL, (dir() / "root").string(), {"--allow-upload"});
  const json doc = openapi(srv);
  auto c = srv.client();
  auto r = c.Get("/v1/files/a.h4mk/stream");
  ASSERT_TRUE(r);
  std::set<std::string> seen = events_of(r->body),
                        doc_events = documented_events(doc, "/v1/files/{name}/stream");
  EXPECT_EQ(seen, (std::set<std::string>{"meta", "block", "end"}));
  for (const auto& e : seen) EXPECT_TRUE(doc_events.count(e)) << e;

  r = c.Post("/v1/video/stream?block_size=1000", std::string(5500, 'v'),
             "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // An upload that cannot be read on ends in "error" (the answer is under way).
  std::set<std::string> want = documented_events(doc, "/v1/video/stream");
  want.erase("error");
  EXPECT_EQ(events_of(r->body), want);

  if (!have_dsp()) GTEST_SKIP() << "no dsp adapter in H4MK_ADAPTER_PATH (built with FFmpeg)";
  r = c.Post("/v1/audio/stream?sample_rate=8000", tone_pcm(1000, 8000, 0.5),
             "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  seen = events_of(r->body);
  // Float samples that stop being numbers: the tokens so far, then what
  // stopped them, instead of done.
  std::vector<float> samples(8000, 0.25f);
  samples[6000] = std::nanf("");
  r = c.Post("/v1/audio/stream?sample_rate=8000&format=f32le",
             std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 4),
             "application/octet-stream");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(
      r->body.find("event: error\ndata: {\"error\":\"sample 6000 of channel 0 is not a number"),
      std::string::npos)
      << r->body.substr(r->body.size() - std::min<size_t>(r->body.size(), 400));
  EXPECT_EQ(r->body.find("event: done"), std::string::npos);
  for (const auto& e : events_of(r->body)) seen.insert(e);
  EXPECT_EQ(seen, documented_events(doc, "/v1/audio/stream"));
}

TEST(ServeApi, DocsShowEveryEndpointInChromium) {
  ServeProcess srv(H4MK_TOOL, (dir() / "root").string(), {});
  const json doc = openapi(srv);
  // Headless Chromium runs Redoc's script and prints the DOM it built.
  Output r = run(std::string(H4MK_CHROMIUM) +
                 " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage "
                 "--virtual-time-budget=30000 --dump-dom " +
                 srv.url("/docs") + " 2>/dev/null");
  ASSERT_EQ(r.status, 0);
  ASSERT_NE(r.out.find("redoc"), std::string::npos) << r.out.substr(0, 500);
  size_t ops = 0;
  for (const auto& [path, methods] : doc["paths"].items())
    for (const auto& [method, op] : methods.items()) {
      ops++;
      // Redoc writes the path as text: "{" and "}" as they are.
      EXPECT_NE(r.out.find(path), std::string::npos) << path << " is not on /docs";
      EXPECT_NE(r.out.find(op["summary"].get<std::string>()), std::string::npos)
          << op["summary"] << " is not on /docs";
    }
  EXPECT_GT(ops, 20u);
}

// The seeds' curl commands (streaming and export documents), with only the
// host changed, and what the seeds say they give.
TEST(ServeApi, TheSeedsCurlCommandsGiveWhatTheSeedsDescribe) {
  const fs::path work = dir() / "seeds";
  fs::create_directories(work);
  {
    std::ofstream raw(work / "input.raw", std::ios::binary);
    for (int i = 0; i < 100; i++) {
      char head[16];
      std::snprintf(head, sizeof head, "frame_%03d", i);
      raw << head << std::string(65536 - 9, '_');
    }
  }
  ServeProcess srv(H4MK_TOOL, (dir() / "root").string(),
                   {"--allow-upload", "--max-upload", "67108864"});
  const std::string base = "http://127.0.0.1:" + std::to_string(srv.port());
  const std::string cd = "cd '" + work.string() + "' && ";
  const std::string key = "6dd516ea8669e2464a31f0624a5550d76dd516ea8669e2464a31f0624a5550d7";

  Output r = run(cd + "curl -s -X POST " + base +
                 "/video/stream -F \"file=@input.raw\" -F \"block_size=524288\" -F \"fps_hint=30\" "
                 "-F \"gop=30\"");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("event: meta\ndata: {\"blocks\":13,\"block_size\":524288", 0), 0u)
      << r.out.substr(0, 300);
  size_t tokens = 0;
  for (size_t at = 0; (at = r.out.find("event: token", at)) != std::string::npos; at++) tokens++;
  EXPECT_EQ(tokens, 13u);
  EXPECT_NE(r.out.find("event: done\ndata: {\"ok\":true"), std::string::npos);

  r = run(cd + "curl -s -X POST " + base +
          "/video/export -F \"file=@input.raw\" -F \"block_size=524288\" -F \"fps_hint=30\" "
          "-F \"gop=30\" -F \"mask=true\" -F \"master_key_hex=" +
          key + "\" -o output.h4mk");
  ASSERT_EQ(r.status, 0);
  {
    auto file = read_file((work / "output.h4mk").string());
    MemorySource src(file);
    Reader reader(src);
    ASSERT_TRUE(reader.track(1) && reader.track(1)->mask) << "the export is not masked";
    reader.set_mask_key(parse_mask_key_hex(key));
    Block b;
    ASSERT_EQ(reader.next(b), ReadEvent::kBlock);
    EXPECT_EQ(std::string(b.data.begin(), b.data.begin() + 9), "frame_000");
  }

  r = run(cd + "curl -s -X POST " + base +
          "/audio/mask -F \"file=@input.raw\" -F \"block_size=262144\" -F \"master_key_hex=" + key +
          "\" -o audio.masked");
  ASSERT_EQ(r.status, 0);
  {
    auto file = read_file((work / "audio.masked").string());
    MemorySource src(file);
    Reader reader(src);
    ASSERT_TRUE(reader.track(1) && reader.track(1)->mask);
    EXPECT_EQ(reader.track(1)->kind, TrackKind::kAudio);
    reader.set_mask_key(parse_mask_key_hex(key));
    std::string joined;
    Block b;
    while (reader.next(b) == ReadEvent::kBlock) joined.append(b.data.begin(), b.data.end());
    EXPECT_EQ(joined.size(), 100u * 65536);
    EXPECT_EQ(joined.substr(65536, 9), "frame_001");
  }

  if (!have_dsp()) GTEST_SKIP() << "no dsp adapter in H4MK_ADAPTER_PATH (built with FFmpeg)";
  { std::ofstream(work / "audio.pcm", std::ios::binary) << tone_pcm(440, 48000, 1.0); }
  r = run(cd + "curl -s -X POST " + base +
          "/audio/stream -F \"file=@audio.pcm\" -F \"sample_rate=48000\" -F \"frame_size=2048\" "
          "-F \"top_k=32\"");
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.out.rfind("event: meta\ndata: {\"sample_rate\":48000,\"channels\":1", 0), 0u)
      << r.out.substr(0, 300);
  // The loudest token of a block in the middle is the tone's bin.
  std::istringstream lines(r.out);
  std::string event;
  json loudest;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("event: ", 0) == 0) event = line.substr(7);
    if (event != "token" || line.rfind("data: ", 0) != 0) continue;
    json t = json::parse(line.substr(6));
    ASSERT_TRUE(t.contains("bin_hz") && t.contains("magnitude") && t.contains("phase") &&
                t.contains("pts"));
    if (t["block_index"] == 20 && (loudest.is_null() || t["magnitude"] > loudest["magnitude"]))
      loudest = t;
  }
  ASSERT_FALSE(loudest.is_null());
  EXPECT_NEAR(loudest["bin_hz"].get<double>(), 440.0, 48000.0 / 2048);
  EXPECT_NEAR(loudest["magnitude"].get<double>(), 0.366 * 2 / M_PI, 0.03);
  EXPECT_NE(r.out.find("event: done\ndata: {\"ok\":true"), std::string::npos);
}

}  // namespace
}  // namespace h4mk::test
