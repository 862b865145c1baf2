// h4mk::Error as the package's exceptions (h4mk/errors.py), by code name.
#include "binding.hpp"

namespace h4mk::python {

// The code names the Python exceptions are chosen by (h4mk/errors.py).
const char* code_id(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kEndOfStream:
      return "end_of_stream";
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kBadMagic:
      return "bad_magic";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorCode::kCrcMismatch:
      return "crc_mismatch";
    case ErrorCode::kCorrupt:
      return "corrupt";
    case ErrorCode::kLimitExceeded:
      return "limit_exceeded";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kNotSeekable:
      return "not_seekable";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kOutOfMemory:
      return "out_of_memory";
    case ErrorCode::kBadState:
      return "bad_state";
    case ErrorCode::kVerifyFailed:
      return "verify_failed";
    case ErrorCode::kKeyMismatch:
      return "key_mismatch";
    case ErrorCode::kAuthFailed:
      return "auth_failed";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "internal";
}

void register_errors() {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::object errors = py::module_::import("h4mk.errors");
      py::object offset = py::none();
      if (e.offset() != kNoOffset) offset = py::int_(e.offset());
      py::object exc = errors.attr("from_code")(code_id(e.code()), e.what(), offset);
      PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    }
  });
}

}  // namespace h4mk::python
