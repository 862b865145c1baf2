// The built-in demo stream, shared by examples/h4mk_demo and `h4mk build --demo`.
#pragma once

#include <cstdint>

#include "h4mk/h4mk.hpp"

namespace h4mk::demo {

struct DemoStats {
  uint64_t blocks;
  uint64_t bytes;
};

DemoStats write_demo(Sink& sink);

}  // namespace h4mk::demo
