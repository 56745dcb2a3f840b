r"""Ensembles larger than one process: chunk tasks with independent keys, statistics reduced in
chunk order.

Chunk ``c`` of ``chunk_size`` paths draws its noise from ``fold_in(key, c)`` exactly as
:func:`~noetherlab.ensembles.simulation.simulate` does, wherever it runs; each task returns only the chunk's
statistics (and, with ``store``, its final states, written straight into a Zarr array). The client
merges the chunks in index order — exit counts, exit-time sums, Chan's pairwise update of the
mean and the sum of squared deviations of the final states, histogram counts on fixed edges —
so the numbers are the same bit for bit on 1 or 100 workers, and memory is ``O(chunk_size · N)``
per worker whatever ``n_paths`` is.

Histogram edges: ``hist_range`` if given, else chunk 0's range of final states widened by 5 % on
each side (chunk 0 runs first); states outside are counted in ``underflow`` / ``overflow``.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab._core.io import JsonRecord
from noetherlab._core.resources import check_memory, warn_if_long
from noetherlab._core.validation import as_state, choice, positive_int
from noetherlab._core.version import VERSION
from noetherlab.ensembles.boundaries import require_boundary, require_inside
from noetherlab.sde.model import require_sde

__all__ = ["EnsembleStatistics", "ensemble_statistics", "load_ensemble_statistics"]


@dataclass(frozen=True)
class EnsembleStatistics(JsonRecord):
    """Statistics of an ensemble (:func:`ensemble_statistics`). ``K`` boundary parts, ``N`` state
    dimension, ``B`` histogram bins.

    Attributes:
        n_paths, chunks: paths simulated and chunk tasks they ran in.
        labels: names of the boundary parts.
        exit_counts: ``(K,)`` paths absorbed through each part by ``T``.
        exit_time_mean, exit_time_var: ``(K,)`` over the paths absorbed through each part (NaN
            when none).
        final_mean, final_var: ``(N,)`` over all paths of their state at ``T`` (absorbed paths:
            their exit state), variance with divisor ``n_paths``.
        histogram_edges: ``(N, B + 1)``; ``histogram``: ``(N, B)`` counts of final states per
            coordinate; ``underflow``, ``overflow``: ``(N,)`` counts outside the edges.
        parameters: what produced it (model, x0, T, dt, key, chunk size, ...).
        seconds: wall time; ``workers``: worker processes (0: this process).
    """

    n_paths: int
    chunks: int
    labels: tuple[str, ...]
    exit_counts: np.ndarray
    exit_time_mean: np.ndarray
    exit_time_var: np.ndarray
    final_mean: np.ndarray
    final_var: np.ndarray
    histogram_edges: np.ndarray
    histogram: np.ndarray
    underflow: np.ndarray
    overflow: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 0

    def exit_fraction(self, label: int | str | None = None) -> float:
        """Fraction absorbed by ``T`` (through part ``label``, a name or 1-based number, if given)."""
        if label is None:
            return float(self.exit_counts.sum() / self.n_paths)
        if isinstance(label, str):
            k = self.labels.index(label) if label in self.labels else -1
        elif isinstance(label, int | np.integer) and not isinstance(label, bool):
            k = int(label) - 1
        else:
            k = -1
        if not 0 <= k < len(self.labels):
            raise InvalidArgumentError(
                "label", f"no boundary part {label!r}", f"use one of {list(self.labels)}"
            )
        return float(self.exit_counts[k] / self.n_paths)


# ----------------------------------------------------------------------------- one chunk
def chunk_statistics(
    sde: Any,
    boundary: Any,
    x0: np.ndarray,
    size: int,
    key: np.ndarray,
    chunk: int,
    dt: float,
    t0: float,
    n_steps: int,
    noise_precision: str,
    edges: np.ndarray | None,
    keep_final: bool,
) -> dict[str, Any]:
    """Simulate chunk ``chunk`` (``size`` paths from ``x0``) and reduce it (runs on a worker)."""
    import jax.numpy as jnp

    from noetherlab.ensembles.simulation import simulate_chunk

    (x, label, exit_step, bad), _ = simulate_chunk(
        sde,
        boundary,
        np.broadcast_to(x0, (size, x0.size)),
        jnp.asarray(key, dtype=jnp.uint32),
        chunk,
        dt,
        t0,
        n_steps,
        noise_precision=noise_precision,
    )
    x, label, exit_step, bad = (np.asarray(a) for a in (x, label, exit_step, bad))
    K = 0 if boundary is None else len(boundary.labels)
    out: dict[str, Any] = {"chunk": chunk, "size": size}
    failed = np.flatnonzero(bad >= 0)
    out["bad"] = None if failed.size == 0 else (int(failed[0]), int(bad[failed[0]]), x[failed[0]])
    if failed.size:
        return out  # no statistics of a chunk with a failed path: the caller raises
    out["counts"] = np.array([np.sum(label == k) for k in range(1, K + 1)], dtype=np.int64)
    t_exit = t0 + (exit_step + 1) * dt
    out["t_mean"], out["t_m2"] = _moments_by_label(t_exit, label, K)
    out["mean"] = x.mean(axis=0)
    out["m2"] = ((x - out["mean"]) ** 2).sum(axis=0)
    out["min"], out["max"] = x.min(axis=0), x.max(axis=0)
    if edges is not None:
        out["hist"], out["under"], out["over"] = _histogram(x, edges)
    out["final"] = x if keep_final else None
    return out


def _moments_by_label(t: np.ndarray, label: np.ndarray, K: int) -> tuple[np.ndarray, np.ndarray]:
    means, m2s = np.full(K, np.nan), np.zeros(K)
    for k in range(1, K + 1):
        tk = t[label == k]
        if tk.size:
            means[k - 1] = tk.mean()
            m2s[k - 1] = ((tk - means[k - 1]) ** 2).sum()
    return means, m2s


def _histogram(x: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    N = x.shape[1]
    hist = np.stack([np.histogram(x[:, j], bins=edges[j])[0] for j in range(N)]).astype(np.int64)
    under = np.array([np.sum(x[:, j] < edges[j, 0]) for j in range(N)], dtype=np.int64)
    over = np.array([np.sum(x[:, j] > edges[j, -1]) for j in range(N)], dtype=np.int64)
    return hist, under, over


def _merge(n_a: Any, mean_a: Any, m2_a: Any, n_b: Any, mean_b: Any, m2_b: Any) -> tuple[Any, Any]:
    """Chan et al.'s pairwise update of (mean, sum of squared deviations); empty parts allowed."""
    n = n_a + n_b
    safe = np.where(n > 0, n, 1)
    delta = np.where(n_b > 0, mean_b, 0.0) - np.where(n_a > 0, mean_a, 0.0)
    mean = np.where(n_a > 0, mean_a, 0.0) + delta * n_b / safe
    m2 = m2_a + m2_b + delta**2 * n_a * n_b / safe
    mean = np.where(n > 0, mean, np.nan)
    return mean, m2


