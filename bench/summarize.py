#!/usr/bin/env python3
"""Prints the libh4mk benchmark targets as ratios (medians of the repetitions)."""
import json
import sys

SHAPES = {0: "tokens16 (16 B, 50 Hz, all I)", 1: "ipb41 (41 B I/P/B, 50 Hz)",
          2: "ipb41 reordered B", 3: "video20k (20 kB, 25 Hz)"}
SHORT = {0: "tokens16", 1: "ipb41", 2: "ipb41 reordered B", 3: "video20k"}


def medians(paths):
    out = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("aggregate_name") == "median":
                    out[b["run_name"]] = b
    return out


def main():
    m = medians(a for a in sys.argv[1:] if not a.startswith("two_cpus="))
    two = [a[len("two_cpus="):] for a in sys.argv[1:] if a.startswith("two_cpus=")]
    gbps = lambda name: m[name]["bytes_per_second"] / 1e9
    impls = [n for n in ("isal", "libdeflate", "zlib") if "BM_Crc32_%s/6144" % n in m]
    for size, label in ((1 << 20, "1 MiB"), (6144, "6 KiB")):
        print("CRC-32 (%s): %s" % (label, ", ".join(
            "%s %.1f GB/s" % (n, gbps("BM_Crc32_%s/%d" % (n, size))) for n in impls)))
    ns = lambda name: m[name]["real_time"] * {"ns": 1, "us": 1e3, "ms": 1e6}[m[name]["time_unit"]]
    print("CRC-32 (8 bytes, one call): %s (below 16 bytes libh4mk multiplies carry-less, else zlib)" % ", ".join(
        "%s %.1f ns" % (n, ns("BM_Crc32_%s/8" % n)) for n in impls))
    print("CRC-32 (1 MiB) byte table %.2f GB/s; fastest / zlib %.1fx"
          % (gbps("BM_Crc32_table"), gbps("BM_Crc32_%s/%d" % (impls[0], 1 << 20))
             / gbps("BM_Crc32_zlib/%d" % (1 << 20))))
    join = lambda n: "join %.1f ns (zlib crc32_combine %.1f, a second pass %.1f)" % (
        ns("BM_Crc32Join_h4mk/%d/0" % n), ns("BM_Crc32Join_zlib_combine/%d" % n),
        ns("BM_Crc32Join_second_pass/%d" % n))
    print("Container CRC over a chunk whose CRC is known (%s): 1,650 B %s; 4,400 B %s;"
          " 1 MiB %s" % (m["BM_Crc32Join_h4mk/1650/0"].get("label", ""), join(1650), join(4400),
                         join(1 << 20)))
    print()
    print("| stream | B/block | write+VERI / SHA-256 | write (no VERI) GB/s | verify CRC-only / plain read | verify+VERI / SHA-256 | read ns/block |")
    print("|---|---|---|---|---|---|---|")
    for i, name in SHAPES.items():
        w = m["BM_Write/%d/1" % i]
        print("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f |" % (
            name, w["overhead_B_per_block"],
            gbps("BM_Write/%d/1" % i) / gbps("BM_Sha256/%d" % i),
            gbps("BM_Write/%d/0" % i),
            gbps("BM_Verify/%d/0" % i) / gbps("BM_PlainRead/%d" % i),
            gbps("BM_Verify/%d/1" % i) / gbps("BM_Sha256/%d" % i),
            m["BM_ReadIterate/%d" % i]["ns_per_block"] * 1e9))
    print()
    print("Writer::write_run, runs of up to 50 blocks: " + "; ".join(
        "%s: write (no VERI) %.2f GB/s (%.1f x write_block), write+VERI / SHA-256 %.2f" % (
            SHAPES[i].split(" ")[0], gbps("BM_WriteRun/%d/0" % i),
            gbps("BM_WriteRun/%d/0" % i) / gbps("BM_Write/%d/0" % i),
            gbps("BM_WriteRun/%d/1" % i) / gbps("BM_Sha256/%d" % i))
        for i in (0, 1, 3)) + " (ipb41's types alternate: runs of one block)")
    if two:
        m2 = medians(two)
        g2 = lambda name: m2[name]["bytes_per_second"] / 1e9
        print("Two CPUs (VERI hashed on a second thread, SHA-256 measured in the same run): write+VERI / SHA-256 "
              + "; ".join("%s %.2f (in place %.2f)" % (
                  SHORT[i], g2("BM_Write/%d/2/real_time" % i) / g2("BM_Sha256/%d" % i),
                  g2("BM_Write/%d/1" % i) / g2("BM_Sha256/%d" % i)) for i in SHAPES)
              + "; write_run " + "; ".join("%s %.2f (in place %.2f)" % (
                  SHORT[i], g2("BM_WriteRun/%d/2/real_time" % i) / g2("BM_Sha256/%d" % i),
                  g2("BM_WriteRun/%d/1" % i) / g2("BM_Sha256/%d" % i)) for i in (0, 1, 3)))
        print("Two CPUs, verify+VERI / SHA-256 (the chain on a second thread once a group has a record per block): "
              + "; ".join("%s %.2f (in place %.2f)" % (
                  SHORT[i], g2("BM_Verify/%d/2/real_time" % i) / g2("BM_Sha256/%d" % i),
                  g2("BM_Verify/%d/1" % i) / g2("BM_Sha256/%d" % i)) for i in SHAPES))
    print("VERI's ceilings: SHA-256 / the chain alone (write+VERI can reach no more): %s;"
          " SHA-256 / (read(2) + CRC + chain) (verify+VERI can reach no more): %s"
          % (", ".join("%.2f" % (gbps("BM_VeriBound/%d/0" % i) / gbps("BM_Sha256/%d" % i)) for i in SHAPES),
             ", ".join("%.2f" % (gbps("BM_VeriBound/%d/1" % i) / gbps("BM_Sha256/%d" % i)) for i in SHAPES)))
    print("verify CRC-only's bound, read(2) of 256 KiB + CRC / plain read: %s; mapped + CRC / plain read: %s"
          % (", ".join("%.2f" % (gbps("BM_ReadCrcBound/%d" % i) / gbps("BM_PlainRead/%d" % i)) for i in SHAPES),
             ", ".join("%.2f" % (gbps("BM_MappedCrc/%d" % i) / gbps("BM_PlainRead/%d" % i)) for i in SHAPES)))
    print()
    for arg, label in ((1, "index"), (0, "bisection, no index")):
        s = m["BM_Seek/%d" % arg]
        print("seek in 1 h of tokens16 (%s): %.2f us; bytes read to open: %d"
              % (label, s["real_time"], s["open_bytes"]))
    for arg, name in ((1, "ipb41"), (2, "ipb41 reordered B")):
        c, k = m["BM_DecodeChain/%d/1" % arg], m["BM_DecodeChain/%d/0" % arg]
        print("decode chain in 1 h of %s: %.2f us for %.1f links on average, %.1f x a seek to the same times (%.2f us)"
              % (name, c["real_time"], c["links"], c["real_time"] / k["real_time"], k["real_time"]))
    print()
    print("targets: B/block <= 1.0 (tokens16), <= 3.0 (ipb41); write+VERI >= 0.85 x SHA-256;"
          " verify CRC-only >= 0.8 x plain read")


if __name__ == "__main__":
    main()
