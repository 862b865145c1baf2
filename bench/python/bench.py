"""The h4mk Python package against libh4mk's C++ API (bench/python/cpp_peer.cpp)
in the same run: 1 h of 16-byte tokens at 50 Hz (all I blocks) and 1 h of
41-byte I/P/B blocks at 30 Hz, written per block and in bulk (numpy), read by
iteration and as arrays (read_track). Prints ns per block and the ratio to
C++; best of ROUNDS (default 3) for each.

    build/python-venv/bin/python bench/python/bench.py [ROUNDS]
"""
import json
import pathlib
import subprocess
import sys
import time

import numpy as np

import h4mk

ROOT = pathlib.Path(__file__).resolve().parents[2]
PEER = ROOT / "build" / "bench" / "python_cpp_peer"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def layout(n, gop):
    """Types, pts and dts as cpp_peer.cpp lays them out."""
    types, pts, dts = [], [], []
    i = 0
    while len(types) < n:
        if gop == 1:
            k = len(types)
            types.append(0), pts.append(k), dts.append(k)
        elif i % gop == 0:
            types.append(0), pts.append(i), dts.append(i - 2)
            i += 1
            continue
        else:
            types.append(1), pts.append(i), dts.append(i - 2)
            for b in range(i - 2, i):
                if len(types) < n:
                    types.append(2), pts.append(b), dts.append(b)
        i += 3
    return (np.array(types, np.uint8), np.array(pts, np.int64), np.array(dts, np.int64))


def best(fn):
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return min(times)


def case(name, n, size, gop):
    types, pts, dts = layout(n, gop)
    payload = (np.arange(n * size, dtype=np.uint64) * 131 % 256).astype(np.uint8)
    track = h4mk.Track(id=1, kind="audio", time_base=(1, 50))
    names = "IPB"

    def write(bulk):
        with h4mk.Writer() as w:  # in memory, as the C++ peer's MemorySink
            w.add_track(track)
            if bulk:
                w.write_blocks(1, types, pts, payload, size=size, dts=dts,
                               durations=np.ones(n, np.int64))
            else:
                view = memoryview(payload)
                t, p, d = types.tolist(), pts.tolist(), dts.tolist()
                for i in range(n):
                    w.write_block(1, names[t[i]], p[i], d[i], 1, view[i * size:(i + 1) * size])
        return w.getvalue()

    data = write(True)
    assert data == write(False)

    def iterate():
        with h4mk.Reader(data) as r:
            total = 0
            for b in r:
                total += b.pts + len(b.data)

    def arrays():
        with h4mk.Reader(data) as r:
            r.read_track(1)

    py = {"write": best(lambda: write(False)) / n, "write_blocks": best(lambda: write(True)) / n,
          "read": best(iterate) / n, "read_track": best(arrays) / n}
    cpp = json.loads(subprocess.run([PEER, str(n), str(size), str(gop)], check=True,
                                    capture_output=True, text=True).stdout)
    peer = {"write": cpp["write"], "write_blocks": cpp["write"], "read": cpp["read"],
            "read_track": cpp["read_track"]}
    assert cpp["bytes"] == len(data), (cpp["bytes"], len(data))
    print(f"{name}: {n} blocks, {len(data)} bytes")
    print(f"  {'path':<14}{'Python ns/block':>16}{'C++ ns/block':>14}{'ratio':>8}")
    for k, v in py.items():
        print(f"  {k:<14}{v:>16.1f}{peer[k]:>14.1f}{v / peer[k]:>8.2f}")


case("1 h of 16-byte tokens at 50 Hz", 180_000, 16, 1)
case("1 h of 41-byte I/P/B blocks at 30 Hz", 108_000, 41, 30)
