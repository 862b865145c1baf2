#!/usr/bin/env bash
# The full FFmpeg build (./build_ffmpeg.sh, what users run): video made by
# Debian's x264, x265, SVT-AV1 and vpx with audio made by lame, libopus,
# vorbis and FFmpeg's AAC, each remuxed from matroska into h4mk, must decode
# to the same pictures as from matroska and to at least the 2 s of audio put
# in (and no more than matroska's: h4mk drops an encoder's padding where the
# packet durations show it), and ffplay (SDL's dummy drivers) must play the
# h4mk file to its end.
# Usage: full_build_test.sh INSTALL_DIR WORK_DIR
set -euo pipefail
bin=$(cd "$1/bin" && pwd)
work=$2/full-build
rm -rf "$work" && mkdir -p "$work" && cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
ff() { "$bin/ffmpeg" -nostdin -hide_banner -v error -y "$@"; }
pictures() { "$bin/ffmpeg" -nostdin -v error -i "$1" -map 0:v -f framemd5 - | grep -v '^#' | md5sum; }
seconds() {  # of decoded audio, from the bytes of mono s16
  local rate bytes
  rate=$("$bin/ffprobe" -v error -select_streams a -show_entries stream=sample_rate -of csv=p=0 "$1")
  bytes=$("$bin/ffmpeg" -nostdin -v error -i "$1" -map 0:a -ac 1 -f s16le - | wc -c)
  awk -v r="$rate" -v b="$bytes" 'BEGIN { printf "%.5f", b / 2 / r }'
}

for codecs in "libx264 libmp3lame" "libx265 libopus" "libsvtav1 libvorbis" "libvpx-vp9 aac"; do
  set -- $codecs
  name=$1
  ff -f lavfi -i testsrc=duration=2:size=320x240:rate=25 -f lavfi -i sine=duration=2 \
    -c:v "$1" -c:a "$2" "$name.mkv"
  ff -i "$name.mkv" -map 0 -c copy "$name.h4mk"
  [ "$(pictures "$name.h4mk")" = "$(pictures "$name.mkv")" ] || fail "$name: pictures differ from matroska's"
  audio=$(seconds "$name.h4mk") mkv_audio=$(seconds "$name.mkv")
  awk -v a="$audio" -v m="$mkv_audio" 'BEGIN { exit !(a >= 2 && a <= m) }' ||
    fail "$2: $audio s of audio decoded (put in: 2 s; from matroska: $mkv_audio s)"
  frames=$("$bin/ffmpeg" -nostdin -v error -i "$name.h4mk" -map 0:v -f framecrc - | grep -vc '^#')
  [ "$frames" -eq 50 ] || fail "$name: $frames video frames, want 50"
  clock=$(SDL_AUDIODRIVER=dummy SDL_VIDEODRIVER=dummy "$bin/ffplay" -hide_banner -autoexit \
          -loglevel info "$name.h4mk" 2>&1 | tr '\r' '\n' | awk '$2 == "A-V:" { t = $1 } END { print t }')
  awk -v t="$clock" 'BEGIN { exit !(t > 1.7 && t < 2.3) }' || fail "$name: ffplay stopped at ${clock:-nothing}"
  echo "$name + $2: 50 pictures as from matroska, audio $audio s (matroska $mkv_audio s); ffplay played to $clock s"
done
