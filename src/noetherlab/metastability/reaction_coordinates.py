r"""Reaction coordinates chosen from the landscape, for the splitting samplers.

* :func:`instanton_coordinate` — progress along the most likely path ``a → s → b`` (the E = 0
  instanton up to the saddle, then the deterministic descent from the saddle to ``b``):
  ``ξ(x) = s(x*) − η·|x − x*|``, ``x*`` the nearest point of the polyline, ``s`` its arclength
  normalised to ``[0, 1]``, ``η = 10⁻³`` per path length (the distance breaks ties between states
  that project onto the same point). Any dimension.
* :func:`committor_coordinate` — the committor ``q`` of the Fokker–Planck grid generator
  (:mod:`noetherlab.metastability.fokker_planck`), interpolated linearly
  (``jax.scipy.ndimage.map_coordinates``), as ``ξ = log max(q, q_min)``: the committor is the
  ideal coordinate, but it is exponentially small in most of ``A``'s basin, so its logarithm
  spreads the levels over the range where the probability is decided. ``N ≤ 3``.
* :func:`quasi_potential_coordinate` — the normalised quasi-potentials of the two attractors,
  ``ξ = V_a/(V_a + V_b)`` (0 at ``a``, 1 at ``b``; ``V`` from the characteristics of
  :func:`~noetherlab.metastability.quasi_potential.quasi_potential` on a grid, interpolated
  linearly): the small-noise shape of the committor's level sets, where the quasi-potential is
  available (2-D models with constant noise).

All are :class:`~noetherlab.ensembles.reaction.ReactionCoordinate` objects: code compiled once,
the path or the grid as data.
"""

from __future__ import annotations

from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import scipy.ndimage

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.interp import resample
from noetherlab._core.validation import as_states
from noetherlab.ensembles.reaction import ReactionCoordinate
from noetherlab.metastability.quasi_potential import quasi_potential
from noetherlab.sde.model import SDE, require_sde

__all__ = [
    "committor_coordinate",
    "descent_path",
    "instanton_coordinate",
    "quasi_potential_coordinate",
    "transition_coordinate",
]

Array = jax.Array


def _polyline_rule(params: tuple[Array, Array, Array], x: Array) -> Array:
    nodes, s_nodes, eta = params
    a, b = nodes[:-1], nodes[1:]
    e = b - a
    ee = jnp.maximum(jnp.sum(e * e, axis=1), 1e-300)
    u = jnp.clip(jnp.sum((x - a) * e, axis=1) / ee, 0.0, 1.0)
    foot = a + u[:, None] * e
    d = jnp.linalg.norm(x - foot, axis=1)
    j = jnp.argmin(d)
    s = s_nodes[j] + u[j] * (s_nodes[j + 1] - s_nodes[j])
    return s - eta * d[j]


def instanton_coordinate(path: Any, name: str = "instanton") -> ReactionCoordinate:
    """Progress along the polyline ``path (m, N)`` from its first node (0) to its last (1)."""
    nodes = as_states(path, "path", np.shape(path)[-1] if np.ndim(path) == 2 else 1, 2,
                      "pass the nodes of a path from A to B")  # fmt: skip
    seg = np.linalg.norm(np.diff(nodes, axis=0), axis=1)
    keep = np.concatenate([[True], seg > 0])
    nodes = nodes[keep]
    seg = np.linalg.norm(np.diff(nodes, axis=0), axis=1)
    if nodes.shape[0] < 2:
        raise InvalidArgumentError("path", "has no extent (all nodes coincide)", "pass a path")
    s = np.concatenate([[0.0], np.cumsum(seg)])
    length = float(s[-1])
    params = (jnp.asarray(nodes), jnp.asarray(s / length), jnp.asarray(1e-3 / length))
    return ReactionCoordinate(_polyline_rule, params, name)


def descent_path(sde: SDE, saddle: Any, target: Any, points: int = 200) -> np.ndarray:
    """The deterministic descent ``ẋ = f(x)`` from an index-1 ``saddle`` (pushed along its unstable
    direction towards ``target``) to ``target``: ``(m, N)`` states, cut where it comes closest."""
    sde = require_sde(sde)
    s = np.asarray(saddle, dtype=float)
    b = np.asarray(target, dtype=float)
    J = np.asarray(jax.jacfwd(lambda x: sde.f(x, 0.0))(jnp.asarray(s)))
    w, V = np.linalg.eig(J)
    i = int(np.argmax(w.real))
    v = np.real(V[:, i])
    v /= np.linalg.norm(v)
    if np.dot(v, b - s) < 0:
        v = -v
    x0 = s + 1e-4 * (1.0 + np.linalg.norm(s)) * v
    horizon = 40.0 / max(float(w.real[i]), 1e-6)
    ts = horizon * (np.geomspace(1e-4, 1.0, points))
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, x, args: sde.f(x, jnp.asarray(t))),
        diffrax.Tsit5(),
        0.0,
        horizon,
        None,
        jnp.asarray(x0),
        stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-10),
        saveat=diffrax.SaveAt(ts=jnp.asarray(ts)),
        max_steps=100_000,
        throw=False,
    )
    xs = np.asarray(sol.ys)
    xs = xs[np.all(np.isfinite(xs), axis=1)]
    if xs.shape[0] == 0:
        return np.stack([s, b])
    cut = int(np.argmin(np.linalg.norm(xs - b, axis=1)))
    return np.concatenate([s[None], xs[: cut + 1], b[None]])


#: nodes of the polyline of :func:`transition_coordinate` (the cost of one score is linear in it)
COORDINATE_NODES = 64


