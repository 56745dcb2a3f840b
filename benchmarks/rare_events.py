"""Benchmark: rare-event probabilities of the 1-D double well to a target relative error.

    .venv/bin/python benchmarks/rare_events.py [--target 0.1] [--eps 0.033,0.017,0.0116]

Problem: ``dx = (x − x³) dt + sqrt(2ε) dW``, ``p = P(reach [0.9, 1.1] before [-1.1, -0.9] | x = −0.7)``
(exact: the committor by quadrature), ``dt = 1e-3``. For each ``ε``:

* ours: ``noetherlab.ams`` with 100 replicas, ``R`` repetitions in one batch, ``R`` chosen from a
  pilot run so that the standard error of the mean is ``target · p``; wall time of that run
  (compiled once beforehand on a small run of the same sizes);
* brute force: ``noetherlab.simulate`` of free paths from −0.7 until they enter A or B, timed on
  2 000 paths; the time to the target is extrapolated to the ``(1 − p)/(p · target²)`` paths that a
  relative error ``target`` needs.

Prints one table with the ratio brute force / ours, measured in this process. (pyTAMS, the Python
peer, is not run here: see the closing note of issue 28.)
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.integrate import quad


def exact(eps: float) -> float:
    U = lambda x: x**4 / 4 - x**2 / 2
    g = lambda x: np.exp((U(x) - U(0.0)) / eps)
    return quad(g, -0.9, -0.7)[0] / quad(g, -0.9, 0.9, points=[0.0])[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=float, default=0.1)
    ap.add_argument("--eps", default="0.033,0.017,0.0116")
    args = ap.parse_args()
    import noetherlab as nl
    from noetherlab.ensembles import interval

    rows = []
    for eps in (float(e) for e in args.eps.split(",")):
        sde = nl.SDE(lambda x: x - x**3, diffusion=eps, dim=1)
        kw = {"radius": 0.1, "replicas": 100, "save_every": 10_000}
        pilot = nl.ams(sde, [-0.7], [-1.0], [1.0], repetitions=4, key=0, **kw)
        rel1 = (pilot.std_error or pilot.single_run_std_error) / pilot.probability * 2.0
        R = max(4, math.ceil((rel1 / args.target) ** 2))
        nl.ams(sde, [-0.7], [-1.0], [1.0], repetitions=R, key=1, **kw)  # compile at this size
        t = time.perf_counter()
        run = nl.ams(sde, [-0.7], [-1.0], [1.0], repetitions=R, key=2, **kw)
        ours = time.perf_counter() - t
        # brute force: paths from −0.7 until they enter A or B (horizon 50, ample here)
        box = interval(-0.9, 0.9)
        nl.simulate(sde, [-0.7], 50.0, 1e-3, 200, boundary=box, key=0)
        t = time.perf_counter()
        ens = nl.simulate(sde, [-0.7], 50.0, 1e-3, 2000, boundary=box, key=1)
        per_path = (time.perf_counter() - t) / 2000
        p = exact(eps)
        need = (1 - p) / (p * args.target**2)
        brute = per_path * need
        rows.append((eps, p, run.probability, run.relative_error, R, ours, brute,
                     float(np.mean(ens.exit_label == 2))))  # fmt: skip
    print(f"{'eps':>7} {'p exact':>10} {'p AMS':>10} {'rel.err':>8} {'R':>4} {'AMS s':>8} "
          f"{'brute s':>10} {'brute/AMS':>10}")  # fmt: skip
    for eps, p, pa, rel, R, ours, brute, _ in rows:
        print(f"{eps:7.4f} {p:10.3e} {pa:10.3e} {rel:8.3f} {R:4d} {ours:8.1f} {brute:10.3g} "
              f"{brute / ours:10.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
