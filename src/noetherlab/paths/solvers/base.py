r"""The abstract path solver: the one seam every most-likely-path method plugs into.

A solver is an ``equinox.Module`` carrying its own tolerances and options (as in optimistix), with
one method, :meth:`AbstractPathSolver.solve`, that takes a validated
:class:`~noetherlab.paths.problem.PathProblem` and an optional initial path and returns a
:class:`~noetherlab.paths.result.PathResult`. A new method is one new file::

    class MySolver(AbstractPathSolver):
        gtol: float = 1e-8
        el_tol: float | None = None
        name: ClassVar[str] = "mine"
        problems: ClassVar[tuple[str, ...]] = ("time",)

        def solve(self, problem, init=None):
            x = ...  # (n+1, N) nodes on problem.t
            return finish(problem, x, problem.t, method=self.name, status=PathStatus.successful,
                          message="...", iterations=k, seconds=s, el_tol=self.tolerance())

and it is used as ``most_likely_path(sde, x0, x1, T=1.0, solver=MySolver())``. ``finish``
(:mod:`noetherlab.paths.diagnostics`) measures the action, the charges and the independent
Euler–Lagrange residual, so a solver cannot report ``converged`` for a path that is not a
stationary point of the action.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult

__all__ = ["DENSE_MAX_DIM", "AbstractPathSolver"]

#: above this state dimension the automatic choices use matrix-free Newton–Krylov instead of dense
#: block-tridiagonal Hessians (measured crossover on the noisy-RNN family, ``benchmarks/paths.py``:
#: Newton–Krylov is 4x faster at N = 10, 43x at N = 100)
DENSE_MAX_DIM = 4


class AbstractPathSolver(eqx.Module):
    """Base class of the path solvers (see module docstring).

    Class attributes:
        name: the method name used in results and by ``most_likely_path(method=...)``.
        problems: which problems it solves: ``"time"`` (fixed transit time) and/or ``"energy"``.
        needs_inverse_diffusion: False for solvers that work with degenerate noise (Hamiltonian
            form); True for the Lagrangian solvers.
        places_nodes_on_curve: the solver distributes its nodes along the curve itself (geometric
            solvers): initial paths are read as nodes uniform in the curve parameter.
        solves_on_given_grid: the solver keeps the problem's time grid (so ``grid="adaptive"`` can
            move it between solves).
        continuous_solution: the solver returns a continuous trajectory sampled on its own nodes
            (shooting): its error is the ODE solver's tolerance, not a grid's, so there is no
            coarse-grid resolution study.
    """

    name: ClassVar[str] = "abstract"
    problems: ClassVar[tuple[str, ...]] = ("time",)
    needs_inverse_diffusion: ClassVar[bool] = True
    places_nodes_on_curve: ClassVar[bool] = False
    solves_on_given_grid: ClassVar[bool] = False
    continuous_solution: ClassVar[bool] = False
    el_tol: eqx.AbstractVar[float | None]

    @abc.abstractmethod
    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        """Solve ``problem`` from ``init`` (``(n+1, N)`` nodes, or ``None`` for the straight line)."""

    def tolerance(self) -> float:
        """The Euler–Lagrange tolerance a result must meet for ``converged`` (``el_tol``, default
        ``max(1e-6, 100·gtol)`` where the solver has a ``gtol``)."""
        if self.el_tol is not None:
            return float(self.el_tol)
        gtol = getattr(self, "gtol", 1e-8)
        return max(1e-6, 100.0 * float(gtol))

    def uses_dense_hessian(self, dim: int) -> bool:
        """Whether a solve in ``dim`` dimensions forms ``N x N`` Hessian blocks (memory
        ``O(n N²)``, time ``O(n N³)``) rather than working matrix-free (``O(n N)``); the memory
        guard of :func:`~noetherlab.paths.most_likely_path` sizes the solve by it."""
        del dim
        return False

    def for_resolution_study(self, rtol: float, n: int) -> AbstractPathSolver:
        """The solver used for the coarse grids of a resolution study at tolerance ``rtol`` of a
        path on ``n`` intervals (default: this one; solvers with an outer tolerance unrelated to
        the discretisation relax it there, solvers compiled per grid size reuse the fine grid's
        code)."""
        del rtol, n
        return self

    def check(self, problem: PathProblem) -> None:
        """Refuse a problem this solver cannot solve, naming the right one."""
        kind = "time" if problem.is_fixed_time else "energy"
        if kind not in self.problems:
            other = "T (or t)" if kind == "energy" else "energy"
            raise InvalidArgumentError(
                "method",
                f"the {self.name!r} solver solves fixed-{' or fixed-'.join(self.problems)} problems, "
                f"not fixed-{kind} ones",
                f"prescribe {other} instead, or pick a solver for fixed {kind}",
            )
        if self.needs_inverse_diffusion and problem.sde.degenerate:
            raise UnsupportedModelError(
                f"argument `method`: model `{problem.sde.name}` has noise on a subspace only (D is "
                f"singular), so the Lagrangian ¼(ẋ-f)ᵀD⁻¹(ẋ-f) used by the {self.name!r} solver is "
                "infinite off that subspace. Fix: method='hamiltonian' (the Hamiltonian form needs "
                "no D⁻¹)."
            )


def straight_line(problem: PathProblem) -> np.ndarray:
    """Nodes of the straight line from ``x0`` to ``x1`` at the problem's grid (or uniform in the
    curve parameter at fixed energy)."""
    s = (
        np.linspace(0.0, 1.0, problem.n + 1)
        if problem.t is None
        else (problem.t - problem.t[0]) / (problem.t[-1] - problem.t[0])
    )
    return problem.x0[None, :] + s[:, None] * (problem.x1 - problem.x0)[None, :]


def start(problem: PathProblem, init: np.ndarray | None) -> np.ndarray:
    """``init`` (copied, end states pinned) or the straight line."""
    x = straight_line(problem) if init is None else np.array(init, dtype=np.float64)
    x[0], x[-1] = problem.x0, problem.x1
    return x
