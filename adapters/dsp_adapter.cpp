// The dsp adapter: a frequency-domain synthesiser and its tokenizer.
//
// Analysis (tokenizer): frames of N = 2·hop samples every hop samples, frame
// j covering [j·hop − hop, j·hop + hop), windowed by √Hann, real FFT (av_tx),
// the K largest bins kept and quantised (dsp_tokens.hpp). Block k presents
// samples [k·hop, (k+1)·hop), which frames k and k+1 overlap: an I block
// carries both whole, a P block carries frame k+1 as changes against frame k.
// Synthesis (finalize): inverse FFT of both frames, √Hann again, overlap-add
// of their halves. √Hann·√Hann at 50 % overlap sums to one, so with every bin
// kept the round trip is exact up to quantisation.
#include <nlohmann/json.hpp>

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/tx.h>
}

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "dsp_tokens.hpp"
#include "plugin_util.hpp"

namespace {

using namespace h4mk_plugin;
using dsp_tokens::Frame;

// One real FFT size with its window and aligned buffers.
class Transform {
 public:
  Transform(unsigned hop, bool inverse) : n_(2 * hop) {
    float scale = inverse ? 1.0f / float(n_) : 1.0f;
    if (av_tx_init(&ctx_, &fn_, AV_TX_FLOAT_RDFT, inverse, int(n_), &scale, 0) < 0)
      throw std::runtime_error("av_tx_init failed for size " + std::to_string(n_));
    real_ = static_cast<float*>(av_malloc(sizeof(float) * (n_ + 2)));
    spec_ = static_cast<AVComplexFloat*>(av_malloc(sizeof(AVComplexFloat) * (n_ / 2 + 1)));
    if (!real_ || !spec_) {
      release();
      throw std::bad_alloc();
    }
    window_.resize(n_);
    for (unsigned i = 0; i < n_; i++)
      window_[i] = float(std::sqrt(0.5 - 0.5 * std::cos(2 * M_PI * i / n_)));
    inverse_ = inverse;
  }
  ~Transform() { release(); }
  Transform(const Transform&) = delete;
  Transform& operator=(const Transform&) = delete;

  unsigned size() const { return n_; }
  unsigned hop() const { return n_ / 2; }

  // Forward: windowed samples → spectrum (hop + 1 bins).
  const AVComplexFloat* analyse(const float* samples) {
    for (unsigned i = 0; i < n_; i++) real_[i] = samples[i] * window_[i];
    fn_(ctx_, spec_, real_, sizeof(float));
    return spec_;
  }
  // Inverse: quantised bins → windowed samples (N).
  const float* synthesise(const Frame& frame) {
    std::fill(spec_, spec_ + n_ / 2 + 1, AVComplexFloat{0, 0});
    for (const auto& [bin, value] : frame)
      dsp_tokens::dequantize(value, spec_[bin].re, spec_[bin].im);
    fn_(ctx_, real_, spec_, sizeof(AVComplexFloat));
    for (unsigned i = 0; i < n_; i++) real_[i] *= window_[i];
    return real_;
  }

