// The h4mk package's native module, h4mk._h4mk: libh4mk behind pybind11
// (binding.hpp says how the files divide it).
#include "binding.hpp"

PYBIND11_MODULE(_h4mk, m) {
  using namespace h4mk;
  using namespace h4mk::python;
  m.doc() = "libh4mk's reader, writer and verify (the h4mk package wraps them)";
  register_errors();
  bind_block(m);
  bind_reader(m);
  bind_writer(m);
  bind_files(m);
  bind_adapters(m);
  bind_tokenizers(m);
  m.def("make_flags", [](uint32_t pts_ms, int type) {
    if (type < 0 || type > 2)
      throw Error(ErrorCode::kInvalidArgument,
                  "block type is 0 (I), 1 (P) or 2 (B); got " + std::to_string(type));
    return pack_gop_flags(pts_ms, BlockType(type));
  });
  m.def("parse_flags", [](uint32_t flags) {
    const GopFlags f = unpack_gop_flags(flags);
    return py::make_tuple(f.pts_ms, int(f.type));
  });
  m.def("train_dictionary", [](const std::vector<py::bytes>& samples, size_t size) {
    std::vector<std::vector<uint8_t>> in;
    for (const py::bytes& b : samples) {
      const std::string_view v(b);
      in.emplace_back(v.begin(), v.end());
    }
    const std::vector<uint8_t> dict = train_dictionary(in, size);
    return py::bytes(reinterpret_cast<const char*>(dict.data()), dict.size());
  });
  m.def("side_data_entries", [](const py::bytes& blob) {
    const std::string_view v(blob);
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(v.data()), v.size());
    py::dict out;
    size_t pos = 0;
    for (SideDataEntry e; next_side_data(bytes, pos, e);)
      out[py::str(std::string(e.key))] =
          py::bytes(reinterpret_cast<const char*>(e.value.data()), e.value.size());
    return out;
  });
  m.def("side_data_values", [](const std::string& key, const py::bytes& value) -> py::object {
    const SideDataLayout* l = find_side_data_layout(key);
    if (!l || l->kind != SideDataKind::kFields) return py::none();
    const std::string_view v(value);
    return py::str(
        side_data_values_json(*l, {reinterpret_cast<const uint8_t*>(v.data()), v.size()}));
  });
  m.def("track_params", [](const std::string& extra_json) {
    Track t;
    t.extra_json = extra_json;
    std::vector<std::string> ignored;
    const TrackParams p = read_track_params(t, &ignored);
    Track canonical;
    write_track_params(canonical, p);
    return py::make_tuple(canonical.extra_json, ignored);
  });
  m.attr("library_version") = H4MK_VERSION_STRING;
}
