"""The package against libh4mk's own tools: what Python writes the C++ side
reads and the reverse, every error with its code and offset, damaged, cut
and masked files, and no leak over a million blocks."""
import io
import json
import os
import pathlib
import subprocess
import warnings

import numpy as np
import pytest

import h4mk
from conftest import without_gil


def cli_blocks(cli, path):
    out = subprocess.run([cli, "list", str(path), "--json"], check=True, capture_output=True).stdout
    return json.loads(out)["blocks"]


def tokens_file(target, n=500, **options):
    with h4mk.Writer(target, **options) as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null",
                               sample_rate=16000, channels=1, name="tokens"))
        w.set_metadata({"title": "tokens", "model": "test"})
        w.set_note("written from Python")
        for i in range(n):
            w.write_block(1, "I" if i % 25 == 0 else "P", pts=i, duration=1,
                          payload=(i * 7919).to_bytes(4, "little") * 4)


def test_python_writes_what_the_cli_reads(tmp_path, h4mk_cli):
    path = tmp_path / "tokens.h4mk"
    tokens_file(path)
    subprocess.run([h4mk_cli, "verify", str(path)], check=True, capture_output=True)
    blocks = cli_blocks(h4mk_cli, path)
    assert [(b["pts"], b["type"], b["size"]) for b in blocks] == [
        (i, "I" if i % 25 == 0 else "P", 16) for i in range(500)]
    with h4mk.Reader(path) as r:
        assert r.metadata == {"title": "tokens", "model": "test"}
        assert r.note == "written from Python"
        assert [t.name for t in r.tracks] == ["tokens"]


def test_reading_the_cpp_demo_gives_what_the_cli_lists(demo_file, h4mk_cli):
    want = cli_blocks(h4mk_cli, demo_file)
    with h4mk.Reader(demo_file) as r:
        got = list(r)
    assert len(got) == len(want) > 100
    for g, w in zip(got, want):
        assert (g.track, g.type, g.pts, g.dts, g.duration, len(g.data), g.offset, g.chunk_offset) == (
            w["track"], w["type"], w["pts"], w["dts"], w["duration"], w["size"], w["data_offset"],
            w["chunk_offset"])
    raw = demo_file.read_bytes()
    for g in got[::17]:
        assert g.data == raw[g.offset:g.offset + len(g.data)]


def test_every_source_kind_reads_the_same(demo_file):
    def blocks(source):
        with h4mk.Reader(source) as r:
            return [(b.track, b.pts, b.data) for b in r]

    from_path = blocks(demo_file)
    assert blocks(str(demo_file)) == from_path
    assert blocks(demo_file.read_bytes()) == from_path
    assert blocks(memoryview(bytearray(demo_file.read_bytes()))) == from_path
    with open(demo_file, "rb") as f:
        assert blocks(f) == from_path

    class Pipe(io.RawIOBase):  # not seekable, short reads
        def __init__(self, data):
            self.data, self.at = data, 0

        def readable(self):
            return True

        def read(self, n=-1):
            n = min(n, 333)
            out = self.data[self.at:self.at + n]
            self.at += len(out)
            return out

    assert blocks(Pipe(demo_file.read_bytes())) == from_path
    # A pipe gives one whole read, the same as from the file; a second one
    # would have to go back and says so.
    with h4mk.Reader(demo_file) as r:
        ids = [t.id for t in r.tracks]
        want = r.read_tracks(ids)
    with h4mk.Reader(Pipe(demo_file.read_bytes())) as r:
        got = r.read_tracks(ids)
        assert got.keys() == want.keys()
        for t in want:
            for k in want[t]:
                assert np.array_equal(got[t][k], want[t][k]), (t, k)
        with pytest.raises(h4mk.Error, match="cannot go back"):
            r.read_tracks(ids)


