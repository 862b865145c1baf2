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
#include "h4mk/track.hpp"

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

// The config_json an adapter is created with: the track's TRAK object.
std::string adapter_config_json(const Track& track);

// --- plugins ---
// Where plugins are looked for by name: each directory of $H4MK_ADAPTER_PATH
// (colon-separated), then the installed adapter directory. A plugin called
// NAME is the file h4mk-adapter-NAME.so.
std::vector<std::string> adapter_search_path();
// Finds and loads an adapter: `name_or_path` containing '/' is a path to a
// plugin, anything else a name on the search path. Throws Error(kNotFound)
// naming the places searched, Error(kUnsupportedVersion) on an ABI mismatch,
// Error(kInvalidArgument) when the plugin refuses its options.
std::unique_ptr<ModelAdapter> load_adapter(const std::string& name_or_path,
                                           const std::string& options = {},
                                           const std::string& config_json = "{}");
// The tokenizer of an adapter plugin; Error(kNotFound) when it has none.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& name_or_path,
                                          const std::string& options,
                                          const h4mk_tokenizer_params& params);

}  // namespace h4mk
