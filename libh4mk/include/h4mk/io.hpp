// Byte sources and sinks. The library reads and writes only through these
// interfaces, so the same parser and writer serve files, memory, pipes and
// caller-supplied callbacks (FFmpeg's AVIOContext).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

class Source {
 public:
  virtual ~Source() = default;
  // Reads up to buf.size() bytes; returns how many were read, 0 only at end of
  // stream. Implementations retry short reads themselves where that is cheap.
  // Throws Error(kIo) on failure.
  virtual size_t read(std::span<uint8_t> buf) = 0;
  virtual bool seekable() const { return false; }
  // Absolute seek; only called when seekable().
  virtual void seek(uint64_t offset);
  // Total size when known (seekable files, memory); nullopt for pipes.
  virtual std::optional<uint64_t> size() const { return std::nullopt; }
};

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes all of data or throws Error(kIo).
  virtual void write(std::span<const uint8_t> data) = 0;
  virtual void flush() {}
  // True when write_at() can overwrite bytes already written (regular files,
  // memory). The writer then fills in the HINT chunk when it finishes.
  virtual bool seekable() const { return false; }
  // Overwrites bytes at `offset`, counted from the first byte this sink was
  // given; later writes continue at the end. Only called when seekable().
  virtual void write_at(uint64_t offset, std::span<const uint8_t> data);
};

// --- memory -----------------------------------------------------------------

class MemorySource final : public Source {
 public:
  explicit MemorySource(std::span<const uint8_t> data) : data_(data) {}
  size_t read(std::span<uint8_t> buf) override;
  bool seekable() const override { return true; }
  void seek(uint64_t offset) override;
  std::optional<uint64_t> size() const override { return data_.size(); }

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

class MemorySink final : public Sink {
 public:
  void write(std::span<const uint8_t> data) override;
  bool seekable() const override { return true; }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override;
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t> take() { return std::move(bytes_); }

 private:
  std::vector<uint8_t> bytes_;
};

// --- files (by path: read(2); a FILE*: stdio) ------------------------------------
// The only place the library touches the file system; the core never opens files.

class FileSource final : public Source {
 public:
  explicit FileSource(const std::string& path);
  // Wraps an already open stream (e.g. stdin); not closed by the destructor.
  explicit FileSource(std::FILE* stream);
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  size_t read(std::span<uint8_t> buf) override;
  bool seekable() const override { return seekable_; }
  void seek(uint64_t offset) override;
  std::optional<uint64_t> size() const override { return size_; }

 private:
  void probe(int fd);
  int fd_ = -1;             // opened by path: read with read(2)
  std::FILE* f_ = nullptr;  // the caller's stream: read through stdio
  bool owned_ = false;
  bool seekable_ = false;
  std::optional<uint64_t> size_;
  std::string name_;
};

class FileSink final : public Sink {
 public:
  explicit FileSink(const std::string& path);
  explicit FileSink(std::FILE* stream);  // not closed by the destructor
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(std::span<const uint8_t> data) override;
  void flush() override;
  // Regular files not opened for appending; pipes, sockets and ttys are not.
  bool seekable() const override { return seekable_; }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override;
  // Flushes and closes, reporting errors that a destructor would swallow.
  void close();

 private:
  void probe();
  std::FILE* f_ = nullptr;
  bool owned_ = false;
  bool seekable_ = false;
  uint64_t start_ = 0;  // where the first byte went (a stream may not start at 0)
  uint64_t written_ = 0;
  std::string name_;
};

// --- C callbacks ------------------------------------------------------------------

// Callback table shared with the C API (h4mk_io). Any pointer may be null where
// the operation is not supported; a null seek means "not seekable".
struct CallbackIo {
  void* opaque = nullptr;
  int64_t (*read)(void* opaque, uint8_t* buf, size_t size) = nullptr;
  int64_t (*write)(void* opaque, const uint8_t* buf, size_t size) = nullptr;
  int64_t (*seek)(void* opaque, int64_t offset) = nullptr;
  int64_t (*size)(void* opaque) = nullptr;
};

class CallbackSource final : public Source {
 public:
  explicit CallbackSource(const CallbackIo& io);
  size_t read(std::span<uint8_t> buf) override;
  bool seekable() const override { return io_.seek != nullptr; }
  void seek(uint64_t offset) override;
  std::optional<uint64_t> size() const override;

 private:
  CallbackIo io_;
};

class CallbackSink final : public Sink {
 public:
  explicit CallbackSink(const CallbackIo& io);
  void write(std::span<const uint8_t> data) override;
  // With a seek callback: seek(offset) moves the output to that byte of what
  // was written, as it moves a reader's input.
  bool seekable() const override { return io_.seek != nullptr; }
  void write_at(uint64_t offset, std::span<const uint8_t> data) override;

 private:
  CallbackIo io_;
  uint64_t written_ = 0;  // the end, to continue at after write_at()
};

}  // namespace h4mk
H4MK_CXX_API_END
