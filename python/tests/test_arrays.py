"""Tracks whose blocks are arrays (docs/FORMAT.md §6.1 `array`): the dtype and
frame shape travel in the file, reads give arrays of them, a time range
reads through the seek table, several tracks cost one pass, and nothing is
ever reinterpreted silently."""
import io
import json

import numpy as np
import pytest

import h4mk
from conftest import without_gil

RATE = 50  # frames a second


def tokens_file(frames: int = 500, compress: bool = False) -> tuple[bytes, np.ndarray]:
    """8-codebook int16 tokens, one frame a block, an I block a second; and a
    second, untyped track."""
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, 1024, size=(frames, 8), dtype=np.int16)
    buf = io.BytesIO()
    with h4mk.Writer(buf, compress=compress) as w:
        w.add_track(id=1, time_base=(1, RATE), dtype="int16", shape=(8,),
                    extra={"myapp": {"model": "codec-v2"}})
        w.add_track(id=2, time_base=(1, RATE))
        types = np.where(np.arange(frames) % RATE == 0, 0, 1)
        w.write_blocks(1, types, np.arange(frames), tokens, size=16)
        w.write_blocks(2, np.zeros(frames // 10, dtype=np.uint8), np.arange(0, frames, 10),
                       b"ctl" * (frames // 10), size=3)
    return buf.getvalue(), tokens


@pytest.mark.parametrize("compress", [False, True])
def test_a_typed_track_reads_back_as_its_arrays(compress):
    data, tokens = tokens_file(compress=compress)
    with h4mk.Reader(data) as r:
        t = r.track(1)
        assert (t.dtype, t.shape, t.frame_bytes) == ("int16", (8,), 16)
        assert t.extra == {"myapp": {"model": "codec-v2"}}
        assert r.track(2).dtype == "" and r.track(2).frame_bytes == 0
        a = r.read_track(1)
        assert a["data"].dtype == np.dtype("<i2") and a["data"].shape == (500, 8)
        assert np.array_equal(a["data"], tokens)
        assert np.array_equal(a["frames"], np.ones(500))
        assert "data" not in r.read_track(2)
        # The frames alone, without an array per block field.
        frames = r.read_array(1)
        assert frames.dtype == np.dtype("<i2") and frames.shape == (500, 8)
        assert np.array_equal(frames, tokens)
        with pytest.raises(h4mk.InvalidArgument, match="track 2 declares no dtype"):
            r.read_array(2)
        with pytest.raises(h4mk.NotFound):
            r.read_array(9)
    # The TRAK says so in JSON any reader can read.
    with h4mk.Reader(data) as r:
        copy = io.BytesIO()
        with h4mk.Writer(copy) as w:
            w.add_track(r.track(1))
        assert h4mk.Reader(copy.getvalue()).track(1).extra == {"myapp": {"model": "codec-v2"}}
    assert b'"array":{"dtype":"int16","shape":[8]}' in data


def test_a_time_range_reads_through_the_seek_table():
    data, tokens = tokens_file()
    with h4mk.Reader(data) as r:
        a = r.read_range(1, 2.0, 3.5)  # seconds: frames 100..174
        assert list(a["pts"][[0, -1]]) == [100, 174]
        assert np.array_equal(a["data"], tokens[100:175])
        b = r.read_range(1, 125, 130, unit="ticks")  # from a P block: its I is not given
        assert list(b["pts"]) == [125, 126, 127, 128, 129]
        assert np.array_equal(b["data"], tokens[125:130])
        assert len(r.read_range(1, 20.0, 30.0)["pts"]) == 0
        assert np.array_equal(r.read_range(1, -1, 0.1)["data"], tokens[:5])
        # read_array takes the same bounds, and either end may stay open.
        assert np.array_equal(r.read_array(1, 2.0, 3.5), tokens[100:175])
        assert np.array_equal(r.read_array(1, 125, 130, unit="ticks"), tokens[125:130])
        assert np.array_equal(r.read_array(1, end=0.1), tokens[:5])
        assert np.array_equal(r.read_array(1, start=9.9), tokens[495:])
        assert r.read_array(1, 20.0, 30.0).shape == (0, 8)
        with pytest.raises(h4mk.InvalidArgument, match="before start"):
            r.read_array(1, 3, 2)
        with pytest.raises(h4mk.InvalidArgument, match="before start"):
            r.read_range(1, 3, 2)
        with pytest.raises(h4mk.InvalidArgument, match="unit"):
            r.read_range(1, 0, 1, unit="ms")
        with pytest.raises(h4mk.InvalidArgument, match="start"):
            r.read_range(1, 0.5, 2, unit="ticks")
        for bad in (float("nan"), float("inf"), "1", True):
            with pytest.raises(h4mk.InvalidArgument, match="start: a finite number"):
                r.read_range(1, bad, 2)
        with pytest.raises(h4mk.NotFound):
            r.read_range(9, 0, 1)


class CountingFile(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n=-1):
        got = super().read(n)
        self.bytes_read += len(got)
        return got


def test_several_tracks_cost_one_pass():
    data, tokens = tokens_file(5000)
    f = CountingFile(data)
    with h4mk.Reader(f) as r:
        start = f.bytes_read
        both = r.read_tracks([1, 2])
        one_pass = f.bytes_read - start
        assert np.array_equal(both[1]["data"], tokens)
        assert list(both[2]["pts"]) == list(range(0, 5000, 10))
        start = f.bytes_read
        r.read_track(1)
        r.read_track(2)
        two_passes = f.bytes_read - start
        assert r.read_tracks([]) == {}
        with pytest.raises(h4mk.InvalidArgument, match="tracks"):
            r.read_tracks([1, 0])
    assert one_pass < 1.2 * len(data) < two_passes


def test_arrays_are_never_reinterpreted_silently():
    with pytest.raises(h4mk.InvalidArgument, match="dtype"):
        h4mk.Track(id=1, dtype="int12")
    for shape in [(0,), (-1,), (2.0,), (True,), (1,) * 9]:
        with pytest.raises(h4mk.InvalidArgument, match="shape"):
            h4mk.Track(id=1, dtype="int16", shape=shape)
    with pytest.raises(h4mk.InvalidArgument, match="over"):
        h4mk.Track(id=1, dtype="float64", shape=(1 << 15, 1 << 15))
    w = h4mk.Writer(io.BytesIO())
    w.add_track(id=1, time_base=(1, RATE), dtype="int16", shape=(8,))
    with pytest.raises(h4mk.InvalidArgument, match="whole frames"):
        w.write_block(1, "I", 0, payload=b"x" * 15)
    with pytest.raises(h4mk.InvalidArgument, match="int16.*int32"):
        w.write_block(1, "I", 0, payload=np.zeros(8, dtype=np.int32))
    with pytest.raises(h4mk.InvalidArgument, match="whole frames"):
        w.write_blocks(1, [0, 1], [0, 1], np.zeros(20, dtype=np.int16), offsets=[0, 20, 40])
    with pytest.raises(h4mk.InvalidArgument, match="array member"):
        w.add_track(id=2, extra={"array": {"dtype": "int16", "shape": [1]}})
    w.write_block(1, "I", 0, payload=np.zeros(16, dtype=np.int16))  # two frames: whole
    w.close()


def rewrite_trak(data: bytes, change) -> bytes:
    """The file with its TRAK's track 1 changed (the writer would refuse to
    write it), read back by a reader that does not check the CRC: a file's
    JSON is what an attacker controls."""
    buf = io.BytesIO()
    with h4mk.Reader(data) as r, h4mk.Writer(buf) as w:
        for t in r.tracks:
            if t.id == 1:
                extra = {**t.extra, "array": {"dtype": t.dtype, "shape": list(t.shape)}}
                change(extra["array"])
                t.dtype, t.shape = "", ()
                t.extra = {}
                w._w.add_track(t, 0, b"", json.dumps(extra))
            else:
                w.add_track(t)
        for b in r:
            w.write_block(b.track, b.type, b.pts, b.dts, b.duration, b.data)
    return buf.getvalue()


def test_a_file_whose_blocks_are_not_whole_frames_is_refused_naming_the_block():
    data, _ = tokens_file(100)
    # shape [3]: 16-byte blocks are not whole 6-byte frames.
    lying = rewrite_trak(data, lambda a: a.update(shape=[3]))
    with h4mk.Reader(lying) as r:
        assert r.track(1).shape == (3,)
        with pytest.raises(h4mk.FormatError, match=r"track 1: block 0 \(pts 0\) holds 16 bytes"):
            r.read_track(1)
        with pytest.raises(h4mk.FormatError, match=r"track 1: block 0 \(pts 0\) holds 16 bytes"):
            r.read_array(1)
        with pytest.raises(h4mk.FormatError, match=r"track 1: block 0 \(pts 50\) holds 16 bytes"):
            r.read_array(1, 1.0, 1.5)
        assert len(r.read_track(2)["pts"]) == 10  # the other track reads
        assert next(iter(r)).pts == 0  # and reading starts from the beginning again
    # A dtype no reader knows: the blocks read as bytes, with a warning.
    odd = rewrite_trak(data, lambda a: a.update(dtype="complex256"))
    with pytest.warns(h4mk.DamageWarning, match="array member is not usable"):
        t = h4mk.Reader(odd).track(1)
    assert t.dtype == "" and t.extra["array"]["dtype"] == "complex256"
    with pytest.warns(h4mk.DamageWarning):
        assert "data" not in h4mk.Reader(odd).read_track(1)


def test_read_array_raises_on_damage_unless_asked_not_to():
    data, tokens = tokens_file(500)
    with h4mk.Reader(data) as r:
        group_of = {b.pts: b.chunk_offset for b in r if b.track == 1}
    groups = sorted(set(group_of.values()))
    intact = [pts for pts, offset in group_of.items() if offset != groups[1]]
    damaged = bytearray(data)
    damaged[groups[1] + 40] ^= 0xFF  # a payload byte of the track's second group
    with h4mk.Reader(bytes(damaged)) as r:
        with pytest.raises(h4mk.FormatError, match=f"the first at offset {groups[1]}") as e:
            r.read_array(1)
        assert e.value.code == "crc_mismatch"
        kept = r.read_array(1, strict=False)
        # The second group's frames are gone; the others are the written ones.
        assert 0 < len(intact) == len(kept) < 500
        assert np.array_equal(kept, tokens[intact])


def test_read_array_lets_the_gil_go(tmp_path):
    n = 300_000
    path = tmp_path / "frames.h4mk"
    frames = np.arange(n * 4, dtype=np.int16).reshape(n, 4)
    with h4mk.Writer(path) as w:
        w.add_track(id=1, time_base=(1, 1000), dtype="int16", shape=(4,))
        w.write_blocks(1, np.zeros(n, np.uint8), np.arange(n), frames, size=8)
    with h4mk.Reader(path) as r:
        got, let_go = without_gil(lambda: r.read_array(1))
    assert let_go, "read_array held the GIL"
    assert np.array_equal(got, frames)


def fixed_size_frames(frames: np.ndarray, key_every: int) -> bytes:
    """Track 1: frames of one duration in groups of 50, an I block every
    key_every frames (P blocks between them); track 2: a block between every
    500 frames."""
    buf = io.BytesIO()
    with h4mk.Writer(buf, max_group_duration_us=1_000_000) as w:
        w.add_track(id=1, time_base=(1, RATE), dtype="int16", shape=(4,))
        w.add_track(id=2, time_base=(1, RATE), dtype="uint8", shape=(3,))
        for start in range(0, len(frames), 500):
            pts = np.arange(start, start + 500)
            w.write_blocks(1, np.where(pts % key_every == 0, 0, 1), pts, frames[start:start + 500],
                           size=8, durations=np.ones(500, np.int64))
            w.write_blocks(2, [0], [start], b"abc", size=3)
    return buf.getvalue()


@pytest.mark.parametrize("key_every", [1, 50])
def test_frames_stored_in_fixed_size_groups_read_back_whole_and_by_range(key_every):
    # Frames of one duration, every block I or an I block starting each group
    # then P blocks (KEY_FIRST): FIXED_SIZE groups, which read_array copies a
    # run at a time; another track's blocks between them.
    rng = np.random.default_rng(11)
    frames = rng.integers(-(1 << 15), 1 << 15, size=(3000, 4), dtype=np.int16)
    data = fixed_size_frames(frames, key_every)
    # An I block then P blocks costs what all I blocks cost: no record a block.
    assert len(data) == len(fixed_size_frames(frames, 1))
    with h4mk.Reader(data) as r:
        assert np.array_equal(r.read_array(1), frames)
        assert np.array_equal(r.read_array(1, 10.0, 20.0), frames[500:1000])
        assert np.array_equal(r.read_array(1, 1001, 1003, unit="ticks"), frames[1001:1003])
        assert r.read_array(2).tolist() == [[97, 98, 99]] * 6
        # read_track gives every block's fields, a run's spelled out.
        a = r.read_track(1)
        assert np.array_equal(a["pts"], np.arange(3000)) and np.array_equal(a["dts"], a["pts"])
        assert set(a["duration"]) == {1} and set(a["flags"]) == {0}
        assert np.array_equal(a["types"], np.where(np.arange(3000) % key_every == 0, 0, 1))
        assert np.array_equal(a["offsets"], np.arange(3001) * 8)
        assert np.array_equal(a["data"], frames)
        # A range inside a group: the seek lands on the I block that starts it.
        inside = r.read_range(1, 1030, 1040, unit="ticks")
        assert np.array_equal(inside["types"], a["types"][1030:1040])
        assert np.array_equal(inside["data"], frames[1030:1040])
