#!/usr/bin/env bash
# Builds FFmpeg with the h4mk patch series (ffmpeg_patches/series) against
# libh4mk, and installs it into the build tree: the full build (what users
# run) into build/ffmpeg-VERSION/install, the lean one (CI's) into
# build/ffmpeg-VERSION-lean/install. Both have ffplay.
#
# The FFmpeg release tarball is pinned by SHA-256 and taken, in order, from:
#   --tarball PATH (or $FFMPEG_TARBALL), the local cache (build/ffmpeg-cache),
#   the system's Debian source packages (apt-get source, with deb-src entries
#   derived from the machine's own apt sources, in a private apt state), or
#   --url URL (or $FFMPEG_URL) when the machine can reach one.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")" && pwd)
VERSION=9.0.2
LEAN=0
JOBS=$(nproc 2>/dev/null || echo 2)
TARBALL=${FFMPEG_TARBALL:-}
URL=${FFMPEG_URL:-}
BUILD_DIR=

usage() {
  cat <<EOF
Usage: $(basename "$0") [options]

Builds and installs libh4mk, then FFmpeg with --enable-libh4mk and the patch
series in ffmpeg_patches/, into build/ffmpeg-VERSION/install: FFmpeg's default
component set with the codec libraries Debian ships (see EXTERNAL below), and
ffplay. --lean builds only what the tests use (with ffplay), into
build/ffmpeg-VERSION-lean/install.

Options:
  --ffmpeg-version V   9.0.2 (default) or 8.1.2
  --tarball PATH       use this release tarball (also: FFMPEG_TARBALL)
  --url URL            download the tarball from URL if nothing else has it
                       (also: FFMPEG_URL)
  --lean               only the components the tests use (CI's build)
  --jobs N             parallel make jobs (default: $JOBS)
  --build-dir DIR      where to build (default: build/ffmpeg-VERSION)
  -h, --help           this text

The tarball's SHA-256 is always checked; a mismatch is an error. Re-running
with nothing changed does no work; a changed patch or option rebuilds.
EOF
}

die() { echo "build_ffmpeg: error: $*" >&2; exit 1; }
say() { echo "build_ffmpeg: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --ffmpeg-version) VERSION=${2:?}; shift 2 ;;
    --tarball) TARBALL=${2:?}; shift 2 ;;
    --url) URL=${2:?}; shift 2 ;;
    --lean) LEAN=1; shift ;;
    --full) LEAN=0; shift ;;
    --jobs) JOBS=${2:?}; shift 2 ;;
    --build-dir) BUILD_DIR=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown option: $1" ;;
  esac
done

case "$VERSION" in
  9.0.2) SHA256=8c3850283eb25fa026482078a04051e0be17347b09ef81a0849bec15a96e002e ;;
  8.1.2) SHA256=464beb5e7bf0c311e68b45ae2f04e9cc2af88851abb4082231742a74d97b524c ;;
  *) die "unsupported FFmpeg version $VERSION (9.0.2 or 8.1.2)" ;;
esac

variant=; [ "$LEAN" -eq 0 ] || variant=-lean
BUILD_DIR=${BUILD_DIR:-$ROOT/build/ffmpeg-$VERSION$variant}
CACHE=$ROOT/build/ffmpeg-cache
CACHED=$CACHE/ffmpeg-$VERSION.tar.xz
PREFIX=$ROOT/build/prefix          # libh4mk
INSTALL=$BUILD_DIR/install         # FFmpeg
mkdir -p "$CACHE" "$BUILD_DIR"

# ------------------------------------------------------------ dependencies
# FFmpeg's, and the project's own (the libh4mk step configures the whole tree).
ffmpeg_deps=(nasm pkgconf make gcc xz-utils git cmake ninja-build g++
             libssl-dev libdeflate-dev zlib1g-dev libzstd-dev nlohmann-json3-dev libcli11-dev
             libgtest-dev libbenchmark-dev libsdl2-dev)
