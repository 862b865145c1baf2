"""The Python package at ML scale, each figure against a peer in the same run:

  tokens   1 h of 8-codebook int16 tokens at 50 Hz (values 0..1023, half the
           frames repeating the one before) written as a typed track, an I
           block a group and the rest P, or every block I (frames decoded on
           their own: FIXED_SIZE groups), plain and zstd-compressed (level 3,
           groups of 2 s and of 10 s, and with a 4 KiB dictionary trained
           on another recording's tokens, 2 s groups): size, write
           and read (read_track's arrays, read_array's frames) against
           np.save/np.load and np.savez_compressed, and the floor under
           read_track: allocating and writing arrays of the sizes it returns
           (np.ones), with nothing read; and the floor under any zstd-3
           file: libzstd alone (through ctypes) decompressing the raw array
           compressed as one frame and as 10 s frames, one context.
  range    read_range of 10 s in the middle of that file against read_track
           of the whole.
  threads  FILES files of MINUTES read_track'ed by 1 thread and by 2 (the
           GIL is released while libh4mk reads).
  remote   the file behind nginx: requests and bytes for opening, one
           read_range and a whole read_array, against the file's size.
  dask     the FILES files behind nginx read by h4mk.dask.read_arrays (and
           summed) on a LocalCluster of 2 worker processes, a file a task and
           FILES/2 files a task, against one process reading them in turn;
           peers on the same cluster: the same graph over chunks of the same
           shape that numpy makes in the task (no reading), and a graph of
           FILES tasks that do nothing (Dask's own cost a task).

    build/python-venv/bin/python bench/python/scale.py [FILES [MINUTES]]

Best of 3 for each timing. Needs nginx, fsspec, aiohttp, dask, distributed.
"""
import ctypes
import ctypes.util
import io
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

import h4mk

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python" / "tests"))
from conftest import Nginx  # noqa: E402

FILES = int(sys.argv[1]) if len(sys.argv) > 1 else 16
MINUTES = int(sys.argv[2]) if len(sys.argv) > 2 else 30
RATE = 50


def best(f, rounds=3):
    t = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        t.append(time.perf_counter() - t0)
    return min(t)


def token_frames(seconds, seed=1):
    rng = np.random.default_rng(seed)
    n = seconds * RATE
    tokens = rng.integers(0, 1024, size=(n, 8), dtype=np.int16)
    repeat = rng.random(n) < 0.5
    repeat[0] = False
    for i in np.nonzero(repeat)[0]:  # in order: a run of repeats copies its start
        tokens[i] = tokens[i - 1]
    return tokens


def write_tokens(tokens, compress, group_seconds=2, dictionary=b"", all_keys=False):
    """A frame a block lasting a tick; an I block (and a group) every
    group_seconds, the rest P, or (all_keys: frames decoded on their own)
    every block I; compress: False or a zstd level."""
    buf = io.BytesIO()
    with h4mk.Writer(buf, max_group_duration_us=group_seconds * 1_000_000) as w:
        w.add_track(h4mk.Track(id=1, time_base=(1, RATE), dtype="int16", shape=(8,)),
                    compress=compress, dictionary=dictionary)
        types = np.where(np.arange(len(tokens)) % (group_seconds * RATE) == 0, 0, 1)
        if all_keys:
            types[:] = 0
        w.write_blocks(1, types.astype(np.uint8), np.arange(len(tokens)), tokens, size=16,
                       durations=np.ones(len(tokens), np.int64))
    return buf.getvalue()


def zstd_alone(raw, piece):
    """raw compressed at level 3 in frames of `piece` bytes: their total
    size, and the time libzstd takes to decompress them all with one context
    into a buffer made beforehand (best of 3)."""
    z = ctypes.CDLL(ctypes.util.find_library("zstd") or "libzstd.so.1")
    size_t, ptr = ctypes.c_size_t, ctypes.c_void_p
    z.ZSTD_compressBound.restype = size_t
    z.ZSTD_compressBound.argtypes = [size_t]
    z.ZSTD_compress.restype = size_t
    z.ZSTD_compress.argtypes = [ptr, size_t, ctypes.c_char_p, size_t, ctypes.c_int]
    z.ZSTD_createDCtx.restype = ptr
    z.ZSTD_freeDCtx.argtypes = [ptr]
    z.ZSTD_decompressDCtx.restype = size_t
    z.ZSTD_decompressDCtx.argtypes = [ptr, ptr, size_t, ctypes.c_char_p, size_t]
    frames = []
    for at in range(0, len(raw), piece):
        src = raw[at:at + piece]
        buf = ctypes.create_string_buffer(z.ZSTD_compressBound(len(src)))
        n = z.ZSTD_compress(buf, len(buf), src, len(src), 3)
        frames.append((buf.raw[:n], len(src)))
    out = ctypes.create_string_buffer(len(raw))
    dctx = z.ZSTD_createDCtx()

    def run():
        at = ctypes.addressof(out)
        for frame, n in frames:
            if z.ZSTD_decompressDCtx(dctx, at, n, frame, len(frame)) != n:
                raise RuntimeError("zstd frame did not decompress")
            at += n
    t = best(run)
    z.ZSTD_freeDCtx(dctx)
    if out.raw != raw:
        raise RuntimeError("zstd gave other bytes")
    return sum(len(f) for f, _ in frames), t


