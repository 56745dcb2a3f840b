"""Benchmark of the most-likely-path solvers (issues: paths, path solvers at scale). Run by hand:

    .venv/bin/python benchmarks/paths.py [--n 2000] [--gd-steps 60000] [--rnn 10,30,100,300,1000]
                                         [--skip-2d] [--lbfgs-budget 600]
    .venv/bin/python benchmarks/paths.py --batch 64 [--batch-n 1000] [--rnn-batch 16]   # batched families only

**2-D problems** (n intervals, straight-line start): 1-D OU; three-attractor (Fig. 1c) at T = 1 and
T = 40; Maier–Stein (β = 10) from (-1, 0) to the saddle at T = 10. Methods: block Newton; T(E) = T
on the geometric solver (T = 40); SciPy L-BFGS-B with the exact JAX gradient; the notebooks' plain
gradient descent (step 1/λ_max).

**Noisy RNN family** ``dx = (-x + W tanh x) dt + sqrt(2·0.05) dW`` (``models.memory_rnn``: a rank-one
memory plus random coupling, seed 0), from one stored state to the other, T = 20, n = 400, straight
line start, same tolerance (normalised Euler–Lagrange residual 1e-8) for dense block Newton,
Newton–Krylov and SciPy L-BFGS-B with JAX gradients.

Reported per row: compile time (first call minus the later call), solve time after compilation,
iterations, the peak resident memory of the process after the row (each N runs in its own process,
Newton–Krylov first, so its row is that solver's peak), action, status. Ratios (same process):
L-BFGS time to reach the Newton–Krylov action to 1e-8 relative, divided by Newton–Krylov's time
(">" when L-BFGS did not get there within its budget).
"""

from __future__ import annotations

import argparse
import resource
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
from noetherlab.paths import PathProblem
from noetherlab.paths._chain import chain_gradient, chain_value, normalised_residual
from noetherlab.paths._objectives import fixed_time_chain
from noetherlab.paths.solvers import BlockNewton, NewtonKrylov, TimeViaEnergy


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn, repeats=2):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    best = first
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best, max(first - best, 0.0)


@eqx.filter_jit
def _vgr(chain, y):
    g, s = chain_gradient(chain, y)
    return chain_value(chain, y), g, normalised_residual(g, s)


def lbfgs_trace(problem, target, budget_s, gtol=1e-8):
    """SciPy L-BFGS-B with JAX gradients on the same chain; time to reach ``target`` (1e-8)."""
    chain = fixed_time_chain(problem.sde, "fw", problem.x0, problem.x1, problem.t)
    y0 = np.linspace(problem.x0, problem.x1, problem.n + 1)
    m, N = problem.n - 1, problem.dim
    state = {"reach": None, "res": np.inf}

    def fun(z):
        y = y0.copy()
        y[1:-1] = z.reshape(m, N)
        v, g, r = _vgr(chain, jnp.asarray(y))
        state["res"] = float(r)
        return float(v), np.asarray(g).reshape(-1)

    fun(y0[1:-1].reshape(-1))  # compile
    start = time.perf_counter()

    def cb(intermediate_result):
        el = time.perf_counter() - start
        if state["reach"] is None and abs(intermediate_result.fun / target - 1) <= 1e-8:
            state["reach"] = el
        if state["res"] <= gtol or el > budget_s:
            raise StopIteration

    res = scipy.optimize.minimize(
        fun,
        y0[1:-1].reshape(-1),
        jac=True,
        method="L-BFGS-B",
        callback=cb,
        options={"maxiter": 10**7, "maxfun": 10**7, "gtol": 0.0, "ftol": 0.0, "maxcor": 30},
    )
    return float(res.fun), time.perf_counter() - start, state["reach"], int(res.nit), state["res"]


