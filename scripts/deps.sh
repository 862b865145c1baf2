#!/usr/bin/env bash
# Installs (as root) or lists (otherwise) the Debian packages the build needs.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkgconf
  libssl-dev libdeflate-dev zlib1g-dev libzstd-dev zstd nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  nginx-light libcli11-dev openssl espeak-ng time
  libmicrohttpd-dev libsndfile1-dev libcpp-httplib-dev wrk chromium curl libcurl4-openssl-dev
  python3-dev python3-venv python3-pip python3-wheel python3-setuptools python3-pybind11
  python3-numpy python3-pytest python3-fsspec python3-aiohttp python3-requests
  python3-dask python3-distributed mypy valgrind
)

# ISA-L computes CRC-32 on amd64 and arm64, where it has SIMD code (Debian
# builds it for more); elsewhere libh4mk falls back to libdeflate.
case "$(dpkg --print-architecture 2>/dev/null)" in
  amd64|arm64) packages+=(libisal-dev) ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
