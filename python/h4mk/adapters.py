"""Model adapters in Python: what turns a track's opaque blocks back into
media. An adapter takes a keyframe (``decode_I``), applies predicted blocks
to the state (``apply_P``) and, optionally, bidirectional ones between two
anchors (``apply_B``), and gives the output for a state (``finalize``): the
seeds' interface (docs/FORMAT.md §17 is the C plugins' equivalent)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, Optional, Union

from . import _h4mk
from .errors import InvalidArgument


class DecodeState:
    """A model's state between blocks; adapters may use any object."""

    def to_dict(self) -> dict:
        return {"type": type(self).__name__}


class ModelAdapter(ABC):
    """Subclass this for a model: ``decode_I`` and ``apply_P`` are required,
    ``apply_B`` only for tracks with B blocks."""

    # The track's TRAK entry, set by decode_range before the first block.
    track: dict[str, Any] = {}

    @abstractmethod
    def decode_I(self, opaque: bytes) -> Any:
        """The state a keyframe alone gives."""

    @abstractmethod
    def apply_P(self, state: Any, opaque: bytes) -> Any:
        """The state after a predicted block."""

    def apply_B(self, prev: Any, next: Any, opaque: bytes) -> Any:
        """The state of a bidirectional block between its two anchors."""
        raise NotImplementedError(f"{type(self).__name__} does not decode B blocks")

    @abstractmethod
    def finalize(self, state: Any) -> Any:
        """The output (samples, a picture, bytes) for a state."""


class NullState(DecodeState):
    def __init__(self, parts: list[bytes]):
        self.parts = parts


class NullAdapter(ModelAdapter):
    """Identity: the state is the payloads so far; the output their
    concatenation (round trips, tests, benchmarks without a model)."""

    def decode_I(self, opaque: bytes) -> NullState:
        return NullState([bytes(opaque)])

    def apply_P(self, state: NullState, opaque: bytes) -> NullState:
        # A new state: the chain keeps two anchors for B blocks.
        return NullState(state.parts + [bytes(opaque)])

    def apply_B(self, prev: NullState, next: NullState, opaque: bytes) -> NullState:
        return NullState(prev.parts + [bytes(opaque)])

    def finalize(self, state: NullState) -> bytes:
        return b"".join(state.parts)


class Plugin:
    """A C adapter plugin (docs/FORMAT.md §17.1), by its bare name from the
    adapter search path (``$H4MK_ADAPTER_PATH``, then the installed adapter
    directory), or by a ``path`` the program itself chooses (never text from
    a file). ``reader`` and ``track`` give the plugin the track's parameters
    (sample rate, channels, ...), as ffmpeg and ``h4mk decode`` do.

    It has the seeds' calls (states are opaque handles) and works with
    :func:`decode_range`. Outputs: bytes, audio as a (samples, channels)
    numpy array, pictures as numpy arrays.
    """

    def __init__(self, name: str = "", options: str = "", *, reader: Any = None,
                 track: Optional[int] = None, path: Optional[str] = None):
        config = "{}"
        if reader is not None:
            if track is None:
                raise TypeError("a Plugin given a reader needs the track it decodes")
            config = _h4mk.track_config_json(reader._r, track)
        self._p = _h4mk.Plugin(path if path else name, options, config, path is not None)

    @property
    def name(self) -> str:
        return self._p.name()

    def decode_I(self, opaque: bytes, pts: int = 0) -> Any:
        return self._p.decode_I(bytes(opaque), pts)

    def apply_P(self, state: Any, opaque: bytes, pts: int = 0) -> Any:
        return self._p.apply_P(state, bytes(opaque), pts)

    def apply_B(self, prev: Any, next: Any, opaque: bytes, pts: int = 0) -> Any:
        return self._p.apply_B(prev, next, bytes(opaque), pts)

    def finalize(self, state: Any) -> Any:
        return self._p.finalize(state)


class DSPAdapter(Plugin):
    """The ``dsp`` plugin: top-K FFT bins per frame back to audio
    (docs/FORMAT.md §17.4). ``sample_rate`` (the seeds' argument) is the
    output's rate when no ``reader`` and ``track`` give the track's."""

    def __init__(self, options: str = "", *, sample_rate: Optional[int] = None,
                 reader: Any = None, track: Optional[int] = None):
        if sample_rate is not None:
            if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or not (
                    1 <= sample_rate <= 768000):
                raise InvalidArgument(f"sample_rate must be an integer in 1..768000; got "
                                      f"{sample_rate!r}", "invalid_argument", None)
            options = f"sample_rate={sample_rate}" + (f":{options}" if options else "")
        super().__init__("dsp", options, reader=reader, track=track)


def decode_range(reader: Any, track: int, t0: int, t1: int,
                 adapter: Union[ModelAdapter, Plugin]) -> list:
    """Decodes the blocks of ``track`` whose presentation meets [t0, t1)
    (ticks of the track's time base) through ``adapter``: libh4mk's own
    decode_range, the chain ffmpeg and ``h4mk decode`` run (from the last I
    block at or before t0, I/P/B in decode order, outputs in presentation
    order, restarting at the next I block after damage). Returns
    ``[(block, output), ...]``; ``block`` is a dict of the block's timing.
    Repositions the reader. A :class:`ModelAdapter` gets the track's TRAK
    entry as ``adapter.track`` (a dict: ``sample_rate``, ``channels``, ...),
    as it does in ffmpeg and ``h4mk decode``."""
    if isinstance(adapter, Plugin):
        return _h4mk.decode_range(reader._r, track, t0, t1, adapter._p)
    adapter.track = json.loads(_h4mk.track_config_json(reader._r, track))
    return _h4mk.decode_range(reader._r, track, t0, t1, adapter)
