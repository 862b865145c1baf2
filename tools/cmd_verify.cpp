// verify: every CRC, the container CRC, VERI and the index.
#include <cstdio>
#include <iostream>

#include "commands.hpp"

namespace h4mk::cli {

int verify(const Options& o, const std::string& file, const std::string& public_key_file) {
  VerifyOptions opt;
  if (!public_key_file.empty()) opt.public_key_pem = read_public_key(public_key_file);
  // Text: every problem as it is found; JSON: the report's first ones and
  // the count (memory stays bounded whatever the file).
  if (!o.json)
    opt.on_problem = [&](const Problem& p) {
      std::fprintf(stderr, "h4mk: %s: offset %llu%s%s: %s\n", file.c_str(),
                   (unsigned long long)p.offset, p.chunk.empty() ? "" : " ", p.chunk.c_str(),
                   p.message.c_str());
    };
  auto src = open_input(file);
  VerifyReport v = h4mk::verify(*src, opt);
  const char* signature = !opt.public_key_pem.empty() ? (v.signature_ok ? "ok" : "invalid")
                          : v.has_signature           ? "unchecked"
                                                      : "absent";
  if (o.json) {
    nlohmann::ordered_json problems = nlohmann::ordered_json::array();
    for (const Problem& p : v.problems)
      problems.push_back({{"offset", p.offset},
                          {"chunk", p.chunk.empty() ? nlohmann::ordered_json(nullptr)
                                                    : nlohmann::ordered_json(p.chunk)},
                          {"error", error_code_name(p.code)},
                          {"message", p.message}});
    std::cout << nlohmann::ordered_json{{"file", file},
                                        {"ok", v.ok()},
                                        {"complete", v.complete},
                                        {"chunks", v.chunks},
                                        {"blocks", v.blocks},
                                        {"veri",
                                         v.has_veri ? (v.veri_ok ? "ok" : "mismatch") : "absent"},
                                        {"container_crc",
                                         v.complete ? (v.container_crc_ok ? "ok" : "mismatch")
                                                    : "absent"},
                                        {"signature", signature},
                                        {"problems", problems},
                                        {"problem_count", v.problem_count}}
                     .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    if (!o.quiet)
      std::printf("%s: %s (%llu chunks, %llu blocks, VERI %s, container CRC %s, signature %s)\n",
                  file.c_str(), v.ok() ? "OK" : "FAILED", (unsigned long long)v.chunks,
                  (unsigned long long)v.blocks,
                  v.has_veri ? (v.veri_ok ? "ok" : "mismatch") : "absent",
                  v.complete ? (v.container_crc_ok ? "ok" : "mismatch") : "absent", signature);
  }
  return v.ok() ? kExitOk : kExitProblems;
}

}  // namespace h4mk::cli
