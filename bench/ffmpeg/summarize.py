#!/usr/bin/env python3
"""Prints the FFmpeg comparison (bench/ffmpeg/compare.sh) with ratios to peers."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
by = {r["file"].rsplit(".", 1)[1]: r for r in rows}
h = by["h4mk"]
peers = [k for k in by if k != "h4mk"]


def overhead(r):
    return (r["file_bytes"] - r["payload_bytes"]) / r["packets"]


def pps(r):
    return r["packets"] / r["copy_null_s"]


print("| format | B/packet | read ns/packet | ffmpeg -c copy -f null pkt/s | seek us | seek landing errors | bytes read to open |")
print("|---|---|---|---|---|---|---|")
for k in ["h4mk"] + peers:
    r = by[k]
    print("| %s | %.2f | %.0f | %.0f | %.2f | %d / 2000 | %d |" % (
        k, overhead(r), r["read_ns"], pps(r), r["seek_us"], r["seek_errors"], r["open_bytes"]))
print()
for k in peers:
    r = by[k]
    print("h4mk vs %-4s: overhead %.2fx, read %.2fx, copy %.2fx, seek %.2fx, open bytes %.2fx" % (
        k, overhead(h) / overhead(r), h["read_ns"] / r["read_ns"], pps(h) / pps(r),
        h["seek_us"] / r["seek_us"], h["open_bytes"] / max(r["open_bytes"], 1)))
print("targets: overhead below every peer, read <= 200 ns/packet, copy >= 1.1x mp4,"
      " seek <= 2 us with 0 landing errors, open <= 4 KB")