 private:
  void release() {
    av_tx_uninit(&ctx_);
    av_freep(&real_);
    av_freep(&spec_);
  }
  unsigned n_;
  bool inverse_ = false;
  AVTXContext* ctx_ = nullptr;
  av_tx_fn fn_ = nullptr;
  float* real_ = nullptr;
  AVComplexFloat* spec_ = nullptr;
  std::vector<float> window_;
};

// ------------------------------------------------------------------ decoder
struct State {
  dsp_tokens::Header header;
  std::vector<Frame> prev, cur;  // per channel: frames k and k+1
};

struct Decoder {
  uint32_t sample_rate = 48000;
  std::unique_ptr<Transform> tx;
  std::vector<float> out;
  std::string error;
};

int create(const char* options, const char* config_json, void** out, char* error, size_t size) {
  try {
    auto opts = parse_options(options);
    auto cfg = nlohmann::json::parse(config_json && *config_json ? config_json : "{}");
    auto d = std::make_unique<Decoder>();
    long rate = cfg.value("sample_rate", 0L);
    d->sample_rate = uint32_t(int_option(opts, "sample_rate", rate > 0 ? rate : 48000, 1, 768000));
    refuse_unknown(opts);
    *out = d.release();
    return 0;
  } catch (const std::exception& e) {
    copy_error(error, size, e.what());
    return kErrInvalid;
  }
}

void destroy(void* instance) { delete static_cast<Decoder*>(instance); }
const char* last_error(void* instance) { return static_cast<Decoder*>(instance)->error.c_str(); }

template <typename F>
int decoding(void* instance, F&& body) {
  return guarded(*static_cast<Decoder*>(instance), kErrCorrupt, [&](Decoder& d) {
    body(d);
    return 0;
  });
}

int decode_i(void* instance, const h4mk_adapter_block* block, void** state) {
  return decoding(instance, [&](Decoder&) {
    dsp_tokens::Cursor c(block->data, block->size);
    auto s = std::make_unique<State>();
    s->header = dsp_tokens::get_header(c);
    if (s->header.frames != 2) throw std::runtime_error("an I block must carry 2 whole frames");
    s->prev.resize(s->header.channels);
    s->cur.resize(s->header.channels);
    for (auto& f : s->prev) dsp_tokens::get_frame(c, s->header.hop, true, f);
    for (auto& f : s->cur) dsp_tokens::get_frame(c, s->header.hop, true, f);
    if (!c.done())
      throw std::runtime_error("trailing bytes after byte " + std::to_string(c.offset()));
    *state = s.release();
  });
}

int apply_p(void* instance, const void* previous, const h4mk_adapter_block* block, void** state) {
  return decoding(instance, [&](Decoder&) {
    const auto* from = static_cast<const State*>(previous);
    dsp_tokens::Cursor c(block->data, block->size);
    auto h = dsp_tokens::get_header(c);
    if (h.frames != 1) throw std::runtime_error("a P block must carry 1 frame of changes");
    if (h.channels != from->header.channels || h.hop != from->header.hop)
      throw std::runtime_error("channels/hop differ from the reference block's");
    auto s = std::make_unique<State>();
    s->header = h;
    s->prev = from->cur;
    s->cur = from->cur;
    for (auto& f : s->cur) dsp_tokens::get_frame(c, h.hop, false, f);
    if (!c.done())
      throw std::runtime_error("trailing bytes after byte " + std::to_string(c.offset()));
    *state = s.release();
  });
}

int finalize(void* instance, const void* state, h4mk_adapter_output* out) {
  return decoding(instance, [&](Decoder& d) {
    const auto* s = static_cast<const State*>(state);
    const unsigned hop = s->header.hop, channels = s->header.channels;
    if (!d.tx || d.tx->hop() != hop) d.tx = std::make_unique<Transform>(hop, true);
    d.out.assign(size_t(hop) * channels, 0.0f);
    for (unsigned ch = 0; ch < channels; ch++) {
      const float* a = d.tx->synthesise(s->prev[ch]);  // second half overlaps
      for (unsigned i = 0; i < hop; i++) d.out[size_t(i) * channels + ch] = a[hop + i];
      const float* b = d.tx->synthesise(s->cur[ch]);  // first half
      for (unsigned i = 0; i < hop; i++) d.out[size_t(i) * channels + ch] += b[i];
    }
    *out = h4mk_adapter_output{};
    out->kind = H4MK_OUTPUT_AUDIO;
    out->data = reinterpret_cast<const uint8_t*>(d.out.data());
    out->size = d.out.size() * sizeof(float);
    out->sample_format = H4MK_SAMPLE_F32;
    out->sample_rate = d.sample_rate;
    out->channels = channels;
    out->nb_samples = hop;
  });
}

void release_state(void*, void* state) { delete static_cast<State*>(state); }

// ---------------------------------------------------------------- tokenizer
struct Tokenizer {
  unsigned hop = 512, k = 64, gop = 50, channels = 1;
  std::unique_ptr<Transform> tx;
  std::vector<std::deque<float>> pending;  // per channel, from the next frame's first sample
  std::vector<float> scratch;
  uint64_t pushed = 0;       // samples per channel given
  uint64_t frames_done = 0;  // frames analysed
  uint64_t blocks_done = 0;
  bool finished = false;
  std::vector<Frame> last;  // per channel: the last frame analysed
  std::deque<std::pair<h4mk_adapter_block, std::vector<uint8_t>>> ready;
  std::vector<uint8_t> current;
  std::string error;

  Frame top_k(const AVComplexFloat* spec) const {
    std::vector<float> mag(hop + 1);
    for (unsigned i = 0; i <= hop; i++) mag[i] = spec[i].re * spec[i].re + spec[i].im * spec[i].im;
    std::vector<uint16_t> idx(hop + 1);
    std::iota(idx.begin(), idx.end(), uint16_t(0));
    unsigned keep = std::min<unsigned>(k, hop + 1);
    std::partial_sort(idx.begin(), idx.begin() + keep, idx.end(), [&](uint16_t a, uint16_t b) {
      return mag[a] != mag[b] ? mag[a] > mag[b] : a < b;
    });
    Frame f;
    for (unsigned i = 0; i < keep; i++) {
      auto q = dsp_tokens::quantize(spec[idx[i]].re, spec[idx[i]].im);
      if (q.log_magnitude) f[idx[i]] = q;
    }
    return f;
  }

  // Analyses every frame whose samples are all there; emits block k once
  // frame k+1 exists. `last_block` and `total` apply after finish().
  void analyse_ready(uint64_t block_limit) {
    const unsigned n = 2 * hop;
    while (pending[0].size() >= n && blocks_done < block_limit) {
      std::vector<Frame> frame(channels);
      for (unsigned ch = 0; ch < channels; ch++) {
        std::copy(pending[ch].begin(), pending[ch].begin() + n, scratch.begin());
        frame[ch] = top_k(tx->analyse(scratch.data()));
        pending[ch].erase(pending[ch].begin(), pending[ch].begin() + hop);
      }
      uint64_t j = frames_done++;
      if (j > 0) emit_block(j - 1, frame);  // block j-1 = frames j-1 and j
      last = std::move(frame);
    }
  }

