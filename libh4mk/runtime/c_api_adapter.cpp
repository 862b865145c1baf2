// The C API of the adapter runtime (h4mk/adapters.h): adapters, decode
// chains, tokenizers and the adapter header of h4core extradata.
#include <climits>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "byte_order.hpp"
#include "c_api_internal.hpp"
#include "h4mk/adapter.hpp"
#include "h4mk/adapters.h"
#include "h4mk/chain_decoder.hpp"
#include "h4mk/decode.hpp"

using namespace h4mk;

struct h4mk_adapter {
  std::unique_ptr<ModelAdapter> adapter;
  std::string name;
  std::string error;
};

struct h4mk_adapter_state {
  StatePtr state;
};

struct h4mk_tokenizer {
  std::unique_ptr<Tokenizer> tokenizer;
  TokenBlock current;
  std::string error;
};

namespace {
std::string text(const char* s) { return s ? s : ""; }
}  // namespace

namespace {

using AdapterLoader = std::unique_ptr<ModelAdapter> (*)(const std::string&, const std::string&,
                                                        const std::string&);

int open_adapter(h4mk_adapter** out, const char* what, const char* options, const char* config_json,
                 AdapterLoader load) {
  if (!out || !what) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  auto a = std::make_unique<h4mk_adapter>();
  int rc = detail::guarded(detail::c_open_error(), [&] {
    a->adapter = load(what, text(options), config_json && *config_json ? config_json : "{}");
    a->name = a->adapter->name();
  });
  if (rc == H4MK_OK) *out = a.release();
  return rc;
}

}  // namespace

int h4mk_adapter_open(h4mk_adapter** out, const char* name, const char* options,
                      const char* config_json) {
  return open_adapter(out, name, options, config_json,
                      [](const std::string& n, const std::string& o, const std::string& c) {
                        return load_adapter(n, o, c);
                      });
}

int h4mk_adapter_open_file(h4mk_adapter** out, const char* path, const char* options,
                           const char* config_json) {
  return open_adapter(out, path, options, config_json,
                      [](const std::string& p, const std::string& o, const std::string& c) {
                        return load_adapter_file(p, o, c);
                      });
}

int h4mk_adapter_open_user(h4mk_adapter** out, const char* choice, const char* options,
                           const char* config_json) {
  return open_adapter(out, choice, options, config_json,
                      [](const std::string& p, const std::string& o, const std::string& c) {
                        return load_user_adapter(p, o, c);
                      });
}

void h4mk_adapter_free(h4mk_adapter* a) { delete a; }
const char* h4mk_adapter_name(const h4mk_adapter* a) { return a ? a->name.c_str() : ""; }
int h4mk_adapter_supports_b(const h4mk_adapter* a) { return a && a->adapter->supports_B(); }
const char* h4mk_adapter_last_error(const h4mk_adapter* a) { return a ? a->error.c_str() : ""; }

int h4mk_adapter_decode(h4mk_adapter* a, const h4mk_adapter_block* block,
                        const h4mk_adapter_state* prev, const h4mk_adapter_state* next,
                        h4mk_adapter_state** out) {
  if (!a || !block || !out || (block->size && !block->data)) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  return detail::guarded(a->error, [&] {
    AdapterBlock b;
    b.pts = block->pts;
    b.dts = block->dts;
    b.duration = block->duration;
    b.data = {block->data, block->size};
    StatePtr s;
    switch (block->type) {
      case H4MK_ADAPTER_BLOCK_I:
        b.type = BlockType::kI;
        s = a->adapter->decode_I(b);
        break;
      case H4MK_ADAPTER_BLOCK_P:
        if (!prev) throw Error(ErrorCode::kInvalidArgument, "a P block needs its reference state");
        b.type = BlockType::kP;
        s = a->adapter->apply_P(*prev->state, b);
        break;
      case H4MK_ADAPTER_BLOCK_B:
        if (!prev || !next) throw Error(ErrorCode::kInvalidArgument, "a B block needs two anchors");
        b.type = BlockType::kB;
        s = a->adapter->apply_B(*prev->state, *next->state, b);
        break;
      default:
        throw Error(ErrorCode::kInvalidArgument, "block type " + std::to_string(block->type));
    }
    *out = new h4mk_adapter_state{std::move(s)};
  });
}

