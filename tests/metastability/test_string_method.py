"""The simplified string method: the minimum energy path through the known saddle of a gradient
drift, and a heteroclinic orbit (leaving the saddle along its unstable eigenvector) for a
non-gradient drift."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.metastability.string_method import string_method


def _V(z: jnp.ndarray) -> jnp.ndarray:
    """Curved valley: minima (±1, 0), saddle (0, 0.5) exactly (∇V = 0, Hessian diag(−1, 1))."""
    x, y = z[0], z[1]
    return (x**2 - 1) ** 2 / 4 + (y - 0.5 * (1 - x**2)) ** 2 / 2


def test_minimum_energy_path_passes_through_the_saddle():
    sde = nl.SDE(lambda z: -jax.grad(_V)(z), diffusion=0.1, dim=2)
    res = string_method(sde, [-1.0, 0.0], [1.0, 0.0])
    assert res.converged and res.motion <= 1e-6
    # image 50 of 100 sits at the saddle by symmetry; measured (1e-17, 0.4999998)
    np.testing.assert_allclose(res.saddle, [0.0, 0.5], atol=1e-5)
    # the perpendicular drift is the O(1/M) error of the discrete tangent: 0.0079 at M = 100
    fine = string_method(sde, [-1.0, 0.0], [1.0, 0.0], images=200)
    assert res.residual < 0.01 and fine.residual == pytest.approx(res.residual / 2, rel=0.05)


def test_non_gradient_string_is_the_heteroclinic_orbit():
    # f = −(I + R)∇V with V = (x² − 1)²/4 + y²/2 (R the 90° rotation): saddle (0, 0) with
    # J = [[1, 1], [1, −1]]; the heteroclinic orbits leave it along the unstable eigenvector
    # (1, √2 − 1)
    def f(z: jnp.ndarray) -> jnp.ndarray:
        gx, gy = z[0] ** 3 - z[0], z[1]
        return -jnp.stack([gx - gy, gy + gx])

    res = string_method(nl.SDE(f, diffusion=0.1, dim=2), [-1.0, 0.0], [1.0, 0.0])
    assert res.converged
    np.testing.assert_allclose(res.saddle, [0.0, 0.0], atol=1e-6)
    i = int(np.argmin(np.linalg.norm(res.x - res.saddle, axis=1)))
    slope = (res.x[i + 1, 1] - res.x[i - 1, 1]) / (res.x[i + 1, 0] - res.x[i - 1, 0])
    assert slope == pytest.approx(np.sqrt(2) - 1, rel=1e-2)
    assert np.abs(res.x[:, 1]).max() > 0.2  # curved: not the chord


def test_bad_input():
    sde = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    with pytest.raises(InvalidArgumentError, match="images"):
        string_method(sde, [0.0, 0.0], [1.0, 0.0], images=2)
    with pytest.raises(InvalidArgumentError, match="time-dependent"):
        string_method(nl.SDE(lambda x, t: -x * t, diffusion=1.0, dim=1), [0.0], [1.0])
    with pytest.raises(nl.errors.ShapeError, match="x1"):
        string_method(sde, [0.0, 0.0], [1.0])
