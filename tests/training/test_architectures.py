"""What each built-in architecture states about itself (input degree, input-reading weights,
features), checked against the model's own outputs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab.training import (
    attention,
    lightning_attention,
    linear_net,
    polynomial_net,
    polynomial_unit,
    relu_net,
)
from noetherlab.training.groups import orthogonal
from noetherlab.training.symmetry import stand_in_exact


def _degree_along_a_ray(arch, seed: int = 0) -> int:
    """Degree of ``t ↦ g(θ, t x)`` (a polynomial when ``g`` is one in ``x``), from a least-squares
    fit of degree 10 on 40 points of ``t ∈ [-1, 1]``: the highest coefficient above 1e-8."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    theta, x = arch.random_params(k1), arch.random_inputs(k2, 1)[0]
    t = np.linspace(-1.0, 1.0, 40)
    g = np.array([float(arch.flat(theta, ti * x)[0]) for ti in t])
    coef = np.polynomial.polynomial.polyfit(t, g, 10)
    return int(np.flatnonzero(np.abs(coef) > 1e-8 * np.abs(coef).max())[-1])


@pytest.mark.parametrize(
    ("arch", "degree"),
    [
        (linear_net([3, 2, 1]), 1),
        (polynomial_net([2, 2, 1], degree=2), 2),
        (polynomial_net([2, 2, 2, 1], degree=2), 4),  # depth composes degrees: 2·2
        (polynomial_net([2, 3, 1], coefficients=[0.5, 1.0, 1.0, 1.0]), 3),
        (polynomial_unit(2, 3), 3),
        (lightning_attention(2, 2, 1, 1), 3),
    ],
)
def test_input_degree_is_the_degree_of_the_model_in_x(arch, degree):
    assert arch.input_degree == degree
    assert _degree_along_a_ray(arch) == degree


def test_no_input_degree_for_non_polynomial_models():
    assert relu_net([2, 3, 1]).input_degree is None
    assert attention(2, 2, 1, 1).input_degree is None


def test_deep_polynomial_net_is_not_claimed_exact_for_a_low_degree_stand_in():
    # the MSE loss of polynomial[2,2,2,1] has degree 8 in x; the dihedral D_24 stand-in of O(2) is
    # exact to degree 23, the signed permutations standing in for O(3) only to degree 3
    assert stand_in_exact(polynomial_net([2, 2, 2, 1], degree=2), orthogonal(2), "mse")
    assert not stand_in_exact(polynomial_net([3, 2, 2, 1], degree=2), orthogonal(3), "mse")


@pytest.mark.parametrize(
    "arch", [linear_net([3, 2, 1]), relu_net([3, 2, 1]), attention(2, 4, 1, 1), polynomial_unit(3)]
)
def test_input_weights_read_the_input(arch):
    # g(θ, x) depends on x only through M(θ) x: moving x inside ker M(θ) changes nothing
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    theta = arch.random_params(k1)
    M = np.asarray(arch.input_weights(theta))
    null = np.linalg.svd(M)[2][np.linalg.matrix_rank(M) :]
    assert null.shape[0] >= 1
    x = arch.random_inputs(k2, 1)[0]
    moved = x + jnp.asarray(null[0]) * (1.0 if x.ndim == 1 else jnp.ones((x.shape[0], 1)))
    np.testing.assert_allclose(arch.flat(theta, moved), arch.flat(theta, x), atol=1e-12)
