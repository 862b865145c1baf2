"""Model adapters in Python: what turns a track's opaque blocks back into
media. An adapter takes a keyframe (``decode_I``), applies predicted blocks
to the state (``apply_P``) and, optionally, bidirectional ones between two
anchors (``apply_B``), and gives the output for a state (``finalize``): the
seeds' interface (docs/FORMAT.md §17 is the C plugins' equivalent)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class DecodeState:
    """A model's state between blocks; adapters may use any object."""

    def to_dict(self) -> dict:
        return {"type": type(self).__name__}


class ModelAdapter(ABC):
    """Subclass this for a model: ``decode_I`` and ``apply_P`` are required,
    ``apply_B`` only for tracks with B blocks."""

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
        state.parts.append(bytes(opaque))
        return state

    def apply_B(self, prev: NullState, next: NullState, opaque: bytes) -> NullState:
        return NullState(prev.parts + [bytes(opaque)])

    def finalize(self, state: NullState) -> bytes:
        return b"".join(state.parts)
