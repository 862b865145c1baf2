#!/usr/bin/env bash
# The FFmpeg patch series (ffmpeg_patches/series) as a git tree, and back.
#
#   scripts/ffmpeg-series.sh list [VERSION]
#       The series' patch files for VERSION, in order.
#   scripts/ffmpeg-series.sh unpack DIR [VERSION]
#       DIR becomes a git repository: the pinned release (tag "base"), then
#       one commit per patch of the series, release-specific ones included.
#   scripts/ffmpeg-series.sh export DIR
#       Writes each commit from base on back to the series entry it came
#       from (one commit per entry; add a new patch to the series first).
#   scripts/ffmpeg-series.sh port VERSION [--check]
#       Writes VERSION's copies of the @PORTED@ patches from the primary
#       release's (below); --check only compares them with the ones in
#       ffmpeg_patches/VERSION and fails when they differ.
#   scripts/ffmpeg-series.sh prefixes [VERSION [--quick] [--full]]
#       Builds every prefix of the series (patch 1 alone, 1-2, ...) in the
#       tree and build directory of ./build_ffmpeg.sh --ffmpeg-version
#       VERSION --lean (or, with --full, of the full build), which must have
#       run; then the whole series again. --quick (CI) only configures
#       patch 1 alone, which would rebuild everything.
#
# ffmpeg_patches/series names one patch per line, in order; "@VERSION@/"
# stands for the release's directory (the patches whose context differs
# between releases), and so does "@PORTED@/" for the patches whose only
# release-specific lines are their version bump and Changelog entries: each
# component's patch carries its own, as upstream's do. Those are written for
# the primary release and ported to the others (`port`: the patch applied
# with one line of context, its bump and entries made on that release's
# lines by scripts/ffmpeg_port.py). Edit the files in DIR, commit each fix as
# `git commit --fixup=<commit of the patch it belongs to>`, fold them in with
#   GIT_SEQUENCE_EDITOR=: git -C DIR rebase -i --autosquash base
# then export, and port to the other release. Common patches are written
# against 9.0.2 and exported from a 9.0.2 tree; they apply to 8.1.2 with
# one line of context required (git am -C1), which every build of 8.1.2
# checks.
# VERSION defaults to 9.0.2; the tarball comes from build/ffmpeg-cache
# (build_ffmpeg.sh fetches and verifies it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "ffmpeg-series: $*" >&2; exit 1; }
primary=9.0.2  # the release the common patches are written against
git_q() { git -C "$dir" -c user.name=h4mk-developers -c user.email=dev@h4mk.invalid "$@"; }

# The series entries, with their placeholders.
raw_entries() {
  sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$root/ffmpeg_patches/series"
}
# The series entries for a release, as paths relative to ffmpeg_patches/.
entries() {
  raw_entries | sed -e "s|@VERSION@|$1|" -e "s|@PORTED@|$1|"
}

# DIR as a git repository of release $1, tagged base.
unpack_base() {
  local version=$1 tarball=$root/build/ffmpeg-cache/ffmpeg-$1.tar.xz
  [ -f "$tarball" ] || die "no $tarball: run ./build_ffmpeg.sh --ffmpeg-version $version first"
  [ ! -e "$dir" ] || die "$dir exists"
  mkdir -p "$dir"
  tar -xJf "$tarball" -C "$dir" --strip-components=1
  git_q init -q
  git_q add -A
  git_q commit -q -m "FFmpeg $version"
  git_q tag base
}

unpack() {
  local version=$1
  unpack_base "$version"
  entries "$version" >"$dir/.git/h4mk-series"
  echo "$version" >"$dir/.git/h4mk-version"
  while read -r p; do
    git_q am -q -C1 --committer-date-is-author-date "$root/ffmpeg_patches/$p" ||
      die "$p does not apply to FFmpeg $version"
  done <"$dir/.git/h4mk-series"
  echo "ffmpeg-series: $dir holds FFmpeg $version with the series applied"
}

