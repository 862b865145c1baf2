// A test adapter whose output depends on every block of the chain and on their
// order: a state is an FNV-1a hash over the block type, the reference states
// and the payload. B blocks hash both anchors, so feeding the wrong anchors
// (or the right ones swapped) changes the output. On a track with width and
// height it outputs gray pictures filled from the hash; otherwise the hash.
//
// With the option lie=WHAT its pictures (width and height needed) claim
// more than their buffers hold: rows (rows longer than linesize), plane (no
// buffer), side (a side beyond the bounds), samples (audio claiming more
// samples than its buffer), kind (an unknown output kind).
//
// Built three times: as a working plugin, with ORDER_ABI_VERSION set to
// another ABI version, and with ORDER_NO_ENTRY (no entry point at all).
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "h4mk/adapter.h"

#ifndef ORDER_ABI_VERSION
#define ORDER_ABI_VERSION H4MK_ADAPTER_ABI_VERSION
#endif

namespace {

struct State {
  uint64_t hash;
};

struct Instance {
  uint32_t width = 0, height = 0;
  std::string lie;
  std::vector<uint8_t> out;
  std::string error;
};

uint64_t fnv(uint64_t h, const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t hash_block(const h4mk_adapter_block* b, uint64_t a, uint64_t c) {
  uint64_t h = 0xcbf29ce484222325ull;
  uint8_t type = uint8_t(b->type);
  h = fnv(h, &type, 1);
  h = fnv(h, &a, sizeof a);
  h = fnv(h, &c, sizeof c);
  return fnv(h, b->data, b->size);
}

int create(const char* options, const char* config_json, void** out, char* error, size_t size) {
  const std::string lie = options && !std::strncmp(options, "lie=", 4) ? options + 4 : "";
  if (options && *options && lie.empty()) {
    std::snprintf(error, size, "takes no options but lie= (got \"%s\")", options);
    return -3;
  }
  auto* in = new Instance;
  in->lie = lie;
  try {
    auto cfg = nlohmann::json::parse(config_json && *config_json ? config_json : "{}");
    in->width = cfg.value("width", 0u);
    in->height = cfg.value("height", 0u);
  } catch (const std::exception& e) {
    std::snprintf(error, size, "%s", e.what());
    delete in;
    return -3;
  }
  if (in->width > 4096 || in->height > 4096) in->width = in->height = 0;
  *out = in;
  return 0;
}

void destroy(void* instance) { delete static_cast<Instance*>(instance); }
const char* last_error(void* instance) { return static_cast<Instance*>(instance)->error.c_str(); }

int decode_i(void*, const h4mk_adapter_block* b, void** state) {
  *state = new State{hash_block(b, 0, 0)};
  return 0;
}
int apply_p(void*, const void* s, const h4mk_adapter_block* b, void** state) {
  *state = new State{hash_block(b, static_cast<const State*>(s)->hash, 0)};
  return 0;
}
int apply_b(void*, const void* prev, const void* next, const h4mk_adapter_block* b, void** state) {
  *state = new State{
      hash_block(b, static_cast<const State*>(prev)->hash, static_cast<const State*>(next)->hash)};
  return 0;
}

int finalize(void* instance, const void* state, h4mk_adapter_output* out) {
  auto* in = static_cast<Instance*>(instance);
  uint64_t h = static_cast<const State*>(state)->hash;
  *out = h4mk_adapter_output{};
  if (in->width && in->height) {
    in->out.resize(size_t(in->width) * in->height);
    uint64_t x = h | 1;
    for (auto& px : in->out) {  // xorshift64 from the hash
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      px = uint8_t(x);
    }
    out->kind = H4MK_OUTPUT_VIDEO;
    out->pixel_format = H4MK_PIXEL_GRAY8;
    out->width = in->width;
    out->height = in->height;
    out->planes[0] = in->out.data();
    out->linesize[0] = in->width;
  } else {
    in->out.resize(sizeof h);
    std::memcpy(in->out.data(), &h, sizeof h);
    out->kind = H4MK_OUTPUT_BYTES;
  }
  out->data = in->out.data();
  out->size = in->out.size();
  if (in->lie == "rows") out->linesize[0] = in->width - 1;
  if (in->lie == "plane") out->planes[0] = nullptr;
  if (in->lie == "side") out->width = 40000;
  if (in->lie == "kind") out->kind = 7;
  if (in->lie == "samples") {
    out->kind = H4MK_OUTPUT_AUDIO;
    out->sample_format = H4MK_SAMPLE_F32;
    out->sample_rate = 48000;
    out->channels = 2;
    out->nb_samples = uint32_t(out->size / 8 + 1);
  }
  return 0;
}

void release_state(void*, void* state) { delete static_cast<State*>(state); }

const h4mk_adapter_api kApi = {
    .abi_version = ORDER_ABI_VERSION,
    .struct_size = sizeof(h4mk_adapter_api),
    .name = "order",
    .description = "test: output is a hash of the whole chain in decode order",
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .decode_i = decode_i,
    .apply_p = apply_p,
    .apply_b = apply_b,
    .finalize = finalize,
    .release_state = release_state,
};

}  // namespace

#ifndef ORDER_NO_ENTRY
extern "C" H4MK_ADAPTER_EXPORT const h4mk_adapter_api* h4mk_adapter_entry(uint32_t) {
  return &kApi;
}
#else
extern "C" H4MK_ADAPTER_EXPORT const h4mk_adapter_api* some_other_symbol() { return &kApi; }
#endif
