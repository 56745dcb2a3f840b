r"""Block-tridiagonal Newton for fixed-time paths (``method="newton"``).

Minimises the midpoint discrete action over the interior nodes,

.. math:: \min_{x_1..x_{n-1}} S_d = \sum_k h_k\, L\big(\tfrac{x_k+x_{k+1}}2, \tfrac{x_{k+1}-x_k}{h_k},
          t_{k+1/2}\big), \qquad x_0, x_n \text{ fixed},

with the exact gradient and block-tridiagonal Hessian (``N x N`` blocks, ``O(n N³)`` per step) and
the globalisation of :mod:`noetherlab.paths._newton` (Levenberg shifts, Armijo line search,
negative-curvature steps out of saddles), compiled as one loop. Converged when the normalised
Euler–Lagrange residual is ``<= gtol`` and the Hessian is positive definite (a strict local
minimiser).

At the discrete minimiser every momentum map of an affine symmetry is conserved exactly (to solver
tolerance); the interval energy is conserved to ``O(h²)`` on a prescribed grid (use the
fixed-energy solver for exact energy). Cost and memory grow as ``N³`` and ``N²``: above a few tens
of dimensions :class:`~noetherlab.paths.solvers.newton_krylov.NewtonKrylov` is faster.
"""

from __future__ import annotations

import time
from typing import ClassVar

import jax.numpy as jnp
import numpy as np

from noetherlab.paths._newton import describe, engine_history, engine_stats, newton_minimise
from noetherlab.paths._objectives import fixed_time_chain
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import AbstractPathSolver, start

__all__ = ["BlockNewton"]


class BlockNewton(AbstractPathSolver):
    """Newton's method with the exact block-tridiagonal Hessian (fixed time).

    Attributes:
        gtol: tolerance of the normalised Euler–Lagrange residual (relative, per node).
        max_steps: iteration cap.
        el_tol: tolerance of the independent check (default ``max(1e-6, 100·gtol)``).
    """

    gtol: float = 1e-8
    max_steps: int = 200
    el_tol: float | None = None
    name: ClassVar[str] = "newton"
    problems: ClassVar[tuple[str, ...]] = ("time",)
    solves_on_given_grid: ClassVar[bool] = True

    def uses_dense_hessian(self, dim: int) -> bool:
        return True

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        assert problem.t is not None
        x_start = start(problem, init)
        chain = fixed_time_chain(problem.sde, problem.lagrangian, problem.x0, problem.x1, problem.t)
        begin = time.perf_counter()
        out = newton_minimise(
            chain, jnp.asarray(x_start), jnp.asarray(self.gtol), self.max_steps, jnp.asarray(np.inf)
        )
        x = np.asarray(out.y).copy()
        seconds = time.perf_counter() - begin
        x[0], x[-1] = problem.x0, problem.x1
        status, message = describe(out, self.gtol, problem)
        return finish(
            problem,
            x,
            problem.t,
            method=self.name,
            status=status,
            message=message,
            iterations=int(out.iterations),
            seconds=seconds,
            el_tol=self.tolerance(),
            grad=(float(out.grad_norm), float(out.grad_inf)),
            stats=engine_stats(out),
            history=engine_history(out),
        )
