"""Reader.packets(): every track's blocks in dts order, the same packets in
the same order as ffprobe and `h4mk list --packets` give them."""
import json
import pathlib
import subprocess

import pytest

import h4mk


def probed_packets(ffmpeg: pathlib.Path, path: pathlib.Path) -> list:
    """ffprobe's packets as (track, pts, dts, size, flags)."""
    probe = json.loads(subprocess.run(
        [ffmpeg.with_name("ffprobe"), "-v", "error", "-of", "json", "-show_streams",
         "-show_packets", path], check=True, capture_output=True).stdout)
    track_of = {s["index"]: int(s["id"], 16) for s in probe["streams"]}
    return [(track_of[p["stream_index"]], int(p["pts"]), int(p["dts"]), int(p["size"]), p["flags"])
            for p in probe["packets"]]


@pytest.fixture(scope="module")
def media(tmp_path_factory, ffmpeg) -> pathlib.Path:
    """Video with B-frames, AAC (whose first packet carries skip samples)
    and subtitles: three tracks whose groups span different times."""
    d = tmp_path_factory.mktemp("packets")
    srt = d / "subs.srt"
    srt.write_text("".join(f"{i + 1}\n00:00:{i:02d},200 --> 00:00:{i:02d},800\nline {i}\n\n"
                           for i in range(0, 12, 2)))
    out = d / "av.h4mk"
    subprocess.run([ffmpeg, "-v", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc=duration=12:size=96x64:rate=25",
                    "-f", "lavfi", "-i", "sine=duration=12:sample_rate=48000",
                    "-i", srt, "-map", "0", "-map", "1", "-map", "2",
                    "-c:v", "mpeg4", "-bf", "2", "-g", "30", "-c:a", "aac", "-c:s", "subrip",
                    out], check=True, capture_output=True)
    return out


def test_packets_come_in_dts_order_with_side_data_by_name(media):
    with h4mk.Reader(media) as r:
        tracks = {t.id: t for t in r.tracks}
        got = list(r.packets())
    assert {p.track for p in got} == set(tracks)
    seconds = [p.dts * tracks[p.track].time_base[0] / tracks[p.track].time_base[1] for p in got]
    assert seconds == sorted(seconds)
    assert all(isinstance(p, h4mk.Packet) and isinstance(p.side_data, dict) for p in got)
    assert any("skip_samples" in p.side_data for p in got)
    # Every block once: the same as file order, sorted.
    with h4mk.Reader(media) as r:
        assert sorted((b.track, b.dts, b.data) for b in r) == sorted(
            (p.track, p.dts, p.data) for p in got)
    # Printed like a Block: the first bytes of payload and side data, not all.
    big = max(got, key=lambda p: len(p.data))
    text = repr(big)
    assert text.startswith("h4mk.Packet(track=") and f"...({len(big.data)} bytes)" in text
    assert len(big.data) > 1000 and len(text) < 400, text
    with_side_data = next(p for p in got if "skip_samples" in p.side_data)
    assert "side_data={'skip_samples': b'" in repr(with_side_data), repr(with_side_data)


def test_ffprobe_the_cli_and_python_give_the_same_packets(media, ffmpeg, h4mk_cli):
    # Side data is left out here: libavformat adds skip samples of its own to
    # a stream's first packet.
    from_ffprobe = [(*p[:4], p[4][0] == "K") for p in probed_packets(ffmpeg, media)]
    listed = json.loads(subprocess.run([h4mk_cli, "list", "--packets", "--json", media],
                                       check=True, capture_output=True).stdout)["blocks"]
    from_cli = [(b["track"], b["pts"], b["dts"], b["size"], b["type"] == "I") for b in listed]
    with h4mk.Reader(media) as r:
        from_python = [(p.track, p.pts, p.dts, len(p.data), p.type == "I") for p in r.packets()]
    assert len(from_ffprobe) > 800
    assert from_cli == from_ffprobe
    assert from_python == from_ffprobe
    assert [b["side_data"] for b in listed] == [
        {k: v.hex() for k, v in p.side_data.items()} for p in h4mk.Reader(media).packets()]


