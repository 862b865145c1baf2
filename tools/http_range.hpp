// The Range header of a GET (RFC 9110 §14): one byte range, or none.
#pragma once

#include <cstdint>
#include <string>

namespace h4mk::cli {

struct RangeRequest {
  enum Kind {
    kWhole,          // no Range header, several ranges, or another unit: send everything
    kPart,           // send [first, last]
    kUnsatisfiable,  // 416, also for a malformed bytes= range
  } kind = kWhole;
  uint64_t first = 0, last = 0;  // inclusive
};

// header: the Range value ("" when absent); size: the representation's length.
RangeRequest parse_range(const std::string& header, uint64_t size);

}  // namespace h4mk::cli