int h4mk_adapter_finalize(h4mk_adapter* a, const h4mk_adapter_state* state,
                          h4mk_adapter_output* output) {
  if (!a || !state || !output) return H4MK_ERR_INVALID_ARGUMENT;
  return detail::guarded(a->error, [&] { *output = a->adapter->finalize(*state->state); });
}

void h4mk_adapter_state_free(h4mk_adapter_state* s) { delete s; }

struct h4mk_chain_decoder {
  h4mk_adapter* adapter;
  ChainDecoder chain;
  OutputBudget budget;  // whatever the adapter makes, bounded per payload byte
  std::string error;
  std::unique_ptr<h4mk_adapter> owned;  // h4mk_chain_decoder_open_track's
};

int h4mk_chain_decoder_open(h4mk_chain_decoder** out, h4mk_adapter* adapter,
                            uint32_t max_chain_blocks) {
  if (!out || !adapter || max_chain_blocks > kMaxChainBlocks) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  return detail::guarded(detail::c_open_error(), [&] {
    *out = new h4mk_chain_decoder{
        adapter,
        ChainDecoder(*adapter->adapter, max_chain_blocks ? max_chain_blocks : kMaxChainBlocks),
        OutputBudget(),
        {},
        nullptr};
  });
}

int h4mk_chain_decoder_open_track(h4mk_chain_decoder** out, const uint8_t* config,
                                  size_t config_size, const char* choice, const char* options,
                                  const char* config_json) {
  if (!out || (!config && config_size)) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  const char* name = nullptr;
  size_t name_size = 0;
  uint32_t bound = 0;
  const int found =
      h4mk_adapter_config_parse(config, config_size, &name, &name_size, &bound, nullptr, nullptr);
  const std::string named = found == 1 ? std::string(name, name_size) : "";
  const bool chosen = choice && *choice;
  if (found < 0 || (!chosen && named.empty()))
    return detail::guarded(detail::c_open_error(), [&] {
      if (found < 0)
        throw Error(ErrorCode::kCorrupt, "the track's adapter header (H4AD) is invalid");
      throw Error(ErrorCode::kNotFound,
                  "the track names no adapter: choose one (a name such as null or dsp, or a "
                  "plugin path)");
    });
  h4mk_adapter* a = nullptr;
  int rc = chosen ? h4mk_adapter_open_user(&a, choice, options, config_json)
                  : h4mk_adapter_open(&a, named.c_str(), options, config_json);
  if (rc == H4MK_OK) rc = h4mk_chain_decoder_open(out, a, bound);
  if (rc != H4MK_OK) {
    h4mk_adapter_free(a);
    return rc;
  }
  (*out)->owned.reset(a);
  return H4MK_OK;
}

const char* h4mk_chain_decoder_adapter_name(const h4mk_chain_decoder* d) {
  return d ? d->adapter->name.c_str() : "";
}

namespace {

// A ready frame finalized into the caller's structs: 1, or a negative status
// (and the chain restarts at the next I block).
int hand_out(h4mk_chain_decoder* d, const std::optional<ChainDecoder::Frame>& f,
             h4mk_adapter_block* info, h4mk_adapter_output* frame) {
  if (!f) return 0;
  int rc = detail::guarded(d->error, [&] {
    *frame = d->adapter->adapter->finalize(*f->state);
    d->budget.made(*frame);
  });
  if (rc < 0) {
    d->error = "pts " + std::to_string(f->info.pts) + ": " + d->error;
    d->chain.reset();
    return rc;
  }
  *info = h4mk_adapter_block{};
  info->type = static_cast<int>(f->info.type);
  info->pts = f->info.pts;
  info->dts = f->info.dts;
  info->duration = f->info.duration;
  return 1;
}

}  // namespace

