r"""Many fixed-time most likely paths of one model in one compiled call.

:func:`most_likely_paths` solves ``B`` boundary-value problems that share the model, the
Lagrangian and the number of intervals ``n`` — different end states ``x0_b, x1_b`` and transit
times ``T_b`` — with the block-Newton engine (``N <= 4``,
:func:`~noetherlab.paths._newton.newton_minimise_batch`) or the matrix-free Newton–Krylov engine
(above, :func:`~noetherlab.paths._krylov.krylov_minimise_batch`) vectorised over the members: one
trace and one compilation for the batch, one loop on the device, each member stopping with its
own status (Newton–Krylov members are then certified one by one). On a CPU the Newton–Krylov
members run one after another through the same compiled loop by default (its ``batch`` option:
a vectorised loop runs as many CG iterations as its slowest member, measured 0.4× the speed of
sequential solves on a 16-member N = 100 RNN family). The resolution study's
coarse grids (``n/2``, ``n/4``) are batched the same way and run in the fine grid's compiled code.
Each member is then checked exactly as :func:`~noetherlab.paths.most_likely_path` checks one path
(independent Euler–Lagrange residual, charges, symmetry charges), so the ``b``-th result equals
``most_likely_path(sde, x0[b], x1[b], T=T[b], n=n, method="newton")``: the same status and
iteration count, the action to 1e-12 and the nodes to 1e-7 (measured in the tests; the vectorised
linear algebra rounds differently, 1e-9 on Maier–Stein).

On the CPU the gain is the per-call overhead and the vectorised sequential scans of the
block-tridiagonal solves (``benchmarks/paths.py --batch``); the loop runs as many iterations as
its slowest member, so members of similar difficulty batch best.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.resources import check_memory
from noetherlab.paths.api import check_derivatives, resolution_control, with_symmetry_charges
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.resolution import ResolutionControl
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import DENSE_MAX_DIM
from noetherlab.paths.solvers.newton import BlockNewton
from noetherlab.paths.solvers.newton_krylov import NewtonKrylov
from noetherlab.sde.model import SDE, require_sde

__all__ = ["most_likely_paths"]


def most_likely_paths(
    sde: SDE,
    x0: Any,
    x1: Any,
    *,
    T: Any,
    n: int = 1000,
    lagrangian: str = "fw",
    solver: BlockNewton | NewtonKrylov | None = None,
    resolution: ResolutionControl | None = None,
) -> list[PathResult]:
    """Fixed-time most likely paths of ``sde`` for a batch of end states and transit times.

    Args:
        sde: the model (shared by all members).
        x0: start states, ``(B, N)``, or one state ``(N,)`` shared by all members (a scalar or
            ``(B,)`` in 1-D).
        x1: end states, same convention.
        T: transit times, ``(B,)`` or one number.
        n: intervals of every member's uniform grid (default 1000).
        lagrangian: ``"fw"`` (default) or ``"om"``.
        solver: a configured :class:`~noetherlab.paths.solvers.BlockNewton` or
            :class:`~noetherlab.paths.solvers.NewtonKrylov` (its ``gtol`` and ``max_steps`` apply
            to every member); default ``BlockNewton()`` for ``N <= 4``, else ``NewtonKrylov()``
            (as ``most_likely_path`` chooses).
        resolution: the coarse-grid study (default ``ResolutionControl()``; refinement is per path
            and not available in a batch).

    Returns:
        One :class:`PathResult` per member, in order, each with its own status and diagnostics
        (``stats["batch_size"]``; ``seconds`` is the batch's time).

    Raises:
        InvalidArgumentError: end states or times of the wrong shape, no members, a solver other
            than block Newton or Newton–Krylov, refinement requested.
        ResourceLimitError: the batch's dense Hessians would not fit in memory.
    """
    sde = require_sde(sde)
    starts, ends, times = _members(sde, x0, x1, T)
    problems = []
    for b, (a, z, tb) in enumerate(zip(starts, ends, times, strict=True)):
        try:
            problems.append(PathProblem.fixed_time(sde, a, z, T=tb, n=n, lagrangian=lagrangian))
        except InvalidArgumentError as err:
            raise InvalidArgumentError(
                err.argument, f"member {b}: {err.problem}", err.fix
            ) from None
    N, size = sde.dim, problems[0].n
    if solver is None:
        the_solver: BlockNewton | NewtonKrylov = (
            BlockNewton() if N <= DENSE_MAX_DIM else NewtonKrylov()
        )
    else:
        the_solver = solver
    if not isinstance(the_solver, BlockNewton | NewtonKrylov):
        raise InvalidArgumentError(
            "solver",
            f"a batch is solved by the block-Newton or Newton–Krylov engine in one compiled loop, "
            f"not by {type(the_solver).__name__}",
            "pass solver=BlockNewton(...) or NewtonKrylov(...), or call most_likely_path for "
            "each problem",
        )
    control = resolution_control(resolution)
    if isinstance(the_solver, BlockNewton):
        check_memory(
            8.0 * len(problems) * (size + 1) * (24 * N * N + 64 * N),
            "x0/x1/T",
            f"a batch of {len(problems)} dense Newton solves with n = {size} in {N} dimensions",
            "solve the batch in smaller groups, use fewer intervals, or solver=NewtonKrylov()",
        )
    for problem in problems:
        check_derivatives(problem, None)
    results = the_solver.solve_batch(problems, [None] * len(problems))
    if control.check:
        coarse = the_solver.for_resolution_study(control.rtol, size)
        assert isinstance(coarse, BlockNewton | NewtonKrylov)
        results = control.apply_batch(problems, results, coarse.solve_batch)
    return [with_symmetry_charges(r, p) for r, p in zip(results, problems, strict=True)]


def _members(sde: SDE, x0: Any, x1: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Broadcast the end states to ``(B, N)`` and the times to ``(B,)``, naming a bad argument."""
    N = sde.dim
    states = []
    for name, value in (("x0", x0), ("x1", x1)):
        arr = np.asarray(value, dtype=np.float64)
        if N == 1 and arr.ndim <= 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != N:
            raise InvalidArgumentError(
                name,
                f"must be one state of shape ({N},) or a batch of shape (B, {N}), got shape "
                f"{np.shape(value)}",
                f"pass {name} with {N} coordinates per member",
            )
        states.append(arr)
    times = np.atleast_1d(np.asarray(T, dtype=np.float64))
    if times.ndim != 1:
        raise InvalidArgumentError(
            "T", f"must be a number or a 1-D array, got shape {np.shape(T)}", "pass T of shape (B,)"
        )
    sizes = {len(states[0]), len(states[1]), len(times)} - {1}
    if len(sizes) > 1:
        raise InvalidArgumentError(
            "x0/x1/T",
            f"batch sizes disagree: x0 has {len(states[0])} members, x1 {len(states[1])}, T "
            f"{len(times)}",
            "give each the same number of members B (or one value shared by all)",
        )
    B = sizes.pop() if sizes else 1
    return (
        np.broadcast_to(states[0], (B, N)),
        np.broadcast_to(states[1], (B, N)),
        np.broadcast_to(times, (B,)),
    )