# The full build's codec and filter libraries, all from Debian:
#   dav1d (AV1 decoding, faster than FFmpeg's own), aom and SVT-AV1 (AV1
#   encoding), x264 and x265 (H.264/HEVC encoding; they make the build GPL),
#   vpx (VP8/VP9 encoding), opus and vorbis (FFmpeg's own encoders for them
#   are experimental or weak), lame (MP3 encoding), webp; libass with
#   freetype, fribidi, harfbuzz and fontconfig (subtitles burnt in, drawtext);
#   zimg (zscale: HDR and colour-space conversion), soxr (resampling);
#   gnutls (https, as Debian's ffmpeg does) and libxml2 (DASH manifests).
# Left out: hardware APIs (they need the machine's drivers), and libraries
# whose formats FFmpeg decodes itself well.
EXTERNAL=(libdav1d libaom libsvtav1 libx264 libx265 libvpx libopus libvorbis libmp3lame
          libwebp libass libfreetype libfribidi libharfbuzz libfontconfig libzimg libsoxr
          gnutls libxml2)
external_deps=(libdav1d-dev libaom-dev libsvtav1enc-dev libx264-dev libx265-dev libvpx-dev
               libopus-dev libvorbis-dev libmp3lame-dev libwebp-dev libass-dev libfreetype-dev
               libfribidi-dev libharfbuzz-dev libfontconfig-dev libzimg-dev libsoxr-dev
               libgnutls28-dev libxml2-dev)
[ "$LEAN" -eq 1 ] || ffmpeg_deps+=("${external_deps[@]}")
missing=()
for p in "${ffmpeg_deps[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  fi
fi

# ------------------------------------------------------------ the tarball
verified() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status; }

# deb-src entries for Debian unstable (where FFmpeg 9.0.2 and 8.1.2 are),
# derived from the Debian archive this machine already uses. Written to a
# private apt directory: the system's apt configuration is left as it is.
debian_source_entries() {
  local out=$1 codename uri="" keyring=""
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822 stanzas: take the one that serves this release's main suite.
    eval "$(awk -v rel="$codename" '
      BEGIN { RS=""; FS="\n" }
      {
        types=""; uris=""; suites=""; key=""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/)     { types = $i }
          if ($i ~ /^URIs:/)      { split($i, a, " "); uris = a[2] }
          if ($i ~ /^Suites:/)    { suites = $i }
          if ($i ~ /^Signed-By:/) { split($i, k, " "); key = k[2] }
        }
        if (types ~ /deb/ && (rel == "" || suites ~ ("[ ]" rel "([ ]|$)"))) {
          printf "uri=%s; keyring=%s\n", uris, key; exit
        }
      }' "$f")"
    [ -n "$uri" ] && break
  done
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $2 !~ /^\[/ { print $2; exit } $1 == "deb" && $2 ~ /^\[/ { print $3; exit }' /etc/apt/sources.list)
  fi
  [ -n "$uri" ] || return 1
  {
    echo "Types: deb-src"
    echo "URIs: $uri"
    echo "Suites: unstable"
    echo "Components: main"
    [ -n "$keyring" ] && echo "Signed-By: $keyring"
  } >"$out"
}

fetch_from_debian() {
  command -v apt-get >/dev/null || return 1
  local apt=$BUILD_DIR/apt
  mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/download"
  debian_source_entries "$apt/parts/h4mk-deb-src.sources" || { say "no Debian archive in the apt sources"; return 1; }
  local aptopts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts"
                 -o "Dir::State::Lists=$apt/lists" -o APT::Sandbox::User=root)
  say "looking for ffmpeg $VERSION in Debian's source packages"
  apt-get "${aptopts[@]}" -qq update || { say "apt-get update of the source index failed"; return 1; }
  local debver
  debver=$(apt-cache "${aptopts[@]}" showsrc ffmpeg 2>/dev/null |
           awk -v v="$VERSION" '$1 == "Version:" && index($2, ":" v "-") { print $2; exit }')
  [ -n "$debver" ] || { say "Debian has no ffmpeg $VERSION source package"; return 1; }
  # The packaging tarball may be missing (404) while the orig tarball is
  # there, so apt-get's exit code says little: look for the verified file.
  (cd "$apt/download" && apt-get "${aptopts[@]}" -qq source --download-only "ffmpeg=$debver" >/dev/null 2>&1) || true
  local orig=$apt/download/ffmpeg_$VERSION.orig.tar.xz
  verified "$orig" || { say "the ffmpeg $debver orig tarball did not arrive intact"; return 1; }
  cp "$orig" "$CACHED"
}

