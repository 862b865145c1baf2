#include "base64.hpp"

#include <openssl/evp.h>

namespace h4mk::detail {

std::string base64_encode(std::span<const uint8_t> data) {
  if (data.empty()) return {};
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::vector<uint8_t>> base64_decode(const std::string& text) {
  if (text.empty()) return std::vector<uint8_t>{};
  if (text.size() % 4 != 0 || text.size() > (size_t(1) << 30)) return std::nullopt;
  std::vector<uint8_t> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock keeps the zero bytes that '=' padding stands for.
  size_t pad = (text.back() == '=') + (text.size() > 1 && text[text.size() - 2] == '=');
  out.resize(static_cast<size_t>(n) - pad);
  if (base64_encode(out) != text) return std::nullopt;  // non-canonical
  return out;
}

}  // namespace h4mk::detail
