// A Source that hands out only bytes it has checked against a signed hash
// tree (docs/FORMAT.md §8.2): opening checks the signature over ROOT with a
// trusted key; each read fetches the whole piece or leaf it falls in (and,
// for a leaf, its HASH page) and compares digests before giving out a byte.
// The Reader reads through it unchanged, so every parse, seek and resync
// sees verified bytes only. Holds one piece (at most 1 MiB) and one page.
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>
#include <vector>

#include "h4mk/error.hpp"
#include "h4mk/io.hpp"
#include "h4mk/limits.hpp"
#include "signed_tree.hpp"

namespace h4mk::detail {

class VerifyingSource final : public Source {
 public:
  // Throws Error: kNotSeekable without a seekable source of known size,
  // kAuthFailed for an unsigned file, one signed by another key, or one
  // whose signature does not hold, kVerifyFailed for a ROOT that does not
  // describe the file.
  VerifyingSource(Source& raw, std::string_view public_key_pem, const ReaderLimits& limits);

  // Throws Error(kVerifyFailed) naming the bytes that do not match.
  size_t read(std::span<uint8_t> buf) override;
  bool seekable() const override { return true; }
  void seek(uint64_t offset) override { pos_ = offset; }
  std::optional<uint64_t> size() const override { return root_.file_size; }

  const SignedRoot& root() const { return root_; }
  // Checks every piece, page and leaf in file order; calls `fail` with each
  // mismatch (offset, message) and goes on. For whole-file verification.
  template <class Fail>
  void check_all(Fail fail);

 private:
  struct Held {
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;
  };
  void load(uint64_t at, size_t want);
  void load_run(const std::vector<Piece>& pieces, size_t first, uint64_t at, uint64_t want,
                const char* what);
  const HashPage& page(size_t i);
  void fetch(uint64_t offset, size_t size, std::vector<uint8_t>& out);

  Source& raw_;
  SignedRoot root_;
  Held held_;
  Held signed_;  // SIGN and ROOT, as checked at opening
  Held tail_;    // TAIL and the container CRC
  // The end of what load() was checking, set before it fetches: a check
  // that fails goes on from there (a page that fails: from its span's end).
  uint64_t extent_end_ = 0;
  std::optional<size_t> page_index_;
  HashPage page_;
  uint64_t pos_ = 0;
};

template <class Fail>
void VerifyingSource::check_all(Fail fail) {
  for (uint64_t at = 0; at < root_.file_size;) {
    try {
      load(at, kPieceMax);
      if (held_.offset + held_.bytes.size() <= at)
        throw Error(ErrorCode::kInternal, "checking the tree made no progress");
      at = held_.offset + held_.bytes.size();
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kVerifyFailed) throw;
      fail(e.offset(), e.what());
      at = std::max(extent_end_, at + 1);
    }
  }
}

}  // namespace h4mk::detail
