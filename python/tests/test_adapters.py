"""Adapters: a Python ModelAdapter runs in libh4mk's own decode chain (the one
ffmpeg and h4mk decode run), exactly as a C plugin does; C plugins work with
the seeds' calls."""
import random
import struct

import numpy as np
import pytest

import h4mk
from h4mk.adapters import DSPAdapter, ModelAdapter, NullAdapter, Plugin, decode_range
from conftest import tool


def fnv(h, data):
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class OrderAdapter(ModelAdapter):
    """tests/adapters/order_adapter.cpp in Python: each state hashes the block
    type, the states it builds on and the payload."""

    @staticmethod
    def _hash(kind, a, c, opaque):
        h = fnv(0xCBF29CE484222325, bytes([kind]))
        h = fnv(h, struct.pack("<Q", a))
        h = fnv(h, struct.pack("<Q", c))
        return fnv(h, opaque)

    def decode_I(self, opaque):
        return self._hash(0, 0, 0, opaque)

    def apply_P(self, state, opaque):
        return self._hash(1, state, 0, opaque)

    def apply_B(self, prev, next, opaque):
        return self._hash(2, prev, next, opaque)

    def finalize(self, state):
        return struct.pack("<Q", state)


def ipb_file(path, gops=30, damage=False):
    """A data track in decode order I0 P3 B1 B2 P6 B4 B5 ... (40 ms a block)."""
    with h4mk.Writer(path, max_group_blocks=7) as w:
        w.add_track(h4mk.Track(id=1, kind="data", time_base=(1, 1000)))
        for g in range(gops):
            base = g * 12
            w.write_block(1, "I", base * 40, base * 40 - 80, 40, b"I%d" % base)
            for anchor in range(3, 12, 3):
                p = base + anchor
                w.write_block(1, "P", p * 40, (p - 2) * 40 - 80 + 40, 40, b"P%d" % p)
                for b in (p - 2, p - 1):
                    w.write_block(1, "B", b * 40, b * 40 - 80 + 80, 40, b"B%d" % b)
    if damage:
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0x40
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [False, True])
def test_a_python_adapter_decodes_as_the_c_plugin_for_random_ranges(tmp_path, damage):
    path = tmp_path / "ipb.h4mk"
    ipb_file(path, damage=damage)
    plugin = Plugin(path=str(tool("tests", "adapters", "h4mk_test_order_adapter.so")))
    rng = random.Random(11)
    ranges = [(rng.randrange(-100, 14500), rng.randrange(1, 3000)) for _ in range(60)]
    ranges += [(-(1 << 62), 1 << 62), (0, 1)]
    frames = 0
    with h4mk.Reader(path) as r:
        for t0, length in ranges:
            from_c = decode_range(r, 1, t0, t0 + length, plugin)
            from_py = decode_range(r, 1, t0, t0 + length, OrderAdapter())
            assert from_py == from_c, (t0, length)
            assert [f[0]["pts"] for f in from_c] == sorted(f[0]["pts"] for f in from_c)
            frames += len(from_c)
    assert frames > 500


def test_adapter_errors_propagate_with_the_block_they_failed_on(tmp_path):
    path = tmp_path / "ipb.h4mk"
    ipb_file(path, gops=2)

    class Broken(OrderAdapter):
        def apply_P(self, state, opaque):
            raise RuntimeError("model failed on " + opaque.decode())

    class NoB(ModelAdapter):
        def decode_I(self, opaque):
            return opaque

        def apply_P(self, state, opaque):
            return opaque

        def finalize(self, state):
            return state

    with h4mk.Reader(path) as r:
        with pytest.raises(RuntimeError, match="model failed on P3"):
            decode_range(r, 1, 0, 10_000, Broken())
        with pytest.raises(h4mk.InvalidArgument, match="B block"):
            decode_range(r, 1, 0, 10_000, NoB())
        with pytest.raises(h4mk.NotFound):
            decode_range(r, 9, 0, 10_000, NoB())


def test_the_dsp_plugin_turns_tokens_back_into_audio(tmp_path, ffmpeg):
    import subprocess
    path = tmp_path / "tokens.h4mk"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=1:sample_rate=16000", "-c:a", "h4core", "-f",
                    "h4mk", path], check=True)
    with h4mk.Reader(path) as r:
        track = r.tracks[0]
        assert track.adapter == "dsp"
        frames = decode_range(r, track.id, 0, 16000, DSPAdapter(reader=r, track=track.id))
    audio = np.concatenate([out for _, out in frames])
    assert audio.dtype == np.float32 and audio.shape[1] == 1 and audio.shape[0] >= 16000
    spectrum = np.abs(np.fft.rfft(audio[4000:12000, 0]))
    assert abs(np.argmax(spectrum) * 16000 / 8000 - 440) < 10
    with pytest.raises(h4mk.Error):
        Plugin("no_such_adapter")
    with pytest.raises(h4mk.InvalidArgument):
        Plugin("../dsp")  # a name is a bare name; paths are the program's own choice


def test_decode_range_gives_a_model_adapter_its_track_as_ffmpeg_does():
    class Rated(NullAdapter):
        def finalize(self, state):
            return (self.track["sample_rate"], self.track["channels"], len(super().finalize(state)))

    w = h4mk.Writer()
    w.add_track(id=3, kind="audio", time_base=(1, 16000), sample_rate=16000, channels=2,
                adapter="null")
    for i in range(4):
        w.write_block(3, "I" if i == 0 else "P", 160 * i, duration=160, payload=b"ab")
    w.finish()
    with h4mk.Reader(w.getvalue()) as r:
        frames = decode_range(r, 3, 0, 640, Rated())
    assert [out for _, out in frames] == [(16000, 2, 2), (16000, 2, 4), (16000, 2, 6), (16000, 2, 8)]
