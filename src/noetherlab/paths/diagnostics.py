r"""The independent check every path solver's answer goes through, and the assembly of results.

**Normalised Euler–Lagrange residual.** For a discrete path ``x_0..x_n`` on ``t_0..t_n`` the
gradient of the midpoint action ``S_d`` at an interior node,

.. math:: g_k = \partial S_d/\partial x_k = \partial_2 L_d(x_{k-1}, x_k) + \partial_1 L_d(x_k, x_{k+1})
          = p_k^- - p_k^+ ,

is the jump of the discrete momenta (the discrete Euler–Lagrange equations are ``g_k = 0``). It is
made dimensionless by the size of the terms that cancel in it,

.. math:: s_k = \max_{j \in \{k-1, k\}} \Big( |\partial_1 L_d|_\infty + |\partial_2 L_d|_\infty
          + \tfrac12 |D^{-1} v_j|_\infty + \tfrac12 |D^{-1} f(m_j)|_\infty \Big)_j

(:func:`noetherlab.paths._objectives.fixed_time_scale`),

(``v_j`` the interval velocity, ``m_j`` its midpoint) so that ``r_k = |g_k|_∞ / s_k`` is a relative
residual at *each* node: a path whose momenta are huge in one place (a steep drift) cannot hide an
unconverged stretch elsewhere, and an exactly zero-action path (``p ≡ 0``, ``v = f``) is measured
against ``|f|`` instead of dividing by zero. ``el_residual = max_k r_k``; its floor is float64
roundoff (``~1e-15``).

Geometric (fixed-energy) paths are stationary only in the directions normal to the curve — the
position of the nodes *along* the curve is a parametrisation, fixed by equidistribution, and the
time grid makes every interval energy equal to ``E`` — so their residual is the normal component of
``g_k`` (the tangential part is reported in ``stats["tangential_residual"]`` as a discretisation
measure, ``O(h²)``).
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.status import PathStatus
from noetherlab.noether.charges import Charges, discrete_charges
from noetherlab.paths._chain import Chain, chain_gradient, chain_value
from noetherlab.paths._objectives import fixed_time_chain
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.sde.model import SDE

__all__ = ["finish", "residual"]

Array = jax.Array


@eqx.filter_jit
def _residual_kernel(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    g, scale = chain_gradient(chain, y)
    return chain_value(chain, y), g, scale


def residual(
    problem: PathProblem | None,
    sde: SDE,
    kind: str,
    x: np.ndarray,
    t: np.ndarray,
    intervals: int | None = None,
) -> dict[str, Any]:
    """Action and Euler–Lagrange residual of a discrete path (see module docstring).

    Returns ``action``, ``g`` (interior gradient ``(n-1, N)``), ``scale`` (``(n-1,)``),
    ``el_residual`` (max normalised) and ``el_residual_abs`` (``max |g_k| / h̄_k``, the residual of
    ``d/dt ∂L/∂ẋ - ∂L/∂x`` in physical units). ``intervals`` (``>= n``): evaluate on the chain
    padded to that size, so that one compiled kernel serves several grids (same numbers)."""
    del problem
    n = x.shape[0] - 1
    chain = fixed_time_chain(sde, kind, x[0], x[-1], t, intervals)
    nodes = x if intervals is None else np.concatenate([x, np.repeat(x[-1:], intervals - n, 0)])
    S, g, s = (np.asarray(a) for a in _residual_kernel(chain, jnp.asarray(nodes)))
    g, s = g[: n - 1], s[: n - 1]
    h = np.diff(t)
    hbar = 0.5 * (h[:-1] + h[1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.max(np.abs(g), axis=1) / s if g.size else np.zeros(0)
    return {
        "action": float(S),
        "g": g,
        "scale": s,
        "el_residual": float(np.max(r)) if r.size else 0.0,
        "el_residual_abs": float(np.max(np.abs(g) / hbar[:, None])) if g.size else 0.0,
        "per_node": r,
    }


def _split_tangential(g: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal and tangential parts of the interior gradient rows (unit tangents by central differences)."""
    tang = x[2:] - x[:-2]
    tang = tang / np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-300)
    along = np.sum(g * tang, axis=1, keepdims=True)
    return g - along * tang, along[:, 0]


