"""Benchmark of most likely denoising paths through a learned score (issue 31). Run by hand:

    .venv/bin/python benchmarks/diffusion_paths.py [--dims 16,64] [--n 200] [--train-steps 3000]

* **Training**: the d = 16 sphere score (``models.sphere_data``, R = 1, σ0 = 0.1, VE schedule on
  [0.01, 3]) by :func:`noetherlab.train_score`, a 3×128 MLP: wall time and the final denoising
  loss.
* **Paths**: the most likely path of the reverse SDE through a 3×128 MLP score (the trained one at
  d = 16; an untrained one of the same shape at other d) from a noise sample at t_max to a data
  point at t_min on n intervals (Freidlin–Wentzell, with the resolution study), by Newton–Krylov
  (the automatic choice above d = 4; the baseline of the ratio column) and by dense block Newton:
  compile time (first call minus the second) and time after compilation, with a second network
  of the same shape (new weights: no recompilation) as the check that weights are data.
* **Onsager–Machlup paths** on n = 100 intervals, exact divergence against Hutchinson's with fixed
  probes (``SDE.with_hutchinson_divergence``): time and the action's relative difference.
* **Divergence**: the Onsager–Machlup term ``∇·f`` at 200 path states, exact (Jacobian trace)
  against Hutchinson's estimate with k fixed Rademacher probes, each as one compiled vectorised
  call: time per state (ratio to the exact trace) and the RMS error relative to the RMS exact
  value, with the estimator's own mean standard error.
"""

from __future__ import annotations

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from rich.console import Console
from rich.table import Table

import noetherlab as nl
from noetherlab.models.score_training import ScoreNetwork
from noetherlab.sde.model import probe_quadratic_forms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", default="16,64")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--train-steps", type=int, default=3000)
    args = ap.parse_args()
    sched = nl.VarianceExploding(t_min=0.01, t_max=3.0)
    console = Console()

    data = nl.models.sphere_data(8192, 16, R=1.0, sigma0=0.1)
    t = time.perf_counter()
    trained = nl.train_score(data, sched, width=128, depth=3, steps=args.train_steps)
    console.print(f"training (d = 16): {time.perf_counter() - t:.1f} s; {trained.message}")

    paths = Table(title=f"most likely denoising path, 3×128 MLP score, n = {args.n}")
    for col in (
        "d",
        "solver",
        "compile s",
        "solve s",
        "new weights s",
        "vs NK",
        "status",
        "action",
    ):
        paths.add_column(col)
    om = Table(title="Onsager–Machlup path (n = 100, no resolution study): exact ∇·f vs Hutchinson")
    for col in ("d", "divergence", "first call s", "solve s", "vs exact", "action", "rel. diff"):
        om.add_column(col)
    div = Table(title="Onsager–Machlup divergence at 200 path states")
    for col in ("d", "method", "ms per state", "vs exact", "RMS rel. error", "mean SE (rel.)"):
        div.add_column(col)
    for d in (int(v) for v in args.dims.split(",")):
        nets = [
            ScoreNetwork(d, sched, width=128, depth=3, features=8, key=jax.random.PRNGKey(k))
            for k in (1, 2)
        ]
        models = [nl.diffusion_model(net, sched, dim=d) for net in nets]
        if d == 16:
            models[0] = trained.model
        rng = np.random.default_rng(0)
        start = sched.t_max * rng.standard_normal(d)
        end = data[0] if d == 16 else nl.models.sphere_data(1, d, key=3)[0]
        u = models[0].times(args.n)
        base = None
        for method in ("newton-krylov", "newton"):
            times = []
            for m in (models[0], models[0], models[1]):
                t = time.perf_counter()
                path = nl.most_likely_path(m.reverse_sde, start, end, t=u, method=method)
                times.append(time.perf_counter() - t)
                if m is models[0]:
                    res = path
            base = base or times[1]
            paths.add_row(
                str(d),
                method,
                f"{times[0] - times[1]:.1f}",
                f"{times[1]:.2f}",
                f"{times[2]:.2f}",
                f"{times[1] / base:.2f}",
                res.status.name,
                f"{res.action:.6g}",
            )
        once = nl.ResolutionControl(check=False)
        grid = models[0].times(100)
        exact_om = None
        for label, sde_k in [("exact", models[0].reverse_sde)] + [
            (f"Hutchinson k = {k}", models[0].reverse_sde.with_hutchinson_divergence(k))
            for k in (8, 32)
        ]:
            times = []
            for _ in range(2):
                t = time.perf_counter()
                p = nl.most_likely_path(sde_k, start, end, t=grid, lagrangian="om", resolution=once)
                times.append(time.perf_counter() - t)
            exact_om = exact_om or (p, times[1])
            om.add_row(
                str(d),
                label,
                f"{times[0]:.1f}",
                f"{times[1]:.2f}",
                f"{times[1] / exact_om[1]:.2f}",
                f"{p.action:.6g}" + ("" if p.converged else f" ({p.status.name})"),
                f"{abs(p.action - exact_om[0].action) / abs(exact_om[0].action):.1e}",
            )
        sde = models[0].reverse_sde
        xs, us = np.asarray(res.x), np.asarray(res.t)
        idx = np.linspace(0, len(us) - 1, 200).astype(int)
        x_s, u_s = jnp.asarray(xs[idx]), jnp.asarray(us[idx])
        exact, t_exact = _timed_divergence(sde, x_s, u_s)
        scale = np.sqrt(np.mean(exact**2))
        div.add_row(str(d), "exact trace", f"{1e3 * t_exact:.3f}", "1.00", "0", "0")
        for k in (1, 8, 64):
            est_sde = sde.with_hutchinson_divergence(k, key=1)
            est, t_h = _timed_divergence(est_sde, x_s, u_s)
            rms = np.sqrt(np.mean((est - exact) ** 2)) / scale
            se = _mean_standard_error(est_sde, x_s, u_s) / scale if k > 1 else float("nan")
            div.add_row(
                str(d),
                f"Hutchinson k = {k}",
                f"{1e3 * t_h:.3f}",
                f"{t_h / t_exact:.2f}",
                f"{rms:.3f}",
                f"{se:.3f}",
            )
    console.print(paths)
    console.print(om)
    console.print(div)


@eqx.filter_jit
def _divergences(sde: nl.SDE, x: jax.Array, u: jax.Array) -> jax.Array:
    return jax.vmap(sde.divergence)(x, u)


def _timed_divergence(sde: nl.SDE, x: jax.Array, u: jax.Array) -> tuple[np.ndarray, float]:
    """``∇·f`` at the states (one compiled, vectorised call) and the time per state after
    compilation (best of 5)."""
    out = np.asarray(_divergences(sde, x, u))
    best = np.inf
    for _ in range(5):
        t = time.perf_counter()
        _divergences(sde, x, u).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return out, best / x.shape[0]


def _mean_standard_error(sde: nl.SDE, x: jax.Array, u: jax.Array) -> float:
    """The mean over states of the probes' sample standard error of ``zᵀJz``."""
    z = sde.divergence_probes
    samples = jax.vmap(lambda xi, ui: probe_quadratic_forms(lambda y: sde.f(y, ui), xi, z))(x, u)
    return float(np.mean(np.std(np.asarray(samples), axis=1, ddof=1) / np.sqrt(z.shape[0])))


if __name__ == "__main__":
    main()
