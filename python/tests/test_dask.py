"""A corpus on Dask: 120 files behind nginx read by a distributed.LocalCluster
of worker processes, each file by range over HTTP, as a cluster would."""
import io

import numpy as np
import pytest

import h4mk

distributed = pytest.importorskip("distributed")
import h4mk.dask  # noqa: E402  (after the skip: dask is optional for the package)

FILES = 120


def corpus_file(seed: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(50, 150))
    tokens = rng.integers(0, 1024, size=(frames, 8), dtype=np.int16)
    buf = io.BytesIO()
    with h4mk.Writer(buf) as w:
        w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(8,))
        types = np.where(np.arange(frames) % 50 == 0, 0, 1)
        w.write_blocks(1, types, np.arange(frames), tokens, size=16)
    return buf.getvalue(), tokens


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c, distributed.Client(c) as client:
        yield client


def test_a_corpus_reads_on_worker_processes_over_http(nginx, cluster):
    want = []
    for i in range(FILES):
        data, tokens = corpus_file(i)
        (nginx.root / f"part-{i:03}.h4mk").write_bytes(data)
        want.append(tokens)
    urls = [nginx.url(f"part-{i:03}.h4mk") for i in range(FILES)]

    got = h4mk.dask.read_tracks(urls, 1).compute()
    assert [g["source"] for g in got] == urls
    for g, tokens in zip(got, want):
        assert np.array_equal(g["data"], tokens)
    # Every file was read by a worker process, by range over HTTP.
    workers = cluster.run(lambda: __import__("os").getpid())
    assert len(set(workers.values())) == 2
    assert nginx.requests() >= FILES

    frames = h4mk.dask.read_arrays(urls, 1)
    assert frames.dtype == np.dtype("<i2") and frames.shape[1:] == (8,)
    assert np.array_equal(frames.compute(), np.concatenate(want))
    # A reduction runs where the data is read: no array comes back whole.
    assert np.allclose(frames.mean(axis=0).compute(), np.concatenate(want).mean(axis=0))
    # Several files to a task (one chunk each): the same frames.
    batched = h4mk.dask.read_arrays(urls[:11], 1, files_per_task=4)
    assert batched.numblocks == (3, 1)
    assert np.array_equal(batched.compute(), np.concatenate(want[:11]))
    bag = h4mk.dask.read_tracks(urls[:5], 1, files_per_task=2)
    assert bag.npartitions == 3 and [g["source"] for g in bag.compute()] == urls[:5]
    for bad in (0, -1, 1.5, True):
        with pytest.raises(h4mk.InvalidArgument, match="files_per_task"):
            h4mk.dask.read_arrays(urls, 1, files_per_task=bad)
    # A file whose track holds other frames than the first file's fails its
    # task, naming it.
    odd = io.BytesIO()
    with h4mk.Writer(odd) as w:
        w.add_track(id=1, time_base=(1, 50), dtype="int16", shape=(4,))
        w.write_blocks(1, [0], [0], np.zeros(4, np.int16), size=8)
    (nginx.root / "odd.h4mk").write_bytes(odd.getvalue())
    with pytest.raises(Exception, match=r"odd\.h4mk: track 1 is not int16 frames of \(8,\)"):
        h4mk.dask.read_arrays(urls[:2] + [nginx.url("odd.h4mk")], 1).compute()

    # A time range of every file, and a file that is not there fails its
    # task naming it (distributed re-raises it as a plain Exception when the
    # error it chains, aiohttp's, does not pickle).
    ranged = h4mk.dask.read_tracks(urls[:10], 1, start=0.5, end=1.0).compute()
    for g, tokens in zip(ranged, want):
        assert np.array_equal(g["data"], tokens[25:50])
    with pytest.raises(Exception, match=r"FileNotFoundError.*missing\.h4mk"):
        h4mk.dask.read_tracks(urls[:3] + [nginx.url("missing.h4mk")], 1).compute()
