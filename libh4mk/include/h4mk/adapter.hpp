// Model adapters: what turns a track's opaque payloads into media
// (docs/FORMAT.md §17). The container never interprets CORE payloads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "h4mk/adapter.h"
#include "h4mk/block.hpp"
#include "h4mk/export.h"
#include "h4mk/track.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

// A model's state after some blocks; what it holds is the adapter's business.
class DecodeState {
 public:
  virtual ~DecodeState() = default;
};
using StatePtr = std::shared_ptr<const DecodeState>;

// One block as an adapter sees it.
struct AdapterBlock {
  BlockType type = BlockType::kI;
  int64_t pts = 0;
  int64_t dts = 0;
  int64_t duration = 0;
  std::span<const uint8_t> data;
};

// What finalize() returns: the C struct (h4mk/adapter.h). Its buffers belong
// to the adapter and stay valid until the next call on it.
using AdapterOutput = h4mk_adapter_output;

// The seeds' four operations. Throws Error on bad payloads.
class ModelAdapter {
 public:
  virtual ~ModelAdapter() = default;
  virtual std::string name() const = 0;
  virtual StatePtr decode_I(const AdapterBlock& block) = 0;
  virtual StatePtr apply_P(const DecodeState& state, const AdapterBlock& block) = 0;
  virtual bool supports_B() const { return false; }
  // Default: Error(kInvalidArgument) — the adapter has no B blocks.
  virtual StatePtr apply_B(const DecodeState& prev, const DecodeState& next,
                           const AdapterBlock& block);
  virtual AdapterOutput finalize(const DecodeState& state) = 0;
};

// Tokenizer (encoder) of an adapter: planar float samples in, blocks out.
struct TokenBlock {
  BlockType type = BlockType::kI;
  int64_t pts = 0;  // samples since the first one pushed
  int64_t dts = 0;
  int64_t duration = 0;
  std::vector<uint8_t> data;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual void push(const float* const* planes, size_t nb_samples) = 0;
  virtual void finish() = 0;
  // false when no block is ready.
  virtual bool next(TokenBlock& out) = 0;
};

// --- plugins ---
// Where plugins are looked for by name: each absolute directory of
// $H4MK_ADAPTER_PATH (colon-separated; relative entries are skipped), then the
// installed adapter directory (<libdir>/h4mk/adapters, fixed at build time).
// Never the current directory or the program's own location. A plugin called
// NAME is the file h4mk-adapter-NAME.so.
std::vector<std::string> adapter_search_path();
// Loads the adapter called `name` (is_adapter_name; the only form a file may
// name) from the search path. Throws Error(kInvalidArgument) for anything
// that is not a bare name, Error(kNotFound) naming the places searched,
// Error(kUnsupportedVersion) on an ABI mismatch, Error(kInvalidArgument) when
// the plugin refuses its options.
std::unique_ptr<ModelAdapter> load_adapter(const std::string& name, const std::string& options = {},
                                           const std::string& config_json = "{}");
// Loads the plugin at `path`. Only for a path the user gave (a command-line
// option, a program's own choice): never for text read from a file.
std::unique_ptr<ModelAdapter> load_adapter_file(const std::string& path,
                                                const std::string& options = {},
                                                const std::string& config_json = "{}");
// What a user names (a command-line option, a program's own choice; never
// text read from a file or a request): a plugin path, "python" (the python
// adapter, h4mk-python-adapter.so in the search path, which runs the Python
// class its options name; load_adapter refuses that name), or an adapter
// name as load_adapter takes it.
inline constexpr const char* kPythonAdapter = "python";
std::unique_ptr<ModelAdapter> load_user_adapter(const std::string& choice,
                                                const std::string& options = {},
                                                const std::string& config_json = "{}");
// The tokenizer of an adapter plugin, by name or by the user's path;
// Error(kNotFound) when the plugin has none.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& name, const std::string& options,
                                          const h4mk_tokenizer_params& params);
std::unique_ptr<Tokenizer> load_tokenizer_file(const std::string& path, const std::string& options,
                                               const h4mk_tokenizer_params& params);

}  // namespace h4mk
H4MK_CXX_API_END
