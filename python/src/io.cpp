// Paths, bytes-like objects and Python binary file objects as libh4mk's
// Source and Sink.
#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include "binding.hpp"
#include "h4mk/read_window.hpp"

namespace h4mk::python {
namespace {

// A binary file object: read(n); seek/tell where seekable() says so. Every
// call takes the GIL: library calls run without it (GilFree, binding.hpp).
class PyFileSource final : public Source {
 public:
  // in_order: read it as a stream whatever seekable() says.
  explicit PyFileSource(py::object file, bool in_order = false) : file_(std::move(file)) {
    seekable_ =
        !in_order && py::hasattr(file_, "seekable") && file_.attr("seekable")().cast<bool>();
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

// A URL through fsspec's file object (its HTTP filesystem for http and
// https): one range request per read. ReadWindow on top makes the reads
// windows: opening or a seek costs a small request, and a whole pass about
// log2(size / 64 KiB) + size / 4 MiB requests (fsspec's readahead cache, a
// fixed 64 KiB, made a 3.5 MB pass 52).
//
// Over HTTP with a strong ETag, every request carries If-Match (open_url):
// a file replaced on the server after it was opened answers 412, refused
// here, rather than bytes of another file.
class UrlRanges final : public Source {
 public:
  UrlRanges(py::object file, std::string url, std::string etag)
      : file_(std::move(file)),
        url_(std::move(url)),
        etag_(std::move(etag)),
        size_(file_.attr("size").cast<uint64_t>()) {}
  size_t read(std::span<uint8_t> buf) override {
    if (buf.empty() || pos_ >= size_) return 0;
    py::gil_scoped_acquire gil;
    py::object got = read_at(pos_, buf.size());
    if (!PyObject_CheckBuffer(got.ptr()))
      throw Error(ErrorCode::kIo,
                  "the URL's read() returned " + py::repr(py::type::of(got)).cast<std::string>());
    const ByteBuffer bytes(got);
    const size_t n = bytes.span().size();
    if (n > buf.size()) throw Error(ErrorCode::kIo, "read() returned more than asked for");
    std::memcpy(buf.data(), bytes.span().data(), n);
    if (pos_ == 0 && n >= kHead) std::copy_n(buf.begin(), kHead, head_.begin());
    if (pos_ != 0 && n >= kHead && head_[0] && std::equal(head_.begin(), head_.end(), buf.begin()))
      refuse_a_server_that_ignores_range();
    pos_ += n;
    return n;
  }
  bool seekable() const override { return true; }
  void seek(uint64_t offset) override { pos_ = offset; }
  std::optional<uint64_t> size() const override { return size_; }

 private:
  static constexpr size_t kHead = 16;  // the file header: what a range-ignoring server sends

  // A server that ignores Range answers 200 with the whole file, and
  // fsspec hands out its first bytes for any offset. Bytes at an offset
  // that equal the file's first ones are asked for again one byte on: such
  // a server sends the first ones again, and is refused.
  void refuse_a_server_that_ignores_range() {
    py::object again = read_at(pos_ + 1, kHead - 1);
    if (!PyObject_CheckBuffer(again.ptr())) return;  // no answer to judge by
    const ByteBuffer next(again);
    if (next.span().size() == kHead - 1 &&
        std::equal(next.span().begin(), next.span().end(), head_.begin()))
      throw Error(ErrorCode::kIo,
                  url_ + ": the server does not answer range requests: asked for offset " +
                      std::to_string(pos_) + ", it sent the file's first bytes");
  }

  // One range request; a precondition that fails (412: If-Match) is the
  // file changed since it was opened.
  py::object read_at(uint64_t offset, size_t n) {
    try {
      file_.attr("seek")(offset);
      return file_.attr("read")(n);
    } catch (py::error_already_set& e) {
      const py::object status = py::getattr(e.value(), "status", py::none());
      if (etag_.empty() || !py::isinstance<py::int_>(status) || status.cast<long>() != 412) throw;
      throw Error(ErrorCode::kIo, url_ + ": bytes " + std::to_string(offset) + "-" +
                                      std::to_string(offset + n - 1) +
                                      ": the file changed on the server since it was opened "
                                      "(it no longer has ETag " +
                                      etag_ + ")");
    }
  }

  py::object file_;
  std::string url_;
  std::string etag_;  // the strong ETag every request asks for (If-Match), or none
  uint64_t size_;
  uint64_t pos_ = 0;
  std::array<uint8_t, kHead> head_{};  // the file's first bytes, once read
};

bool is_http(const std::string& url) {
  std::string scheme = url.substr(0, url.find("://"));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return scheme == "http" || scheme == "https";
}

// A URL through fsspec, which must be installed for it.
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
  // No cache of fsspec's: every read() is one range request (UrlRanges).
  // A server that gives no size gets fsspec's stream, read in order like a
  // pipe (fsspec's stream says it is seekable, and is not).
  py::tuple fs_path = fsspec.attr("core").attr("url_to_fs")(url);
  py::object fs = fs_path[0], path = fs_path[1];
  std::string etag;
  py::object file;
  if (is_http(url)) {
    // The HEAD fsspec makes for the size gives the ETag too. A weak one
    // (W/...) never matches If-Match: then no validator, as with none.
    py::dict info = fs.attr("info")(path);
    py::object given = info.attr("get")("ETag");
    if (py::isinstance<py::str>(given) && given.cast<std::string>().rfind("W/", 0) != 0)
      etag = given.cast<std::string>();
    py::dict headers;
    if (!etag.empty()) headers["If-Match"] = etag;
    file =
        fs.attr("open")(path, "rb", py::arg("cache_type") = "none",
                        py::arg("size") = info.attr("get")("size"), py::arg("headers") = headers);
  } else {
    file = fs.attr("open")(path, "rb", py::arg("cache_type") = "none");
  }
  if (py::getattr(file, "size", py::none()).is_none())
    return std::make_unique<PyFileSource>(std::move(file), /*in_order=*/true);
  return std::make_unique<ReadWindow>(std::make_unique<UrlRanges>(std::move(file), url, etag));
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
