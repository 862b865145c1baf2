// The HTTP API's own description, built into `h4mk serve`: the OpenAPI 3
// document (docs/openapi.json) and a page that renders it with Redoc, whose
// bundle is vendored from the npm registry at build time (scripts/vendor-redoc.sh).
#pragma once

#include <string_view>

namespace h4mk::cli {

std::string_view openapi_document();
std::string_view docs_page();
std::string_view docs_renderer();

}  // namespace h4mk::cli