def finish(
    problem: PathProblem,
    x: np.ndarray,
    t: np.ndarray,
    *,
    method: str,
    status: PathStatus,
    message: str,
    iterations: int,
    seconds: float,
    el_tol: float,
    grad: tuple[float, float] | None = None,
    stats: dict[str, Any] | None = None,
    history: list[dict[str, float]] | None = None,
    T: float | None = None,
    energy: float | None = None,
    geometric: bool = False,
    continuous: tuple[float, np.ndarray, Charges, float] | None = None,
    junctions: tuple[int, ...] = (),
    intervals: int | None = None,
) -> PathResult:
    """Assemble a :class:`PathResult`: measure the action, the charges and the normalised
    Euler–Lagrange residual of the returned path, and demote a solver's "successful" to
    :attr:`PathStatus.residual_too_large` when that residual exceeds ``el_tol`` — or promote a
    ``stalled`` Newton end to ``successful`` when it meets ``el_tol`` at a positive definite Hessian
    (``stats["hessian_positive_definite"]``): a flat direction, reported in
    ``stats["flat_direction"]``, not a failure.

    ``continuous = (action, p, charges, residual)`` is given by solvers that return a continuous
    trajectory (shooting): their action, momenta, charges and own independent residual are used.
    ``grad = (grad_norm, grad_inf)`` of the solver's own objective (default: of the measured ``g``).
    ``junctions``: nodes where two infinite-time pieces meet (an ``E = 0`` path split at a fixed
    point): their momentum jump is not an Euler–Lagrange residual and is left out (reported in
    ``stats["junction_residual"]``). ``intervals``: measure the residual on the chain padded to
    that size (see :func:`residual`)."""
    sde, kind = problem.sde, problem.lagrangian
    stats = dict(stats or {})
    x = np.asarray(x, dtype=np.float64)
    finite = bool(np.all(np.isfinite(x)) and np.all(np.isfinite(t)))
    if continuous is not None:
        action, p, charges, el = continuous
    else:
        meas = residual(problem, sde, kind, x, t, intervals)
        action = meas["action"]
        g = meas["g"]
        per_node = np.max(np.abs(g), axis=1) / meas["scale"] if g.size else np.zeros(0)
        if geometric and g.size:
            normal, along = _split_tangential(g, x)
            per_node = np.max(np.abs(normal), axis=1) / meas["scale"]
            stats["tangential_residual"] = float(np.max(np.abs(along) / meas["scale"]))
        if junctions and per_node.size:
            inner = [k - 1 for k in junctions if 1 <= k <= per_node.size]
            stats["junction_residual"] = float(np.max(per_node[inner])) if inner else 0.0
            per_node = np.delete(per_node, inner)
        el = float(np.max(per_node)) if per_node.size else 0.0
        stats["el_residual_abs"] = meas["el_residual_abs"]
        charges = discrete_charges(sde, x, t, kind, intervals)
        p = charges.momenta
        if grad is None:
            grad = (float(np.linalg.norm(g)), float(np.max(np.abs(g))) if g.size else 0.0)
    if not (finite and np.isfinite(action) and np.isfinite(el)):
        status = PathStatus.nonfinite
        message = "non-finite action, residual or path: " + message
    elif (
        status is PathStatus.stalled
        and el <= el_tol
        and stats.get("hessian_positive_definite") is True
    ):
        # what is measured on the returned path decides: a minimum (positive definite Hessian)
        # whose independent residual meets el_tol converged, although the solver's own residual
        # could not be pushed below gtol along an almost flat direction (reported, not a failure)
        status = PathStatus.successful
        stats["flat_direction"] = True
        message = (
            f"normalised Euler–Lagrange residual {el:.2e} <= el_tol = {el_tol:.0e}, Hessian "
            f"positive definite; the solver's own residual ({stats.get('final_residual', el):.2e}) "
            "stalled above its gtol at the float64 resolution of the action: an almost flat "
            "direction (e.g. the timing of a transition over a long T), reported in "
            "stats['flat_direction']"
        )
    elif status is PathStatus.successful and not el <= el_tol:
        status = PathStatus.residual_too_large
        message = (
            f"the solver stopped ({message}) but the independent check fails: normalised "
            f"Euler–Lagrange residual {el:.2e} > el_tol = {el_tol:.0e}"
        )
    h = np.diff(t)
    E_mean = (
        float(np.sum(h * charges.energy.values) / np.sum(h))
        if continuous is None
        else float(np.mean(charges.energy.values))
    )
    params = {**problem.describe(), "method": method, "el_tol": el_tol}
    return PathResult(
        t=t,
        x=x,
        p=p,
        action=float(action),
        T=float(t[-1] - t[0]) if T is None else T,
        energy=E_mean if energy is None else energy,
        charges=charges,
        lagrangian=kind,
        method=method,
        status=status,
        message=message,
        grad_norm=float("nan") if grad is None else grad[0],
        grad_inf=float("nan") if grad is None else grad[1],
        el_residual=float(el),
        el_tol=el_tol,
        iterations=iterations,
        seconds=seconds,
        parameters=params,
        model=sde.name,
        stats=stats,
        history=history or [],
    )
