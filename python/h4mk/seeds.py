"""The seeds' API (the Python prototype's ``harmony4_media.mux``), over
libh4mk, so that the prototype's quick starts run with only their imports
changed. Files are real H4MK files (docs/FORMAT.md): the prototype's own byte
layout is not reproduced, only its calls.

Differences a prototype user meets:

- A "chunk index" (what :func:`get_decode_chain` returns and :func:`extract`
  takes) is a block's position in the file, counting every block of every
  track in file order: H4MK packs many blocks into one CORE chunk.
- :func:`extract` returns the prototype's routed payload
  (``b"H4TB" + <u16 track_id, u16 0> + opaque``) that
  :func:`unwrap_core_payload` splits; H4MK itself routes by the group header.
- Times are milliseconds as in the prototype (tracks have a 1/1000 time
  base); :func:`build_h4mk_tracks` keeps its microseconds (1/1000000).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from . import Reader, Track, Writer, _h4mk
from .errors import FormatError, NotFound

__all__ = [
    "BLK_I", "BLK_P", "BLK_B", "TrackSpec", "Block", "TrackBlock", "make_flags", "parse_flags",
    "wrap_core_payload", "unwrap_core_payload", "mux_multitrack_gop", "read_tracks",
    "find_keyframe_for_time", "get_decode_chain", "extract", "pretty_list_core",
    "build_h4mk_tracks",
]

BLK_I, BLK_P, BLK_B = 0, 1, 2
_TYPE_NAME = {BLK_I: "I", BLK_P: "P", BLK_B: "B"}
_TYPE_OF = {"I": BLK_I, "P": BLK_P, "B": BLK_B}


@dataclass
class TrackSpec:
    """A logical track (the prototype's fields, plus H4MK's)."""

    track_id: int
    name: str = ""
    kind: str = "audio"
    codec: str = "h4core"
    sample_rate: int = 0
    channels: int = 0
    width: int = 0
    height: int = 0
    adapter: str = ""
    language: str = ""


@dataclass
class Block:
    """One block to mux: its time in milliseconds, BLK_I/BLK_P/BLK_B, its bytes."""

    pts_ms: int
    blk_type: int
    opaque_blob: bytes


@dataclass
class TrackBlock:
    """The seeds' video prototype's block: a string track id, microseconds."""

    track_id: str
    pts_us: int
    kind: str
    keyframe: bool
    payload: bytes
    meta: Dict[str, Any] = field(default_factory=dict)


def make_flags(pts_ms: int, blk_type: int) -> int:
    """The prototype's u32: pts in ms in bits 0..27, block type in bits 28..29."""
    return _h4mk.make_flags(pts_ms, blk_type)


def parse_flags(flags: int) -> Tuple[int, int]:
    """The inverse of :func:`make_flags`: (pts_ms, blk_type)."""
    return tuple(_h4mk.parse_flags(flags))  # type: ignore[return-value]


def wrap_core_payload(track_id: int, opaque_blob: bytes) -> bytes:
    return b"H4TB" + struct.pack("<HH", track_id, 0) + bytes(opaque_blob)


def unwrap_core_payload(payload: bytes) -> Tuple[int, bytes]:
    if len(payload) < 8 or payload[:4] != b"H4TB":
        raise FormatError("not a routed core payload (no 'H4TB' header)", "corrupt", None)
    track_id, _ = struct.unpack_from("<HH", payload, 4)
    return track_id, bytes(payload[8:])


def _timing(pts: Sequence[int]) -> Tuple[List[int], List[int]]:
    """dts and durations for blocks in decode order: dts is the smallest pts
    from a block on (never after its pts, never going back), and a block lasts
    until the next pts in presentation order (the last as long as the one
    before it)."""
    n = len(pts)
    dts = list(pts)
    for i in range(n - 2, -1, -1):
        dts[i] = min(dts[i], dts[i + 1])
    order = sorted(range(n), key=lambda i: pts[i])
    duration = [0] * n
    for k, i in enumerate(order):
        if k + 1 < n:
            duration[i] = pts[order[k + 1]] - pts[i]
        elif k > 0:
            duration[i] = duration[order[k - 1]]
    return dts, duration