class _Reducer:
    """Merge chunk statistics strictly in chunk order (out-of-order arrivals wait)."""

    def __init__(self, K: int, N: int, edges: np.ndarray) -> None:
        self.next, self.waiting = 0, {}  # type: ignore[var-annotated]
        self.n = 0
        self.mean, self.m2 = np.zeros(N), np.zeros(N)
        self.counts = np.zeros(K, np.int64)
        self.t_mean, self.t_m2 = np.full(K, np.nan), np.zeros(K)
        self.edges = edges
        self.hist = np.zeros((N, edges.shape[1] - 1), np.int64)
        self.under, self.over = np.zeros(N, np.int64), np.zeros(N, np.int64)

    def add(self, out: dict[str, Any]) -> None:
        self.waiting[out["chunk"]] = out
        while self.next in self.waiting:
            self._merge(self.waiting.pop(self.next))
            self.next += 1

    def _merge(self, o: dict[str, Any]) -> None:
        self.mean, self.m2 = _merge(self.n, self.mean, self.m2, o["size"], o["mean"], o["m2"])
        self.n += o["size"]
        self.t_mean, self.t_m2 = _merge(
            self.counts, self.t_mean, self.t_m2, o["counts"], o["t_mean"], o["t_m2"]
        )
        self.counts = self.counts + o["counts"]
        self.hist += o["hist"]
        self.under += o["under"]
        self.over += o["over"]

    def statistics(
        self,
        n_paths: int,
        chunks: int,
        labels: tuple[str, ...],
        parameters: dict[str, Any],
        seconds: float,
        workers: int,
    ) -> EnsembleStatistics:
        """The merged statistics as the result record."""
        counts = self.counts
        return EnsembleStatistics(
            n_paths=n_paths,
            chunks=chunks,
            labels=labels,
            exit_counts=counts,
            exit_time_mean=self.t_mean,
            exit_time_var=np.where(counts > 0, self.t_m2 / np.maximum(counts, 1), np.nan),
            final_mean=self.mean,
            final_var=self.m2 / n_paths,
            histogram_edges=self.edges,
            histogram=self.hist,
            underflow=self.under,
            overflow=self.over,
            parameters=parameters,
            seconds=seconds,
            workers=workers,
        )