def test_a_rewrite_in_python_is_byte_identical_to_the_cpp_writer(demo_file, h4mk_cli, tmp_path):
    # h4mk repair rewrites with the C++ writer and the file's own groups; the
    # same blocks through the Python writer with the same options and header.
    cpp = tmp_path / "cpp.h4mk"
    subprocess.run([h4mk_cli, "repair", str(demo_file), "-o", str(cpp)], check=True,
                   capture_output=True)
    py = tmp_path / "py.h4mk"
    with h4mk.Reader(cpp) as r, h4mk.Writer(py, max_group_blocks=65536,
                                              max_group_bytes=(256 << 20) - 256,
                                              max_group_duration_us=1 << 62,
                                              interleave_duration_us=0) as w:
        for t in r.tracks:
            w.add_track(t)
        if r.metadata:
            w.set_metadata(r.metadata)
        if r.safe:
            w.set_safe(r.safe)
        if r.note:
            w.set_note(r.note)
        last = None
        for b in r:
            if last is not None and b.chunk_offset != last:
                w.close_group(prev_track)
            w.write_block(b.track, b.type, b.pts, b.dts, b.duration, b.data, b.side_data,
                          b.discardable)
            last, prev_track = b.chunk_offset, b.track
    assert py.read_bytes() == cpp.read_bytes()


def test_bulk_numpy_writes_equal_per_block_writes(tmp_path):
    n = 3000
    rng = np.random.default_rng(5)
    payload = rng.integers(0, 256, n * 16, dtype=np.uint8)
    types = np.where(np.arange(n) % 50 == 0, 0, 1).astype(np.uint8)
    pts = np.arange(n, dtype=np.int64)

    def write(path, bulk):
        with h4mk.Writer(path) as w:
            # The fields as keywords, or a Track: the same file.
            if bulk:
                w.add_track(id=1, kind="audio", time_base=(1, 50), adapter="null")
            else:
                w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null"))
            if bulk:
                w.write_blocks(1, types, pts, payload, size=16, durations=np.ones(n, np.int64))
            else:
                for i in range(n):
                    w.write_block(1, int(types[i]), int(pts[i]), duration=1,
                                  payload=payload[i * 16:(i + 1) * 16])
        return path.read_bytes()

    assert write(tmp_path / "bulk.h4mk", True) == write(tmp_path / "each.h4mk", False)
    with h4mk.Reader(tmp_path / "bulk.h4mk") as r:
        a = r.read_track(1)
    assert np.array_equal(a["pts"], pts) and np.array_equal(a["types"], types)
    assert np.array_equal(a["payload"], payload)
    assert np.array_equal(a["offsets"], np.arange(n + 1, dtype=np.uint64) * 16)


