// A file attached to the container, as stored in an ATCH chunk
// (docs/FORMAT.md §7.2): a font for subtitles, or a track's cover art.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "h4mk/export.h"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct Attachment {
  std::string filename;     // a bare name: no '/', '\\' or NUL, not "." or ".."
  std::string mimetype;     // "" = unknown
  std::string description;  // "" = none
  uint16_t track = 0;       // 0: none; else the declared track whose picture it is
  std::vector<uint8_t> data;

  friend bool operator==(const Attachment&, const Attachment&) = default;
};

}  // namespace h4mk
H4MK_CXX_API_END
