r"""SciPy L-BFGS-B on the fixed-time discrete action with exact JAX gradients (``method="lbfgs"``).

The baseline of ``benchmarks/paths.py`` and a fallback: no Hessian, memory ``O(n N)``, but on the
stiff, badly scaled actions of most likely paths it typically needs thousands of iterations where
Newton needs ten. It stops when the normalised Euler–Lagrange residual
(:mod:`noetherlab.paths.diagnostics`) is ``<= gtol`` — checked after every iteration — or when
SciPy stops (its own status then becomes the result's).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from noetherlab._core.status import PathStatus
from noetherlab.paths._chain import Chain, chain_gradient, chain_value, normalised_residual
from noetherlab.paths._objectives import fixed_time_chain
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import AbstractPathSolver, start

__all__ = ["LBFGS"]

Array = jax.Array


@eqx.filter_jit
def _value_grad_residual(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    g, scale = chain_gradient(chain, y)
    return chain_value(chain, y), g, normalised_residual(g, scale)


class LBFGS(AbstractPathSolver):
    """Limited-memory BFGS (SciPy) on the fixed-time action.

    Attributes:
        gtol: tolerance of the normalised Euler–Lagrange residual.
        max_steps: iteration cap (function evaluations are capped at twice that).
        history_size: number of stored correction pairs (SciPy's ``maxcor``).
        el_tol: tolerance of the independent check.
    """

    gtol: float = 1e-8
    max_steps: int = 20_000
    history_size: int = 30
    el_tol: float | None = None
    name: ClassVar[str] = "lbfgs"
    solves_on_given_grid: ClassVar[bool] = True
    problems: ClassVar[tuple[str, ...]] = ("time",)

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        assert problem.t is not None
        template = start(problem, init)
        chain = fixed_time_chain(problem.sde, problem.lagrangian, problem.x0, problem.x1, problem.t)
        m, N = template.shape[0] - 2, template.shape[1]
        last: dict[str, Any] = {"residual": np.inf}

        def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
            y = template.copy()
            y[1:-1] = z.reshape(m, N)
            v, g, r = _value_grad_residual(chain, jnp.asarray(y))
            last["residual"] = float(r)
            return float(v), np.asarray(g).reshape(-1)

        def callback(intermediate_result: Any) -> None:
            if last["residual"] <= self.gtol:
                raise StopIteration

        begin = time.perf_counter()
        res = scipy.optimize.minimize(
            fun,
            template[1:-1].reshape(-1),
            jac=True,
            method="L-BFGS-B",
            callback=callback,
            options={
                "maxiter": self.max_steps,
                "maxfun": 2 * self.max_steps,
                "gtol": 0.0,
                "ftol": 0.0,
                "maxcor": self.history_size,
            },
        )
        seconds = time.perf_counter() - begin
        x = template.copy()
        x[1:-1] = res.x.reshape(m, N)
        _, g, r = (np.asarray(a) for a in _value_grad_residual(chain, jnp.asarray(x)))
        residual = float(r)
        if residual <= self.gtol:
            status = PathStatus.successful
            message = f"normalised residual {residual:.2e} <= gtol {self.gtol:.0e} after {res.nit} iterations"
        elif (
            res.nit >= self.max_steps
            or "ITERATIONS" in str(res.message).upper()
            or "EVALUATIONS" in str(res.message).upper()
        ):
            status = PathStatus.max_iterations
            message = f"L-BFGS reached its cap ({res.message}) at normalised residual {residual:.2e} > gtol {self.gtol:.0e}"
        else:
            status = PathStatus.line_search_failed
            message = f"L-BFGS stopped ({res.message}) at normalised residual {residual:.2e} > gtol {self.gtol:.0e}"
        return finish(
            problem,
            x,
            problem.t,
            method=self.name,
            status=status,
            message=message,
            iterations=int(res.nit),
            seconds=seconds,
            el_tol=self.tolerance(),
            grad=(float(np.linalg.norm(g)), float(np.max(np.abs(g))) if g.size else 0.0),
            stats={"function_evaluations": int(res.nfev), "scipy_message": str(res.message)},
        )
