// What the C API's files share: exceptions turned into status codes, and the
// thread's last open error (h4mk_open_error).
#pragma once

#include <new>
#include <string>

#include "h4mk/error.hpp"
#include "h4mk/export.h"
#include "h4mk/h4mk.h"

namespace h4mk::detail {

// Exported for libh4mk-adapters, whose open functions report through it.
H4MK_API std::string& c_open_error();

// Runs f, mapping exceptions to a status and storing the message in `err`.
template <typename F>
int guarded(std::string& err, F&& f) {
  try {
    f();
    return H4MK_OK;
  } catch (const Error& e) {
    err = e.what();
    return static_cast<int>(e.code());
  } catch (const std::bad_alloc&) {
    err = "out of memory";
    return H4MK_ERR_NO_MEMORY;
  } catch (const std::exception& e) {
    err = e.what();
    return H4MK_ERR_INTERNAL;
  }
}

}  // namespace h4mk::detail