def run_gd(problem, steps):
    chain = fixed_time_chain(problem.sde, "fw", problem.x0, problem.x1, problem.t)
    y0 = jnp.asarray(np.linspace(problem.x0, problem.x1, problem.n + 1))
    # step 1/λ_max with λ_max of the Hessian at the start (power iteration on H v by autodiff)
    grad = lambda y: jnp.zeros_like(y).at[1:-1].set(chain_gradient(chain, y)[0])
    v = jnp.zeros_like(y0).at[1:-1].set(1.0)
    for _ in range(50):
        w = jax.jvp(grad, (y0,), (v,))[1]
        lam = float(jnp.linalg.norm(w) / jnp.linalg.norm(v))
        v = w / jnp.linalg.norm(w)
    eta = 1.0 / lam

    @eqx.filter_jit
    def descend(chain, y):
        def body(_, y):
            return y.at[1:-1].add(-eta * chain_gradient(chain, y)[0])

        return jax.lax.fori_loop(0, steps, body, y)

    jax.block_until_ready(descend(chain, y0))
    t0 = time.perf_counter()
    y = jax.block_until_ready(descend(chain, y0))
    return float(chain_value(chain, y)), time.perf_counter() - t0


def two_d(console, n, gd_steps, budget):
    k = 1.3
    probs = [
        ("OU 1-D (T=2)", nl.SDE(lambda x: -k * x, diffusion=0.7, dim=1), [-0.8], [1.5], 2.0),
        ("three-attractor T=1", models.three_attractor(), [3.0, 0.1], [0.1, 3.0], 1.0),
        ("three-attractor T=40", models.three_attractor(), [3.0, 0.1], [0.1, 3.0], 40.0),
        ("Maier-Stein T=10", models.maier_stein(beta=10.0), [-1.0, 0.0], [0.0, 0.0], 10.0),
    ]
    table = Table(title=f"2-D problems, n = {n}, straight-line start ({jax.devices()[0].platform})")
    for col in ("problem", "method", "compile s", "solve s", "iters", "action", "gap", "status"):
        table.add_column(col)
    ratios = []
    for name, sde, x0, x1, T in probs:
        prob = PathProblem.fixed_time(sde, x0, x1, T=T, n=n)
        rn, tn, cn = timed(lambda prob=prob: BlockNewton(max_steps=400).solve(prob))
        ref, tref = rn, tn
        rows = [("block Newton", rn, tn, cn)]
        if T >= 40:
            re, te, ce = timed(lambda prob=prob: TimeViaEnergy().solve(prob))
            rows.append(("T(E) = T (geometric)", re, te, ce))
            if re.converged:
                ref, tref = re, te
        for label, r, tt, cc in rows:
            table.add_row(
                name,
                label,
                f"{cc:.2f}",
                f"{tt:.3f}",
                str(r.iterations),
                f"{r.action:.10f}",
                f"{r.action / ref.action - 1:+.1e}",
                r.status.name,
            )
        la, lt, reach, lit, _ = lbfgs_trace(prob, ref.action, budget)
        table.add_row(
            name,
            "L-BFGS",
            "-",
            f"{lt:.3f}",
            str(lit),
            f"{la:.10f}",
            f"{la / ref.action - 1:+.1e}",
            f"reached at {reach:.3f} s" if reach is not None else "never reached",
        )
        ga, gt = run_gd(prob, gd_steps)
        table.add_row(
            name,
            f"GD {gd_steps} steps",
            "-",
            f"{gt:.3f}",
            str(gd_steps),
            f"{ga:.10f}",
            f"{ga / ref.action - 1:+.1e}",
            "fixed step count",
        )
        ratios.append((name, tref, reach, lt))
    console.print(table)
    rt = Table(title="2-D ratios (same process, same grid)")
    for col in ("problem", "Newton s", "L-BFGS s to Newton's action", "speed-up"):
        rt.add_column(col)
    for name, tn, reach, lt in ratios:
        rt.add_row(
            name,
            f"{tn:.3f}",
            "never" if reach is None else f"{reach:.3f}",
            f">{lt / tn:.0f}x" if reach is None else f"{reach / tn:.0f}x",
        )
    console.print(rt)


