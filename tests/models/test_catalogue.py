"""Closed-form pieces of the built-in models, checked against independent implementations."""

from __future__ import annotations

import jax
import numpy as np
import pytest
import scipy.special

from noetherlab.models.catalogue import bessel_ratio, ring_log_density, ring_score

A = np.array([0.0, 1e-6, 5e-5, 2e-4, 0.3, 1.0, 4.0, 37.0, 250.0, 700.0])


def _h(a: np.ndarray) -> np.ndarray:
    """I1/I0 from SciPy's exponentially scaled Bessel functions (independent of JAX)."""
    return scipy.special.i1e(a) / scipy.special.i0e(a)


def test_bessel_ratio_values_match_scipy():
    np.testing.assert_allclose(
        np.asarray(jax.vmap(bessel_ratio)(A)), _h(A), rtol=1e-13, atol=1e-300
    )


@pytest.mark.parametrize("a", [1e-6, 5e-5, 2e-4, 0.3, 1.0, 4.0, 37.0, 250.0])
def test_bessel_ratio_derivatives_match_finite_differences(a):
    # central differences of SciPy's h, extended as the odd function it is (h(-a) = -h(a)) so the
    # stencil may cross 0; step 1e-4·max(a, 1): truncation error ~1e-9 relative
    def h(x: float) -> float:
        return float(np.sign(x) * _h(np.array(abs(x))))

    step = 1e-4 * max(a, 1.0)
    d1 = (h(a + step) - h(a - step)) / (2 * step)
    d2 = (h(a + step) - 2 * h(a) + h(a - step)) / step**2
    assert float(jax.grad(bessel_ratio)(a)) == pytest.approx(d1, rel=1e-7, abs=1e-12)
    assert float(jax.grad(jax.grad(bessel_ratio))(a)) == pytest.approx(d2, rel=1e-4, abs=1e-6)


def test_bessel_ratio_slope_at_zero_is_one_half():
    # h(a) = a/2 − a³/16 + O(a⁵), so h'(0) = 1/2 and h''(0) = 0 (series of I1/I0)
    assert float(jax.grad(bessel_ratio)(0.0)) == 0.5
    assert float(jax.grad(jax.grad(bessel_ratio))(0.0)) == pytest.approx(0.0, abs=1e-12)


def test_ring_score_is_the_gradient_of_the_log_density():
    rng = np.random.default_rng(0)
    grad_log_p = jax.grad(ring_log_density)
    for x in rng.normal(scale=4.0, size=(20, 2)):
        for t in (0.4, 3.0, 30.0):
            np.testing.assert_allclose(
                np.asarray(ring_score(x, t)), np.asarray(grad_log_p(x, t)), rtol=1e-10, atol=1e-12
            )
