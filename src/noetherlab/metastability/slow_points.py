r"""Fixed and slow points of a network from the states it visits (Sussillo & Barak 2013).

Minimise the *speed*

.. math::  q(x) = \tfrac12\, |f(x)|^2

from seeds drawn among states the network visits (simulated trajectories, held memories), keep the
minima with ``q ≤ q_tol``, and report each as an **exact fixed point** (``|f|`` at round-off) or a
**slow point** (``q`` small, not zero: the network lingers there, e.g. on an approximate line or
ring attractor or a ghost of a saddle-node), with the Jacobian spectrum, Morse index and stability
class of :func:`~noetherlab.metastability.fixed_points.classify_spectrum`.

For a discrete-time cell imported with :func:`~noetherlab.models.recurrent.rnn_cell` the drift is
``f = (F(h) − h)/Δt``, so FixedPointFinder's ``q = ½|F(h) − h|²`` is ``Δt²`` times this one.

**Minimiser.** Two phases on every seed of a batch, together inside compiled ``while_loop``\ s.
First Newton's method on ``f = 0`` itself, globalised by a backtracking line search on ``q``:
``J δ = −f`` (``J = ∂f/∂x``, dense LU), ``x ← x + α δ`` with the largest ``α ∈ {1, ½, …, 2⁻⁹}``
that satisfies Armijo's condition ``q(x + αδ) ≤ (1 − 10⁻⁴ α)·q(x)`` (``δ`` descends ``q``:
``∇q·δ = −|f|²``; a step longer than half the visited states' spread is first shortened to it,
so that no seed leaps onto a saturated plateau where ``f`` vanishes at round-off far from the
data). It needs one Jacobian per iteration — measured 14× cheaper than the Hessian of
``q`` for a 256-unit GRU — and converges quadratically to every fixed point it reaches. A seed
where no step is accepted (near a slow point, where ``q`` has a minimum above zero, or where ``J``
is singular, as on a ring of fixed points) goes on with damped Newton on ``q``:
``(∇²q + λ μ I) δ = −∇q`` with the exact Hessian ``∇²q = JᵀJ + Σ f_i ∇²f_i`` (``μ`` the mean
``|diag ∇²q|``), ``λ`` divided by 4 after an accepted step and multiplied by 4 after a rejected one
(or a failed Cholesky factor): quadratic convergence to slow points too, where the Gauss–Newton
matrix ``JᵀJ`` alone (Levenberg–Marquardt) was measured to crawl for hundreds of iterations and
FixedPointFinder's Adam on ``q`` needs thousands. The second phase runs in rounds of
``ROUND_STEPS``; after each round only the seeds still moving go on (batches padded to powers of
two). optimistix's ``LevenbergMarquardt`` under ``vmap`` was measured 4× slower than this loop at
``N = 64`` (per-seed lineax solves, and a batch that runs until its slowest seed stops).

A seed stops when ``q ≤ Q_EXACT·(1 + |x|²)`` (a fixed point at round-off), when ``|∇q| ≤
gtol·(1 + |f|)`` (a stationary point of ``q``), when ``λ`` exceeds ``1e16`` (no step decreases
``q``), or — with ``stop_at_tolerance`` — as soon as ``q ≤ q_tol``. Minima whose Newton root
polish (``f = 0``) lands within ``distinct_tol`` become exact fixed points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError
from noetherlab._core.resources import check_memory
from noetherlab._core.status import SearchStatus
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.metastability.fixed_points import (
    FixedPoint,
    classify_spectrum,
    distinct_points,
)
from noetherlab.sde.model import SDE, require_sde
from noetherlab.sde.stationary import drift_zeros

__all__ = ["SlowPoint", "SlowPointSearch", "find_slow_points", "minimise_speed", "newton_roots"]

Array = jax.Array

#: ``q`` at or below this (relative to ``1 + |x|²``) is round-off: an exact fixed point
Q_EXACT = 1e-24
#: damping beyond which no step decreases ``q`` (the seed is stationary within round-off)
LAMBDA_MAX = 1e16
#: iterations per round; after each round only the seeds still moving go on
ROUND_STEPS = 25
#: iteration cap of the first phase (Newton on ``f = 0``); quadratic convergence needs few
ROOT_STEPS = 40
#: the line search's step lengths ``α = 2⁻ᵏ`` and Armijo's constant
LINE_SEARCH = 2.0 ** -np.arange(10)
ARMIJO = 1e-4
#: seeds per compiled batch (the batch holds ~3 dense ``N × N`` matrices per seed)
CHUNK_BYTES = 512e6


@dataclass(frozen=True, eq=False)
class SlowPoint(FixedPoint):
    """A minimum of ``q = ½|f|²`` kept by :func:`find_slow_points`: the fixed point's fields
    (``x``, ``eigenvalues`` of ``∂f/∂x``, ``index``, ``kind``, ``residual = max|f|``), the speed
    ``q`` there and ``exact`` (``q`` at round-off: a true fixed point)."""

    q: float = 0.0
    exact: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "q": self.q, "exact": self.exact}


@dataclass(frozen=True)
class SlowPointSearch:
    """What :func:`find_slow_points` found: ``points`` (exact fixed points first, each group
    attractors → saddles by index → unstable), and ``stats``: seeds, how many reached
    ``q ≤ q_tol`` (``kept_seeds``), how many were outliers, iterations, wall time."""

    points: tuple[SlowPoint, ...]
    q_tol: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> SearchStatus:
        return SearchStatus.found if self.points else SearchStatus.none_found

    @property
    def fixed_points(self) -> list[SlowPoint]:
        return [p for p in self.points if p.exact]

    @property
    def slow_points(self) -> list[SlowPoint]:
        return [p for p in self.points if not p.exact]

    @property
    def attractors(self) -> list[SlowPoint]:
        return [p for p in self.points if p.stable]

    @property
    def saddles(self) -> list[SlowPoint]:
        return [p for p in self.points if p.is_saddle]

    @property
    def message(self) -> str:
        return self.summary()

    def states(self, which: str = "all") -> np.ndarray:
        """The points as an array ``(K, N)``: ``which`` = ``"all"``, ``"stable"``, ``"saddle"``,
        ``"exact"`` or ``"slow"``."""
        pick = {
            "all": self.points,
            "stable": self.attractors,
            "saddle": self.saddles,
            "exact": self.fixed_points,
            "slow": self.slow_points,
        }
        if which not in pick:
            raise InvalidArgumentError(
                "which", f"unknown selection {which!r}", f"one of {list(pick)}"
            )
        pts = pick[which]
        dim = self.stats.get("dim", 0)
        return np.stack([p.x for p in pts]) if pts else np.zeros((0, dim))

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.name,
            "q_tol": self.q_tol,
            "stats": dict(self.stats),
            "points": [p.as_dict() for p in self.points],
        }

    def summary(self) -> str:
        s = self.stats
        kinds = [p.kind for p in self.points]
        counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) or "none"
        return (
            f"{len(self.fixed_points)} exact fixed points and {len(self.slow_points)} slow points "
            f"(q ≤ {self.q_tol:g}; {counts}) from {s.get('seeds', 0)} seeds ({s.get('kept_seeds', 0)} "
            f"reached q_tol, {s.get('outliers', 0)} outliers dropped; "
            f"{s.get('iterations', 0)} Newton iterations, {s.get('seconds', 0):.2f} s)"
        )


# ----------------------------------------------------------------------- the minimiser
class _NewtonState(eqx.Module):
    x: Array  # (K, N) iterates
    q: Array  # (K,) speed at x
    lam: Array  # (K,) damping
    done: Array  # (K,) stopped
    step: Array  # () iterations


def _speed(sde: SDE, x: Array, t: Array) -> Array:
    f = jax.vmap(lambda y: sde.f(y, t))(x)
    return 0.5 * jnp.sum(f * f, axis=1)


@eqx.filter_jit
def minimise_speed(
    sde: SDE, x0: Array, t: Array, gtol: Array, max_steps: Array, q_stop: Array
) -> tuple[Array, Array, Array, Array]:
    """Damped Newton on ``q = ½|f|²`` from every row of ``x0`` ``(K, N)`` at time ``t``, at most
    ``max_steps`` iterations, a seed stopping as soon as ``q ≤ q_stop``: the iterates ``(K, N)``, their ``q`` ``(K,)``, which stopped
    ``(K,)`` and the iterations taken (compiled once per shape)."""

    def q_one(y: Array) -> Array:
        f = sde.f(y, t)
        return 0.5 * jnp.sum(f * f)

    grad_q = jax.vmap(jax.grad(q_one))
    hess_q = jax.vmap(jax.hessian(q_one))

    def stopped(x: Array, q: Array, g: Array, lam: Array) -> Array:
        exact = q <= Q_EXACT * (1.0 + jnp.sum(x * x, axis=1))
        stationary = jnp.linalg.norm(g, axis=1) <= gtol * (1.0 + jnp.sqrt(2.0 * q))
        return exact | stationary | (lam > LAMBDA_MAX) | (q <= q_stop)

    def cond(s: _NewtonState) -> Array:
        return (s.step < max_steps) & ~jnp.all(s.done)

    def body(s: _NewtonState) -> _NewtonState:
        g, H = grad_q(s.x), hess_q(s.x)
        done = s.done | stopped(s.x, s.q, g, s.lam)
        scale = jnp.mean(jnp.abs(jnp.diagonal(H, axis1=1, axis2=2)), axis=1) + 1e-300
        M = H + (s.lam * scale)[:, None, None] * jnp.eye(s.x.shape[1])
        # a failed Cholesky factor (M not positive definite) gives NaN: the step is rejected
        delta = -jax.vmap(
            lambda m, b: jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(m), True), b)
        )(M, g)
        x_new = s.x + delta
        q_new = _speed(sde, x_new, t)
        accept = jnp.isfinite(q_new) & (q_new < s.q) & ~done
        x = jnp.where(accept[:, None], x_new, s.x)
        q = jnp.where(accept, q_new, s.q)
        lam = jnp.where(
            done, s.lam, jnp.where(accept, jnp.maximum(s.lam / 4.0, 1e-12), s.lam * 4.0)
        )
        return _NewtonState(x, q, lam, done, s.step + 1)

    q0 = _speed(sde, x0, t)
    s0 = _NewtonState(x0, q0, jnp.full(q0.shape, 1e-3), ~jnp.isfinite(q0), jnp.zeros((), jnp.int32))
    s = jax.lax.while_loop(cond, body, s0)
    g = grad_q(s.x)
    return s.x, s.q, s.done | stopped(s.x, s.q, g, s.lam), s.step


class _RootState(eqx.Module):
    x: Array  # (K, N) iterates
    q: Array  # (K,) speed
    done: Array  # (K,) at round-off, or at q ≤ q_stop
    stalled: Array  # (K,) no step accepted: hand over to the minimiser of q
    step: Array  # () iterations


@eqx.filter_jit
def newton_roots(
    sde: SDE, x0: Array, t: Array, max_steps: Array, q_stop: Array, max_step: Array
) -> tuple[Array, Array, Array, Array]:
    """Newton's method on ``f = 0`` with a backtracking Armijo line search on ``q = ½|f|²`` from
    every row of ``x0`` ``(K, N)`` at time ``t``, at most ``max_steps`` iterations, each step
    shortened to at most ``max_step`` (state units) so that no seed leaps out of the visited
    region onto a saturated plateau where ``f`` vanishes at round-off: the iterates
    ``(K, N)``, their ``q`` ``(K,)``, which reached round-off (or ``q ≤ q_stop``) ``(K,)`` and the
    iterations taken. Seeds not done stalled (no step accepted) or ran out of iterations
    (compiled once per shape)."""
    jac = jax.vmap(jax.jacfwd(lambda y: sde.f(y, t)))
    alphas = jnp.asarray(LINE_SEARCH)

    def finished(x: Array, q: Array) -> Array:
        return (q <= Q_EXACT * (1.0 + jnp.sum(x * x, axis=1))) | (q <= q_stop)

    def cond(s: _RootState) -> Array:
        return (s.step < max_steps) & ~jnp.all(s.done | s.stalled)

    def body(s: _RootState) -> _RootState:
        f = jax.vmap(lambda y: sde.f(y, t))(s.x)
        delta = jnp.linalg.solve(jac(s.x), -f[..., None])[..., 0]
        norm = jnp.linalg.norm(delta, axis=1)
        shrink = jnp.minimum(1.0, max_step / jnp.where(norm > 0, norm, 1.0))
        delta = delta * shrink[:, None]  # ∇q·δ = −2q·shrink: Armijo's decrease scales with it
        trial = s.x[None] + alphas[:, None, None] * delta[None]  # (A, K, N)
        q_trial = jax.vmap(lambda y: _speed(sde, y, t))(trial)  # (A, K)
        ok = jnp.isfinite(q_trial) & (
            q_trial <= (1.0 - ARMIJO * alphas[:, None] * shrink[None]) * s.q[None]
        )
        first = jnp.argmax(ok, axis=0)
        accept = jnp.any(ok, axis=0) & ~(s.done | s.stalled)
        pick = jnp.arange(s.x.shape[0])
        x = jnp.where(accept[:, None], trial[first, pick], s.x)
        q = jnp.where(accept, q_trial[first, pick], s.q)
        done = s.done | (accept & finished(x, q))
        return _RootState(x, q, done, s.stalled | (~accept & ~s.done), s.step + 1)

    q0 = _speed(sde, x0, t)
    s0 = _RootState(x0, q0, finished(x0, q0), ~jnp.isfinite(q0), jnp.zeros((), jnp.int32))
    s = jax.lax.while_loop(cond, body, s0)
    return s.x, s.q, s.done, s.step


# ----------------------------------------------------------------------- the search
def find_slow_points(
    sde: SDE,
    states: Any,
    *,
    n_seeds: int | None = None,
    perturbation: float = 0.0,
    q_tol: float = 1e-12,
    gtol: float = 1e-10,
    max_steps: int = 200,
    distinct_tol: float = 1e-5,
    outlier_scale: float = 10.0,
    hyperbolic_tol: float = 1e-8,
    t: float = 0.0,
    key: int = 0,
    stop_at_tolerance: bool = False,
    between_attractors: bool = True,
) -> SlowPointSearch:
    """Fixed and slow points of ``sde`` from seeds among ``states``.

    Args:
        sde: the model (for a time-dependent drift, its drift at the time ``t``).
        states: states the network visits, ``(K, N)`` (or ``(steps, M, N)``: simulated paths).
        n_seeds: how many seeds to draw from ``states`` (default: all of them).
        perturbation: standard deviation of Gaussian noise added to each seed (FixedPointFinder's
            ``noise_scale``), in the units of the state.
        q_tol: keep minima with ``q = ½|f|² ≤ q_tol`` (drift units squared).
        gtol: a seed stops when ``|∇q| ≤ gtol·(1 + |f|)``.
        max_steps: iteration cap of the two Newton phases together.
        distinct_tol: minima within ``distinct_tol·(1 + |x|)`` are one point.
        outlier_scale: drop points farther from the centroid of the states than ``outlier_scale``
            times the states' mean distance to it (FixedPointFinder's ``outlier_distance_scale``).
        hyperbolic_tol: ``|Re λ| ≤ hyperbolic_tol·max(1, max|λ|)`` counts as a zero eigenvalue.
        t: time at which a time-dependent drift is frozen.
        key: seed of the seed selection and perturbation.
        stop_at_tolerance: stop each seed as soon as ``q ≤ q_tol`` (FixedPointFinder's rule)
            instead of at a minimum of ``q``: the points then sample the slow manifold (an
            approximate ring or line between its few true fixed points) rather than collapse
            onto the fixed points; give them to :func:`~noetherlab.metastability.manifolds.
            attractor_manifold`.
        between_attractors: a second round seeded on the segments between every pair of the
            attractors found (at 1/4, 1/2, 3/4, with the same perturbation): the saddles between
            memories, which trajectories visit rarely.

    Raises:
        ShapeError: ``states`` of the wrong shape or not finite.
        UnsupportedModelError: a drift that is not finite at a seed (the seed is named).
    """
    sde = require_sde(sde)
    dim = sde.dim
    X = as_float_array(states, "states")
    if X.ndim >= 2 and X.shape[-1] == dim:
        X = X.reshape(-1, dim)
    if X.ndim != 2 or X.shape[1] != dim or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise ShapeError(
            "states",
            f"must be finite states of the {dim}-dimensional model, shape (K, {dim}) or "
            f"(steps, M, {dim}); got {np.shape(states)}",
            "pass simulated states (e.g. simulate(...).paths) or held memories",
        )
    q_tol = positive_float(q_tol, "q_tol", "tolerance")
    gtol = positive_float(gtol, "gtol", "tolerance")
    positive_float(distinct_tol, "distinct_tol", "tolerance")
    positive_float(outlier_scale, "outlier_scale", "scale")
    max_steps = positive_int(max_steps, "max_steps", 1)
    if perturbation < 0 or not np.isfinite(perturbation):
        raise InvalidArgumentError(
            "perturbation",
            f"must be a finite standard deviation ≥ 0, got {perturbation!r}",
            "e.g. 0.01",
        )
    rng = np.random.default_rng(positive_int(key, "key", 0))
    m = X.shape[0] if n_seeds is None else positive_int(n_seeds, "n_seeds", 1)
    pick = (
        rng.choice(X.shape[0], size=m, replace=m > X.shape[0]) if m != X.shape[0] else np.arange(m)
    )
    seeds = X[pick] + perturbation * rng.standard_normal((m, dim))
    bad = ~np.all(np.isfinite(sde.drift_at(seeds, t)), axis=1)
    if np.any(bad):
        k = int(np.argmax(bad))
        raise UnsupportedModelError(
            f"`{sde.name}`: the drift is not finite at seed {k} (x = {np.round(seeds[k], 4).tolist()}). "
            "Fix: seed from states where the network is defined"
        )
    chunk = 1 << max(0, int(np.log2(max(1.0, CHUNK_BYTES / (8.0 * 4 * dim * dim)))))
    check_memory(
        8.0 * chunk * 4 * dim * dim,
        "states",
        f"{chunk} seeds of a {dim}-dimensional network minimised as one batch (4 dense N × N matrices each)",
        "this network is too large for dense Jacobians; pass fewer dimensions",
    )
    start = time.perf_counter()
    q_stop = q_tol if stop_at_tolerance else 0.0
    centroid = X.mean(axis=0)
    spread = float(np.mean(np.linalg.norm(X - centroid, axis=1))) or 1.0
    # a Newton step on f = 0 at most half the states' spread long
    rounds = (float(t), gtol, max_steps, chunk, q_stop, 0.5 * spread)
    x_all, q_all, iters = _minimise_in_rounds(sde, seeds, *rounds)

    def select(x_all: np.ndarray, q_all: np.ndarray) -> tuple[list[SlowPoint], int, int]:
        keep = np.isfinite(q_all) & (q_all <= q_tol)
        far = np.linalg.norm(x_all - centroid, axis=1) > outlier_scale * spread
        kept = x_all[keep & ~far][np.argsort(q_all[keep & ~far])]  # deepest minimum first
        if not stop_at_tolerance:  # polish one representative of each cluster, then merge again
            kept = _polished(
                sde, np.reshape(distinct_points(kept, distinct_tol), (-1, dim)), distinct_tol
            )
        distinct = distinct_points(kept, distinct_tol)
        pts = _slow_points(sde, distinct, float(t), hyperbolic_tol)
        return pts, int(np.sum(keep & ~far)), int(np.sum(keep & far))

    points, kept_seeds, outliers = select(x_all, q_all)
    stable = [p.x for p in points if p.stable][:24]
    if between_attractors and len(stable) >= 2:
        # saddles sit between attractors, where visited states are rare: seed the segments
        pairs = [(a, c) for i, a in enumerate(stable) for c in stable[i + 1 :]]
        extra = np.array([a + s_ * (c - a) for a, c in pairs for s_ in (0.25, 0.5, 0.75)])
        extra = extra + perturbation * rng.standard_normal(extra.shape)
        x2, q2, it2 = _minimise_in_rounds(sde, extra, *rounds)
        x_all, q_all, iters = np.concatenate([x_all, x2]), np.concatenate([q_all, q2]), iters + it2
        points, kept_seeds, outliers = select(x_all, q_all)
        m += extra.shape[0]
    group = {"stable": 0, "saddle": 1, "unstable": 2, "non-hyperbolic": 3}
    points.sort(key=lambda p: (not p.exact, group[p.kind.split()[0]], p.index, p.q))
    stats = {
        "dim": dim,
        "seeds": m,
        "kept_seeds": kept_seeds,
        "outliers": outliers,
        "iterations": iters,
        "seconds": time.perf_counter() - start,
        "distinct_tol": distinct_tol,
        "gtol": gtol,
        "q_exact": Q_EXACT,
    }
    return SlowPointSearch(tuple(points), q_tol, stats)


def _minimise_in_rounds(
    sde: SDE,
    seeds: np.ndarray,
    t: float,
    gtol: float,
    max_steps: int,
    chunk: int,
    q_stop: float,
    max_step: float,
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`newton_roots` on every seed, then :func:`minimise_speed` on those it did not finish,
    in rounds of ``ROUND_STEPS`` iterations, each round only on the seeds still moving (batches
    padded to powers of two, at most ``chunk``: few compiled sizes), so that a few slow seeds do
    not keep the whole batch iterating."""
    x, q = seeds.copy(), np.full(seeds.shape[0], np.inf)
    tj, gj, qj = jnp.asarray(t), jnp.asarray(gtol), jnp.asarray(q_stop)
    cap = jnp.asarray(max_step)
    # phase 1: Newton on f = 0 (one Jacobian per iteration) for every seed
    still, taken = [], 0
    for lo in range(0, seeds.shape[0], chunk):
        idx, block = _padded(x, np.arange(lo, min(lo + chunk, seeds.shape[0])), chunk)
        xb, qb, db, n = newton_roots(
            sde, block, tj, jnp.asarray(min(ROOT_STEPS, max_steps)), qj, cap
        )
        x[idx], q[idx] = np.asarray(xb)[: idx.size], np.asarray(qb)[: idx.size]
        still.append(idx[~np.asarray(db)[: idx.size]])
        taken = max(taken, int(n))
    # phase 2: damped Newton on q for the seeds that stalled (slow points, singular Jacobians)
    active = np.concatenate(still)
    while active.size and taken < max_steps:
        steps = jnp.asarray(min(ROUND_STEPS, max_steps - taken))
        still = []
        for lo in range(0, active.size, chunk):
            idx, block = _padded(x, active[lo : lo + chunk], chunk)
            xb, qb, db, _ = minimise_speed(sde, block, tj, gj, steps, qj)
            x[idx], q[idx] = np.asarray(xb)[: idx.size], np.asarray(qb)[: idx.size]
            still.append(idx[~np.asarray(db)[: idx.size]])
        active = np.concatenate(still)
        taken += int(steps)
    return x, q, taken


def _padded(x: np.ndarray, idx: np.ndarray, chunk: int) -> tuple[np.ndarray, Array]:
    """The rows ``idx`` of ``x`` padded (repeating the last) to a power of two ≥ 8, at most
    ``chunk``: few compiled batch sizes."""
    size = min(chunk, 1 << int(np.ceil(np.log2(max(idx.size, 8)))))
    return idx, jnp.asarray(np.concatenate([x[idx], np.repeat(x[idx[-1:]], size - idx.size, 0)]))


def _polished(sde: SDE, x: np.ndarray, distinct_tol: float) -> np.ndarray:
    """Each minimum replaced by the zero of ``f`` Newton finds from it, where that zero lies within
    ``distinct_tol`` (an exact fixed point, to round-off); slow points (``f ≠ 0``) stay as found.
    Only for a time-independent drift (Newton runs at ``t = 0``)."""
    if sde.time_dependent or x.shape[0] == 0:
        return x
    z, ok = drift_zeros(sde, jnp.asarray(x), 1e-12, 1e-12)
    z, ok = np.asarray(z), np.asarray(ok) & np.all(np.isfinite(np.asarray(z)), axis=1)
    near = np.linalg.norm(z - x, axis=1) <= distinct_tol * (1.0 + np.linalg.norm(x, axis=1))
    return np.where((ok & near)[:, None], z, x)


@eqx.filter_jit
def _jacobians_at(sde: SDE, xs: Array, t: Array) -> Array:
    return jax.vmap(jax.jacfwd(lambda x: sde.f(x, t)))(xs)


def _slow_points(
    sde: SDE, distinct: list[np.ndarray], t: float, hyperbolic_tol: float
) -> list[SlowPoint]:
    if not distinct:
        return []
    X = np.stack(distinct)
    f = sde.drift_at(X, t)
    q = 0.5 * np.sum(f * f, axis=1)
    J = np.asarray(_jacobians_at(sde, jnp.asarray(X), jnp.asarray(t)))
    out = []
    for x, j, fx, qx in zip(X, J, f, q, strict=True):
        ev = np.linalg.eigvals(j)
        ev = ev[np.lexsort((ev.imag, -ev.real))]
        index, kind = classify_spectrum(ev, hyperbolic_tol)
        exact = bool(qx <= Q_EXACT * (1.0 + float(x @ x)))
        out.append(SlowPoint(x, ev, index, kind, float(np.max(np.abs(fx))), float(qx), exact))
    return out
