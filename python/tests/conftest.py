"""Fixtures: the C++ tools the tests compare against, built by scripts/build.sh
(H4MK_BUILD_DIR names another build tree)."""
import os
import pathlib
import subprocess

import pytest

BUILD = pathlib.Path(os.environ.get("H4MK_BUILD_DIR", pathlib.Path(__file__).parents[2] / "build"))


def tool(*parts: str) -> pathlib.Path:
    path = BUILD.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/build.sh first")
    return path


@pytest.fixture(scope="session")
def h4mk_cli() -> pathlib.Path:
    return tool("tools", "h4mk")


@pytest.fixture(scope="session")
def demo_file(tmp_path_factory) -> pathlib.Path:
    """The C++ demo's file: audio, video with B blocks, an h4core track, metadata."""
    path = tmp_path_factory.mktemp("demo") / "demo.h4mk"
    subprocess.run([tool("examples", "h4mk_demo"), path], check=True, capture_output=True)
    return path


@pytest.fixture(scope="session")
def ffmpeg() -> pathlib.Path:
    for name in ("ffmpeg-9.0.2", "ffmpeg-9.0.2-lean"):
        path = BUILD / name / "install" / "bin" / "ffmpeg"
        if path.exists():
            return path
    pytest.fail("no patched ffmpeg: run scripts/build.sh first")