def _mux(tracks: List[Track], per_track: Dict[int, List[Tuple[int, int, bytes]]],
         meta: Optional[dict], safe: Optional[dict]) -> bytes:
    with Writer() as w:
        for t in tracks:
            w.add_track(t)
        if meta:
            w.set_metadata(meta)
        if safe:
            w.set_safe(safe)
        queue = []
        for track_id, blocks in per_track.items():
            dts, duration = _timing([b[0] for b in blocks])
            queue += [(dts[i], track_id, i, b[0], b[1], duration[i], b[2])
                      for i, b in enumerate(blocks)]
        # Tracks interleaved by decode time; each in its own order.
        for d, track_id, _, pts, kind, lasts, blob in sorted(queue, key=lambda q: q[:3]):
            w.write_block(track_id, kind, pts, d, lasts, blob)
    return w.getvalue()


def mux_multitrack_gop(tracks: Iterable[TrackSpec], blocks: Dict[int, List[Block]],
                       meta: Optional[dict] = None, safe: Optional[dict] = None) -> bytes:
    """An H4MK file (bytes) of ``tracks`` and their ``blocks`` (per track id,
    in decode order)."""
    specs = list(tracks)
    known = {s.track_id for s in specs}
    for track_id in blocks:
        if track_id not in known:
            raise NotFound(f"blocks for track {track_id}, which is not in tracks", "not_found", None)
    h4 = [Track(id=s.track_id, kind=s.kind, codec=s.codec, time_base=(1, 1000), name=s.name,
                language=s.language, adapter=s.adapter, sample_rate=s.sample_rate,
                channels=s.channels, width=s.width, height=s.height) for s in specs]
    return _mux(h4, {t: [(b.pts_ms, b.blk_type, b.opaque_blob) for b in bs]
                     for t, bs in blocks.items()}, meta, safe)


def build_h4mk_tracks(blocks: Iterable[TrackBlock], meta: Optional[dict] = None,
                      safe: Optional[dict] = None) -> bytes:
    """The video prototype's builder: string track ids become H4MK tracks
    1, 2, ... in order of first appearance, each named by its string id."""
    ids: Dict[str, int] = {}
    per_track: Dict[int, List[Tuple[int, int, bytes]]] = {}
    for b in blocks:
        track = ids.setdefault(b.track_id, len(ids) + 1)
        kind = _TYPE_OF.get(b.kind, BLK_I if b.keyframe else BLK_P)
        per_track.setdefault(track, []).append((b.pts_us, kind, b.payload))
    tracks = [Track(id=i, kind="video", codec="h4core", time_base=(1, 1_000_000), name=name)
              for name, i in ids.items()]
    return _mux(tracks, per_track, meta, safe)


class _Index:
    """Every block of a container in file order, for the calls that take a
    container's bytes (the last container is remembered)."""

    _last: Optional[Tuple[bytes, "_Index"]] = None

    def __init__(self, container: bytes):
        self.container = container
        with Reader(container) as r:
            self.tracks = {t.id: t for t in r.tracks}
            self.blocks = [(b.track, b.type, b.pts, b.offset, len(b.data), b.chunk_offset,
                            b.index_in_group) for b in r]
        self.position = {(b[5], b[6]): i for i, b in enumerate(self.blocks)}

    @classmethod
    def of(cls, container: bytes) -> "_Index":
        if cls._last is None or cls._last[0] is not container:
            cls._last = (container, cls(container))
        return cls._last[1]

    def ticks(self, track_id: int, t_ms: int) -> int:
        if track_id not in self.tracks:
            raise NotFound(f"no track with id {track_id}", "not_found", None)
        num, den = self.tracks[track_id].time_base
        return (t_ms * den) // (1000 * num)