def test_compressed_tracks_read_back_the_same_arrays(tmp_path, h4mk_cli):
    # An hour-like token stream (8 codebooks of 10-bit codes in int16, half
    # the frames repeated), as a model writes it, with and without zstd.
    n = 6000
    rng = np.random.default_rng(11)
    codes = rng.zipf(1.4, size=(n, 8)).clip(max=1023).astype("<i2")
    codes[1::2] = codes[0::2][: n // 2]
    types = np.where(np.arange(n) % 250 == 0, 0, 1).astype(np.uint8)
    pts = np.arange(n, dtype=np.int64)

    def write(path, **compress):
        with h4mk.Writer(path, **compress.pop("writer", {})) as w:
            w.add_track(id=1, kind="audio", time_base=(1, 50), **compress)
            w.write_blocks(1, types, pts, codes, size=16, durations=np.ones(n, np.int64))
        return path

    plain = write(tmp_path / "plain.h4mk")
    with h4mk.Reader(plain) as r:
        groups = {}
        for b in r:
            groups.setdefault(b.chunk_offset, bytearray()).extend(bytes(b.data))
    dictionary = h4mk.train_dictionary(list(groups.values()), 2048)
    assert 0 < len(dictionary) <= 2048
    files = [write(tmp_path / "z.h4mk", writer={"compress": True}),
             write(tmp_path / "z9.h4mk", compress=9),
             write(tmp_path / "zd.h4mk", compress=True, dictionary=dictionary)]
    want = h4mk.Reader(plain).read_track(1)
    for f in files:
        assert f.stat().st_size * 2 < plain.stat().st_size, f
        assert f.read_bytes()[4] == 2  # format 2.0
        got = h4mk.Reader(f).read_track(1)
        assert np.array_equal(got["payload"], want["payload"]) and np.array_equal(
            got["pts"], want["pts"]), f
        assert subprocess.run([h4mk_cli, "verify", str(f)], capture_output=True).returncode == 0
    with pytest.raises(h4mk.InvalidArgument, match="compress"):
        h4mk.Writer(tmp_path / "x.h4mk", compress=40)
    with pytest.raises(h4mk.InvalidArgument, match="dictionary is given only with compress"):
        h4mk.Writer(tmp_path / "y.h4mk").add_track(id=1, dictionary=dictionary)


def test_a_tracks_chain_bound_and_compression_read_back(tmp_path):
    path = tmp_path / "bounded.h4mk"
    with h4mk.Writer(path) as w:
        w.add_track(id=1, kind="audio", time_base=(1, 50), max_chain_blocks=4)
        w.add_track(id=2, kind="data", time_base=(1, 50), compress=True)
        for i in range(4):
            w.write_block(1, "I" if i == 0 else "P", i, payload=b"abcd")
        # A fifth block of the chain passes the track's stated bound.
        with pytest.raises(h4mk.Error, match="chain"):
            w.write_block(1, "P", 4, payload=b"abcd")
        w.write_block(2, "I", 0, payload=b"x" * 64)
    tracks = {t.id: t for t in h4mk.Reader(path).tracks}
    assert tracks[1].max_chain_blocks == 4 and not tracks[1].compressed
    assert tracks[2].max_chain_blocks == 0 and tracks[2].compressed
    with pytest.raises(h4mk.InvalidArgument, match="max_chain_blocks"):
        h4mk.Writer(tmp_path / "x.h4mk").add_track(id=1, max_chain_blocks=70000)


def test_write_blocks_refuses_what_it_would_have_to_guess():
    # Each of these was written as something else, or partly, without a word.
    def attempt(**kw):
        args = dict(types=[0, 1], pts=[0, 1], payload=b"abcd", size=2)
        args.update(kw)
        w = h4mk.Writer()
        w.add_track(id=1, time_base=(1, 50))
        w.write_blocks(1, **args)
        w.finish()
        return w

    cases = {
        "types[0] is 256": dict(types=[256, 257]),
        "types[0] is -255": dict(types=[-255, 1]),
        "pts must hold integers": dict(pts=[0.4, 1.6]),
        "dts must hold integers": dict(dts=np.array([0.0, float("nan")])),
        "durations must hold integers": dict(durations=[True, False]),
        "do not fill the 5-byte payload": dict(payload=b"abcde"),
        "they must cover the 6-byte payload": dict(payload=b"abcdef", size=None,
                                                   offsets=[0, 2, 4]),
        "pts[0] = 18446744073709551615 does not fit int64": dict(
            pts=np.array([2**64 - 1, 0], dtype=np.uint64)),
    }
    for says, kw in cases.items():
        with pytest.raises(h4mk.InvalidArgument) as e:
            attempt(**kw)
        assert says in str(e.value), (says, str(e.value))
    # What is meant stays accepted: numpy integers of any width, lists.
    w = attempt(types=np.array([0, 1], np.uint8), pts=np.array([0, 1], np.int32))
    assert [b.pts for b in h4mk.Reader(w.getvalue())] == [0, 1]
    assert w.getvalue() == w.getvalue()  # asked twice, the file twice


def test_read_track_of_no_such_track_is_not_found_and_blocks_print_short():
    w = h4mk.Writer()
    w.add_track(id=1, time_base=(1, 50))
    w.write_block(1, "I", 0, payload=bytes(1024))
    w.finish()
    r = h4mk.Reader(w.getvalue())
    with pytest.raises(h4mk.NotFound, match="no track with id 99"):
        r.read_track(99)
    text = repr(next(iter(r)))
    assert "...(1024 bytes)" in text and len(text) < 400, text
    assert h4mk.__version__ == h4mk.library_version


def test_a_writer_left_by_an_exception_leaves_every_block_and_abort_leaves_nothing(tmp_path):
    path = tmp_path / "failed.h4mk"
    with pytest.raises(RuntimeError, match="the model failed"):
        with h4mk.Writer(path) as w:
            w.add_track(id=1, kind="audio", time_base=(1, 50))
            for i in range(5000):
                if i == 2000:
                    raise RuntimeError("the model failed")
                w.write_block(1, "I", i, payload=i.to_bytes(4, "little"))
    report = h4mk.verify(path)
    assert report["ok"] and report["complete"], report
    assert sum(1 for _ in h4mk.Reader(path)) == 2000
    aborted = tmp_path / "aborted.h4mk"
    w = h4mk.Writer(aborted)
    w.add_track(id=1, time_base=(1, 50))
    w.write_block(1, "I", 0, payload=b"x")
    w.abort()
    assert not aborted.exists()
    w.close()  # nothing left to finish
    assert not aborted.exists()


def test_read_track_raises_on_damage_unless_asked_not_to():
    w = h4mk.Writer()
    w.add_track(id=1, time_base=(1, 50))
    w.write_blocks(1, np.zeros(750, np.uint8), np.arange(750), bytes(750 * 8), size=8)
    w.finish()
    data = bytearray(w.getvalue())
    with h4mk.Reader(bytes(data)) as r:
        offsets = sorted({b.chunk_offset for b in r})
    data[offsets[1] + 40] ^= 0xFF  # a payload byte of the second group
    # Iterating says so once it ends; an intact file says nothing.
    with pytest.warns(h4mk.DamageWarning, match=f"at offset {offsets[1]}"):
        assert 0 < sum(1 for _ in h4mk.Reader(bytes(data))) < 750
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sum(1 for _ in h4mk.Reader(w.getvalue())) == 750
    with h4mk.Reader(bytes(data)) as r:
        with pytest.raises(h4mk.FormatError, match=f"the first at offset {offsets[1]}") as e:
            r.read_track(1)
        assert e.value.code == "crc_mismatch"
        kept = r.read_track(1, strict=False)
        assert 0 < len(kept["pts"]) < 750
        assert r.damage and r.damage[0]["offset"] == offsets[1]


def test_long_calls_let_the_gil_go_and_threads_sharing_a_reader_take_turns(tmp_path):
    import threading
    n = 300_000
    path = tmp_path / "threads.h4mk"
    payload = np.arange(n * 8, dtype=np.uint32).astype(np.uint8)
    with h4mk.Writer(path) as w:
        w.add_track(id=1, time_base=(1, 1000))
        w.write_blocks(1, np.zeros(n, np.uint8), np.arange(n), payload, size=8)
    want = h4mk.Reader(path).read_track(1)
    assert len(want["pts"]) == n

    # While read_track runs, another Python thread runs.
    with h4mk.Reader(path) as r:
        got, let_go = without_gil(lambda: r.read_track(1))
    assert let_go, "read_track held the GIL"
    assert np.array_equal(got["payload"], want["payload"])

    # One Reader shared by threads (a path, and a file object whose reads
    # take the GIL back): each call has the reader to itself.
    for source in (path, io.BytesIO(path.read_bytes())):
        shared = h4mk.Reader(source)
        results, errors = [], []

        def read():
            try:
                results.append(shared.read_track(1))
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert not errors, errors
        assert len(results) == 4
        for a in results:
            assert np.array_equal(a["pts"], want["pts"])
            assert np.array_equal(a["payload"], want["payload"])


def test_the_installed_extension_carries_no_debug_information():
    so = h4mk._h4mk.__file__
    sections = subprocess.run(["readelf", "-S", "-W", so], capture_output=True, text=True,
                              check=True).stdout
    assert ".debug_info" not in sections, f"{so} has debug information"
    assert "PyInit__h4mk" in subprocess.run(["readelf", "--dyn-syms", "-W", so],
                                            capture_output=True, text=True).stdout


def test_errors_carry_the_library_code_and_the_offset(tmp_path):
    with pytest.raises(h4mk.FormatError) as e:
        h4mk.Reader(b"RIFF" + bytes(60))
    assert e.value.code == "bad_magic" and e.value.offset == 0
    buf = io.BytesIO()
    tokens_file(buf, 50)
    data = buf.getvalue()
    with pytest.raises(h4mk.FormatError) as e:
        h4mk.Reader(data[:40])
    assert e.value.code == "truncated" and "offset 16" in str(e.value)
    with pytest.raises(h4mk.FormatError) as e:
        h4mk.Reader(data[:20] + bytes([data[20] ^ 1]) + data[21:])
    assert e.value.code == "crc_mismatch" and e.value.offset == 16
    with h4mk.Reader(data) as r:
        with pytest.raises(h4mk.NotFound):
            r.seek(7, 0)
        with pytest.raises(h4mk.InvalidArgument):
            r.seek(1, 0, "sideways")
    with h4mk.Writer(io.BytesIO()) as w:
        w.add_track(h4mk.Track(id=1, time_base=(1, 1000)))
        with pytest.raises(h4mk.InvalidArgument):
            w.write_block(1, "X", 0, payload=b"")
        with pytest.raises(h4mk.Error) as e:
            w.write_block(1, "I", pts=0, dts=5, payload=b"x")  # dts after pts
        assert "track 1" in str(e.value)
        w.write_block(1, "I", 0, payload=b"ok")  # the writer stays usable


# The damage is checked through Reader.damage here; the warning iterating
# gives is test_read_track_raises_on_damage_unless_asked_not_to's.
@pytest.mark.filterwarnings("ignore::h4mk.DamageWarning")
def test_damage_is_reported_with_its_offset_and_the_rest_is_read(tmp_path):
    buf = io.BytesIO()
    tokens_file(buf, 500, max_group_blocks=50)
    original = buf.getvalue()
    data = bytearray(original)
    with h4mk.Reader(bytes(data)) as r:
        whole = [(b.pts, b.data) for b in r]
        cores = sorted({b.chunk_offset for b in h4mk.Reader(bytes(data))})
    data[cores[3] + 40] ^= 0xFF
    with h4mk.Reader(bytes(data)) as r:
        got = [(b.pts, b.data) for b in r]
        assert [d["offset"] for d in r.damage] == [cores[3]]
        assert r.damage[0]["code"] == "crc_mismatch"
    assert got == whole[:150] + whole[200:]
    with h4mk.Reader(bytes(data), damaged_blocks=True) as r:
        marked = [b for b in r if b.damaged]
    assert [b.pts for b in marked] == list(range(150, 200))
    cut = original[:cores[5] + 200]
    with h4mk.Reader(cut) as r:
        assert len(list(r)) == 250 and r.damage[-1]["code"] == "truncated"
    with h4mk.Reader(cut, damaged_blocks=True) as r:
        tail = [b for b in r if b.damaged and b.pts >= 250]
    assert tail and all(b.data == whole[b.pts][1] for b in tail)


def test_masked_tracks_open_with_their_key_only(tmp_path):
    key = os.urandom(32)
    path = tmp_path / "masked.h4mk"
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null"))
        w.set_mask_key(1, key)
        for i in range(20):
            w.write_block(1, "I", i, duration=1, payload=bytes([i]) * 32)
    with h4mk.Reader(path) as r:
        assert r.tracks[0].masked
        locked = list(r)
    assert all(b.masked and b.data != bytes([b.pts]) * 32 for b in locked)
    with h4mk.Reader(path) as r:
        r.set_mask_key(key.hex())
        assert [b.data for b in r] == [bytes([i]) * 32 for i in range(20)]
    with h4mk.Reader(path) as r, pytest.raises(h4mk.KeyMismatch):
        r.set_mask_key(bytes(32))
    with h4mk.Reader(path) as r, pytest.raises(h4mk.InvalidArgument, match="masked"):
        h4mk.Writer(tmp_path / "copy.h4mk").add_track(r.tracks[0])  # envelopes as plain payloads
    with pytest.raises(h4mk.InvalidArgument):
        h4mk.Reader(path).set_mask_key(b"short")


def test_a_track_masked_with_ctr_keeps_its_lengths_and_a_bad_scheme_is_refused(tmp_path):
    key = os.urandom(32)
    path = tmp_path / "ctr.h4mk"
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null"))
        w.set_mask_key(1, key, scheme="aes-256-ctr", kid="k1")
        for i in range(5):
            w.write_block(1, "I", i, duration=1, payload=bytes([i]) * 32)
    with h4mk.Reader(path) as r:
        locked = list(r)
        assert r.tracks[0].masked
    assert [len(b.data) for b in locked] == [32] * 5  # length-preserving
    with h4mk.Reader(path) as r:
        r.set_mask_key(key)
        assert [b.data for b in r] == [bytes([i]) * 32 for i in range(5)]
    with h4mk.Writer(tmp_path / "bad.h4mk") as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null"))
        with pytest.raises(h4mk.InvalidArgument, match="got 'aes-128-ctr'"):
            w.set_mask_key(1, key, scheme="aes-128-ctr")


def test_files_ffmpeg_writes_read_as_ffprobe_lists_them(tmp_path, ffmpeg):
    path = tmp_path / "ff.h4mk"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "sine=duration=2:sample_rate=48000", "-c:a", "flac", path], check=True)
    probe = subprocess.run([ffmpeg.parent / "ffprobe", "-v", "error", "-show_packets", "-of", "json",
                            path], check=True, capture_output=True).stdout
    want = [(int(p["pts"]), int(p["size"])) for p in json.loads(probe)["packets"]]
    with h4mk.Reader(path) as r:
        assert r.tracks[0].codec == "flac"
        assert [(b.pts, len(b.data)) for b in r] == want


