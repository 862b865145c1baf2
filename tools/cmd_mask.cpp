// mask, unmask, sign: commands that rewrite a file's protection. Keys come
// from the command line, a file or the environment and are never printed.
#include <openssl/crypto.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"

namespace h4mk::cli {

namespace {

std::string trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

}  // namespace

KeyScrub::~KeyScrub() { OPENSSL_cleanse(key.data(), key.size()); }

MaskKey load_mask_key(const KeySource& k) {
  const int given = !k.hex.empty() + !k.file.empty() + !k.env.empty();
  if (given != 1)
    throw Failure{kExitUsage, "give the key once: --key HEX, --key-file F or --key-env VAR"};
  if (!k.hex.empty())
    std::fprintf(stderr,
                 "h4mk: warning: a key given with --key can be read from the process list while "
                 "h4mk starts; prefer --key-file or --key-env\n");
  // A process holding a key leaves no core dump and cannot be attached to.
  const rlimit no_core{0, 0};
  ::setrlimit(RLIMIT_CORE, &no_core);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  std::string text;
  if (!k.hex.empty()) text = k.hex;
  if (!k.env.empty()) {
    const char* v = std::getenv(k.env.c_str());
    if (!v) throw Failure{kExitUsage, "environment variable " + k.env + " is not set"};
    text = v;
  }
  if (!k.file.empty()) {
    text = read_text_file(k.file, "key");
    if (text.size() == kMaskKeySize) {  // 32 raw bytes
      MaskKey key;
      std::copy(text.begin(), text.end(), key.begin());
      OPENSSL_cleanse(text.data(), text.size());
      return key;
    }
  }
  text = trimmed(std::move(text));
  try {
    MaskKey key = parse_mask_key_hex(text);
    OPENSSL_cleanse(text.data(), text.size());
    return key;
  } catch (const Error& e) {
    OPENSSL_cleanse(text.data(), text.size());
    throw Failure{kExitUsage, std::string("bad key: ") + e.what() +
                                  (k.file.empty() ? "" : " (or 32 raw bytes in a key file)")};
  }
}

int mask(const Options& o, const std::string& in, const std::string& out, const KeySource& ks,
         const std::string& scheme_name, const std::string& kid,
         const std::vector<uint16_t>& only) {
  auto scheme = mask_scheme_from_name(scheme_name);
  if (!scheme) throw Failure{kExitUsage, "--scheme is aes-256-gcm or aes-256-ctr"};
  KeyScrub key{load_mask_key(ks)};
  return run_rewrite(
      o, "masked", in, out,
      [&](Reader& r, Sink& sink, const RewriteProgress& p) {
        return mask_file(r, sink, key.key, *scheme, kid, only, p);
      },
      false);
}

int unmask(const Options& o, const std::string& in, const std::string& out, const KeySource& ks) {
  KeyScrub key{load_mask_key(ks)};
  return run_rewrite(
      o, "unmasked", in, out,
      [&](Reader& r, Sink& sink, const RewriteProgress& p) {
        return unmask_file(r, sink, key.key, p);
      },
      false);
}

int sign(const Options& o, const std::string& in, const std::string& out,
         const std::string& private_key_file) {
  std::string pem = read_text_file(private_key_file, "private key");
  auto src = open_input(in);
  if (!src->seekable()) throw Failure{kExitUsage, "sign needs a file, not a pipe, as input"};
  auto sink = open_output(out);
  try {
    sign_file(*src, *sink, pem);
  } catch (const Error& e) {
    OPENSSL_cleanse(pem.data(), pem.size());
    if (sink->failed()) throw Failure{kExitOutput, out + ": " + e.what()};
    if (e.code() == ErrorCode::kInvalidArgument)
      throw Failure{kExitUsage, private_key_file + ": " + e.what()};
    throw Failure{e.code() == ErrorCode::kVerifyFailed ? kExitProblems : kExitInput,
                  in + ": " + e.what()};
  }
  OPENSSL_cleanse(pem.data(), pem.size());
  close_output(*sink);
  if (!o.quiet && !o.json) std::fprintf(stderr, "h4mk: signed %s -> %s\n", in.c_str(), out.c_str());
  if (o.json)
    std::cout << nlohmann::ordered_json{{"input", in}, {"output", out}}.dump(
                     2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  return kExitOk;
}

std::string read_public_key(const std::string& path) { return read_text_file(path, "public key"); }

}  // namespace h4mk::cli
