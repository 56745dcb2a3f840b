"""Laws verified on training trajectories (issue: laws, and data symmetry: optimisers)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.flows import gradient_flow, law_drift, make_data, train
from noetherlab.training.polylaws import find_polynomial_laws


@pytest.mark.parametrize(
    "arch",
    [tr.linear_net([3, 2, 2]), tr.polynomial_net([3, 3, 2], degree=2, bias=True)],
    ids=lambda a: a.name,
)
def test_found_laws_constant_along_gradient_flow(arch):
    laws = find_polynomial_laws(arch, 2)
    X, Y = make_data(arch, "mse", 16, seed=2)
    theta0 = arch.random_params(jax.random.PRNGKey(1), 0.8)
    traj = gradient_flow(arch, "mse", X, Y, theta0, 2.0)
    assert traj.successful and traj.loss[-1] < traj.loss[0]
    E = jnp.asarray(np.asarray(laws.monomials, dtype=float))
    coeffs = [jnp.asarray(c) for c in laws.coefficients]
    fns = [lambda th, c=c: c @ jnp.prod(th[None, :] ** E, axis=1) for c in coeffs]
    assert np.max(law_drift(fns, traj)) < 1e-8
    generic = law_drift([lambda th: jnp.sum(th**2), lambda th: th[0] * th[-1]], traj)
    assert np.min(generic) > 1e-3


def test_discrete_optimisers_drift_and_gd_second_order():
    arch = tr.linear_net([2, 2, 2])
    X, Y = make_data(arch, "mse", 12, seed=3)
    theta0 = arch.random_params(jax.random.PRNGKey(4), 0.8)
    laws = [k.fn for k in tr.known_laws(arch)]
    # each GD step changes a quadratic law by exactly ½η² ∇L^T A ∇L: O(η²) per step (ratio 4 for
    # the same step), hence O(η) at a fixed flow time η·steps (ratio 2)
    per_steps, per_time = {}, {}
    for lr in (0.02, 0.01):
        per_steps[lr] = np.max(
            law_drift(laws, train(arch, "mse", X, Y, theta0, method="gd", lr=lr, steps=1))
        )
        per_time[lr] = np.max(
            law_drift(
                laws, train(arch, "mse", X, Y, theta0, method="gd", lr=lr, steps=int(1.0 / lr))
            )
        )
    assert per_steps[0.02] / per_steps[0.01] == pytest.approx(4.0, rel=1e-6)
    assert 1.7 < per_time[0.02] / per_time[0.01] < 2.3
    drifts = per_time
    adam = train(arch, "mse", X, Y, theta0, method="adam", lr=0.01, steps=100)
    assert np.max(law_drift(laws, adam)) > 100 * drifts[0.01]


def test_training_bad_input():
    arch = tr.linear_net([2, 2, 2])
    X, Y = make_data(arch, "mse", 4)
    with pytest.raises(InvalidArgumentError, match="method"):
        train(arch, "mse", X, Y, np.zeros(8), method="rmsprop")
    with pytest.raises(InvalidArgumentError, match="theta0"):
        gradient_flow(arch, "mse", X, Y, np.zeros(7), 1.0)
    with pytest.raises(InvalidArgumentError, match="learning rate"):
        train(arch, "mse", X, Y, np.zeros(8), lr=-1.0)
