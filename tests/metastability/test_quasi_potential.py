"""The quasi-potential field by characteristics against the exact potential of a gradient drift
and the instanton action of a non-gradient one."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import UnsupportedModelError
from noetherlab.metastability.quasi_potential import quasi_potential


def test_gradient_drift_quasi_potential_is_the_potential():
    # f = (x − x³, −y), D = ε: S = (V − V(m))/ε with V = x⁴/4 − x²/2 + y²/2
    eps = 0.1
    sde = nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=eps, dim=2)
    q = quasi_potential(sde, [-1.0, 0.0], (-2, 2))

    def exact(p: np.ndarray) -> np.ndarray:
        return (p[:, 0] ** 4 / 4 - p[:, 0] ** 2 / 2 + p[:, 1] ** 2 / 2 + 0.25) / eps

    left = q.points[:, 0] < -0.02
    err = np.abs(q.actions[left] - exact(q.points[left]))
    # measured: max 4.6e-7 over 364018 ray points (the O(S_0^{3/2}) quadratic start, S_0 = 1e-4,
    # and the ODE tolerance), S up to ~40
    assert err.max() < 2e-6
    i = int(np.argmin(np.linalg.norm(q.points, axis=1)))  # the ray into the saddle (0, 0)
    assert q.actions[i] == pytest.approx(0.25 / eps, rel=1e-5)
    X, Y = np.meshgrid(q.x, q.y)
    ok = np.isfinite(q.values) & (X < -0.05)
    cells = np.stack([X[ok], Y[ok]], axis=1)
    # a cell holds the value at a point inside it: |error| ≤ |∇S| h/√2·2 (measured 1.01, bound 3.6)
    h = q.x[1] - q.x[0]
    grad = np.hypot(cells[:, 0] ** 3 - cells[:, 0], cells[:, 1]) / eps
    assert np.all(np.abs(q.values[ok] - exact(cells)) <= (grad + 20) * h)
    assert 0.1 < q.coverage < 0.5  # the attractor's basin, where rays go


def test_maier_stein_saddle_value_is_the_instanton_action():
    # β = 3, μ = 2: the instanton runs along the invariant axis, S(0, 0) = ΔV = 1/4 (D = 1)
    q = quasi_potential(models.maier_stein(beta=3.0, mu=2.0), [-1.0, 0.0], (-2, 2))
    i = int(np.argmin(np.linalg.norm(q.points, axis=1)))
    assert q.actions[i] == pytest.approx(0.25, rel=1e-4)  # measured 0.2500040


def test_only_two_dimensional_models():
    with pytest.raises(UnsupportedModelError, match="2-D"):
        quasi_potential(nl.SDE(lambda x: -x, diffusion=1.0, dim=3), [0.0, 0.0, 0.0], (-1, 1))
