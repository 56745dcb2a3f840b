"""Benchmark: sweeps and ensembles on Dask, 1 vs 2 local worker processes (issue 16).

    .venv/bin/python benchmarks/sweep.py [--points 64] [--path-steps 1e8]

Cases (each cluster started before the clock, workers warmed by one task):
  * a 64-point path sweep (1-D OU bridge, grid T x D, n = 400) into a Zarr store, 1 and 2 workers,
    and the same points run serially in this process (the baseline);
  * overhead per task: a sweep of 64 trivial law counts (linear [1, 1]) minus its in-process time;
  * an ensemble of 1e8 path-steps (DDM, 1e7 paths x 10 steps, chunks of 1e6), 1 and 2 workers,
    and in this process; the statistics are checked to be bit-identical.
Prints a table with throughput and the scaling ratio 2 workers / 1 worker.

``--pin`` pins this process to core 0 and worker ``i`` to core ``i`` (``os.sched_setaffinity``):
one process then uses one core, so the ratio shows how the tasks scale per core. Unpinned, one
JAX process already spreads over the cores through XLA's threads, and on a 2-core machine two
workers have little left to gain.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def _spec(points: int):
    from noetherlab.distributed import SweepSpec

    nT = points // 4
    return SweepSpec(
        "path",
        {"model": "ou", "model.K": 1.3, "model.dim": 1, "x0": [-0.8], "x1": [1.5], "n": 400},
        {"T": list(np.linspace(0.5, 3.0, nT)), "model.D": [0.4, 0.7, 1.0, 1.4]},
    )


def _law_spec(points: int):
    from noetherlab.distributed import SweepSpec

    return SweepSpec("laws", {"arch": "linear", "sizes": [1, 1]}, {"seed": list(range(points))})


def _timed_sweep(spec, **kw) -> tuple[float, object]:
    from noetherlab.distributed import sweep

    store = Path(tempfile.mkdtemp()) / "s.zarr"
    t = time.perf_counter()
    res = sweep(spec, store, **kw)
    return time.perf_counter() - t, res


def _ensemble(**kw):
    from noetherlab.distributed import ensemble_statistics
    from noetherlab.ensembles import interval
    from noetherlab.models import drift_diffusion

    t = time.perf_counter()
    s = ensemble_statistics(
        drift_diffusion(v=0.5),
        [0.0],
        1.0,
        0.1,
        10_000_000,
        key=5,
        boundary=interval(-1.0, 1.0),
        chunk_size=1_000_000,
        **kw,
    )
    return time.perf_counter() - t, s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--pin", action="store_true", help="one core per process (see the docstring)")
    args = ap.parse_args()
    import os

    from noetherlab.distributed import dask_client

    if args.pin:
        os.sched_setaffinity(0, {0})

    rows = []
    # baselines in this process (compiled first)
    _timed_sweep(_spec(4), workers=0)
    t_here, _ = _timed_sweep(_spec(args.points), workers=0)
    _timed_sweep(_law_spec(2), workers=0)
    t_law_here, _ = _timed_sweep(_law_spec(args.points), workers=0)
    _ensemble()
    t_ens_here, s_here = _ensemble()
    rows.append(("path sweep", "this process", t_here, args.points / t_here))
    rows.append(("ensemble 1e8 path-steps", "this process", t_ens_here, 1e8 / t_ens_here))
    per_task = {}
    for n in (1, 2):
        with dask_client(workers=n) as c:
            if args.pin:
                for i, w in enumerate(sorted(c.scheduler_info()["workers"])):
                    c.run(os.sched_setaffinity, 0, {i % os.cpu_count()}, workers=[w])
            _timed_sweep(_spec(4 * n), client=c)  # warm every worker
            _timed_sweep(_law_spec(2 * n), client=c)
            _ensemble(client=c)
            t_sweep, res = _timed_sweep(_spec(args.points), client=c)
            assert res.complete
            t_law, _ = _timed_sweep(_law_spec(args.points), client=c)
            per_task[n] = (t_law - t_law_here) / args.points
            t_ens, s = _ensemble(client=c)
            same = all(
                np.array_equal(getattr(s, k), getattr(s_here, k), equal_nan=True)
                for k in ("exit_counts", "final_mean", "final_var", "histogram", "exit_time_mean")
            )
        rows.append(("path sweep", f"{n} worker(s)", t_sweep, args.points / t_sweep))
        rows.append(("ensemble 1e8 path-steps", f"{n} worker(s)", t_ens, 1e8 / t_ens))
        rows.append(("bit-identical to this process", f"{n} worker(s)", float("nan"), float(same)))
    print(f"{'case':32s} {'where':14s} {'seconds':>9s} {'per second':>12s}")
    for case, where, sec, rate in rows:
        print(f"{case:32s} {where:14s} {sec:9.2f} {rate:12.4g}")
    print(
        f"overhead per task on 1 worker: {1e3 * per_task[1]:.1f} ms (64 law counts of linear[1,1], "
        "minus the same in this process)"
    )
    r = {k: [row for row in rows if row[0] == k] for k in ("path sweep", "ensemble 1e8 path-steps")}
    for k, rs in r.items():
        one = next(x for x in rs if x[1] == "1 worker(s)")
        two = next(x for x in rs if x[1] == "2 worker(s)")
        here = next(x for x in rs if x[1] == "this process")
        print(
            f"{k}: 2 workers / 1 worker = {two[3] / one[3]:.2f}x; 1 worker / this process = "
            f"{one[3] / here[3]:.2f}x"
        )


if __name__ == "__main__":
    main()