def test_a_damaged_group_comes_out_marked_alike_in_ffprobe_the_cli_and_python(
        media, tmp_path, ffmpeg, h4mk_cli):
    """ffprobe gets the blocks of a group whose CRC fails but that still
    parses, marked corrupt; `list --damaged` and Reader(damaged_blocks=True)
    give the same packets, marked damaged; without them the group is left
    out and reported."""
    listed = json.loads(subprocess.run([h4mk_cli, "list", "--json", media],
                                       check=True, capture_output=True).stdout)["blocks"]
    victim = next(b for b in listed[len(listed) // 2:] if b["size"] > 100)
    data = bytearray(media.read_bytes())
    data[victim["data_offset"] + 50] ^= 0xFF
    damaged = tmp_path / "damaged.h4mk"
    damaged.write_bytes(bytes(data))

    from_ffprobe = [(*p[:4], p[4][2] == "C") for p in probed_packets(ffmpeg, damaged)]
    def listed_rows(*options):
        run = subprocess.run([h4mk_cli, "list", "--packets", "--json", *options, damaged],
                             check=True, capture_output=True)
        return [(b["track"], b["pts"], b["dts"], b["size"], b["damaged"])
                for b in json.loads(run.stdout)["blocks"]], run.stderr

    from_cli, cli_stderr = listed_rows("--damaged")
    with h4mk.Reader(damaged, damaged_blocks=True) as r, pytest.warns(h4mk.DamageWarning,
                                                                       match="marked damaged"):
        from_python = [(p.track, p.pts, p.dts, len(p.data), p.damaged) for p in r.packets()]
    marked = [p for p in from_ffprobe if p[4]]
    assert victim["track"] in {p[0] for p in marked}
    assert from_cli == from_ffprobe
    assert from_python == from_ffprobe
    assert b"CRC mismatch" in cli_stderr

    strict, strict_stderr = listed_rows()
    assert strict == [p for p in from_ffprobe if not p[4]]
    assert b"CRC mismatch" in strict_stderr


def test_a_masked_block_no_key_opens_comes_out_marked_alike(ffmpeg, h4mk_cli):
    """A block flagged masked on a track without mask parameters (FORMAT.md
    §13.1): the CLI and Python hand it out as masked, ffprobe as corrupt,
    never as the codec's bytes."""
    vector = pathlib.Path(__file__).parents[2] / "tests" / "vectors" / "multitrack.h4mk"
    from_ffprobe = [(*p[:4], p[4][2] == "C") for p in probed_packets(ffmpeg, vector)]
    listed = json.loads(subprocess.run([h4mk_cli, "list", "--packets", "--json", vector],
                                       check=True, capture_output=True).stdout)["blocks"]
    from_cli = [(b["track"], b["pts"], b["dts"], b["size"], b["masked"]) for b in listed]
    with h4mk.Reader(vector) as r:
        assert not any(t.masked for t in r.tracks)
        from_python = [(p.track, p.pts, p.dts, len(p.data), p.masked) for p in r.packets()]
    assert [p for p in from_ffprobe if p[4]] == [(1, 5, 3, 6, True)]
    assert from_cli == from_ffprobe
    assert from_python == from_ffprobe


def test_registered_side_data_reads_by_field_in_the_cli_and_python(media, h4mk_cli):
    listed = json.loads(subprocess.run([h4mk_cli, "list", "--packets", "--json", media],
                                       check=True, capture_output=True).stdout)["blocks"]
    with h4mk.Reader(media) as r:
        from_python = [{k: h4mk.side_data_values(k, v) for k, v in p.side_data.items()}
                       for p in r.packets()]
    assert [b["side_data_values"] for b in listed] == from_python
    skips = [(b["side_data"]["skip_samples"], b["side_data_values"]["skip_samples"])
             for b in listed if "skip_samples" in b["side_data"]]
    assert skips
    for raw, values in skips:
        raw = bytes.fromhex(raw)
        assert values == {"skip": int.from_bytes(raw[0:4], "little"),
                          "discard": int.from_bytes(raw[4:8], "little"),
                          "skip_reason": raw[8], "discard_reason": raw[9]}


def test_side_data_values_name_fields_and_refuse_what_does_not_fit():
    assert h4mk.side_data_values("clli", bytes([0x03, 0xE8, 0x01, 0x90])) == {
        "max_content_light_level": 1000, "max_pic_average_light_level": 400}
    stereo = bytes([1] + [0] * 35)
    assert h4mk.side_data_values("stereo3d", stereo)["type"] == "side_by_side"
    assert h4mk.side_data_values("stereo3d", stereo)["horizontal_field_of_view"] == [0, 0]
    demix = b"".join(v.to_bytes(4, "little") for v in (1, 1, 7, 48000, 960, 960, 960, 2))
    assert h4mk.side_data_values("iamf_demixing", demix)["entries"] == [
        {"subblock_duration": 960, "dmixp_mode": 2}]
    with pytest.raises(h4mk.FormatError, match="stereo3d.*type"):
        h4mk.side_data_values("stereo3d", bytes([9] + [0] * 35))
    with pytest.raises(h4mk.FormatError, match="clli"):
        h4mk.side_data_values("clli", b"\x00")
    assert h4mk.side_data_values("exif", b"II*\x00") is None
    assert h4mk.side_data_values("not_registered", b"") is None
    with pytest.raises(h4mk.InvalidArgument, match="key"):
        h4mk.side_data_values(b"clli", b"")  # type: ignore[arg-type]


def test_reading_in_file_order_ends_the_merge(media):
    with h4mk.Reader(media) as r:
        first = next(r.packets())
        r.rewind()
        again = next(r.packets())
        assert again == first
        assert r.next_block() is not None  # file order again, from where the merge read to


def test_a_padded_aac_frame_written_from_python_gets_skip_samples(tmp_path):
    """The writer's rule (FORMAT.md §5.4) holds for every program on libh4mk:
    a last frame of 352 samples in 1,024-sample AAC frames drops 672."""
    path = tmp_path / "padded.h4mk"
    track = h4mk.Track(id=1, kind="audio", codec="aac", time_base=(1, 48000),
                       sample_rate=48000, channels=2, extra={"codec_params": {"frame_size": 1024}})
    with h4mk.Writer(path) as w:
        w.add_track(track)
        w.write_block(1, "I", 0, duration=1024, payload=b"\x01" * 8)
        w.write_block(1, "I", 1024, duration=352, payload=b"\x02" * 8)
    with h4mk.Reader(path) as r:
        got = [p.side_data for p in r.packets()]
    assert got[0] == {}
    assert h4mk.side_data_values("skip_samples", got[1]["skip_samples"]) == {
        "skip": 0, "discard": 672, "skip_reason": 0, "discard_reason": 0}
