#!/usr/bin/env bash
# `make checkheaders` and the series' headers: with libh4mk, each compiles on
# its own; without it (configure's CONFIG_LIBH4MK empty), checkheaders skips
# them, since they include libh4mk's.
# Usage: checkheaders_test.sh FFMPEG_OBJ_DIR
set -euo pipefail
obj=$1
headers=(libavcodec/h4mk.h libavformat/h4mk.h)
fail() { echo "FAIL: $*" >&2; exit 1; }
for h in "${headers[@]}"; do rm -f "$obj/$h.o"; done
listed() { make -C "$obj" -n checkheaders "$@" | grep -c 'h4mk\.h' || true; }
[ "$(listed)" -gt 0 ] || fail "checkheaders with libh4mk skips the h4mk headers"
[ "$(listed CONFIG_LIBH4MK=)" -eq 0 ] || fail "checkheaders without libh4mk builds the h4mk headers"
make -C "$obj" -s "${headers[@]/%/.o}"
echo "checkheaders: ${headers[*]} compile on their own with libh4mk, and are skipped without it"
