// Signed files: an Ed25519 signature (OpenSSL) over a ROOT chunk, the root of
// a hash tree over every byte of the file (docs/FORMAT.md §8.1, §8.2). A
// reader given the public key (ReaderOptions::public_key_pem) checks what it
// reads, wherever it seeks; verify() with the key checks the whole file.
#pragma once

#include <string_view>

#include "h4mk/export.h"
#include "h4mk/io.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

// Copies the complete file `in` (seekable, of known size) to `out`, signed:
// HASH pages after the last CORE, then VERI, SIGN, ROOT and the rest of the
// index region; an earlier signature and its pages are replaced. The chunks
// up to the last CORE are copied byte for byte but for the HINT's file size
// and index offset. The key is an Ed25519 private key in PEM (as
// `openssl genpkey -algorithm ed25519` writes it). Throws Error: kInvalidArgument
// for a key that is not Ed25519, kVerifyFailed when the file has no VERI or its
// hash chain or CRCs do not hold (a signature must never vouch for a broken
// file), kNotSeekable / kTruncated for an incomplete source.
void sign_file(Source& in, Sink& out, std::string_view private_key_pem);

}  // namespace h4mk
H4MK_CXX_API_END
