r"""Fixed points followed over a parameter: branches, their stability, folds.

A drift family ``f(x, μ)`` (``x`` of shape ``(N,)``, ``μ`` a scalar: an input strength, a
coherence, a gain) has curves of fixed points ``f(x, μ) = 0`` in ``(x, μ)`` space.
:func:`fixed_point_branch` follows one by **pseudo-arclength continuation** (Keller 1977): with
``y = (x, μ)`` and the unit tangent ``τ`` of the curve (the null vector of ``[∂f/∂x  ∂f/∂μ]``),

* predictor ``y_p = y + h τ``;
* corrector: Newton on ``f(y) = 0, τ·(y − y_p) = 0`` (``N + 1`` equations, compiled once);
* step control: ``h`` halved when the corrector fails, grown by 1.3 after a corrector that took at
  most 3 iterations, within ``[h_min, h_max]``.

The curve turns back through folds (saddle-node bifurcations), where the branch's ``μ`` is extremal
and one eigenvalue of ``∂f/∂x`` crosses zero. A sign change of ``τ_μ`` between two points brackets
a fold; it is then located by Newton on the extended system (Moore–Spence)

.. math::  f(x, μ) = 0,\qquad ∂_x f(x, μ)\, v = 0,\qquad v_0 \cdot v = 1 ,

``2N + 1`` unknowns ``(x, μ, v)``, which converges quadratically to the fold.
Each point carries the Morse index and stability class of
:func:`~noetherlab.metastability.fixed_points.classify_spectrum`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.status import SearchStatus
from noetherlab._core.traced import TracedFunction, trace_function
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.metastability.fixed_points import classify_spectrum

__all__ = ["Branch", "Fold", "fixed_point_branch"]

Array = jax.Array

#: Newton iterations of one corrector / of the fold's extended system
CORRECTOR_STEPS = 12
FOLD_STEPS = 30


@dataclass(frozen=True)
class Fold:
    """A saddle-node bifurcation: the state ``x`` ``(N,)``, the parameter ``mu``, the null vector
    ``v`` of ``∂f/∂x`` there, and the residual of the extended system."""

    x: np.ndarray
    mu: float
    v: np.ndarray
    residual: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "x": self.x.tolist(),
            "mu": self.mu,
            "v": self.v.tolist(),
            "residual": self.residual,
        }


@dataclass(frozen=True)
class Branch:
    """A branch of fixed points: states ``x`` ``(K, N)`` at parameters ``mu`` ``(K,)`` in the order
    followed, the Morse ``index`` ``(K,)`` and ``kind`` of each point, the largest real part of the
    Jacobian's eigenvalues ``leading`` ``(K,)``, the ``folds`` located, and ``status``."""

    x: np.ndarray
    mu: np.ndarray
    index: np.ndarray
    kind: tuple[str, ...]
    leading: np.ndarray
    folds: tuple[Fold, ...]
    status: SearchStatus
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def stable(self) -> np.ndarray:
        """``(K,)`` booleans: the point is an attractor."""
        return np.array([k.startswith("stable") for k in self.kind])

    @property
    def message(self) -> str:
        s = self.stats
        folds = ", ".join(f"μ = {f.mu:.10g}" for f in self.folds) or "none"
        return (
            f"{len(self.mu)} points for μ in [{self.mu.min():.6g}, {self.mu.max():.6g}]; folds: "
            f"{folds}; {self.status.meaning} ({s.get('rejected', 0)} corrector failures, "
            f"final step {s.get('final_step', float('nan')):.3g})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.name,
            "x": self.x.tolist(),
            "mu": self.mu.tolist(),
            "index": self.index.tolist(),
            "kind": list(self.kind),
            "folds": [f.as_dict() for f in self.folds],
            "stats": dict(self.stats),
        }


# ----------------------------------------------------------------------- compiled pieces
def _G(fn: TracedFunction, y: Array) -> Array:
    return fn(y[:-1], y[-1])


def _tangent(fn: TracedFunction, y: Array, previous: Array) -> Array:
    """Unit null vector of ``[∂f/∂x  ∂f/∂μ]`` at ``y``, oriented along ``previous``."""
    A = jax.jacfwd(lambda z: _G(fn, z))(y)  # (N, N+1)
    M = jnp.concatenate([A, previous[None, :]], axis=0)
    rhs = jnp.zeros(y.shape[0]).at[-1].set(1.0)
    tau = jnp.linalg.solve(M, rhs)
    return tau / jnp.linalg.norm(tau)


