"""H4MK files from Python, over libh4mk (the format is the library's: this
package only converts between it and Python).

Writing::

    with h4mk.Writer("tokens.h4mk") as w:
        w.add_track(h4mk.Track(id=1, kind="audio", time_base=(1, 50), adapter="null"))
        w.write_block(1, "I", pts=0, duration=1, payload=b"...")

Reading::

    with h4mk.Reader("tokens.h4mk") as r:
        for block in r:
            print(block.track, block.type, block.pts, len(block.data))
        arrays = r.read_track(1)      # numpy arrays for training pipelines

Every failure of the library raises an :class:`h4mk.errors.Error` subclass
carrying its code and, where it is about a byte of the file, its offset.
"""

from __future__ import annotations

import base64
import importlib.metadata
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, BinaryIO, Iterator, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _h4mk
from .errors import (AuthFailed, DamageWarning, Error, FormatError, InvalidArgument, IOFailure,
                     KeyMismatch, NotFound, VerifyFailed)

__all__ = [
    "AudioFFTTokenizer", "AuthFailed", "Block", "DSPAdapter", "DamageWarning", "Error", "FormatError", "InvalidArgument",
    "IOFailure", "KeyMismatch", "ModelAdapter", "NotFound", "NullAdapter", "Packet", "Plugin", "Reader",
    "Track", "VideoTransportTokenizer", "Writer", "decode_range", "library_version", "mask",
    "repair", "side_data_values", "sign", "track_params", "TrackParams", "train_dictionary", "unmask", "verify", "verify_signature",
    "VerifyFailed",
]

library_version: str = _h4mk.library_version
try:
    __version__: str = importlib.metadata.version("h4mk")
except importlib.metadata.PackageNotFoundError:  # imported from a source tree
    __version__ = library_version

_SHOWN_BYTES = 16


def _some(data: bytes) -> str:
    """The first bytes of a payload, and its size when there are more."""
    more = f"...({len(data)} bytes)" if len(data) > _SHOWN_BYTES else ""
    return repr(data[:_SHOWN_BYTES]) + more


def _block_repr(b: Any) -> str:
    """A block with the first bytes of its payload and side data, not all of them."""
    return (f"h4mk.Block(track={b.track}, type={b.type!r}, pts={b.pts}, dts={b.dts}, "
            f"duration={b.duration}, data={_some(b.data)}, side_data={_some(b.side_data)}, "
            f"masked={b.masked}, discardable={b.discardable}, damaged={b.damaged}, "
            f"offset={b.offset}, chunk_offset={b.chunk_offset}, "
            f"index_in_group={b.index_in_group})")


_h4mk.Block.__repr__ = _block_repr  # type: ignore

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]