if [ -n "$TARBALL" ]; then
  [ -f "$TARBALL" ] || die "no such tarball: $TARBALL"
  verified "$TARBALL" || die "SHA-256 of $TARBALL is $(sha256sum "$TARBALL" | cut -d' ' -f1), expected $SHA256 for FFmpeg $VERSION"
  [ "$TARBALL" -ef "$CACHED" ] || cp "$TARBALL" "$CACHED"
elif verified "$CACHED"; then
  say "using the cached ffmpeg-$VERSION.tar.xz"
elif fetch_from_debian; then
  say "got ffmpeg $VERSION from Debian's source packages"
elif [ -n "$URL" ]; then
  say "downloading $URL"
  curl -fsSL -o "$CACHED.part" "$URL" || die "download failed: $URL"
  mv "$CACHED.part" "$CACHED"
  verified "$CACHED" || { rm -f "$CACHED"; die "SHA-256 of the download does not match FFmpeg $VERSION"; }
else
  die "no FFmpeg $VERSION tarball: give --tarball PATH or --url URL"
fi
verified "$CACHED" || die "SHA-256 of $CACHED does not match FFmpeg $VERSION"

# ------------------------------------------------------------ libh4mk
say "building libh4mk"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# The install prefix is where the adapter runtime looks for plugins by name
# (compiled in), so it is the prefix the library is installed to.
cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" "${launcher[@]}" >/dev/null
cmake --build "$ROOT/build" --target h4mk_shared h4mk_static h4mk_adapters_shared \
  h4mk_adapters_static h4mk h4mk_adapter_null >/dev/null
cmake --install "$ROOT/build" --prefix "$PREFIX" >/dev/null
PCDIR=$(dirname "$(find "$PREFIX" -name h4mk.pc | head -n 1)")
LIBDIR=$(dirname "$(find "$PREFIX" -name 'libh4mk.so' | head -n 1)")

# ------------------------------------------------------------ configure args
lean=(
  --disable-everything
  --enable-protocol=file,pipe,fd,http,tcp
  --enable-demuxer=h4mk,wav,matroska,mov,nut,ogg,flac,rawvideo,mpegts,srt
  --enable-muxer=h4mk,wav,matroska,mov,mp4,nut,ogg,flac,rawvideo,mpegts,framecrc,framemd5,md5,null
  --enable-decoder=pcm_s16le,pcm_f32le,flac,opus,vorbis,aac,mpeg4,ffv1,rawvideo,wrapped_avframe,png,h4core_audio,h4core_video
  --enable-encoder=pcm_s16le,pcm_f32le,flac,opus,vorbis,aac,mpeg4,ffv1,rawvideo,wrapped_avframe,h4core
  --enable-parser=flac,opus,vorbis,aac,mpeg4video
  --enable-bsf=h4mask,aac_adtstoasc
  --enable-indev=lavfi
  --enable-filter=sine,aevalsrc,testsrc,aresample,scale,format,aformat,null,anull,setpts,asetpts,trim,atrim
)
# ffplay needs SDL2; asked for explicitly so that configure fails without it.
args=(--prefix="$INSTALL" --enable-libh4mk --disable-doc --disable-debug
      --enable-ffplay --enable-sdl2 --extra-ldflags="-Wl,-rpath,$LIBDIR")
# ccache, where installed, makes rebuilding after a patch edit cheap.
command -v ccache >/dev/null && args+=(--cc="ccache gcc" --cxx="ccache g++")
full=(--enable-gpl)
for lib in "${EXTERNAL[@]}"; do full+=(--enable-"$lib"); done
if [ "$LEAN" -eq 1 ]; then args+=("${lean[@]}"); else args+=("${full[@]}"); fi

