r"""Fixed transit time through the energy: find ``E`` with ``T(E) = T`` and return the geometric
path (``method="time-via-energy"``).

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
from typing import ClassVar

import equinox as eqx
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.interp import resample_uniform
from noetherlab._core.status import PathStatus
from noetherlab.paths._objectives import minimum_energy
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import AbstractPathSolver
from noetherlab.paths.solvers.geometric import Geometric
from noetherlab.paths.solvers.newton import BlockNewton

__all__ = ["TimeViaEnergy"]


class TimeViaEnergy(AbstractPathSolver):
    """Fixed ``T`` as the geometric path at the energy ``E*`` with ``T(E*) = T``.

    Attributes:
        ttol: tolerance on ``|log T(E) - log T|`` (the discrete ``T(E)`` jumps by ~1e-6 relative
            between warm starts at ``n = 1000``: node placement is part of the discretisation).
        max_solves: geometric solves allowed in the secant search.
        geometric: the geometric solver used for each energy.
        estimate: the fixed-time solver of the first energy estimate (a coarse solve on at most
            200 intervals; its convergence is not required).
        el_tol: tolerance of the independent check.
    """

    ttol: float = 1e-6
    max_solves: int = 60
    geometric: Geometric = Geometric()
    estimate: BlockNewton = BlockNewton(max_steps=50)
    el_tol: float | None = None
    name: ClassVar[str] = "time-via-energy"
    problems: ClassVar[tuple[str, ...]] = ("time",)
    places_nodes_on_curve: ClassVar[bool] = True

    def tolerance(self) -> float:
        return self.geometric.tolerance() if self.el_tol is None else float(self.el_tol)

    def uses_dense_hessian(self, dim: int) -> bool:
        return self.geometric.uses_dense_hessian(dim)

    def for_resolution_study(self, rtol: float, n: int) -> TimeViaEnergy:
        """Coarse grids only estimate the discretisation error: a transit-time mismatch below
        ``rtol / 10`` changes their action by less than that (``dS/dT = -E``)."""
        return eqx.tree_at(lambda s: s.ttol, self, max(self.ttol, 0.1 * rtol))

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        sde, kind = problem.sde, problem.lagrangian
        if sde.time_dependent:
            raise InvalidArgumentError(
                "method",
                "method='time-via-energy' needs a time-independent model",
                "use method='newton'",
            )
        T, n = problem.T, problem.n
        if float(np.max(np.abs(problem.x1 - problem.x0))) == 0.0:
            raise InvalidArgumentError(
                "method",
                "method='time-via-energy' follows a curve from x0 to x1, but they are equal",
                "use method='newton' (a closed path at fixed T)",
            )
        begin = time.perf_counter()
        e_min = minimum_energy(sde, problem.x0, problem.x1, kind)
        warm: PathResult | None = None
        if n > 1000:  # multilevel: locate E* on a coarser curve first, then refine with warm starts
            warm = self.solve(
                problem.with_n(1000), None if init is None else resample_uniform(init, 1001)
            )
            if not warm.converged:
                warm = None
        # energy estimate from a cheap coarse fixed-time solve (convergence not required)
        m = min(n, 200)
        coarse = self.estimate.solve(
            problem.with_n(m), None if init is None else resample_uniform(init, m + 1)
        )
        scale = float(np.mean(np.abs(coarse.charges.energy.values))) + 1e-12
        # start on the E > 0 branch (it always exists); E < 0 is reached by the secant if needed
        E = coarse.energy if coarse.converged and coarse.energy > 0 else 1e-2 * scale
        curve = np.linspace(problem.x0, problem.x1, n + 1) if init is None else init
        if warm is not None:
            E, curve = warm.energy, warm.x
        history: list[tuple[float, float]] = []
        best: PathResult | None = None
        lo: tuple[float, float] | None = None  # (E, log T) with T(E) > T: energy too low
        hi: tuple[float, float] | None = None  # T(E) < T: energy too high
        last_failure = ""
        for _ in range(self.max_solves):
            sub = PathProblem(sde, problem.x0, problem.x1, None, E, n, kind)
            try:
                res = self.geometric.solve(sub, resample_uniform(curve, n + 1))
            except InvalidArgumentError:  # the curve would cross the forbidden region: E too low
                lo = (E, np.inf)
                E = 0.5 * (E + (hi[0] if hi is not None else abs(E)))
                continue
            if not res.converged:
                last_failure = res.message
                break
            curve = res.x
            logT = float(np.log(res.T)) if np.isfinite(res.T) else np.inf
            history.append((E, res.T))
            best = res
            err = logT - np.log(T)
            if abs(err) <= self.ttol:
                break
            if err > 0:
                lo = (E, logT)
            else:
                hi = (E, logT)
            if lo is not None and hi is not None and abs(hi[0] - lo[0]) <= 1e-12 * abs(E):
                break  # the bracket has collapsed: T(E) jumps across it (node placement)
            E = _next_energy(E, logT, float(np.log(T)), lo, hi, history, e_min)
        seconds = time.perf_counter() - begin
        stats = {
            "energy_solves": len(history),
            "E_history": [h[0] for h in history],
            "T_history": [h[1] for h in history],
        }
        if best is None:
            return replace(
                coarse,
                method=self.name,
                status=PathStatus.time_mismatch,
                message="the geometric solver did not converge at the first energy estimate"
                + (f" ({last_failure})" if last_failure else ""),
                seconds=seconds,
                stats=stats,
            )
        ok = best.converged and abs(np.log(best.T) - np.log(T)) <= self.ttol
        status = (
            PathStatus.successful
            if ok
            else (PathStatus.time_mismatch if best.converged else best.status)
        )
        saturated = best.converged and best.T < T and best.energy < 1e-8 * scale
        msg = (
            f"E* = {best.energy:.12g} gives T(E*) = {best.T:.12g} (relative {abs(best.T / T - 1):.1e}) "
            f"after {len(history)} geometric solves"
            if ok
            else f"did not reach T(E) = T within {len(history)} geometric solves (last T(E) = {best.T:.6g}, "
            f"E = {best.energy:.6g}): {best.message}"
        )
        finite = [h[1] for h in history if np.isfinite(h[1])]
        if not ok and finite and max(finite) < T and any(not np.isfinite(h[1]) for h in history):
            msg = (
                f"did not reach T(E) = T = {T:g}: over {len(history)} geometric solves the finite "
                f"transit times stay below {max(finite):.6g}, and at smaller energies the path "
                "runs into a fixed point (T(E) = inf). A fixed-time path this long lingers near "
                "that fixed point, which no fixed-energy path does; solve it at fixed time "
                "(method='newton' or 'newton-krylov')"
            )
        elif saturated:
            msg += (
                "; T(E) grows only like -log E as E → 0 (the path passes near a fixed point), so a "
                f"transit time of {T:g} needs an energy below float64 resolution: the answer is the "
                "E = 0 instanton (energy=0, T = inf) to within that energy"
            )
        return replace(
            best,
            method=self.name,
            status=status,
            message=msg,
            seconds=seconds,
            parameters={**problem.describe(), "method": self.name, "el_tol": self.tolerance()},
            iterations=len(history),
            stats={**best.stats, **stats},
        )


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
