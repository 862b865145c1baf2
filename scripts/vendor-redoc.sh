#!/usr/bin/env bash
# Vendors Redoc's standalone bundle (the /docs renderer of h4mk serve) from
# the npm registry: a pinned version, checked against its pinned SHA-512
# before anything is unpacked. Usage: scripts/vendor-redoc.sh OUT.js
# An already vendored tarball can be given with H4MK_REDOC_TARBALL (offline).
set -euo pipefail
out=$1
version=2.5.4
integrity=sha512-M6jWhG1qoBnH6TFmzJnstyCZ87HmOY/UzDm78mHiYihEdlV/YcS9ogOo1NlElnJMeLsyxHFe2yFc4sNjHTrABQ==
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tarball=${H4MK_REDOC_TARBALL:-}
if [ -z "$tarball" ]; then
  command -v npm >/dev/null ||
    { echo "vendor-redoc: npm is needed to fetch redoc@$version (or set H4MK_REDOC_TARBALL)" >&2; exit 1; }
  (cd "$work" && npm pack "redoc@$version" --silent >/dev/null 2>"$work/npm.log") ||
    { cat "$work/npm.log" >&2; echo "vendor-redoc: npm pack redoc@$version failed" >&2; exit 1; }
  tarball="$work/redoc-$version.tgz"
fi
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[ "$got" = "$integrity" ] ||
  { echo "vendor-redoc: $tarball is not redoc@$version (sha512 $got)" >&2; exit 1; }
tar -xzf "$tarball" -C "$work" package/bundles/redoc.standalone.js package/LICENSE
mkdir -p "$(dirname "$out")"
cp "$work/package/bundles/redoc.standalone.js" "$out"
cp "$work/package/LICENSE" "$(dirname "$out")/redoc.LICENSE"
