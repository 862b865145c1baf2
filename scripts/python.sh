#!/usr/bin/env bash
# Installs the h4mk Python package (python/) into a virtual environment,
# build/python-venv, made from Debian's Python 3 with its system packages
# (numpy, pybind11, pytest come from Debian: nothing is downloaded). The
# package links the static libh4mk that scripts/build.sh installed in
# build/prefix. Afterwards:
#   build/python-venv/bin/python -c "import h4mk"
# To install into another environment instead (from a copy, as below, to
# keep setuptools' build/ and egg-info out of the source tree):
#   pip install --no-build-isolation --no-index ./python
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3  # Debian's: its numpy and pybind11 are the ones installed
venv=build/python-venv
[ -x "$venv/bin/python" ] || "$python" -m venv --system-site-packages "$venv"
# Reinstalled only when the package's sources or the libraries it links
# changed; then from scratch, since setuptools relinks only for changed
# sources, not for a changed libh4mk.a.
stamp=$(cat python/setup.py python/pyproject.toml python/h4mk/* python/src/* \
          build/prefix/lib/libh4mk.a build/prefix/lib/libh4mk-adapters.a build/prefix/include/h4mk/* |
        sha256sum | cut -d' ' -f1)
if [ -f "$venv/.h4mk-stamp" ] && [ "$(cat "$venv/.h4mk-stamp")" = "$stamp" ] &&
   "$venv/bin/python" -c "import h4mk" 2>/dev/null; then
  "$venv/bin/python" -c "import h4mk; print('h4mk', h4mk.library_version, 'in', h4mk.__file__, '(up to date)')"
  exit 0
fi
# Built from a copy under build/: setuptools writes its build/ and egg-info
# next to the sources it builds, and the source tree stays as checked out.
src=build/python-src
rm -rf "$src" && mkdir -p "$src"
cp -r python/setup.py python/pyproject.toml python/h4mk python/src "$src"/
H4MK_PREFIX=$PWD/build/prefix "$venv/bin/pip" install --quiet --no-build-isolation --no-index \
  --force-reinstall --no-deps "./$src"
"$venv/bin/python" -c "import h4mk; print('h4mk', h4mk.library_version, 'in', h4mk.__file__)"
echo "$stamp" >"$venv/.h4mk-stamp"
