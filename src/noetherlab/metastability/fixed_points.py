r"""Fixed points of a drift, ``f(x*) = 0``, and their stability.

* :func:`find_fixed_points` — every fixed point in a box (or near seeds): Newton from many starts at
  once (vectorised), de-duplicated, each classified by the eigenvalues ``λ`` of the drift Jacobian
  ``J = ∂f/∂x`` at the point: *stable* (all ``Re λ < 0``: node, or focus when some ``λ`` is
  complex), *saddle* with Morse index ``k`` = number of ``Re λ > 0`` (``0 < k < N``), *unstable*
  (``k = N``), or *non-hyperbolic* (some ``|Re λ|`` below ``hyperbolic_tol · max |λ|``). Several
  distinct non-hyperbolic points mean a continuum of fixed points (a ring or line attractor): that is
  reported as an error naming what was found, not as hundreds of points.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    UnsupportedModelError,
)
from noetherlab._core.resources import check_memory
from noetherlab._core.status import SearchStatus
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.sde.model import SDE, require_sde
from noetherlab.sde.stationary import drift_zeros

__all__ = [
    "FixedPoint",
    "FixedPointSearch",
    "classified_points",
    "classify_spectrum",
    "distinct_points",
    "drift_jacobians",
    "find_fixed_points",
]

Array = jax.Array


# ------------------------------------------------------------------------- search in a region
@dataclass(frozen=True, eq=False)
class FixedPoint:
    """One fixed point ``x`` ``(N,)`` with the eigenvalues of ``J = ∂f/∂x`` there (sorted by
    decreasing real part), its Morse ``index`` (number of ``Re λ > 0``), ``kind`` and the drift
    residual ``max |f(x)|``."""

    x: np.ndarray
    eigenvalues: np.ndarray
    index: int
    kind: str
    residual: float

    @property
    def stable(self) -> bool:
        return self.kind.startswith("stable")

    @property
    def is_saddle(self) -> bool:
        return self.kind == "saddle"

    def as_dict(self) -> dict[str, Any]:
        ev = self.eigenvalues
        eig: Any = ev.real.tolist() if np.all(ev.imag == 0) else [[z.real, z.imag] for z in ev]
        return {
            "x": self.x.tolist(),
            "kind": self.kind,
            "index": self.index,
            "eigenvalues": eig,
            "residual": self.residual,
        }


@dataclass(frozen=True)
class FixedPointSearch:
    """What :func:`find_fixed_points` searched and found: ``points`` (attractors first, then saddles
    by index, then unstable points), the search ``region``, the number of Newton ``starts``, how many
    of them converged to a finite zero inside the region (``converged_starts``), and ``status``:
    ``SearchStatus.found`` when there is at least one point (``message``: the counts)."""

    points: tuple[FixedPoint, ...]
    region: dict[str, Any]
    starts: int
    converged_starts: int
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> SearchStatus:
        return SearchStatus.found if self.points else SearchStatus.none_found

    @property
    def message(self) -> str:
        return self.summary()

    @property
    def attractors(self) -> list[FixedPoint]:
        return [p for p in self.points if p.stable]

    @property
    def saddles(self) -> list[FixedPoint]:
        return [p for p in self.points if p.is_saddle]

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "starts": self.starts,
            "converged_starts": self.converged_starts,
            "status": self.status.name,
            "points": [p.as_dict() for p in self.points],
        }

    def summary(self) -> str:
        kinds = [p.kind for p in self.points]
        counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) or "none"
        bad = self.stats.get("non_finite_starts", 0)
        return (
            f"{len(self.points)} fixed points ({counts}) from {self.starts} Newton starts "
            f"({self.converged_starts} converged inside the region"
            + (f"; the drift is not finite at {bad} of the starts" if bad else "")
            + ")"
        )


@eqx.filter_jit
def drift_jacobians(sde: SDE, xs: Array) -> Array:
    """``∂f/∂x`` at every row of ``xs`` ``(K, N)``: ``(K, N, N)``."""
    return jax.vmap(jax.jacfwd(lambda x: sde.f(x)))(xs)


def _as_box(box: Any, dim: int) -> np.ndarray:
    b = as_float_array(box, "box")
    if b.shape == (2,):
        b = np.tile(b, (dim, 1))
    if b.shape != (dim, 2) or not np.all(np.isfinite(b)) or np.any(b[:, 1] <= b[:, 0]):
        raise InvalidArgumentError(
            "box",
            f"must be (low, high) or one (low, high) row per coordinate, shape ({dim}, 2), with "
            f"finite low < high; got {np.asarray(box).tolist()!r}",
            "e.g. box=(-2, 2) or box=[[-2, 2], [-1, 3]]",
        )
    return b


def classify_spectrum(eigenvalues: np.ndarray, hyperbolic_tol: float) -> tuple[int, str]:
    """``(Morse index, kind)`` of a point with Jacobian ``eigenvalues``: stable node/focus, saddle,
    unstable node/focus, or non-hyperbolic (some ``|Re λ| ≤ hyperbolic_tol·max(1, max|λ|)``)."""
    dim = eigenvalues.size
    scale = max(1.0, float(np.max(np.abs(eigenvalues))))
    if np.any(np.abs(eigenvalues.real) <= hyperbolic_tol * scale):
        return int(np.sum(eigenvalues.real > 0)), "non-hyperbolic"
    index = int(np.sum(eigenvalues.real > 0))
    if index == 0:
        return 0, "stable focus" if np.any(eigenvalues.imag != 0) else "stable node"
    if index == dim:
        return index, "unstable focus" if np.any(eigenvalues.imag != 0) else "unstable node"
    return index, "saddle"


def find_fixed_points(
    sde: SDE,
    box: Any = None,
    *,
    seeds: Any = None,
    starts: int | None = None,
    key: int = 0,
    distinct_tol: float = 1e-6,
    hyperbolic_tol: float = 1e-8,
    continuum: str = "raise",
) -> FixedPointSearch:
    """Every fixed point of a time-independent drift in ``box`` (and/or near ``seeds``).

    Args:
        sde: the model (its drift must not depend on time).
        box: ``(low, high)`` for every coordinate, or an ``(N, 2)`` array of bounds; starts are drawn
            uniformly in it and zeros outside it (by more than 10 % of its size) are dropped.
        seeds: states ``(K, N)`` to start Newton from (e.g. simulated end states), besides the box.
        starts: number of random starts in the box (default ``64·N``, at most 4096).
        key: seed of the random starts.
        distinct_tol: two zeros closer than ``distinct_tol·(1 + |x|)`` are the same fixed point.
        hyperbolic_tol: ``|Re λ| ≤ hyperbolic_tol·max(1, max|λ|)`` counts as a zero eigenvalue.
        continuum: ``"raise"`` (default) refuses a continuum of fixed points (two or more distinct
            non-hyperbolic zeros); ``"keep"`` returns them, as :func:`landscape` does to treat a
            ring or line attractor as one attractor.

    Raises:
        UnsupportedModelError: time-dependent drift, or a continuum of fixed points.
        InvalidArgumentError: neither ``box`` nor ``seeds``, or malformed ones.
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise UnsupportedModelError(
            f"`{sde.name}` has a time-dependent drift: its fixed points move with t, so attractors, "
            "saddles and barriers are not defined. Fix: freeze t (wrap the drift as f(x, t0))"
        )
    dim = sde.dim
    if box is None and seeds is None:
        raise InvalidArgumentError(
            "box", "give a region to search (box) or seeds to start from", "e.g. box=(-3, 3)"
        )
    key = positive_int(key, "key", 0)
    if continuum not in ("raise", "keep"):
        raise InvalidArgumentError(
            "continuum", f"must be 'raise' or 'keep', got {continuum!r}", "pick one of them"
        )
    positive_float(distinct_tol, "distinct_tol", "tolerance")
    positive_float(hyperbolic_tol, "hyperbolic_tol", "tolerance")
    starts_list = []
    region: dict[str, Any] = {}
    b = None
    if box is not None:
        b = _as_box(box, dim)
        m = positive_int(min(64 * dim, 4096) if starts is None else starts, "starts", 1)
        check_memory(
            8.0 * m * (6 * dim * dim + 16 * dim),
            "starts",
            f"{m} vectorised Newton starts in {dim} dimensions",
            "pass fewer starts (a few thousand cover a box), or seeds near the expected states",
        )
        rng = np.random.default_rng(key)
        starts_list.append(b[:, 0] + (b[:, 1] - b[:, 0]) * rng.random((m, dim)))
        region["box"] = b.tolist()
    if seeds is not None:
        sd = np.atleast_2d(as_float_array(seeds, "seeds"))
        if sd.ndim != 2 or sd.shape[1] != dim or not np.all(np.isfinite(sd)):
            raise ShapeError(
                "seeds",
                f"must be finite states of shape (K, {dim}), got {np.shape(seeds)}",
                f"pass an array with one finite length-{dim} state per row",
            )
        check_memory(
            8.0 * sd.shape[0] * (6 * dim * dim + 16 * dim),
            "seeds",
            f"{sd.shape[0]} vectorised Newton starts in {dim} dimensions",
            "pass fewer seeds (e.g. a random subset of the simulated states)",
        )
        starts_list.append(sd)
        region["seeds"] = int(sd.shape[0])
    x0 = np.concatenate(starts_list)
    f0 = sde.drift_at(x0)
    non_finite = int(np.sum(~np.all(np.isfinite(f0), axis=1)))
    found = _solve_from(sde, x0, b, np.arange(len(x0)) >= len(x0) - region.get("seeds", 0))
    points = classified_points(sde, distinct_points(found, distinct_tol), hyperbolic_tol)
    # Second round: saddles sit between attractors, often on steep walls (sigmoids) that random
    # starts miss; start again where the drift along each segment between two attractors changes
    # sign (bisected to 1e-12 of the segment).
    stable = [p.x for p in points if p.kind.startswith("stable")][:24]
    if len(stable) >= 2:
        seg = _segment_crossings(sde, stable)
        more = _solve_from(sde, seg, b, np.zeros(len(seg), bool))
        found = np.concatenate([found, more])
        x0 = np.concatenate([x0, seg])
        points = classified_points(sde, distinct_points(found, distinct_tol), hyperbolic_tol)
    flat = [p for p in points if p.kind == "non-hyperbolic"]
    if len(flat) >= 2 and continuum == "raise":
        raise continuum_error(sde, flat)
    order = {"stable": 0, "saddle": 1, "unstable": 2, "non-hyperbolic": 3}
    points.sort(key=lambda p: (order[p.kind.split()[0]], p.index, tuple(p.x)))
    return FixedPointSearch(
        tuple(points),
        region,
        int(x0.shape[0]),
        int(found.shape[0]),
        {"distinct_tol": distinct_tol, "non_finite_starts": non_finite},
    )