@dataclass
class Track:
    """A track as the TRAK chunk declares it (docs/FORMAT.md §6).

    ``time_base`` is (num, den) seconds per tick; timestamps of its blocks
    are in ticks. ``codec`` is an FFmpeg codec name, or ``"h4core"`` for
    opaque model payloads decoded by the adapter named in ``adapter``.
    """

    id: int
    kind: str = "data"  # audio, video, data, subtitle, control
    codec: str = "h4core"
    time_base: tuple[int, int] = (1, 1000)
    name: str = ""
    language: str = ""
    channel_layout: str = ""
    adapter: str = ""
    sample_rate: int = 0
    channels: int = 0
    width: int = 0
    height: int = 0
    frame_rate: tuple[int, int] = (0, 0)
    default_duration: int = 0
    extradata: bytes = b""
    notes: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    # No decode chain of the track holds more blocks (docs/FORMAT.md §12.1);
    # 0: the format's bound, 65536. A writer refuses a block that would pass it.
    max_chain_blocks: int = 0
    masked: bool = False  # read only: the track's blocks are masked (h4mask)
    # Read only: the track's groups may be zstd-compressed (§5.7). A writer
    # compresses what add_track's or the Writer's ``compress`` says.
    compressed: bool = False
    # Each block holds whole frames of ``shape`` elements of ``dtype``
    # (little-endian; docs/FORMAT.md §6.1 ``array``): read_track and
    # read_range give them as an array of that dtype and shape.
    dtype: str = ""
    shape: tuple[int, ...] = ()
    # Other members of the track object (an application's own), kept by a copy.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.dtype or self.shape:
            _frame_bytes(self)

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame (``shape`` elements of ``dtype``); 0 without a dtype."""
        return _frame_bytes(self) if self.dtype else 0


def _argument_int(v: Any, name: str, lo: int, hi: int) -> int:
    """v as an int in [lo, hi], or InvalidArgument naming ``name``: no float,
    bool or wrapping."""
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise InvalidArgument(f"{name}: an integer in {lo}..{hi} is needed; got {v!r}",
                              "invalid_argument", None)
    return int(v)


def _seconds(v: Any, name: str) -> Fraction:
    """Seconds as the exact value written: 0.1 is 1/10, not the nearest
    double (which would make 0.1 s at 50 Hz 5.000...03 ticks)."""
    try:
        if isinstance(v, (bool, str, bytes)):
            raise TypeError
        return Fraction(repr(v)) if isinstance(v, float) else Fraction(v)
    except (TypeError, ValueError):
        raise InvalidArgument(f"{name}: a finite number of seconds is needed; got {v!r}",
                              "invalid_argument", None) from None


# docs/FORMAT.md §6.1: the element types a track's ``array`` may declare.
_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
           "float16", "float32", "float64")
_MAX_FRAME_BYTES = 256 << 20  # a frame fits in a block (§12.2)


def _frame_bytes(t: Track) -> int:
    if t.dtype not in _DTYPES:
        raise InvalidArgument(f"track {t.id}: dtype is one of {', '.join(_DTYPES)}; "
                              f"got {t.dtype!r}", "invalid_argument", None)
    shape = tuple(t.shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape) \
            or len(shape) > 8:
        raise InvalidArgument(f"track {t.id}: shape is up to 8 positive integers; got {t.shape!r}",
                              "invalid_argument", None)
    n = int(np.dtype(t.dtype).itemsize)
    for d in shape:
        n *= d
        if n > _MAX_FRAME_BYTES:
            raise InvalidArgument(f"track {t.id}: a frame of shape {shape} {t.dtype} is over "
                                  f"{_MAX_FRAME_BYTES} bytes", "invalid_argument", None)
    return n


def _track_from(d: dict[str, Any]) -> Track:
    """A Track from the binding's dict, its extra members parsed: a malformed
    ``array`` member is left among them with a warning, never guessed at."""
    extra = json.loads(d.pop("extra_json") or "{}")
    array = extra.pop("array", None)
    t = Track(**d, extra=extra)
    if array is not None:
        try:
            t.dtype, t.shape = array["dtype"], tuple(array["shape"])
            _frame_bytes(t)
        except (InvalidArgument, KeyError, TypeError) as e:
            t.dtype, t.shape = "", ()
            extra["array"] = array
            warnings.warn(f"track {t.id}: its array member is not usable ({e}); "
                          "its blocks read as bytes", DamageWarning, stacklevel=3)
    return t


def _tick_range(t: Track, start: Union[int, float, Fraction, None],
                end: Union[int, float, Fraction, None], unit: str) -> tuple[int, int]:
    """[start, end) in ``t``'s ticks from seconds or ticks; None leaves that
    end open."""
    lo, hi = -(1 << 63), (1 << 63) - 1
    if unit == "s":
        num, den = t.time_base
        if start is not None:
            lo = max(lo, math.ceil(_seconds(start, "start") * den / num))
        if end is not None:
            hi = min(hi, math.ceil(_seconds(end, "end") * den / num))
    elif unit == "ticks":
        if start is not None:
            lo = _argument_int(start, "start", -(1 << 63), (1 << 63) - 1)
        if end is not None:
            hi = _argument_int(end, "end", -(1 << 63), (1 << 63) - 1)
    else:
        raise InvalidArgument(f'unit is "s" or "ticks"; got {unit!r}', "invalid_argument", None)
    if hi < lo:
        raise InvalidArgument(f"end ({end}) is before start ({start})", "invalid_argument", None)
    return lo, hi


def _with_frames(t: Track, arrays: dict[str, Any]) -> dict[str, Any]:
    """read_tracks' arrays of ``t``, with ``data`` and ``frames`` when it
    declares a dtype; a block that is not whole frames is named."""
    if not t.dtype:
        return arrays
    size = t.frame_bytes
    lengths = np.diff(arrays["offsets"].astype(np.int64))
    bad = np.nonzero(lengths % size)[0]
    if len(bad):
        i = int(bad[0])
        raise FormatError(f"track {t.id}: block {i} (pts {int(arrays['pts'][i])}) holds "
                          f"{int(lengths[i])} bytes, not whole frames of {size} bytes "
                          f"({t.dtype} {t.shape})", "corrupt", None)
    arrays["frames"] = lengths // size
    arrays["data"] = arrays["payload"].view(np.dtype(t.dtype).newbyteorder("<")).reshape(
        (-1, *t.shape))
    return arrays


def _extra_json(t: Track) -> str:
    extra = dict(t.extra)
    if "array" in extra:
        raise InvalidArgument(f"track {t.id}: give dtype and shape, not an array member",
                              "invalid_argument", None)
    if t.dtype:
        _frame_bytes(t)
        extra["array"] = {"dtype": t.dtype, "shape": list(t.shape)}
    return json.dumps(extra) if extra else ""


Block = _h4mk.Block


class Packet(NamedTuple):
    """A block as :meth:`Reader.packets` gives it: the fields of
    :class:`Block`, with ``side_data`` as a dict of entries by name
    (docs/FORMAT.md §5.4 and §6.1)."""
    track: int
    type: str
    pts: int
    dts: int
    duration: int
    data: bytes
    side_data: dict[str, bytes]
    masked: bool
    discardable: bool
    damaged: bool
    offset: int
    chunk_offset: int
    index_in_group: int

    def __repr__(self) -> str:
        """As a :class:`Block`'s: the first bytes of the payload and of each
        side data entry, not all of them."""
        shown = {"data": _some(self.data),
                 "side_data": "{" + ", ".join(f"{name!r}: {_some(value)}"
                                              for name, value in self.side_data.items()) + "}"}
        return "h4mk.Packet(" + ", ".join(
            f"{name}={shown.get(name, repr(value))}"
            for name, value in zip(self._fields, self)) + ")"


class TrackParams(NamedTuple):
    """A track's registered members (docs/FORMAT.md §6.1) as libh4mk checks
    them: ``codec_params`` with only the members that fit (``bit_rate``,
    ``sample_aspect_ratio`` as ``[num, den]``, ``color`` as a dict, ...),
    ``disposition`` as names, ``side_data`` as bytes by registered id, and
    ``ignored``, what was left out and why."""
    codec_params: dict[str, Any]
    disposition: list[str]
    side_data: dict[str, bytes]
    ignored: list[str]


def track_params(track: "Track") -> TrackParams:
    """The registered members of ``track`` (from :attr:`Reader.tracks`),
    checked as FFmpeg's demuxer reads them."""
    if not isinstance(track, Track):
        raise InvalidArgument(f"track must be an h4mk.Track, not {type(track).__name__}")
    text, ignored = _h4mk.track_params(_extra_json(track))
    got = json.loads(text) if text else {}
    names = got.get("disposition", "")
    return TrackParams(got.get("codec_params", {}), names.split("+") if names else [],
                       {k: base64.b64decode(v) for k, v in got.get("side_data", {}).items()},
                       list(ignored))


