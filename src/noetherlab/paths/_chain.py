r"""Damped Newton minimisation of chain-structured objectives (private engine of the path solvers).

Objective (``n`` intervals, ``n+1`` nodes, interior nodes ``1..n-1`` free):

.. math:: F(y) = \sum_{k=0}^{n-1} c\big(z_k, z_{k+1}, d_k\big),\qquad z_k = a_k + Q_k\, y_k ,

where ``a_k`` (``(N,)``) is a base point, ``Q_k`` (``(N, b)``) a frame (identity for the fixed-time
solver, a normal frame for the geometric one) and ``d_k`` per-interval data. Because every term
couples neighbours only, the Hessian is block-tridiagonal with ``b x b`` blocks.

Each iteration: exact gradient and Hessian blocks (JAX), a Cholesky solve of ``(H + λ I) s = -g``
(``λ = 0`` whenever ``H`` is positive definite, increased geometrically otherwise — Nocedal &
Wright, Alg. 3.3) and a backtracking Armijo line search. When ``H`` is indefinite the step along
the direction of most negative curvature is tried as well (found by inverse iteration), so that
saddles of the action — e.g. a symmetric straight-line start whose true minimisers break the
symmetry — are escaped. Converged when ``‖g‖_∞ <= gtol · max(P, p_floor)`` (``P`` is the largest
one-sided interval momentum ``|∂c/∂z|``, so the test is relative to the size of the terms that
cancel in ``g``) **and** the Hessian is positive definite (a certified local minimiser).

The loop runs in Python around a few small compiled kernels; the linear solver kernel depends only
on the shapes, so it is compiled once and shared by all models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab.paths import _blocktridiag

Array = jax.Array


class Chain(eqx.Module):
    """The objective ``F`` of the module docstring. ``base`` ``(n+1, N)``, ``frame``
    ``(n+1, N, b)``, ``data`` a pytree with leading axis ``n``, ``params`` a pytree shared by all
    intervals (e.g. the model); ``cost(za, zb, d, params) -> scalar`` should be a module-level
    function so that compiled code is reused across calls."""

    cost: Callable[[Array, Array, Any, Any], Array] = eqx.field(static=True)
    params: Any
    base: Array
    frame: Array
    data: Any

    def nodes(self, y: Array) -> Array:
        return self.base + jnp.einsum("kij,kj->ki", self.frame, y)


def _pair(
    chain: Chain, ya: Array, yb: Array, a: Array, b: Array, Qa: Array, Qb: Array, d: Any
) -> Array:
    return chain.cost(a + Qa @ ya, b + Qb @ yb, d, chain.params)


def _interval_args(chain: Chain, y: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
    return (y[:-1], y[1:], chain.base[:-1], chain.base[1:], chain.frame[:-1], chain.frame[1:])


_IN_AXES = (None, 0, 0, 0, 0, 0, 0, 0)


@eqx.filter_jit
def chain_value(chain: Chain, y: Array) -> Array:
    pair = jax.vmap(_pair, in_axes=_IN_AXES)
    terms = pair(chain, *_interval_args(chain, y), chain.data)
    return jnp.sum(terms)


def _grad_parts(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    gA, gB = jax.vmap(jax.grad(_pair, argnums=(1, 2)), in_axes=_IN_AXES)(
        chain, *_interval_args(chain, y), chain.data
    )
    g = jnp.zeros_like(y).at[:-1].add(gA).at[1:].add(gB)
    g = g.at[0].set(0.0).at[-1].set(0.0)
    P = jnp.maximum(jnp.max(jnp.abs(gA)), jnp.max(jnp.abs(gB)))
    return g, P, jnp.max(jnp.abs(g))


@eqx.filter_jit
def chain_gradient(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    """``(g, P, ‖g‖_∞)`` with the boundary rows of ``g`` zeroed."""
    return _grad_parts(chain, y)


@eqx.filter_jit
def chain_derivatives(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    """Interior gradient ``(n-1, b)`` and Hessian blocks: diagonal ``(n-1, b, b)``, upper ``(n-2, b, b)``."""
    g, _, _ = _grad_parts(chain, y)
    (HAA, HAB), (_, HBB) = jax.vmap(jax.hessian(_pair, argnums=(1, 2)), in_axes=_IN_AXES)(
        chain, *_interval_args(chain, y), chain.data
    )
    return g[1:-1], HBB[:-1] + HAA[1:], HAB[1:-1]


@jax.jit
def _shifted_solve(diag: Array, upper: Array, rhs: Array, shift: Array) -> tuple[Array, Array]:
    return _blocktridiag.solve(diag + shift * jnp.eye(diag.shape[1], dtype=diag.dtype), upper, rhs)


@jax.jit
def _is_spd_shifted(diag: Array, upper: Array, shift: Array) -> Array:
    return _blocktridiag.is_positive_definite(
        diag + shift * jnp.eye(diag.shape[1], dtype=diag.dtype), upper
    )


@jax.jit
def _hess_vec(diag: Array, upper: Array, v: Array) -> Array:
    out = jnp.einsum("kij,kj->ki", diag, v)
    out = out.at[:-1].add(jnp.einsum("kij,kj->ki", upper, v[1:]))
    return out.at[1:].add(jnp.einsum("kji,kj->ki", upper, v[:-1]))


def _negative_curvature(diag: Array, upper: Array, lam: float) -> tuple[Array, float]:
    """Unit (max-norm) direction of most negative curvature of ``H`` and its Rayleigh quotient.

    ``H + λI/4`` failed and ``H + λI`` succeeded to factorise, so ``-μ_min ∈ (λ/4, λ]``; bisection
    on Cholesky success narrows the bracket to ``σ ≈ -μ_min`` and inverse iteration with
    ``H + σI`` then converges to the lowest eigenvector at the rate ``(μ_min + σ)/(μ_2 + σ) ≈ 0``."""
    lo, hi = 0.25 * lam, lam
    for _ in range(8):
        mid = float(np.sqrt(lo * hi)) if lo > 0 else 0.5 * hi
        if bool(_is_spd_shifted(diag, upper, jnp.asarray(mid))):
            hi = mid
        else:
            lo = mid
    w = jnp.cos(jnp.arange(diag.shape[0] * diag.shape[1], dtype=diag.dtype) * 1.618).reshape(
        diag.shape[:2]
    )
    for _ in range(6):
        z, _ = _shifted_solve(diag, upper, w, jnp.asarray(hi))
        w = z / jnp.maximum(jnp.max(jnp.abs(z)), 1e-300)
    curvature = float(jnp.sum(w * _hess_vec(diag, upper, w)) / jnp.sum(w * w))
    return w, curvature


@dataclass
class NewtonResult:
    y: np.ndarray
    value: float
    grad: np.ndarray
    grad_inf: float
    grad_tol: float
    momentum_scale: float
    iterations: int
    converged: bool
    hessian_pd: bool
    message: str
    history: list[dict[str, float]]
    seconds: float
    clipped_steps: int = 0


@eqx.filter_jit
def _newton_direction(chain: Chain, y: Array, lam: Array) -> tuple[Array, ...]:
    """Gradient, Hessian blocks, and the (shifted) Newton direction in one compiled call."""
    g, diag, upper = chain_derivatives(chain, y)
    s, ok = _blocktridiag.solve(diag + lam * jnp.eye(diag.shape[1], dtype=diag.dtype), upper, -g)
    scale = jnp.mean(jnp.abs(jnp.diagonal(diag, axis1=1, axis2=2)))
    return g, diag, upper, s, ok, scale, jnp.sum(g * s), jnp.max(jnp.abs(s))


@eqx.filter_jit
def _trial(chain: Chain, y: Array, s: Array, alpha: Array) -> tuple[Array, Array]:
    """``y + α s`` (interior nodes) and the objective there."""
    y_new = y.at[1:-1].add(alpha * s)
    return y_new, chain_value(chain, y_new)


def _newton_step(
    chain: Chain, y: Array, value: float, shift0: float, max_step: float | None
) -> dict[str, Any]:
    """One globalised Newton step (optionally clipped to ``max|Δy| <= max_step``)."""
    g, diag, upper, s, ok_arr, scale_arr, slope_arr, s_inf = _newton_direction(
        chain, y, jnp.asarray(0.0)
    )
    scale = max(float(scale_arr), 1e-300)
    lam, ok = 0.0, bool(ok_arr)  # the pure Newton step is always tried first
    for _ in range(80):
        if ok:
            break
        lam = max(4.0 * lam, shift0, 1e-10 * scale)
        s, ok_arr = _shifted_solve(diag, upper, -g, jnp.asarray(lam))
        ok = bool(ok_arr)
        slope_arr, s_inf = jnp.sum(g * s), jnp.max(jnp.abs(s))
    out: dict[str, Any] = {
        "y": y,
        "value": value,
        "alpha": 0.0,
        "shift": lam,
        "factor_ok": ok,
        "curvature_step": False,
        "decrement": 0.0,
        "clipped": False,
    }
    if not ok:
        return out
    slope = float(slope_arr)
    out["decrement"] = -slope
    if max_step is not None:
        factor = min(1.0, max_step / max(float(s_inf), 1e-300))
        s, slope = s * factor, slope * factor
        out["clipped"] = factor < 1.0
    alpha = 1.0
    for _ in range(60):
        y_try, val_arr = _trial(chain, y, s, jnp.asarray(alpha))
        val = float(val_arr)
        if np.isfinite(val) and val <= value + 1e-4 * alpha * slope and slope < 0:
            out.update(y=y_try, value=val, alpha=alpha)
            break
        alpha *= 0.5
    if lam > 0:  # indefinite Hessian: try the direction of negative curvature too
        w, curv = _negative_curvature(diag, upper, lam)
        if curv < 0:
            gw = float(jnp.sum(g * w))
            if gw > 0:
                w, gw = -w, -gw
            ww = float(jnp.sum(w * w))
            nodes = np.asarray(chain.nodes(y))
            tau = 0.25 * max(float(np.max(np.ptp(nodes, axis=0))), 1e-12)
            if max_step is not None:
                tau = min(tau, max_step)
            for _ in range(40):
                y_try, val_arr = _trial(chain, y, w, jnp.asarray(tau))
                val = float(val_arr)
                if np.isfinite(val) and val <= value + tau * gw + 0.25 * curv * ww * tau * tau:
                    if val < out["value"]:
                        out.update(y=y_try, value=val, curvature_step=True)
                    break
                tau *= 0.5
    return out


def newton_minimise(
    chain: Chain,
    y0: Any,
    *,
    gtol: float = 1e-8,
    p_floor: float = 0.0,
    max_iter: int = 100,
    max_step: float | None = None,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> NewtonResult:
    """Minimise ``F`` from ``y0`` (``(n+1, b)``; boundary rows ignored). See module docstring.

    ``max_step`` caps the max-norm of every step (a trust region in ``y``); ``clipped_steps`` of the
    result counts the iterations where the cap was active."""
    start = time.perf_counter()
    y = jnp.asarray(y0)
    value = float(chain_value(chain, y))
    g, P, g_inf = chain_gradient(chain, y)
    history: list[dict[str, float]] = []
    shift = 0.0
    message = "maximum number of iterations reached"
    converged = pd = False
    saddle_escapes = it = stalled = clipped = 0
    if not np.isfinite(value):
        return NewtonResult(
            np.asarray(y),
            value,
            np.asarray(g),
            float(g_inf),
            np.nan,
            float(P),
            0,
            False,
            False,
            "the action is not finite at the initial path",
            history,
            time.perf_counter() - start,
        )
    while True:
        tol = gtol * max(float(P), p_floor)
        if float(g_inf) <= tol:
            _, diag, upper = chain_derivatives(chain, y)
            pd = bool(_is_spd_shifted(diag, upper, jnp.asarray(0.0)))
            if pd:
                converged = True
                message = f"converged: |grad|_inf = {float(g_inf):.3e} <= {tol:.3e}, Hessian positive definite"
                break
            if saddle_escapes >= 3:
                message = (
                    f"stationary point with an indefinite Hessian (a saddle of the action) at |grad|_inf = "
                    f"{float(g_inf):.3e}; no descent direction of negative curvature was found"
                )
                break
            saddle_escapes += 1
        if it >= max_iter:
            break
        it += 1
        out = _newton_step(chain, y, value, shift, max_step)
        clipped += int(out["clipped"])
        moved = out["value"] < value
        if moved:
            y, value = out["y"], out["value"]
            g, P, g_inf = chain_gradient(chain, y)
        rec = {
            "iteration": float(it),
            "value": value,
            "grad_inf": float(g_inf),
            "alpha": float(out["alpha"]),
            "shift": float(out["shift"]),
            "newton_decrement": float(out["decrement"]),
            "negative_curvature_step": float(out["curvature_step"]),
            "clipped": float(out["clipped"]),
        }
        history.append(rec)
        if callback is not None:
            callback(rec)
        if not moved:
            reason = (
                "Hessian factorisation failed" if not out["factor_ok"] else "line search failed"
            )
            message = (
                f"{reason} at |grad|_inf = {float(g_inf):.3e} (tolerance {tol:.3e}); the action cannot be "
                "decreased further in float64"
            )
            break
        shift = out["shift"] / 16.0 if out["shift"] > 0 else 0.0
        # Newton decrement at the float64 resolution of F while |g| stays above tolerance: the
        # remaining error lies along an almost flat direction that roundoff cannot resolve.
        stalled = stalled + 1 if out["decrement"] <= 1e-11 * max(abs(value), 1e-300) else 0
        if stalled >= 3:
            message = (
                f"stalled at the float64 resolution of the action (Newton decrement "
                f"{out['decrement']:.2e}) with |grad|_inf = {float(g_inf):.3e} > tolerance {tol:.3e}: an "
                "almost flat direction (e.g. the timing of a transition over a long T) is not resolved"
            )
            break
    return NewtonResult(
        y=np.asarray(y),
        value=value,
        grad=np.asarray(g),
        grad_inf=float(g_inf),
        grad_tol=gtol * max(float(P), p_floor),
        momentum_scale=float(P),
        iterations=it,
        converged=converged,
        hessian_pd=pd,
        message=message,
        history=history,
        seconds=time.perf_counter() - start,
        clipped_steps=clipped,
    )
