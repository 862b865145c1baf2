"""h4mk.track_params: a track's registered members (codec parameters,
dispositions, side data) as libh4mk checks them, the same values FFmpeg's
demuxer takes from the file."""
import json
import subprocess

import pytest

import h4mk


def test_what_ffmpeg_wrote_reads_as_checked_values(tmp_path, ffmpeg):
    src = tmp_path / "src.mkv"
    out = tmp_path / "a.h4mk"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=duration=1:size=64x48:rate=25", "-c:v", "mpeg4",
                    "-color_range", "tv", "-aspect", "16:9", src],
                   check=True, capture_output=True)
    subprocess.run([ffmpeg, "-v", "error", "-y", "-display_rotation:v", "90", "-i", src,
                    "-c", "copy", "-disposition:v", "default+forced", out],
                   check=True, capture_output=True)
    with h4mk.Reader(out) as r:
        p = h4mk.track_params(r.tracks[0])
    assert p.ignored == []
    assert p.codec_params["color"]["range"] == "limited"
    assert p.codec_params["field_order"] == "progressive"
    num, den = p.codec_params["sample_aspect_ratio"]
    assert num * 64 * 9 == den * 48 * 16  # a 16:9 picture of 64x48
    assert set(p.disposition) == {"default", "forced"}
    assert len(p.side_data["display_matrix"]) == 36
    matrix = h4mk.side_data_values("display_matrix", p.side_data["display_matrix"])["matrix"]
    assert abs(matrix[1]) == 65536 and matrix[0] == 0  # a quarter turn


def test_what_does_not_fit_is_left_out_and_named(tmp_path):
    path = tmp_path / "t.h4mk"
    extra = {"codec_params": {"frame_size": 0, "video_delay": 2, "field_order": "sideways"},
             "disposition": "default+shiny", "side_data": {"clli": "AAA", "afd": "CA=="}}
    with h4mk.Writer(path) as w:
        w.add_track(h4mk.Track(id=1, kind="video", codec="mpeg4", time_base=(1, 25), extra=extra))
        w.write_block(1, "I", 0, payload=b"\x00")
    with h4mk.Reader(path) as r:
        p = h4mk.track_params(r.tracks[0])
    assert p.codec_params == {"video_delay": 2}
    assert p.disposition == ["default"]
    assert p.side_data == {"afd": b"\x08"}
    assert len(p.ignored) == 4
    for named in ("codec_params.frame_size", "codec_params.field_order", '"shiny"',
                  "side_data.clli"):
        assert any(named in m for m in p.ignored), (named, p.ignored)
    with pytest.raises(h4mk.InvalidArgument):
        h4mk.track_params(json.dumps(extra))  # type: ignore[arg-type]
