#!/usr/bin/env python3
"""Prints the FFmpeg comparison (bench/ffmpeg/compare.sh): per-format medians
over the rounds, and the median of the per-round ratios h4mk / peer."""
import json
import statistics
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
formats = list(dict.fromkeys(r["file"].rsplit(".", 1)[1] for r in rows))
rounds = sorted({r["round"] for r in rows})
cell = {(r["file"].rsplit(".", 1)[1], r["round"]): r for r in rows}
peers = [f for f in formats if f != "h4mk"]


def overhead(r):
    return (r["file_bytes"] - r["payload_bytes"]) / r["packets"]


def pps(r):
    return r["packets"] / r["copy_null_s"]


def per_round(f, fn):
    return [fn(cell[(f, k)]) for k in rounds if (f, k) in cell]


def med(f, fn):
    return statistics.median(per_round(f, fn))


def ratio(f, fn):
    """Median over rounds of h4mk's figure divided by the peer's in that round."""
    return statistics.median(fn(cell[("h4mk", k)]) / fn(cell[(f, k)])
                             for k in rounds if ("h4mk", k) in cell and (f, k) in cell)


def spread(f, fn):
    v = per_round(f, fn)
    return "%.0f–%.0f" % (min(v), max(v))


def read(r): return r["read_ns"]
def seek(r): return r["seek_us"]
def seek_calls(r): return r["seek_calls_us"]
def seek_own(r): return r["seek_us"] - r["seek_calls_us"]
def copy_s(r): return r["copy_null_s"]
def over_floor(r): return r["read_ns"] / r["floor_read_ns"]
def copy_over_floor(r): return r["floor_copy_read_ns"] / r["floor_read_ns"]
def seek_floor(r): return r["floor_seek_us"]


print("%d rounds; medians (read range over rounds)\n" % len(rounds))
print("| format | B/packet | read ns/packet | ffmpeg -c copy -f null pkt/s | seek µs | of which lseek + read (bytes a seek reads) | seek landing errors | bytes read to open |")
print("|---|---|---|---|---|---|---|---|")
for f in formats:
    r = cell[(f, rounds[0])]
    print("| %s | %.2f | %.0f (%s) | %.0fk | %.2f | %.2f (%d B) | %d / %d | %d |" % (
        f, overhead(r), med(f, read), spread(f, read), med(f, pps) / 1000, med(f, seek),
        med(f, seek_calls), r["seek_bytes"], max(per_round(f, lambda x: x["seek_errors"])), r["seeks"], r["open_bytes"]))
print()
h = cell[("h4mk", rounds[0])]
for f in peers:
    r = cell[(f, rounds[0])]
    print("h4mk / %-4s (median of per-round ratios): overhead %.2f, read %.2f, copy pkt/s %.2f, "
          "seek %.2f (above its system calls %.2f), open bytes %.2f" % (
              f, overhead(h) / overhead(r), ratio(f, read), ratio(f, pps), ratio(f, seek),
              ratio(f, seek_own), h["open_bytes"] / max(r["open_bytes"], 1)))

# How much of `-c copy -f null` is the demuxer's read loop: the rest
# (process start, probing, threads and queues, the null muxer) is ffmpeg's.
for f in formats:
    per_packet = statistics.median(
        copy_s(cell[(f, k)]) / cell[(f, k)]["packets"] * 1e9 for k in rounds)
    print("-c copy, %-4s: %5.0f ns per packet, of which the read loop is %3.0f ns (%2.0f %%)" % (
        f, per_packet, med(f, read), 100 * med(f, read) / per_packet))
# A seek through the file protocol makes at least an lseek and a read, whose
# cost is the host's (1-3 us a pair on the VMs measured so far): what is left
# is the demuxer's and libavformat's own work.
print("seek above its lseek + read: " + ", ".join(
    "%s %.2f us" % (f, med(f, seek_own)) for f in formats))
# libavformat's own cost, measured in each lavf_bench run through a demuxer
# that does nothing (it hands out references to the file's packets, recorded
# beforehand), in turns with the file: a format's read time over it
# (× floor) is the figure the machine's drift moves least.
print("read × libavformat's floor (same run): " + ", ".join(
    "%s %.2f" % (f, med(f, over_floor)) for f in formats))
print("floor: %.0f ns/packet (range %s); copying each packet into a pooled buffer: %.2f x floor;"
      " seek floor (av_seek_frame + first packet, no I/O): %.2f us" % (
          med("h4mk", lambda r: r["floor_read_ns"]), spread("h4mk", lambda r: r["floor_read_ns"]),
          med("h4mk", copy_over_floor), med("h4mk", seek_floor)))
if "nut" in formats:
    print("0.6 x nut's read is %.2f x floor" % (0.6 * med("nut", over_floor)))
# What `-c copy` would gain if h4mk's read loop cost no more than the floor:
# the most any demuxer could make of ffmpeg's copy, against the best peer.
best = max(peers, key=lambda f: med(f, pps))
print("-c copy with h4mk's read loop at the floor: %.2f x %s (measured %.2f x)" % (
    statistics.median(
        copy_s(cell[(best, k)]) / cell[(best, k)]["packets"] /
        (copy_s(cell[("h4mk", k)]) / cell[("h4mk", k)]["packets"] -
         (read(cell[("h4mk", k)]) - cell[("h4mk", k)]["floor_read_ns"]) * 1e-9)
        for k in rounds if (best, k) in cell and ("h4mk", k) in cell),
    best, ratio(best, pps)))
print("targets: overhead below every peer, read <= 200 ns/packet, copy >= 1.1x mp4,"
      " seek <= 2 us with 0 landing errors, open <= 4 KB")
