// An unlinked file in the temporary directory, read-write: it vanishes with
// its descriptor (uploads, answers, a piped input that must be read by
// position).
#pragma once

#include <cstddef>

#include "unique_fd.hpp"

namespace h4mk::cli {

// Empty when none can be made.
UniqueFd temporary_file();
// Writes all n bytes to fd (again after EINTR and short writes); false on
// an error.
bool write_all(int fd, const char* p, size_t n);

}  // namespace h4mk::cli
