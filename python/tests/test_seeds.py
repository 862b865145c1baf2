"""The seeds' API: their two quick starts (examples/python) run as written,
and every call agrees with the C++ tools on the same file."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

import h4mk
from h4mk.seeds import (BLK_B, BLK_I, BLK_P, Block, TrackBlock, TrackSpec, build_h4mk_tracks,
                        extract, find_keyframe_for_time, get_decode_chain, make_flags,
                        mux_multitrack_gop, parse_flags, read_tracks, unwrap_core_payload)

EXAMPLES = pathlib.Path(__file__).parents[2] / "examples" / "python"


def test_the_seeds_quick_starts_run(tmp_path, h4mk_cli):
    for script in ("build_container.py", "decode_time_range.py"):
        done = subprocess.run([sys.executable, EXAMPLES / script], cwd=tmp_path, check=True,
                              capture_output=True, text=True)
    assert done.stdout.strip() == repr(b"...keyframe......update...")
    subprocess.run([h4mk_cli, "verify", tmp_path / "audio.h4mk"], check=True, capture_output=True)


def test_decode_chains_are_the_cli_chains(tmp_path, h4mk_cli):
    # Two tracks, one with B blocks in decode order (I0 P3 B1 B2 P6 B4 B5 ...).
    video = []
    for gop in range(10):
        base = gop * 12
        video.append(Block(base * 40, BLK_I, b"I%d" % base))
        for anchor in range(3, 12, 3):
            video.append(Block((base + anchor) * 40, BLK_P, b"P%d" % (base + anchor)))
            for b in (anchor - 2, anchor - 1):
                video.append(Block((base + b) * 40, BLK_B, b"B%d" % (base + b)))
    audio = [Block(i * 20, BLK_I if i % 50 == 0 else BLK_P, bytes([i % 256]) * 8)
             for i in range(240)]
    container = mux_multitrack_gop(
        [TrackSpec(1, "cam", "video", width=64, height=48), TrackSpec(2, "mic", "audio", sample_rate=16000, channels=1)],
        {1: video, 2: audio}, meta={"title": "seeds"})
    path = tmp_path / "seeds.h4mk"
    path.write_bytes(container)
    subprocess.run([h4mk_cli, "verify", path], check=True, capture_output=True)
    assert [(t.track_id, t.name, t.kind) for t in read_tracks(container)] == [
        (1, "cam", "video"), (2, "mic", "audio")]
    for track, t_ms in [(1, 0), (1, 1000), (1, 1130), (1, 4795), (2, 0), (2, 999), (2, 4780)]:
        chain = get_decode_chain(container, track_id=track, t_ms=t_ms)
        out = subprocess.run([h4mk_cli, "chain", path, "--track", str(track), "--t", f"{t_ms}ms",
                              "--json"], check=True, capture_output=True).stdout
        want = [(c["pts"], c["type"]) for c in json.loads(out)["chain"]]
        got = []
        for idx in chain:
            track_id, opaque = unwrap_core_payload(extract(container, idx))
            assert track_id == track
            got.append(opaque)
        blocks = {b.opaque_blob for b in (video if track == 1 else audio)}
        assert all(g in blocks for g in got)
        assert len(got) == len(want) and chain[0] == find_keyframe_for_time(container, track, t_ms)
        with h4mk.Reader(container) as r:
            listed = list(r)
        assert [(listed[i].pts, listed[i].type) for i in chain] == want


def test_flags_are_the_seeds_u32(tmp_path):
    assert parse_flags(make_flags(1234, BLK_B)) == (1234, BLK_B)
    assert make_flags(5, BLK_P) == (1 << 28) | 5
    with pytest.raises(h4mk.InvalidArgument):
        make_flags(1 << 28, BLK_I)
    with pytest.raises(h4mk.FormatError):
        parse_flags(3 << 28)


def test_string_track_ids_become_named_tracks():
    blocks = [TrackBlock("video_main", pts_us=i * 33333, kind="I" if i % 10 == 0 else "P",
                         keyframe=i % 10 == 0, payload=b"v%d" % i) for i in range(30)]
    blocks += [TrackBlock("depth", pts_us=i * 66666, kind="I", keyframe=True, payload=b"d%d" % i)
               for i in range(15)]
    container = build_h4mk_tracks(blocks, meta={"camera": "front"}, safe={"policy": "transport_only"})
    with h4mk.Reader(container) as r:
        assert [(t.id, t.name, t.time_base) for t in r.tracks] == [
            (1, "video_main", (1, 1_000_000)), (2, "depth", (1, 1_000_000))]
        assert r.metadata == {"camera": "front"} and r.safe == {"policy": "transport_only"}
        got = sorted((b.track, b.pts, b.data) for b in r)
    assert got == sorted([(1 if b.track_id == "video_main" else 2, b.pts_us, b.payload)
                          for b in blocks])


def test_the_seeds_cli_builds_lists_and_chains(tmp_path):
    out = tmp_path / "my.h4mk"
    run = [sys.executable, "-m", "h4mk.seeds"]
    built = subprocess.run(run + ["mt_build", "--out", str(out)], capture_output=True, text=True)
    assert built.returncode == 0 and out.exists(), built.stderr
    assert h4mk.verify(out)["ok"]
    listed = subprocess.run(run + ["mt_list", "--in", str(out)], capture_output=True, text=True)
    assert listed.returncode == 0 and "track 1: audio" in listed.stdout
    chain = subprocess.run(run + ["mt_chain", "--in", str(out), "--track", "1", "--t_ms", "5100"],
                           capture_output=True, text=True)
    # The keyframe at 5 s (block 250 of the audio) and the P blocks up to 5.1 s.
    assert chain.returncode == 0 and len(chain.stdout.split()) == 6, chain.stdout
    for bad in ([], ["mt_nothing"], ["mt_build"]):
        r = subprocess.run(run + bad, capture_output=True, text=True)
        assert r.returncode == 2, (bad, r.returncode)
    missing = subprocess.run(run + ["mt_list", "--in", str(tmp_path / "none.h4mk")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "none.h4mk" in missing.stderr


def test_the_seeds_dsp_adapter_takes_a_sample_rate(ffmpeg):  # ffmpeg: the full build's plugins
    from h4mk.adapters import DSPAdapter
    assert DSPAdapter(sample_rate=16000).name == "dsp"
    for bad in (0, -1, 1.5, True, 10**9):
        with pytest.raises(h4mk.InvalidArgument, match="sample_rate"):
            DSPAdapter(sample_rate=bad)