def test_a_million_blocks_read_in_a_loop_keep_memory_flat(tmp_path):
    path = tmp_path / "many.h4mk"
    n = 100_000
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, time_base=(1, 1000)))
        w.write_blocks(1, np.zeros(n, np.uint8), np.arange(n), np.zeros(n * 4, np.uint8), size=4)

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def read_all():
        with h4mk.Reader(path) as r:
            count = sum(1 for _ in r)
            r.read_track(1)
        return count

    read_all()
    before = rss()
    assert sum(read_all() for _ in range(10)) == 10 * n
    assert rss() - before < 8 << 20, f"RSS grew by {rss() - before} bytes over 1,000,000 blocks"


def test_mask_unmask_sign_and_repair_as_the_cli_does(tmp_path, demo_file, h4mk_cli):
    key = os.urandom(32)
    masked, plain = tmp_path / "masked.h4mk", tmp_path / "plain.h4mk"
    report = h4mk.mask(demo_file, masked, key, tracks=[2])
    assert report["tracks"] == [2] and report["blocks"] > 100 and not report["damage"]
    with h4mk.Reader(masked) as r:
        assert [t.masked for t in r.tracks] == [t.id == 2 for t in r.tracks]
    with pytest.raises(h4mk.InvalidArgument):
        h4mk.mask(masked, tmp_path / "again.h4mk", key, tracks=[2])
    with pytest.raises(h4mk.NotFound):
        h4mk.mask(demo_file, tmp_path / "none.h4mk", key, tracks=[99])
    with pytest.raises(h4mk.KeyMismatch):
        h4mk.unmask(masked, tmp_path / "wrong.h4mk", bytes(32))
    assert h4mk.unmask(masked, plain, key.hex())["tracks"] == [2]
    # The CLI unmasks to the same bytes; unmasked, the blocks are the demo's.
    cli_plain = tmp_path / "cli-plain.h4mk"
    subprocess.run([h4mk_cli, "unmask", masked, "-o", cli_plain, "--key", key.hex()], check=True,
                   capture_output=True)
    assert plain.read_bytes() == cli_plain.read_bytes()
    with h4mk.Reader(plain) as a, h4mk.Reader(demo_file) as b:
        assert [(x.track, x.pts, x.data) for x in a] == [(x.track, x.pts, x.data) for x in b]

    priv, pub = tmp_path / "key.pem", tmp_path / "pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True)
    signed = tmp_path / "signed.h4mk"
    h4mk.sign(demo_file, signed, priv.read_text())
    assert h4mk.verify_signature(signed, pub.read_text())
    assert not h4mk.verify_signature(demo_file, pub.read_text())
    # A key may be given as the path of its PEM file, too.
    by_path = tmp_path / "signed-by-path.h4mk"
    h4mk.sign(demo_file, by_path, priv)
    assert h4mk.verify_signature(by_path, pub) and h4mk.verify_signature(by_path, str(pub))
    assert h4mk.verify(by_path, pub)["signature_ok"]
    with pytest.raises(FileNotFoundError):
        h4mk.sign(demo_file, by_path, tmp_path / "no-such-key.pem")
    subprocess.run([h4mk_cli, "verify", signed, "--pubkey", pub], check=True, capture_output=True)

    cut = tmp_path / "cut.h4mk"
    cut.write_bytes(demo_file.read_bytes()[:9000])
    fixed = tmp_path / "fixed.h4mk"
    report = h4mk.repair(cut, fixed)
    assert report["blocks_kept"] > 0 and report["damage"][0]["code"] == "truncated"
    assert h4mk.verify(fixed)["ok"]


