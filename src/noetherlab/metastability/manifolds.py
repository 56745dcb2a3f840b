r"""Continuous attractors: a ring or a line of (near-)fixed points as one object.

A network that stores an angle (head direction, working memory of a cue) or integrates evidence has
a *manifold* of slow points, not isolated attractors. :func:`attractor_manifold` takes points on it
(the stable and non-hyperbolic slow points of :func:`~noetherlab.metastability.slow_points.
find_slow_points`, or states the network holds) and returns an :class:`AttractorManifold`:

* its **dimension** ``d``: the number of Jacobian eigenvalues near zero, read off the largest gap
  in the sorted ``|Re λ|`` (median over the points), with that gap;
* an **ordering** (by the angle about the centroid in the plane of the two leading principal
  components for a ring, along the leading component for a line) and a **parameter**: arclength
  ``s`` on a line, the normalised arclength ``θ = 2π s/L`` on a ring of length ``L`` (so that
  ``|dγ/dθ| = L/2π``; the angle does not depend on where the centre is taken);
* the unit **tangent** ``t(s)``: the Jacobian's right eigenvector of the near-zero eigenvalue,
  oriented along the ordering;
* the **slow drift** along it, ``ṡ = t·f`` (arclength per unit time), and the **normal
  stability**: the largest ``Re λ`` of the other eigenvalues;
* the **diffusion along it**. Linearising the noisy flow about the manifold, the phase ``s`` moves
  by the noise projected with the *left* null vector ``w`` of ``J = ∂f/∂x`` normalised to
  ``w·t = 1`` (the adjoint projection; the orthogonal projection is wrong when ``J`` is not
  symmetric):

  .. math::  D_s = w^T D\, w \qquad (\text{arclength}^2 / \text{time}),\qquad
             D_θ = D_s / |dγ/dθ|^2 \ \text{on a ring} ,

  and for a ring without drift the long-time angular diffusion is the harmonic mean
  ``D_eff = 1 / ⟨1/D_θ⟩_θ`` (homogenisation of ``dθ = \sqrt{2 D_θ(θ)} dW`` on the circle);
* on a ring, the approximate rotation symmetry in its plane
  (:func:`~noetherlab.noether.approximate.approximate_symmetries`) with its defect.
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
    NoetherlabError,
    ShapeError,
    UnsupportedModelError,
)
from noetherlab._core.validation import as_float_array, positive_int
from noetherlab.noether.approximate import approximate_symmetries
from noetherlab.sde.model import SDE, require_sde

__all__ = ["AttractorManifold", "attractor_manifold"]

Array = jax.Array

KINDS = ("auto", "ring", "line")
#: a ring's points must cover the circle: no angular gap above this (radians)
MAX_RING_GAP = np.pi / 3


@dataclass(frozen=True)
class AttractorManifold:
    """A continuous attractor sampled at ``points`` ``(K, N)`` (in the order of ``parameter``).

    ``kind`` (``"ring"`` or ``"line"``), ``dimension`` with ``gap`` (ratio of the first
    non-zero to the largest near-zero ``|Re λ|``), ``parameter`` ``(K,)`` (angle in ``[-π, π)`` or
    arclength), ``tangent`` ``(K, N)``, ``drift`` ``(K,)`` (``ṡ = t·f``), ``normal_rate`` ``(K,)``
    (largest ``Re λ`` off the manifold; negative: attracting), ``diffusion`` ``(K,)``
    (``D_s = wᵀDw``, arclength²/time), ``radius`` ``(K,)`` (``|dγ/dθ| = L/2π`` on a ring), and for a ring
    ``angular_diffusion`` ``(K,)`` and ``effective_diffusion`` (harmonic mean over the angle);
    ``length`` is the manifold's length (polygon through the points)."""

    kind: str
    dimension: int
    gap: float
    points: np.ndarray
    parameter: np.ndarray
    tangent: np.ndarray
    drift: np.ndarray
    normal_rate: np.ndarray
    diffusion: np.ndarray
    radius: np.ndarray
    plane: np.ndarray
    centre: np.ndarray
    length: float
    symmetry: Any = None
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def angular_diffusion(self) -> np.ndarray:
        """``D_θ = D_s/|dγ/dθ|²`` at each point (radians²/time); a ring only."""
        self._require_ring("angular_diffusion")
        return self.diffusion / self.radius**2

    @property
    def effective_diffusion(self) -> float:
        """Long-time angular diffusion of a drift-free ring, ``1/⟨1/D_θ⟩`` (uniform in θ)."""
        D = self.angular_diffusion
        theta = np.append(self.parameter, self.parameter[0] + 2 * np.pi)
        inv = np.append(1.0 / D, 1.0 / D[0])
        return float(2 * np.pi / np.trapezoid(inv, theta))

    @property
    def angular_drift(self) -> np.ndarray:
        """``θ̇ = ṡ/|dγ/dθ|`` at each point (radians/time); a ring only."""
        self._require_ring("angular_drift")
        return self.drift / self.radius

    def _require_ring(self, what: str) -> None:
        if self.kind != "ring":
            raise InvalidArgumentError(
                what, f"is defined on a ring; this manifold is a {self.kind}", "use diffusion"
            )

    def coordinate(self, x: Any) -> np.ndarray:
        """The manifold's parameter of states ``(..., N)``: that of the nearest sample point plus
        the displacement along its tangent, ``θ_k + t_k·(x − x_k)/|dγ/dθ|`` (a ring's angle wraps
        to ``[0, 2π)``; a line's arclength)."""
        X = as_float_array(x, "x")
        flat = X.reshape(-1, self.points.shape[1])
        d2 = np.sum(flat**2, 1)[:, None] - 2 * flat @ self.points.T + np.sum(self.points**2, 1)
        k = np.argmin(d2, axis=1)
        along = np.einsum("mn,mn->m", flat - self.points[k], self.tangent[k]) / self.radius[k]
        out = self.parameter[k] + along
        if self.kind == "ring":
            out = np.mod(out, 2 * np.pi)
        return out.reshape(X.shape[:-1])

    @property
    def message(self) -> str:
        s = (
            f"a {self.kind} attractor of dimension {self.dimension} (eigenvalue gap "
            f"{self.gap:.3g}) through {len(self.parameter)} points; slow drift |ṡ| ≤ "
            f"{np.max(np.abs(self.drift)):.3g}, normal rate ≤ {np.max(self.normal_rate):.3g}"
        )
        if self.kind == "ring":
            s += f", angular diffusion D_eff = {self.effective_diffusion:.4g} rad²/time"
        return s

    def as_dict(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "dimension": self.dimension,
            "gap": self.gap,
            "parameter": self.parameter.tolist(),
            "drift": self.drift.tolist(),
            "normal_rate": self.normal_rate.tolist(),
            "diffusion": self.diffusion.tolist(),
        }
        if self.kind == "ring":
            out["effective_diffusion"] = self.effective_diffusion
        return out


