#include "index_region.hpp"

#include "block_group.hpp"
#include "h4mk/error.hpp"

namespace h4mk::detail {

std::optional<IndexProblem> IndexRegion::take_seek_table(std::span<const uint8_t> payload,
                                                         uint64_t offset) {
  const std::string at = "TSEK chunk at offset " + std::to_string(offset);
  SeekTable t;
  try {
    t = decode_seek_table(payload, offset);
  } catch (const Error& e) {
    return IndexProblem{offset, e.code(), e.what()};
  }
  const uint16_t id = t.track_id;
  if (!declared_(id))
    return IndexProblem{
        offset, ErrorCode::kCorrupt,
        at + " is for track " + std::to_string(id) + ", which TRAK does not declare"};
  if (tables_.count(id))
    return IndexProblem{offset, ErrorCode::kCorrupt,
                        at + " repeats track " + std::to_string(id) +
                            " (its first TSEK is at offset " + std::to_string(table_offsets_[id]) +
                            ")"};
  table_offsets_[id] = offset;
  tables_.emplace(id, std::move(t));
  return std::nullopt;
}

std::optional<IndexProblem> IndexRegion::check_entries(uint64_t data_offset,
                                                       uint64_t index_offset) const {
  for (const auto& [id, table] : tables_)
    for (const IndexEntry& e : table.entries)
      if (e.offset < data_offset || e.offset >= index_offset) {
        const uint64_t at = table_offsets_.at(id);
        return IndexProblem{at, ErrorCode::kCorrupt,
                            "TSEK chunk at offset " + std::to_string(at) + ": track " +
                                std::to_string(id) + "'s entry at offset " +
                                std::to_string(e.offset) + " points outside the CORE region [" +
                                std::to_string(data_offset) + ", " + std::to_string(index_offset) +
                                ")"};
      }
  return std::nullopt;
}

std::string hint_disagreement(const Hint& hint, uint64_t file_size, uint64_t index_offset,
                              const std::vector<uint16_t>& ids,
                              const std::function<const TrackSummary*(size_t slot)>& actual,
                              const char* against) {
  if (hint.file_size != file_size)
    return "says the file is " + std::to_string(hint.file_size) + " bytes, it is " +
           std::to_string(file_size);
  if (hint.index_offset != index_offset)
    return "says the index starts at " + std::to_string(hint.index_offset) + ", TAIL says " +
           std::to_string(index_offset);
  for (size_t i = 0; i < ids.size() && i < hint.tracks.size(); ++i) {
    const TrackSummary* a = actual(i);
    if (!a || !(*a == hint.tracks[i]))
      return "has a summary of track " + std::to_string(ids[i]) + " that does not match " + against;
  }
  return "";
}

std::string implausible_hint(const Hint& h, const std::vector<uint16_t>& ids) {
  if (h.index_offset >= h.file_size)
    return "index offset " + std::to_string(h.index_offset) + " is past the file's end";
  for (size_t i = 0; i < h.tracks.size() && i < ids.size(); ++i) {
    const TrackSummary& t = h.tracks[i];
    // Every block takes at least a byte (§5.3); timestamps stay within §5.5's bounds.
    const int64_t bound = 2 * kMaxTimestamp;
    if (t.block_count > h.file_size || t.start_pts > t.end_pts || t.start_pts < -bound ||
        t.end_pts > bound || (t.block_count == 0 && (t.start_pts || t.end_pts)))
      return "track " + std::to_string(ids[i]) + "'s summary (" + std::to_string(t.block_count) +
             " blocks, pts " + std::to_string(t.start_pts) + ".." + std::to_string(t.end_pts) +
             ") cannot describe a file of " + std::to_string(h.file_size) + " bytes";
  }
  return "";
}

}  // namespace h4mk::detail