int h4mk_chain_decoder_push(h4mk_chain_decoder* d, const h4mk_adapter_block* block,
                            h4mk_adapter_block* info, h4mk_adapter_output* frame) {
  if (!d) return H4MK_ERR_INVALID_ARGUMENT;
  if (!block || !info || !frame || (block->size && !block->data) || block->type < 0 ||
      block->type > 2) {
    d->error = !block || !info || !frame ? "a NULL argument"
               : block->size && !block->data
                   ? "a block of " + std::to_string(block->size) + " bytes without data"
                   : "block type " + std::to_string(block->type) + " (0 I, 1 P, 2 B)";
    return H4MK_ERR_INVALID_ARGUMENT;
  }
  std::optional<ChainDecoder::Frame> ready;
  int rc = detail::guarded(d->error, [&] {
    AdapterBlock b{static_cast<BlockType>(block->type),
                   block->pts,
                   block->dts,
                   block->duration,
                   {block->data, block->size}};
    d->budget.read(block->size);
    ready = d->chain.push(b);
  });
  if (rc < 0) {
    d->chain.reset();
    return rc;
  }
  return hand_out(d, ready, info, frame);
}

int h4mk_chain_decoder_drain(h4mk_chain_decoder* d, h4mk_adapter_block* info,
                             h4mk_adapter_output* frame) {
  if (!d || !info || !frame) return H4MK_ERR_INVALID_ARGUMENT;
  return hand_out(d, d->chain.drain(), info, frame);
}

void h4mk_chain_decoder_reset(h4mk_chain_decoder* d) {
  if (d) d->chain.reset();
}

uint64_t h4mk_chain_decoder_skipped(const h4mk_chain_decoder* d) {
  return d ? d->chain.skipped() : 0;
}

const char* h4mk_chain_decoder_last_error(const h4mk_chain_decoder* d) {
  return d ? d->error.c_str() : "";
}

void h4mk_chain_decoder_free(h4mk_chain_decoder* d) { delete d; }

namespace {
constexpr char kConfigTag[4] = {'H', '4', 'A', 'D'};
}  // namespace

int h4mk_adapter_config_header(const char* name, uint32_t max_chain_blocks, uint8_t* out,
                               size_t out_size) {
  const size_t len = name ? std::strlen(name) : 0;
  if ((len && !is_adapter_name(name)) || max_chain_blocks > kMaxChainBlocks || !out ||
      out_size < 9 + len)
    return H4MK_ERR_INVALID_ARGUMENT;
  std::memcpy(out, kConfigTag, 4);
  out[4] = static_cast<uint8_t>(len);
  if (len) std::memcpy(out + 5, name, len);
  detail::store_u32(out + 5 + len, max_chain_blocks);
  return static_cast<int>(9 + len);
}

int h4mk_adapter_config_parse(const uint8_t* data, size_t size, const char** name,
                              size_t* name_size, uint32_t* max_chain_blocks, const uint8_t** rest,
                              size_t* rest_size) {
  if (!data || size < 5 || std::memcmp(data, kConfigTag, 4) != 0) return 0;
  const size_t len = data[4];
  if (size < 9 + len) return H4MK_ERR_CORRUPT;
  const char* n = reinterpret_cast<const char*>(data + 5);
  if (len && !is_adapter_name({n, len})) return H4MK_ERR_CORRUPT;
  const uint32_t bound = detail::load_u32(data + 5 + len);
  if (bound > kMaxChainBlocks) return H4MK_ERR_CORRUPT;
  if (name) *name = n;
  if (name_size) *name_size = len;
  if (max_chain_blocks) *max_chain_blocks = bound;
  if (rest) *rest = data + 9 + len;
  if (rest_size) *rest_size = size - 9 - len;
  return 1;
}

static_assert(H4MK_ADAPTER_NAME_SIZE == kMaxAdapterName + 1);

