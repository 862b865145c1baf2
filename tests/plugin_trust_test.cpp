// Nothing a file says loads code (issue "hostile input"): a track's adapter
// is looked up as a bare name in trusted directories only, never as a path,
// never under the current directory or the program's own location. A plugin
// whose constructor writes a marker file stands for the attacker's library;
// each test also shows that the marker does appear once the plugin is loaded
// the trusted way, so the tests can fail.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.hpp"

using namespace h4mk;
using namespace h4mk::test;
namespace fs = std::filesystem;

namespace {

const std::string kTool = H4MK_TOOL;

fs::path work() {
  // Short: a planted path must fit in the 32 bytes of a forged TRAK adapter.
  static const fs::path d = process_work_dir("/tmp", "h4pt");
  return d;
}

fs::path marker() { return work() / "marker"; }

bool marker_written() { return fs::exists(marker()); }

// Plants the marker plugin at `where` (directories made as needed).
void plant(const fs::path& where) {
  fs::create_directories(where.parent_path());
  fs::copy_file(H4MK_MARKER_PLUGIN, where, fs::copy_options::overwrite_existing);
}

struct Result {
  int status;
  std::string err;
};

// Runs `cmd` under sh in `cwd`, with the marker's path in the environment.
Result run_in(const fs::path& cwd, const std::string& cmd) {
  const fs::path err = work() / "stderr";
  const std::string line = "cd '" + cwd.string() + "' && H4MK_TEST_MARKER='" + marker().string() +
                           "' " + cmd + " >/dev/null 2>'" + err.string() + "'";
  int status = std::system(line.c_str());
  std::ifstream e(err);
  std::stringstream ss;
  ss << e.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

class PluginTrust : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove(marker());
    setenv("H4MK_TEST_MARKER", marker().c_str(), 1);
  }
};

TEST_F(PluginTrust, ATrackAdapterThatIsAPathIsNeverLoaded) {
  const fs::path evil = work() / "evil.so";
  plant(evil);
  for (const std::string& named : {evil.string(), std::string("./evil.so")}) {
    SCOPED_TRACE(named);
    auto file = h4core_file_naming(named);
    MemorySource src(file);
    Reader r(src);  // the file stays readable
    ASSERT_EQ(r.track(1)->adapter, named);
    try {
      load_adapter(r.track(1)->adapter, "", adapter_config_json(*r.track(1)));
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("not an adapter name"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(marker_written());
  }
  // The same library through the user's own path does load (the test can fail).
  EXPECT_THROW(load_adapter_file(evil.string()), Error);  // it exports no entry
  EXPECT_TRUE(marker_written());
}

TEST_F(PluginTrust, TheWriterRefusesAnAdapterThatIsNotAName) {
  for (const std::string& bad : std::vector<std::string>{"/x/evil.so", "./evil", "..", "Null",
                                                         "a b", std::string(33, 'a')}) {
    MemorySink sink;
    Writer w(sink);
    EXPECT_THROW(w.add_track(h4core_audio_track(8000, 1, bad)), Error) << bad;
  }
  MemorySink sink;
  Writer w(sink);
  EXPECT_NO_THROW(w.add_track(h4core_audio_track(8000, 1, std::string(32, 'a'))));
}

TEST_F(PluginTrust, RelativeSearchDirectoriesAreSkipped) {
  const fs::path cwd = work() / "rel";
  plant(cwd / "plugins" / "h4mk-adapter-marker.so");
  const char* saved = std::getenv("H4MK_ADAPTER_PATH");
  const std::string restore = saved ? saved : "";
  const fs::path old_cwd = fs::current_path();
  fs::current_path(cwd);
  setenv("H4MK_ADAPTER_PATH", "plugins:./plugins:", 1);
  for (const auto& d : adapter_search_path()) EXPECT_EQ(d.front(), '/') << d;
  EXPECT_THROW(load_adapter("marker"), Error);
  EXPECT_FALSE(marker_written());
  // An absolute directory the user set is searched.
  setenv("H4MK_ADAPTER_PATH", (cwd / "plugins").c_str(), 1);
  EXPECT_THROW(load_adapter("marker"), Error);  // loaded, then refused: no entry
  EXPECT_TRUE(marker_written());
  fs::current_path(old_cwd);
  if (saved)
    setenv("H4MK_ADAPTER_PATH", restore.c_str(), 1);
  else
    unsetenv("H4MK_ADAPTER_PATH");
}

TEST_F(PluginTrust, DecodeLoadsNothingAFileNamesByPath) {
  const fs::path evil = work() / "evil.so";
  plant(evil);
  write_file((work() / "path.h4mk").string(), h4core_file_naming(evil.string()));
  Result r = run_in(work(), kTool + " decode path.h4mk -o out.wav");
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("not an adapter name"), std::string::npos) << r.err;
  EXPECT_FALSE(marker_written());
  r = run_in(work(),
             kTool + " decode path.h4mk --adapter ./evil.so -o out.wav");  // the user's path
  EXPECT_TRUE(marker_written()) << r.err;
}

// What the h4mk program (libh4mk linked in) once searched: ./h4mk/adapters
// and ./../lib/h4mk/adapters under the current directory, and ../lib/h4mk/
// adapters next to wherever argv[0] or a symlink put the program.
TEST_F(PluginTrust, NeitherTheCurrentDirectoryNorTheProgramsLocationIsSearched) {
  const fs::path base = work() / "planted";
  const fs::path cwd = base / "cwd";
  for (const std::string name : {"null", "dsp"}) {
    plant(cwd / "h4mk" / "adapters" / ("h4mk-adapter-" + name + ".so"));
    plant(base / "evil-lib" / "h4mk" / "adapters" / ("h4mk-adapter-" + name + ".so"));
  }
  fs::create_directory_symlink(base / "evil-lib", base / "lib");  // a symlinked plugin directory
  fs::create_directories(base / "bin");
  fs::create_symlink(kTool, base / "bin" / "h4mk");
  fs::copy_file((fs::path(H4MK_VECTORS_DIR) / "multitrack.h4mk"), cwd / "in.h4mk");
  write_file((cwd / "demo.h4mk").string(), h4core_file_naming("null"));

  for (const std::string& tool :
       {kTool, (base / "bin" / "h4mk").string(), std::string("env PATH=../bin:$PATH h4mk")})
    for (const std::string& args : {"", "--adapter null", "--adapter dsp"}) {
      SCOPED_TRACE(tool + " " + args);
      Result r = run_in(
          cwd, "env -u H4MK_ADAPTER_PATH " + tool + " decode demo.h4mk " + args + " -o out.wav");
      EXPECT_FALSE(marker_written()) << r.err;
      fs::remove(marker());
    }
  // A relative H4MK_ADAPTER_PATH is not searched either; an absolute one is.
  Result r =
      run_in(cwd, "H4MK_ADAPTER_PATH=h4mk/adapters " + kTool + " decode demo.h4mk -o out.wav");
  EXPECT_FALSE(marker_written()) << r.err;
  r = run_in(cwd, "H4MK_ADAPTER_PATH=" + (cwd / "h4mk" / "adapters").string() + " " + kTool +
                      " decode demo.h4mk -o out.wav");
  EXPECT_TRUE(marker_written()) << r.err;
}

}  // namespace
