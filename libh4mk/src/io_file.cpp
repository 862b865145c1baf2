#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "h4mk/error.hpp"
#include "h4mk/io.hpp"

namespace h4mk {

namespace {
[[noreturn]] void io_error(const std::string& what, const std::string& name) {
  throw Error(ErrorCode::kIo, what + " " + name + ": " + std::strerror(errno));
}
}  // namespace

// A file opened by path is read with read(2): ChunkStream does the buffering,
// and stdio's buffer would add a copy and a second system call to each read.
FileSource::FileSource(const std::string& path) : owned_(true), name_(path) {
  do fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0) io_error("cannot open", path);
  probe(fd_);
}

// A stream the caller opened may already hold buffered bytes: read it through stdio.
FileSource::FileSource(std::FILE* stream) : f_(stream), name_("(stream)") { probe(fileno(f_)); }

FileSource::~FileSource() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

// Regular files are seekable with a known size; pipes, sockets and ttys are not.
void FileSource::probe(int fd) {
  struct stat st;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    seekable_ = true;
    size_ = static_cast<uint64_t>(st.st_size);
  }
}

size_t FileSource::read(std::span<uint8_t> buf) {
  if (!f_) {
    size_t got = 0;
    while (got < buf.size()) {
      const ssize_t n = ::read(fd_, buf.data() + got, buf.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) io_error("cannot read", name_);
      if (n == 0) break;
      got += size_t(n);
    }
    return got;
  }
  size_t n = std::fread(buf.data(), 1, buf.size(), f_);
  if (n < buf.size() && std::ferror(f_)) io_error("cannot read", name_);
  return n;
}

void FileSource::seek(uint64_t offset) {
  if (!seekable_) throw Error(ErrorCode::kNotSeekable, name_ + " is not seekable");
  const bool ok = f_ ? fseeko(f_, static_cast<off_t>(offset), SEEK_SET) == 0
                     : ::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) >= 0;
  if (!ok) io_error("cannot seek in", name_);
}

FileSink::FileSink(const std::string& path) : owned_(true), name_(path) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) io_error("cannot create", path);
  probe();
}

FileSink::FileSink(std::FILE* stream) : f_(stream), name_("(stream)") { probe(); }

// A regular file can be written at an earlier position, unless it was opened
// for appending (every write would go to the end).
void FileSink::probe() {
  struct stat st;
  const int fd = fileno(f_);
  const int flags = fcntl(fd, F_GETFL);
  const off_t at = ftello(f_);
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && flags >= 0 && !(flags & O_APPEND) && at >= 0) {
    seekable_ = true;
    start_ = static_cast<uint64_t>(at);
  }
}

void FileSink::write_at(uint64_t offset, std::span<const uint8_t> data) {
  if (!f_) throw Error(ErrorCode::kBadState, name_ + " is closed");
  if (!seekable_) throw Error(ErrorCode::kNotSeekable, name_ + " is not seekable");
  if (fseeko(f_, static_cast<off_t>(start_ + offset), SEEK_SET) != 0)
    io_error("cannot seek in", name_);
  if (std::fwrite(data.data(), 1, data.size(), f_) != data.size()) io_error("cannot write", name_);
  if (fseeko(f_, static_cast<off_t>(start_ + written_), SEEK_SET) != 0)
    io_error("cannot seek in", name_);
}

FileSink::~FileSink() {
  if (owned_ && f_) std::fclose(f_);
}

void FileSink::write(std::span<const uint8_t> data) {
  if (!f_) throw Error(ErrorCode::kBadState, name_ + " is closed");
  if (std::fwrite(data.data(), 1, data.size(), f_) != data.size()) io_error("cannot write", name_);
  written_ += data.size();
}

void FileSink::flush() {
  if (f_ && std::fflush(f_) != 0) io_error("cannot flush", name_);
}

void FileSink::close() {
  if (!f_) return;
  std::FILE* f = f_;
  f_ = nullptr;
  bool failed = std::fflush(f) != 0;
  if (owned_) failed |= std::fclose(f) != 0;
  if (failed) io_error("cannot close", name_);
}

}  // namespace h4mk