int h4mk_adapter_config_of_track(const h4mk_track_info* track, uint8_t* out, size_t out_size) {
  if (!track || (!out && out_size) || (!track->extradata && track->extradata_size))
    return H4MK_ERR_INVALID_ARGUMENT;
  const char* name = track->adapter && is_adapter_name(track->adapter) ? track->adapter : nullptr;
  uint8_t head[9 + kMaxAdapterName];
  const int len = h4mk_adapter_config_header(name, track->max_chain_blocks, head, sizeof head);
  if (len < 0) return len;
  if (track->extradata_size > size_t(INT_MAX) - size_t(len)) return H4MK_ERR_LIMIT;
  const size_t total = size_t(len) + track->extradata_size;
  if (out && out_size >= total) {
    std::memcpy(out, head, size_t(len));
    if (track->extradata_size) std::memcpy(out + len, track->extradata, track->extradata_size);
  }
  return static_cast<int>(total);
}

int h4mk_adapter_config_to_track(const uint8_t* config, size_t size, h4mk_track_desc* track,
                                 char name[H4MK_ADAPTER_NAME_SIZE]) {
  if (!track || !name || (!config && size)) return H4MK_ERR_INVALID_ARGUMENT;
  const char* n = nullptr;
  size_t n_size = 0;
  const uint8_t* rest = config;
  size_t rest_size = size;
  const int found = h4mk_adapter_config_parse(config, size, &n, &n_size, &track->max_chain_blocks,
                                              &rest, &rest_size);
  if (found < 0) return found;
  track->extradata = rest;
  track->extradata_size = rest_size;
  if (n_size) {
    std::memcpy(name, n, n_size);
    name[n_size] = '\0';
    track->adapter = name;
  }
  return found;
}

namespace {

using TokenizerLoader = std::unique_ptr<Tokenizer> (*)(const std::string&, const std::string&,
                                                       const h4mk_tokenizer_params&);

int open_tokenizer(h4mk_tokenizer** out, const char* what, const char* options,
                   const h4mk_tokenizer_params* params, TokenizerLoader load) {
  if (!out || !what || !params) return H4MK_ERR_INVALID_ARGUMENT;
  *out = nullptr;
  auto t = std::make_unique<h4mk_tokenizer>();
  int rc = detail::guarded(detail::c_open_error(),
                           [&] { t->tokenizer = load(what, text(options), *params); });
  if (rc == H4MK_OK) *out = t.release();
  return rc;
}

}  // namespace

int h4mk_tokenizer_open(h4mk_tokenizer** out, const char* name, const char* options,
                        const h4mk_tokenizer_params* params) {
  return open_tokenizer(out, name, options, params, &load_tokenizer);
}

int h4mk_tokenizer_open_file(h4mk_tokenizer** out, const char* path, const char* options,
                             const h4mk_tokenizer_params* params) {
  return open_tokenizer(out, path, options, params, &load_tokenizer_file);
}

int h4mk_tokenizer_push(h4mk_tokenizer* t, const float* const* planes, size_t nb_samples) {
  if (!t || (!planes && nb_samples)) return H4MK_ERR_INVALID_ARGUMENT;
  return detail::guarded(t->error, [&] { t->tokenizer->push(planes, nb_samples); });
}

int h4mk_tokenizer_finish(h4mk_tokenizer* t) {
  if (!t) return H4MK_ERR_INVALID_ARGUMENT;
  return detail::guarded(t->error, [&] { t->tokenizer->finish(); });
}

int h4mk_tokenizer_next(h4mk_tokenizer* t, h4mk_adapter_block* block) {
  if (!t || !block) return H4MK_ERR_INVALID_ARGUMENT;
  bool got = false;
  int rc = detail::guarded(t->error, [&] { got = t->tokenizer->next(t->current); });
  if (rc < 0) return rc;
  if (!got) return 0;
  *block = h4mk_adapter_block{};
  block->type = static_cast<int>(t->current.type);
  block->pts = t->current.pts;
  block->dts = t->current.dts;
  block->duration = t->current.duration;
  block->data = t->current.data.data();
  block->size = t->current.data.size();
  return 1;
}

const char* h4mk_tokenizer_last_error(const h4mk_tokenizer* t) { return t ? t->error.c_str() : ""; }
void h4mk_tokenizer_free(h4mk_tokenizer* t) { delete t; }