def tokens_figures(work):
    tokens = token_frames(3600)
    print(f"tokens: {len(tokens)} frames, {tokens.nbytes} bytes raw")
    npy, npz = work / "t.npy", work / "t.npz"
    t_save = best(lambda: np.save(npy, tokens))
    t_load = best(lambda: np.load(npy))
    t_savez = best(lambda: np.savez_compressed(npz, tokens=tokens), 1)
    t_loadz = best(lambda: np.load(npz)["tokens"])
    print(f"  np.save {npy.stat().st_size} B, write {t_save * 1e3:.1f} ms, "
          f"np.load {t_load * 1e3:.2f} ms")
    print(f"  np.savez_compressed {npz.stat().st_size} B, write {t_savez * 1e3:.0f} ms, "
          f"load {t_loadz * 1e3:.1f} ms")
    # A dictionary as a user trains one: on other recordings (10 min of
    # another seed), a group's payloads a sample.
    other = token_frames(600, seed=2)
    dictionary = h4mk.train_dictionary(
        [other[i:i + 2 * RATE].tobytes() for i in range(0, len(other), 2 * RATE)], 4096)
    out = {}
    for compress, group, d, keys in ((False, 2, b"", False), (False, 2, b"", True),
                                     (3, 2, b"", False), (3, 2, b"", True), (3, 10, b"", False),
                                     (3, 2, dictionary, True)):
        data = write_tokens(tokens, compress, group, d, keys)
        t_w = best(lambda: write_tokens(tokens, compress, group, d, keys))
        r = h4mk.Reader(data)
        t_r = best(lambda: r.read_track(1)["data"])
        t_a = best(lambda: r.read_array(1))
        assert np.array_equal(r.read_track(1)["data"], tokens)
        assert np.array_equal(r.read_array(1), tokens)
        name = (f"{f'zstd-{compress}' if compress else 'plain'}"
                f"{f' + {len(d)} B dictionary' if d else ''}, {group} s groups"
                f"{', every block I' if keys else ', I + P'}")
        out.setdefault((compress, group), data)
        print(f"  h4mk {name}: {len(data)} B ({len(data) / npz.stat().st_size:.3f} x savez, "
              f"{len(data) / npy.stat().st_size:.3f} x npy), write {t_w * 1e3:.0f} ms, "
              f"read_track {t_r * 1e3:.2f} ms ({t_r / t_load:.1f} x np.load, "
              f"{t_r / t_loadz:.2f} x savez's load), read_array {t_a * 1e3:.2f} ms "
              f"({t_a / t_load:.1f} x np.load)")
    arrays = h4mk.Reader(out[(False, 2)]).read_track(1)
    sizes = [(v.shape, v.dtype) for k, v in arrays.items() if k not in ("data", "frames")]
    t_floor = best(lambda: [np.ones(shape, dtype) for shape, dtype in sizes])
    print(f"  floor: read_track's {len(sizes)} arrays ({sum(np.prod(sh) * dt.itemsize for sh, dt in sizes)} B) "
          f"allocated and written, nothing read: {t_floor * 1e3:.2f} ms ({t_floor / t_load:.1f} x np.load)")
    raw = tokens.tobytes()
    for what, piece in (("one frame", len(raw)), ("10 s frames", 10 * RATE * tokens[0].nbytes)):
        size, t_z = zstd_alone(raw, piece)
        print(f"  floor: libzstd alone, the raw array as {what} ({size} B, "
              f"{size / npz.stat().st_size:.3f} x savez), decompressed: {t_z * 1e3:.2f} ms "
              f"({t_z / t_load:.1f} x np.load)")
    r = h4mk.Reader(out[(3, 2)])
    t_range = best(lambda: r.read_range(1, 1800.0, 1810.0))
    t_all = best(lambda: r.read_track(1))
    print(f"range: 10 s of the hour (zstd-3, 2 s groups) {t_range * 1e3:.2f} ms, the whole "
          f"{t_all * 1e3:.1f} ms")
    return out[(3, 2)]


