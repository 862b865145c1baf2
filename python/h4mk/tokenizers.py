"""Tokenizers, as the seeds name them: media in, the blocks of an H4MK track
out (write them with :meth:`h4mk.Writer.write_block`)."""

from __future__ import annotations

from typing import Any, List, NamedTuple

from . import _h4mk


class Token(NamedTuple):
    """One block a tokenizer made: its type ('I', 'P' or 'B'), timing in the
    track's ticks (samples for audio, block indices for transport) and payload."""

    type: str
    pts: int
    dts: int
    duration: int
    data: bytes


class AudioFFTTokenizer:
    """Audio to top-K FFT bins per frame: the ``dsp`` adapter plugin's
    tokenizer, the same one ffmpeg's ``h4core`` encoder runs
    (``options``: ``hop=512:k=64:gop=50``). Its blocks belong on an audio
    track with ``codec="h4core"``, ``adapter="dsp"``, the sample rate and
    channels given here, and a 1/sample_rate time base."""

    def __init__(self, sample_rate: int, channels: int = 1, options: str = ""):
        self._t = _h4mk.AudioTokenizer("dsp", options, sample_rate, channels)

    def push(self, samples: Any) -> List[Token]:
        """Float samples, (n, channels) or (n,); returns the blocks now ready."""
        self._t.push(samples)
        return [Token(*t) for t in self._t.take()]

    def finish(self) -> List[Token]:
        """No more input: the last blocks."""
        self._t.finish()
        return [Token(*t) for t in self._t.take()]


class VideoTransportTokenizer:
    """Any byte stream cut into ``block_size`` blocks, an I block every
    ``gop`` (what ``h4mk pack`` and ``h4mk serve``'s export do); pts, dts are
    block indices, duration 1."""

    def __init__(self, block_size: int, gop: int = 30):
        self._t = _h4mk.TransportTokenizer(block_size, gop)

    def push(self, data: Any) -> List[Token]:
        self._t.push(data)
        return [Token(*t) for t in self._t.take()]

    def finish(self) -> List[Token]:
        self._t.finish()
        return [Token(*t) for t in self._t.take()]