# ----------------------------------------------------------------------------- the ensemble
def ensemble_statistics(
    sde: Any,
    x0: Any,
    T: float,
    dt: float,
    n_paths: int,
    key: int = 0,
    *,
    t0: float = 0.0,
    boundary: Any = None,
    chunk_size: int = 100_000,
    bins: int = 64,
    hist_range: Any = None,
    noise_precision: str = "float64",
    workers: int | None = 0,
    scheduler: str | None = None,
    client: Any = None,
    store: str | Path | None = None,
    keep_final: bool = False,
    progress: bool = False,
) -> EnsembleStatistics:
    """Statistics of ``n_paths`` Euler–Maruyama paths of ``sde`` from ``x0`` over
    ``[t0, t0 + T]``, simulated chunk by chunk as tasks (see the module docstring).

    Args:
        x0: the shared start state ``(N,)``.
        key: integer seed; chunk ``c`` uses ``fold_in(PRNGKey(key), c)`` — the same paths as
            :func:`~noetherlab.ensembles.simulation.simulate` with the same ``chunk_size``.
        boundary: an absorbing :class:`~noetherlab.ensembles.boundaries.Boundary`.
        bins, hist_range: histogram of the final states per coordinate: ``bins`` bins over
            ``hist_range`` (``(lo, hi)`` for every coordinate, or ``(N, 2)``).
        workers: ``0`` (default): run the chunks in this process; ``k``: a ``LocalCluster`` of
            ``k`` worker processes; ``None``: one per CPU.
        scheduler, client: an existing Dask scheduler address or client instead.
        store: a new Zarr store for the statistics (and, with ``keep_final``, the ``(n_paths, N)``
            final states, written chunk by chunk as they arrive).

    Raises:
        InvalidArgumentError: bad grid, sizes, ``hist_range`` or an existing ``store``.
        NonFiniteError: a path became non-finite (the path and step are named).
    """
    sde = require_sde(sde)
    from noetherlab.ensembles.simulation import step_count  # the grid rules of simulate

    start = time.perf_counter()
    n_steps = step_count(T, dt)
    n_paths = positive_int(n_paths, "n_paths")
    chunk_size = positive_int(chunk_size, "chunk_size")
    bins = positive_int(bins, "bins")
    check_memory(8.0 * bins * sde.dim * 4, "bins", f"histograms of {bins} bins", "pass fewer bins")
    choice(noise_precision, "noise_precision", ("float64", "float32"))
    _check_key_and_store(key, store, keep_final)
    x0a = as_state(x0, "x0", sde.dim)
    sde.check_states(x0a[None], t0, what="start")
    if boundary is not None:
        require_boundary(boundary)
        require_inside(boundary, x0a[None], "x0")
    chunk_size = min(chunk_size, n_paths)
    check_memory(
        8.0 * chunk_size * sde.dim * 8 + (8.0 * n_paths * sde.dim if keep_final else 0.0),
        "chunk_size" if not keep_final else "n_paths",
        f"chunks of {chunk_size:.3g} paths in {sde.dim} dimensions"
        + (f" (and {n_paths:.3g} final states kept)" if keep_final else ""),
        "pass a smaller chunk_size (the chunks run one after another)"
        + ("" if not keep_final else ", or keep_final=False"),
    )
    warn_if_long(
        n_paths * n_steps * (sde.dim**2 + 10 * sde.dim) / 2e9,
        f"simulating {n_paths:.3g} paths x {n_steps} steps",
        "Use fewer paths or a coarser dt, or run it on a cluster (scheduler=).",
    )
    edges = None if hist_range is None else _edges(hist_range, bins, sde.dim)
    sizes = [min(chunk_size, n_paths - lo) for lo in range(0, n_paths, chunk_size)]
    import jax

    base_key = np.asarray(jax.random.PRNGKey(int(key)))
    K = 0 if boundary is None else len(boundary.labels)

    def task(c: int, e: np.ndarray | None, keep: bool) -> tuple[Any, ...]:
        return (
            sde,
            boundary,
            x0a,
            sizes[c],
            base_key,
            c,
            dt,
            t0,
            n_steps,
            noise_precision,
            e,
            keep,
        )

    local = workers == 0 and scheduler is None and client is None
    with (
        _maybe_client(local, scheduler, workers, client) as c,
        _maybe_directory(store) as directory,
    ):
        finals = (
            None
            if directory is None or not keep_final
            else _finals(directory, n_paths, sde.dim, chunk_size)
        )
        n_workers = 0 if c is None else len(c.scheduler_info().get("workers", {}))
        first = _run_tasks(c, [task(0, edges, keep_final or edges is None)], None, None)[0]
        _raise_if_bad(first, chunk_size, dt, t0, n_paths)
        if edges is None:
            edges = _edges_from(first["final"], bins)
            first["hist"], first["under"], first["over"] = _histogram(first["final"], edges)
        reducer = _Reducer(K, sde.dim, edges)
        rest = [task(i, edges, keep_final) for i in range(1, len(sizes))]

        def take(out: dict[str, Any]) -> None:
            _raise_if_bad(out, chunk_size, dt, t0, n_paths)
            if finals is not None:
                lo = out["chunk"] * chunk_size
                finals[lo : lo + out["size"]] = out["final"]
            reducer.add(out)

        take(first)
        _run_tasks(c, rest, take, len(sizes) if progress else None)
        stats = reducer.statistics(
            n_paths,
            len(sizes),
            () if boundary is None else tuple(boundary.labels),
            {
                "model": sde.name,
                "x0": x0a.tolist(),
                "T": T,
                "dt": dt,
                "t0": t0,
                "n_steps": n_steps,
                "key": int(key),
                "chunk_size": chunk_size,
                "noise_precision": noise_precision,
                "scheme": "euler-maruyama (Ito)",
            },
            time.perf_counter() - start,
            n_workers,
        )
        if directory is not None:
            _write_statistics(directory, stats)
    return stats


