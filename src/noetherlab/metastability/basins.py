r"""Basins of attraction on a 2-D grid (a model's plane, or a 2-D slice of an N-D model).

Every grid state ``x = o + u e_1 + v e_2`` (origin ``o``, orthonormal directions ``e_1, e_2``;
for ``N = 2`` the coordinate plane) is followed by the deterministic flow ``ẋ = f(x)`` (diffrax,
``Tsit5`` with an adaptive step, all states at once) until it is steady or the time ``t1``; it
belongs to the basin of the attractor it ends within ``tol · (1 + |a|)`` of, or to none (label
``-1``: a saddle's stable manifold, a limit cycle, an attractor outside the list, or not yet
settled). The default slice of an N-D model is the plane through its first three attractors (or
through two of them and their midpoint's largest-spread direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.resources import check_memory
from noetherlab._core.validation import as_float_array, positive_float, positive_int, require_finite
from noetherlab.metastability.fixed_points import FixedPoint
from noetherlab.sde.model import SDE, require_sde

__all__ = ["Basins", "basins", "flow_ends"]

Array = jax.Array


@eqx.filter_jit
def flow_ends(sde: SDE, x0: Array, t1: Array) -> Array:
    """End states of ``ẋ = f(x)`` from each row of ``x0`` ``(M, N)`` (until ``t1`` or steady
    state); shared with :mod:`noetherlab.metastability.landscape`."""

    def one(x: Array) -> Array:
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, a: a.f(y, 0.0)),
            diffrax.Tsit5(),
            0.0,
            t1,
            None,
            x,
            args=sde,
            stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-10),
            event=diffrax.Event(diffrax.steady_state_event(rtol=1e-10, atol=1e-12)),
            max_steps=200_000,
            throw=False,
        )
        return sol.ys[-1]

    return jax.vmap(one)(x0)


@dataclass(frozen=True)
class Basins:
    """Basin labels on a grid of the plane ``o + u e_1 + v e_2``.

    Attributes:
        u, v: grid coordinates along ``e_1`` and ``e_2``, ``(nu,)`` and ``(nv,)``.
        labels: ``(nv, nu)`` index of the attractor each state flows to, ``-1`` for none.
        attractors: the attractors' states ``(A, N)``.
        origin, directions: ``o`` ``(N,)`` and ``(e_1, e_2)`` ``(2, N)``.
    """

    u: np.ndarray
    v: np.ndarray
    labels: np.ndarray = field(repr=False)
    attractors: np.ndarray = field(repr=False)
    origin: np.ndarray = field(repr=False)
    directions: np.ndarray = field(repr=False)

    def fractions(self) -> dict[int, float]:
        """Share of the grid in each basin (``-1``: unassigned)."""
        labels, counts = np.unique(self.labels, return_counts=True)
        return {int(k): float(c) / self.labels.size for k, c in zip(labels, counts, strict=True)}

    def project(self, x: Any) -> np.ndarray:
        """States ``(…, N)`` in the plane's coordinates ``(…, 2)``."""
        return (np.asarray(x) - self.origin) @ self.directions.T


