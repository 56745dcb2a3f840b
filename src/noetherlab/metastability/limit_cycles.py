r"""Periodic orbits of a drift: limit cycles, their period and Floquet multipliers.

A noisy oscillator (Van der Pol, an oscillatory FitzHugh–Nagumo neuron, a rhythm-generating
network) has a closed orbit, not a point, as its attractor. :func:`find_limit_cycle`

1. integrates the noiseless flow ``ẋ = f(x)`` from ``x0`` for ``settle`` time units (diffrax,
   8th-order Dormand–Prince, ``rtol = atol = 1e-11``); if it has settled on a fixed point (``|f|``
   below ``point_tol``) it says so;
2. takes the Poincaré section through the settled state ``x_s`` normal to ``n = f(x_s)/|f(x_s)|``
   and finds the first return of the trajectory to it (sign change of ``n·(x − x_s)`` from − to +,
   on the solver's dense output): a period estimate;
3. solves the periodic-orbit equations by Newton (shooting)

   .. math::  φ_T(x) - x = 0, \qquad n\cdot(x - x_s) = 0

   for ``(x, T)``, with the monodromy matrix ``M = ∂φ_T/∂x`` by forward-mode differentiation through
   the integration (``diffrax.ForwardMode``);
4. reports the period ``T``, the orbit sampled at ``samples`` equal times, and the **Floquet
   multipliers** (eigenvalues of ``M``): one is 1 (the phase direction, checked), the cycle is
   stable when all others lie inside the unit circle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import ShapeError, UnsupportedModelError
from noetherlab._core.status import SearchStatus
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.sde.model import SDE, require_sde

__all__ = ["LimitCycle", "find_limit_cycle"]

Array = jax.Array

#: integration tolerances of every flow map
RTOL = ATOL = 1e-11
#: shooting converges when max|φ_T(x) − x| is below this (relative to 1 + |x|)
SHOOTING_TOL = 1e-10
#: the trivial Floquet multiplier must be within this of 1
TRIVIAL_TOL = 1e-6
MAX_STEPS = 1_000_000


@dataclass(frozen=True)
class LimitCycle:
    """A periodic orbit (or why none was found): ``period``, the orbit ``x`` ``(samples, N)`` from
    the point on the section over one period (times ``t``), the Floquet ``multipliers`` (by
    decreasing modulus, the trivial one included), ``stable`` (every non-trivial ``|μ| < 1``) and
    ``status``; ``stats``: shooting iterations and residual, the return-map estimate of the
    period."""

    status: SearchStatus
    period: float
    t: np.ndarray
    x: np.ndarray
    multipliers: np.ndarray
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.status.ok

    @property
    def nontrivial_multipliers(self) -> np.ndarray:
        """The multipliers without the one closest to 1 (the phase direction)."""
        if self.multipliers.size == 0:
            return self.multipliers
        k = int(np.argmin(np.abs(self.multipliers - 1.0)))
        return np.delete(self.multipliers, k)

    @property
    def stable(self) -> bool:
        return bool(self.found and np.all(np.abs(self.nontrivial_multipliers) < 1.0))

    @property
    def message(self) -> str:
        if not self.found:
            return f"{self.status.meaning} ({self.stats.get('detail', '')})"
        mods = ", ".join(f"{abs(m):.6g}" for m in self.nontrivial_multipliers)
        return (
            f"{'stable' if self.stable else 'unstable'} limit cycle, period {self.period:.12g}; "
            f"non-trivial Floquet multipliers |μ| = {mods}; shooting residual "
            f"{self.stats.get('residual', float('nan')):.2e} after {self.stats.get('iterations', 0)} "
            "Newton steps"
        )

    def as_dict(self) -> dict[str, Any]:
        m = self.multipliers
        return {
            "status": self.status.name,
            "period": self.period,
            "multipliers": [[z.real, z.imag] for z in m],
            "stable": self.stable,
            "x": self.x.tolist(),
            "stats": dict(self.stats),
        }


# ----------------------------------------------------------------------- compiled flows
def _term(sde: SDE) -> diffrax.ODETerm:
    return diffrax.ODETerm(lambda t, x, args: sde.f(x))


def _flow(sde: SDE, x0: Array, T: Array, saveat: diffrax.SaveAt, adjoint: Any = None) -> Any:
    kwargs = {} if adjoint is None else {"adjoint": adjoint}
    return diffrax.diffeqsolve(
        _term(sde),
        diffrax.Dopri8(),
        0.0,
        T,
        dt0=None,
        y0=x0,
        saveat=saveat,
        stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
        max_steps=MAX_STEPS,
        throw=False,
        **kwargs,
    )


@eqx.filter_jit
def _settle(sde: SDE, x0: Array, T: Array) -> tuple[Array, Array]:
    sol = _flow(sde, x0, T, diffrax.SaveAt(t1=True))
    return sol.ys[-1], sol.result == diffrax.RESULTS.successful


@eqx.filter_jit
def _return_curve(sde: SDE, xs: Array, T: Array, ts: Array) -> tuple[Array, Array]:
    """``n·(x(t) − x_s)`` at the times ``ts`` of the flow from ``x_s`` (``n = f(x_s)/|f|``)."""
    sol = _flow(sde, xs, T, diffrax.SaveAt(ts=ts))
    n = sde.f(xs) / jnp.linalg.norm(sde.f(xs))
    return (sol.ys - xs) @ n, sol.result == diffrax.RESULTS.successful


@eqx.filter_jit
def _shooting_step(
    sde: SDE, x: Array, T: Array, xs: Array, n: Array
) -> tuple[Array, Array, Array, Array]:
    """One Newton step on ``(φ_T(x) − x, n·(x − x_s)) = 0``: new ``(x, T)``, the residual before
    the step and the monodromy ``M = ∂φ_T/∂x``."""

    def phi(y: Array) -> Array:
        return _flow(sde, y, T, diffrax.SaveAt(t1=True), diffrax.ForwardMode()).ys[-1]

    end, M = phi(x), jax.jacfwd(phi)(x)
    dim = x.shape[0]
    A = jnp.block([[M - jnp.eye(dim), sde.f(end)[:, None]], [n[None, :], jnp.zeros((1, 1))]])
    r = jnp.concatenate([end - x, (n @ (x - xs))[None]])
    d = jnp.linalg.solve(A, -r)
    return x + d[:dim], T + d[dim], jnp.max(jnp.abs(r)), M


@eqx.filter_jit
def _orbit(sde: SDE, x: Array, T: Array, ts: Array) -> Array:
    return _flow(sde, x, T, diffrax.SaveAt(ts=ts)).ys


# ----------------------------------------------------------------------- the search
def find_limit_cycle(
    sde: SDE,
    x0: Any,
    *,
    settle: float = 200.0,
    max_period: float = 100.0,
    samples: int = 400,
    point_tol: float = 1e-6,
    max_iterations: int = 20,
) -> LimitCycle:
    """The periodic orbit the noiseless flow from ``x0`` settles on (see the module docstring).

    Args:
        sde: the model (time-independent drift; the noise is not used).
        x0: a starting state ``(N,)`` in the cycle's basin.
        settle: time to integrate before looking for the cycle (a few of its periods, more for a
            weakly attracting cycle).
        max_period: the longest period looked for.
        samples: points of the returned orbit.
        point_tol: ``max|f| ≤ point_tol`` at the settled state means a fixed point, not a cycle.
        max_iterations: Newton steps of the shooting.

    Raises:
        UnsupportedModelError: a time-dependent drift or a one-dimensional model (no cycles).
        ShapeError: ``x0`` of the wrong shape.
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise UnsupportedModelError(
            f"`{sde.name}` has a time-dependent drift: an autonomous limit cycle is not defined. "
            "Fix: freeze t, or add the phase of the forcing as a state"
        )
    if sde.dim < 2:
        raise UnsupportedModelError(
            f"`{sde.name}` is one-dimensional: a flow on a line has no periodic orbits. Fix: use "
            "find_fixed_points"
        )
    x = as_float_array(x0, "x0")
    if x.shape != (sde.dim,) or not np.all(np.isfinite(x)):
        raise ShapeError(
            "x0", f"must be a finite state ({sde.dim},), got {x.shape}", "pass a state"
        )
    settle = positive_float(settle, "settle", "time")
    max_period = positive_float(max_period, "max_period", "time")
    samples = positive_int(samples, "samples", 2)
    max_iterations = positive_int(max_iterations, "max_iterations", 1)
    empty = np.zeros((0, sde.dim))

    def failed(status: SearchStatus, detail: str, **extra: Any) -> LimitCycle:
        return LimitCycle(
            status, float("nan"), np.zeros(0), empty, np.zeros(0), {"detail": detail, **extra}
        )

    xs, ok = _settle(sde, jnp.asarray(x), jnp.asarray(settle))
    xs_np = np.asarray(xs)
    speed = float(np.max(np.abs(sde.drift_at(xs_np)[0])))
    if not bool(ok) or not np.all(np.isfinite(xs_np)):
        return failed(SearchStatus.no_return, f"the integration over {settle:g} failed or blew up")
    if speed <= point_tol:
        return failed(
            SearchStatus.settled_on_point,
            f"max|f| = {speed:.2e} at x = {np.round(xs_np, 6).tolist()} after t = {settle:g}",
            settled=xs_np.tolist(),
        )
    grid = np.linspace(0.0, max_period, 20_001)
    g_j, ok = _return_curve(sde, xs, jnp.asarray(max_period), jnp.asarray(grid))
    g = np.asarray(g_j)
    up = np.flatnonzero((g[:-1] < 0) & (g[1:] >= 0))
    if not bool(ok) or up.size == 0:
        return failed(
            SearchStatus.no_return,
            f"no return to the section through the settled state within t = {max_period:g}",
        )
    k = int(up[0])
    T_guess = grid[k] - g[k] * (grid[k + 1] - grid[k]) / (g[k + 1] - g[k])
    n = sde.f(xs) / jnp.linalg.norm(sde.f(xs))
    xk, Tk = xs, jnp.asarray(T_guess)
    residual, M, its = np.inf, None, 0
    for its in range(1, max_iterations + 1):  # noqa: B007 - the count is reported
        x_new, T_new, res, M = _shooting_step(sde, xk, Tk, xs, n)
        residual = float(res)
        if not np.isfinite(residual):
            break
        if residual <= SHOOTING_TOL * (1.0 + float(jnp.linalg.norm(xk))):
            break
        xk, Tk = x_new, T_new
    stats: dict[str, Any] = {
        "iterations": its,
        "residual": residual,
        "return_map_period": float(T_guess),
    }
    if M is None or not residual <= SHOOTING_TOL * (1.0 + float(jnp.linalg.norm(xk))):
        return failed(
            SearchStatus.shooting_failed,
            f"shooting residual {residual:.2e} after {its} Newton steps",
            **stats,
        )
    mult = np.linalg.eigvals(np.asarray(M))
    mult = mult[np.argsort(-np.abs(mult))]
    trivial = float(np.min(np.abs(mult - 1.0)))
    stats["trivial_multiplier_error"] = trivial
    T = float(Tk)
    ts = np.linspace(0.0, T, samples)
    orbit = np.asarray(_orbit(sde, xk, jnp.asarray(T), jnp.asarray(ts)))
    status = SearchStatus.cycle_found if trivial <= TRIVIAL_TOL else SearchStatus.shooting_failed
    if trivial > TRIVIAL_TOL:
        stats["detail"] = f"no Floquet multiplier is 1 (closest: |μ − 1| = {trivial:.2e})"
    return LimitCycle(status, T, ts, orbit, mult, stats)
