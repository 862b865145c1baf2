// Tokenizers: an adapter plugin's (audio to blocks) and h4mk pack's transport
// tokenizer.
#include "binding.hpp"

namespace h4mk::python {
namespace {

py::tuple token_tuple(const TokenBlock& t) {
  return py::make_tuple(block_type_name(t.type), t.pts, t.dts, t.duration,
                        py::bytes(reinterpret_cast<const char*>(t.data.data()), t.data.size()));
}

// An adapter plugin's tokenizer (the dsp plugin's: audio to top-K FFT bins):
// float samples in, the blocks of an h4core track out.
class PyAudioTokenizer {
 public:
  PyAudioTokenizer(const std::string& name, const std::string& options, uint32_t sample_rate,
                   uint32_t channels)
      : channels_(channels) {
    if (channels == 0 || channels > 64)
      throw Error(ErrorCode::kInvalidArgument,
                  "channels must be 1..64; got " + std::to_string(channels));
    t_ = load_tokenizer(name, options, h4mk_tokenizer_params{sample_rate, channels});
  }
  // (samples, channels) interleaved, or (samples,) for one channel.
  void push(py::array_t<float, py::array::c_style | py::array::forcecast> samples) {
    const py::ssize_t n = samples.shape(0);
    const py::ssize_t c = samples.ndim() == 1 ? 1 : samples.shape(1);
    if (samples.ndim() > 2 || size_t(c) != channels_)
      throw Error(ErrorCode::kInvalidArgument,
                  "samples must be (n, " + std::to_string(channels_) + ") float32");
    planar_.resize(size_t(n * c));
    std::vector<const float*> planes(channels_);
    const float* in = samples.data();
    for (py::ssize_t ch = 0; ch < c; ++ch) {
      float* plane = planar_.data() + ch * n;
      for (py::ssize_t i = 0; i < n; ++i) plane[i] = in[i * c + ch];
      planes[size_t(ch)] = plane;
    }
    t_->push(planes.data(), size_t(n));
  }
  void finish() { t_->finish(); }
  py::list take() {
    py::list out;
    TokenBlock b;
    while (t_->next(b)) out.append(token_tuple(b));
    return out;
  }

 private:
  uint32_t channels_;
  std::vector<float> planar_;
  std::unique_ptr<Tokenizer> t_;
};

class PyTransportTokenizer {
 public:
  PyTransportTokenizer(uint32_t block_size, uint32_t gop) : t_(block_size, gop) {}
  void push(const py::buffer& data) {
    const ByteBuffer bytes(data);
    t_.push(bytes.span());
  }
  void finish() { t_.finish(); }
  py::list take() {
    py::list out;
    TokenBlock b;
    while (t_.next(b)) out.append(token_tuple(b));
    return out;
  }

 private:
  TransportTokenizer t_;
};

}  // namespace

void bind_tokenizers(py::module_& m) {
  py::class_<PyAudioTokenizer>(m, "AudioTokenizer")
      .def(py::init<const std::string&, const std::string&, uint32_t, uint32_t>())
      .def("push", &PyAudioTokenizer::push)
      .def("finish", &PyAudioTokenizer::finish)
      .def("take", &PyAudioTokenizer::take);
  py::class_<PyTransportTokenizer>(m, "TransportTokenizer")
      .def(py::init<uint32_t, uint32_t>())
      .def("push", &PyTransportTokenizer::push)
      .def("finish", &PyTransportTokenizer::finish)
      .def("take", &PyTransportTokenizer::take);
}

}  // namespace h4mk::python
