"""AMS rates of the N = 100 memory RNN at its own noise, and the slope of log τ against 1/D.

    .venv/bin/python benchmarks/rare_rnn.py [--N 100] [--barriers 4,6,8] [--replicas 100]
                                            [--repetitions 8] [--dt 0.01]

``models.memory_rnn(N, noise=D)`` has two stored states and a saddle between them. The landscape
at ``D = 1`` gives the quasi-potential barrier ``ΔΦ`` (the E = 0 instanton's action times D). At
the noise levels where ``ΔΦ/D`` equals each of ``--barriers`` the landscape fills the transition
with the AMS mean exit time (``SampledRates``: instanton coordinate, loop decomposition, 95 %
interval; Euler–Maruyama step ``--dt``; ``method="auto"`` simulates a transition that is not rare
at that noise directly) next to the Eyring–Kramers one, with the wall time of the sampled rate
alone (the noise is additive and isotropic, so the instanton of the D = 1 landscape serves every
level and the leading-order Eyring–Kramers time is ``τ(1) e^{ΔΦ (1/D − 1)}``). The
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
    ap.add_argument("--method", default="auto", help="auto, splitting, direct")
    ap.add_argument("--loops", type=int, default=500)
    ap.add_argument("--chains", type=int, default=128)
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
    for col in ("ΔΦ/D", "D", "Eyring–Kramers τ", "sampled τ", "95 % interval", "s", "method"):
        table.add_column(col, justify="right")
    inv_D, log_tau, weights = [], [], []
    options = nl.SampledRates(
        replicas=args.replicas, repetitions=args.repetitions, dt=args.dt, radius=args.radius,
        sets="half-spaces", coordinate=args.coordinate, method=args.method, loops=args.loops,
        chains=args.chains,
    )  # fmt: skip
    a, sad, b = (np.asarray(v.x) for v in (unit.attractors[tr.source], unit.saddles[tr.saddle],
                                            unit.attractors[tr.target]))  # fmt: skip
    for S in (float(v) for v in args.barriers.split(",")):
        D = barrier / S
        t = time.perf_counter()
        # additive isotropic noise: the instanton does not depend on D, and the leading-order
        # Eyring–Kramers time is τ(1) e^{ΔΦ (1/D − 1)}; only the sampled rate is recomputed
        got = options.rate(models.memory_rnn(N, noise=D), a, sad, b, tr.path)
        seconds = time.perf_counter() - t
        console.print(f"ΔΦ/D = {S:g} (D = {D:.4g}): {seconds:.0f} s; {got.message}")
        ek_tau = (
            None if tr.mean_exit_time is None else tr.mean_exit_time * np.exp(barrier * (1 / D - 1))
        )
        ek = "-" if ek_tau is None else f"{ek_tau:.4g}"
        if got.mean_exit_time is None or got.interval is None:
            table.add_row(f"{S:g}", f"{D:.4g}", ek, "-", "-", f"{seconds:.0f}", got.message)
            continue
        lo_ci, hi_ci = got.interval
        table.add_row(
            f"{S:g}", f"{D:.4g}", ek, f"{got.mean_exit_time:.4g}", f"[{lo_ci:.4g}, {hi_ci:.4g}]",
            f"{seconds:.0f}", got.message.split(":")[0],
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