def rnn_one(N, budget, dense_max):
    """All rows of one N, in this process (ratios from the same process); peak RSS read after each
    row (the process's high-water mark, so each value includes the rows before it)."""
    sde = models.memory_rnn(N, seed=0)
    lo, hi = models.memory_rnn_attractors(N, seed=0)
    prob = PathProblem.fixed_time(sde, lo, hi, T=20.0, n=400)
    rows = []
    rk, tk, ck = timed(lambda: NewtonKrylov().solve(prob), repeats=1)
    rows.append(
        [
            "Newton–Krylov",
            ck,
            tk,
            f"{rk.iterations} ({rk.stats['cg_iterations']} CG)",
            peak_mb(),
            rk.action,
            rk.status.name,
        ]
    )
    td = None
    if N <= dense_max:
        rd, td, cd = timed(lambda: BlockNewton().solve(prob), repeats=1)
        rows.append(
            [
                "dense block Newton",
                cd,
                td,
                str(rd.iterations),
                peak_mb(),
                rd.action,
                rd.status.name,
            ]
        )
    else:
        rows.append(
            [
                "dense block Newton",
                None,
                None,
                "-",
                None,
                None,
                f"skipped (O(n N³): ~{0.2 * (N / 100) ** 3 * 100:.0f} s est.)",
            ]
        )
    la, lt, reach, lit, lres = lbfgs_trace(prob, rk.action, budget)
    reached = f"reached NK action at {reach:.2f} s" if reach else "never reached NK action"
    rows.append(
        ["SciPy L-BFGS", None, lt, str(lit), peak_mb(), la, f"residual {lres:.1e}; {reached}"]
    )
    return {"N": N, "rows": rows, "ratio": [tk, td, reach, lt]}


def rnn(console, sizes, budget, dense_max):
    import json
    import subprocess
    import sys

    table = Table(
        title=f"Noisy RNN family, T = 20, n = 400 ({jax.devices()[0].platform}, one process per N)"
    )
    for col in ("N", "method", "compile s", "solve s", "iters", "peak RSS MB", "action", "status"):
        table.add_column(col)
    ratios = []
    for N in sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one-n",
                str(N),
                "--lbfgs-budget",
                str(budget),
                "--dense-max",
                str(dense_max),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        res = json.loads(out.stdout.strip().splitlines()[-1])
        for label, cc, tt, it, mb, act, status in res["rows"]:
            table.add_row(
                str(N),
                label,
                "-" if cc is None else f"{cc:.2f}",
                "-" if tt is None else f"{tt:.3f}",
                it,
                "-" if mb is None else f"{mb:.0f}",
                "-" if act is None else f"{act:.10g}",
                status,
            )
        ratios.append((N, *res["ratio"]))
    console.print(table)
    rt = Table(title="RNN ratios (same process per N)")
    for col in ("N", "NK s", "dense s", "dense / NK", "L-BFGS s to NK action", "L-BFGS / NK"):
        rt.add_column(col)
    for N, tk, td, reach, lt in ratios:
        rt.add_row(
            str(N),
            f"{tk:.3f}",
            "-" if td is None else f"{td:.3f}",
            "-" if td is None else f"{td / tk:.1f}x",
            "never" if reach is None else f"{reach:.2f}",
            f">{lt / tk:.0f}x" if reach is None else f"{reach / tk:.0f}x",
        )
    console.print(rt)


def batch_rows(console, members, n):
    """``most_likely_paths`` (one vectorised engine call per grid of the resolution study) against
    ``members`` sequential ``most_likely_path(method="newton")`` calls, same process, both after a
    warm-up call. Fixed-time families: Maier–Stein from (-1, 0) to points on the saddle's line
    ``x = 0`` (T from 5 to 10), three-attractor from (3, 0.1) to points near (0.1, 3) (T from 1 to
    2)."""
    cases = [
        (
            "Maier–Stein",
            models.maier_stein(),
            np.array([-1.0, 0.0]),
            np.stack([np.zeros(members), np.linspace(-0.2, 0.2, members)], axis=1),
            np.linspace(5.0, 10.0, members),
        ),
        (
            "three-attractor",
            models.three_attractor(),
            np.array([3.0, 0.1]),
            np.stack([np.linspace(0.05, 0.2, members), np.full(members, 3.0)], axis=1),
            np.linspace(1.0, 2.0, members),
        ),
    ]
    table = Table(title=f"batched fixed-time families ({members} members, n = {n})")
    for col in ("family", "batched s", "sequential s", "ratio", "max |ΔS|/S", "converged"):
        table.add_column(col, justify="right")
    for name, sde, x0, x1, T in cases:
        nl.most_likely_paths(sde, x0, x1[:2], T=T[:2] * 0.99, n=n)  # compile
        nl.most_likely_path(sde, x0, x1[0], T=T[0] * 0.99, n=n, method="newton")
        t0 = time.perf_counter()
        batch = nl.most_likely_paths(sde, x0, x1, T=T, n=n)
        tb = time.perf_counter() - t0
        t0 = time.perf_counter()
        seq = [
            nl.most_likely_path(sde, x0, x1[b], T=T[b], n=n, method="newton")
            for b in range(members)
        ]
        ts = time.perf_counter() - t0
        diff = max(
            abs(a.action - b.action) / abs(b.action) for a, b in zip(batch, seq, strict=True)
        )
        table.add_row(
            name,
            f"{tb:.2f}",
            f"{ts:.2f}",
            f"{ts / tb:.1f}x",
            f"{diff:.1e}",
            f"{sum(r.converged for r in batch)}/{sum(r.converged for r in seq)}",
        )
    console.print(table)


