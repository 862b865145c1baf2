#include "temporary_file.hpp"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace h4mk::cli {

UniqueFd temporary_file() {
  std::error_code ec;
  const std::string dir = std::filesystem::temp_directory_path(ec).string();
  if (ec) return UniqueFd();
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  // A file system without O_TMPFILE: a named file, unlinked at once.
  std::string name = dir + "/h4mk-XXXXXX";
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(name.c_str());
  return UniqueFd(fd);
}

}  // namespace h4mk::cli