def test_a_rewrite_warns_of_the_unknown_chunks_it_leaves_out(tmp_path):
    # The future_minor vector's XTRA and ZZZZ chunks are not safe to copy
    # (docs/FORMAT.md §9.6): left out, counted, and named in a warning.
    vector = pathlib.Path(__file__).parents[2] / "tests" / "vectors" / "future_minor.h4mk"
    with pytest.warns(UserWarning, match=r"left out 2 chunk\(s\) of unknown tags .* 'XTRA' at"):
        report = h4mk.mask(vector, tmp_path / "masked.h4mk", os.urandom(32))
    assert report["unknown_chunks"]["kept"] == 0 and report["unknown_chunks"]["left_out"] == 2
    assert "not safe to copy" in report["unknown_chunks"]["first_left_out"]
    with pytest.warns(UserWarning, match="left out 2"):
        repaired = h4mk.repair(vector, tmp_path / "repaired.h4mk")
    with h4mk.Reader(vector) as r:
        assert repaired["blocks_kept"] == len(list(r)) > 0
    # verify names them without calling them problems.
    report = h4mk.verify(vector)
    assert report["ok"] and report["unknown_chunk_count"] == 2
    assert report["unknown_chunks"] == [
        {"tag": b"XTRA", "offset": 119, "size": 20, "safe_to_copy": False},
        {"tag": b"ZZZZ", "offset": 186, "size": 28, "safe_to_copy": False}]
    assert h4mk.verify(tmp_path / "repaired.h4mk")["unknown_chunks"] == []
    # A file with none: nothing to warn of.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert h4mk.repair(tmp_path / "repaired.h4mk", tmp_path / "again.h4mk")[
            "unknown_chunks"] == {"kept": 0, "left_out": 0, "first_left_out": ""}