def continuum_error(sde: SDE, flat: list[FixedPoint], why: str = "") -> UnsupportedModelError:
    """The refusal of a continuum of fixed points ``flat`` (with ``why`` the landscape could not
    take it as one attractor, when it tried)."""
    span = float(max(np.linalg.norm(p.x - q.x) for p in flat for q in flat))
    return UnsupportedModelError(
        f"`{sde.name}` has a continuum of fixed points: {len(flat)} distinct non-hyperbolic "
        f"zeros of the drift (a zero Jacobian eigenvalue at each) spread over a distance "
        f"{span:.3g}, e.g. at {np.round(flat[0].x, 4).tolist()}; "
        + (
            f"it is not one attracting ring or line ({why}). "
            if why
            else "isolated attractors, saddles and barriers are not defined on it. "
        )
        + "Fix: pass find_fixed_points(..., continuum='keep') and attractor_manifold, use "
        "landscape (which treats an attracting ring or line as one attractor), break the symmetry "
        "(a small asymmetric term), or study the continuum with find_symmetries"
    )


def _solve_from(
    sde: SDE, x0: np.ndarray, box: np.ndarray | None, keep_anywhere: np.ndarray
) -> np.ndarray:
    """Newton from every row of ``x0`` at once; the finite zeros inside ``box`` (with a 10 % margin;
    rows flagged ``keep_anywhere`` are kept wherever they converge)."""
    xs, ok = drift_zeros(sde, jnp.asarray(x0), 1e-12, 1e-12)
    xs = np.asarray(xs)
    ok = np.asarray(ok) & np.all(np.isfinite(xs), axis=1)
    if box is not None:
        margin = 0.1 * (box[:, 1] - box[:, 0])
        inside = np.all((xs >= box[:, 0] - margin) & (xs <= box[:, 1] + margin), axis=1)
        ok &= inside | keep_anywhere
    return xs[ok]


