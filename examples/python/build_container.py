"""The seeds' first quick start, "Build a Container", with h4mk's imports."""
from h4mk.seeds import mux_multitrack_gop, TrackSpec, Block, BLK_I, BLK_P

tracks = [
    TrackSpec(
        track_id=1,
        name="main",
        kind="audio",
        codec="h4core",  # Your closed codec
        sample_rate=48000,
        channels=1,
    )
]

blocks = {
    1: [
        Block(pts_ms=0, blk_type=BLK_I, opaque_blob=b"...keyframe..."),
        Block(pts_ms=33, blk_type=BLK_P, opaque_blob=b"...update..."),
    ]
}

container = mux_multitrack_gop(tracks, blocks)
open("audio.h4mk", "wb").write(container)
