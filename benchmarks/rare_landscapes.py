"""Rates of landscapes at the model's noise: asymptotic formula, grid generator and AMS side by side.

    .venv/bin/python benchmarks/rare_landscapes.py [--model maier-stein] [--D 0.0125] [--cells 200]
                                                   [--replicas 100] [--repetitions 8] [--dt 1e-3]

For every transition of the landscape: the Eyring–Kramers / Bouchet–Reygner mean exit time (or
the reason it is withheld), the Fokker–Planck grid generator's (``GridRates``, the half-grid
difference as its error bar) and the AMS one (``SampledRates``: instanton coordinate, 95 %
interval; a transition that is not rare at this noise is simulated directly, ``--method``), with
the wall time of each, in one table, and whether the sampled and grid error bars overlap. With
more than two attractors the other attractors join ``A``; ``--burn-in T`` lets the loop chains
mix over that cluster first (three-attractor network: ``--burn-in 1000``). Default: Maier–Stein ``β = 10, μ = 1`` at
``D = 1/80`` (issue 28).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="maier-stein")
    ap.add_argument("--D", type=float, default=1 / 80)
    ap.add_argument("--cells", type=int, default=200)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--repetitions", type=int, default=8)
    ap.add_argument("--dt", type=float, default=1e-3, help="Euler–Maruyama step of the AMS runs")
    ap.add_argument("--loops", type=int, default=500)
    ap.add_argument("--chains", type=int, default=128)
    ap.add_argument("--method", default="auto", help="auto, splitting, direct")
    ap.add_argument(
        "--coordinate",
        default="instanton",
        help="instanton, committor, quasi-potential (on the landscape's box), chord",
    )
    ap.add_argument(
        "--radius",
        type=float,
        default=0.1,
        help="balls A, B: this fraction of the attractor–saddle distance",
    )
    ap.add_argument("--key", type=int, default=0)
    ap.add_argument("--only", default=None, help="transitions to sample, e.g. 0-1,3-1")
    ap.add_argument(
        "--burn-in",
        type=float,
        default=None,
        help="time the loop chains mix over A (the source and the other attractors) first",
    )
    args = ap.parse_args()
    import noetherlab as nl
    from noetherlab import models

    warnings.simplefilter("ignore")  # the grid's resolution warnings: its error bar says it

    if args.model == "maier-stein":
        sde, box = models.maier_stein(beta=10.0, mu=1.0, D=args.D), [(-1.5, 1.5), (-1.0, 1.0)]
    elif args.model == "three-attractor":
        sde, box = models.three_attractor(), [(-0.5, 4.0), (-0.5, 4.0)]
    else:
        raise SystemExit(f"unknown model {args.model}")
    t = time.perf_counter()
    grid = nl.landscape(sde, box, rates=nl.GridRates(box, cells=args.cells, radius=args.radius))
    t_grid = time.perf_counter() - t
    print(f"{sde.name}: grid landscape {t_grid:.0f} s", flush=True)
    options = nl.SampledRates(replicas=args.replicas, repetitions=args.repetitions, dt=args.dt,
                              loops=args.loops, chains=args.chains, method=args.method,
                              coordinate=args.coordinate, box=box, cells=args.cells,
                              radius=args.radius, burn_in=args.burn_in, key=args.key)  # fmt: skip
    only = (
        None if args.only is None else {tuple(map(int, t.split("-"))) for t in args.only.split(",")}
    )
    # the sampled rate of each transition as landscape(rates=options) computes it, one at a time
    # so that each prints as it finishes
    rows = []
    for g in grid.transitions:
        if only is not None and (g.source, g.target) not in only:
            continue
        a, sad, b = (np.asarray(v.x) for v in (grid.attractors[g.source], grid.saddles[g.saddle],
                                                grid.attractors[g.target]))  # fmt: skip
        t = time.perf_counter()
        others = [m.x for k, m in enumerate(grid.attractors) if k not in (g.source, g.target)]
        am = options.rate(sde, a, sad, b, g.path, others)
        seconds = time.perf_counter() - t
        print(f"  {g.source} → {g.target}: {seconds:.0f} s; {am.message}", flush=True)
        rows.append((g, am, seconds))
    print(f"{'transition':>12} {'formula τ':>14} {'grid τ (± err)':>22} {'sampled τ [95 %]':>28} "
          f"{'method':>8} {'s':>5} {'agrees':>7}")  # fmt: skip
    for g, am, seconds in rows:
        formula = f"{g.mean_exit_time:.4g}" if g.mean_exit_time else g.rate_status.name
        gr = g.sampled
        gtxt = "-" if gr.mean_exit_time is None else (
            f"{gr.mean_exit_time:.4g} ± {gr.interval[1] - gr.mean_exit_time:.2g}")  # fmt: skip
        atxt = am.method.name if am.mean_exit_time is None else (
            f"{am.mean_exit_time:.4g} [{am.interval[0]:.3g}, {am.interval[1]:.3g}]")  # fmt: skip
        how = "-" if am.mean_exit_time is None else am.message.split(" ")[0]
        agree = "-"
        if am.interval is not None and gr.interval is not None:  # the two error bars overlap
            overlap = am.interval[0] <= gr.interval[1] and gr.interval[0] <= am.interval[1]
            agree = "yes" if overlap else "no"
        print(f"{g.source:>5} → {g.target:<4} {formula:>14} {gtxt:>22} {atxt:>28} {how:>8} "
              f"{seconds:5.0f} {agree:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
