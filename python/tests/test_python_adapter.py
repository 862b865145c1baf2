"""The python adapter: a ModelAdapter subclass decoding inside `h4mk decode`
and ffmpeg (in the interpreter h4mk-python-adapter.so embeds) gives exactly
what it gives in-process; only the user can ask for it, never a file."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import h4mk
from conftest import tool

MODEL = textwrap.dedent('''
    import numpy as np
    import h4mk

    class ToyAudio(h4mk.ModelAdapter):
        """I: int8 samples; P: int8 deltas on the previous block's samples."""
        def __init__(self, gain="1.0"):
            self.gain = float(gain)
        def decode_I(self, opaque):
            return np.frombuffer(opaque, np.int8).astype(np.float32) / 128 * self.gain
        def apply_P(self, state, opaque):
            return state + np.frombuffer(opaque, np.int8).astype(np.float32) / 128 * self.gain
        def finalize(self, state):
            return state.reshape(-1, self.track["channels"])

    class ToyVideo(h4mk.ModelAdapter):
        """I: a gray picture; P: byte deltas; B: the mean of its anchors."""
        def decode_I(self, opaque):
            return np.frombuffer(opaque, np.uint8).reshape(self.track["height"], self.track["width"])
        def apply_P(self, state, opaque):
            return state + np.frombuffer(opaque, np.uint8).reshape(state.shape)
        def apply_B(self, prev, next, opaque):
            return ((prev.astype(np.uint16) + next) // 2).astype(np.uint8)
        def finalize(self, state):
            return state

    class Broken(h4mk.ModelAdapter):
        def decode_I(self, opaque):
            raise ValueError("no model weights here")
        def apply_P(self, state, opaque):
            return state
        def finalize(self, state):
            return state

    class WrongShape(ToyAudio):
        def finalize(self, state):
            return np.zeros((3, 7), np.float32)
''')


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    (d / "toy_model.py").write_text(MODEL)
    return d


def options(model_dir, cls, extra=""):
    return f"module=toy_model:class={cls}:path={model_dir}:python={sys.executable}" + extra


def audio_file(path, adapter=""):
    rng = np.random.default_rng(1)
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 8000), sample_rate=8000,
                               channels=2, adapter=adapter))
        for i in range(60):
            w.write_block(1, "I" if i % 10 == 0 else "P", i * 160, duration=160,
                          payload=rng.integers(-20, 20, 320, dtype=np.int8).tobytes())
    return path


def video_file(path):
    rng = np.random.default_rng(2)
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="video", time_base=(1, 25), width=16, height=8))
        # Decode order I0 P3 B1 B2 P6 B4 B5 P8 B7 I9 ..., dts one tick apart.
        order = []
        for base in range(0, 36, 9):
            order.append(("I", base))
            for p in (base + 3, base + 6):
                order += [("P", p), ("B", p - 2), ("B", p - 1)]
            order += [("P", base + 8), ("B", base + 7)]
        for k, (kind, pts) in enumerate(order):
            payload = (rng.integers(0, 255, 128, np.uint8) if kind == "I" else
                       rng.integers(0, 4, 128, np.uint8) if kind == "P" else np.ones(1, np.uint8))
            w.write_block(1, kind, pts, k - 1, 1, payload.tobytes(), discardable=kind == "B")
    return path


def in_process(path, cls, model_dir, **kwargs):
    sys.path.insert(0, str(model_dir))
    try:
        import toy_model
    finally:
        sys.path.remove(str(model_dir))
    adapter = getattr(toy_model, cls)(**kwargs)
    with h4mk.Reader(path) as r:
        t = r.tracks[0]
        adapter.track = {"channels": t.channels, "width": t.width, "height": t.height}
        return [out for _, out in h4mk.decode_range(r, 1, -10**12, 10**12, adapter)]


def test_audio_is_the_same_in_process_through_h4mk_decode_and_ffmpeg(tmp_path, model_dir, ffmpeg):
    f = audio_file(tmp_path / "tokens.h4mk")
    want = np.concatenate(in_process(f, "ToyAudio", model_dir, gain="0.5")).astype("<f4")
    assert want.shape == (60 * 160, 2)

    subprocess.run([tool("tools", "h4mk"), "decode", f, "--adapter", "python",
                    "--adapter-options", options(model_dir, "ToyAudio", ":gain=0.5"),
                    "-o", tmp_path / "cli.wav"], check=True, capture_output=True)
    cli = (tmp_path / "cli.wav").read_bytes()
    assert cli[-want.nbytes:] == want.tobytes()

    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-adapter", "python", "-adapter_options",
                    options(model_dir, "ToyAudio", ":gain=0.5"), "-i", f, "-c:a", "pcm_f32le",
                    "-y", tmp_path / "ff.wav"], check=True, capture_output=True)
    ff = (tmp_path / "ff.wav").read_bytes()
    assert ff[-want.nbytes:] == want.tobytes()


def test_video_with_b_blocks_is_the_same_in_ffmpeg(tmp_path, model_dir, ffmpeg):
    f = video_file(tmp_path / "video.h4mk")
    want = b"".join(np.ascontiguousarray(p).tobytes() for p in in_process(f, "ToyVideo", model_dir))
    assert len(want) == 36 * 128
    r = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-adapter", "python",
                        "-adapter_options", options(model_dir, "ToyVideo"), "-i", f,
                        "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout == want


def test_a_file_cannot_ask_for_the_python_adapter(tmp_path, ffmpeg):
    f = audio_file(tmp_path / "names-python.h4mk", adapter="python")
    why = "only the user can choose it"
    r = subprocess.run([tool("tools", "h4mk"), "decode", f, "-o", tmp_path / "x.wav"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and why in r.stderr
    r = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", f, "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and why in r.stderr
    with pytest.raises(h4mk.InvalidArgument, match=why):
        h4mk.Plugin("python", "module=os:class=system")


@pytest.mark.parametrize("cls,extra,message", [
    ("ToyAudio", ":unknown=1", "unexpected keyword argument 'unknown'"),
    ("NoSuchClass", "", "class NoSuchClass: AttributeError"),
    ("Broken", "", "toy_model.Broken.decode_I: ValueError: no model weights here"),
    ("WrongShape", "", "toy_model.WrongShape.finalize: (3, 7) of 'f' is not audio"),
])
def test_the_models_errors_are_named(tmp_path, model_dir, cls, extra, message):
    f = audio_file(tmp_path / "tokens.h4mk")
    r = subprocess.run([tool("tools", "h4mk"), "decode", f, "--adapter", "python",
                        "--adapter-options", options(model_dir, cls, extra),
                        "-o", tmp_path / "x.wav"], capture_output=True, text=True)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_options_name_a_module_and_a_class(tmp_path):
    f = audio_file(tmp_path / "tokens.h4mk")
    r = subprocess.run([tool("tools", "h4mk"), "decode", f, "--adapter", "python",
                        "--adapter-options", "module=../evil:class=X", "-o", tmp_path / "x.wav"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "give module=NAME:class=NAME" in r.stderr