@eqx.filter_jit
def _jacobians(sde: SDE, xs: Array) -> tuple[Array, Array, Array]:
    J = jax.vmap(jax.jacfwd(lambda x: sde.f(x)))(xs)
    return J, jax.vmap(sde.f)(xs), jax.vmap(lambda x: sde.D(x))(xs)


def attractor_manifold(
    sde: SDE, points: Any, *, kind: str = "auto", max_dimension: int = 2
) -> AttractorManifold:
    """The continuous attractor through ``points`` (see the module docstring).

    Args:
        sde: the model (time-independent drift).
        points: states on the manifold, ``(K, N)`` with ``K ≥ 8`` (e.g.
            ``find_slow_points(...).states("stable")`` with the non-hyperbolic ones).
        kind: ``"ring"``, ``"line"`` or ``"auto"`` (a ring when the points surround their centroid
            in the leading plane without an angular gap above 60°).
        max_dimension: the largest manifold dimension considered.

    Raises:
        UnsupportedModelError: the points do not lie on a one-dimensional manifold (the dimension
            found is given), or a ring was asked for and the points do not close around a centre.
        ShapeError / InvalidArgumentError: malformed arguments.
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise UnsupportedModelError(
            f"`{sde.name}` has a time-dependent drift: its attractors move with t. Fix: freeze t"
        )
    if kind not in KINDS:
        raise InvalidArgumentError(
            "kind", f"must be one of {KINDS}, got {kind!r}", "e.g. kind='ring'"
        )
    max_dimension = positive_int(max_dimension, "max_dimension", 1)
    X = as_float_array(points, "points")
    if X.ndim != 2 or X.shape[1] != sde.dim or X.shape[0] < 8 or not np.all(np.isfinite(X)):
        raise ShapeError(
            "points",
            f"must be at least 8 finite states on the manifold, shape (K ≥ 8, {sde.dim}); got "
            f"{np.shape(points)}",
            "pass the stable slow points (find_slow_points(...).states('stable')) or held states",
        )
    J, F, D = (np.asarray(a) for a in _jacobians(sde, jnp.asarray(X)))
    eig = [np.linalg.eig(j) for j in J]
    mags = np.median(np.stack([np.sort(np.abs(ev.real)) for ev, _ in eig]), axis=0)
    top = min(max_dimension + 1, sde.dim - 1)
    ratios = mags[1 : top + 1] / np.maximum(mags[:top], 1e-300)
    dimension = int(np.argmax(ratios)) + 1 if top >= 1 else 1
    gap = float(ratios[dimension - 1]) if top >= 1 else float("inf")
    if dimension != 1:
        raise UnsupportedModelError(
            f"the points lie on a manifold of dimension {dimension} (median |Re λ| = "
            f"{np.round(mags[: dimension + 1], 6).tolist()}, gap {gap:.3g}); "
            f"{'a ring' if kind == 'ring' else 'noetherlab'} is one-dimensional. Fix: pass points of "
            "one ring or line (e.g. one input condition), or analyse the fixed points one by one"
        )
    centre = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    plane = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt[0], np.zeros_like(vt[0])])
    z = (X - centre) @ plane.T
    theta = np.arctan2(z[:, 1], z[:, 0])
    order = np.argsort(theta)
    gaps = np.diff(np.append(theta[order], theta[order][0] + 2 * np.pi))
    is_ring = bool(np.max(gaps) <= MAX_RING_GAP)
    if kind == "ring" and not is_ring:
        raise UnsupportedModelError(
            f"the points do not close into a ring: an angular gap of {np.degrees(np.max(gaps)):.0f}° "
            "about their centroid in the leading plane. Fix: pass points all around the ring, or "
            "kind='line'"
        )
    chosen = "ring" if (kind == "ring" or (kind == "auto" and is_ring)) else "line"
    if chosen == "line":
        order = np.argsort(z[:, 0])
    X, J, F, D = X[order], J[order], F[order], D[order]
    eig = [eig[k] for k in order]
    if chosen == "ring":  # θ = 2π s/L: the arclength s from the first point, L the ring's length
        steps = np.linalg.norm(np.roll(X, -1, axis=0) - X, axis=1)
        length = float(np.sum(steps))
        param = 2 * np.pi * np.concatenate([[0.0], np.cumsum(steps[:-1])]) / length
        chord = np.roll(X, -1, axis=0) - np.roll(X, 1, axis=0)  # periodic central differences
    else:
        steps = np.linalg.norm(np.diff(X, axis=0), axis=1)
        length = float(np.sum(steps))
        param = np.concatenate([[0.0], np.cumsum(steps)])
        chord = np.gradient(X, axis=0)
    tangent, drift, normal, diff = [], [], [], []
    for k, (ev, vr) in enumerate(eig):
        j0 = int(np.argmin(np.abs(ev)))
        t = np.real(vr[:, j0])
        t /= np.linalg.norm(t)
        t *= np.sign(t @ chord[k]) or 1.0
        wl = np.real(np.linalg.eig(J[k].T)[1][:, int(np.argmin(np.abs(np.linalg.eigvals(J[k].T))))])
        w = wl / (wl @ t)
        tangent.append(t)
        drift.append(float(t @ F[k]))
        normal.append(float(np.max(np.delete(ev.real, j0))))
        diff.append(float(w @ D[k] @ w))
    radius = np.full(len(param), length / (2 * np.pi) if chosen == "ring" else 1.0)
    symmetry = None
    if chosen == "ring":
        try:
            found = approximate_symmetries(sde, X, subspace=plane.T)
            symmetry = found.symmetries[0] if len(found) else None
        except NoetherlabError:  # the symmetry is an extra; the manifold stands without it
            symmetry = None
    stats = {
        "median_abs_real_eigenvalues": mags[: top + 1].tolist(),
        "max_angle_gap": float(np.max(gaps)),
    }
    return AttractorManifold(
        chosen,
        1,
        gap,
        X,
        param,
        np.stack(tangent),
        np.array(drift),
        np.array(normal),
        np.array(diff),
        radius,
        plane,
        centre,
        length,
        symmetry,
        stats,
    )