def _check_key_and_store(key: Any, store: str | Path | None, keep_final: bool) -> None:
    if not isinstance(key, (int, np.integer)) or isinstance(key, bool):
        raise InvalidArgumentError(
            "key", f"must be an integer seed, got {key!r}", "pass e.g. key=0"
        )
    if keep_final and store is None:
        raise InvalidArgumentError("keep_final", "needs a store to write into", "pass store=...")
    if store is not None and Path(store).exists():
        raise InvalidArgumentError(
            "store", f"{str(store)!r} exists already", "pass a new path (nothing was written)"
        )


def _edges(hist_range: Any, bins: int, N: int) -> np.ndarray:
    r = np.asarray(hist_range, dtype=float)
    if r.shape == (2,):
        r = np.broadcast_to(r, (N, 2))
    if r.shape != (N, 2) or not np.all(np.isfinite(r)) or not np.all(r[:, 0] < r[:, 1]):
        raise InvalidArgumentError(
            "hist_range",
            f"must be finite (lo, hi) with lo < hi, for all or each of the {N} coordinates; "
            f"got {hist_range!r}",
            "e.g. hist_range=(-3, 3)",
        )
    return np.stack([np.linspace(lo, hi, bins + 1) for lo, hi in r])


def _edges_from(x: np.ndarray, bins: int) -> np.ndarray:
    """Chunk 0's range of each coordinate widened by 5 % on each side."""
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = np.where(hi > lo, 0.05 * (hi - lo), 0.5)
    return np.stack([np.linspace(a, b, bins + 1) for a, b in zip(lo - pad, hi + pad, strict=True)])


def _raise_if_bad(out: dict[str, Any], chunk_size: int, dt: float, t0: float, n: int) -> None:
    if out["bad"] is None:
        return
    i, step, x = out["bad"]
    p = out["chunk"] * chunk_size + i
    raise NonFiniteError(
        f"ensemble_statistics: path {p} became non-finite at step {step} (t = "
        f"{t0 + (step + 1) * dt:g}); its last finite state is {np.asarray(x).tolist()}. "
        "Fix: lower dt, or check the drift/noise for blow-up in that region."
    )


@contextlib.contextmanager
def _maybe_client(local: bool, scheduler: Any, workers: Any, client: Any) -> Iterator[Any]:
    if local:
        yield None
        return
    from noetherlab.distributed.cluster import dask_client

    remote = scheduler is not None or client is not None
    with dask_client(scheduler, None if remote and workers == 0 else workers, client) as c:
        yield c


@contextlib.contextmanager
def _maybe_directory(store: str | Path | None) -> Iterator[Path | None]:
    """The store is written into a fresh directory renamed into place at the end (complete or
    absent)."""
    if store is None:
        yield None
        return
    from noetherlab._core.io import run_directory

    with run_directory(store, "store") as fresh:
        yield fresh


