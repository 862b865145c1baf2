// h4mk.Reader's core, bound.
#include "reader.hpp"

namespace h4mk::python {

void bind_reader(py::module_& m) {
  py::class_<PyReader>(m, "Reader")
      .def(py::init<py::object, bool, const std::string&>(), py::arg("source"),
           py::arg("damaged_blocks"), py::arg("public_key_pem") = "")
      .def("verified",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().verified(); }); })
      .def("close", &PyReader::close)
      .def("tracks", &PyReader::tracks)
      .def("metadata_json",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().metadata_json(); }); })
      .def("safe_json",
           [](PyReader& r) { return r.turns().with_gil([&] { return r.r().safe_json(); }); })
      .def("note", [](PyReader& r) { return r.turns().with_gil([&] { return r.r().note(); }); })
      .def("veri_json",
           [](PyReader& r) { return r.turns().without_gil([&] { return r.r().veri_json(); }); })
      .def("next_block", &PyReader::next_block)
      .def("__iter__", [](py::object self) { return self; })
      .def("__next__",
           [](PyReader& r) {
             py::object b = r.next_block();
             if (b.is_none()) {
               r.warn_of_damage();
               throw py::stop_iteration();
             }
             return b;
           })
      .def("damage", &PyReader::damage)
      .def("damage_count", &PyReader::damage_count)
      .def("next_packet", &PyReader::next_packet)
      .def("warn_of_damage", &PyReader::warn_of_damage)
      .def("rewind",
           [](PyReader& r) { r.turns().without_gil([&] { r.in_file_order().rewind(); }); })
      .def("has_index",
           [](PyReader& r) { return r.turns().without_gil([&] { return r.r().has_index(); }); })
      .def("seek", &PyReader::seek)
      .def("chain", &PyReader::chain)
      .def("read_tracks", &PyReader::read_tracks)
      .def("read_payloads", &PyReader::read_payloads)
      .def("set_mask_key", [](PyReader& r, const py::object& key, uint16_t track) {
        const MaskKey k = mask_key(key);
        r.turns().with_gil([&] { r.r().set_mask_key(k, track); });
      });
}

}  // namespace h4mk::python
