"""Files on plain HTTP servers (nginx here: what a CDN or object store gives,
Range and nothing else), read by range through fsspec; a signed file checked
as it is read; Readers that pickle by reopening their source."""
import io
import pickle
import shutil
import subprocess
import zlib

import numpy as np
import pytest

import h4mk


def blocks(reader):
    return [(b.track, b.type, b.pts, b.data) for b in reader]


def test_a_url_reads_what_the_file_holds_by_range(demo_file, nginx):
    shutil.copy(demo_file, nginx.root / "demo.h4mk")
    with h4mk.Reader(demo_file) as local:
        want = blocks(local)
        tracks = local.tracks
    size = demo_file.stat().st_size
    with h4mk.Reader(nginx.url("demo.h4mk")) as r:
        assert [t.id for t in r.tracks] == [t.id for t in tracks]
        opened = nginx.requests()
        assert blocks(r) == want
        # A seek reads near its target: a few range requests, not the file.
        before = nginx.requests()
        landed = r.seek(tracks[1].id, 0)
        assert next(iter(r)).pts == landed["pts"]
        assert nginx.requests() - before <= 4
    # Opening read the start and the end, not the file, one request per
    # 64 KiB block at most.
    assert opened <= 2 + size // 65536
    with pytest.raises(FileNotFoundError):
        h4mk.Reader(nginx.url("missing.h4mk"))


def test_a_whole_pass_over_http_takes_few_requests(nginx):
    # 2.9 MB of frames: fixed 64 KiB requests would be 45; requests that
    # double while reading goes on are about a dozen, and a seek after a
    # pass starts small again.
    frames = np.random.default_rng(3).integers(0, 1 << 15, size=(180_000, 8), dtype=np.int16)
    path = nginx.root / "frames.h4mk"
    with h4mk.Writer(path) as w:
        w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(8,))
        w.write_blocks(1, np.where(np.arange(len(frames)) % 100 == 0, 0, 1), np.arange(len(frames)),
                       frames, size=16)
    size = path.stat().st_size
    with h4mk.Reader(nginx.url("frames.h4mk")) as r:
        before = nginx.requests()
        assert np.array_equal(r.read_array(1), frames)
        whole = nginx.requests() - before
        before = nginx.requests()
        assert np.array_equal(r.read_array(1, 1800.0, 1801.0), frames[90_000:90_050])
        ranged = nginx.requests() - before
    assert size > 2_900_000 and whole <= 14, whole
    assert ranged <= 3, ranged


def test_a_server_that_gives_no_size_is_read_as_a_stream():
    # Chunked answers without a length, no Range: fsspec can only stream it,
    # so the reader reads it in order, as from a pipe.
    import http.server
    import threading
    frames = np.arange(400, dtype=np.int16).reshape(100, 4)
    buf = io.BytesIO()
    with h4mk.Writer(buf) as w:
        w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(4,))
        w.write_blocks(1, np.zeros(100, np.uint8), np.arange(100), frames, size=8,
                       durations=np.ones(100, np.int64))
    data = buf.getvalue()

    class Chunked(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()

        def do_GET(self):
            self.do_HEAD()
            try:
                for i in range(0, len(data), 1000):
                    piece = data[i:i + 1000]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # a client that stopped reading
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Chunked)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/stream.h4mk"
        with h4mk.Reader(url) as r:
            got = [b.data for b in r]
        assert b"".join(got) == frames.tobytes() and len(got) == 100
        # A whole pass from the start, once: a stream cannot go back for another.
        with h4mk.Reader(url) as r:
            assert np.array_equal(r.read_array(1), frames)
            with pytest.raises(h4mk.Error, match="cannot go back to offset .* non-seekable"):
                r.read_array(1)
        with h4mk.Reader(url) as r:
            assert len(list(r)) == 100
            with pytest.raises(h4mk.Error, match="non-seekable"):
                r.read_track(1)
    finally:
        server.shutdown()


