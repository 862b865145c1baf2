// The index region (FORMAT.md §2, §10, §10.1, §11): the TSEK chunks between
// the last CORE and TAIL, and the HINT that copies their summaries to the
// head of the file. The checks a reader and verify both make of them live
// here: the reader loads the region from the end of a complete file, verify
// meets its chunks in order, and each reports a problem its own way (the
// reader seeks without the index; verify lists it).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "h4mk/error.hpp"
#include "hint.hpp"
#include "seek_table.hpp"

namespace h4mk::detail {

struct IndexProblem {
  uint64_t offset;
  ErrorCode code;
  std::string message;  // names the chunk and what is wrong
};

class IndexRegion {
 public:
  // `declared`: whether TRAK declares a track id.
  explicit IndexRegion(std::function<bool(uint16_t)> declared) : declared_(std::move(declared)) {}

  // A TSEK chunk's payload: decoded, for a declared track, the track's only
  // one. A problem leaves the region as it was.
  std::optional<IndexProblem> take_seek_table(std::span<const uint8_t> payload, uint64_t offset);
  // Every entry names a group inside the CORE region [data_offset, index_offset).
  std::optional<IndexProblem> check_entries(uint64_t data_offset, uint64_t index_offset) const;

  const std::map<uint16_t, SeekTable>& tables() const { return tables_; }
  std::map<uint16_t, SeekTable> take_tables() { return std::move(tables_); }

 private:
  std::function<bool(uint16_t)> declared_;
  std::map<uint16_t, SeekTable> tables_;
  std::map<uint16_t, uint64_t> table_offsets_;
};

// Why a filled-in HINT does not describe the file whose end says otherwise:
// its size, TAIL's index offset, and each track's summary (in TRAK order,
// `ids`) against `actual(slot)` (nullptr: none known), which `against`
// names ("its blocks", "its TSEK"). Empty when it does.
std::string hint_disagreement(const Hint& hint, uint64_t file_size, uint64_t index_offset,
                              const std::vector<uint16_t>& ids,
                              const std::function<const TrackSummary*(size_t slot)>& actual,
                              const char* against);

// Why a HINT cannot describe a file of its own stated size (index offset
// past the end, a summary of more blocks than bytes or outside §5.5's
// timestamps), checked without reading the end. Empty when it can.
std::string implausible_hint(const Hint& hint, const std::vector<uint16_t>& ids);

}  // namespace h4mk::detail
