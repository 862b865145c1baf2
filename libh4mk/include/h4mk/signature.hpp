// Signed files: an Ed25519 signature (OpenSSL) over the VERI payload, stored
// in a SIGN chunk right after VERI (docs/FORMAT.md §8.1). VERI's hash chain
// covers every byte before it, so a valid signature proves all of them.
#pragma once

#include <string>
#include <string_view>

#include "h4mk/export.h"
#include "h4mk/io.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

// Copies the complete file `in` (seekable, of known size) to `out` with a
// SIGN chunk after VERI, replacing an earlier signature. The data before VERI
// is copied byte for byte. The key is an Ed25519 private key in PEM (as
// `openssl genpkey -algorithm ed25519` writes it). Throws Error: kInvalidArgument
// for a key that is not Ed25519, kVerifyFailed when the file has no VERI or its
// hash chain or CRCs do not hold (a signature must never vouch for a broken
// file), kNotSeekable / kTruncated for an incomplete source.
void sign_file(Source& in, Sink& out, std::string_view private_key_pem);

// Checks a SIGN payload against a VERI payload with a trusted public key
// (PEM). Returns "" when the signature holds, otherwise what is wrong. Throws
// Error(kInvalidArgument) for a key that is not an Ed25519 public key.
std::string check_signature(std::string_view sign_json, std::string_view veri_json,
                            std::string_view public_key_pem);

}  // namespace h4mk
H4MK_CXX_API_END
