// What the files of the native module (h4mk._h4mk) share: pybind11, libh4mk
// and the conversions between their types. Everything about the format is
// libh4mk's; these files convert, and turn h4mk::Error into the package's
// exceptions (h4mk/errors.py) with their code and file offset. Work that
// takes time runs without the GIL (Turns, gil_free); a Python file object's
// callbacks take it back (io.cpp).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/adapter.hpp"
#include "h4mk/decode.hpp"
#include "h4mk/h4mk.hpp"
#include "h4mk/rewrite.hpp"
#include "h4mk/transport.hpp"

namespace h4mk::python {

namespace py = pybind11;

// errors.cpp: the code names the Python exceptions are chosen by, and the
// translation of h4mk::Error into them.
const char* code_id(ErrorCode code);
void register_errors();

// The bytes of an object with the buffer protocol (bytes, bytearray,
// memoryview, numpy), in C order: its memory in place when that is
// C-contiguous, else copied element by element in C order (a reversed or
// strided view is never read as if it were contiguous). The exporter's
// buffer is held until this is destroyed.
class ByteBuffer {
 public:
  explicit ByteBuffer(const py::handle& obj);
  ~ByteBuffer();
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  std::span<const uint8_t> span() const { return bytes_; }

 private:
  Py_buffer view_{};
  std::vector<uint8_t> copy_;
  std::span<const uint8_t> bytes_;
};

// A per-block integer argument (a numpy array or a sequence) as int64 values.
// integers() refuses it, naming the argument, unless it is one-dimensional
// and holds integers that fit int64: floats, bools and objects are never
// cast.
class IntArray {
 public:
  explicit IntArray(py::array_t<int64_t, py::array::c_style> a)
      : a_(std::move(a)), data_(a_.data()) {}
  py::ssize_t size() const { return a_.size(); }
  int64_t at(size_t i) const { return data_[i]; }

 private:
  py::array_t<int64_t, py::array::c_style> a_;
  const int64_t* data_;
};
IntArray integers(const py::handle& obj, const char* name);

// One library object (a Reader, a Writer) shared by Python threads. Calls
// take turns on its mutex; a thread that has to wait lets the GIL go first,
// so the thread holding the object can take the GIL in a file object's
// callback. with_gil: short work that builds Python objects, run holding
// the GIL; without_gil: work that takes time and touches no Python object,
// run without it (other threads run Python meanwhile).
class Turns {
 public:
  template <typename F>
  decltype(auto) with_gil(F&& f) {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      py::gil_scoped_release wait;
      lock.lock();
    }
    return f();
  }
  template <typename F>
  decltype(auto) without_gil(F&& f) {
    py::gil_scoped_release nogil;
    std::lock_guard<std::mutex> lock(mu_);
    return f();
  }

 private:
  std::mutex mu_;
};

// Work on objects of the call's own that takes time, without the GIL.
template <typename F>
decltype(auto) gil_free(F&& f) {
  py::gil_scoped_release nogil;
  return f();
}

// io.cpp: a path (str or os.PathLike), a bytes-like object (its buffer held
// in `keep`, read in place) or a binary file object to read; a path or a
// binary file object to write.
std::unique_ptr<Source> open_source(const py::object& source, std::unique_ptr<ByteBuffer>& keep);
std::unique_ptr<Sink> open_sink(const py::object& target);

// convert.cpp
BlockType block_type(const py::object& t);
SeekMode seek_mode(const std::string& mode);
MaskKey mask_key(const py::object& key);
py::dict block_dict(const BlockInfo& info);
py::dict track_dict(const Track& t);
Track track_from(const py::handle& spec);
py::list damage_list(const std::vector<Damage>& damage);

// block.cpp: h4mk.Block, the struct sequence blocks are read as.
void bind_block(py::module_& m);
py::object make_block(const Block& b);

// The module's parts, each in its file.
void bind_reader(py::module_& m);
void bind_writer(py::module_& m);
void bind_files(py::module_& m);
void bind_adapters(py::module_& m);
void bind_tokenizers(py::module_& m);

}  // namespace h4mk::python