[ $# -ge 1 ] || die "usage: $0 list [VERSION] | unpack DIR [VERSION] | export DIR | port VERSION [--check] | prefixes [VERSION]"
cmd=$1
case $cmd in
  list)
    entries "${2:-9.0.2}" | sed "s|^|$root/ffmpeg_patches/|"
    ;;
  unpack)
    [ $# -ge 2 ] || die "usage: $0 unpack DIR [VERSION]"
    dir=$2
    unpack "${3:-9.0.2}"
    ;;
  export)
    [ $# -ge 2 ] || die "usage: $0 export DIR"
    dir=$2
    [ -f "$dir/.git/h4mk-series" ] || die "$dir was not made by '$0 unpack'"
    mapfile -t names <"$dir/.git/h4mk-series"
    mapfile -t raw < <(raw_entries)
    [ ${#raw[@]} -eq ${#names[@]} ] || die "ffmpeg_patches/series changed since $dir was unpacked"
    mapfile -t commits < <(git -C "$dir" rev-list --reverse base..HEAD)
    [ ${#commits[@]} -eq ${#names[@]} ] ||
      die "$dir has ${#commits[@]} commits on base, the series ${#names[@]} entries: fold fixes in, or add the new patch to ffmpeg_patches/series"
    version=$(cat "$dir/.git/h4mk-version")
    written=0
    for i in "${!commits[@]}"; do
      # Common patches are written from a tree of the primary release only:
      # on another, their line numbers and blob ids would be that release's.
      # Ported ones, only from there: the others' copies are made by `port`.
      case ${names[$i]} in
        "$version"/*) [ "$version" = "$primary" ] || [ "${raw[$i]#@PORTED@/}" = "${raw[$i]}" ] || continue ;;
        *) [ "$version" = "$primary" ] || continue ;;
      esac
      git -C "$dir" format-patch -q --no-signature --zero-commit -1 --stdout "${commits[$i]}" \
        >"$root/ffmpeg_patches/${names[$i]}"
      written=$((written + 1))
    done
    echo "ffmpeg-series: wrote $written patches"
    if [ "$version" = "$primary" ] && raw_entries | grep -q '^@PORTED@/'; then
      for d in "$root"/ffmpeg_patches/*/; do
        d=$(basename "$d")
        [ "$d" = "$primary" ] || echo "ffmpeg-series: now port the @PORTED@ ones: $0 port $d"
      done
    fi
    [ "$version" = "$primary" ] ||
      echo "ffmpeg-series: common and @PORTED@ patches are exported from a $primary tree (then ported); this one's were left as they are"
    ;;
  port)
    [ $# -ge 2 ] || die "usage: $0 port VERSION [--check]"
    version=$2 check=${3:-}
    [ "$version" != "$primary" ] || die "the $primary copies are written by hand; port them to the others"
    [ -z "$check" ] || [ "$check" = --check ] || die "unknown option: $check"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    dir=$work/src
    unpack_base "$version"
    out=$root/ffmpeg_patches/$version
    [ -z "$check" ] || { out=$work/out; mkdir "$out"; }
    ported=()
    mapfile -t raw < <(raw_entries)
    mapfile -t names < <(entries "$version")
    for i in "${!raw[@]}"; do
      if [ "${raw[$i]#@PORTED@/}" = "${raw[$i]}" ]; then
        git_q am -q -C1 --committer-date-is-author-date "$root/ffmpeg_patches/${names[$i]}" 2>"$work/am.log" ||
          { cat "$work/am.log"; die "${names[$i]} does not apply to FFmpeg $version"; }
        continue
      fi
      from=$root/ffmpeg_patches/$primary/${raw[$i]#@PORTED@/}
      git_q am -q -C1 --committer-date-is-author-date --exclude=Changelog \
        --exclude='libav*/version.h' "$from" 2>"$work/am.log" ||
        { cat "$work/am.log"; die "${from#"$root"/} does not apply to FFmpeg $version: make its copy by hand (@VERSION@)"; }
      python3 "$root/scripts/ffmpeg_port.py" "$from" "$dir"
      GIT_COMMITTER_DATE=$(git -C "$dir" log -1 --format=%aD) git_q commit -q -a --amend --no-edit
      git -C "$dir" format-patch -q --no-signature --zero-commit -1 --stdout HEAD \
        >"$out/${raw[$i]#@PORTED@/}"
      ported+=("${raw[$i]#@PORTED@/}")
    done
    if [ -n "$check" ]; then
      for p in "${ported[@]}"; do
        cmp -s "$out/$p" "$root/ffmpeg_patches/$version/$p" ||
          die "ffmpeg_patches/$version/$p is not the port of the $primary copy: run $0 port $version"
      done
      echo "ffmpeg-series: FFmpeg $version's ${#ported[@]} ported patches are those of $primary"
    else
      echo "ffmpeg-series: ported ${#ported[@]} patches to FFmpeg $version"
    fi
    ;;
  prefixes)
    # In build_ffmpeg.sh's tree and build directory: each prefix is checked
    # out, configured with the build's own arguments (again only where a
    # patch changes what configure reads) and built incrementally; the
    # whole series is built again at the end.
    version=${2:-9.0.2} quick=0 variant=-lean
    for opt in "${@:3}"; do
      case "$opt" in --quick) quick=1 ;; --full) variant= ;; *) die "unknown option: $opt" ;; esac
    done
    dir=$root/build/ffmpeg-$version$variant/src
    obj=$root/build/ffmpeg-$version$variant/obj
    [ -f "$dir/.git/h4mk-series" ] && [ -f "$obj/.h4mk-configure-args" ] ||
      die "no FFmpeg $version build in build/ffmpeg-$version$variant: run ./build_ffmpeg.sh --ffmpeg-version $version${variant:+ --lean} first"
    mapfile -d '' -t args <"$obj/.h4mk-configure-args"
    pcdir=$(cat "$obj/.h4mk-pkg-config-path")
    mapfile -t commits < <(git -C "$dir" rev-list --reverse base..HEAD)
    tip=$(git -C "$dir" rev-parse HEAD)
    [ "$(git -C "$dir" rev-parse "${commits[-1]}")" = "$tip" ] || die "$dir is not at its series' tip"
    restore() { git -C "$dir" checkout -q "$tip"; }
    trap restore EXIT
    build() {  # commit, label
      local c=$1 label=$2 start=$SECONDS prev
      prev=$(git -C "$dir" rev-parse HEAD)
      git -C "$dir" checkout -q "$c"
      if [ "$prev" = "$c" ] || ! git -C "$dir" diff --quiet "$prev" "$c" -- configure \
           'libavformat/all*.c' 'libavcodec/all*.c' libavcodec/bitstream_filters.c \
           libavcodec/codec_id.h 'lib*/Makefile' 'lib*/*/Makefile'; then
        (cd "$obj" && PKG_CONFIG_PATH="$pcdir" "$dir/configure" "${args[@]}" >configure.log 2>&1) ||
          { tail -n 20 "$obj/ffbuild/config.log"; die "FFmpeg $version, $label: configure fails"; }
      fi
      (cd "$obj" && make -j"$(nproc)" >make.log 2>&1) ||
        { grep -E 'error|Error' "$obj/make.log" | head -n 20; die "FFmpeg $version, $label: the build fails"; }
      echo "ffmpeg-series: FFmpeg $version, $label: builds ($((SECONDS - start)) s)"
    }
    first=0
    if [ "$quick" -eq 1 ]; then
      # Patch 1 (configure) alone, configured but not built: its sources are
      # the release's own, and checking it out here would rebuild them all
      # (every file includes codec_id.h, which patch 2 changes).
      label="patch 1 ($(git -C "$dir" log -1 --format=%s "${commits[0]}"))"
      tmp=$(mktemp -d)
      git -C "$dir" worktree add -q --detach "$tmp/src" "${commits[0]}"
      mkdir "$tmp/obj"
      (cd "$tmp/obj" && PKG_CONFIG_PATH="$pcdir" "$tmp/src/configure" "${args[@]}" >configure.log 2>&1 &&
         grep -q '^#define CONFIG_LIBH4MK 1' config.h) ||
        { tail -n 20 "$tmp/obj/ffbuild/config.log"; die "FFmpeg $version, $label: configure fails"; }
      git -C "$dir" worktree remove --force "$tmp/src"
      rm -rf "$tmp"
      echo "ffmpeg-series: FFmpeg $version, $label: configures with libh4mk (not built: --quick)"
      first=1
    fi
    for i in "${!commits[@]}"; do
      [ "$i" -ge "$first" ] || continue
      [ "$i" -lt $((${#commits[@]} - 1)) ] || break  # the tip is the build itself
      build "${commits[$i]}" "patches 1-$((i + 1)) ($(git -C "$dir" log -1 --format=%s "${commits[$i]}"))"
    done
    build "$tip" "the whole series again"
    trap - EXIT
    ;;
  *) die "unknown command $cmd" ;;
esac