def side_data_values(key: str, value: bytes) -> Optional[dict[str, Any]]:
    """A registered side data entry's fields by name (docs/FORMAT.md §6.1),
    e.g. ``side_data_values("clli", p.side_data["clli"])`` gives
    ``{"max_content_light_level": 1000, "max_pic_average_light_level": 400}``:
    arrays as lists, rationals as ``[num, den]``, enumerations by symbol,
    repeated records under ``"entries"``. None for an id without fields
    (opaque bytes, T.35, or not registered); :class:`FormatError` naming the
    field when the bytes do not fit the layout."""
    if not isinstance(key, str):
        raise InvalidArgument(f"key must be str, not {type(key).__name__}")
    text = _h4mk.side_data_values(key, bytes(value))
    return None if text is None else json.loads(text)


class Reader:
    """Reads an H4MK file from a path, a URL, a bytes-like object or a binary
    file object (seekable or not).

    A URL (``http://``, ``https://`` or any protocol fsspec knows, such as
    ``s3://`` with its package installed) is read by range through fsspec:
    opening and each seek fetch what they use, not the file, and reading
    on fetches ranges that double, up to 4 MiB.

    A source that cannot seek (a pipe, a URL whose server gives no size) is
    read in order, once: iterate it, or make one whole read
    (``read_track``, ``read_tracks``, ``read_array``) before reading
    anything else; going back for a second raises :class:`Error` naming the
    offset.

    A Reader pickles when it was opened from a path, a URL or bytes: the copy
    reopens its source (with the same ``public_key``) and starts at the
    beginning, so ``torch.utils.data`` and ``multiprocessing`` workers each
    read with a position of their own.

    Iterating gives every intact block in file order; damage the reader
    skipped over is listed in :attr:`damage` (offset, length, code, message).

    With ``public_key`` (a trusted Ed25519 public key: PEM text, bytes or a
    path) the file must be signed by that key (``h4mk.sign``): opening checks
    the signature (:class:`AuthFailed` for an unsigned file or another key),
    and every byte is checked against the signed hash tree before it is used,
    after any seek; a read that meets bytes that do not match raises
    :class:`VerifyFailed` naming their offset, and hands out nothing of them.
    """

    def __init__(self, source: Source, *, damaged_blocks: bool = False,
                 public_key: Union[str, bytes, "os.PathLike[str]", None] = None):
        pem = _pem(public_key) if public_key is not None else ""
        self._r = _h4mk.Reader(source, damaged_blocks, pem)
        # What a pickled copy reopens (bytes-like sources are the reader's
        # own buffer, copied only when pickled); a file object cannot be.
        self._reopen: Optional[tuple[Any, bool, str]] = None
        if isinstance(source, (str, os.PathLike)):
            self._reopen = (os.fspath(source), damaged_blocks, pem)
        elif isinstance(source, (bytes, bytearray, memoryview)):
            self._reopen = (source, damaged_blocks, pem)

    def __getstate__(self) -> tuple:
        if self._reopen is None:
            raise TypeError("a Reader opened from a file object cannot be pickled: "
                            "open it from a path, a URL or bytes")
        source, damaged_blocks, pem = self._reopen
        if not isinstance(source, str):
            source = bytes(source)
        return (source, damaged_blocks, pem)

    def __setstate__(self, state: tuple[Any, bool, str]) -> None:
        source, damaged_blocks, pem = state
        self._r = _h4mk.Reader(source, damaged_blocks, pem)
        self._reopen = state

    @property
    def verified(self) -> bool:
        """True when every block read was checked against the signature."""
        return bool(self._r.verified())

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._r.close()

    @property
    def tracks(self) -> list[Track]:
        return [_track_from(t) for t in self._r.tracks()]

    def track(self, track_id: int) -> Track:
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise NotFound(f"no track with id {track_id}", "not_found", None)

    @property
    def metadata(self) -> dict[str, Any]:
        """The META chunk (container metadata) as a dict; {} if absent."""
        text = self._r.metadata_json()
        return json.loads(text) if text else {}

    @property
    def safe(self) -> dict[str, Any]:
        text = self._r.safe_json()
        return json.loads(text) if text else {}

    @property
    def note(self) -> str:
        return self._r.note()

    @property
    def damage(self) -> list[dict[str, Any]]:
        """The first 1000 damaged regions and the latest 24 (memory stays
        bounded whatever the file); :attr:`damage_count` counts them all."""
        return self._r.damage()

    @property
    def damage_count(self) -> int:
        return self._r.damage_count()

    def __iter__(self) -> Iterator[Block]:
        return iter(self._r)

    def next_block(self) -> Optional[Block]:
        """The next block, or None at the end of the file."""
        return self._r.next_block()

    def packets(self) -> Iterator[Packet]:
        """Every track's blocks in decode order across tracks (equal dts:
        file order), as ffprobe and players get them, with side data as a
        dict by name. A group whose CRC fails but that parses comes out
        marked ``damaged`` with ``damaged_blocks=True``, as ffprobe gets it,
        and is left out otherwise; a :class:`DamageWarning` names it either
        way. The read-ahead that merges the tracks is bounded (65,536
        blocks, 64 MiB) whatever the file. Reading in file order
        (iterating, :meth:`next_block`, :meth:`seek`, :meth:`rewind`,
        :meth:`read_track`) ends it; a later call starts where that left
        reading."""
        while (b := self._r.next_packet()) is not None:
            yield Packet(b.track, b.type, b.pts, b.dts, b.duration, b.data,
                         _h4mk.side_data_entries(b.side_data), b.masked, b.discardable,
                         b.damaged, b.offset, b.chunk_offset, b.index_in_group)
        self._r.warn_of_damage()

    def rewind(self) -> None:
        self._r.rewind()

    def seek(self, track: int, t: int, mode: str = "key_before") -> dict[str, int]:
        """Positions reading at the track's keyframe for tick ``t``
        (``mode``: ``key_before``, ``key_after`` or ``any_before``) and
        returns where it landed (pts, dts, chunk_offset, index_in_group).
        Raises :class:`NotFound` when no block qualifies."""
        return self._r.seek(track, t, mode, False)

    def seek_all(self, track: int, t: int, mode: str = "key_before") -> dict[str, int]:
        """As :meth:`seek`, and every other track resumes with the block it
        needs at the time landed on (docs/FORMAT.md §9.5)."""
        return self._r.seek(track, t, mode, True)

    def chain(self, track: int, t: int) -> list[dict[str, Any]]:
        """The blocks a decoder needs to show the track at tick ``t``: its
        keyframe and what follows it up to ``t``, in decode order."""
        return self._r.chain(track, t)

    def read_track(self, track: int, *, strict: bool = True) -> dict[str, Any]:
        """Every block of one track as numpy arrays: ``pts``, ``dts``,
        ``duration`` (int64), ``types`` (uint8: 0 I, 1 P, 2 B), ``flags``
        (uint8: 1 masked, 2 discardable, 4 damaged), ``offsets`` (uint64,
        n + 1 positions) into ``payload`` (uint8, every payload back to back).
        A track with a ``dtype`` also gives ``data``, every frame as an array
        of shape ``(frames, *shape)``, and ``frames`` (int64, frames per
        block); a block that is not whole frames raises :class:`FormatError`
        naming it. Reading starts again from the beginning afterwards.

        A damaged file raises :class:`FormatError` naming its first damaged
        region (blocks of the track may have been there); ``strict=False``
        returns the blocks left intact, and :attr:`damage` lists what was
        skipped."""
        return self.read_tracks([track], strict=strict)[track]

    def read_tracks(self, tracks: Sequence[int], *,
                    strict: bool = True) -> dict[int, dict[str, Any]]:
        """:meth:`read_track` of several tracks in one pass over the file."""
        ids = [_argument_int(t, "tracks", 1, 65535) for t in tracks]
        got = self._r.read_tracks(ids, strict, None, None)
        declared = {t.id: t for t in self.tracks} if ids else {}
        return {t: _with_frames(declared[t], got[t]) for t in ids}

    def read_range(self, track: int, start: Union[int, float, Fraction, None],
                   end: Union[int, float, Fraction, None], *, unit: str = "s",
                   strict: bool = True) -> dict[str, Any]:
        """The blocks of ``track`` whose pts lies in ``[start, end)``, as
        :meth:`read_track` gives them; ``unit`` is ``"s"`` (seconds) or
        ``"ticks"`` (the track's time base); ``None`` leaves that end open.
        Reading starts at the keyframe before ``start`` (through the seek
        table, not from the beginning) and stops at ``end``."""
        t = self.track(track)
        lo, hi = _tick_range(t, start, end, unit)
        got = self._r.read_tracks([t.id], strict, lo, hi)
        return _with_frames(t, got[t.id])

    def read_array(self, track: int, start: Union[int, float, Fraction, None] = None,
                   end: Union[int, float, Fraction, None] = None, *, unit: str = "s",
                   strict: bool = True) -> np.ndarray:
        """The frames of a track declared with a ``dtype`` and ``shape``, as
        one array of shape ``(frames, *shape)``: :meth:`read_track`'s (or,
        with ``start`` or ``end``, :meth:`read_range`'s) ``data`` alone, in
        a pass that writes no per-block array. Frames of one size and
        duration written as I blocks, or as an I block starting each group
        and P blocks after it, are stored in FIXED_SIZE groups that it
        copies a group at a time. A track without a dtype raises
        :class:`InvalidArgument`; damage and blocks that are not whole
        frames are errors as in :meth:`read_track`."""
        t = self.track(track)
        if not t.dtype:
            raise InvalidArgument(f"track {t.id} declares no dtype: use read_track",
                                  "invalid_argument", None)
        lo: Optional[int] = None
        hi: Optional[int] = None
        if start is not None or end is not None:
            lo, hi = _tick_range(t, start, end, unit)
        payload = self._r.read_payloads(t.id, t.frame_bytes, strict, lo, hi)
        return payload.view(np.dtype(t.dtype).newbyteorder("<")).reshape((-1, *t.shape))

    def set_mask_key(self, key: Union[str, bytes], track: int = 0) -> None:
        """Unmask blocks with this 32-byte key (or 64 hex digits); track 0:
        every masked track it opens. A key that is not the track's raises
        :class:`KeyMismatch`."""
        self._r.set_mask_key(key, track)


