// Full integrity check and repair of whole files.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "h4mk/error.hpp"
#include "h4mk/export.h"
#include "h4mk/io.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/reader.hpp"
#include "h4mk/unknown_chunk.hpp"
#include "h4mk/writer.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct VerifyOptions {
  ReaderLimits limits;
  bool check_veri = true;  // recompute the SHA-256 chain (CRC-only when false)
  // A trusted Ed25519 public key (PEM): the SIGN chunk must then hold for it
  // (h4mk/signature.hpp); a file without one is a problem.
  std::string public_key_pem;
  // Once a group with a record per block turns up (video, I/P/B tokens), hash
  // the VERI chain on a second thread while this one reads and checks, when
  // the process may run on more than one CPU; the report is the same.
  bool veri_thread = true;
  // Called with every problem as it is found (the report keeps the first
  // kKeptProblems): for reporting them all without holding them.
  std::function<void(const struct Problem&)> on_problem;
};

struct Problem {
  uint64_t offset = 0;
  std::string chunk;  // tag of the chunk concerned, "" for the file as a whole
  ErrorCode code = ErrorCode::kCorrupt;
  std::string message;
};

struct VerifyReport {
  static constexpr size_t kKeptProblems = 1000;
  bool ok() const { return problem_count == 0; }
  std::vector<Problem> problems;  // the first kKeptProblems
  uint64_t problem_count = 0;     // all of them
  uint64_t chunks = 0;
  uint64_t core_chunks = 0;
  uint64_t blocks = 0;
  bool complete = false;  // ends in TAIL + container CRC
  bool has_veri = false;
  bool veri_ok = false;
  bool container_crc_ok = false;
  std::string veri_hash;  // recomputed, hex
  bool has_signature = false;
  bool signature_ok = false;  // checked against VerifyOptions::public_key_pem
  // Chunks of tags this version of the format does not know (FORMAT.md
  // §9.6): allowed, not problems. The first kKeptUnknownChunks (payloads not
  // held), and how many in all.
  static constexpr size_t kKeptUnknownChunks = 64;
  std::vector<UnknownChunk> unknown_chunks;
  uint64_t unknown_chunk_count = 0;
};

// Reads the whole source once and reports every problem with its offset.
VerifyReport verify(Source& source, const VerifyOptions& options = {});

struct RepairReport {
  uint64_t blocks_kept = 0;
  uint64_t blocks_rejected = 0;  // readable but refused by the writer's checks
  std::vector<Damage> damage;    // regions that were lost
  std::vector<std::string> notes;
  UnknownChunksKept unknown_chunks;
};

// Copies every intact block of `in` into a new complete, indexed file on `out`.
RepairReport repair(Source& in, Sink& out, const WriterOptions& options = rewrite_options());

}  // namespace h4mk
H4MK_CXX_API_END
