// The null adapter: every block decodes to its own payload bytes, so a full
// decode is the payloads concatenated. On an audio track of PCM payloads
// (format=s16 or f32, the default s16) it yields the exact samples; on a
// video track with width and height (pixel_format=gray|rgb24|yuv420p) it
// yields pictures; otherwise opaque bytes.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plugin_util.hpp"

namespace {

using namespace h4mk_plugin;

// A block's payload, shared with the instance while it is the last output:
// output buffers belong to the instance (h4mk/adapter.h), and a caller may
// free the state before it reads them (the chain decoder does, for a B block).
struct State {
  std::shared_ptr<const std::vector<uint8_t>> bytes;
};

struct Instance {
  int kind = H4MK_OUTPUT_BYTES;
  int sample_format = H4MK_SAMPLE_S16;
  uint32_t sample_rate = 0, channels = 0;
  int pixel_format = H4MK_PIXEL_GRAY8;
  uint32_t width = 0, height = 0;
  std::shared_ptr<const std::vector<uint8_t>> output;  // what finalize last handed out
  std::string error;
};

size_t picture_bytes(const Instance& in) {
  return h4mk_plugin::picture_bytes(in.pixel_format, in.width, in.height);
}

int create(const char* options, const char* config_json, void** out, char* error, size_t size) {
  try {
    auto opts = parse_options(options);
    auto cfg = nlohmann::json::parse(config_json && *config_json ? config_json : "{}");
    auto inst = std::make_unique<Instance>();
    std::string kind = cfg.value("kind", "data");
    std::string format = opts.count("format") ? opts["format"] : "";
    opts.erase("format");
    std::string pix = opts.count("pixel_format") ? opts["pixel_format"] : "gray";
    opts.erase("pixel_format");
    refuse_unknown(opts);
    if (format == "bytes") kind = "data";
    if (kind == "audio") {
      inst->kind = H4MK_OUTPUT_AUDIO;
      inst->sample_rate = cfg.value("sample_rate", 0u);
      inst->channels = cfg.value("channels", 0u);
      if (format == "f32")
        inst->sample_format = H4MK_SAMPLE_F32;
      else if (format.empty() || format == "s16")
        inst->sample_format = H4MK_SAMPLE_S16;
      else
        throw std::invalid_argument("format=" + format + ": use s16, f32 or bytes");
      if (inst->sample_rate == 0 || inst->channels == 0 || inst->channels > 64)
        throw std::invalid_argument("an audio track needs sample_rate and channels (1..64)");
    } else if (kind == "video" && cfg.value("width", 0u) && cfg.value("height", 0u)) {
      inst->kind = H4MK_OUTPUT_VIDEO;
      inst->width = cfg.value("width", 0u);
      inst->height = cfg.value("height", 0u);
      if (pix == "gray")
        inst->pixel_format = H4MK_PIXEL_GRAY8;
      else if (pix == "rgb24")
        inst->pixel_format = H4MK_PIXEL_RGB24;
      else if (pix == "yuv420p")
        inst->pixel_format = H4MK_PIXEL_YUV420P;
      else
        throw std::invalid_argument("pixel_format=" + pix + ": use gray, rgb24 or yuv420p");
      if (inst->width > 16384 || inst->height > 16384)
        throw std::invalid_argument("picture larger than 16384x16384");
    } else if (!format.empty() && format != "bytes") {
      throw std::invalid_argument("format=" + format + " needs an audio track");
    }
    *out = inst.release();
    return 0;
  } catch (const std::exception& e) {
    copy_error(error, size, e.what());
    return kErrInvalid;
  }
}

void destroy(void* instance) { delete static_cast<Instance*>(instance); }
const char* last_error(void* instance) { return static_cast<Instance*>(instance)->error.c_str(); }

int keep(void* instance, const h4mk_adapter_block* block, void** state) {
  return guarded(*static_cast<Instance*>(instance), kErrNoMemory, [&](Instance&) {
    auto s = std::make_unique<State>();
    s->bytes = std::make_shared<const std::vector<uint8_t>>(block->data, block->data + block->size);
    *state = s.release();
    return 0;
  });
}

int decode_i(void* instance, const h4mk_adapter_block* block, void** state) {
  return keep(instance, block, state);
}
int apply_p(void* instance, const void*, const h4mk_adapter_block* block, void** state) {
  return keep(instance, block, state);
}
int apply_b(void* instance, const void*, const void*, const h4mk_adapter_block* block,
            void** state) {
  return keep(instance, block, state);
}

int finalize(void* instance, const void* state, h4mk_adapter_output* out) {
  auto* in = static_cast<Instance*>(instance);
  in->output = static_cast<const State*>(state)->bytes;
  const std::vector<uint8_t>& bytes = *in->output;
  *out = h4mk_adapter_output{};
  out->kind = in->kind;
  out->data = bytes.data();
  out->size = bytes.size();
  if (in->kind == H4MK_OUTPUT_AUDIO) {
    size_t frame = (in->sample_format == H4MK_SAMPLE_S16 ? 2 : 4) * size_t(in->channels);
    if (bytes.size() % frame) {
      in->error = "payload of " + std::to_string(bytes.size()) +
                  " bytes is not a whole number of " + std::to_string(frame) +
                  "-byte sample frames";
      return kErrCorrupt;
    }
    out->sample_format = in->sample_format;
    out->sample_rate = in->sample_rate;
    out->channels = in->channels;
    out->nb_samples = uint32_t(bytes.size() / frame);
  } else if (in->kind == H4MK_OUTPUT_VIDEO) {
    if (bytes.size() != picture_bytes(*in)) {
      in->error = "payload of " + std::to_string(bytes.size()) + " bytes is not one " +
                  std::to_string(in->width) + "x" + std::to_string(in->height) + " picture (" +
                  std::to_string(picture_bytes(*in)) + " bytes)";
      return kErrCorrupt;
    }
    set_picture(out, bytes.data(), in->pixel_format, in->width, in->height);
  }
  return 0;
}

void release_state(void*, void* state) { delete static_cast<State*>(state); }

const h4mk_adapter_api kApi = {
    .abi_version = H4MK_ADAPTER_ABI_VERSION,
    .struct_size = sizeof(h4mk_adapter_api),
    .name = "null",
    .description = "passthrough: each block decodes to its payload (PCM, raw pictures or bytes)",
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

extern "C" H4MK_ADAPTER_EXPORT const h4mk_adapter_api* h4mk_adapter_entry(uint32_t host_abi) {
  return host_abi == H4MK_ADAPTER_ABI_VERSION ? &kApi : nullptr;
}