def test_a_signed_file_read_with_its_key_checks_every_byte(tmp_path, demo_file):
    priv, pub, other = tmp_path / "k.pem", tmp_path / "k.pub", tmp_path / "o.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", other], check=True)
    signed = tmp_path / "signed.h4mk"
    h4mk.sign(demo_file, signed, priv)
    with h4mk.Reader(signed, public_key=pub) as r, h4mk.Reader(demo_file) as plain:
        assert r.verified
        assert [(b.track, b.pts, b.data) for b in r] == [(b.track, b.pts, b.data) for b in plain]
    with h4mk.Reader(signed) as r:
        assert not r.verified
    # An unsigned file, or another signer's key, is refused at opening.
    with pytest.raises(h4mk.AuthFailed, match="not signed"):
        h4mk.Reader(demo_file, public_key=pub)
    other_pub = subprocess.run(["openssl", "pkey", "-in", other, "-pubout"], check=True,
                               capture_output=True).stdout
    with pytest.raises(h4mk.AuthFailed, match="another key"):
        h4mk.Reader(signed, public_key=other_pub)
    # A byte changed two thirds in: the blocks before it come out, then the
    # read that meets it raises, naming where.
    data = bytearray(signed.read_bytes())
    data[len(data) * 2 // 3] ^= 0x01
    with h4mk.Reader(bytes(data), public_key=pub) as r:
        got = []
        with pytest.raises(h4mk.VerifyFailed, match="altered") as e:
            for b in r:
                got.append(b)
        assert 0 < len(got) and e.value.offset <= len(data) * 2 // 3
        # A seek to the start plays again, verified.
        r.seek(1, 0)
        assert next(iter(r)).pts == 0


def test_hostile_file_objects_and_arguments_are_refused_loudly(tmp_path):
    buf = io.BytesIO()
    tokens_file(buf, 50)
    data = buf.getvalue()

    class TooMuch(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            return b"H" * (n + 1)

    class Text(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            return "H4MK"

    with pytest.raises(h4mk.IOFailure):
        h4mk.Reader(TooMuch())
    with pytest.raises(Exception):
        h4mk.Reader(Text())
    with pytest.raises(h4mk.InvalidArgument):
        h4mk.Reader(12345)
    with h4mk.Writer(io.BytesIO()) as w:
        w.add_track(h4mk.Track(id=1))
        n = 4
        for offsets in (np.array([0, 4, 2, 8, 8], np.uint64),
                        np.array([0, 1, 2, 3, 1 << 63], np.uint64),
                        np.array([-1, 0, 0, 0, 0], np.int64).astype(np.uint64)):
            with pytest.raises(h4mk.InvalidArgument, match="offsets"):
                w.write_blocks(1, np.zeros(n, np.uint8), np.arange(n), bytes(8), offsets=offsets)
        with pytest.raises(h4mk.InvalidArgument):
            w.write_blocks(1, np.zeros(n, np.uint8), np.arange(n), bytes(8), size=1 << 62)
        with pytest.raises(h4mk.InvalidArgument, match=r"types\[0\] is 7"):
            w.write_blocks(1, np.full(n, 7, np.uint8), np.arange(n), bytes(8), size=2)
        with pytest.raises(h4mk.InvalidArgument, match="entries"):
            w.write_blocks(1, np.zeros(3, np.uint8), np.arange(n), bytes(8), size=2)
    with pytest.raises(h4mk.InvalidArgument):
        h4mk.Writer(tmp_path / "x.h4mk", max_group_size=5)


def test_reversed_and_strided_buffers_are_read_in_their_own_order(tmp_path):
    """A buffer whose memory is not C-contiguous (a reversed memoryview, a
    strided or broadcast numpy view) is read element by element in its own
    order: never from its first element's address onward, which read out of
    bounds (a reversed memoryview as the source ended in a bus error)."""
    buf = io.BytesIO()
    tokens_file(buf, 200)
    data = buf.getvalue()
    with h4mk.Reader(data) as r:
        expected = [(b.track, b.pts, b.data) for b in r]

    reversed_view = memoryview(data[::-1])[::-1]
    assert reversed_view.strides == (-1,) and bytes(reversed_view) == data
    with h4mk.Reader(reversed_view) as r:
        assert [(b.track, b.pts, b.data) for b in r] == expected
    strided = np.frombuffer(data, np.uint8).repeat(3)[1::3]
    assert strided.strides == (3,)
    with h4mk.Reader(strided) as r:
        assert [(b.track, b.pts, b.data) for b in r] == expected

    class ReversedReads(io.RawIOBase):
        def __init__(self):
            self.at = 0

        def readable(self):
            return True

        def read(self, n=-1):
            chunk = data[self.at:self.at + min(n, 1000)]
            self.at += len(chunk)
            return memoryview(chunk[::-1])[::-1]

    with h4mk.Reader(ReversedReads()) as r:
        assert [(b.track, b.pts, b.data) for b in r] == expected

    grid = np.arange(64, dtype=np.uint8).reshape(8, 8)
    payloads = [grid[:, 1], grid[::-1, ::2], memoryview(bytes(range(30)))[::-3],
                np.broadcast_to(np.uint8(7), (100,)), np.asfortranarray(grid)]
    out = io.BytesIO()
    with h4mk.Writer(out) as w:
        w.add_track(h4mk.Track(id=1))
        for i, p in enumerate(payloads):
            w.write_block(1, "I", i, payload=p)
        w.write_blocks(1, np.zeros(2, np.uint8), np.arange(5, 7), grid[:, ::4], size=8)
    with h4mk.Reader(out.getvalue()) as r:
        got = [b.data for b in r]
    want = [bytes(np.ascontiguousarray(p)) if isinstance(p, np.ndarray) else bytes(p) for p in payloads]
    want += [bytes(np.ascontiguousarray(grid[:, ::4]))[:8], bytes(np.ascontiguousarray(grid[:, ::4]))[8:]]
    assert got == want


def test_ffmpeg_decodes_what_python_writes(tmp_path, ffmpeg):
    # 16-bit PCM in h4core blocks through the null adapter: ffmpeg decodes
    # it bit-exactly.
    rate, n = 16000, 16000
    samples = (np.sin(np.arange(n) * 2 * np.pi * 300 / rate) * 20000).astype("<i2")
    path = tmp_path / "pcm.h4mk"
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="audio", codec="h4core", time_base=(1, rate),
                               adapter="null", sample_rate=rate, channels=1))
        starts = np.arange(0, n, 320)
        w.write_blocks(1, np.where(starts % 3200 == 0, 0, 1).astype(np.uint8), starts,
                       samples.view(np.uint8), size=640, durations=np.full(len(starts), 320))
    wav = tmp_path / "pcm.wav"  # (the lean test build has no raw PCM muxer)
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", path, "-c:a", "pcm_s16le", wav],
                   check=True)
    import wave
    with wave.open(str(wav)) as f:
        assert (f.getframerate(), f.getnchannels()) == (rate, 1)
        assert np.array_equal(np.frombuffer(f.readframes(f.getnframes()), "<i2"), samples)