def rnn_batch_rows(console, members, n):
    """The N = 100 memory RNN (``models.memory_rnn``): ``members`` transitions from one stored
    state to the other at transit times T from 10 to 25, by ``most_likely_paths`` (one vectorised
    Newton–Krylov loop per grid of the resolution study) against sequential
    ``most_likely_path(method="newton-krylov")`` calls, same process, both after a warm-up."""
    sde = models.memory_rnn(100)
    a, b = models.memory_rnn_attractors(100)
    T = np.linspace(10.0, 25.0, members)
    nl.most_likely_paths(sde, a, b, T=T[:2] * 0.99, n=n)  # compile
    nl.most_likely_path(sde, a, b, T=T[0] * 0.99, n=n, method="newton-krylov")
    t0 = time.perf_counter()
    batch = nl.most_likely_paths(sde, a, b, T=T, n=n)
    tb = time.perf_counter() - t0
    t0 = time.perf_counter()
    seq = [nl.most_likely_path(sde, a, b, T=t, n=n, method="newton-krylov") for t in T]
    ts = time.perf_counter() - t0
    diff = max(abs(p.action - q.action) / abs(q.action) for p, q in zip(batch, seq, strict=True))
    table = Table(title=f"batched N = 100 memory-RNN family ({members} members, n = {n})")
    for col in ("family", "batched s", "sequential s", "ratio", "max |ΔS|/S", "converged"):
        table.add_column(col, justify="right")
    table.add_row(
        "memory RNN, T = 10…25",
        f"{tb:.2f}",
        f"{ts:.2f}",
        f"{ts / tb:.1f}x",
        f"{diff:.1e}",
        f"{sum(r.converged for r in batch)}/{sum(r.converged for r in seq)}",
    )
    console.print(table)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=0, help="members of the batched-family rows")
    ap.add_argument("--batch-n", type=int, default=1000)
    ap.add_argument("--rnn-batch", type=int, default=16, help="members of the N = 100 RNN family")
    ap.add_argument("--rnn-batch-n", type=int, default=400)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--gd-steps", type=int, default=60000)
    ap.add_argument("--rnn", default="10,30,100,300,1000")
    ap.add_argument("--skip-2d", action="store_true")
    ap.add_argument("--lbfgs-budget", type=float, default=600.0, help="seconds per L-BFGS run")
    ap.add_argument("--dense-max", type=int, default=100, help="largest N for the dense Newton")
    ap.add_argument("--one-n", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_n is not None:
        import json

        print(json.dumps(rnn_one(args.one_n, args.lbfgs_budget, args.dense_max)))
        return
    console = Console(width=220)
    if args.batch:
        batch_rows(console, args.batch, args.batch_n)
        if args.rnn_batch:
            rnn_batch_rows(console, args.rnn_batch, args.rnn_batch_n)
        return
    if not args.skip_2d:
        two_d(console, args.n, args.gd_steps, args.lbfgs_budget)
    sizes = [int(s) for s in args.rnn.split(",") if s.strip()]
    if sizes:
        rnn(console, sizes, args.lbfgs_budget, args.dense_max)


if __name__ == "__main__":
    main()
