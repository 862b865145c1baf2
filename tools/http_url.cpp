#include "http_url.hpp"

#include <openssl/crypto.h>

namespace h4mk::cli::http {
namespace {

int hex_digit(char c) { return OPENSSL_hexchar2int(static_cast<unsigned char>(c)); }

}  // namespace

size_t percent_decode(char* s) {
  char* out = s;
  for (const char* in = s; *in;) {
    int hi = -1, lo = -1;
    if (in[0] == '%' && (hi = hex_digit(in[1])) >= 0 && (lo = hex_digit(in[2])) >= 0 &&
        (hi | lo) != 0) {
      *out++ = static_cast<char>(hi * 16 + lo);
      in += 3;
    } else {
      *out++ = *in++;
    }
  }
  *out = '\0';
  return static_cast<size_t>(out - s);
}

}  // namespace h4mk::cli::http
