// The decode chain as `h4mk decode`, Python's decode_range and FFmpeg's
// h4core decoders run it on a hostile track, through the reference adapter
// plugins loaded by name (null, and dsp where the build has it): the codec
// configuration FFmpeg carries (the H4AD header, fuzzed), the TRAK values the
// adapter is opened with (kind, rate, channels, picture size), and blocks of
// any type and order, with resets and drains between them. Whatever comes out
// must be what it says it is: every byte of an output's buffer, or of each
// row of each plane, is read (AddressSanitizer), and the chain's counters
// stay consistent.
//
// Input: a byte choosing the adapter and the kind, four bytes of TRAK values,
// a length byte and that many bytes of codec configuration, then blocks, each
// a control byte (type; reset or drain first), a 16-bit size and the payload.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "h4mk/adapters.h"

namespace {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
  uint16_t u16() { return uint16_t(byte() | byte() << 8); }
  // Up to n bytes, fewer at the end.
  const uint8_t* take(size_t& n) {
    if (n > size_t(end_ - p_)) n = size_t(end_ - p_);
    const uint8_t* at = p_;
    p_ += n;
    return at;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

volatile uint8_t sink;

void read_bytes(const uint8_t* p, size_t n) {
  uint8_t x = 0;
  for (size_t i = 0; i < n; ++i) x ^= p[i];
  sink = x;
}

// Reads every byte the output says it holds.
void read_output(const h4mk_adapter_output& o) {
  switch (o.kind) {
    case H4MK_OUTPUT_BYTES:
    case H4MK_OUTPUT_AUDIO:
      if (o.size && !o.data) __builtin_trap();
      if (o.size) read_bytes(o.data, o.size);
      if (o.kind == H4MK_OUTPUT_AUDIO &&
          uint64_t(o.nb_samples) * o.channels * (o.sample_format == H4MK_SAMPLE_S16 ? 2 : 4) >
              o.size)
        __builtin_trap();
      return;
    case H4MK_OUTPUT_VIDEO: {
      const bool yuv = o.pixel_format == H4MK_PIXEL_YUV420P;
      for (int p = 0; p < (yuv ? 3 : 1); ++p) {
        const size_t row =
            p ? (o.width + 1) / 2 : size_t(o.width) * (o.pixel_format == H4MK_PIXEL_RGB24 ? 3 : 1);
        const size_t rows = p ? (o.height + 1) / 2 : o.height;
        for (size_t y = 0; y < rows; ++y) read_bytes(o.planes[p] + y * o.linesize[p], row);
      }
      return;
    }
    default:
      __builtin_trap();  // the runtime checks outputs before handing them out
  }
}

bool have_dsp = false;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The plugins this build made, by name only, as a file names them.
  setenv("H4MK_ADAPTER_PATH", H4MK_FUZZ_ADAPTER_DIR, 1);
  // One instance of each stays open, so the plugins stay loaded: libFuzzer
  // keeps counting coverage in a plugin's memory after the run that loaded it.
  static h4mk_adapter* kept[2];
  if (h4mk_adapter_open(&kept[0], "null", nullptr, nullptr) != H4MK_OK) {
    std::fprintf(stderr, "fuzz_chain_decoder: %s\n", h4mk_open_error());
    std::abort();
  }
  have_dsp = h4mk_adapter_open(&kept[1], "dsp", nullptr, nullptr) == H4MK_OK;
  if (!have_dsp) std::fprintf(stderr, "fuzz_chain_decoder: no dsp adapter; fuzzing null alone\n");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  const uint8_t choice = in.byte();
  const char* adapter = (choice & 1) && have_dsp ? "dsp" : "null";
  const bool audio = choice & 2;
  // Mostly small values (pictures a few bytes large), sometimes hostile ones.
  const uint8_t a = in.byte(), b = in.byte(), c = in.byte(), d = in.byte();
  const bool hostile = choice & 4;
  const uint32_t rate = hostile ? uint32_t(a) << 24 | uint32_t(b) << 16 : 8000u * (1 + a % 6);
  const uint32_t channels = hostile ? c : 1 + c % 4;
  const uint32_t width = hostile ? uint32_t(a) << 8 | b : 1 + a % 8;
  const uint32_t height = hostile ? uint32_t(c) << 8 | d : 1 + d % 8;
  static const char* const formats[] = {"gray", "rgb24", "yuv420p", "nv12"};
  std::string config = audio ? "{\"kind\":\"audio\",\"sample_rate\":" + std::to_string(rate) +
                                   ",\"channels\":" + std::to_string(channels) + "}"
                             : "{\"kind\":\"video\",\"width\":" + std::to_string(width) +
                                   ",\"height\":" + std::to_string(height) + "}";
  static const char* const audio_formats[] = {"", "format=f32", "format=bytes", "format=s16"};
  // The user's -adapter_options, which dsp takes none of here.
  const std::string options = audio ? (adapter[0] == 'd' ? "" : audio_formats[(choice >> 3) & 3])
                                    : std::string("pixel_format=") + formats[(choice >> 3) & 3];

  // The configuration as a file gave it; if it names no adapter that opens,
  // the same track with a header naming the chosen one (and the fuzzed bound).
  size_t n = in.byte();
  const uint8_t* extradata = in.take(n);
  h4mk_chain_decoder* dec = nullptr;
  if (h4mk_chain_decoder_open_track(&dec, extradata, n, nullptr, options.c_str(), config.c_str()) !=
      H4MK_OK) {
    uint8_t header[9 + 32];
    const int len = h4mk_adapter_config_header(adapter, in.u16() % 70000, header, sizeof(header));
    if (len < 0 || h4mk_chain_decoder_open_track(&dec, header, size_t(len), nullptr,
                                                 options.c_str(), config.c_str()) != H4MK_OK)
      return 0;  // a configuration the adapter refuses (its message says why)
  }
  if (!h4mk_chain_decoder_adapter_name(dec)) __builtin_trap();

  h4mk_adapter_block info;
  h4mk_adapter_output frame;
  uint64_t skipped = 0;
  for (int64_t t = 0; !in.empty(); ++t) {
    const uint8_t control = in.byte();
    if (control & 0x10) h4mk_chain_decoder_reset(dec);
    if ((control & 0x20) && h4mk_chain_decoder_drain(dec, &info, &frame) == 1) read_output(frame);
    size_t len = in.u16();
    const uint8_t* payload = in.take(len);
    const h4mk_adapter_block block{control & 3, t, t, 1, payload, len};
    const int ret = h4mk_chain_decoder_push(dec, &block, &info, &frame);
    if (ret == 1) {
      if (info.data) __builtin_trap();  // the block's timing, not its bytes
      read_output(frame);
    } else if (ret < 0 && !*h4mk_chain_decoder_last_error(dec)) {
      __builtin_trap();  // an error says what it is
    }
    if (h4mk_chain_decoder_skipped(dec) < skipped) __builtin_trap();
    skipped = h4mk_chain_decoder_skipped(dec);
  }
  if (h4mk_chain_decoder_drain(dec, &info, &frame) == 1) read_output(frame);
  h4mk_chain_decoder_free(dec);
  return 0;
}
