r"""Basins of attraction: on a 2-D grid (a model's plane, or a 2-D slice of an N-D model), and
their volume fractions in any dimension by sampling (:func:`basin_fractions`).

Every grid state ``x = o + u e_1 + v e_2`` (origin ``o``, orthonormal directions ``e_1, e_2``;
for ``N = 2`` the coordinate plane) is followed by the deterministic flow ``ẋ = f(x)`` (diffrax,
``Tsit5`` with an adaptive step, all states at once) until it is steady or the time ``t1``; it
belongs to the basin of the attractor it ends within ``tol · (1 + |a|)`` of, or to none (label
``-1``: a saddle's stable manifold, a limit cycle, an attractor outside the list, or not yet
settled). The default slice of an N-D model is the plane through its first three attractors (or
through two of them and their midpoint's largest-spread direction).

In N dimensions a grid is out of reach; :func:`basin_fractions` flows ``M`` sampled initial states
(uniform in a box, or the user's own, e.g. a network's states at trial start) and reports the
fraction ``p̂_k`` reaching each attractor — fixed points, rings, lines or limit cycles of a
:class:`~noetherlab.metastability.landscape.Landscape` — with its binomial standard error
``√(p̂(1 − p̂)/M)`` and the 95 % Wilson score interval.
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

__all__ = [
    "BasinFractions",
    "Basins",
    "attractor_owner",
    "basin_fractions",
    "flow_ends",
    "on_curve",
]

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


def on_curve(X: np.ndarray, e: np.ndarray) -> bool:
    """Whether the state ``e`` lies on the curve sampled in order by ``X`` ``(K, N)``: within its
    largest sample spacing (and at least ``1e-3·(1 + |e|)``)."""
    gap = float(np.max(np.linalg.norm(np.diff(X, axis=0), axis=1))) if len(X) > 1 else 0.0
    tol = max(gap, 1e-3 * (1.0 + float(np.linalg.norm(e))))
    return bool(np.min(np.linalg.norm(X - e, axis=1)) <= tol)


def attractor_owner(points: np.ndarray, curves: list[np.ndarray], tol: float = 1e-3) -> Any:
    """``owner(x)``: the index of the point attractor (a row of ``points`` ``(A, N)``) that the flow
    end ``x`` sits at (within ``tol·(1 + |a|)``), else ``A + j`` for the ``j``-th extended
    attractor whose ``curves[j]`` (ordered samples, closed for a ring or cycle) it lies on, else
    ``None``."""

    def owner(x: np.ndarray) -> int | None:
        if not np.all(np.isfinite(x)):
            return None
        if len(points):
            d = np.linalg.norm(points - x, axis=1)
            j = int(np.argmin(d))
            if d[j] <= tol * (1.0 + np.linalg.norm(points[j])):
                return j
        for j, X in enumerate(curves):
            if on_curve(X, x):
                return len(points) + j
        return None

    return owner


def extended_curve(attractor: Any) -> np.ndarray:
    """Ordered samples of a limit cycle (its closed orbit) or an attractor manifold (closed for a
    ring)."""
    X = getattr(attractor, "points", None)
    if X is None:
        return np.asarray(attractor.x)
    return np.concatenate([X, X[:1]]) if attractor.kind == "ring" else np.asarray(X)


@dataclass(frozen=True)
class BasinFractions:
    """Volume fractions of the basins among sampled initial states.

    Attributes:
        labels: the attractors' names (``"attractor 0"``, ..., ``"ring 0"``, ``"cycle 0"``).
        counts: initial states reaching each ``(len(labels),)``; ``unassigned`` those reaching
            none (a boundary, an attractor not listed, or not settled by ``t1``).
        samples: ``M``, the number of initial states.
    """

    labels: tuple[str, ...]
    counts: np.ndarray
    unassigned: int
    samples: int
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def fractions(self) -> np.ndarray:
        """``p̂_k = counts_k / M``."""
        return self.counts / self.samples

    @property
    def standard_errors(self) -> np.ndarray:
        """Binomial standard errors ``√(p̂(1 − p̂)/M)``."""
        p = self.fractions
        return np.sqrt(p * (1 - p) / self.samples)

    @property
    def intervals(self) -> np.ndarray:
        """95 % Wilson score intervals ``(len(labels), 2)`` (valid at ``p̂ = 0`` or 1 too)."""
        z, M, p = 1.959963984540054, self.samples, self.fractions
        centre = (p + z * z / (2 * M)) / (1 + z * z / M)
        half = z * np.sqrt(p * (1 - p) / M + z * z / (4 * M * M)) / (1 + z * z / M)
        return np.stack([centre - half, centre + half], axis=1)

    @property
    def message(self) -> str:
        parts = [
            f"{name} {p:.4f} ± {e:.4f}"
            for name, p, e in zip(self.labels, self.fractions, self.standard_errors, strict=True)
        ]
        return (
            f"basin fractions of {self.samples} initial states: "
            + ", ".join(parts)
            + f"; unassigned {self.unassigned}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "counts": self.counts.tolist(),
            "fractions": self.fractions.tolist(),
            "standard_errors": self.standard_errors.tolist(),
            "intervals": self.intervals.tolist(),
            "unassigned": self.unassigned,
            "samples": self.samples,
        }


def basin_fractions(
    sde: SDE,
    attractors: Any,
    initial: Any = None,
    *,
    box: Any = None,
    samples: int = 4096,
    key: int = 0,
    t1: float | None = None,
) -> BasinFractions:
    """The fraction of initial states in each basin, with error bars (see the module docstring).

    Args:
        sde: the model (time-independent drift).
        attractors: a :class:`~noetherlab.metastability.landscape.Landscape` (its point and extended
            attractors), or point attractors: states ``(A, N)`` or ``FixedPoint`` s.
        initial: the initial states ``(M, N)``; or
        box: ``(lo, hi)`` for every coordinate, or ``(N, 2)`` bounds, to draw ``samples`` initial
            states uniformly from (seeded by ``key``).
        t1: longest flow time (default ``200 /`` the slowest point attractor's decay rate, or 200).

    Raises:
        ShapeError: attractors, initial states or box of the wrong shape.
        InvalidArgumentError: both or neither of ``initial`` and ``box``.
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise InvalidArgumentError(
            "sde", "a time-dependent drift has no fixed basins", "freeze the time first"
        )
    if hasattr(attractors, "extended"):  # a Landscape
        fixed = list(attractors.attractors)
        curves = [extended_curve(e) for e in attractors.extended]
        names = [f"attractor {i}" for i in range(len(fixed))] + [
            f"{'cycle' if hasattr(e, 'period') else e.kind} {j}"
            for j, e in enumerate(attractors.extended)
        ]
    else:
        fixed, curves = list(attractors), []
        names = [f"attractor {i}" for i in range(len(fixed))]
    try:
        A = np.asarray(
            [p.x if isinstance(p, FixedPoint) else np.asarray(p, float) for p in fixed],
            dtype=np.float64,
        ).reshape(len(fixed), -1)
    except (TypeError, ValueError):
        raise ShapeError(
            "attractors", f"cannot read {attractors!r} as states", "pass an (A, N) array"
        ) from None
    if not names or (len(A) and A.shape[1] != sde.dim):
        raise ShapeError(
            "attractors", f"attractors of shape {A.shape}", f"give states of dimension {sde.dim}"
        )
    if (initial is None) == (box is None):
        raise InvalidArgumentError(
            "initial", "give exactly one of initial states and a box", "pass initial= or box="
        )
    if initial is not None:
        states = np.atleast_2d(as_float_array(initial, "initial"))
        if states.ndim != 2 or states.shape[1] != sde.dim:
            raise ShapeError(
                "initial",
                f"initial states of shape {np.shape(initial)}",
                f"pass an (M, {sde.dim}) array",
            )
    else:
        lohi = as_float_array(box, "box")
        lohi = np.tile(lohi, (sde.dim, 1)) if lohi.shape == (2,) else lohi
        if lohi.shape != (sde.dim, 2) or np.any(lohi[:, 1] <= lohi[:, 0]):
            raise ShapeError(
                "box", f"box of shape {np.shape(box)}", f"pass (lo, hi) or ({sde.dim}, 2) bounds"
            )
        m = positive_int(samples, "samples", 1)
        rng = np.random.default_rng(positive_int(key, "key", 0))
        states = lohi[:, 0] + (lohi[:, 1] - lohi[:, 0]) * rng.random((m, sde.dim))
    require_finite(states, "initial")
    check_memory(
        8.0 * len(states) * (60 * sde.dim + 64),
        "initial",
        f"flowing {len(states)} states in {sde.dim} dimensions at once",
        "pass fewer samples (the error bar shrinks like 1/√M)",
    )
    if t1 is None:
        rates = [float(-np.max(p.eigenvalues.real)) for p in fixed if isinstance(p, FixedPoint)]
        t1 = 200.0 / min(rates) if rates else 200.0
    t1 = positive_float(t1, "t1", "flow time")
    ends = np.asarray(flow_ends(sde, jnp.asarray(states), jnp.asarray(float(t1))))
    owner = attractor_owner(A, curves)
    got = [owner(e) for e in ends]
    counts = np.array([sum(1 for g in got if g == k) for k in range(len(names))], dtype=np.int64)
    return BasinFractions(
        tuple(names),
        counts,
        int(sum(1 for g in got if g is None)),
        len(states),
        {"t1": float(t1)},
    )
