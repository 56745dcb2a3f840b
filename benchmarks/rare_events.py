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

Prints one table with the ratio brute force / ours, measured in this process.

``--peer`` adds the comparison with pyTAMS 1.0 (install it with
``sh scripts/_env.sh --group dev --group bench``): TAMS, ``P(x₀ ≥ 0.9 before T)`` from the left
state, on the double well (``ε = 0.03, T = 50``) and Maier–Stein (``β = 10, μ = 1, D = 1/80,
T = 20``), ``dt = 0.01`` and 100 trajectories for both codes, the same chord score
(``benchmarks/_pytams_peer.py``). pyTAMS kills the lowest trajectory per iteration and runs in its
``asyncio`` runner with ``--peer-workers`` processes; ``--peer-runs`` runs give its time per run and
the spread of its estimate across runs. Time to the target for either code is
``time per run × (relative spread per run / target)²``; ours is measured, not extrapolated: the
batch of repetitions that reaches the target, timed after compilation.
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
    ap.add_argument("--peer", action="store_true", help="also run pyTAMS (bench group)")
    ap.add_argument("--peer-only", action="store_true", help="only the pyTAMS comparison")
    ap.add_argument("--peer-runs", type=int, default=3)
    ap.add_argument("--peer-workers", type=int, default=1)
    ap.add_argument("--peer-problems", default="double_well,maier_stein")
    args = ap.parse_args()
    if args.peer or args.peer_only:
        peer_table(args)
    if args.peer_only:
        return
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


def peer_table(args: argparse.Namespace) -> None:
    """TAMS against pyTAMS on the same problems, same ``dt``, same number of trajectories."""
    import _pytams_peer as peer
    import noetherlab as nl
    from noetherlab import models
    from noetherlab.ensembles import Region, predicate

    problems = {
        "double_well": (
            nl.SDE(lambda x: x - x**3, diffusion=0.03, dim=1),
            [-1.0],
            [1.0],
            0.03,
            50.0,
        ),
        "maier_stein": (
            models.maier_stein(10.0, 1.0, D=1 / 80),
            [-1.0, 0.0],
            [1.0, 0.0],
            1 / 80,
            20.0,
        ),
    }
    dt, n = 0.01, 100
    rows = []
    for name, (sde, x0, xb, noise, T) in problems.items():
        B = Region(predicate(lambda x: x[0] >= 0.9), center=xb)
        kw = {"replicas": n, "dt": dt, "save_every": 100}
        if name not in args.peer_problems.split(","):
            continue
        pilot = nl.tams(sde, x0, B, T, repetitions=16, key=0, **kw)
        sd1 = float(np.nanstd(pilot.estimates, ddof=1) / pilot.probability)
        R = max(4, math.ceil((sd1 / args.target) ** 2))
        nl.tams(sde, x0, B, T, repetitions=R, key=1, **kw)  # compile at this size
        t = time.perf_counter()
        run = nl.tams(sde, x0, B, T, repetitions=R, key=2, **kw)
        ours = time.perf_counter() - t
        print(f"  ours {name}: p = {run.probability:.4g} ± {run.relative_error:.2g} (relative), "
              f"R = {R}, {ours:.1f} s", flush=True)  # fmt: skip
        runs = []
        for seed in range(args.peer_runs):  # one at a time, each printed: a run takes minutes
            runs.append(peer.run(name, noise, T, dt, n, seed, args.peer_workers))
            print(f"  pyTAMS {name} run {seed}: p = {runs[-1]['p']:.4g}, "
                  f"{runs[-1]['wall']:.0f} s", flush=True)  # fmt: skip
        ps = np.array([r["p"] for r in runs])
        wall = float(np.mean([r["wall"] for r in runs]))
        sd_peer = float(np.std(ps, ddof=1) / np.mean(ps)) if len(ps) > 1 else float("nan")
        peer_target = wall * (sd_peer / args.target) ** 2
        rows.append((name, run.probability, run.relative_error, sd1, R, ours,
                     float(np.mean(ps)), sd_peer, wall, peer_target))  # fmt: skip
    print(f"{'problem':>12} {'p TAMS':>10} {'rel.err':>8} {'sd/run':>7} {'R':>4} {'ours s':>7} "
          f"{'p pyTAMS':>10} {'sd/run':>7} {'s/run':>7} {'pyTAMS s':>9} {'ratio':>8}")  # fmt: skip
    for name, p, rel, sd1, R, ours, pp, sdp, wall, pt in rows:
        print(f"{name:>12} {p:10.3e} {rel:8.3f} {sd1:7.2f} {R:4d} {ours:7.1f} {pp:10.3e} "
              f"{sdp:7.2f} {wall:7.1f} {pt:9.3g} {pt / ours:8.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