def _segment_crossings(sde: SDE, stable: list[np.ndarray]) -> np.ndarray:
    """Points on the segments ``a → c`` between attractors where ``g(s) = f(a + s(c − a))·(c − a)``
    changes sign (``g < 0`` near ``a`` and ``> 0`` near ``c`` for hyperbolic attractors), located by
    bisection: starting points for Newton on the separatrix between ``a`` and ``c``."""
    f = sde.drift_at
    pairs = [(a, c) for i, a in enumerate(stable) for c in stable[i + 1 :]]
    s = np.linspace(0.0, 1.0, 41)
    brackets = []  # (s_low, s_high, a, c)
    for a, c in pairs:
        g = f(a + s[:, None] * (c - a)) @ (c - a)
        for k in np.flatnonzero(np.sign(g[:-1]) * np.sign(g[1:]) < 0):
            brackets.append((s[k], s[k + 1], a, c))
    if not brackets:
        return np.zeros((0, stable[0].size))
    lo_, hi_ = np.array([b[0] for b in brackets]), np.array([b[1] for b in brackets])
    A_, C_ = np.stack([b[2] for b in brackets]), np.stack([b[3] for b in brackets])
    g_lo = np.einsum("kn,kn->k", f(A_ + lo_[:, None] * (C_ - A_)), C_ - A_)
    for _ in range(40):
        mid = (lo_ + hi_) / 2
        g = np.einsum("kn,kn->k", f(A_ + mid[:, None] * (C_ - A_)), C_ - A_)
        same = np.sign(g) == np.sign(g_lo)
        lo_, g_lo = np.where(same, mid, lo_), np.where(same, g, g_lo)
        hi_ = np.where(same, hi_, mid)
    return A_ + ((lo_ + hi_) / 2)[:, None] * (C_ - A_)


