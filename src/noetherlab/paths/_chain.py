r"""Chain-structured objectives: the discrete actions of the path solvers (private).

Objective (``n`` intervals, ``n+1`` nodes, interior nodes ``1..n-1`` free):

.. math:: F(y) = \sum_{k=0}^{n-1} w_k\, c\big(z_k, z_{k+1}, d_k\big),\qquad z_k = a_k + Q_k\, y_k ,

where ``a_k`` (``(N,)``) is a base point, ``Q_k`` (``(N, b)``) a frame (identity for the fixed-time
solver, a normal frame for the geometric one), ``d_k`` per-interval data and ``w_k`` the interval's
weight (1; 0 on the intervals that pad a chain to a larger size). Because every term couples
neighbours only, the Hessian is block-tridiagonal with ``b x b`` blocks.

**Padding** (:func:`pad_chain`): a chain of ``n`` intervals is extended to ``P > n`` by fixed copies
of its last node joined by zero-weight intervals, so that one compiled engine serves every grid up
to ``P`` (the resolution study's coarse grids run in the fine grid's code). A padded node is fixed
(mask 0): its gradient row is 0 and its Hessian block the identity, so Newton's step leaves it where
it is and the free nodes see exactly the unpadded problem.

Each interval also has a *scale* (the size of the terms that cancel in the gradient, see
:mod:`noetherlab.paths.diagnostics`); a node's scale is the larger of its two intervals', and the
normalised residual ``|g_k|_∞ / s_k`` is what the Newton engine (:mod:`noetherlab.paths._newton`)
drives below its tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InternalError

Array = jax.Array


class Chain(eqx.Module):
    """The objective ``F`` of the module docstring. ``base`` ``(n+1, N)``, ``frame``
    ``(n+1, N, b)``, or ``(n+1,)``: identity frames given as a 0/1 mask of the free nodes, or
    ``(n+1, N)``: Householder vectors of normal frames (``b = N - 1``) — the last two so that a chain
    in ``N = 1000`` dimensions stores ``O(n N)``, not ``n`` dense frames —, ``data`` a pytree with leading axis ``n``, ``params`` a pytree shared by all
    intervals (e.g. the model); ``cost(za, zb, d, params) -> scalar`` and ``scale(za, zb, d,
    params) -> scalar`` (the interval's term size) should be module-level functions so that
    compiled code is reused across calls."""

    cost: Callable[[Array, Array, Any, Any], Array] = eqx.field(static=True)
    scale: Callable[[Array, Array, Any, Any], Array] = eqx.field(static=True)
    params: Any
    base: Array
    frame: Array
    data: Any
    weight: Array  # (n,): 1, or 0 on padding intervals

    def nodes(self, y: Array) -> Array:
        return jax.vmap(_node)(self.base, self.frame, y)


def pad_chain(chain: Chain, intervals: int) -> Chain:
    """``chain`` extended to ``intervals`` intervals by fixed copies of its last node (see the
    module docstring); only for identity-frame chains (a 0/1 mask of the free nodes)."""
    n = chain.weight.shape[0]
    extra = intervals - n
    if extra < 0 or chain.frame.ndim != 1:
        raise InternalError(f"cannot pad a chain of {n} intervals to {intervals}")
    if extra == 0:
        return chain
    # on the host: no small compiled concatenations per size
    repeat = lambda a: jnp.asarray(
        np.concatenate([np.asarray(a), np.repeat(np.asarray(a)[-1:], extra, axis=0)])
    )
    zeros = lambda a: jnp.asarray(np.concatenate([np.asarray(a), np.zeros(extra)]))
    return Chain(
        chain.cost,
        chain.scale,
        chain.params,
        repeat(chain.base),
        zeros(chain.frame),
        jax.tree_util.tree_map(repeat, chain.data),
        zeros(chain.weight),
    )


def fixed_rows(chain: Chain) -> Array:
    """``(n-1,)``: 1.0 at the interior nodes that do not move (padding), else 0.0."""
    if chain.frame.ndim != 1:
        return jnp.zeros(chain.base.shape[0] - 2, chain.base.dtype)
    return (chain.frame[1:-1] == 0).astype(chain.base.dtype)


def _node(a: Array, Q: Array, y: Array) -> Array:
    """``a + Q y`` for one node; ``Q`` is a scalar mask (identity frame), a ``(N, b)`` matrix, or a
    Householder vector ``v`` (``(N,)``, ``b = N - 1``): ``Q y = H [0; y]``, ``H = I - 2 v vᵀ``."""
    if Q.ndim == 0:
        return a + Q * y
    if Q.ndim == 1:
        e = jnp.concatenate([jnp.zeros(1, y.dtype), y])
        return a + e - 2.0 * Q * (Q @ e)
    return a + Q @ y


def _pair(
    chain: Chain, ya: Array, yb: Array, a: Array, b: Array, Qa: Array, Qb: Array, d: Any
) -> Array:
    return chain.cost(_node(a, Qa, ya), _node(b, Qb, yb), d, chain.params)


def _interval_args(chain: Chain, y: Array) -> tuple[Array, Array, Array, Array, Array, Array]:
    return (y[:-1], y[1:], chain.base[:-1], chain.base[1:], chain.frame[:-1], chain.frame[1:])


_IN_AXES = (None, 0, 0, 0, 0, 0, 0, 0)


def chain_value(chain: Chain, y: Array) -> Array:
    """``F(y)`` (traceable; wrap in ``eqx.filter_jit`` at the call site's module level)."""
    pair = jax.vmap(_pair, in_axes=_IN_AXES)
    terms = pair(chain, *_interval_args(chain, y), chain.data)
    return jnp.sum(chain.weight * terms)


def chain_abs_value(chain: Chain, y: Array) -> Array:
    """``Σ_k w_k |c_k|``: the size of the terms of ``F`` (its float64 resolution is ``~1e-16`` of
    this)."""
    pair = jax.vmap(_pair, in_axes=_IN_AXES)
    return jnp.sum(chain.weight * jnp.abs(pair(chain, *_interval_args(chain, y), chain.data)))


def _scale_pair(
    chain: Chain, ya: Array, yb: Array, a: Array, b: Array, Qa: Array, Qb: Array, d: Any
) -> Array:
    return chain.scale(_node(a, Qa, ya), _node(b, Qb, yb), d, chain.params)


def chain_gradient(chain: Chain, y: Array) -> tuple[Array, Array]:
    """Interior gradient ``(n-1, b)`` and node scales ``(n-1,)`` (traceable)."""
    args = _interval_args(chain, y)
    w = chain.weight[:, None]
    gA, gB = jax.vmap(jax.grad(_pair, argnums=(1, 2)), in_axes=_IN_AXES)(chain, *args, chain.data)
    gA, gB = w * gA, w * gB
    sc = chain.weight * jax.vmap(_scale_pair, in_axes=_IN_AXES)(chain, *args, chain.data)
    node = jnp.maximum(sc[1:], sc[:-1])
    floor = 1e-14 * jnp.max(sc) + 1e-300
    return gB[:-1] + gA[1:], jnp.maximum(node, floor)


def normalised_residual(g: Array, scale: Array) -> Array:
    """``max_k |g_k|_∞ / s_k`` (0 for a path without interior nodes)."""
    if g.shape[0] == 0:
        return jnp.zeros((), g.dtype)
    return jnp.max(jnp.max(jnp.abs(g), axis=1) / scale)


def chain_derivatives(chain: Chain, y: Array) -> tuple[Array, Array, Array, Array]:
    """Interior gradient ``(n-1, b)``, node scales ``(n-1,)`` and Hessian blocks: diagonal
    ``(n-1, b, b)`` (the identity at fixed padding nodes), upper ``(n-2, b, b)`` (traceable)."""
    g, scale = chain_gradient(chain, y)
    (HAA, HAB), (_, HBB) = jax.vmap(jax.hessian(_pair, argnums=(1, 2)), in_axes=_IN_AXES)(
        chain, *_interval_args(chain, y), chain.data
    )
    w = chain.weight[:, None, None]
    HAA, HAB, HBB = w * HAA, w * HAB, w * HBB
    b = HAA.shape[-1]
    fixed = fixed_rows(chain)[:, None, None] * jnp.eye(b, dtype=HAA.dtype)
    return g, scale, HBB[:-1] + HAA[1:] + fixed, HAB[1:-1]