def _compression_level(compress: Union[bool, int], name: str) -> int:
    """0 (off) or a zstd level 1..19; anything else is an error naming ``name``."""
    if compress is True:
        return 3
    if compress is False:
        return 0
    if not isinstance(compress, int) or not 1 <= compress <= 19:
        raise InvalidArgument(f"{name} is True, False or a zstd level 1..19; got {compress!r}",
                              "invalid_argument", None)
    return compress


def train_dictionary(samples: Sequence[Any], size: int = 4096) -> bytes:
    """A zstd dictionary of at most ``size`` bytes (256..1 MiB) trained on
    ``samples`` (bytes-like objects, e.g. one group's payloads each), for
    ``Writer.add_track(..., compress=True, dictionary=...)``; ``b""`` when
    zstd finds too little to learn from or the dictionary would not save its
    own size on the samples."""
    return _h4mk.train_dictionary([bytes(s) for s in samples], size)


class Writer:
    """Writes an H4MK file to a path or a binary file object, or (no
    target) into memory, given back by :meth:`getvalue`.

    Declare tracks (and metadata) first, then write blocks in decode order
    per track; :meth:`finish` (or :meth:`close`, or leaving the ``with``
    block, with or without an exception) writes the index and closes the
    file; :meth:`abort` stops without a file. A writer dropped without
    either leaves a file readable up to its last complete group.

    Options: ``max_group_bytes``, ``max_group_blocks``,
    ``max_group_duration_us``, ``interleave_duration_us``, ``write_veri``,
    ``write_index`` (docs/FORMAT.md §12.2), and ``compress``: ``True`` or a
    zstd level 1..19 compresses each group of every track declared after it
    that shrinks (docs/FORMAT.md §5.7), ``False`` (the default) does not;
    :meth:`add_track` can say otherwise per track.
    """

    def __init__(self, target: Union[str, "os.PathLike[str]", BinaryIO, None] = None,
                 *, compress: Union[bool, int] = False, **options: Any):
        self._level = _compression_level(compress, "compress")
        self._frames: dict[int, Track] = {}  # tracks with a dtype
        self._path = os.fspath(target) if isinstance(target, (str, os.PathLike)) else None
        self._aborted = False
        self._w = _h4mk.Writer(target, options)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        # With or without an exception, what was written becomes a complete
        # file (index, hash chain, TAIL): a pipeline that fails at block
        # 2,000 keeps 2,000 readable blocks. abort() keeps nothing.
        if self._w.finished() or self._aborted:
            return
        try:
            self.finish()
        except Error:
            if exc_type is None:
                raise  # otherwise the exception that left the block goes on

    def close(self) -> None:
        """Finishes the file unless it is finished (or aborted) already."""
        if not self._w.finished() and not self._aborted:
            self.finish()

    def abort(self) -> None:
        """Stops writing without finishing: a file at a path is removed; a
        file object keeps what was written (readable up to its last
        complete group, as after a crash)."""
        if self._aborted or self._w.finished():
            return
        self._aborted = True
        self._w.abandon()
        if self._path is not None:
            try:
                os.remove(self._path)
            except FileNotFoundError:
                pass

    def add_track(self, track: Optional[Track] = None, *,
                  compress: Union[bool, int, None] = None, dictionary: Any = b"",
                  **fields: Any) -> None:
        """Declares a track: a :class:`Track`, or its fields as keywords
        (``add_track(id=1, kind="audio", time_base=(1, 50), adapter="null")``).
        ``compress`` (``True`` or a zstd level 1..19; default: the writer's)
        compresses its groups, with ``dictionary`` (bytes, e.g. from
        :func:`train_dictionary`) if given."""
        level = self._level if compress is None else _compression_level(compress, "compress")
        if len(memoryview(dictionary)) and not level:
            raise InvalidArgument("a dictionary is given only with compress", "invalid_argument",
                                  None)
        if track is None:
            track = Track(**fields)
        elif fields:
            raise TypeError("give a Track or its fields, not both")
        if track.masked:
            # A track read from a masked file: its blocks are envelopes this
            # writer cannot re-mask; copying them as plain would be wrong.
            raise InvalidArgument(
                f"track {track.id} is masked: mask a track with set_mask_key, copy a masked "
                "file with h4mk.mask/h4mk.unmask", "invalid_argument", None)
        self._w.add_track(track, level, dictionary, _extra_json(track))
        if track.dtype:
            self._frames[track.id] = track

    def _check_frames(self, track: int, payload: Any, lengths: Any) -> None:
        """A track with a dtype takes whole frames, and a numpy payload of
        that dtype only: never bytes reinterpreted silently."""
        t = self._frames.get(track)
        if t is None:
            return
        if isinstance(payload, np.ndarray) and payload.dtype.newbyteorder("<") != \
                np.dtype(t.dtype).newbyteorder("<"):
            raise InvalidArgument(f"track {track} holds {t.dtype}; the payload is "
                                  f"{payload.dtype}", "invalid_argument", None)
        bad = np.nonzero(np.asarray(lengths, dtype=np.int64) % t.frame_bytes)[0]
        if len(bad):
            raise InvalidArgument(
                f"track {track}: block {int(bad[0])} of the call is not whole frames of "
                f"{t.frame_bytes} bytes ({t.dtype} {t.shape})", "invalid_argument", None)

    def set_metadata(self, metadata: dict[str, Any]) -> None:
        self._w.set_metadata_json(json.dumps(metadata))

    def set_safe(self, safe: dict[str, Any]) -> None:
        self._w.set_safe_json(json.dumps(safe))

    def set_note(self, note: str) -> None:
        self._w.set_note(note)

    def set_mask_key(self, track: int, key: Union[str, bytes], scheme: str = "aes-256-gcm",
                     kid: str = "") -> None:
        """Mask every block of ``track`` (h4mask, docs/FORMAT.md §13)."""
        self._w.set_mask_key(track, key, scheme, kid)

    def write_block(self, track: int, type: Union[str, int], pts: int, dts: Optional[int] = None,
                    duration: int = 0, payload: Any = b"", side_data: Any = b"",
                    discardable: bool = False) -> None:
        """One block; ``payload`` is any bytes-like object (bytes, memoryview,
        a numpy array: its bytes in C order, copied when not contiguous)."""
        if track in self._frames:
            try:
                lengths = [memoryview(payload).nbytes]
            except TypeError:
                lengths = []  # not bytes-like: the binding refuses it, naming it
            self._check_frames(track, payload, lengths)
        self._w.write_block(track, type, pts, dts, duration, payload, side_data, discardable)

    def write_blocks(self, track: int, types: Any, pts: Any, payload: Any, *,
                     offsets: Any = None, size: Optional[int] = None, dts: Any = None,
                     durations: Any = None) -> None:
        """Many blocks of one track in one call: ``types`` (0 I, 1 P, 2 B)
        and ``pts`` per block (numpy arrays or sequences), optionally ``dts``
        and ``durations``; ``payload`` one buffer holding every payload, cut
        at ``offsets`` (n + 1 positions from 0 to its length) or into pieces
        of ``size`` bytes that fill it. The arrays must hold integers (any
        numpy integer type, or Python ints): floats, bools and values out of
        range raise :class:`InvalidArgument` naming the argument, never a
        silent cast, and so does a payload the cuts do not cover exactly."""
        if track in self._frames:
            # Arguments of the wrong type are the binding's to refuse.
            cuts = np.asarray(offsets) if offsets is not None else None
            if cuts is not None:
                lengths = np.diff(cuts) if cuts.dtype.kind in "iu" else []
            else:
                lengths = [size] if isinstance(size, int) and not isinstance(size, bool) else []
            self._check_frames(track, payload, lengths)
        self._w.write_blocks(track, types, pts, payload, offsets, size, dts, durations)

    def close_group(self, track: int) -> None:
        """Ends the track's open group here: its next block starts a new
        one (a rewrite keeps a source's groups this way)."""
        self._w.close_group(track)

    def flush(self) -> None:
        """Writes every open group now (live streaming)."""
        self._w.flush()

    def finish(self) -> None:
        self._w.finish()

    def getvalue(self) -> bytes:
        """The file, for a writer made without a target (in memory), once
        finished; the same bytes each time it is asked."""
        return self._w.take()

    @property
    def bytes_written(self) -> int:
        return self._w.bytes_written()


