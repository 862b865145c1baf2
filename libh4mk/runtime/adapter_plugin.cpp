// Adapter plugins: finding, loading (dlopen) and wrapping a plugin's C table
// as a ModelAdapter / Tokenizer. Code is loaded from two places only: a bare
// name looked up in trusted directories, or a path the user gave.
#include <dlfcn.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "h4mk/adapter.hpp"
#include "h4mk/error.hpp"

#ifndef H4MK_ADAPTER_INSTALL_DIR
#define H4MK_ADAPTER_INSTALL_DIR ""
#endif

namespace h4mk {

StatePtr ModelAdapter::apply_B(const DecodeState&, const DecodeState&, const AdapterBlock& block) {
  throw Error(ErrorCode::kInvalidArgument, "adapter " + name() + " does not decode B blocks (pts " +
                                               std::to_string(block.pts) + ")");
}

namespace {

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// A dlopen handle shared by the adapter and its states' owner.
struct Library {
  void* handle = nullptr;
  const h4mk_adapter_api* api = nullptr;
  std::string path;
  ~Library() {
    if (handle) ::dlclose(handle);
  }
};

// The first `file` in the search path.
std::string find_plugin_file(const std::string& file, const std::string& what) {
  std::string searched;
  for (const auto& dir : adapter_search_path()) {
    std::string candidate = dir + "/" + file;
    if (is_file(candidate)) return candidate;
    searched += (searched.empty() ? "" : ", ") + dir;
  }
  throw Error(ErrorCode::kNotFound,
              "no " + what + " (looked for " + file + " in " +
                  (searched.empty() ? "no directory" : searched) +
                  "; set H4MK_ADAPTER_PATH to absolute directories, or give a plugin path)");
}

std::string find_named_plugin(const std::string& name) {
  if (!is_adapter_name(name))
    throw Error(ErrorCode::kInvalidArgument,
                "'" + printable(name) +
                    "' is not an adapter name (1-32 of a-z 0-9 _ -, starting with a letter or "
                    "digit); a plugin is loaded by path only when the user gives the path");
  if (name == kPythonAdapter)
    throw Error(ErrorCode::kInvalidArgument,
                "adapter 'python' runs the Python code its options name: only the user can "
                "choose it (ffmpeg -adapter python, h4mk decode --adapter python), never a file");
  return find_plugin_file("h4mk-adapter-" + name + ".so", "adapter named '" + name + "'");
}

std::shared_ptr<Library> open_library(const std::string& path) {
  if (!is_file(path))
    throw Error(ErrorCode::kNotFound, "adapter plugin " + printable(path) + ": no such file");
  auto lib = std::make_shared<Library>();
  lib->path = path;
  lib->handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle) {
    const char* why = ::dlerror();
    throw Error(ErrorCode::kInvalidArgument,
                "adapter plugin " + path + " cannot be loaded: " + (why ? why : "unknown reason"));
  }
  ::dlerror();
  auto entry = reinterpret_cast<h4mk_adapter_entry_fn>(::dlsym(lib->handle, H4MK_ADAPTER_ENTRY));
  if (!entry)
    throw Error(ErrorCode::kInvalidArgument, "adapter plugin " + path + " exports no " +
                                                 H4MK_ADAPTER_ENTRY + "(): not an h4mk adapter");
  const h4mk_adapter_api* api = entry(H4MK_ADAPTER_ABI_VERSION);
  if (!api)
    throw Error(ErrorCode::kUnsupportedVersion, "adapter plugin " + path +
                                                    " does not support adapter ABI version " +
                                                    std::to_string(H4MK_ADAPTER_ABI_VERSION));
  if (api->abi_version != H4MK_ADAPTER_ABI_VERSION || api->struct_size < sizeof(h4mk_adapter_api))
    throw Error(ErrorCode::kUnsupportedVersion,
                "adapter plugin " + path + " is built for adapter ABI version " +
                    std::to_string(api->abi_version) + " (table of " +
                    std::to_string(api->struct_size) + " bytes); this libh4mk speaks version " +
                    std::to_string(H4MK_ADAPTER_ABI_VERSION));
  const char* missing = !api->create          ? "create"
                        : !api->destroy       ? "destroy"
                        : !api->decode_i      ? "decode_i"
                        : !api->apply_p       ? "apply_p"
                        : !api->finalize      ? "finalize"
                        : !api->release_state ? "release_state"
                        : !api->last_error    ? "last_error"
                                              : nullptr;
  if (missing)
    throw Error(ErrorCode::kInvalidArgument,
                "adapter plugin " + path + " has no " + missing + " function");
  lib->api = api;
  return lib;
}

// An adapter instance; states keep it (and the library) alive, so a state
// may outlive the ModelAdapter that made it.
struct Instance {
  std::shared_ptr<Library> lib;
  void* handle = nullptr;
  ~Instance() {
    if (handle) lib->api->destroy(handle);
  }
};

class PluginState final : public DecodeState {
 public:
  PluginState(std::shared_ptr<Instance> instance, void* state)
      : instance_(std::move(instance)), state_(state) {}
  ~PluginState() override { instance_->lib->api->release_state(instance_->handle, state_); }
  PluginState(const PluginState&) = delete;
  PluginState& operator=(const PluginState&) = delete;
  void* get() const { return state_; }

