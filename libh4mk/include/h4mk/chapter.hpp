// A chapter as stored in the CHAP chunk (docs/FORMAT.md §7.1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "h4mk/export.h"
#include "h4mk/track.hpp"

H4MK_CXX_API_BEGIN
namespace h4mk {

struct Chapter {
  Rational time_base{1, 1000};  // both > 0 and <= INT32_MAX
  int64_t start = 0;            // in time_base ticks
  std::optional<int64_t> end;   // >= start; absent: unknown (until the next chapter)
  std::optional<int64_t> id;    // the source's chapter id, kept for a remux
  std::string title;            // "" = none
  std::map<std::string, std::string> tags;

  friend bool operator==(const Chapter&, const Chapter&) = default;
};

}  // namespace h4mk
H4MK_CXX_API_END