def verify(source: Source,
           public_key_pem: Union[str, bytes, "os.PathLike[str]"] = "") -> dict[str, Any]:
    """Checks every CRC, the SHA-256 chain and (with ``public_key_pem``, PEM
    text or the path of a PEM file) the signature; returns a report whose
    ``problems`` each give an offset, a chunk, a code and a message: the
    first 1000, with ``problem_count`` counting them all (``ok`` is True when
    there are none). ``unknown_chunks`` lists the first 64 chunks of tags this
    version does not know (allowed, docs/FORMAT.md §9.6: ``tag`` as bytes,
    ``offset``, ``size``, ``safe_to_copy``), ``unknown_chunk_count`` counts
    them all."""
    return _h4mk.verify(source, _pem(public_key_pem) if public_key_pem else "")


Target = Union[str, "os.PathLike[str]", BinaryIO]


def _rewritten(report: dict) -> dict:
    """A rewrite's report, with a warning when it left out chunks of unknown
    tags that are not safe to copy (docs/FORMAT.md §9.6)."""
    unknown = report["unknown_chunks"]
    if unknown["left_out"]:
        warnings.warn(f"left out {unknown['left_out']} chunk(s) of unknown tags "
                      f"(docs/FORMAT.md §9.6), the first {unknown['first_left_out']}",
                      stacklevel=3)
    return report


