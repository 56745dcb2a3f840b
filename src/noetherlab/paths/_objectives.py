r"""The two discrete actions the path solvers minimise, as chain objectives (private).

**Fixed time** (midpoint rule on a given grid ``t_0 < … < t_n``):

.. math:: S_d = \sum_k h_k\, L\big(\tfrac{x_k + x_{k+1}}2, \tfrac{x_{k+1} - x_k}{h_k},
          t_{k+1/2}\big), \qquad L = \tfrac14 (v - f)^T D^{-1} (v - f)\ [+\tfrac12 \nabla\!\cdot f].

**Fixed energy** (geometric / Maupertuis action of a curve ``φ``, metric ``M = D^{-1}``,
``V = ½ ∇·f`` for "om", else 0):

.. math:: \hat S_E = \sum_k \tfrac12\Big(|Δφ_k|_M \sqrt{|f(m_k)|_M^2 + 4(E + V(m_k))}
          - ⟨f(m_k), Δφ_k⟩_M\Big),

the midpoint rule of ``½∫(|φ'|_M \sqrt{|f|²_M + 4(E+V)} - ⟨f, φ'⟩_M) ds``; the recovered steps
``h_k = |Δφ_k|_M / \sqrt{|f(m_k)|²_M + 4(E+V)}`` make it equal to the fixed-time midpoint action
minimised over ``h_k`` (derivation in :mod:`noetherlab.paths.solvers.geometric`).

Each comes with its interval *scale*, the size of the terms that cancel in its gradient (used to
normalise residuals, :mod:`noetherlab.paths.diagnostics`).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab.paths._chain import Chain, pad_chain
from noetherlab.sde.lagrangian import discrete_lagrangian, potential_term
from noetherlab.sde.model import SDE

Array = jax.Array


class FixedTimeModel(eqx.Module):
    sde: SDE
    kind: str = eqx.field(static=True)


def fixed_time_cost(za: Array, zb: Array, d: Array, params: FixedTimeModel) -> Array:
    return discrete_lagrangian(params.sde, za, zb, d[0], d[1], params.kind)


def fixed_time_scale(za: Array, zb: Array, d: Array, params: FixedTimeModel) -> Array:
    """``|∂_a L_d|_∞ + |∂_b L_d|_∞ + ½|D^{-1} v|_∞ + ½|D^{-1} f(m)|_∞``."""
    sde, ta, tb = params.sde, d[0], d[1]
    da, db = jax.grad(discrete_lagrangian, argnums=(1, 2))(sde, za, zb, ta, tb, params.kind)
    h, m, tm = tb - ta, 0.5 * (za + zb), 0.5 * (ta + tb)
    Minv = sde.D_inv(m, tm)
    return (
        jnp.max(jnp.abs(da))
        + jnp.max(jnp.abs(db))
        + 0.5 * jnp.max(jnp.abs(Minv @ ((zb - za) / h)))
        + 0.5 * jnp.max(jnp.abs(Minv @ sde.f(m, tm)))
    )


def fixed_time_chain(
    sde: SDE, kind: str, x0: np.ndarray, x1: np.ndarray, t: np.ndarray, intervals: int | None = None
) -> Chain:
    """The fixed-time action on grid ``t`` with end states ``x0``, ``x1`` (identity frames),
    padded to ``intervals`` intervals when given (:func:`~noetherlab.paths._chain.pad_chain`)."""
    n, N = t.size - 1, sde.dim
    base = np.zeros((n + 1, N))
    base[0], base[-1] = x0, x1
    frame = np.ones(n + 1)  # identity frames on the interior nodes (a mask)
    frame[0] = frame[-1] = 0.0
    data = np.stack([t[:-1], t[1:]], axis=1)
    chain = Chain(
        fixed_time_cost,
        fixed_time_scale,
        FixedTimeModel(sde, kind),
        jnp.asarray(base),
        jnp.asarray(frame),
        jnp.asarray(data),
        jnp.asarray(np.ones(n)),
    )
    return chain if intervals is None else pad_chain(chain, intervals)


class GeometricModel(eqx.Module):
    sde: SDE
    energy: Array
    kind: str = eqx.field(static=True)


def speed2(sde: SDE, x: Array, E: Array, kind: str) -> Array:
    """``|f|²_M + 4 (E + V)`` at ``x`` (the squared metric speed of an energy-``E`` path)."""
    t0 = jnp.zeros((), jnp.float64)
    f = sde.f(x, t0)
    return f @ (sde.D_inv(x, t0) @ f) + 4.0 * (E + potential_term(sde, x, t0, kind))


def geometric_cost(za: Array, zb: Array, d: Array, params: GeometricModel) -> Array:
    sde, E, kind = params.sde, params.energy, params.kind
    t0 = jnp.zeros((), jnp.float64)
    m, delta = 0.5 * (za + zb), zb - za
    M = sde.D_inv(m, t0)
    f = sde.f(m, t0)
    s2 = speed2(sde, m, E, kind)
    length = jnp.sqrt(jnp.maximum(delta @ M @ delta, 1e-300))
    cost = 0.5 * (length * jnp.sqrt(jnp.maximum(s2, 1e-300)) - f @ M @ delta)
    return jnp.where(s2 >= 0.0, cost, jnp.inf)


def geometric_scale(za: Array, zb: Array, d: Array, params: GeometricModel) -> Array:
    """``|∂_a c|_∞ + |∂_b c|_∞ + ½(√s2 |MΔ|_∞/|Δ|_M + |M f|_∞)`` (the momentum-sized terms)."""
    sde = params.sde
    t0 = jnp.zeros((), jnp.float64)
    da, db = jax.grad(geometric_cost, argnums=(0, 1))(za, zb, d, params)
    m, delta = 0.5 * (za + zb), zb - za
    M = sde.D_inv(m, t0)
    length = jnp.sqrt(jnp.maximum(delta @ M @ delta, 1e-300))
    s = jnp.sqrt(jnp.maximum(speed2(sde, m, params.energy, params.kind), 0.0))
    raw = 0.5 * (s * jnp.max(jnp.abs(M @ delta)) / length + jnp.max(jnp.abs(M @ sde.f(m, t0))))
    return jnp.max(jnp.abs(da)) + jnp.max(jnp.abs(db)) + raw


def geometric_chain(params: GeometricModel, x: np.ndarray, frames: np.ndarray) -> Chain:
    """The geometric action of the curve through the nodes ``x`` moved along ``frames``."""
    n = x.shape[0] - 1
    return Chain(
        geometric_cost,
        geometric_scale,
        params,
        jnp.asarray(x),
        jnp.asarray(frames),
        jnp.zeros((n, 1)),
        jnp.asarray(np.ones(n)),
    )


@eqx.filter_jit
def node_speed2(params: GeometricModel, x: Array) -> Array:
    """``|f|²_M + 4(E + V)`` at every node of ``x`` ``(m, N)``: the squared speed of a path of
    energy ``params.energy`` (negative where no such path can pass)."""
    return jax.vmap(lambda xi: speed2(params.sde, xi, params.energy, params.kind))(x)


def minimum_energy(sde: SDE, x0: np.ndarray, x1: np.ndarray, kind: str) -> float:
    """``E_min = max over the endpoints of (-¼|f|²_M - V)``: below it an endpoint is unreachable."""
    params = GeometricModel(sde, jnp.asarray(0.0), kind)
    s2 = np.asarray(node_speed2(params, jnp.asarray(np.stack([x0, x1]))))
    return float(np.max(-0.25 * s2))
