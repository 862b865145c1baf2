// Paths, bytes-like objects and Python binary file objects as libh4mk's
// Source and Sink.
#include "binding.hpp"

namespace h4mk::python {
namespace {

// A binary file object: read(n); seek/tell where seekable() says so. Every
// call takes the GIL: library calls run without it (GilFree, binding.hpp).
class PyFileSource final : public Source {
 public:
  explicit PyFileSource(py::object file) : file_(std::move(file)) {
    seekable_ = py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>();
    if (seekable_) {
      const int64_t here = file_.attr("tell")().cast<int64_t>();
      size_ = uint64_t(file_.attr("seek")(0, 2).cast<int64_t>());
      file_.attr("seek")(here);
    }
  }
  size_t read(std::span<uint8_t> buf) override {
    py::gil_scoped_acquire gil;
    py::object got = file_.attr("read")(buf.size());
    if (got.is_none()) throw Error(ErrorCode::kIo, "read() returned None (a non-blocking file?)");
    if (!PyObject_CheckBuffer(got.ptr()))
      throw Error(
          ErrorCode::kIo,
          "read() returned " + py::repr(py::type::of(got)).cast<std::string>() + ", not bytes");
    const ByteBuffer bytes(got);
    const size_t n = bytes.span().size();
    if (n > buf.size()) throw Error(ErrorCode::kIo, "read() returned more bytes than asked for");
    std::memcpy(buf.data(), bytes.span().data(), n);
    return n;
  }
  bool seekable() const override { return seekable_; }
  void seek(uint64_t offset) override {
    py::gil_scoped_acquire gil;
    file_.attr("seek")(offset);
  }
  std::optional<uint64_t> size() const override { return size_; }

 private:
  py::object file_;
  bool seekable_ = false;
  std::optional<uint64_t> size_;
};

class PyFileSink final : public Sink {
 public:
  explicit PyFileSink(py::object file) : file_(std::move(file)) {
    seekable_ = py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>();
    if (seekable_) start_ = file_.attr("tell")().cast<uint64_t>();
  }
  void write(std::span<const uint8_t> data) override {
    py::gil_scoped_acquire gil;
    file_.attr("write")(py::memoryview::from_memory(data.data(), ssize_t(data.size())));
  }
  void flush() override {
    py::gil_scoped_acquire gil;
    if (py::hasattr(file_, "flush")) file_.attr("flush")();
  }
  bool seekable() const override { return seekable_; }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override {
    py::gil_scoped_acquire gil;
    py::object end = file_.attr("tell")();
    file_.attr("seek")(start_ + offset);
    write(data);
    file_.attr("seek")(end);
  }

 private:
  py::object file_;
  bool seekable_ = false;
  uint64_t start_ = 0;
};

}  // namespace

// A source for a path (str or os.PathLike), a bytes-like object (its buffer
// held in `keep`) or a binary file object.
std::unique_ptr<Source> open_source(const py::object& source, std::unique_ptr<ByteBuffer>& keep) {
  if (py::isinstance<py::str>(source) || py::hasattr(source, "__fspath__"))
    return std::make_unique<FileSource>(
        py::module_::import("os").attr("fsdecode")(source).cast<std::string>());
  if (PyObject_CheckBuffer(source.ptr())) {
    keep = std::make_unique<ByteBuffer>(source);
    return std::make_unique<MemorySource>(keep->span());
  }
  if (py::hasattr(source, "read")) return std::make_unique<PyFileSource>(source);
  throw Error(ErrorCode::kInvalidArgument,
              "a path, a bytes-like object or a binary file object is needed");
}

// A sink for a path (str or os.PathLike) or a binary file object.
std::unique_ptr<Sink> open_sink(const py::object& target) {
  if (py::isinstance<py::str>(target) || py::hasattr(target, "__fspath__"))
    return std::make_unique<FileSink>(
        py::module_::import("os").attr("fsdecode")(target).cast<std::string>());
  if (py::hasattr(target, "write")) return std::make_unique<PyFileSink>(target);
  throw Error(ErrorCode::kInvalidArgument, "a path or a binary file object is needed to write to");
}

}  // namespace h4mk::python
