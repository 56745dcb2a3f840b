"""Benchmark of the attractor landscape (issue: attractor landscape). Run by hand:

    .venv/bin/python benchmarks/landscape.py [--paths 400] [--rnn-n 100]

Rows: Maier–Stein (β = 3, μ = 2: non-gradient, Bouchet–Reygner rate), the three-attractor network of Fig. 1c (``models.three_attractor``, box (-0.5, 4)) and the
noisy memory RNN (``models.memory_rnn``, N units, seeds at the two stored states and at 0). For
each: time to the full landscape (fixed points, connections, E = 0 instantons, rates) cold (with
compilation) and warm, then the noise is set so that the first transition's barrier is S ≈ 3 and
an ensemble simulation (Euler–Maruyama, ``simulate``, dt = 0.01) estimates the same mean exit time
(exit: past the midpoint between saddle and target attractor; censored exponential maximum
likelihood, ± its standard error). Where the landscape withholds the rate its reason is printed. The last column extrapolates the
simulation to a barrier S = 10 (the same number of exits needs e^{10−3} times longer paths; the
landscape's cost does not depend on S). Ratio: simulation time / warm
landscape time (same process). The formula and the simulation differ by the O(1/S) error of the
asymptotic rate formula at S ≈ 3 (see tests/test_escape_rates.py for its convergence).
"""

from __future__ import annotations

import argparse
import time
import warnings

import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

import noetherlab as nl
from noetherlab import models
from noetherlab.ensembles import predicate, simulate


def run_landscape(sde, box, seeds):
    t0 = time.perf_counter()
    land = nl.landscape(sde, box, seeds=seeds)
    return land, time.perf_counter() - t0


def simulated_exit(sde, x0, saddle, target, T, n_paths):
    """Exit = past the midpoint between the saddle and the target attractor along their line (a
    half-space: in N = 100 a ball around the target is hardly ever hit at this noise)."""
    e = jnp.asarray(target - saddle)
    z, half = jnp.asarray(saddle), 0.5 * float(e @ e)
    t0 = time.perf_counter()
    ens = simulate(
        sde, x0, T, 0.01, n_paths, key=3, boundary=predicate(lambda x: (x - z) @ e > half)
    )
    elapsed = time.perf_counter() - t0
    exited = np.isfinite(ens.exit_time)
    total = np.where(exited, ens.exit_time, T).sum()
    tau = total / max(exited.sum(), 1)
    return tau, tau / np.sqrt(max(exited.sum(), 1)), int(exited.sum()), elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=400, help="simulated paths per row")
    ap.add_argument("--rnn-n", type=int, default=100)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    N = args.rnn_n
    lo, hi = models.memory_rnn_attractors(N)
    cases = [
        (
            "Maier–Stein β=3, μ=2",
            lambda D: models.maier_stein(beta=3.0, mu=2.0, D=D),
            (-2, 2),
            None,
        ),
        (
            "three-attractor (Fig. 1c)",
            lambda D: models.three_attractor(sigma=float(np.sqrt(2 * D))),
            (-0.5, 4),
            None,
        ),
        (
            f"memory RNN N={N}",
            lambda D: models.memory_rnn(N, noise=D),
            None,
            np.stack([lo, hi, np.zeros(N)]),
        ),
    ]
    table = Table(title="attractor landscape vs simulation (2 cores, float64)")
    for col in (
        "model",
        "attractors",
        "saddles",
        "landscape cold s",
        "warm s",
        "barrier S",
        "τ formula",
        "τ simulated",
        "exits",
        "simulation s",
        "sim/landscape",
    ):
        table.add_column(col)
    notes: list[tuple[str, str]] = []
    for name, make, box, seeds in cases:
        _, cold = run_landscape(make(1.0), box, seeds)
        land1, warm = run_landscape(make(1.0), box, seeds)
        tr = land1.transitions[0]
        D = tr.barrier / 3.0  # S ∝ 1/D: barrier 3 at this noise
        land, _ = run_landscape(make(D), box, seeds)
        tr = land.transitions[0]
        src, dst = land.attractors[tr.source].x, land.attractors[tr.target].x
        T = float(np.ceil(8 * (tr.mean_exit_time or 100.0)))
        sad = land.saddles[tr.saddle].x
        tau_sim, se, exits, sim_s = simulated_exit(make(D), src, sad, dst, T, args.paths)
        if tr.mean_exit_time is None:
            notes.append((name, tr.rate_message))
        table.add_row(
            name,
            str(len(land.attractors)),
            str(len(land.saddles)),
            f"{cold:.1f}",
            f"{warm:.2f}",
            f"{tr.barrier:.3f}",
            "-" if tr.mean_exit_time is None else f"{tr.mean_exit_time:.4g}",
            f"{tau_sim:.4g} ± {se:.2g}",
            f"{exits}/{args.paths}",
            f"{sim_s:.1f}",
            f"{sim_s / warm:.0f}×",
            f"{sim_s * np.exp(7.0) / warm:.0f}×",
        )
    Console(width=260).print(table)
    for name, why in notes:
        print(f"{name}: {why}")


if __name__ == "__main__":
    main()
