// libh4mk-adapters C++ API, all of it: adapter plugins, the decode chain,
// decode_range and the tokenizers.
#pragma once

#include "h4mk/adapter.hpp"
#include "h4mk/chain_decoder.hpp"
#include "h4mk/decode.hpp"
#include "h4mk/h4mk.hpp"
#include "h4mk/transport.hpp"
