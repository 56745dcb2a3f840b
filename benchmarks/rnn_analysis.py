"""Benchmark of the slow-point analysis of a user's RNN (issue 29). Run by hand:

    .venv/bin/python benchmarks/rnn_analysis.py [--hidden 256] [--seeds 4096] [--adam-steps 20000]

* **Slow points of a GRU** (PyTorch ``nn.GRUCell``, recurrent weights scaled by ``--gain`` so that
  it has several attractors) from ``--seeds`` states visited by the noisy network: noetherlab's
  batched Newton method (:func:`noetherlab.find_slow_points`: Newton on ``f = 0`` with a line
  search on ``q``, then damped Newton with the exact Hessian of ``q`` where it stalls) against the
  baseline of FixedPointFinder, plain Adam on ``q = ½|f|²`` (optax, learning rate 1e-2, the same
  seeds, vectorised and jitted, run until every seed reaches ``q ≤ q_tol`` or ``--adam-steps``),
  in the same process. Reported: wall time (compilation excluded: each is run once to compile),
  seeds that reached the tolerance, distinct points found, and the ratio (a lower bound, marked
  ≥, when Adam stops at ``--adam-steps`` short of the tolerance). Target: ≥ 10× faster, the same
  points.
* **Continuation of the fold model** ``ẋ = u + x − x³``: time per branch point (warm).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from rich.console import Console
from rich.table import Table

import noetherlab as nl
from noetherlab.metastability.fixed_points import distinct_points


def gru_model(hidden: int, gain: float) -> nl.SDE:
    torch.manual_seed(0)
    cell = torch.nn.GRUCell(3, hidden).double()
    with torch.no_grad():
        cell.weight_hh.mul_(gain)
    return nl.rnn_sde(cell, np.zeros(3), diffusion=1e-3)


def visited(sde: nl.SDE, n: int) -> np.ndarray:
    ens = nl.simulate(
        sde, np.zeros(sde.dim), T=50.0, dt=0.5, n_paths=n, key=0, save="paths", save_every=20
    )
    return np.asarray(ens.paths).reshape(-1, sde.dim)


def adam_baseline(
    sde: nl.SDE, seeds: np.ndarray, q_tol: float, steps: int
) -> tuple[np.ndarray, np.ndarray, int]:
    opt = optax.adam(1e-2)

    def q(x: jax.Array) -> jax.Array:
        f = sde.f(x)
        return 0.5 * jnp.sum(f * f)

    @jax.jit
    def run(x: jax.Array, chunk: int = 500) -> tuple[jax.Array, jax.Array]:
        state = jax.vmap(opt.init)(x)

        def body(carry, _):
            x, s = carry
            g = jax.vmap(jax.grad(q))(x)
            u, s = jax.vmap(opt.update)(g, s)
            return (x + u, s), None

        (x, _), _ = jax.lax.scan(body, (x, state), None, length=chunk)
        return x, jax.vmap(q)(x)

    x = jnp.asarray(seeds)
    taken = 0
    while taken < steps:
        x, qs = run(x)
        taken += 500
        if np.all(np.asarray(qs) <= q_tol):
            break
    return np.asarray(x), np.asarray(qs), taken


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=4096)
    ap.add_argument("--gain", type=float, default=3.0)
    ap.add_argument("--q-tol", type=float, default=1e-12)
    ap.add_argument("--adam-steps", type=int, default=20000)
    args = ap.parse_args()
    sde = gru_model(args.hidden, args.gain)
    states = visited(sde, max(64, args.seeds // 8))
    rng = np.random.default_rng(0)
    seeds = states[rng.choice(len(states), args.seeds, replace=len(states) < args.seeds)]
    seeds = seeds + 0.01 * rng.standard_normal(seeds.shape)

    nl.find_slow_points(sde, seeds[:64], q_tol=args.q_tol, between_attractors=False)  # compile
    t = time.perf_counter()
    ours = nl.find_slow_points(
        sde, seeds, q_tol=args.q_tol, perturbation=0.0, between_attractors=False
    )
    t_ours = time.perf_counter() - t

    adam_baseline(sde, seeds[:64], args.q_tol, 500)  # compile
    t = time.perf_counter()
    xa, qa, taken = adam_baseline(sde, seeds, args.q_tol, args.adam_steps)
    t_adam = time.perf_counter() - t
    ok = qa <= args.q_tol
    adam_points = distinct_points(xa[ok], 1e-5)
    ours_pts = ours.states()
    same = sum(
        1
        for p in adam_points
        if ours_pts.size and np.min(np.linalg.norm(ours_pts - p, axis=1)) < 1e-4
    )

    table = Table(
        title=f"slow points of a GRU, N = {args.hidden}, {args.seeds} seeds, q_tol = {args.q_tol:g}"
    )
    for col in ("method", "wall s", "seeds at q_tol", "points", "ratio to Adam"):
        table.add_column(col)
    table.add_row(
        "Adam on q (FixedPointFinder's method)",
        f"{t_adam:.2f}",
        f"{int(ok.sum())}",
        f"{len(adam_points)} ({taken} steps)",
        "1.00",
    )
    table.add_row(
        "noetherlab Newton (f = 0, then damped on q)",
        f"{t_ours:.2f}",
        f"{ours.stats['kept_seeds']}",
        f"{len(ours.points)}",
        # Adam stopped at its step cap short of the tolerance: the ratio is a lower bound
        f"{'≥ ' if not ok.all() else ''}{t_adam / t_ours:.1f}× faster",
    )
    Console().print(table)
    print(f"Adam's points found by noetherlab: {same} of {len(adam_points)}")

    nl.fixed_point_branch(lambda x, u: u + x - x**3, [-1.5], (-1.0, 1.0))
    t = time.perf_counter()
    br = nl.fixed_point_branch(lambda x, u: u + x - x**3, [-1.5], (-1.0, 1.0), max_step=0.02)
    dt = time.perf_counter() - t
    print(
        f"fold continuation: {len(br.mu)} points in {dt:.2f} s ({1e3 * dt / len(br.mu):.1f} ms per point)"
    )


if __name__ == "__main__":
    main()
