r"""Fixed transit time through the energy: find ``E`` with ``T(E) = T`` and return the geometric path.

For a time-independent model the fixed-``T`` minimiser has a constant energy ``E`` and is the
fixed-``E`` geometric minimiser whose transit time ``T(E)`` equals ``T`` (Legendre duality,
``S(T) = Ŝ(E) + E T`` with ``dS/dT = -E``). Over long times the fixed-``T`` action is nearly
invariant under shifting *when* the path leaves an attractor, which leaves Newton on the time grid
with almost flat directions; the geometric formulation has no time variable and no such
directions, and ``T(E)`` is smooth and monotone on each branch (near a path through fixed points,
``T ≈ a - b log E``). So we solve ``log T(E) = log T`` by a safeguarded secant iteration in
``log E`` (or in ``E`` when ``E < 0`` is needed), each step a warm-started geometric solve.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import numpy as np

from noetherlab.errors import InvalidArgumentError
from noetherlab.paths._result import PathResult
from noetherlab.paths.fixed_energy import minimum_energy, solve_fixed_energy
from noetherlab.paths.fixed_time import solve_fixed_time
from noetherlab.sde import SDE


def solve_time_via_energy(
    sde: SDE,
    kind: str,
    x0: np.ndarray,
    x1: np.ndarray,
    T: float,
    n: int,
    x_init: np.ndarray | None,
    *,
    ttol: float = 1e-7,
    max_solves: int = 60,
    gtol: float = 1e-8,
    max_iter: int = 200,
    parameters: dict[str, Any] | None = None,
) -> PathResult:
    """Path of transit time ``T`` computed as the geometric path at the energy ``E*`` with
    ``T(E*) = T`` (relative tolerance ``ttol``)."""
    if sde.time_dependent:
        raise InvalidArgumentError(
            "method", "method='energy' needs a time-independent model", "use method='newton'"
        )
    start = time.perf_counter()
    e_min = minimum_energy(sde, x0, x1, kind)
    warm: PathResult | None = None
    if n > 1000:  # multilevel: locate E* on a coarser curve first, then refine with warm starts
        warm = solve_time_via_energy(
            sde,
            kind,
            x0,
            x1,
            T,
            1000,
            x_init,
            ttol=ttol,
            max_solves=max_solves,
            gtol=gtol,
            max_iter=max_iter,
        )
        if not warm.converged:
            warm = None
    # energy estimate from a cheap coarse fixed-time solve (convergence not required)
    m = min(n, 200)
    t_coarse = np.linspace(0.0, T, m + 1)
    guess = np.linspace(x0, x1, m + 1) if x_init is None else _resample(x_init, m)
    coarse = solve_fixed_time(sde, kind, x0, x1, t_coarse, guess, gtol=gtol, max_iter=50)
    scale = float(np.mean(np.abs(coarse.charges.energy.values))) + 1e-12
    # start on the E > 0 branch (it always exists); E < 0 is reached by the secant if needed
    E = coarse.energy if coarse.converged and coarse.energy > 0 else 1e-2 * scale
    curve = np.linspace(x0, x1, n + 1) if x_init is None else x_init
    if warm is not None:
        E, curve = warm.energy, warm.x
    history: list[tuple[float, float]] = []
    best: PathResult | None = None
    lo: tuple[float, float] | None = None  # (E, log T) with T(E) > T: energy too low
    hi: tuple[float, float] | None = None  # T(E) < T: energy too high
    for _ in range(max_solves):
        try:
            res = solve_fixed_energy(
                sde, kind, x0, x1, E, n, _resample(curve, n), gtol=gtol, max_iter=max_iter
            )
        except InvalidArgumentError:  # the curve would cross the forbidden region: E too low
            lo = (E, np.inf)
            E = 0.5 * (E + (hi[0] if hi is not None else abs(E)))
            continue
        if not res.converged:
            break
        curve = res.x
        logT = float(np.log(res.T)) if np.isfinite(res.T) else np.inf
        history.append((E, res.T))
        best = res
        err = logT - np.log(T)
        if abs(err) <= ttol:
            break
        if err > 0:
            lo = (E, logT)
        else:
            hi = (E, logT)
        E = _next_energy(E, logT, np.log(T), lo, hi, history, e_min)
    seconds = time.perf_counter() - start
    params = dict(parameters or {}, method="energy", T=T, n=n, energy_iterations=len(history))
    if best is None:
        raise_msg = "the geometric solver did not converge at the first energy estimate"
        return replace(
            coarse,
            method="energy",
            converged=False,
            message=raise_msg,
            seconds=seconds,
            parameters=params,
        )
    ok = best.converged and abs(np.log(best.T) - np.log(T)) <= ttol
    msg = (
        f"converged: E* = {best.energy:.12g} gives T(E*) = {best.T:.12g} (relative {abs(best.T / T - 1):.1e}) "
        f"after {len(history)} geometric solves"
        if ok
        else f"did not reach T(E) = T within {len(history)} geometric solves (last T(E) = {best.T:.6g}, E = {best.energy:.6g}): {best.message}"
    )
    return replace(
        best,
        method="energy",
        converged=ok,
        message=msg,
        seconds=seconds,
        parameters=params,
        iterations=sum(1 for _ in history),
    )


def _resample(x: np.ndarray, n: int) -> np.ndarray:
    s_old = np.linspace(0.0, 1.0, x.shape[0])
    s = np.linspace(0.0, 1.0, n + 1)
    return np.stack([np.interp(s, s_old, x[:, i]) for i in range(x.shape[1])], axis=1)


def _next_energy(
    E: float,
    logT: float,
    target: float,
    lo: tuple[float, float] | None,
    hi: tuple[float, float] | None,
    history: list[tuple[float, float]],
    e_min: float,
) -> float:
    """Secant step in ``u = log E`` (E > 0) or ``E``, kept inside the bracket when one is known."""
    use_log = E > 0 and (lo is None or lo[0] > 0)
    fwd = (lambda e: np.log(e)) if use_log else (lambda e: e)
    inv = (lambda u: float(np.exp(u))) if use_log else (lambda u: float(u))
    if len(history) >= 2 and np.all(np.isfinite([np.log(h[1]) for h in history[-2:]])):
        (Ea, Ta), (Eb, Tb) = history[-2], history[-1]
        ua, ub = fwd(Ea), fwd(Eb)
        la, lb = np.log(Ta), np.log(Tb)
        u_new = ub - (lb - target) * (ub - ua) / (lb - la) if lb != la else ub
        E_new = inv(u_new)
    else:
        # one point only: T decreases with E; step by a decade (or a fraction of |E_min|)
        E_new = (
            E * (0.1 if logT < target else 10.0)
            if E > 0
            else E + (0.5 * abs(e_min) if logT > target else -0.5 * (E - e_min))
        )
    if lo is not None and hi is not None:  # safeguard: stay strictly inside the bracket
        a, b = sorted((lo[0], hi[0]))
        if not (a < E_new < b):
            E_new = float(np.sqrt(a * b)) if a > 0 else 0.5 * (a + b)
    return max(E_new, e_min + 1e-9 * max(abs(e_min), 1e-12))
