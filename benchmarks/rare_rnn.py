"""AMS rates of the N = 100 memory RNN at its own noise, and the slope of log τ against 1/D.

    .venv/bin/python benchmarks/rare_rnn.py [--N 100] [--barriers 4,6,8] [--replicas 100]
                                            [--repetitions 8] [--dt 0.01]

``models.memory_rnn(N, noise=D)`` has two stored states and a saddle between them. The landscape
at ``D = 1`` gives the quasi-potential barrier ``ΔΦ`` (the E = 0 instanton's action times D). At
the noise levels where ``ΔΦ/D`` equals each of ``--barriers`` the landscape fills the transition
with the AMS mean exit time (``SampledRates``: instanton coordinate, loop decomposition, 95 %
interval; Euler–Maruyama step ``--dt``) next to the Eyring–Kramers one, with the wall time. The
slope of ``log τ`` against ``1/D`` (weighted least squares on the AMS estimates) should equal
``ΔΦ``: Eyring–Kramers gives ``τ = C e^{ΔΦ/D}`` with a D-independent prefactor ``C`` at leading
order, corrected at ``O(D/ΔΦ)``, so at barriers 4–8 the slope may differ from ΔΦ by about the
largest ``D/ΔΦ`` (25 %) plus the fit's own standard error; the table states both.

A and B are the half-spaces ``{ξ <= 0.1}`` and ``{ξ >= 0.9}`` of the chord coordinate
``ξ = (x − a)·(b − a)/|b − a|²`` (``SampledRates(sets="half-spaces")``, ``--radius``): balls of
0.1 × |attractor − saddle| (the default ``sets="balls"``) are never entered in N = 100, where the
fluctuation about an attractor is about √(N D) ≈ 29 at ΔΦ/D = 4 against a ball radius of 1.8
(the first AMS level did not finish in 12 minutes).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from rich.console import Console
from rich.table import Table

import noetherlab as nl
from noetherlab import models


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--N", type=int, default=100)
    ap.add_argument("--barriers", default="4,6,8")
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--repetitions", type=int, default=8)
    ap.add_argument("--dt", type=float, default=0.01)
    ap.add_argument("--radius", type=float, default=0.1, help="chord level of the half-spaces")
    ap.add_argument("--coordinate", default="instanton", help="instanton, chord")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    N = args.N
    lo, hi = models.memory_rnn_attractors(N)
    seeds = np.stack([lo, hi, np.zeros(N)])
    t = time.perf_counter()
    unit = nl.landscape(models.memory_rnn(N, noise=1.0), None, seeds=seeds)
    tr = unit.transitions[0]
    barrier = tr.barrier  # ΔΦ / D at D = 1
    console = Console(width=200)
    console.print(
        f"memory RNN N = {N}: {len(unit.attractors)} attractors, {len(unit.saddles)} saddles, "
        f"ΔΦ = {barrier:.4f} ({time.perf_counter() - t:.0f} s)"
    )
    table = Table(title=f"memory RNN N = {N}: mean exit time {tr.source} → {tr.target}")
    for col in ("ΔΦ/D", "D", "Eyring–Kramers τ", "AMS τ", "95 % interval", "AMS s", "status"):
        table.add_column(col, justify="right")
    inv_D, log_tau, weights = [], [], []
    options = nl.SampledRates(
        replicas=args.replicas, repetitions=args.repetitions, dt=args.dt, radius=args.radius,
        sets="half-spaces", coordinate=args.coordinate,
    )  # fmt: skip
    for S in (float(v) for v in args.barriers.split(",")):
        D = barrier / S
        t = time.perf_counter()
        land = nl.landscape(models.memory_rnn(N, noise=D), None, seeds=seeds, rates=options)
        seconds = time.perf_counter() - t
        row = land.transitions[0]
        got = row.sampled
        console.print(f"ΔΦ/D = {S:g} (D = {D:.4g}): {seconds:.0f} s; "
                      + ("-" if got is None else got.message))  # fmt: skip
        ek = "-" if row.mean_exit_time is None else f"{row.mean_exit_time:.4g}"
        if got is None or got.mean_exit_time is None or got.interval is None:
            table.add_row(f"{S:g}", f"{D:.4g}", ek, "-", "-", f"{seconds:.0f}",
                          "-" if got is None else got.message)  # fmt: skip
            continue
        lo_ci, hi_ci = got.interval
        table.add_row(
            f"{S:g}", f"{D:.4g}", ek, f"{got.mean_exit_time:.4g}", f"[{lo_ci:.4g}, {hi_ci:.4g}]",
            f"{seconds:.0f}", got.method.name,
        )  # fmt: skip
        inv_D.append(1.0 / D)
        log_tau.append(np.log(got.mean_exit_time))
        se = (np.log(hi_ci) - np.log(lo_ci)) / (2 * 1.96)  # standard error of log τ
        weights.append(1.0 / se**2)
    console.print(table)
    if len(inv_D) >= 2:
        X = np.stack([np.ones(len(inv_D)), inv_D], axis=1)
        W = np.diag(weights)
        cov = np.linalg.inv(X.T @ W @ X)
        slope = float((cov @ X.T @ W @ np.asarray(log_tau))[1])
        err = float(np.sqrt(cov[1, 1]))
        tol = max(1.0 / float(S) for S in args.barriers.split(",")) + 2 * err / barrier
        console.print(
            f"slope of log τ against 1/D: {slope:.4f} ± {err:.4f} (fit SE) vs ΔΦ = {barrier:.4f}: "
            f"relative difference {abs(slope - barrier) / barrier:.3f}, tolerance {tol:.3f} "
            "(largest D/ΔΦ, the prefactor's O(D) correction, plus 2 fit SE)"
        )


if __name__ == "__main__":
    main()
