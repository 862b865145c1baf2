// copy_header(): what a rewrite keeps of a file besides its tracks and blocks.
#include "h4mk/reader.hpp"
#include "h4mk/writer.hpp"

namespace h4mk {

void copy_header(const Reader& from, Writer& to) {
  if (!from.metadata_json().empty()) to.set_metadata_json(from.metadata_json());
  if (!from.safe_json().empty()) to.set_safe_json(from.safe_json());
  if (!from.note().empty()) to.set_note(from.note());
  for (const Chapter& c : from.chapters()) to.add_chapter(c);
  for (const Attachment& a : from.attachments()) to.add_attachment(a);
}

}  // namespace h4mk
