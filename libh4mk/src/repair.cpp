// repair(): every intact block of a cut or damaged file, rewritten through the
// normal writer so the result is complete and indexed.
#include "h4mk/verify.hpp"
#include "h4mk/writer.hpp"
#include "unknown_chunk_copy.hpp"

namespace h4mk {

RepairReport repair(Source& in, Sink& out, const WriterOptions& options) {
  RepairReport report;
  Reader reader(in);
  Writer writer(out, options);
  for (const Track& t : reader.tracks()) writer.add_track(t);
  copy_header(reader, writer);

  GroupCopier copier(writer);
  detail::UnknownChunkCopy unknown(reader, copier, report.unknown_chunks);
  Block b;
  for (ReadEvent ev; (ev = reader.next(b)) != ReadEvent::kEnd;) {
    if (ev != ReadEvent::kBlock) continue;
    try {
      copier.copy(b);
      ++report.blocks_kept;
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kInvalidArgument) throw;
      ++report.blocks_rejected;
      report.notes.push_back("block at offset " + std::to_string(b.data_offset) +
                             " dropped: " + e.what());
    }
  }
  writer.finish();
  report.damage = reader.damage();
  return report;
}

}  // namespace h4mk
