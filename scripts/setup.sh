#!/usr/bin/env bash
# Sets up what a user needs and runs the main job on built-in examples: builds
# libh4mk, the h4mk command line, the adapters and the full patched FFmpeg
# 9.0.2 (ffmpeg, ffprobe, ffplay) with scripts/build.sh, writes, verifies,
# seeks, cuts and repairs a demo file, remuxes generated audio and video
# through H4MK with ffmpeg, masks, signs, turns speech into dsp tokens and back,
# and runs the Python quick starts. Run again, it rebuilds only what changed.
set -Eeuo pipefail
cd "$(dirname "$0")/.."

step=
fail() {
  echo >&2
  echo "setup: step '$step' failed (exit $1)." >&2
  case "$step" in
    build) echo "setup: the build log above names what failed; FFmpeg's own logs are build/ffmpeg-9.0.2/obj/{configure,make}.log." \
                "Not root? Install the packages scripts/deps.sh lists, then run scripts/setup.sh again: it resumes where it stopped." >&2 ;;
    *) echo "setup: the build is done; this example failed. Its command and error are above;" \
            "scripts/setup.sh runs the examples again without rebuilding." >&2 ;;
  esac
}
trap 'fail $?' ERR
run() { step=$1; shift; "$@"; }

run build scripts/build.sh

out=build/demo
bin=build/ffmpeg-9.0.2/install/bin
h4mk=build/tools/h4mk
mkdir -p "$out"

demo() {
  build/examples/h4mk_demo "$out/demo.h4mk"
}
run "demo (write, verify, seek, cut, repair)" demo

remux() {
  echo
  echo "ffmpeg: generated audio + video -> h4mk -> matroska"
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -f lavfi -i sine=frequency=440:duration=5 \
    -f lavfi -i testsrc=duration=5:size=320x240:rate=25 -c:a flac -c:v mpeg4 -bf 2 "$out/av.mkv"
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -i "$out/av.mkv" -map 0 -c copy "$out/av.h4mk"
  "$bin/ffprobe" -v error -show_entries stream=index,codec_name,time_base:format=format_name,duration \
    -of compact "$out/av.h4mk"
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -ss 3.2 -i "$out/av.h4mk" -map 0 -c copy "$out/back.mkv"
  local a b
  a=$("$bin/ffmpeg" -nostdin -v error -i "$out/av.mkv" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum)
  b=$("$bin/ffmpeg" -nostdin -v error -i "$out/av.h4mk" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum)
  echo "${a%% *}  packets of av.mkv"
  echo "${b%% *}  packets of av.h4mk"
  [ "$a" = "$b" ] || { echo "av.h4mk's packets differ from av.mkv's" >&2; return 1; }
}
run "ffmpeg remux" remux

mask() {
  echo
  echo "h4mask: masked with a fresh key; tracks and key id readable without it"
  local key a b
  key=$(openssl rand -hex 32)
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -i "$out/av.h4mk" -map 0 -c copy \
    -encryption_key "$key" "$out/av-masked.h4mk"
  # (-v fatal: ffprobe's stream analysis tries to decode the masked packets and
  # says so, as it does for encrypted mp4 without its key.)
  "$bin/ffprobe" -v fatal -show_entries stream=index,codec_name:stream_tags=h4mk_mask_scheme,h4mk_mask_kid \
    -of compact "$out/av-masked.h4mk"
  a=$("$bin/ffmpeg" -nostdin -v error -i "$out/av.h4mk" -map 0 -c copy -f framemd5 - | grep -v '^#' | md5sum)
  b=$("$bin/ffmpeg" -nostdin -v error -decryption_key "$key" -i "$out/av-masked.h4mk" -map 0 -c copy \
    -f framemd5 - | grep -v '^#' | md5sum)
  echo "${b%% *}  packets of av-masked.h4mk with the key"
  [ "$a" = "$b" ] || { echo "unmasked packets differ from av.h4mk's" >&2; return 1; }
}
run "h4mask" mask

signed() {
  echo
  echo "signed: Ed25519 over VERI, checked with the public key"
  openssl genpkey -algorithm ed25519 -out "$out/demo-key.pem"
  openssl pkey -in "$out/demo-key.pem" -pubout -out "$out/demo-key.pub.pem"
  "$h4mk" sign -q "$out/demo.h4mk" -o "$out/demo-signed.h4mk" --private-key "$out/demo-key.pem"
  "$h4mk" verify "$out/demo-signed.h4mk" --pubkey "$out/demo-key.pub.pem"
}
run "signature" signed

tokens() {
  echo
  echo "h4core: speech -> dsp tokens (top-64 FFT bins per 1024-sample frame) -> wav"
  espeak-ng -w "$out/speech.wav" "H4MK carries model tokens, and adapters turn them back into sound."
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -i "$out/speech.wav" -c:a h4core -f h4mk "$out/tokens.h4mk"
  "$bin/ffprobe" -v error -show_entries stream=codec_name,sample_rate:stream_tags=h4mk_adapter \
    -of compact "$out/tokens.h4mk"
  "$bin/ffmpeg" -nostdin -hide_banner -v error -y -i "$out/tokens.h4mk" "$out/tokens.wav"
  "$h4mk" decode "$out/tokens.h4mk" --from 1s --to 2s -o "$out/tokens-1s-2s.wav" --json
  echo "$(stat -c %s "$out/speech.wav") bytes of PCM -> $(stat -c %s "$out/tokens.h4mk") bytes of tokens -> $out/tokens.wav"
}
run "dsp tokens" tokens

quickstarts() {
  echo
  echo "python: the seeds' quick starts (examples/python) through the h4mk package"
  (cd "$out" && ../python-venv/bin/python ../../examples/python/build_container.py &&
     ../python-venv/bin/python ../../examples/python/decode_time_range.py)
}
run "python quick starts" quickstarts
echo
echo "setup: done; the examples' files are in $out"