 private:
  std::shared_ptr<Instance> instance_;
  void* state_;
};

h4mk_adapter_block to_c(const AdapterBlock& b) {
  h4mk_adapter_block c{};
  c.type = static_cast<int>(b.type);
  c.pts = b.pts;
  c.dts = b.dts;
  c.duration = b.duration;
  c.data = b.data.data();
  c.size = b.data.size();
  return c;
}

class PluginAdapter final : public ModelAdapter {
 public:
  PluginAdapter(std::shared_ptr<Library> lib, const std::string& options,
                const std::string& config_json)
      : lib_(std::move(lib)), inst_(std::make_shared<Instance>()) {
    inst_->lib = lib_;
    char error[512] = "";
    int rc = lib_->api->create(options.c_str(), config_json.c_str(), &inst_->handle, error,
                               sizeof(error));
    if (rc < 0 || !inst_->handle) {
      inst_->handle = nullptr;
      error[sizeof(error) - 1] = '\0';
      throw Error(ErrorCode::kInvalidArgument,
                  "adapter " + name() + ": " + (error[0] ? error : "refused its options") +
                      (options.empty() ? "" : " (options \"" + options + "\")"));
    }
  }
  std::string name() const override { return lib_->api->name ? lib_->api->name : lib_->path; }
  bool supports_B() const override { return lib_->api->apply_b != nullptr; }

  StatePtr decode_I(const AdapterBlock& block) override {
    auto c = to_c(block);
    void* out = nullptr;
    int rc = lib_->api->decode_i(inst_->handle, &c, &out);
    check(rc, block, out);
    return wrap(out);
  }
  StatePtr apply_P(const DecodeState& state, const AdapterBlock& block) override {
    auto c = to_c(block);
    void* out = nullptr;
    int rc = lib_->api->apply_p(inst_->handle, unwrap(state), &c, &out);
    check(rc, block, out);
    return wrap(out);
  }
  StatePtr apply_B(const DecodeState& prev, const DecodeState& next,
                   const AdapterBlock& block) override {
    if (!lib_->api->apply_b) return ModelAdapter::apply_B(prev, next, block);
    auto c = to_c(block);
    void* out = nullptr;
    int rc = lib_->api->apply_b(inst_->handle, unwrap(prev), unwrap(next), &c, &out);
    check(rc, block, out);
    return wrap(out);
  }
  AdapterOutput finalize(const DecodeState& state) override {
    AdapterOutput out{};
    int rc = lib_->api->finalize(inst_->handle, unwrap(state), &out);
    if (rc < 0) throw Error(code_of(rc), "adapter " + name() + ": finalize: " + last_error());
    return out;
  }

 private:
  static ErrorCode code_of(int rc) {
    return rc == static_cast<int>(ErrorCode::kOutOfMemory) ? ErrorCode::kOutOfMemory
                                                           : ErrorCode::kCorrupt;
  }
  std::string last_error() const {
    const char* e = lib_->api->last_error(inst_->handle);
    return e && *e ? e : "failed";
  }
  void check(int rc, const AdapterBlock& block, void* out) const {
    if (rc < 0 || !out)
      throw Error(code_of(rc), "adapter " + name() + ": " + block_type_name(block.type) +
                                   " block at pts " + std::to_string(block.pts) + ": " +
                                   last_error());
  }
  static void* unwrap(const DecodeState& s) {
    auto* p = dynamic_cast<const PluginState*>(&s);
    if (!p) throw Error(ErrorCode::kInvalidArgument, "a state from another adapter");
    return p->get();
  }
  StatePtr wrap(void* s) { return std::make_shared<PluginState>(inst_, s); }

