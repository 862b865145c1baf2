#!/usr/bin/env bash
# Installs the h4mk Python package (python/) into a virtual environment,
# build/python-venv, made from Debian's Python 3 with its system packages
# (numpy, pybind11, pytest come from Debian: nothing is downloaded). The
# package links the static libh4mk that scripts/build.sh installed in
# build/prefix. Afterwards:
#   build/python-venv/bin/python -c "import h4mk"
# To install into another environment instead:
#   pip install --no-build-isolation --no-index ./python
set -euo pipefail
cd "$(dirname "$0")/.."
python=/usr/bin/python3  # Debian's: its numpy and pybind11 are the ones installed
venv=build/python-venv
[ -x "$venv/bin/python" ] || "$python" -m venv --system-site-packages "$venv"
# setuptools relinks only for changed sources, not for a changed libh4mk.a.
rm -rf python/build
H4MK_PREFIX=$PWD/build/prefix "$venv/bin/pip" install --quiet --no-build-isolation --no-index \
  --force-reinstall --no-deps ./python
"$venv/bin/python" -c "import h4mk; print('h4mk', h4mk.library_version, 'in', h4mk.__file__)"