@eqx.filter_jit
def _step(
    fn: TracedFunction, y: Array, tau: Array, h: Array, tol: Array
) -> tuple[Array, Array, Array, Array]:
    """Predictor and Newton corrector: the new point, its tangent, whether the corrector met
    ``tol`` (on ``max|f|`` and the step) and the iterations taken."""
    y_pred = y + h * tau

    def system(z: Array) -> Array:
        return jnp.concatenate([_G(fn, z), (tau @ (z - y_pred))[None]])

    def body(carry: tuple[Array, Array, Array]) -> tuple[Array, Array, Array]:
        z, k, _ = carry
        dz = jnp.linalg.solve(jax.jacfwd(system)(z), -system(z))
        return z + dz, k + 1, jnp.max(jnp.abs(dz))

    def cond(carry: tuple[Array, Array, Array]) -> Array:
        z, k, size = carry
        return (k < CORRECTOR_STEPS) & ((size > tol) | (jnp.max(jnp.abs(_G(fn, z))) > tol))

    z, k, size = jax.lax.while_loop(
        cond, body, (y_pred, jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf))
    )
    ok = (size <= tol) & (jnp.max(jnp.abs(_G(fn, z))) <= tol) & jnp.all(jnp.isfinite(z))
    return z, _tangent(fn, z, tau), ok, k


@eqx.filter_jit
def _start(fn: TracedFunction, x0: Array, mu0: Array, tol: Array) -> tuple[Array, Array]:
    """Newton on ``f(·, μ0) = 0`` from ``x0``: the point and whether it converged."""

    def body(carry: tuple[Array, Array]) -> tuple[Array, Array]:
        x, k = carry
        J = jax.jacfwd(lambda z: fn(z, mu0))(x)
        return x - jnp.linalg.solve(J, fn(x, mu0)), k + 1

    def cond(carry: tuple[Array, Array]) -> Array:
        x, k = carry
        return (k < 50) & (jnp.max(jnp.abs(fn(x, mu0))) > tol)

    x, _ = jax.lax.while_loop(cond, body, (x0, jnp.zeros((), jnp.int32)))
    return x, (jnp.max(jnp.abs(fn(x, mu0))) <= tol) & jnp.all(jnp.isfinite(x))


@eqx.filter_jit
def _fold(fn: TracedFunction, y: Array, v0: Array) -> tuple[Array, Array]:
    """Newton on the extended system ``(f, ∂_x f v, v0·v − 1)`` from ``(y, v0)``: ``(x, μ, v)`` and
    the final residual."""
    n = v0.shape[0]

    def system(w: Array) -> Array:
        z, v = w[: n + 1], w[n + 1 :]
        Jv = jax.jvp(lambda x: fn(x, z[-1]), (z[:-1],), (v,))[1]
        return jnp.concatenate([_G(fn, z), Jv, (v0 @ v - 1.0)[None]])

    def body(w: Array, _: Any) -> tuple[Array, None]:
        return w + jnp.linalg.solve(jax.jacfwd(system)(w), -system(w)), None

    w, _ = jax.lax.scan(body, jnp.concatenate([y, v0]), None, length=FOLD_STEPS)
    return w, jnp.max(jnp.abs(system(w)))


@eqx.filter_jit
def _jacobians(fn: TracedFunction, ys: Array) -> Array:
    return jax.vmap(lambda y: jax.jacfwd(lambda x: fn(x, y[-1]))(y[:-1]))(ys)