def mask(source: Source, target: Target, key: Union[str, bytes], *,
         tracks: Optional[list[int]] = None, scheme: str = "aes-256-gcm", kid: str = "") -> dict:
    """Writes ``source`` to ``target`` with ``tracks`` (every track not masked
    yet when None) masked with the 32-byte ``key`` (h4mask, docs/FORMAT.md
    §13); everything else is kept as it is, chunks of unknown tags too when
    safe to copy (§9.6; a warning names those left out). Returns the tracks
    masked, the blocks copied, any damage the source had (skipped, not
    copied) and ``unknown_chunks`` (kept, left out, the first left out)."""
    return _rewritten(_h4mk.mask_file(source, target, key, scheme, kid, tracks or []))


def unmask(source: Source, target: Target, key: Union[str, bytes]) -> dict:
    """Writes ``source`` to ``target`` with every track ``key`` opens unmasked,
    the rest kept as :func:`mask` keeps it. Raises :class:`KeyMismatch` when
    it opens none, and when a block does not authenticate (naming it)."""
    return _rewritten(_h4mk.unmask_file(source, target, key))


def _pem(key: Union[str, bytes, "os.PathLike[str]"]) -> str:
    """A PEM key given as its text, or as the path of a file holding it."""
    if isinstance(key, bytes):
        key = key.decode("ascii", "replace")
    if isinstance(key, os.PathLike) or (key and not key.lstrip().startswith("-----BEGIN")):
        with open(key, encoding="ascii", errors="replace") as f:
            return f.read()
    return key


