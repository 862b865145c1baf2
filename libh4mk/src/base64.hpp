// Base64 for extradata in TRAK, through OpenSSL's EVP encoder.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace h4mk::detail {

std::string base64_encode(std::span<const uint8_t> data);
// nullopt when the text is not canonical padded base64.
std::optional<std::vector<uint8_t>> base64_decode(const std::string& text);

}  // namespace h4mk::detail
