// Adapters: Python ModelAdapter subclasses and C plugins in libh4mk's own
// decode chain (decode_range).
#include "reader.hpp"

namespace h4mk::python {
namespace {

// What an adapter's finalize() gave, as Python sees it: bytes; audio as a
// (samples, channels) int16 or float32 array; a picture as an (h, w) gray,
// (h, w, 3) RGB array, or the three planes of YUV 4:2:0.
py::object output_object(const AdapterOutput& o) {
  auto plane = [](const uint8_t* p, size_t linesize, uint32_t w, uint32_t h, uint32_t c) {
    py::array_t<uint8_t> a({py::ssize_t(h), py::ssize_t(w) * c});
    for (uint32_t y = 0; y < h; ++y)
      std::memcpy(a.mutable_data(y, 0), p + y * linesize, size_t(w) * c);
    return a;
  };
  switch (o.kind) {
    case H4MK_OUTPUT_AUDIO: {
      const py::ssize_t n = o.nb_samples, ch = o.channels;
      if (o.sample_format == H4MK_SAMPLE_S16) {
        py::array_t<int16_t> a({n, ch});
        std::memcpy(a.mutable_data(), o.data, size_t(n * ch) * sizeof(int16_t));
        return a;
      }
      py::array_t<float> a({n, ch});
      std::memcpy(a.mutable_data(), o.data, size_t(n * ch) * sizeof(float));
      return a;
    }
    case H4MK_OUTPUT_VIDEO:
      if (o.pixel_format == H4MK_PIXEL_YUV420P)
        return py::make_tuple(
            plane(o.planes[0], o.linesize[0], o.width, o.height, 1),
            plane(o.planes[1], o.linesize[1], (o.width + 1) / 2, (o.height + 1) / 2, 1),
            plane(o.planes[2], o.linesize[2], (o.width + 1) / 2, (o.height + 1) / 2, 1));
      if (o.pixel_format == H4MK_PIXEL_RGB24)
        return plane(o.planes[0], o.linesize[0], o.width, o.height, 3)
            .attr("reshape")(o.height, o.width, 3);
      return plane(o.planes[0], o.linesize[0], o.width, o.height, 1);
    default:
      return py::bytes(reinterpret_cast<const char*>(o.data), o.size);
  }
}

struct PyState final : DecodeState {
  explicit PyState(py::object o) : obj(std::move(o)) {}
  ~PyState() override {
    py::gil_scoped_acquire gil;
    obj = py::none();
  }
  py::object obj;
};

// A Python ModelAdapter (h4mk.adapters) behind libh4mk's interface, so that
// decode_range runs the very chain the C plugins run.
class PyModelAdapter final : public ModelAdapter {
 public:
  explicit PyModelAdapter(py::object adapter) : a_(std::move(adapter)) {
    py::object base = py::module_::import("h4mk.adapters").attr("ModelAdapter");
    supports_b_ = !py::type::of(a_).attr("apply_B").is(base.attr("apply_B"));
  }
  std::string name() const override { return py::str(py::type::of(a_).attr("__name__")); }
  StatePtr decode_I(const AdapterBlock& b) override { return wrap(a_.attr("decode_I")(bytes(b))); }
  StatePtr apply_P(const DecodeState& s, const AdapterBlock& b) override {
    return wrap(a_.attr("apply_P")(object(s), bytes(b)));
  }
  bool supports_B() const override { return supports_b_; }
  StatePtr apply_B(const DecodeState& prev, const DecodeState& next,
                   const AdapterBlock& b) override {
    return wrap(a_.attr("apply_B")(object(prev), object(next), bytes(b)));
  }
  AdapterOutput finalize(const DecodeState& s) override {
    last_output = a_.attr("finalize")(object(s));
    AdapterOutput o{};
    o.kind = H4MK_OUTPUT_BYTES;
    // Only its size, which decode_range bounds (DecodeLimits); the object
    // itself is handed to Python as it is.
    if (PyObject_CheckBuffer(last_output.ptr()))
      o.size = py::memoryview(last_output).attr("nbytes").cast<size_t>();
    else if (py::hasattr(last_output, "__len__"))
      o.size = py::len(last_output);
    return o;
  }
  py::object last_output = py::none();