def test_a_server_that_ignores_range_is_refused(tmp_path):
    # Python's own http.server answers every GET with the whole file. fsspec
    # then hands out the file's first bytes for any offset: a seek found no
    # I block where there are many. The reader must say what is wrong.
    import functools
    import http.server
    import threading
    frames = np.random.default_rng(5).integers(0, 1 << 15, size=(40_000, 8), dtype=np.int16)
    with h4mk.Writer(tmp_path / "frames.h4mk") as w:
        w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(8,))
        w.write_blocks(1, np.where(np.arange(len(frames)) % 100 == 0, 0, 1),
                       np.arange(len(frames)), frames, size=16)
    assert (tmp_path / "frames.h4mk").stat().st_size > 4 * 65536

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/frames.h4mk"
        with pytest.raises(h4mk.IOFailure, match="frames.h4mk: the server does not answer range "
                                                 "requests: asked for offset [1-9][0-9]*, it sent "
                                                 "the file's first bytes"):
            with h4mk.Reader(url) as r:
                r.seek(1, 30_000)
                list(r)
    finally:
        server.shutdown()


def test_a_file_replaced_on_the_server_while_it_is_read_is_refused(tmp_path, nginx):
    # Every range request asks for the ETag the file had when it was opened
    # (If-Match): one replaced mid-read answers 412, and the reader says so
    # instead of handing out chunks of two files, each with a valid CRC.
    def frames_file(path, seed, count):
        frames = np.random.default_rng(seed).integers(0, 1 << 15, size=(count, 8), dtype=np.int16)
        with h4mk.Writer(path) as w:
            w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(8,))
            w.write_blocks(1, np.where(np.arange(count) % 100 == 0, 0, 1), np.arange(count),
                           frames, size=16)
        return frames

    served = nginx.root / "moving.h4mk"
    frames = frames_file(served, 7, 40_000)
    frames_file(tmp_path / "other.h4mk", 8, 40_100)  # another size: another ETag
    with h4mk.Reader(nginx.url("moving.h4mk")) as r:
        assert np.array_equal(r.read_array(1, 0.0, 2.0), frames[:100])
        shutil.copy(tmp_path / "other.h4mk", tmp_path / "other-copy.h4mk")
        (tmp_path / "other-copy.h4mk").replace(served)
        with pytest.raises(h4mk.IOFailure, match=r"moving.h4mk: bytes [0-9]+-[0-9]+: the file "
                                                 r"changed on the server since it was opened "
                                                 r"\(it no longer has ETag \"[0-9a-f-]+\"\)"):
            r.read_array(1, 600.0, 602.0)
    # Unchanged, the same reads pass with the validator on every request.
    with h4mk.Reader(nginx.url("moving.h4mk")) as r:
        assert len(r.read_array(1, 600.0, 602.0)) == 100


def flip_a_core_byte_and_reseal(data: bytearray, near: int) -> int:
    """Changes one payload byte of the CORE chunk that holds `near` (or the
    next one) and recomputes its chunk CRC and the container CRC, as an
    attacker who knows the format would: only the signature can tell."""
    pos = 16
    while True:
        tag = bytes(data[pos:pos + 4])
        size = int.from_bytes(data[pos + 4:pos + 8], "little")
        if tag == b"CORE" and pos + 12 + size > near:
            break
        pos += 12 + size
    at = pos + 12 + size - 1  # the last payload byte: a block's, not the header's
    data[at] ^= 0x01
    crc = zlib.crc32(bytes(data[pos:pos + 8]) + bytes(data[pos + 12:pos + 12 + size]))
    data[pos + 8:pos + 12] = crc.to_bytes(4, "little")
    data[-4:] = zlib.crc32(bytes(data[:-4])).to_bytes(4, "little")
    return pos


