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

import dataclasses
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.validation import positive_int
from noetherlab.paths._chain import Chain
from noetherlab.paths._newton import (
    NewtonOutput,
    describe,
    engine_history,
    engine_stats,
    member_output,
    newton_minimise,
    newton_minimise_batch,
    stack_chains,
)
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
        pad_to: solve grids of fewer intervals padded to this many (fixed copies of the end
            state joined by zero-weight intervals, :func:`~noetherlab.paths._chain.pad_chain`): one
            compiled engine serves them all, with the same iterates. The resolution study sets it
            to the fine grid's ``n`` for its coarse grids; ``None``: each grid size compiles its own.
    """

    gtol: float = 1e-8
    max_steps: int = 200
    el_tol: float | None = None
    pad_to: int | None = None
    name: ClassVar[str] = "newton"
    problems: ClassVar[tuple[str, ...]] = ("time",)
    solves_on_given_grid: ClassVar[bool] = True

    def uses_dense_hessian(self, dim: int) -> bool:
        return True

    def __check_init__(self) -> None:
        if self.pad_to is not None:
            positive_int(self.pad_to, "pad_to", 1)

    def for_resolution_study(self, rtol: float, n: int) -> BlockNewton:
        """The coarse grids run in the fine grid's compiled engine (padded to ``n`` intervals)."""
        del rtol
        return dataclasses.replace(self, pad_to=n)

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        size = max(problem.n, self.pad_to or 0)
        chain, x_start = _padded_chain(problem, init, size)
        begin = time.perf_counter()
        out = newton_minimise(
            chain, jnp.asarray(x_start), jnp.asarray(self.gtol), self.max_steps, jnp.asarray(np.inf)
        )
        out = jax.tree_util.tree_map(np.asarray, out)
        return self._finish(problem, out, time.perf_counter() - begin, size, {})

    def solve_batch(
        self, problems: Sequence[PathProblem], inits: Sequence[np.ndarray | None]
    ) -> list[PathResult]:
        """Solve fixed-time problems of one model, dimension and Lagrangian together, in one
        compiled, vectorised call of the engine
        (:func:`~noetherlab.paths._newton.newton_minimise_batch`; members with fewer intervals
        are padded to the largest, or to ``pad_to``). Each member is finished as :meth:`solve`
        finishes one (independent residual, charges, status); its ``seconds`` is the whole
        batch's time and ``stats["batch_size"]`` says how many shared it."""
        for problem in problems:
            self.check(problem)
        size = max(max(p.n for p in problems), self.pad_to or 0)
        members = [_padded_chain(p, init, size) for p, init in zip(problems, inits, strict=True)]
        begin = time.perf_counter()
        out = newton_minimise_batch(
            stack_chains([chain for chain, _ in members]),
            jnp.asarray(np.stack([x for _, x in members])),
            jnp.asarray(self.gtol),
            self.max_steps,
            jnp.asarray(np.inf),
        )
        out = jax.tree_util.tree_map(np.asarray, out)
        seconds = time.perf_counter() - begin
        extra = {"batch_size": len(problems)}
        return [
            self._finish(p, member_output(out, b), seconds, size, extra)
            for b, p in enumerate(problems)
        ]

    def _finish(
        self,
        problem: PathProblem,
        out: NewtonOutput,
        seconds: float,
        size: int,
        extra: dict[str, Any],
    ) -> PathResult:
        assert problem.t is not None
        x = np.array(out.y[: problem.n + 1])
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
            stats={**engine_stats(out), **extra},
            history=engine_history(out),
            intervals=size if size > problem.n else None,
        )


def _padded_chain(
    problem: PathProblem, init: np.ndarray | None, size: int
) -> tuple[Chain, np.ndarray]:
    """The problem's chain and start nodes, padded to ``size >= n`` intervals."""
    assert problem.t is not None
    x_start = start(problem, init)
    n = problem.n
    chain = fixed_time_chain(
        problem.sde, problem.lagrangian, problem.x0, problem.x1, problem.t, size
    )
    if size > n:
        x_start = np.concatenate([x_start, np.repeat(x_start[-1:], size - n, axis=0)])
    return chain, x_start