def sign(source: Source, target: Target,
         private_key_pem: Union[str, bytes, "os.PathLike[str]"]) -> None:
    """Writes ``source`` to ``target`` signed (Ed25519 over a hash tree of
    every byte, docs/FORMAT.md §8.1, §8.2: ``Reader(..., public_key=...)``
    checks it as it reads) with the private key (PEM text, or the path of a
    PEM file); refuses a file whose CRCs or hash chain do not hold."""
    _h4mk.sign_file(source, target, _pem(private_key_pem))


def verify_signature(source: Source,
                     public_key_pem: Union[str, bytes, "os.PathLike[str]"]) -> bool:
    """True when the file is intact and signed by the key's holder (the
    public key as PEM text, or the path of a PEM file)."""
    report = verify(source, _pem(public_key_pem))
    return bool(report["ok"] and report["has_signature"] and report["signature_ok"])


def repair(source: Source, target: Target) -> dict:
    """Writes every intact block of a damaged or cut ``source`` to ``target``
    as a complete, indexed file, with the chunks of unknown tags :func:`mask`
    keeps; returns what was kept and lost."""
    return _rewritten(_h4mk.repair_file(source, target))


# The adapters and tokenizers, as the seeds name them (h4mk.ModelAdapter, ...).
from .adapters import DSPAdapter, ModelAdapter, NullAdapter, Plugin, decode_range  # noqa: E402
from .tokenizers import AudioFFTTokenizer, VideoTransportTokenizer  # noqa: E402
