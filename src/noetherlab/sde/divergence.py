r"""The divergence ``∇·f`` of the drift, exactly or by Hutchinson's estimator.

The Onsager–Machlup Lagrangian carries ``½ ∇·f``. Its exact value is the trace of the drift
Jacobian (:meth:`~noetherlab.sde.model.SDE.divergence`: ``N`` Jacobian–vector products). In high
dimension Hutchinson's estimator (Hutchinson 1990; used for Onsager–Machlup paths through
diffusion models by OM-TPS, ICML 2025) replaces it by ``k`` products:

.. math::  \widehat{∇·f} = \frac1k \sum_{j=1}^k z_jᵀ J z_j,\qquad z_j \text{ Rademacher } (±1),

unbiased, with variance ``Var(zᵀJz) = Σ_{i≠l} (J_{il}² + J_{il} J_{li})`` for one probe (zero
for a diagonal ``J``). The standard error is estimated from the ``k`` samples.
:func:`hutchinson_divergence` draws fresh probes per call (an estimate at a state, with its
error); :meth:`SDE.with_hutchinson_divergence <noetherlab.sde.model.SDE.with_hutchinson_divergence>`
fixes one set of probes inside the model, so that the Onsager–Machlup path objective stays
deterministic.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp

from noetherlab._core.validation import positive_int
from noetherlab.sde.model import SDE, probe_quadratic_forms

__all__ = ["hutchinson_divergence"]

Array = jax.Array


@eqx.filter_jit
def _hutchinson(sde: SDE, x: Array, t: Array, z: Array) -> tuple[Array, Array]:
    samples = probe_quadratic_forms(lambda y: sde.f(y, t), x, z)
    k = samples.shape[0]
    se = jnp.std(samples, ddof=1) / jnp.sqrt(k) if k > 1 else jnp.asarray(jnp.inf)
    return jnp.mean(samples), se


def hutchinson_divergence(
    sde: SDE, x: Array, t: Array | float = 0.0, *, probes: int = 16, key: int = 0
) -> tuple[float, float]:
    """Hutchinson's estimate of ``∇·f(x, t)`` from ``probes`` Rademacher vectors (seed ``key``)
    and its standard error (``inf`` for one probe), in the drift's units per state unit."""
    probes = positive_int(probes, "probes")
    xj = jnp.asarray(x, dtype=jnp.float64)
    z = jax.random.rademacher(jax.random.PRNGKey(positive_int(key, "key", 0)), (probes, sde.dim))
    est, se = _hutchinson(sde, xj, jnp.asarray(t, dtype=jnp.float64), z.astype(jnp.float64))
    return float(est), float(se)
