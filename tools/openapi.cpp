#include "openapi.hpp"

// Both files are assembled in whole (.incbin), so the binary is the only thing
// a user installs; the paths come from CMake, which rebuilds on a change.
#define H4MK_EMBED(symbol, path)                                                         \
  asm(".section .rodata\n.balign 16\n.global " #symbol "\n" #symbol ":\n.incbin \"" path \
      "\"\n.global " #symbol "_end\n" #symbol "_end:\n.byte 0\n.previous")

H4MK_EMBED(h4mk_openapi_json, H4MK_OPENAPI_JSON);
H4MK_EMBED(h4mk_redoc_js, H4MK_REDOC_JS);

extern "C" const char h4mk_openapi_json[], h4mk_openapi_json_end[];
extern "C" const char h4mk_redoc_js[], h4mk_redoc_js_end[];

namespace h4mk::cli {

std::string_view openapi_document() {
  return {h4mk_openapi_json, static_cast<size_t>(h4mk_openapi_json_end - h4mk_openapi_json)};
}

std::string_view docs_renderer() {
  return {h4mk_redoc_js, static_cast<size_t>(h4mk_redoc_js_end - h4mk_redoc_js)};
}

std::string_view docs_page() {
  return R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>h4mk serve: HTTP API</title>
<style>body { margin: 0; padding: 0; }</style>
</head>
<body>
<redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
<script src="/docs/redoc.standalone.js"></script>
</body>
</html>
)";
}

}  // namespace h4mk::cli
