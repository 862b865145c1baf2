// An unlinked file in the temporary directory, read-write: it vanishes with
// its descriptor (uploads, answers, a piped input that must be read by
// position).
#pragma once

#include "unique_fd.hpp"

namespace h4mk::cli {

// Empty when none can be made.
UniqueFd temporary_file();

}  // namespace h4mk::cli