def transition_coordinate(sde: SDE, instanton: Any, target: Any) -> ReactionCoordinate:
    """:func:`instanton_coordinate` on the instanton ``a → s`` followed by the descent ``s → b``,
    resampled to :data:`COORDINATE_NODES` nodes equally spaced in arclength (the score is
    evaluated at every step of every replica)."""
    up = np.asarray(instanton, dtype=float)
    down = descent_path(sde, up[-1], target)
    nodes = np.concatenate([up, down[1:]])
    nodes = nodes[np.concatenate([[True], np.linalg.norm(np.diff(nodes, axis=0), axis=1) > 0])]
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(nodes, axis=0), axis=1))])
    even = resample(nodes, s / s[-1], np.linspace(0.0, 1.0, COORDINATE_NODES))
    return instanton_coordinate(even, "instanton")


def _grid_rule(params: tuple[Array, Array, Array, Array], x: Array) -> Array:
    values, lo, h, floor = params
    coords = (x - lo) / h - 0.5  # cell centres at integer coordinates
    q = jax.scipy.ndimage.map_coordinates(values, list(coords), order=1, mode="nearest")
    return jnp.log(jnp.maximum(q, floor))


def committor_coordinate(grid: Any, A: Any, B: Any) -> ReactionCoordinate:
    """``ξ = log max(q, q_min)`` from the committor ``q`` of the grid generator ``grid``
    (:func:`~noetherlab.metastability.fokker_planck.fokker_planck`) between the sets ``A`` and
    ``B`` (``(center, radius)`` balls or masks, see ``FokkerPlanck.region``); ``q_min`` is its
    smallest positive value outside ``A``."""
    q = np.asarray(grid.committor(A, B), dtype=float).reshape(grid.shape)
    inA = grid.region(A, "A").reshape(grid.shape)
    positive = q[(q > 0) & ~inA]
    floor = float(max(positive.min(), 1e-300)) if positive.size else 1e-300
    params = (
        jnp.asarray(q),
        jnp.asarray(grid.box[:, 0]),
        jnp.asarray(grid.spacing),
        jnp.asarray(floor),
    )
    return ReactionCoordinate(_grid_rule, params, "committor")


def _ratio_rule(params: tuple[Array, Array, Array, Array], x: Array) -> Array:
    va, vb, lo, h = params
    coords = list((x - lo) / h - 0.5)  # cell centres at integer coordinates
    u = jax.scipy.ndimage.map_coordinates(va, coords, order=1, mode="nearest")
    v = jax.scipy.ndimage.map_coordinates(vb, coords, order=1, mode="nearest")
    return u / jnp.maximum(u + v, 1e-300)


def quasi_potential_coordinate(
    sde: SDE, a: Any, b: Any, saddle: Any, box: Any, *, cells: int = 100, rays: int = 2000
) -> ReactionCoordinate:
    """``ξ(x) = V_a(x) / (V_a(x) + V_b(x))`` from the quasi-potentials ``V_a``, ``V_b`` of the
    attractors ``a`` and ``b`` (:func:`~noetherlab.metastability.quasi_potential.quasi_potential`
    on ``cells × cells`` of ``box`` with ``rays`` characteristics each) that share the index-1
    ``saddle``. 2-D time-independent models with constant noise.

    The characteristics of ``b`` rarely cross into ``a``'s basin. A cell they do not reach gets
    ``V_b(x) = V_b(s) + V_a(x)`` — the cost of the route over the saddle, down to ``a`` and up to
    ``x``, an upper bound — and symmetrically; so ``ξ < 1/2`` there and its level sets are those
    of ``V_a``. Cells neither reaches (between diverging rays) take the nearest reached value.
    ``V(s)`` is read at the reached cell nearest the saddle (``∇V = 0`` there, so the error is
    second order in the cell size). Any coordinate keeps AMS unbiased; a better one only lowers
    its variance.
    """
    s = np.asarray(saddle, dtype=float).reshape(-1)
    raw = []
    for m in (a, b):
        q = quasi_potential(sde, m, box, cells=cells, rays=rays)
        v = np.asarray(q.values, dtype=float).T  # values[j, i] at (x[i], y[j]) → [i, j]
        if not np.isfinite(v).any():
            raise InvalidArgumentError(
                "box", f"no characteristic from {np.asarray(m).tolist()} reached a cell",
                "pass a box around both attractors and their saddle",
            )  # fmt: skip
        raw.append(v)
        h = np.array([q.x[1] - q.x[0], q.y[1] - q.y[0]])
        lo = np.array([q.x[0], q.y[0]]) - 0.5 * h
        centres = np.stack(np.meshgrid(q.x, q.y, indexing="ij"), axis=-1)
    dist = np.linalg.norm(centres - s, axis=-1)
    at_s = [float(v[np.isfinite(v)][np.argmin(dist[np.isfinite(v)])]) for v in raw]
    fields = []
    for k in (0, 1):
        own, other = raw[k], raw[1 - k]
        v = np.where(np.isfinite(own), own, at_s[k] + other)  # NaN where neither reached
        holes = ~np.isfinite(v)
        if holes.any():  # between diverging rays: the nearest reached cell
            _, (i, j) = scipy.ndimage.distance_transform_edt(holes, return_indices=True)
            v = v[i, j]
        fields.append(v)
    params = (jnp.asarray(fields[0]), jnp.asarray(fields[1]), jnp.asarray(lo), jnp.asarray(h))
    return ReactionCoordinate(_ratio_rule, params, "quasi-potential")