def read_tracks(container: bytes) -> List[TrackSpec]:
    return [TrackSpec(track_id=t.id, name=t.name, kind=t.kind, codec=t.codec,
                      sample_rate=t.sample_rate, channels=t.channels, width=t.width,
                      height=t.height, adapter=t.adapter, language=t.language)
            for t in _Index.of(container).tracks.values()]


def find_keyframe_for_time(container: bytes, track_id: int, t_ms: int) -> int:
    """The index of the track's last I block at or before ``t_ms`` (from the
    seek table)."""
    index = _Index.of(container)
    with Reader(container) as r:
        p = r.seek(track_id, index.ticks(track_id, t_ms))
    return index.position[(p["chunk_offset"], p["index_in_group"])]


def get_decode_chain(container: bytes, track_id: int, t_ms: int) -> List[int]:
    """The indices of the blocks that decode the track at ``t_ms``: its
    keyframe, then every block up to ``t_ms`` in decode order."""
    index = _Index.of(container)
    with Reader(container) as r:
        chain = r.chain(track_id, index.ticks(track_id, t_ms))
    return [index.position[(c["chunk_offset"], c["index_in_group"])] for c in chain]


def extract(container: bytes, chunk_idx: int) -> bytes:
    """The routed payload of block ``chunk_idx`` (see :func:`unwrap_core_payload`)."""
    index = _Index.of(container)
    if not 0 <= chunk_idx < len(index.blocks):
        raise NotFound(f"no block {chunk_idx} (the file has {len(index.blocks)})", "not_found", None)
    track, _, _, offset, size, _, _ = index.blocks[chunk_idx]
    return wrap_core_payload(track, memoryview(container)[offset:offset + size])


def pretty_list_core(container: bytes) -> str:
    index = _Index.of(container)
    return "\n".join(f"[{i}] track={b[0]} type={b[1]} pts={b[2]} size={b[4]}"
                     for i, b in enumerate(index.blocks))


def _demo_container() -> bytes:
    """The seeds' demo: an audio track of 20 ms blocks and a control track,
    10 s, a keyframe every second."""
    tracks = [TrackSpec(track_id=1, name="audio", kind="audio", sample_rate=48000, channels=1),
              TrackSpec(track_id=2, name="controls", kind="control")]
    audio = [Block(20 * i, BLK_I if i % 50 == 0 else BLK_P, bytes([i % 256]) * 32)
             for i in range(500)]
    controls = [Block(1000 * s, BLK_I, f'{{"scene":{s}}}'.encode()) for s in range(10)]
    return mux_multitrack_gop(tracks, {1: audio, 2: controls}, meta={"demo": "mt_build"})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The seeds' CLI (``python -m h4mk.seeds mt_build|mt_list|mt_chain``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m h4mk.seeds",
                                     description="The seeds' CLI over libh4mk; the h4mk "
                                                 "command does all of this and more.")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("mt_build", help="write the demo container")
    build.add_argument("--out", required=True)
    listing = commands.add_parser("mt_list", help="list tracks and blocks")
    listing.add_argument("--in", dest="path", required=True)
    chain = commands.add_parser("mt_chain", help="the blocks that decode a track at a time")
    chain.add_argument("--in", dest="path", required=True)
    chain.add_argument("--track", type=int, required=True)
    chain.add_argument("--t_ms", type=int, required=True)
    args = parser.parse_args(argv)
    if args.command == "mt_build":
        data = _demo_container()
        with open(args.out, "wb") as f:
            f.write(data)
        print(f"wrote {args.out} ({len(data)} bytes)")
        return 0
    with open(args.path, "rb") as f:
        container = f.read()
    if args.command == "mt_list":
        for t in read_tracks(container):
            print(f"track {t.track_id}: {t.kind} {t.codec} {t.name}")
        print(pretty_list_core(container))
        return 0
    print(" ".join(str(i) for i in get_decode_chain(container, args.track, args.t_ms)))
    return 0


if __name__ == "__main__":
    import sys

    try:
        sys.exit(main())
    except Exception as e:  # a file that cannot be read: say why, exit 1
        print(f"python -m h4mk.seeds: {e}", file=sys.stderr)
        sys.exit(1)