  void emit_block(uint64_t index, const std::vector<Frame>& next) {
    bool key = index % gop == 0;
    std::vector<uint8_t> payload;
    dsp_tokens::put_header(payload, {uint8_t(channels), uint16_t(hop), uint8_t(key ? 2 : 1)});
    if (key)
      for (const auto& f : last) dsp_tokens::put_frame(payload, nullptr, f);
    for (unsigned ch = 0; ch < channels; ch++)
      dsp_tokens::put_frame(payload, key ? nullptr : &last[ch], next[ch]);
    h4mk_adapter_block b{};
    b.type = key ? H4MK_ADAPTER_BLOCK_I : H4MK_ADAPTER_BLOCK_P;
    b.pts = b.dts = int64_t(index * hop);
    uint64_t end = (index + 1) * hop;
    b.duration = int64_t(finished && end > pushed ? pushed - index * hop : hop);
    ready.emplace_back(b, std::move(payload));
    blocks_done++;
  }
};

int tokenizer_create(const char* options, const h4mk_tokenizer_params* params, void** out,
                     char* error, size_t size) {
  try {
    auto opts = parse_options(options);
    auto t = std::make_unique<Tokenizer>();
    t->hop = unsigned(int_option(opts, "hop", 512, dsp_tokens::kMinHop, dsp_tokens::kMaxHop));
    if (t->hop % 2) throw std::invalid_argument("hop must be even");
    t->k = unsigned(int_option(opts, "k", 64, 1, 8193));
    t->gop = unsigned(int_option(opts, "gop", 50, 1, 100000));
    refuse_unknown(opts);
    if (!params || params->channels < 1 || params->channels > dsp_tokens::kMaxChannels)
      throw std::invalid_argument("the dsp tokenizer takes 1 to 8 channels");
    t->channels = params->channels;
    t->tx = std::make_unique<Transform>(t->hop, false);
    t->scratch.resize(2 * t->hop);
    // Frame 0 starts hop samples before the first sample.
    t->pending.assign(t->channels, std::deque<float>(t->hop, 0.0f));
    *out = t.release();
    return 0;
  } catch (const std::exception& e) {
    copy_error(error, size, e.what());
    return kErrInvalid;
  }
}

void tokenizer_destroy(void* t) { delete static_cast<Tokenizer*>(t); }
const char* tokenizer_last_error(void* t) { return static_cast<Tokenizer*>(t)->error.c_str(); }

template <typename F>
int tokenizing(void* tokenizer, F&& body) {
  return guarded(*static_cast<Tokenizer*>(tokenizer), kErrInvalid, body);
}

int tokenizer_push(void* tokenizer, const float* const* planes, size_t nb_samples) {
  return tokenizing(tokenizer, [&](Tokenizer& t) {
    if (t.finished) throw std::logic_error("push after finish");
    for (unsigned ch = 0; ch < t.channels; ch++)
      t.pending[ch].insert(t.pending[ch].end(), planes[ch], planes[ch] + nb_samples);
    t.pushed += nb_samples;
    t.analyse_ready(UINT64_MAX);
    return 0;
  });
}

int tokenizer_finish(void* tokenizer) {
  return tokenizing(tokenizer, [&](Tokenizer& t) {
    if (t.finished) return 0;
    t.finished = true;
    uint64_t blocks = (t.pushed + t.hop - 1) / t.hop;
    // Frames up to `blocks` need samples up to blocks·hop + hop: pad with silence.
    for (auto& p : t.pending) p.resize(p.size() + 2 * t.hop, 0.0f);
    t.analyse_ready(blocks);
    return 0;
  });
}

int tokenizer_next(void* tokenizer, h4mk_adapter_block* block) {
  return tokenizing(tokenizer, [&](Tokenizer& t) {
    if (t.ready.empty()) return 0;
    auto [b, payload] = std::move(t.ready.front());
    t.ready.pop_front();
    t.current = std::move(payload);
    *block = b;
    block->data = t.current.data();
    block->size = t.current.size();
    return 1;
  });
}

const h4mk_adapter_api kApi = {
    .abi_version = H4MK_ADAPTER_ABI_VERSION,
    .struct_size = sizeof(h4mk_adapter_api),
    .name = "dsp",
    .description =
        "frequency-domain synthesiser: top-K FFT bins per frame, inverse FFT with overlap-add",
    .create = create,
    .destroy = destroy,
    .last_error = last_error,
    .decode_i = decode_i,
    .apply_p = apply_p,
    .finalize = finalize,
    .release_state = release_state,
    .tokenizer_create = tokenizer_create,
    .tokenizer_destroy = tokenizer_destroy,
    .tokenizer_last_error = tokenizer_last_error,
    .tokenizer_push = tokenizer_push,
    .tokenizer_finish = tokenizer_finish,
    .tokenizer_next = tokenizer_next,
};

}  // namespace

extern "C" H4MK_ADAPTER_EXPORT const h4mk_adapter_api* h4mk_adapter_entry(uint32_t host_abi) {
  return host_abi == H4MK_ADAPTER_ABI_VERSION ? &kApi : nullptr;
}
