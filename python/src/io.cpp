// Paths, bytes-like objects and Python binary file objects as libh4mk's
// Source and Sink.
#include <algorithm>
#include <cctype>

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

// "scheme://...": RFC 3986's scheme characters before "://".
bool is_url(const std::string& s) {
  const size_t colon = s.find("://");
  if (colon == std::string::npos || colon == 0 || !std::isalpha(uint8_t(s[0]))) return false;
  return std::all_of(s.begin(), s.begin() + long(colon), [](char c) {
    return std::isalnum(uint8_t(c)) || c == '+' || c == '-' || c == '.';
  });
}

// Bytes fsspec fetches per range request beyond what a read asks for: a
// group header and its records come in one request, a whole file never.
constexpr int kUrlBlockSize = 64 * 1024;

// A URL through fsspec (its HTTP filesystem for http and https), whose
// file object reads by range.
std::unique_ptr<Source> open_url(const std::string& url) {
  py::object fsspec;
  try {
    fsspec = py::module_::import("fsspec");
  } catch (py::error_already_set&) {
    throw Error(ErrorCode::kInvalidArgument,
                "reading " + url +
                    " needs fsspec (Debian: python3-fsspec, and python3-aiohttp "
                    "for http and https)");
  }
  py::object file = fsspec
                        .attr("open")(url, "rb", py::arg("block_size") = kUrlBlockSize,
                                      py::arg("cache_type") = "readahead")
                        .attr("open")();
  return std::make_unique<PyFileSource>(std::move(file));
}

}  // namespace

// A source for a path (str or os.PathLike), a URL (str), a bytes-like
// object (its buffer held in `keep`) or a binary file object.
std::unique_ptr<Source> open_source(const py::object& source, std::unique_ptr<ByteBuffer>& keep) {
  if (py::isinstance<py::str>(source) && is_url(source.cast<std::string>()))
    return open_url(source.cast<std::string>());
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
