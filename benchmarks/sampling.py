"""Benchmark: ensembles of the three-attractor model (Fig. 1c), final states only.

    .venv/bin/python benchmarks/sampling.py [--paths 100000] [--steps 2000]

Compares, in path-steps per second (each case in its own subprocess, so peak memory is per case):
  * ours: ``noetherlab.ensembles.simulation.simulate`` (EM, lax.scan + vmap, chunked);
  * random-only: the same number of normal variates drawn with ``jax.random`` alone (hardware bound);
  * NumPy loop: the notebook's per-step NumPy update (run for fewer steps, rate extrapolated);
  * diffrax: ``diffeqsolve`` with ``Euler`` + ``VirtualBrownianTree``, vmapped over paths (on a
    subset of the paths, rate extrapolated).
Targets (issue): ours >= 0.5x the random-only rate, >= 5x the NumPy loop; peak memory O(n_paths N).
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import subprocess
import sys
import time

DT, X0 = 0.025, (0.0, 0.0)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def case_ours(paths: int, steps: int, chunk: int, precision: str = "float64") -> dict:
    from noetherlab.ensembles.simulation import simulate
    from noetherlab.models import three_attractor

    m = three_attractor()
    kw = {"chunk_size": chunk, "noise_precision": precision}
    simulate(m, X0, steps * DT, DT, min(paths, chunk), key=1, **kw)  # compile
    t = time.perf_counter()
    ens = simulate(m, X0, steps * DT, DT, paths, key=0, **kw)
    sec = time.perf_counter() - t
    return {
        "seconds": sec,
        "path_steps": paths * steps,
        "peak_MB": _peak_mb(),
        "mean": ens.final.mean(0).tolist(),
    }


def case_random(paths: int, steps: int, chunk: int, precision: str = "float64") -> dict:
    import jax
    import jax.numpy as jnp

    import noetherlab  # noqa: F401  (float64)

    @jax.jit
    def draw(key: jax.Array) -> jax.Array:
        def one(acc: jax.Array, i: jax.Array) -> tuple[jax.Array, None]:
            xi = jax.random.normal(jax.random.fold_in(key, i), (chunk, 2), jnp.dtype(precision))
            return acc + xi, None

        return jax.lax.scan(one, jnp.zeros((chunk, 2), jnp.dtype(precision)), jnp.arange(steps))[0]

    draw(jax.random.PRNGKey(1)).block_until_ready()
    t = time.perf_counter()
    for c in range(max(1, paths // chunk)):
        draw(jax.random.PRNGKey(c)).block_until_ready()
    return {
        "seconds": time.perf_counter() - t,
        "path_steps": max(1, paths // chunk) * chunk * steps,
        "peak_MB": _peak_mb(),
    }


def case_numpy(paths: int, steps: int, chunk: int) -> dict:
    import numpy as np

    tau, mu0, c, A, inh, sig, n = 1.0, 1.25, 1.5, 2.0, 0.9, 0.4, 0.01
    sgm = lambda z: 1.0 / (1.0 + np.exp(-(z - c) / n))
    steps = min(steps, 200)
    np.random.seed(0)  # noqa: NPY002 (the notebook stream)
    x, y = np.zeros(paths), np.zeros(paths)
    t = time.perf_counter()
    with np.errstate(over="ignore"):
        for _ in range(steps):
            nx, ny = np.random.normal(size=paths), np.random.normal(size=paths)  # noqa: NPY002
            fx = (mu0 + A * sgm(x) - inh * sgm(y) - x) / tau
            fy = (mu0 + A * sgm(y) - inh * sgm(x) - y) / tau
            x, y = (
                x + fx * DT + np.sqrt(2 / tau) * sig * nx * np.sqrt(DT),
                y + fy * DT + np.sqrt(2 / tau) * sig * ny * np.sqrt(DT),
            )
    return {"seconds": time.perf_counter() - t, "path_steps": paths * steps, "peak_MB": _peak_mb()}


def case_diffrax(paths: int, steps: int, chunk: int) -> dict:
    import diffrax
    import jax
    import jax.numpy as jnp

    from noetherlab.models import three_attractor

    m = three_attractor()
    sub = min(paths, 2_000)
    G = m.G(jnp.zeros(2))

    def one(key: jax.Array) -> jax.Array:
        bm = diffrax.VirtualBrownianTree(0.0, steps * DT, tol=DT / 2, shape=(2,), key=key)
        terms = diffrax.MultiTerm(
            diffrax.ODETerm(lambda t, y, a: m.f(y, t)), diffrax.ControlTerm(lambda t, y, a: G, bm)
        )
        sol = diffrax.diffeqsolve(
            terms, diffrax.Euler(), 0.0, steps * DT, DT, jnp.zeros(2), max_steps=steps + 1
        )
        return sol.ys[-1]

    run = jax.jit(jax.vmap(one))
    keys = jax.random.split(jax.random.PRNGKey(0), sub)
    run(keys).block_until_ready()
    t = time.perf_counter()
    run(keys).block_until_ready()
    return {"seconds": time.perf_counter() - t, "path_steps": sub * steps, "peak_MB": _peak_mb()}


CASES = {
    "ours": case_ours,
    "ours (float32 noise)": functools.partial(case_ours, precision="float32"),
    "random-only": case_random,
    "random-only (float32)": functools.partial(case_random, precision="float32"),
    "numpy-loop": case_numpy,
    "diffrax-euler": case_diffrax,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--chunk", type=int, default=100_000)
    ap.add_argument("--case", choices=list(CASES))
    args = ap.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](args.paths, args.steps, args.chunk)))
        return
    from rich.console import Console
    from rich.table import Table

    def run(case: str, paths: int, chunk: int) -> dict:
        cmd = [
            sys.executable,
            __file__,
            "--case",
            case,
            "--paths",
            str(paths),
            "--steps",
            str(args.steps),
            "--chunk",
            str(chunk),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    res = {c: run(c, args.paths, args.chunk) for c in CASES}
    rate = {c: r["path_steps"] / r["seconds"] for c, r in res.items()}
    table = Table(
        title=f"three-attractor ensemble: {args.paths} paths x {args.steps} steps, final states only"
    )
    for col in ("method", "path-steps / s", "time for the full job s", "ours / method", "peak MB"):
        table.add_column(col)
    full = args.paths * args.steps
    for c in CASES:
        table.add_row(
            c,
            f"{rate[c]:.3g}",
            f"{full / rate[c]:.2f}",
            f"{rate['ours'] / rate[c]:.2f}x",
            f"{res[c]['peak_MB']:.0f}",
        )
    Console().print(table)
    # memory: final-state mode keeps O(chunk N) working memory, so 4x the paths should cost ~4x
    # only in the (n_paths, N) output, not in the scan state
    mem = {
        p: run("ours", p, args.chunk)["peak_MB"]
        for p in (args.paths // 4, args.paths, 4 * args.paths)
    }
    Console().print(
        f"peak MB of `ours` by n_paths (chunk {args.chunk}): "
        f"{ {k: round(v) for k, v in mem.items()} }"
    )
    Console().print(
        f"targets: ours/random-only = {rate['ours'] / rate['random-only']:.2f} (>= 0.5), "
        f"ours/numpy-loop = {rate['ours'] / rate['numpy-loop']:.1f} (>= 5); with float32 noise: "
        f"{rate['ours (float32 noise)'] / rate['random-only (float32)']:.2f} and "
        f"{rate['ours (float32 noise)'] / rate['numpy-loop']:.1f}"
    )


if __name__ == "__main__":
    main()