def test_a_signed_file_over_http_is_checked_as_it_is_read(tmp_path, demo_file, nginx):
    priv, pub = tmp_path / "k.pem", tmp_path / "k.pub"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", priv], check=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True)
    signed = nginx.root / "signed.h4mk"
    h4mk.sign(demo_file, signed, priv)
    data = bytearray(signed.read_bytes())
    group = flip_a_core_byte_and_reseal(data, len(data) * 2 // 3)
    (nginx.root / "tampered.h4mk").write_bytes(bytes(data))
    with h4mk.Reader(demo_file) as plain:
        want = blocks(plain)
    # Without the key every CRC passes: the changed block reads as data.
    with h4mk.Reader(bytes(data)) as r:
        assert len(blocks(r)) == len(want)
    with h4mk.Reader(nginx.url("signed.h4mk"), public_key=pub) as r:
        assert r.verified
        assert blocks(r) == want
    # The tampered group is refused, naming where; nothing of it comes out.
    # Blocks before it do, and a seek to the start plays again, verified.
    with h4mk.Reader(nginx.url("tampered.h4mk"), public_key=pub) as r:
        got = []
        with pytest.raises(h4mk.VerifyFailed) as e:
            for b in r:
                got.append(b)
        assert got and all(b.chunk_offset < group for b in got)
        assert e.value.offset <= group
        track = got[0].track
        r.seek(track, 0)
        assert next(iter(r)).pts == 0
    # An unsigned file over HTTP, in verifying mode, is refused at opening.
    shutil.copy(demo_file, nginx.root / "plain.h4mk")
    with pytest.raises(h4mk.AuthFailed, match="not signed"):
        h4mk.Reader(nginx.url("plain.h4mk"), public_key=pub)


def test_readers_pickle_by_reopening_their_source(demo_file, nginx):
    shutil.copy(demo_file, nginx.root / "demo.h4mk")
    with h4mk.Reader(demo_file) as r:
        want = blocks(r)
    for source in (demo_file, str(demo_file), demo_file.read_bytes(), nginx.url("demo.h4mk")):
        r = h4mk.Reader(source)
        next(iter(r))  # a position of its own: the copy starts at the beginning
        copy = pickle.loads(pickle.dumps(r))
        assert blocks(copy) == want, source if isinstance(source, str) else type(source)
        r.close()
        copy.close()
    with open(demo_file, "rb") as f, h4mk.Reader(f) as r:
        with pytest.raises(TypeError, match="file object"):
            pickle.dumps(r)


def _pts_of(reader):
    return [(b.track, b.pts) for b in reader]


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_worker_processes_read_with_positions_of_their_own(demo_file, method):
    """A Reader handed to multiprocessing workers (as a torch DataLoader
    does) is pickled; each worker reopens the file and reads it whole, from
    the beginning, whatever the parent's position."""
    import multiprocessing

    with h4mk.Reader(demo_file) as r:
        want = _pts_of(r)
    r = h4mk.Reader(demo_file)
    next(iter(r))
    with multiprocessing.get_context(method).Pool(2) as pool:
        got = pool.map(_pts_of, [r, r, r])
    assert got == [want] * 3
    assert len(_pts_of(r)) == len(want) - 1  # the parent's position is its own
    r.close()


def test_threads_read_time_ranges_with_copies_of_one_reader(demo_file):
    import concurrent.futures

    r = h4mk.Reader(demo_file)
    track = r.tracks[0]
    num, den = track.time_base
    end = max(b.pts for b in h4mk.Reader(demo_file) if b.track == track.id) * num / den
    cuts = [end * k / 8 for k in range(9)]
    want = [list(r.read_range(track.id, a, b)["pts"]) for a, b in zip(cuts, cuts[1:])]
    assert sum(map(len, want)) > 8

    def read(i):
        copy = pickle.loads(pickle.dumps(r))
        return [list(copy.read_range(track.id, a, b)["pts"]) for a, b in zip(cuts, cuts[1:])]

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for got in pool.map(read, range(8)):
            assert got == want
