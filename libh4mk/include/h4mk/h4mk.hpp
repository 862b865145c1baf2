// libh4mk C++ API, all of it (the adapter runtime: h4mk/adapters.hpp).
#pragma once

#include "h4mk/attachment.hpp"
#include "h4mk/block.hpp"
#include "h4mk/chapter.hpp"
#include "h4mk/error.hpp"
#include "h4mk/gop_flags.hpp"
#include "h4mk/io.hpp"
#include "h4mk/limits.hpp"
#include "h4mk/mask.hpp"
#include "h4mk/reader.hpp"
#include "h4mk/rewrite.hpp"
#include "h4mk/side_data.hpp"
#include "h4mk/signature.hpp"
#include "h4mk/track.hpp"
#include "h4mk/verify.hpp"
#include "h4mk/version.h"
#include "h4mk/writer.hpp"
