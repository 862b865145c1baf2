"""Corpora of H4MK files on Dask (``dask.bag``, ``dask.array``), each file
read by one task where the scheduler puts it.

Sources are paths every worker can open (a shared file system) or URLs
(``http(s)://``, ``s3://``, ... through fsspec, read by range), so the same
code runs on a laptop's ``distributed.LocalCluster`` and on a real cluster:
point a ``distributed.Client`` at the cluster's scheduler
(``Client("tcp://scheduler:8786")``, or a dask-jobqueue / dask-kubernetes
cluster object) and pass URLs the workers can reach. Nothing here schedules:
Dask does.

    import h4mk.dask
    bag = h4mk.dask.read_tracks(urls, track=1)        # one dict of arrays per file
    tokens = h4mk.dask.read_arrays(urls, track=1)     # every frame, files end to end
    tokens.mean(axis=0).compute()

A task has a cost of its own on Dask (a few milliseconds on a small
machine); files that take less than that to read are better read several to
a task: ``files_per_task``.
"""
from __future__ import annotations

import os
from typing import Any, Sequence, Union

import numpy as np

import dask
import dask.array as da
import dask.bag as db

from . import InvalidArgument, Reader

SourceName = Union[str, "os.PathLike[str]"]


def _name(source: SourceName) -> str:
    return os.fspath(source)


def _read(source: str, track: int, strict: bool, public_key: Union[str, bytes, None],
          start: Any, end: Any) -> dict[str, Any]:
    with Reader(source, public_key=public_key) as r:
        if start is None and end is None:
            arrays = r.read_track(track, strict=strict)
        else:
            arrays = r.read_range(track, start, end, strict=strict)
        arrays["source"] = source
        return arrays


def _batch_size(files_per_task: int) -> int:
    if isinstance(files_per_task, bool) or not isinstance(files_per_task, int) \
            or files_per_task < 1:
        raise InvalidArgument(f"files_per_task is a positive integer; got {files_per_task!r}",
                              "invalid_argument", None)
    return files_per_task


def read_tracks(sources: Sequence[SourceName], track: int, *, strict: bool = True,
                public_key: Union[str, bytes, None] = None, start: Any = None,
                end: Any = None, files_per_task: int = 1) -> db.Bag:
    """A bag with one element per source: the dict :meth:`h4mk.Reader.read_track`
    gives (or :meth:`~h4mk.Reader.read_range` from ``start`` to ``end``
    seconds), plus ``source``. A file that cannot be read fails its task,
    naming it (``strict=False`` keeps what is intact). With ``public_key``
    every byte is checked against the file's signature as it is read.
    ``files_per_task`` files make one partition."""
    names = [_name(s) for s in sources]
    key = public_key.decode() if isinstance(public_key, bytes) else public_key
    return db.from_sequence(names, partition_size=_batch_size(files_per_task)).map(
        _read, track, strict, key, start, end)


def read_arrays(sources: Sequence[SourceName], track: int, *, strict: bool = True,
                public_key: Union[str, bytes, None] = None,
                files_per_task: int = 1) -> da.Array:
    """Every frame of a track declared with a ``dtype`` and ``shape``
    (docs/FORMAT.md §6.1 ``array``), file after file, as one Dask array of
    shape ``(frames, *shape)``; one chunk per ``files_per_task`` files, of a
    length known once read. The first source's track gives dtype and shape;
    a source whose track differs fails its task, naming it."""
    names = [_name(s) for s in sources]
    batch = _batch_size(files_per_task)
    if not names:
        raise ValueError("no sources")
    key = public_key.decode() if isinstance(public_key, bytes) else public_key
    with Reader(names[0], public_key=key) as r:
        t = r.track(track)
    if not t.dtype:
        raise ValueError(f"track {track} of {names[0]} declares no dtype: use read_tracks")
    dtype, shape = np.dtype(t.dtype).newbyteorder("<"), tuple(t.shape)

    def frames(source: str) -> np.ndarray:
        with Reader(source, public_key=key) as r:
            its = r.track(track)
            if (not its.dtype or np.dtype(its.dtype).newbyteorder("<") != dtype
                    or tuple(its.shape) != shape):
                raise ValueError(f"{source}: track {track} is not {t.dtype} frames of {shape}")
            return r.read_array(track, strict=strict)

    def files(group: list[str]) -> np.ndarray:
        arrays = [frames(n) for n in group]
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)

    parts = [da.from_delayed(dask.delayed(files)(names[i:i + batch]), shape=(np.nan, *shape),
                             dtype=dtype)
             for i in range(0, len(names), batch)]
    return da.concatenate(parts, axis=0)
