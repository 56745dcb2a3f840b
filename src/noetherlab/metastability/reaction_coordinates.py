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

Both are :class:`~noetherlab.ensembles.reaction.ReactionCoordinate` objects: code compiled once,
the path or the grid as data.
"""

from __future__ import annotations

from typing import Any

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.interp import resample
from noetherlab._core.validation import as_states
from noetherlab.ensembles.reaction import ReactionCoordinate
from noetherlab.sde.model import SDE, require_sde

__all__ = [
    "committor_coordinate",
    "descent_path",
    "instanton_coordinate",
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