def _run_tasks(
    client: Any, tasks: list[tuple[Any, ...]], take: Any, total: int | None
) -> list[dict[str, Any]]:
    """Run ``chunk_statistics`` on each argument tuple (here, or on the cluster); hand each
    result to ``take`` as it arrives (or return them, without ``take``)."""
    outs: list[dict[str, Any]] = []
    sink = take if take is not None else outs.append
    bar = _bar(total)
    if client is None:
        for t in tasks:
            sink(chunk_statistics(*t))
            bar()
        return outs
    from distributed import as_completed

    futures = [client.submit(chunk_statistics, *t, pure=False) for t in tasks]
    for fut in as_completed(futures, loop=client.loop):
        sink(fut.result())
        fut.release()
        bar()
    return outs


def _bar(total: int | None) -> Any:
    if total is None:
        return lambda: None
    from rich.progress import Progress

    progress = Progress(transient=True)
    progress.start()
    task = progress.add_task("simulating chunks", total=total, completed=1)

    def advance() -> None:
        progress.advance(task)
        if progress.tasks[0].finished:
            progress.stop()

    return advance


def _finals(directory: Path, n_paths: int, N: int, chunk_size: int) -> Any:
    import zarr

    group = zarr.open_group(directory, mode="w", zarr_format=2)
    arr = group.create_array(
        "final", shape=(n_paths, N), chunks=(chunk_size, N), dtype="float64", fill_value=np.nan
    )
    arr.attrs["_ARRAY_DIMENSIONS"] = ["path", "state"]
    arr.attrs["meaning"] = "state at T (absorbed paths: their exit state)"
    return arr


def _write_statistics(directory: Path, stats: EnsembleStatistics) -> None:
    import xarray as xr
    import zarr

    ds = xr.Dataset(
        {
            "exit_counts": (("part",), stats.exit_counts),
            "exit_time_mean": (("part",), stats.exit_time_mean),
            "exit_time_var": (("part",), stats.exit_time_var),
            "final_mean": (("state",), stats.final_mean),
            "final_var": (("state",), stats.final_var),
            "histogram": (("state", "bin"), stats.histogram),
            "histogram_edges": (("state", "edge"), stats.histogram_edges),
            "underflow": (("state",), stats.underflow),
            "overflow": (("state",), stats.overflow),
        },
        coords={"part": list(stats.labels)} if stats.labels else None,
        attrs={
            "kind": "EnsembleStatistics",
            "noetherlab_version": VERSION,
            "parameters": json.dumps(stats.parameters),
            "n_paths": stats.n_paths,
            "chunks": stats.chunks,
            "seconds": stats.seconds,
        },
    )
    ds.to_zarr(directory, mode="a", zarr_format=2, consolidated=False)
    zarr.consolidate_metadata(directory)


def load_ensemble_statistics(store: str | Path) -> EnsembleStatistics:
    """Read the statistics an :func:`ensemble_statistics` run wrote to its Zarr ``store``."""
    import xarray as xr

    from noetherlab._core.io import check_kind, reading

    p = Path(store) if isinstance(store, str | Path) else None
    if p is None or not p.is_dir():
        raise InvalidArgumentError(
            "store",
            f"{str(store)!r} is not a Zarr store (a directory)",
            "pass the store= directory of an ensemble_statistics run",
        )
    with reading(p, "EnsembleStatistics store"):
        with xr.open_zarr(p, consolidated=True) as ds:
            check_kind(ds.attrs, "EnsembleStatistics", p)
            ds = ds.load()
        return EnsembleStatistics(
            n_paths=int(ds.attrs["n_paths"]),
            chunks=int(ds.attrs["chunks"]),
            labels=tuple(str(v) for v in ds["part"].values) if "part" in ds.coords else (),
            exit_counts=np.asarray(ds["exit_counts"].values, dtype=np.int64),
            exit_time_mean=np.asarray(ds["exit_time_mean"].values, float),
            exit_time_var=np.asarray(ds["exit_time_var"].values, float),
            final_mean=np.asarray(ds["final_mean"].values, float),
            final_var=np.asarray(ds["final_var"].values, float),
            histogram_edges=np.asarray(ds["histogram_edges"].values, float),
            histogram=np.asarray(ds["histogram"].values),
            underflow=np.asarray(ds["underflow"].values),
            overflow=np.asarray(ds["overflow"].values),
            parameters=json.loads(ds.attrs.get("parameters", "{}")),
            seconds=float(ds.attrs.get("seconds", 0.0)),
        )
