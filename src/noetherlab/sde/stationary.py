r"""Zeros of a time-independent drift, ``f(x*) = 0``, by Newton's method (optimistix).

The model-level primitive behind fixed-point searches (:mod:`noetherlab.metastability.fixed_points`),
the splitting of ``E = 0`` instantons at interior fixed points
(:mod:`noetherlab.paths.solvers.geometric`) and the attractors of the catalogue's memory network:

* :func:`drift_zero` — one Newton solve from ``x`` (traceable, ``(N,) -> ((N,), bool)``);
* :func:`drift_zeros` — the same from every row of ``xs`` (``(K, N)``) at once, compiled once;
* :func:`fixed_point_near` — one solve on the host: the point and whether Newton converged to a
  finite zero.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from noetherlab.sde.model import SDE

__all__ = ["drift_zero", "drift_zeros", "fixed_point_near"]

Array = jax.Array


def _drift_residual(x: Array, sde: SDE) -> Array:
    return sde.f(x, jnp.zeros((), jnp.float64))


def drift_zero(sde: SDE, x: Array, rtol: float, atol: float) -> tuple[Array, Array]:
    """Newton (at most 64 steps) on ``f(·, 0) = 0`` from ``x``; returns the last iterate and
    whether optimistix reports success (traceable; ``rtol``/``atol`` on the iterate)."""
    sol: Any = optx.root_find(
        _drift_residual,
        optx.Newton(rtol=rtol, atol=atol),
        x,
        args=sde,
        max_steps=64,
        throw=False,
    )
    return sol.value, sol.result == optx.RESULTS.successful


_drift_zero = eqx.filter_jit(drift_zero)
#: :func:`drift_zero` from every row of ``xs`` ``(K, N)``: ``((K, N), (K,))``
drift_zeros = eqx.filter_jit(eqx.filter_vmap(drift_zero, in_axes=(None, 0, None, None)))


def fixed_point_near(
    sde: SDE, x: Any, *, rtol: float = 1e-12, atol: float = 1e-12
) -> tuple[np.ndarray, bool]:
    """A zero of the (time-independent) drift near ``x`` ``(N,)`` by Newton's method; returns the
    point ``(N,)`` and whether Newton converged to a finite point."""
    star, ok = _drift_zero(sde, jnp.asarray(np.asarray(x, dtype=np.float64)), rtol, atol)
    star_np = np.asarray(star)
    return star_np, bool(ok) and bool(np.all(np.isfinite(star_np)))
