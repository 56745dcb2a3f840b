"""Fixed points in a region: exact locations and classification, and the bad-input cases
(continuum, time dependence, nothing in the region, non-finite drift, malformed box)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab.metastability.fixed_points import find_fixed_points


def _double_well_2d(D: float = 0.05) -> nl.SDE:
    return nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=D, dim=2)


def test_double_well_fixed_points_exact():
    # f = (x − x³, −y): stable nodes (±1, 0) with J = diag(−2, −1), saddle (0, 0) with J = diag(1, −1)
    search = find_fixed_points(_double_well_2d(), (-2, 2))
    assert [p.kind for p in search.points] == ["stable node", "stable node", "saddle"]
    np.testing.assert_allclose([p.x for p in search.attractors], [[-1, 0], [1, 0]], atol=1e-12)
    np.testing.assert_allclose(search.saddles[0].x, [0, 0], atol=1e-12)
    np.testing.assert_allclose(search.attractors[0].eigenvalues.real, [-1, -2], atol=1e-12)
    np.testing.assert_allclose(search.saddles[0].eigenvalues.real, [1, -1], atol=1e-12)
    assert search.saddles[0].index == 1 and search.converged_starts == search.starts


def test_three_attractor_network_attractors_and_saddles():
    # Fig. 1c network: the decision states (3.25, 0.35), (0.35, 3.25), the intermediate state
    # (2.35, 2.35) (and the low state (1.25, 1.25)) solve f = 0 exactly (the sigmoids are 0 or 1
    # there to 1e-40); the saddles sit on the steep sigmoid walls x ≈ 1.5 or y ≈ 1.5
    search = find_fixed_points(models.three_attractor(), (-0.5, 4))
    attractors = {tuple(np.round(p.x, 6)) for p in search.attractors}
    assert attractors == {(3.25, 0.35), (0.35, 3.25), (2.35, 2.35), (1.25, 1.25)}
    saddles = np.array([p.x for p in search.saddles])
    between = [s for s in saddles if abs(min(s) - 1.5) < 0.02 and max(s) > 2.5]
    assert len(between) == 2  # the two saddles between the intermediate and the decision states
    assert all(p.residual < 1e-12 for p in search.points)


def test_continuum_of_fixed_points_is_named_not_listed():
    ring = nl.SDE(lambda x: x * (1 - jnp.sum(x**2)), diffusion=0.1, dim=2)
    with pytest.raises(UnsupportedModelError, match="continuum of fixed points"):
        find_fixed_points(ring, (-2, 2))


def test_time_dependent_drift_refused_with_reason():
    with pytest.raises(UnsupportedModelError, match="time-dependent"):
        find_fixed_points(nl.SDE(lambda x, t: -x + jnp.sin(t), diffusion=0.1, dim=2), (-1, 1))


def test_empty_region_and_non_finite_drift_reported():
    shift = nl.SDE(lambda x: jnp.array([1.0, 0.0]) + 0 * x, diffusion=0.1, dim=2)
    assert find_fixed_points(shift, (-2, 2)).points == ()
    log = nl.SDE(lambda x: jnp.log(x), diffusion=0.1, dim=2)
    search = find_fixed_points(log, (-2, 2), starts=64)
    assert search.stats["non_finite_starts"] > 0 and "not finite" in search.summary()
    np.testing.assert_allclose(search.points[0].x, [1, 1], atol=1e-12)  # log x = 0 at x = 1


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"box": (2, -2)}, "box"),
        ({"box": [[0, 1]]}, "box"),
        ({"box": None}, "box"),
        ({"box": (-1, 1), "starts": 0}, "starts"),
        ({"seeds": [[0, 0, 0]]}, "seeds"),
    ],
)
def test_bad_region_named(kwargs, argument):
    with pytest.raises(InvalidArgumentError, match=f"`{argument}`"):
        find_fixed_points(_double_well_2d(), **kwargs)
