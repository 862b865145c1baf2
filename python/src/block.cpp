// h4mk.Block: a block as read, a struct sequence built in C.
#include <iterator>

#include "binding.hpp"

namespace h4mk::python {
namespace {

// Each field's position, in the order of kBlockFields.
enum Field {
  kTrack,
  kType,
  kPts,
  kDts,
  kDuration,
  kData,
  kSideData,
  kMasked,
  kDiscardable,
  kDamaged,
  kOffset,
  kChunkOffset,
  kIndexInGroup,
  kFieldCount
};
// A block as read, as a struct sequence (a named tuple built in C): a dict
// and a Python constructor per block cost 6 us, pybind11 properties 190 ns a
// field read; this is a tuple's cost.
PyStructSequence_Field kBlockFields[] = {
    {"track", "track id"},
    {"type", "'I', 'P' or 'B'"},
    {"pts", "presentation time, in the track's ticks"},
    {"dts", "decode time, in the track's ticks"},
    {"duration", "in ticks; 0 when unknown"},
    {"data", "the payload (bytes)"},
    {"side_data", "side data entries (bytes; FORMAT.md 5.4), empty if none"},
    {"masked", "the payload is an h4mask envelope (the reader has no key for it)"},
    {"discardable", "the block may be dropped without affecting others"},
    {"damaged", "its group's CRC failed or a cut ended it (Reader(damaged_blocks=True))"},
    {"offset", "file offset of the payload"},
    {"chunk_offset", "file offset of the CORE chunk holding it"},
    {"index_in_group", "its position in that chunk's group"},
    {nullptr, nullptr}};
static_assert(std::size(kBlockFields) == kFieldCount + 1);
PyStructSequence_Desc kBlockDesc = {
    "h4mk.Block", "One block as read: its track, type, timing in the track's ticks and payload.",
    kBlockFields, kFieldCount};
PyTypeObject* g_block_type = nullptr;
PyObject* g_type_names[3] = {};

}  // namespace

py::object make_block(const Block& b) {
  PyObject* o = PyStructSequence_New(g_block_type);
  if (!o) throw py::error_already_set();
  auto set = [&](int i, PyObject* v) {
    if (!v) {
      Py_DECREF(o);
      throw py::error_already_set();
    }
    PyStructSequence_SetItem(o, i, v);
  };
  auto flag = [](bool v) { return Py_NewRef(v ? Py_True : Py_False); };
  set(kTrack, PyLong_FromUnsignedLong(b.info.track_id));
  set(kType, Py_NewRef(g_type_names[int(b.info.type)]));
  set(kPts, PyLong_FromLongLong(b.info.pts));
  set(kDts, PyLong_FromLongLong(b.info.dts));
  set(kDuration, PyLong_FromLongLong(b.info.duration));
  set(kData, PyBytes_FromStringAndSize(reinterpret_cast<const char*>(b.data.data()),
                                       Py_ssize_t(b.data.size())));
  set(kSideData, PyBytes_FromStringAndSize(reinterpret_cast<const char*>(b.side_data.data()),
                                           Py_ssize_t(b.side_data.size())));
  set(kMasked, flag(b.info.masked));
  set(kDiscardable, flag(b.info.discardable));
  set(kDamaged, flag(b.damaged));
  set(kOffset, PyLong_FromUnsignedLongLong(b.data_offset));
  set(kChunkOffset, PyLong_FromUnsignedLongLong(b.chunk_offset));
  set(kIndexInGroup, PyLong_FromUnsignedLong(b.index_in_group));
  return py::reinterpret_steal<py::object>(o);
}

void bind_block(py::module_& m) {
  g_block_type = PyStructSequence_NewType(&kBlockDesc);
  if (!g_block_type) throw py::error_already_set();
  m.attr("Block") = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(g_block_type));
  for (int i = 0; i < 3; ++i)
    g_type_names[i] = PyUnicode_InternFromString(block_type_name(BlockType(i)));
}

}  // namespace h4mk::python
