// The VERI SHA-256 hash chain:
//   h0 = SHA-256("H4MK-VERI-v1" || file header)
//   h(i) = SHA-256(h(i-1) || chunk header || chunk payload)
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace h4mk::detail {

class HashChain {
 public:
  HashChain();
  ~HashChain();
  HashChain(const HashChain&) = delete;
  HashChain& operator=(const HashChain&) = delete;

  void start(std::span<const uint8_t> file_header);
  void add_chunk(std::span<const uint8_t> header12, std::span<const uint8_t> payload);
  uint64_t count() const { return count_; }
  std::string hex() const;

 private:
  void* ctx_;  // EVP_MD_CTX
  std::array<uint8_t, 32> h_{};
  uint64_t count_ = 0;
};

std::string to_hex(std::span<const uint8_t> bytes);

}  // namespace h4mk::detail
