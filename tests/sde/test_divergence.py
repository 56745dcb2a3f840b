"""Hutchinson's divergence estimate (issue 31). Reference: for a linear drift ``f = A x`` the
divergence is ``tr A`` and one Rademacher probe has variance ``Σ_{i≠l} (A_il² + A_il A_li)``."""

import jax.numpy as jnp
import numpy as np

import noetherlab as nl
from noetherlab.sde.divergence import hutchinson_divergence


def test_hutchinson_estimate_against_the_exact_trace_in_64_dimensions():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((64, 64)) / 8 - np.eye(64)
    sde = nl.SDE(lambda x: jnp.asarray(A) @ x, diffusion=1.0, dim=64)
    x = rng.standard_normal(64)
    exact = float(sde.divergence(x))
    np.testing.assert_allclose(exact, np.trace(A), rtol=1e-13)
    off = ~np.eye(64, dtype=bool)
    var = float(np.sum((A**2 + A * A.T)[off]))
    k = 4096
    est, se = hutchinson_divergence(sde, x, probes=k, key=1)
    assert abs(est - exact) < 4 * np.sqrt(var / k)
    np.testing.assert_allclose(se, np.sqrt(var / k), rtol=0.1)  # the sample SE, within 10 %
    # a diagonal Jacobian is estimated exactly by every probe
    diag = nl.SDE(lambda x: -(1 + x**2) * x, diffusion=1.0, dim=64)
    est, se = hutchinson_divergence(diag, x, probes=3)
    np.testing.assert_allclose(est, float(diag.divergence(x)), rtol=1e-13)
    assert se < 1e-12