def _default_plane(attractors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Origin and orthonormal directions of the plane through the first attractors."""
    dim = attractors.shape[1]
    if dim == 2:
        return np.zeros(2), np.eye(2)
    if len(attractors) < 2:
        raise InvalidArgumentError(
            "plane",
            f"a {dim}-D model with {len(attractors)} attractor has no default 2-D slice",
            "pass plane=(origin, e1, e2)",
        )
    origin = attractors[:3].mean(axis=0)
    e1 = attractors[1] - attractors[0]
    if len(attractors) >= 3:
        e2 = attractors[2] - attractors[0]
    else:  # the coordinate in which the two attractors differ least
        e2 = np.eye(dim)[int(np.argmin(np.abs(e1)))]
    return origin, _orthonormal(e1, e2)


def _plane(plane: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``(origin, e1, e2)`` as an origin ``(N,)`` and orthonormal rows ``(2, N)``."""
    fix = f"pass plane=(origin, e1, e2): three length-{dim} vectors"
    if not isinstance(plane, tuple | list) or len(plane) != 3:
        raise ShapeError("plane", f"must be three vectors (origin, e1, e2), got {plane!r}", fix)
    o, e1, e2 = (as_float_array(p, "plane").reshape(-1) for p in plane)
    if not o.shape == e1.shape == e2.shape == (dim,):
        raise ShapeError(
            "plane",
            f"has vectors of lengths {o.size}, {e1.size}, {e2.size}; the model has dimension {dim}",
            fix,
        )
    for v in (o, e1, e2):
        require_finite(v, "plane")
    if np.linalg.norm(e1) == 0:
        raise InvalidArgumentError("plane", "e1 is zero", "give two independent directions")
    return o, _orthonormal(e1, e2)


def _orthonormal(e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    e1 = e1 / np.linalg.norm(e1)
    e2 = e2 - (e2 @ e1) * e1
    if np.linalg.norm(e2) < 1e-12:
        raise InvalidArgumentError(
            "plane", "the two directions are parallel", "give two independent directions"
        )
    return np.stack([e1, e2 / np.linalg.norm(e2)])


def basins(
    sde: SDE,
    attractors: Any,
    box: Any,
    *,
    cells: int = 200,
    plane: Any = None,
    t1: float | None = None,
    tol: float = 1e-3,
) -> Basins:
    """Label a ``cells × cells`` grid of ``box`` (``(lo, hi)`` for both plane coordinates, or
    ``((ulo, uhi), (vlo, vhi))``) by the attractor the flow reaches.

    Args:
        attractors: ``(A, N)`` states, or :class:`~noetherlab.metastability.fixed_points.FixedPoint` s (e.g.
            ``landscape(...).attractors``).
        plane: ``(origin, e1, e2)`` for a slice of an N-D model (default: see the module).
        t1: longest flow time (default ``200 / (slowest attractor's decay rate)`` when
            ``FixedPoint`` s are given, else 200).
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise InvalidArgumentError(
            "sde", "a time-dependent drift has no fixed basins", "freeze the time first"
        )
    try:
        points = [p.x if isinstance(p, FixedPoint) else np.asarray(p, float) for p in attractors]
        A = np.atleast_2d(np.asarray(points, dtype=np.float64))
    except (TypeError, ValueError):
        raise ShapeError(
            "attractors", f"cannot read {attractors!r} as states", "pass an (A, N) array"
        ) from None
    if A.size == 0 or A.ndim != 2 or A.shape[1] != sde.dim:
        raise ShapeError(
            "attractors", f"attractors of shape {A.shape}", f"give states of dimension {sde.dim}"
        )
    require_finite(A, "attractors")
    if plane is None:
        origin, E = _default_plane(A)
    else:
        origin, E = _plane(plane, sde.dim)
    lohi = as_float_array(box, "box")
    if lohi.shape == (2,):
        lohi = np.tile(lohi, (2, 1))
    if lohi.shape != (2, 2) or np.any(lohi[:, 1] <= lohi[:, 0]):
        raise ShapeError("box", f"box {lohi.tolist()}", "give (lo, hi) or ((ulo, uhi), (vlo, vhi))")
    require_finite(lohi, "box")
    m = positive_int(cells, "cells", minimum=2)
    check_memory(
        8.0 * m * m * (60 * sde.dim + 64),
        "cells",
        f"flowing {m}² = {m * m:.3g} states in {sde.dim} dimensions at once",
        "pass fewer cells (a few hundred per side resolve a basin boundary)",
    )
    if t1 is not None:
        t1 = positive_float(t1, "t1", "flow time")
    u, v = np.linspace(lohi[0, 0], lohi[0, 1], m), np.linspace(lohi[1, 0], lohi[1, 1], m)
    U, V = np.meshgrid(u, v)
    states = origin + U.reshape(-1, 1) * E[0] + V.reshape(-1, 1) * E[1]
    if t1 is None:
        rates = [
            float(-np.max(p.eigenvalues.real)) for p in attractors if isinstance(p, FixedPoint)
        ]
        t1 = 200.0 / min(rates) if rates else 200.0
    ends = np.asarray(flow_ends(sde, jnp.asarray(states), jnp.asarray(float(t1))))
    d = np.linalg.norm(ends[:, None, :] - A[None, :, :], axis=-1)
    nearest = np.argmin(d, axis=1)
    close = d[np.arange(len(d)), nearest] <= tol * (1.0 + np.linalg.norm(A[nearest], axis=1))
    labels = np.where(close & np.all(np.isfinite(ends), axis=1), nearest, -1).reshape(m, m)
    return Basins(u, v, labels, A, origin, E)