def thread_figures(work):
    paths = []
    for i in range(FILES):
        p = work / f"thr-{i}.h4mk"
        p.write_bytes(write_tokens(token_frames(60 * MINUTES, seed=i), 3))
        paths.append(p)

    def read(ps):
        for p in ps:
            with h4mk.Reader(p) as r:
                r.read_track(1)

    def two_threads():
        ts = [threading.Thread(target=read, args=(paths[k::2],)) for k in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()

    one = best(lambda: read(paths))
    two = best(two_threads)
    print(f"threads: {FILES} files of {MINUTES} min, 1 thread {one * 1e3:.0f} ms, 2 threads "
          f"{two * 1e3:.0f} ms: {one / two:.2f} x")
    return paths


def remote_figures(work, compressed):
    root = work / "www"
    root.mkdir()
    (root / "hour.h4mk").write_bytes(compressed)
    nginx = Nginx(root)
    try:
        log = nginx.conf_dir / "access.log"

        def sent():
            lines = log.read_text().splitlines() if log.exists() else []
            return len(lines), sum(int(m.group(1)) for m in
                                   (re.search(r'" \d+ (\d+) ', ln) for ln in lines) if m)

        r0, b0 = sent()
        r = h4mk.Reader(nginx.url("hour.h4mk"))
        r1, b1 = sent()
        r.read_range(1, 1800.0, 1810.0)
        r2, b2 = sent()
        r.read_array(1)
        r3, b3 = sent()
        print(f"remote: {len(compressed)} B file; open {r1 - r0} requests {b1 - b0} B; "
              f"read_range of 10 s {r2 - r1} requests {b2 - b1} B; read_array of the hour "
              f"{r3 - r2} requests {b3 - b2} B")
        return nginx
    except BaseException:
        nginx.stop()
        raise


def dask_figures(work, nginx, paths):
    import dask
    import dask.array as da
    import distributed

    import h4mk.dask
    for p in paths:
        shutil.copy(p, nginx.root / p.name)
    urls = [nginx.url(p.name) for p in paths]

    def one_process():
        return sum(int(h4mk.Reader(u).read_array(1).sum()) for u in urls)

    frames = len(h4mk.Reader(paths[0]).read_array(1))
    t_one = best(one_process)
    t_made = best(lambda: sum(int(made_chunk(i, frames).sum()) for i in range(FILES)))
    half = max(1, FILES // 2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c, distributed.Client(c):
        assert int(h4mk.dask.read_arrays(urls, 1).sum().compute()) == one_process()
        t_dask = best(lambda: h4mk.dask.read_arrays(urls, 1).sum().compute())
        t_half = best(lambda: h4mk.dask.read_arrays(urls, 1, files_per_task=half).sum().compute())
        t_made_dask = best(lambda: da.concatenate(
            [da.from_delayed(dask.delayed(made_chunk)(i, frames), shape=(np.nan, 8),
                             dtype=np.int16) for i in range(FILES)]).sum().compute())
        t_null = best(lambda: dask.compute(*[dask.delayed(nothing)(i) for i in range(FILES)]))
    print(f"dask: {FILES} files of {MINUTES} min over HTTP, one process {t_one * 1e3:.0f} ms; "
          f"LocalCluster of 2 worker processes, a file a task {t_dask * 1e3:.0f} ms "
          f"({t_one / t_dask:.2f} x), {half} files a task {t_half * 1e3:.0f} ms "
          f"({t_one / t_half:.2f} x)")
    print(f"  peers: numpy's chunks, no reading: one process {t_made * 1e3:.0f} ms, on the "
          f"cluster {t_made_dask * 1e3:.0f} ms ({t_made / t_made_dask:.2f} x); {FILES} tasks "
          f"that do nothing {t_null * 1e3:.0f} ms ({t_null / FILES * 1e3:.1f} ms a task)")


def made_chunk(seed, frames):
    """A chunk of the corpus's shape that numpy makes rather than reads."""
    return np.random.default_rng(seed).integers(0, 1024, size=(frames, 8), dtype=np.int16)


def nothing(i):
    return i


def main():
    with tempfile.TemporaryDirectory() as d:
        work = pathlib.Path(d)
        print("cores:", subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip())
        compressed = tokens_figures(work)
        paths = thread_figures(work)
        nginx = remote_figures(work, compressed)
        try:
            dask_figures(work, nginx, paths)
        finally:
            nginx.stop()


if __name__ == "__main__":
    main()
