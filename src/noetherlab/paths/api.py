r"""``most_likely_path``: the one-call convenience over :class:`~noetherlab.paths.problem.PathProblem`,
the solvers of :mod:`noetherlab.paths.solvers` and
:class:`~noetherlab.paths.resolution.ResolutionControl`.

It builds the problem (fixed ``T`` / grid ``t``, or fixed ``energy``), picks the solver
(``method="auto"``: block-tridiagonal Newton up to :data:`DENSE_MAX_DIM` dimensions, matrix-free
Newton–Krylov above; the geometric solver at fixed energy; the Hamiltonian solver for degenerate
noise), turns ``init`` into nodes, solves, optionally adapts the grid, and runs the resolution
study. Everything it does can be done step by step with the objects themselves::

    problem = PathProblem.fixed_time(sde, x0, x1, T=1.0, n=1000)
    result = BlockNewton(gtol=1e-10).solve(problem)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError, ShapeError
from noetherlab._core.interp import resample, unit_parameter
from noetherlab._core.resources import check_memory, warn_if_long
from noetherlab._core.validation import as_float_array, choice
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.resolution import ResolutionControl
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers import SOLVERS, AbstractPathSolver
from noetherlab.paths.solvers.base import DENSE_MAX_DIM, start
from noetherlab.sde.model import SDE, require_sde

__all__ = ["DENSE_MAX_DIM", "most_likely_path"]


def most_likely_path(
    sde: SDE,
    x0: Any,
    x1: Any,
    *,
    T: float | None = None,
    energy: float | None = None,
    n: int | None = None,
    t: Any = None,
    lagrangian: str = "fw",
    method: str = "auto",
    solver: AbstractPathSolver | None = None,
    init: Any = None,
    grid: str = "uniform",
    resolution: ResolutionControl | None = None,
    progress: Callable[[str], None] | None = None,
) -> PathResult:
    r"""Most likely path of ``sde`` from ``x0`` to ``x1`` at fixed time ``T`` or fixed ``energy``.

    Args:
        sde: the model.
        x0: start state, shape ``(N,)`` (a scalar in 1-D).
        x1: end state, shape ``(N,)``.
        T: transit time (fixed-time problem), with ``n`` intervals (default 1000).
        energy: path energy ``E`` (fixed-energy, free-time problem; ``E = 0`` is the instanton).
        n: number of intervals (time steps or curve segments); default 1000.
        t: an explicit, strictly increasing time grid (instead of ``T`` and ``n``).
        lagrangian: ``"fw"`` (default) or ``"om"``.
        method: ``"auto"`` (default), ``"newton"``, ``"newton-krylov"``, ``"lbfgs"``, ``"time-via-energy"``
            (fixed ``T`` through ``T(E) = T`` on the geometric solver: robust for long ``T``),
            ``"geometric"`` (fixed energy), ``"shooting"``, ``"hamiltonian"`` (degenerate noise):
            the solver with its default tolerances.
        solver: a configured solver object instead of ``method``, carrying its own tolerances and
            caps (e.g. ``BlockNewton(gtol=1e-12, max_steps=50)``).
        init: initial path: ``None`` (straight line), an array ``(n+1, N)``, a previous
            :class:`PathResult` (interpolated onto the new grid) or a callable ``s -> (N,)`` of
            the normalised time/curve parameter ``s ∈ [0, 1]``.
        grid: ``"uniform"`` or ``"adaptive"`` (fixed time: the grid is equidistributed in the arc
            length of ``(t/T, x/L_x, f/L_f)`` so that fast, steep stretches get more nodes).
        resolution: how the discretisation is checked and refined (a :class:`ResolutionControl`;
            default ``ResolutionControl()``: a coarse-grid study at ``rtol = 1e-4``, no
            refinement; ``ResolutionControl(check=False)`` skips the study).
        progress: called with one line of text before each solve (the first, the resolution
            study's coarse grids, each refinement), e.g. to update a status display.

    Returns:
        :class:`PathResult` (``converged`` iff its ``status`` is ``PathStatus.successful``).

    Raises:
        InvalidArgumentError: ``T <= 0``, an energy below the admissible minimum, conflicting
            (``T`` with ``t``, ``solver`` with ``method``) or missing arguments, a
            fixed-energy request for a time-dependent model or between equal states, ...
        ResourceLimitError: the solve would not fit in memory (refused before it starts).
        NonFiniteError: the drift is not finite along the initial path.
    """
    sde = require_sde(sde)
    if sum(v is not None for v in (T, energy, t)) == 0 or (
        energy is not None and (T, t) != (None, None)
    ):
        raise InvalidArgumentError(
            "T/energy/t",
            "give exactly one of T (fixed time, with n), t (an explicit time grid) or energy "
            "(fixed energy)",
            "e.g. most_likely_path(sde, x0, x1, T=1.0) or most_likely_path(sde, x0, x1, energy=0.0)",
        )
    if energy is not None:
        problem = PathProblem.fixed_energy(sde, x0, x1, energy=energy, n=n, lagrangian=lagrangian)
    else:
        problem = PathProblem.fixed_time(sde, x0, x1, T=T, n=n, t=t, lagrangian=lagrangian)
    choice(grid, "grid", ("uniform", "adaptive"))
    if grid == "adaptive" and (t is not None or energy is not None):
        raise InvalidArgumentError(
            "grid",
            "grid='adaptive' equidistributes a fixed-T grid; it cannot adapt an explicit grid t or a "
            "fixed-energy curve (which places its nodes itself)",
            "drop grid='adaptive', or pass T and n",
        )
    the_solver = _pick_solver(problem, method, solver)
    if grid == "adaptive" and not the_solver.solves_on_given_grid:
        raise InvalidArgumentError(
            "grid", f"grid='adaptive' needs a fixed-grid solver, not {the_solver.name!r}", "drop it"
        )
    control = resolution_control(resolution)
    _guard_resources(problem, the_solver, control)
    x_init = _initial_nodes(init, problem)
    grid_t = problem.t if problem.t is not None else np.zeros(problem.n + 1)
    sde.check_states(start(problem, x_init), grid_t, what="initial path")
    if the_solver.needs_inverse_diffusion:
        check_derivatives(problem, x_init)
    if progress is not None:
        progress(f"solving on n = {problem.n} ({the_solver.name})")
    result = the_solver.solve(problem, x_init)
    if grid == "adaptive":
        result = _adapt(problem, result, the_solver)
    if not the_solver.continuous_solution:  # a continuous trajectory has no grid to study
        result = control.apply(
            problem,
            result,
            the_solver.solve,
            curve=the_solver.places_nodes_on_curve,
            coarse_solve=the_solver.for_resolution_study(control.rtol, result.n).solve,
            progress=progress,
        )
    return with_symmetry_charges(result, problem)


#: symmetry discovery (N² + N unknowns) is run for models up to this dimension
SYMMETRY_MAX_DIM = 8


def with_symmetry_charges(result: PathResult, problem: PathProblem) -> PathResult:
    """Attach the drift of each symmetry's Noether charge along the path (models with ``N <= 8``
    and an invertible ``D``; the discovery is compiled once per model structure)."""
    from dataclasses import replace

    from noetherlab.noether.symmetries import find_symmetries

    sde = problem.sde
    if sde.dim > SYMMETRY_MAX_DIM or sde.degenerate or not np.all(np.isfinite(result.x)):
        return result
    t = np.asarray(result.t)
    if not (np.all(np.isfinite(t)) and np.all(np.diff(t) > 0)):
        # an E = 0 path that slides along fixed points (a ring or line of them) spends infinite
        # time there: its time grid is not a grid, and charges in time are not defined
        return result
    # a time-dependent model is probed at the path's own times (a diffusion model's score is
    # defined only on its schedule's range)
    span = (float(t[0]), float(t[-1])) if sde.time_dependent else (0.0, 1.0)
    rep = find_symmetries(sde, lagrangian=problem.lagrangian, t_range=span)
    names = {"time": "energy", "translation": "momentum", "rotation": "angular momentum"}
    rows = []
    for sym in rep:
        trace = sym.charge(result.x, result.t)
        rows.append(
            {
                "symmetry": sym.name,
                "charge": names.get(sym.kind, "p·(A x + b)"),
                "drift": trace.drift,
                "certified": rep.certified,
            }
        )
    return replace(result, symmetry_charges=rows)


def check_derivatives(problem: PathProblem, x_init: np.ndarray | None) -> None:
    """Refuse an initial path where the action or its gradient is not finite (a drift with
    non-finite derivatives there), naming the node, instead of failing inside the solver."""
    from noetherlab.paths.diagnostics import residual

    x = start(problem, x_init)
    t = problem.t if problem.t is not None else np.linspace(0.0, 1.0, problem.n + 1)
    meas = residual(None, problem.sde, problem.lagrangian, x, t)
    bad = ~np.all(np.isfinite(meas["g"]), axis=1)
    if not np.isfinite(meas["action"]) or np.any(bad):
        k = int(np.argmax(bad)) + 1 if np.any(bad) else 0
        raise NonFiniteError(
            f"model `{problem.sde.name}`: the action or its derivative with respect to the path is "
            f"not finite at initial-path node {k} (x = {x[k].tolist()}): the drift (or D) has a "
            "non-finite derivative near there. Fix: pass init= a path that avoids the singularity, or "
            "regularise the drift (e.g. sqrt(x² + ε²) instead of |x|)."
        )


# ---------------------------------------------------------------------------- choosing a solver
def _pick_solver(
    problem: PathProblem, method: str, solver: AbstractPathSolver | None
) -> AbstractPathSolver:
    """The solver object given, or the one ``method`` names (``"auto"``: block Newton up to
    ``DENSE_MAX_DIM`` dimensions at fixed time, Newton–Krylov above, the geometric solver at fixed
    energy, the Hamiltonian solver for degenerate noise), checked against the problem."""
    if solver is not None:
        if not isinstance(solver, AbstractPathSolver):
            raise InvalidArgumentError(
                "solver",
                f"must be a path solver (e.g. BlockNewton()), got {type(solver).__name__}",
                "pass an instance of a class from noetherlab.paths.solvers",
            )
        if method != "auto":
            raise InvalidArgumentError(
                "solver",
                "a solver object is its own method; method= conflicts with it",
                "pass one of them, e.g. solver=BlockNewton(gtol=1e-10, max_steps=50)",
            )
        solver.check(problem)
        return solver
    if method == "energy":
        raise InvalidArgumentError(
            "method",
            "'energy' is not a method: a fixed transit time through T(E) = T is "
            "method='time-via-energy', and a fixed energy is the argument energy=E",
            "pass method='time-via-energy' (with T) or energy=E (without T)",
        )
    choice(method, "method", ("auto", *SOLVERS))
    if method == "auto":
        if problem.sde.degenerate:
            method = "hamiltonian"
        elif problem.is_fixed_time:
            method = "newton" if problem.dim <= DENSE_MAX_DIM else "newton-krylov"
        else:
            method = "geometric"
    the = SOLVERS[method]()
    the.check(problem)
    return the


def resolution_control(resolution: ResolutionControl | None) -> ResolutionControl:
    if resolution is None:
        return ResolutionControl()
    if not isinstance(resolution, ResolutionControl):
        raise InvalidArgumentError(
            "resolution",
            f"must be a ResolutionControl, got {type(resolution).__name__}",
            "e.g. ResolutionControl(rtol=1e-6, refine=True)",
        )
    return resolution


def _guard_resources(
    problem: PathProblem, solver: AbstractPathSolver, control: ResolutionControl
) -> None:
    n = control.n_max if control.refine else problem.n
    N = problem.dim
    dense = solver.uses_dense_hessian(N)
    per_node = (24 * N * N + 64 * N) if dense else (40 * N + 64)
    check_memory(
        8.0 * per_node * (n + 1),
        "n" if not control.refine else "n_max",
        f"a {solver.name!r} path solve with n = {n} intervals in {N} dimensions",
        "use fewer intervals (n, or n_max when refining)"
        + ("" if not dense or problem.t is None else ", or method='newton-krylov' (memory O(n·N))"),
    )
    if dense:
        flops = 40.0 * (n + 1) * N**3 * 30  # ~30 Newton steps
        warn_if_long(
            flops / 2e9,
            f"a dense {solver.name!r} solve with N = {N}, n = {n}",
            "method='newton-krylov' scales as N²",
        )


# ---------------------------------------------------------------------------- initial paths
def _initial_nodes(init: Any, problem: PathProblem) -> np.ndarray | None:
    """``init`` as ``(n+1, N)`` nodes on the problem's grid (``None``: the solver's straight line)."""
    dim, m = problem.dim, problem.n + 1
    s = unit_parameter(problem.t) if problem.t is not None else np.linspace(0.0, 1.0, m)
    if init is None or (isinstance(init, str) and init == "line"):
        return None
    if isinstance(init, PathResult):
        s_old = (
            unit_parameter(init.t)
            if problem.t is not None and np.isfinite(init.T)
            else np.linspace(0.0, 1.0, init.x.shape[0])
        )
        if init.x.shape[1] != dim:
            raise ShapeError(
                "init",
                f"is a path in {init.x.shape[1]} dimensions, the model has {dim}",
                "pass a path of this model",
            )
        arr = resample(init.x, s_old, s)
    elif callable(init):
        arr = np.stack([as_float_array(init(si), "init(s)").reshape(-1) for si in s])
    else:
        arr = as_float_array(init, "init")
        if arr.ndim == 1 and dim == 1:
            arr = arr[:, None]
        if arr.ndim != 2 or arr.shape != (m, dim):
            raise ShapeError(
                "init",
                f"must have one state per node, shape (n+1, N) = ({m}, {dim}), got {arr.shape}",
                "pass a path on this grid, a PathResult (interpolated automatically) or a callable "
                "s -> state",
            )
    if arr.shape != (m, dim):
        raise ShapeError(
            "init", f"must give {m} states of dimension {dim}, got {arr.shape}", "match the grid"
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError("init", "contains non-finite values", "pass a finite path")
    arr = arr.copy()
    arr[0], arr[-1] = problem.x0, problem.x1
    return arr


# ---------------------------------------------------------------------------- adaptive grid
def _equidistributed_grid(problem: PathProblem, res: PathResult) -> np.ndarray:
    """Grid equidistributing the arc length of ``(t/T, x/L_x, f/L_f)`` along the current path."""
    dt = np.diff(res.t)
    dx = np.linalg.norm(np.diff(res.x, axis=0), axis=1)
    f = problem.sde.drift_at(res.x)
    df = np.linalg.norm(np.diff(f, axis=0), axis=1)
    parts = [dt / dt.sum()]
    for d in (dx, df):
        if d.sum() > 0:
            parts.append(d / d.sum())
    w = np.sqrt(sum(p * p for p in parts))
    cum = np.concatenate([[0.0], np.cumsum(w)])
    return np.interp(np.linspace(0.0, cum[-1], res.t.size), cum, res.t)


def _adapt(
    problem: PathProblem, result: PathResult, solver: AbstractPathSolver, rounds: int = 4
) -> PathResult:
    for _ in range(rounds):
        new_t = _equidistributed_grid(problem, result)
        new_t[0], new_t[-1] = result.t[0], result.t[-1]
        change = float(np.max(np.abs(new_t - result.t)) / (result.t[-1] - result.t[0]))
        if change < 0.05 / result.n:
            break
        result = solver.solve(problem.with_grid(new_t), resample(result.x, result.t, new_t))
    return result
