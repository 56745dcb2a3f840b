r"""Run a sweep: every grid point of a :class:`~noetherlab.distributed.spec.SweepSpec` as one task on
Dask distributed, each result written to the sweep's Zarr store the moment it arrives.

* Nothing finished is lost: a point's record is on disk before the next one is awaited; a worker
  that dies takes only its running tasks with it, and Dask reschedules those on the others.
* Resuming is the same call: points already ``done`` are skipped; ``failed`` ones are retried
  (``retry_failed=True``, the default) or kept.
* A store from another spec is refused before anything runs; so are unknown parameter names,
  empty grids and bad parameter values (every point is checked first).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.status import SweepStatus
from noetherlab.distributed.cluster import dask_client
from noetherlab.distributed.computations import run_point
from noetherlab.distributed.spec import SweepSpec, load_spec
from noetherlab.distributed.store import STATUS_CODES, open_store

__all__ = ["SweepProgress", "SweepResult", "sweep"]


@dataclass(frozen=True)
class SweepProgress:
    """Counts of this run's tasks: ``done`` and ``failed`` so far, ``running`` (assigned to a
    worker now), out of ``total``."""

    done: int
    failed: int
    running: int
    total: int


@dataclass(frozen=True)
class SweepResult:
    """Result of :func:`sweep`.

    Attributes:
        store: the Zarr store; ``dataset``: its contents (``xarray.Dataset`` over the grid).
        points: grid points; ``done``, ``failed``: their statuses now (all runs together).
        ran: points computed by this call; ``skipped``: points already done before it.
        seconds: wall time of this call; ``workers``: worker processes used (0: nothing to run).
    """

    store: Path
    dataset: Any
    points: int
    done: int
    failed: int
    ran: int
    skipped: int
    seconds: float
    workers: int

    @property
    def complete(self) -> bool:
        """Every point done."""
        return self.done == self.points

    @property
    def status(self) -> SweepStatus:
        """``done`` when every point is, ``failed`` when no point is pending but some failed,
        else ``pending``."""
        if self.done == self.points:
            return SweepStatus.done
        return SweepStatus.failed if self.done + self.failed == self.points else SweepStatus.pending

    def summary(self) -> dict[str, Any]:
        errors = self.dataset["error"].values.ravel()
        return {
            "store": str(self.store),
            "points": self.points,
            "done": self.done,
            "failed": self.failed,
            "ran": self.ran,
            "skipped": self.skipped,
            "seconds": self.seconds,
            "workers": self.workers,
            "errors": sorted({str(e) for e in errors if e}),
        }


def _as_spec(spec: SweepSpec | dict[str, Any] | str | Path) -> SweepSpec:
    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        return SweepSpec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    raise InvalidArgumentError(
        "spec", f"got {type(spec).__name__}", "pass a SweepSpec, a dict or a TOML file path"
    )


def sweep(
    spec: SweepSpec | dict[str, Any] | str | Path,
    store: str | Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    retry_failed: bool = True,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SweepResult:
    """Run (or resume) the sweep ``spec`` into the Zarr store ``store``.

    Args:
        spec: a :class:`SweepSpec`, its dict form or a TOML file.
        store: the Zarr store (created if missing; resumed if written from the same spec).
        scheduler: address of a Dask scheduler; default a ``LocalCluster`` of ``workers`` processes.
        workers: local worker processes (default: CPU count, at most 8); ``0``: run the points
            one after the other in this process.
        client: a ``distributed.Client`` to use instead (kept open).
        retry_failed: run the points that failed in an earlier run again.
        progress: called after each finished task with a :class:`SweepProgress`.
    """
    from noetherlab._core.io import exclusive_lock

    start = time.perf_counter()
    the_spec = _as_spec(spec)
    the_spec.check()
    path = Path(store)
    here = workers == 0 and scheduler is None and client is None
    with contextlib.ExitStack() as stack:
        # a scheduler given by address is reached before the store is touched; a local cluster
        # is started only when there is something to run
        c = (
            None
            if here or (scheduler is None and client is None)
            else stack.enter_context(dask_client(scheduler, workers, client))
        )
        stack.enter_context(exclusive_lock(path, "store"))
        st = open_store(path, the_spec)
        status = st.status()
        wanted = (
            (SweepStatus.pending, SweepStatus.failed) if retry_failed else (SweepStatus.pending,)
        )
        todo = [
            (i, p) for i, p in the_spec.points() if status[i] in {STATUS_CODES[s] for s in wanted}
        ]
        skipped = int(np.sum(status == STATUS_CODES[SweepStatus.done]))
        n_workers = 0
        if todo and here:
            _run_here(the_spec.computation, todo, st.write_point, progress)
        elif todo:
            if c is None:
                c = stack.enter_context(dask_client(None, workers, None))
            n_workers = len(c.scheduler_info().get("workers", {}))
            _run(c, the_spec.computation, todo, st.write_point, progress)
        ds = st.dataset()
    codes = ds["status"].values
    return SweepResult(
        store=path,
        dataset=ds,
        points=the_spec.size,
        done=int(np.sum(codes == STATUS_CODES[SweepStatus.done])),
        failed=int(np.sum(codes == STATUS_CODES[SweepStatus.failed])),
        ran=len(todo),
        skipped=skipped,
        seconds=time.perf_counter() - start,
        workers=n_workers,
    )


def _run_here(
    computation: str,
    todo: list[tuple[tuple[int, ...], dict[str, Any]]],
    write: Callable[[tuple[int, ...], dict[str, Any]], None],
    progress: Callable[[SweepProgress], None] | None,
) -> None:
    """Run every point here, in grid order (``workers=0``)."""
    done = failed = 0
    for idx, params in todo:
        record = run_point(computation, params)
        write(idx, record)
        done += record["status"] is SweepStatus.done
        failed += record["status"] is SweepStatus.failed
        if progress is not None:
            progress(SweepProgress(done, failed, 0, len(todo)))


def _run(
    client: Any,
    computation: str,
    todo: list[tuple[tuple[int, ...], dict[str, Any]]],
    write: Callable[[tuple[int, ...], dict[str, Any]], None],
    progress: Callable[[SweepProgress], None] | None,
) -> None:
    """Submit every point, write each record as it completes (in completion order)."""
    from distributed import as_completed

    futures = [client.submit(run_point, computation, p, pure=False) for _, p in todo]
    index = {fut.key: idx for fut, (idx, _) in zip(futures, todo, strict=True)}
    done = failed = 0
    for fut in as_completed(futures, loop=client.loop):
        try:
            record = fut.result()
        except Exception as exc:  # the task could not run (its workers kept dying, ...)
            record = {
                "status": SweepStatus.failed,
                "error": f"{type(exc).__name__}: {exc}",
                "wall_time": math.nan,
                "outputs": {},
            }
        write(index[fut.key], record)
        done += record["status"] is SweepStatus.done
        failed += record["status"] is SweepStatus.failed
        if progress is not None:
            running = sum(len(v) for v in client.processing().values())
            progress(SweepProgress(done, failed, running, len(todo)))
