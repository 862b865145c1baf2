"""The seeds' tokenizers give the blocks the C++ side gives for the same input:
ffmpeg's h4core encoder (the dsp tokenizer) and h4mk pack (transport)."""
import subprocess
import wave

import numpy as np

import h4mk
from h4mk.tokenizers import AudioFFTTokenizer, VideoTransportTokenizer


def test_audio_tokens_are_ffmpegs_h4core_tokens(tmp_path, ffmpeg):
    rate = 16000
    wav = tmp_path / "tone.wav"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration=2:sample_rate={rate}", "-c:a", "pcm_s16le", wav],
                   check=True)
    ff = tmp_path / "ff.h4mk"
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", wav, "-c:a", "h4core",
                    "-adapter_options", "hop=256:k=16:gop=10", "-f", "h4mk", ff], check=True)
    with wave.open(str(wav)) as f:
        pcm = np.frombuffer(f.readframes(f.getnframes()), "<i2").astype(np.float32) / 32768
    tok = AudioFFTTokenizer(rate, 1, "hop=256:k=16:gop=10")
    tokens = []
    for at in range(0, len(pcm), 1000):  # pushed in pieces that do not match the hop
        tokens += tok.push(pcm[at:at + 1000])
    tokens += tok.finish()
    with h4mk.Reader(ff) as r:
        want = [(b.type, b.pts, b.duration, b.data) for b in r]
    assert len(tokens) == len(want) > 100
    assert [(t.type, t.pts, t.duration, t.data) for t in tokens] == want


def test_audio_that_is_not_numbers_is_refused_where_it_is():
    tok = AudioFFTTokenizer(16000, 2)
    samples = np.full((3000, 2), 0.25, np.float32)
    samples[2500, 1] = np.nan
    try:
        tok.push(samples)
    except h4mk.InvalidArgument as e:
        assert "sample 2500 of channel 1 is not a number" in str(e)
    else:
        raise AssertionError("a NaN sample was tokenized")


def test_transport_blocks_are_h4mk_packs(tmp_path, h4mk_cli):
    data = bytes(range(256)) * 400 + b"tail"
    raw = tmp_path / "raw.bin"
    raw.write_bytes(data)
    packed = tmp_path / "packed.h4mk"
    subprocess.run([h4mk_cli, "pack", raw, "-o", packed, "--block-size", "4096", "--gop", "7"],
                   check=True, capture_output=True)
    tok = VideoTransportTokenizer(4096, gop=7)
    tokens = tok.push(data[:5000]) + tok.push(data[5000:]) + tok.finish()
    with h4mk.Reader(packed) as r:
        want = [(b.type, b.pts, b.data) for b in r]
    assert [(t.type, t.pts, t.data) for t in tokens] == want
    assert b"".join(t.data for t in tokens) == data
    try:
        VideoTransportTokenizer(0)
    except h4mk.InvalidArgument:
        pass
    else:
        raise AssertionError("a zero block size was accepted")
