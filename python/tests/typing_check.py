"""Checked by mypy (scripts/test.sh), never run: code as users write it
type-checks against the package and its compiled module's stubs."""
import numpy as np

import h4mk


def first_block_end(path: str) -> int:
    with h4mk.Reader(path) as r:
        for b in r:
            return b.pts + b.duration + len(b.data) + int(b.masked)
    return -1


def tokens(url: str) -> np.ndarray:
    with h4mk.Reader(url) as r:
        t: h4mk.Track = r.track(1)
        data: np.ndarray = r.read_range(t.id, 0.0, 10.0)["data"]
        return data


def frames(url: str) -> np.ndarray:
    with h4mk.Reader(url) as r:
        return r.read_array(1, end=10.0)