  std::shared_ptr<Library> lib_;
  std::shared_ptr<Instance> inst_;
};

class PluginTokenizer final : public Tokenizer {
 public:
  PluginTokenizer(std::shared_ptr<Library> lib, const std::string& options,
                  const h4mk_tokenizer_params& params)
      : lib_(std::move(lib)), channels_(params.channels) {
    const auto* api = lib_->api;
    if (!api->tokenizer_create || !api->tokenizer_destroy || !api->tokenizer_push ||
        !api->tokenizer_finish || !api->tokenizer_next || !api->tokenizer_last_error)
      throw Error(
          ErrorCode::kNotFound,
          "adapter " + std::string(api->name ? api->name : lib_->path) + " has no tokenizer");
    char error[512] = "";
    if (api->tokenizer_create(options.c_str(), &params, &tok_, error, sizeof(error)) < 0 || !tok_) {
      error[sizeof(error) - 1] = '\0';
      throw Error(ErrorCode::kInvalidArgument, std::string("tokenizer ") + api->name + ": " +
                                                   (error[0] ? error : "refused its options"));
    }
  }
  ~PluginTokenizer() override { lib_->api->tokenizer_destroy(tok_); }

  // A sample that is not a number has no spectrum and no token: what a
  // plugin made of it would be arbitrary, so it is refused, saying where.
  void push(const float* const* planes, size_t nb_samples) override {
    for (uint32_t ch = 0; nb_samples && ch < channels_; ++ch)
      for (size_t i = 0; i < nb_samples; ++i)
        if (!std::isfinite(planes[ch][i]))
          throw Error(ErrorCode::kInvalidArgument,
                      "sample " + std::to_string(pushed_ + i) + " of channel " +
                          std::to_string(ch) + " is " +
                          (std::isnan(planes[ch][i]) ? "not a number" : "infinite"));
    check(lib_->api->tokenizer_push(tok_, planes, nb_samples));
    pushed_ += nb_samples;
  }
  void finish() override { check(lib_->api->tokenizer_finish(tok_)); }
  bool next(TokenBlock& out) override {
    h4mk_adapter_block b{};
    int rc = lib_->api->tokenizer_next(tok_, &b);
    check(rc);
    if (rc == 0) return false;
    out.type = static_cast<BlockType>(b.type);
    out.pts = b.pts;
    out.dts = b.dts;
    out.duration = b.duration;
    out.data.assign(b.data, b.data + b.size);
    return true;
  }

 private:
  void check(int rc) const {
    if (rc < 0) {
      const char* e = lib_->api->tokenizer_last_error(tok_);
      throw Error(ErrorCode::kInvalidArgument,
                  std::string("tokenizer ") + lib_->api->name + ": " + (e && *e ? e : "failed"));
    }
  }
  std::shared_ptr<Library> lib_;
  uint32_t channels_;
  uint64_t pushed_ = 0;  // samples per channel so far
  void* tok_ = nullptr;
};

}  // namespace

std::vector<std::string> adapter_search_path() {
  std::vector<std::string> dirs;
  // The user's directories; a relative one would depend on the current
  // directory, which a hostile file's author may control, so it is skipped.
  if (const char* env = std::getenv("H4MK_ADAPTER_PATH")) {
    std::string_view s = env;
    while (!s.empty()) {
      size_t colon = s.find(':');
      std::string_view dir = s.substr(0, colon);
      if (!dir.empty() && dir.front() == '/') dirs.emplace_back(dir);
      if (colon == std::string_view::npos) break;
      s.remove_prefix(colon + 1);
    }
  }
  std::string installed = H4MK_ADAPTER_INSTALL_DIR;
  if (!installed.empty() && is_directory(installed)) dirs.push_back(installed);
  return dirs;
}

std::unique_ptr<ModelAdapter> load_adapter(const std::string& name, const std::string& options,
                                           const std::string& config_json) {
  return std::make_unique<PluginAdapter>(open_library(find_named_plugin(name)), options,
                                         config_json);
}

std::unique_ptr<ModelAdapter> load_adapter_file(const std::string& path, const std::string& options,
                                                const std::string& config_json) {
  return std::make_unique<PluginAdapter>(open_library(path), options, config_json);
}

std::unique_ptr<ModelAdapter> load_user_adapter(const std::string& choice,
                                                const std::string& options,
                                                const std::string& config_json) {
  if (choice.find('/') != std::string::npos) return load_adapter_file(choice, options, config_json);
  if (choice == kPythonAdapter)
    return load_adapter_file(
        find_plugin_file("h4mk-python-adapter.so", "python adapter (h4mk-python-adapter.so)"),
        options, config_json);
  return load_adapter(choice, options, config_json);
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& name, const std::string& options,
                                          const h4mk_tokenizer_params& params) {
  return std::make_unique<PluginTokenizer>(open_library(find_named_plugin(name)), options, params);
}

std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path, const std::string& options,
                                               const h4mk_tokenizer_params& params) {
  return std::make_unique<PluginTokenizer>(open_library(path), options, params);
}

}  // namespace h4mk