# ----------------------------------------------------------------------- the branch
def fixed_point_branch(
    drift: Callable[[Array, Array], Array],
    x0: Any,
    mu: tuple[float, float],
    *,
    step: float | None = None,
    min_step: float | None = None,
    max_step: float | None = None,
    max_points: int = 2000,
    tol: float = 1e-11,
    hyperbolic_tol: float = 1e-8,
) -> Branch:
    """Follow the fixed points of ``drift(x, μ)`` from a point near ``x0`` at ``μ = mu[0]`` until
    the branch leaves ``[min(mu), max(mu)]`` (through either end: past a fold it may come back).

    Args:
        drift: ``f(x, μ) -> (N,)``, JAX-traceable, with a scalar parameter ``μ``. For a network's
            input ``u = μ·e``: ``lambda x, m: cell.drift(m * e)(x)``.
        x0: a state ``(N,)`` near a fixed point at ``mu[0]`` (polished by Newton).
        mu: ``(start, stop)``; the branch starts towards ``stop``.
        step, min_step, max_step: arclength steps (default 1 %, 1e-6 %, 5 % of ``|stop − start|``).
        max_points: cap on the points of the branch.
        tol: Newton tolerance on ``max|f|`` and on the step.
        hyperbolic_tol: as in :func:`~noetherlab.metastability.fixed_points.find_fixed_points`.

    Raises:
        InvalidArgumentError / ShapeError: malformed arguments, or no fixed point near ``x0``.
    """
    if not callable(drift):
        raise InvalidArgumentError(
            "drift", f"must be a function f(x, mu), got {type(drift).__name__}", "pass a function"
        )
    x0_arr = np.atleast_1d(as_float_array(x0, "x0"))
    if x0_arr.ndim != 1 or not np.all(np.isfinite(x0_arr)):
        raise ShapeError(
            "x0", f"must be one finite state (N,), got {np.shape(x0)}", "pass a vector"
        )
    start, stop = (float(v) for v in mu)
    if not (np.isfinite(start) and np.isfinite(stop)) or start == stop:
        raise InvalidArgumentError(
            "mu", f"must be two different finite numbers (start, stop), got {mu!r}", "e.g. (-1, 1)"
        )
    span = abs(stop - start)
    h = positive_float(0.01 * span if step is None else step, "step", "step")
    h_min = positive_float(1e-8 * span if min_step is None else min_step, "min_step", "step")
    h_max = positive_float(0.05 * span if max_step is None else max_step, "max_step", "step")
    max_points = positive_int(max_points, "max_points", 2)
    tol = positive_float(tol, "tol", "tolerance")
    n = x0_arr.size
    try:
        fn, shape = trace_function(
            drift, jax.ShapeDtypeStruct((n,), jnp.float64), jax.ShapeDtypeStruct((), jnp.float64)
        )
    except Exception as exc:  # user code
        raise InvalidArgumentError(
            "drift",
            f"raised {type(exc).__name__} when called with x ({n},) and a scalar mu: {exc}",
            "make it a JAX-traceable function f(x, mu)",
        ) from exc
    if tuple(shape.shape) != (n,):
        raise ShapeError(
            "drift", f"must return shape ({n},) like x0, got {tuple(shape.shape)}", "return dx/dt"
        )
    tol_j = jnp.asarray(tol)
    x_start, ok = _start(fn, jnp.asarray(x0_arr), jnp.asarray(start), tol_j)
    if not bool(ok):
        raise InvalidArgumentError(
            "x0",
            f"Newton from x0 did not converge to a fixed point of f(·, {start:g}) "
            f"(max|f| = {float(np.max(np.abs(np.asarray(fn(x_start, jnp.asarray(start)))))):.3g})",
            "start nearer a fixed point (e.g. from find_fixed_points at the first parameter)",
        )
    y = jnp.concatenate([x_start, jnp.asarray([start])])
    direction = jnp.zeros(n + 1).at[-1].set(np.sign(stop - start))
    tau = _tangent(fn, y, direction)
    lo, hi = min(start, stop), max(start, stop)
    ys, taus = [np.asarray(y)], [np.asarray(tau)]
    rejected = 0
    status = SearchStatus.branch_interrupted
    while len(ys) < max_points:
        y_new, tau_new, ok, its = _step(fn, y, tau, jnp.asarray(h), tol_j)
        if not bool(ok):
            rejected += 1
            h /= 2.0
            if h < h_min:
                break
            continue
        y, tau = y_new, tau_new
        ys.append(np.asarray(y))
        taus.append(np.asarray(tau))
        if not lo - 1e-12 * span <= float(y[-1]) <= hi + 1e-12 * span:
            status = SearchStatus.branch_complete
            break
        if int(its) <= 3:
            h = min(1.3 * h, h_max)
    Y, Tau = np.stack(ys), np.stack(taus)
    folds = _locate_folds(fn, Y, Tau)
    J = np.asarray(_jacobians(fn, jnp.asarray(Y)))
    index, kinds, leading = [], [], []
    for j in J:
        ev = np.linalg.eigvals(j)
        k, kind = classify_spectrum(ev, hyperbolic_tol)
        index.append(k)
        kinds.append(kind)
        leading.append(float(np.max(ev.real)))
    stats = {"rejected": rejected, "final_step": h, "tol": tol}
    return Branch(
        Y[:, :-1], Y[:, -1], np.array(index), tuple(kinds), np.array(leading), folds, status, stats
    )


def _locate_folds(fn: TracedFunction, Y: np.ndarray, Tau: np.ndarray) -> tuple[Fold, ...]:
    """Folds between consecutive points where ``τ_μ`` changes sign, by the extended system."""
    folds = []
    for k in np.flatnonzero(np.sign(Tau[:-1, -1]) * np.sign(Tau[1:, -1]) < 0):
        y = 0.5 * (Y[k] + Y[k + 1])
        J = np.asarray(jax.jacfwd(lambda x, m=y[-1]: fn(x, jnp.asarray(m)))(jnp.asarray(y[:-1])))
        _, _, vt = np.linalg.svd(J)
        v0 = vt[-1]  # the right singular vector of the smallest singular value
        w_j, res = _fold(fn, jnp.asarray(y), jnp.asarray(v0))
        w = np.asarray(w_j)
        n = v0.size
        if np.isfinite(float(res)) and float(res) < 1e-8:
            folds.append(Fold(w[:n], float(w[n]), w[n + 1 :], float(res)))
    return tuple(folds)
