#!/usr/bin/env bash
# The FFmpeg patch series as a git tree, and back.
#
#   scripts/ffmpeg-series.sh unpack DIR [VERSION]
#       DIR becomes a git repository: the pinned release (tag "base"), then
#       one commit per patch of ffmpeg_patches/, then the release's own
#       patches (ffmpeg_patches/VERSION/), which stay the last commits.
#   scripts/ffmpeg-series.sh export DIR
#       Writes the commits from base up to the release's own patches back to
#       ffmpeg_patches/*.patch (the release's own patches are left as they are).
#
# Edit the files in DIR, commit each fix as `git commit --fixup=<commit of
# the patch it belongs to>`, fold them in with
#   GIT_SEQUENCE_EDITOR=: git -C DIR rebase -i --autosquash base
# then export.
# VERSION defaults to 9.0.2; the tarball comes from build/ffmpeg-cache
# (build_ffmpeg.sh fetches and verifies it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
die() { echo "ffmpeg-series: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: $0 unpack DIR [VERSION] | export DIR"
cmd=$1 dir=$2 version=${3:-9.0.2}
git_q() { git -C "$dir" -c user.name=h4mk-developers -c user.email=dev@h4mk.invalid "$@"; }

case $cmd in
  unpack)
    tarball=$root/build/ffmpeg-cache/ffmpeg-$version.tar.xz
    [ -f "$tarball" ] || die "no $tarball: run ./build_ffmpeg.sh --ffmpeg-version $version first"
    [ ! -e "$dir" ] || die "$dir exists"
    mkdir -p "$dir"
    tar -xJf "$tarball" -C "$dir" --strip-components=1
    git_q init -q
    git_q add -A
    git_q commit -q -m "FFmpeg $version"
    git_q tag base
    git_q am -q --committer-date-is-author-date "$root"/ffmpeg_patches/*.patch
    git_q am -q --committer-date-is-author-date "$root"/ffmpeg_patches/"$version"/*.patch
    ls "$root"/ffmpeg_patches/"$version"/*.patch | wc -l >"$dir/.git/h4mk-release-patches"
    echo "ffmpeg-series: $dir holds FFmpeg $version with the series applied"
    ;;
  export)
    [ -f "$dir/.git/h4mk-release-patches" ] || die "$dir was not made by '$0 unpack'"
    common=HEAD~$(cat "$dir/.git/h4mk-release-patches")
    rm -f "$root"/ffmpeg_patches/*.patch
    git -C "$dir" format-patch -q --no-signature --zero-commit -N -o "$root/ffmpeg_patches" "base..$common"
    echo "ffmpeg-series: wrote $(git -C "$dir" rev-list --count "base..$common") patches to ffmpeg_patches/"
    ;;
  *) die "unknown command $cmd" ;;
esac
