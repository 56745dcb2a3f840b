r"""The geometric (Maupertuis) action of a given curve: evaluate, not minimise.

For a curve ``φ`` through the nodes ``x_0 … x_n`` and an energy ``E`` (metric ``M = D⁻¹``; ``V =
½∇·f`` for the Onsager–Machlup Lagrangian, 0 for Freidlin–Wentzell):

.. math::
    \hat S_E[φ] = \tfrac12 \int \Big( |φ'|_M \sqrt{|f(φ)|_M^2 + 4(E + V(φ))} - ⟨f(φ), φ'⟩_M \Big) ds,
    \qquad T = \int \frac{|φ'|_M\, ds}{\sqrt{|f|_M^2 + 4(E + V)}},

each segment evaluated at its midpoint — the same rule the geometric solver minimises
(:mod:`noetherlab.paths.solvers.geometric`), so an instanton it returns has exactly its reported
action here. ``\hat S_E`` is independent of how the curve is parametrised; at ``E = 0`` it is the
action of the fastest traversal of the curve (the quasi-potential difference along it, minimised
over curves). The full action of the traversal is ``\hat S_E + E T``.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.validation import as_float_array, finite_float, require_finite
from noetherlab.paths._objectives import GeometricModel, geometric_cost, speed2
from noetherlab.sde.lagrangian import check_lagrangian
from noetherlab.sde.model import SDE

__all__ = ["geometric_action"]

Array = jax.Array


@eqx.filter_jit
def _segments(params: GeometricModel, x: Array) -> tuple[Array, Array]:
    """Per-segment action and traversal time of the polyline ``x`` ``(n+1, N)``."""

    def one(a: Array, b: Array) -> tuple[Array, Array]:
        m, delta = 0.5 * (a + b), b - a
        M = params.sde.D_inv(m, jnp.zeros((), jnp.float64))
        s2 = speed2(params.sde, m, params.energy, params.kind)
        return geometric_cost(a, b, jnp.zeros(1), params), jnp.sqrt(delta @ M @ delta) / jnp.sqrt(
            s2
        )

    return jax.vmap(one)(x[:-1], x[1:])


def geometric_action(
    sde: SDE, curve: Any, energy: float = 0.0, *, lagrangian: str = "fw"
) -> tuple[float, float]:
    """``(Ŝ_E, T)`` of the curve through the nodes ``curve`` ``(n+1, N)`` (see the module
    docstring). A curve that starts or ends at a fixed point has ``T = ∞`` at ``E = 0``; the
    midpoint rule returns a finite, resolution-dependent truncation of it (as the solver does).

    Raises:
        ShapeError: ``curve`` is not ``(n+1, N)`` with ``n ≥ 1``.
        InvalidArgumentError: ``E`` is below the minimum energy somewhere on the curve
            (``|f|²_M + 4(E + V) < 0``: the curve cannot be traversed at that energy).
    """
    kind = check_lagrangian(lagrangian, sde)
    x = as_float_array(curve, "curve")
    if x.ndim == 1 and sde.dim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != sde.dim or x.shape[0] < 2:
        raise ShapeError(
            "curve",
            f"curve of shape {x.shape}",
            f"give at least two nodes of dimension {sde.dim}: shape (n+1, {sde.dim})",
        )
    require_finite(x, "curve")
    energy = finite_float(energy, "energy", "path energy E")
    params = GeometricModel(sde, jnp.asarray(energy), kind)
    cost, time = (np.asarray(a) for a in _segments(params, jnp.asarray(x)))
    if np.any(np.isinf(cost)):
        k = int(np.argmax(np.isinf(cost)))
        raise InvalidArgumentError(
            "energy",
            f"E = {energy:g} is below the minimum energy on segment {k} of the curve",
            "raise E (at least max(−¼|f|²_M − V) along the curve) or use another curve",
        )
    return float(cost.sum()), float(np.sum(np.where(np.isnan(time), np.inf, time)))