def distinct_points(found: np.ndarray, tol: float) -> list[np.ndarray]:
    """The rows of ``found`` with repeats removed: a row within ``tol·(1 + |y|)`` of a kept row
    ``y`` is the same point."""
    out: list[np.ndarray] = []
    for x in found:
        if not any(np.linalg.norm(x - y) <= tol * (1 + np.linalg.norm(y)) for y in out):
            out.append(x)
    return out


def classified_points(
    sde: SDE, distinct: list[np.ndarray], hyperbolic_tol: float
) -> list[FixedPoint]:
    """Each point with the spectrum of ``∂f/∂x`` there, its Morse index and kind."""
    if not distinct:
        return []
    X = np.stack(distinct)
    J = np.asarray(drift_jacobians(sde, jnp.asarray(X)))
    res = np.max(np.abs(sde.drift_at(X)), axis=1)
    points = []
    for x, j, r in zip(X, J, res, strict=True):
        if not np.all(np.isfinite(j)):
            raise NonFiniteError(
                f"model `{sde.name}`: the drift is zero at x = {np.round(x, 6).tolist()} but its "
                "Jacobian there is not finite, so the fixed point cannot be classified. Fix: make "
                "the drift differentiable there (e.g. sqrt(x² + ε²) instead of |x|)."
            )
        ev = np.linalg.eigvals(j)
        ev = ev[np.lexsort((ev.imag, -ev.real))]
        index, kind = classify_spectrum(ev, hyperbolic_tol)
        points.append(FixedPoint(x, ev, index, kind, float(r)))
    return points
