r"""``most_likely_path``: the single entry point for boundary-value most likely paths.

Given ``T`` it minimises the midpoint discrete action at fixed transit time (Newton with the exact
block-tridiagonal Hessian, or L-BFGS); given ``energy`` it minimises the geometric (Maupertuis)
action at fixed energy and free time. Both return a :class:`PathResult` with the path, node
momenta, action, charges with their drift, Euler–Lagrange residual, gradient norm, iterations,
wall time, ``converged`` and ``message``, and a resolution study.

**Resolution control.** After the solve, the same problem is re-solved on the sub-grid of every
other node (warm-started: one or two Newton steps) and the Richardson estimate
``|S_n - S_{n/2}| / 3`` of the discretisation error of the action is reported. If it exceeds
``rtol·|S|`` an :class:`~noetherlab.errors.UnderResolvedWarning` is issued, or, with
``refine=True``, the grid is bisected until the estimate is below ``rtol`` (or ``n_max`` is hit).
With ``grid="adaptive"`` the fixed-time grid is first equidistributed in the arc length of
``(t/T, x/L_x, f/L_f)`` so that fast, steep stretches of the path get more nodes.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import jax.numpy as jnp
import numpy as np

from noetherlab._validation import (
    as_float_array,
    as_state,
    choice,
    positive_float,
    positive_int,
    time_grid,
)
from noetherlab.errors import InvalidArgumentError, ShapeError, UnderResolvedWarning
from noetherlab.lagrangian import check_lagrangian
from noetherlab.paths._result import PathResult, ResolutionReport
from noetherlab.paths.fixed_energy import _drift_along, solve_fixed_energy
from noetherlab.paths.fixed_time import interpolate_path, solve_fixed_time
from noetherlab.paths.time_via_energy import solve_time_via_energy
from noetherlab.sde import SDE

__all__ = ["most_likely_path"]


def most_likely_path(
    sde: SDE,
    x0: Any,
    x1: Any,
    *,
    T: float | None = None,
    energy: float | None = None,
    n: int = 1000,
    t: Any = None,
    lagrangian: str = "fw",
    method: str = "newton",
    init: Any = None,
    grid: str = "uniform",
    rtol: float = 1e-4,
    refine: bool = False,
    n_max: int = 200_000,
    check_resolution: bool = True,
    gtol: float = 1e-8,
    max_iter: int = 200,
) -> PathResult:
    r"""Most likely path of ``sde`` from ``x0`` to ``x1`` at fixed time ``T`` or fixed ``energy``.

    Args:
        sde: the model.
        x0, x1: end states, shape ``(N,)`` (scalars in 1-D).
        T: transit time (fixed-time problem). Give exactly one of ``T``, ``energy`` and ``t``.
        energy: path energy ``E`` (fixed-energy, free-time problem; ``E = 0`` is the instanton).
        n: number of intervals (time steps or curve segments).
        t: an explicit, strictly increasing time grid (overrides ``T`` and ``n``).
        lagrangian: ``"fw"`` (default) or ``"om"``.
        method: for fixed ``T``: ``"newton"`` (default), ``"lbfgs"``, or ``"energy"`` (solve
            ``T(E) = T`` with the geometric solver — robust for long ``T``, where the time grid has
            almost flat directions; time-independent models only). Fixed energy always uses the
            geometric Newton solver.
        init: initial path: ``None`` (straight line), an array ``(n+1, N)``, a previous
            :class:`PathResult` (interpolated onto the new grid) or a callable ``s -> (N,)`` of
            the normalised time/curve parameter ``s ∈ [0, 1]``.
        grid: ``"uniform"`` or ``"adaptive"`` (fixed-time only; see module docstring).
        rtol: target relative discretisation error of the action.
        refine: bisect the grid until the estimated error is below ``rtol``.
        n_max: largest grid allowed when refining.
        check_resolution: estimate the discretisation error (costs one extra coarse solve).
        gtol: relative gradient tolerance of the optimiser.
        max_iter: iteration cap of the optimiser.

    Returns:
        :class:`PathResult`.

    Raises:
        InvalidArgumentError: ``T <= 0``, an energy below the admissible minimum, conflicting or
            missing arguments, a fixed-energy request for a time-dependent model, ...
        NonFiniteError: the drift is not finite along the initial path.
    """
    kind = check_lagrangian(lagrangian, sde)
    x0a = as_state(x0, "x0", sde.dim)
    x1a = as_state(x1, "x1", sde.dim)
    given = [name for name, v in (("T", T), ("energy", energy), ("t", t)) if v is not None]
    if len(given) != 1 and not (given == ["T", "t"]):
        raise InvalidArgumentError(
            "T/energy/t",
            f"give exactly one of T (fixed time), energy (fixed energy) or t (explicit grid); got {given or 'none'}",
            "e.g. most_likely_path(sde, x0, x1, T=1.0) or most_likely_path(sde, x0, x1, energy=0.0)",
        )
    n = positive_int(n, "n", 2)
    rtol = positive_float(rtol, "rtol", "tolerance")
    choice(grid, "grid", ("uniform", "adaptive"))
    parameters: dict[str, Any] = {"x0": x0a, "x1": x1a, "lagrangian": kind, "gtol": gtol}

    if energy is not None:
        try:
            E = float(energy)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                "energy", f"must be a number, got {energy!r}", "pass a float"
            ) from None
        if not np.isfinite(E):
            raise InvalidArgumentError(
                "energy", f"must be finite, got {E!r}", "pass a finite energy"
            )
        x_init = _initial_path(init, x0a, x1a, np.linspace(0.0, 1.0, n + 1), sde.dim)
        solve = lambda m, guess: solve_fixed_energy(
            sde, kind, x0a, x1a, E, m, guess, gtol=gtol, max_iter=max_iter, parameters=parameters
        )
        result = solve(n, x_init)
        fine_grid = lambda res: (np.linspace(0.0, 1.0, 2 * res.n + 1), None)
    else:
        if t is not None:
            grid_t = time_grid(t, "t")
            if grid == "adaptive":
                raise InvalidArgumentError(
                    "grid",
                    "cannot adapt an explicit grid t",
                    "drop grid='adaptive' or pass T and n instead",
                )
        else:
            Tf = positive_float(T, "T", "transit time")
            grid_t = np.linspace(0.0, Tf, n + 1)
        choice(method, "method", ("newton", "lbfgs", "energy"))
        if method == "energy" and (t is not None or grid == "adaptive"):
            raise InvalidArgumentError(
                "method", "method='energy' builds its own (geometric) grid", "pass T and n only"
            )
        parameters.update(
            {
                "T": float(grid_t[-1] - grid_t[0]),
                "n": grid_t.size - 1,
                "grid": grid,
                "method": method,
            }
        )
        x_init = _initial_path(init, x0a, x1a, grid_t, sde.dim)
        sde.check_states(x_init, grid_t, what="initial path")
        solve = lambda tg, guess: solve_fixed_time(
            sde,
            kind,
            x0a,
            x1a,
            tg,
            guess,
            method=method,
            gtol=gtol,
            max_iter=max_iter,
            parameters=parameters,
        )
        if method == "energy":
            Tf = float(grid_t[-1] - grid_t[0])
            solve = lambda m, guess: solve_time_via_energy(
                sde,
                kind,
                x0a,
                x1a,
                Tf,
                m,
                guess,
                gtol=gtol,
                max_iter=max_iter,
                parameters=parameters,
            )
            result = solve(n, None if init is None else x_init)
            fine_grid = lambda res: (np.linspace(0.0, 1.0, 2 * res.n + 1), None)
            if not (check_resolution or refine) or result.n < 4:
                return result
            return _resolution(result, solve, fine_grid, True, rtol, refine, n_max)
        result = solve(grid_t, x_init)
        if grid == "adaptive":
            result = _adapt(sde, result, solve)
        fine_grid = lambda res: (_bisect(res.t), None)

    if not (check_resolution or refine) or result.n < 4:
        return result
    return _resolution(result, solve, fine_grid, energy is not None, rtol, refine, n_max)


# ---------------------------------------------------------------------------- initial paths
def _initial_path(init: Any, x0: np.ndarray, x1: np.ndarray, t: np.ndarray, dim: int) -> np.ndarray:
    s = (t - t[0]) / (t[-1] - t[0])
    if init is None or (isinstance(init, str) and init == "line"):
        return x0[None, :] + s[:, None] * (x1 - x0)[None, :]
    if isinstance(init, PathResult):
        return interpolate_path(init.t, init.x, t) if np.isfinite(init.T) else _reparam(init.x, s)
    if callable(init):
        arr = np.stack([as_float_array(init(si), "init(s)").reshape(-1) for si in s])
    else:
        arr = as_float_array(init, "init")
        if arr.ndim == 1 and dim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape[1] != dim:
            raise ShapeError(
                "init",
                f"must have shape (n+1, {dim}), got {arr.shape}",
                "pass a path with one state per node",
            )
        if arr.shape[0] != t.size:
            arr = _reparam(arr, s)
    if arr.shape != (t.size, dim):
        raise ShapeError(
            "init",
            f"must give {t.size} states of dimension {dim}, got {arr.shape}",
            "match the grid",
        )
    arr = arr.copy()
    arr[0], arr[-1] = x0, x1
    return arr


def _reparam(x: np.ndarray, s: np.ndarray) -> np.ndarray:
    s_old = np.linspace(0.0, 1.0, x.shape[0])
    return np.stack([np.interp(s, s_old, x[:, i]) for i in range(x.shape[1])], axis=1)


# ---------------------------------------------------------------------------- grids
def _bisect(t: np.ndarray) -> np.ndarray:
    out = np.empty(2 * t.size - 1)
    out[0::2] = t
    out[1::2] = 0.5 * (t[:-1] + t[1:])
    return out


def _equidistributed_grid(sde: SDE, res: PathResult) -> np.ndarray:
    """Grid equidistributing the arc length of ``(t/T, x/L_x, f/L_f)`` along the current path."""
    dt = np.diff(res.t)
    dx = np.linalg.norm(np.diff(res.x, axis=0), axis=1)
    f = np.asarray(_drift_along(sde, jnp.asarray(res.x)))
    df = np.linalg.norm(np.diff(f, axis=0), axis=1)
    parts = [dt / dt.sum()]
    for d in (dx, df):
        if d.sum() > 0:
            parts.append(d / d.sum())
    w = np.sqrt(sum(p * p for p in parts))
    cum = np.concatenate([[0.0], np.cumsum(w)])
    return np.interp(np.linspace(0.0, cum[-1], res.t.size), cum, res.t)


def _adapt(sde: SDE, result: PathResult, solve: Any, rounds: int = 4) -> PathResult:
    for _ in range(rounds):
        new_t = _equidistributed_grid(sde, result)
        new_t[0], new_t[-1] = result.t[0], result.t[-1]
        change = float(np.max(np.abs(new_t - result.t)) / (result.t[-1] - result.t[0]))
        if change < 0.05 / result.n:
            break
        x_new = np.stack(
            [np.interp(new_t, result.t, result.x[:, i]) for i in range(result.x.shape[1])], axis=1
        )
        result = solve(new_t, x_new)
    return result


# ---------------------------------------------------------------------------- resolution study
def _resolution(
    result: PathResult,
    solve: Any,
    fine_grid: Any,
    fixed_energy: bool,
    rtol: float,
    refine: bool,
    n_max: int,
) -> PathResult:
    ns, actions, changes = [], [], []
    if result.n % 2 == 0:
        coarse = _solve_coarse(result, solve, fixed_energy)
        ns.append(coarse.n)
        actions.append(coarse.action)
        changes.append(_path_change(coarse, result, fixed_energy))
    ns.append(result.n)
    actions.append(result.action)
    report = _report(ns, actions, changes, rtol)
    while refine and not report.resolved and 2 * result.n <= n_max and result.converged:
        fine_t, _ = fine_grid(result)
        guess = (
            interpolate_path(result.t, result.x, fine_t)
            if not fixed_energy
            else _reparam(result.x, fine_t)
        )
        finer = solve(fine_t if not fixed_energy else 2 * result.n, guess)
        changes.append(_path_change(result, finer, fixed_energy))
        result = finer
        ns.append(result.n)
        actions.append(result.action)
        report = _report(ns, actions, changes, rtol)
    if not report.resolved:
        warnings.warn(
            f"most likely path of `{result.model}`: estimated relative discretisation error of the action "
            f"{report.relative_error:.2e} exceeds rtol = {rtol:g} at n = {result.n}; pass refine=True, a larger n, "
            "or grid='adaptive'",
            UnderResolvedWarning,
            stacklevel=3,
        )
    return replace(result, resolution=report)


def _solve_coarse(result: PathResult, solve: Any, fixed_energy: bool) -> PathResult:
    if fixed_energy:
        return solve(result.n // 2, result.x[::2])
    return solve(result.t[::2], result.x[::2])


def _path_change(coarse: PathResult, fine: PathResult, fixed_energy: bool) -> float:
    if fixed_energy:
        return float(
            np.max(np.abs(_reparam(fine.x, np.linspace(0, 1, coarse.x.shape[0])) - coarse.x))
        )
    return float(np.max(np.abs(fine.x[::2] - coarse.x))) if fine.n == 2 * coarse.n else np.nan


def _report(
    ns: list[int], actions: list[float], changes: list[float], rtol: float
) -> ResolutionReport:
    if len(actions) >= 2:
        err = abs(actions[-1] - actions[-2]) / 3.0
        extrap = actions[-1] + (actions[-1] - actions[-2]) / 3.0
    else:
        err, extrap = float("nan"), actions[-1]
    rel = err / max(abs(actions[-1]), 1e-300)
    return ResolutionReport(
        list(ns), list(actions), list(changes), err, rel, extrap, rtol, bool(rel <= rtol)
    )
