"""Fixtures: the C++ tools the tests compare against, built by scripts/build.sh
(H4MK_BUILD_DIR names another build tree)."""
import os
import pathlib
import socket
import subprocess

import pytest

BUILD = pathlib.Path(os.environ.get("H4MK_BUILD_DIR", pathlib.Path(__file__).parents[2] / "build"))


def without_gil(call, attempts: int = 5):
    """call()'s result, and whether another Python thread ran while it did:
    with a switch interval of a second the interpreter does not switch
    threads on its own, so that thread's counter moves only if the call let
    the GIL go. A call of a few milliseconds can end before a loaded machine
    wakes that thread, so a repeatable call is made up to `attempts` times;
    one that never lets the GIL go never moves the counter."""
    import sys
    import threading
    go, stop, count = threading.Event(), threading.Event(), [0]

    def counter():
        go.wait()
        while not stop.is_set():
            count[0] += 1

    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    t = threading.Thread(target=counter)
    t.start()
    try:
        go.set()
        for _ in range(attempts):
            before = count[0]
            result = call()
            if count[0] != before:
                break
        during = count[0] - before
    finally:
        stop.set()
        sys.setswitchinterval(old_interval)
        t.join()
    return result, during > 0


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


class Nginx:
    """nginx serving a directory: any HTTP server or CDN serves H4MK files
    this way, with Range and nothing else. Its access log counts requests."""

    def __init__(self, root: pathlib.Path):
        self.root = root
        self.conf_dir = root.parent / (root.name + "-nginx")
        self.conf_dir.mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        conf = self.conf_dir / "nginx.conf"
        # As root, workers would run as nobody, who cannot enter pytest's
        # private temporary directories.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf.write_text(
            f"{user}worker_processes 1;\npid {self.conf_dir}/nginx.pid;\n"
            f"error_log {self.conf_dir}/error.log;\nevents {{ worker_connections 64; }}\n"
            f"http {{\n  access_log {self.conf_dir}/access.log;\n"
            f"  client_body_temp_path {self.conf_dir};\n"
            f"  server {{ listen 127.0.0.1:{self.port}; root {root}; }}\n}}\n")
        subprocess.run(["nginx", "-e", self.conf_dir / "error.log", "-p", self.conf_dir,
                        "-c", conf], check=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def requests(self) -> int:
        log = self.conf_dir / "access.log"
        return len(log.read_text().splitlines()) if log.exists() else 0

    def stop(self) -> None:
        subprocess.run(["nginx", "-p", self.conf_dir, "-c", self.conf_dir / "nginx.conf",
                        "-s", "stop"], check=False)


@pytest.fixture
def nginx(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = Nginx(root)
    yield server
    server.stop()