 private:
  static py::bytes bytes(const AdapterBlock& b) {
    return py::bytes(reinterpret_cast<const char*>(b.data.data()), b.data.size());
  }
  static const py::object& object(const DecodeState& s) {
    return static_cast<const PyState&>(s).obj;
  }
  static StatePtr wrap(py::object o) { return std::make_shared<PyState>(std::move(o)); }
  py::object a_;
  bool supports_b_ = false;
};

// A C plugin (by name from the adapter search path, or by a path the user
// gives), with the seeds' calls: states are opaque handles.
struct PluginState {
  StatePtr state;
};

class PyPlugin {
 public:
  PyPlugin(const std::string& name, const std::string& options, const std::string& config_json,
           bool by_path)
      : adapter_(by_path ? load_adapter_file(name, options, config_json)
                         : load_adapter(name, options, config_json)) {}
  ModelAdapter& adapter() { return *adapter_; }
  static AdapterBlock block(BlockType type, const std::string& data, int64_t pts) {
    return {type, pts, pts, 0, {reinterpret_cast<const uint8_t*>(data.data()), data.size()}};
  }

 private:
  std::unique_ptr<ModelAdapter> adapter_;
};

py::list decode_range_py(PyReader& reader, uint16_t track, int64_t t0, int64_t t1,
                         py::object adapter) {
  py::list frames;
  auto add = [&](const BlockInfo& info, py::object output) {
    frames.append(py::make_tuple(block_dict(info), std::move(output)));
  };
  // With the GIL: outputs become Python objects as they come.
  reader.turns().with_gil([&] {
    if (py::isinstance<PyPlugin>(adapter)) {
      decode_range(
          reader.r(), track, t0, t1, adapter.cast<PyPlugin&>().adapter(),
          [&](const BlockInfo& info, const AdapterOutput& out) { add(info, output_object(out)); });
    } else {
      PyModelAdapter a(adapter);
      decode_range(reader.r(), track, t0, t1, a,
                   [&](const BlockInfo& info, const AdapterOutput&) { add(info, a.last_output); });
    }
  });
  return frames;
}

}  // namespace

void bind_adapters(py::module_& m) {
  py::class_<PluginState>(m, "PluginState");
  py::class_<PyPlugin>(m, "Plugin")
      .def(py::init<const std::string&, const std::string&, const std::string&, bool>())
      .def("name", [](PyPlugin& p) { return p.adapter().name(); })
      .def("supports_B", [](PyPlugin& p) { return p.adapter().supports_B(); })
      .def("decode_I",
           [](PyPlugin& p, const std::string& data, int64_t pts) {
             return PluginState{p.adapter().decode_I(PyPlugin::block(BlockType::kI, data, pts))};
           })
      .def("apply_P",
           [](PyPlugin& p, const PluginState& s, const std::string& data, int64_t pts) {
             return PluginState{
                 p.adapter().apply_P(*s.state, PyPlugin::block(BlockType::kP, data, pts))};
           })
      .def("apply_B",
           [](PyPlugin& p, const PluginState& prev, const PluginState& next,
              const std::string& data, int64_t pts) {
             return PluginState{p.adapter().apply_B(*prev.state, *next.state,
                                                    PyPlugin::block(BlockType::kB, data, pts))};
           })
      .def("finalize", [](PyPlugin& p, const PluginState& s) {
        return output_object(p.adapter().finalize(*s.state));
      });
  m.def("decode_range", &decode_range_py);
  m.def("track_config_json", [](PyReader& r, uint16_t track) {
    return r.turns().with_gil([&] {
      const Track* t = r.r().track(track);
      if (!t) throw Error(ErrorCode::kNotFound, "no track with id " + std::to_string(track));
      return adapter_config_json(*t);
    });
  });
}

}  // namespace h4mk::python
