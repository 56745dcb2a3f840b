"""Benchmark of the most-likely-path solvers (issue: paths). Run by hand:

    .venv/bin/python benchmarks/paths.py [--n 2000] [--gd-steps 60000]

Problems: 1-D OU; three-attractor model (Fig. 1c) at T = 1 and T = 40; Maier–Stein (β = 10) from
(-1, 0) to the saddle (0, 0) at T = 10. Methods on the same grid and the same straight-line start:

* Newton — noetherlab's Newton with the exact block-tridiagonal Hessian;
* Newton (energy) — long T through T(E) = T on the geometric solver (T = 40 only);
* L-BFGS — SciPy L-BFGS-B with the exact JAX gradient of the same discrete action;
* GD — the notebooks' method: plain gradient descent with the endpoint gradients zeroed, 60 000
  steps, step size 1/λ_max (the largest stable one; λ_max by power iteration).

Reported: compile time (first call minus second), solve time after compilation, final max-norm
gradient, final action, relative action gap to Newton, energy drift; then the ratios: L-BFGS time
to reach Newton's action to 1e-8 relative, divided by Newton's time.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from rich.console import Console
from rich.table import Table

import noetherlab as nl
from noetherlab import models
from noetherlab.paths._chain import chain_derivatives, chain_gradient, chain_value
from noetherlab.paths.fixed_time import build_chain


def problems(n: int):
    k = 1.3
    return [
        ("OU 1-D (T=2)", nl.SDE(lambda x: -k * x, diffusion=0.7, dim=1), [-0.8], [1.5], 2.0),
        ("three-attractor T=1", models.three_attractor(), [3.0, 0.1], [0.1, 3.0], 1.0),
        ("three-attractor T=40", models.three_attractor(), [3.0, 0.1], [0.1, 3.0], 40.0),
        ("Maier-Stein T=10", models.maier_stein(beta=10.0), [-1.0, 0.0], [0.0, 0.0], 10.0),
    ]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def run_newton(sde, x0, x1, T, n, method="newton"):
    call = lambda: nl.most_likely_path(
        sde, x0, x1, T=T, n=n, method=method, check_resolution=False, max_iter=400
    )
    _, first = timed(call)
    runs = [timed(call) for _ in range(3)]  # best of three after compilation
    res, best = min(runs, key=lambda r: r[1])
    return res, best, max(first - best, 0.0)


def run_lbfgs(sde, x0, x1, T, n, target_action, max_iter=20000):
    t = np.linspace(0.0, T, n + 1)
    chain = build_chain(sde, "fw", np.asarray(x0, float), np.asarray(x1, float), t)
    y0 = np.linspace(np.asarray(x0, float), np.asarray(x1, float), n + 1)

    @eqx.filter_jit
    def vg(y):
        return chain_value(chain, y), chain_gradient(chain, y)[0]

    def fun(z):
        y = y0.copy()
        y[1:-1] = z.reshape(n - 1, -1)
        v, g = vg(jnp.asarray(y))
        return float(v), np.asarray(g)[1:-1].reshape(-1)

    fun(y0[1:-1].reshape(-1))  # compile
    trace = []
    start = time.perf_counter()

    def cb(intermediate_result):
        trace.append((time.perf_counter() - start, float(intermediate_result.fun)))

    res = scipy.optimize.minimize(
        fun,
        y0[1:-1].reshape(-1),
        jac=True,
        method="L-BFGS-B",
        callback=cb,
        options={
            "maxiter": max_iter,
            "maxfun": 2 * max_iter,
            "gtol": 1e-12,
            "ftol": 0.0,
            "maxcor": 30,
        },
    )
    total = time.perf_counter() - start
    y = y0.copy()
    y[1:-1] = res.x.reshape(n - 1, -1)
    g = float(chain_gradient(chain, jnp.asarray(y))[2])
    reach = next((tt for tt, f in trace if abs(f / target_action - 1) <= 1e-8), None)
    return float(res.fun), g, total, reach, res.nit


def run_gd(sde, x0, x1, T, n, steps):
    t = np.linspace(0.0, T, n + 1)
    chain = build_chain(sde, "fw", np.asarray(x0, float), np.asarray(x1, float), t)
    y0 = jnp.asarray(np.linspace(np.asarray(x0, float), np.asarray(x1, float), n + 1))
    _, diag, upper = chain_derivatives(chain, y0)
    v = jnp.ones(diag.shape[:2])
    for _ in range(50):  # power iteration for λ_max of the Hessian at the start
        w = (
            jnp.einsum("kij,kj->ki", diag, v)
            .at[:-1]
            .add(jnp.einsum("kij,kj->ki", upper, v[1:]))
            .at[1:]
            .add(jnp.einsum("kji,kj->ki", upper, v[:-1]))
        )
        lam = float(jnp.linalg.norm(w) / jnp.linalg.norm(v))
        v = w / jnp.linalg.norm(w)
    eta = 1.0 / lam

    @eqx.filter_jit
    def descend(chain, y):
        def body(_, y):
            return y - eta * chain_gradient(chain, y)[0]

        return jax.lax.fori_loop(0, steps, body, y)

    jax.block_until_ready(descend(chain, y0))  # compile
    t0 = time.perf_counter()
    y = jax.block_until_ready(descend(chain, y0))
    dt = time.perf_counter() - t0
    return float(chain_value(chain, y)), float(chain_gradient(chain, y)[2]), dt, np.asarray(y)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--gd-steps", type=int, default=60000)
    args = ap.parse_args()
    console = Console(width=200)
    table = Table(
        title=f"Most likely paths, n = {args.n} intervals, straight-line start ({jax.devices()[0].platform})"
    )
    for col in (
        "problem",
        "method",
        "compile s",
        "solve s",
        "iters",
        "|grad|_inf",
        "action",
        "gap to Newton",
        "E drift",
        "status",
    ):
        table.add_column(col)
    ratios = []
    for name, sde, x0, x1, T in problems(args.n):
        rn, tn, cn = run_newton(sde, x0, x1, T, args.n)
        ref = rn
        rows = [("Newton", rn, tn, cn)]
        if T >= 40:
            re, te, ce = run_newton(sde, x0, x1, T, args.n, method="energy")
            rows.append(("Newton (energy)", re, te, ce))
            if re.converged:
                ref = re
        for label, r, tt, cc in rows:
            table.add_row(
                name,
                label,
                f"{cc:.2f}",
                f"{tt:.3f}",
                str(r.iterations),
                f"{r.grad_inf:.1e}",
                f"{r.action:.10f}",
                f"{r.action / ref.action - 1:+.1e}",
                f"{r.charges.energy.drift:.1e}",
                "converged" if r.converged else r.message[:40],
            )
        la, lg, lt, reach, lit = run_lbfgs(sde, x0, x1, T, args.n, ref.action)
        table.add_row(
            name,
            "L-BFGS",
            "-",
            f"{lt:.3f}",
            str(lit),
            f"{lg:.1e}",
            f"{la:.10f}",
            f"{la / ref.action - 1:+.1e}",
            "-",
            f"reached Newton's action at {reach:.3f} s"
            if reach is not None
            else "never reached Newton's action",
        )
        ga, gg, gt, _ = run_gd(sde, x0, x1, T, args.n, args.gd_steps)
        table.add_row(
            name,
            f"GD {args.gd_steps} steps",
            "-",
            f"{gt:.3f}",
            str(args.gd_steps),
            f"{gg:.1e}",
            f"{ga:.10f}",
            f"{ga / ref.action - 1:+.1e}",
            "-",
            "fixed step count",
        )
        t_ref = rows[-1][2] if ref is not rn else tn
        ratios.append((name, t_ref, reach, la, ga, ref.action))
    console.print(table)
    ratio_table = Table(title="Ratios (same process, same grid)")
    for col in (
        "problem",
        "Newton s",
        "L-BFGS s to Newton's action (1e-8)",
        "speed-up",
        "GD action / Newton action - 1",
    ):
        ratio_table.add_column(col)
    for name, tn, reach, _la, ga, ref_action in ratios:
        ratio_table.add_row(
            name,
            f"{tn:.3f}",
            "never" if reach is None else f"{reach:.3f}",
            "inf (L-BFGS never gets there)" if reach is None else f"{reach / tn:.0f}x",
            f"{ga / ref_action - 1:+.2e}",
        )
    console.print(ratio_table)


if __name__ == "__main__":
    main()