# ------------------------------------------------------------ up to date?
# The series (ffmpeg_patches/series), with this release's own patches.
mapfile -t patches < <("$ROOT/scripts/ffmpeg-series.sh" list "$VERSION")
[ ${#patches[@]} -gt 0 ] || die "no patches in ffmpeg_patches/series"
for p in "${patches[@]}"; do [ -e "$p" ] || die "missing patch: $p"; done
fingerprint=$( {
  echo "$SHA256"
  printf '%s\n' "${args[@]}"
  cat "${patches[@]}"
  cat "$PREFIX"/include/h4mk/*.h
} | sha256sum | cut -d' ' -f1)
SRC=$BUILD_DIR/src
OBJ=$BUILD_DIR/obj
if [ -f "$BUILD_DIR/.stamp" ] && [ "$(cat "$BUILD_DIR/.stamp")" = "$fingerprint" ] && [ -f "$SRC/.git/h4mk-source" ] &&
   [ -x "$INSTALL/bin/ffmpeg" ] && [ -x "$INSTALL/bin/ffprobe" ] && [ -x "$INSTALL/bin/ffplay" ]; then
  say "FFmpeg $VERSION is up to date in $INSTALL"
  exit 0
fi

# ------------------------------------------------------------ source + patches
# A git tree with one commit per patch (scripts/ffmpeg-series.sh unpack), so
# that `scripts/ffmpeg-series.sh prefixes` can build each prefix here.
source_stamp=$( { echo "$SHA256"; cat "${patches[@]}"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$SRC/.git/h4mk-source" ] || [ "$(cat "$SRC/.git/h4mk-source")" != "$source_stamp" ]; then
  say "unpacking FFmpeg $VERSION and applying ${#patches[@]} patches"
  rm -rf "$SRC" "$OBJ"
  "$ROOT/scripts/ffmpeg-series.sh" unpack "$SRC" "$VERSION" >/dev/null ||
    die "the patch series does not apply to FFmpeg $VERSION"
  echo "$source_stamp" >"$SRC/.git/h4mk-source"
fi

# ------------------------------------------------------------ build
mkdir -p "$OBJ"
config_stamp=$( { printf '%s\n' "${args[@]}"; echo "$source_stamp"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$OBJ/.h4mk-config" ] || [ "$(cat "$OBJ/.h4mk-config")" != "$config_stamp" ]; then
  say "configuring ($( [ "$LEAN" -eq 1 ] && echo lean || echo full ) component set)"
  (cd "$OBJ" && PKG_CONFIG_PATH="$PCDIR" "$SRC/configure" "${args[@]}" >configure.log 2>&1) ||
    { tail -n 30 "$OBJ/configure.log" "$OBJ/ffbuild/config.log" 2>/dev/null; die "configure failed (see $OBJ/configure.log)"; }
  echo "$config_stamp" >"$OBJ/.h4mk-config"
  # For scripts/ffmpeg-series.sh prefixes: the same arguments, so that only
  # what a patch changes is rebuilt.
  printf '%s\0' "${args[@]}" >"$OBJ/.h4mk-configure-args"
  echo "$PCDIR" >"$OBJ/.h4mk-pkg-config-path"
fi
say "building with $JOBS jobs"
(cd "$OBJ" && make -j"$JOBS" >make.log 2>&1 && make install >>make.log 2>&1) ||
  { tail -n 40 "$OBJ/make.log"; die "build failed (see $OBJ/make.log)"; }
# Test programs built against the tree (libavformat/tests/seek, tools/probetest).
(cd "$OBJ" && make -j"$JOBS" libavformat/tests/seek tools/probetest >>make.log 2>&1) ||
  { tail -n 20 "$OBJ/make.log"; die "building the test programs failed"; }
echo "$fingerprint" >"$BUILD_DIR/.stamp"
say "installed FFmpeg $VERSION with h4mk in $INSTALL"
"$INSTALL/bin/ffmpeg" -hide_banner -formats 2>/dev/null | grep -E '^ *DE? +h4mk|^ *D?E +h4mk' || true
