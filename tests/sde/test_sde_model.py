"""SDE construction and validation (issue: foundation, Models)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    NotPositiveDefiniteError,
    ShapeError,
)


def drift2(x):
    return -x


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"diffusion": 0.5, "dim": 2}, 0.5 * np.eye(2)),
        ({"diffusion": [0.5, 2.0]}, np.diag([0.5, 2.0])),
        ({"diffusion": [[1.0, 0.2], [0.2, 0.5]]}, np.array([[1.0, 0.2], [0.2, 0.5]])),
        ({"noise": [[1.0, 0.0], [1.0, 2.0]]}, 0.5 * np.array([[1.0, 1.0], [1.0, 5.0]])),
        ({"noise": 2.0, "dim": 2}, 2.0 * np.eye(2)),
    ],
)
def test_constant_diffusion_forms(kwargs, expected):
    sde = nl.SDE(drift2, **kwargs)
    assert sde.dim == 2 and sde.constant_diffusion
    np.testing.assert_allclose(np.asarray(sde.D(jnp.zeros(2))), expected, rtol=1e-15)
    np.testing.assert_allclose(
        np.asarray(sde.D_inv(jnp.zeros(2))) @ expected, np.eye(2), atol=1e-14
    )
    G = np.asarray(sde.G(jnp.zeros(2)))
    np.testing.assert_allclose(0.5 * G @ G.T, expected, rtol=1e-14, atol=1e-15)


def test_state_dependent_diffusion_and_noise_functions():
    sde = nl.SDE(lambda x, t: -x, diffusion=lambda x, t: 1.0 + x**2, dim=2)
    np.testing.assert_allclose(np.asarray(sde.D(jnp.array([1.0, 2.0]), 0.3)), np.diag([2.0, 5.0]))
    assert not sde.constant_diffusion and sde.time_dependent
    assert not sde.diffusion_is_state_independent()
    sdeg = nl.SDE(drift2, noise=lambda x: jnp.array([[1.0 + x[0] ** 2, 0.0], [0.0, 1.0]]), dim=2)
    np.testing.assert_allclose(np.asarray(sdeg.D(jnp.array([1.0, 0.0]))), np.diag([2.0, 0.5]))
    assert not sdeg.time_dependent


def test_time_dependence_detection():
    assert not nl.SDE(lambda x: -x, diffusion=1.0, dim=1).time_dependent
    sde = nl.SDE(lambda x, t: -t * x, diffusion=1.0, dim=1)
    assert sde.time_dependent
    assert float(sde.f(jnp.array([2.0]), 3.0)[0]) == -6.0


def test_time_first_drift_refused():
    # the audit's case: f(t, x) silently gave a wrong action (0.5625 instead of 0.5783)
    with pytest.raises(InvalidArgumentError, match=r"time first") as info:
        nl.SDE(lambda t, x: -x, diffusion=1.0, dim=1)
    assert info.value.argument == "drift"


def test_new_instance_shares_compiled_code():
    a = nl.SDE(lambda x: -1.3 * x + jnp.tanh(x), diffusion=1.0, dim=2)
    b = nl.SDE(lambda x: -2.1 * x + jnp.tanh(x), diffusion=2.0, dim=2)
    assert a.drift.shares_compiled_code
    assert a.drift.program == b.drift.program  # same code: same compilation key
    x = jnp.array([0.3, -0.7])
    np.testing.assert_allclose(np.asarray(b.f(x)), -2.1 * np.asarray(x) + np.tanh(x), rtol=1e-15)


def test_scalar_drift_allowed_in_1d():
    sde = nl.SDE(lambda x: 0.1, diffusion=0.5, dim=1)
    assert np.asarray(sde.f(jnp.array([0.3]))).shape == (1,)


def test_smallest_eigenvalue_is_named():
    with pytest.raises(NotPositiveDefiniteError, match=r"smallest eigenvalue is -1") as info:
        nl.SDE(drift2, diffusion=[[1.0, 0.0], [0.0, -1.0]])
    assert info.value.argument == "diffusion"
    with pytest.raises(NotPositiveDefiniteError, match="symmetric"):
        nl.SDE(drift2, diffusion=[[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(NotPositiveDefiniteError, match=r"zero or negative"):
        nl.SDE(drift2, diffusion=[[0.0, 0.0], [0.0, 0.0]])


def test_degenerate_noise_accepted_lagrangian_refused():
    # noise along (1, 1) only: D = G G^T / 2 = [[1/2, 1/2], [1/2, 1/2]], rank 1 (hypoelliptic)
    sde = nl.SDE(drift2, noise=[[1.0], [1.0]])
    assert sde.degenerate and sde.diffusion_inverse is None
    np.testing.assert_allclose(
        np.asarray(sde.G(jnp.zeros(2))) @ np.asarray(sde.G(jnp.zeros(2))).T / 2, 0.5
    )
    with pytest.raises(nl.errors.UnsupportedModelError, match="noise on a subspace"):
        nl.action(sde, [[0.0, 0.0], [1.0, 1.0]], [0.0, 1.0])


def test_state_dependent_D_checked_at_use():
    sde = nl.SDE(drift2, diffusion=lambda x: 1.0 - x[0] * jnp.ones(2), dim=2)
    with pytest.raises(NotPositiveDefiniteError, match=r"at path point 1 \(x = \[2.0, 0.0\]"):
        sde.check_states([[0.0, 0.0], [2.0, 0.0]], [0.0, 1.0])


def test_non_finite_drift_named_at_use():
    sde = nl.SDE(lambda x: 1.0 / x, diffusion=1.0, dim=1)
    with pytest.raises(NonFiniteError, match=r"drift is not finite at path point 2: x = \[0.0\]"):
        sde.check_states([[1.0], [0.5], [0.0]], [0.0, 0.5, 1.0])


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: nl.SDE(drift2), InvalidArgumentError, "exactly one of `diffusion`"),
        (
            lambda: nl.SDE(drift2, diffusion=1.0, noise=1.0, dim=2),
            InvalidArgumentError,
            "exactly one",
        ),
        (lambda: nl.SDE(drift2, diffusion=1.0), InvalidArgumentError, "pass dim=N"),
        (lambda: nl.SDE(drift2, diffusion=lambda x: x), InvalidArgumentError, "pass dim=N"),
        (
            lambda: nl.SDE(lambda x: x[:1], diffusion=[1.0, 1.0]),
            ShapeError,
            r"shape \(2,\).*got shape \(1,\)",
        ),
        (lambda: nl.SDE(drift2, diffusion=[[1.0, 0.0]]), ShapeError, "square"),
        (lambda: nl.SDE(drift2, diffusion=np.eye(2), dim=3), ShapeError, "dim=3"),
        (
            lambda: nl.SDE(drift2, diffusion=lambda x: jnp.ones(3), dim=2),
            ShapeError,
            "D\\(x, t\\) must return",
        ),
        (
            lambda: nl.SDE(lambda x, t, s: x, diffusion=1.0, dim=1),
            InvalidArgumentError,
            "function of x or of",
        ),
        (lambda: nl.SDE("f", diffusion=1.0, dim=1), InvalidArgumentError, "argument `drift`"),
        (
            lambda: nl.SDE(lambda x: x @ x @ x, diffusion=1.0, dim=2),
            InvalidArgumentError,
            "raised ValueError when called with x of shape",
        ),
        (lambda: nl.SDE(drift2, diffusion=1.0, dim=0), InvalidArgumentError, "dim"),
        (lambda: nl.SDE(drift2, noise=[1.0, 2.0]), ShapeError, "ambiguous"),
    ],
)
def test_bad_models_raise_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_float64_everywhere():
    sde = nl.SDE(drift2, diffusion=np.float32(0.5), dim=2)
    assert sde.D(jnp.zeros(2)).dtype == jnp.float64
    assert sde.f(jnp.zeros(2, dtype=jnp.float64)).dtype == jnp.float64


def test_drift_at_many_states_matches_the_drift_in_closed_form():
    # Maier–Stein f = (x − x³ − β x y², −(1 + x²) y) (models.maier_stein's docstring), β = 10
    x = np.random.default_rng(0).normal(size=(7, 2))
    f = nl.models.maier_stein(beta=10.0).drift_at(x)
    expected = np.stack(
        [x[:, 0] - x[:, 0] ** 3 - 10.0 * x[:, 0] * x[:, 1] ** 2, -(1 + x[:, 0] ** 2) * x[:, 1]], 1
    )
    np.testing.assert_allclose(f, expected, rtol=1e-14, atol=1e-14)


def test_a_model_pickles_for_another_process():
    # what Dask does to send a model to a worker: the traced program is re-traced from its
    # source function there, the parameters travel as data
    from distributed.protocol.pickle import dumps, loads

    sde = nl.models.maier_stein(beta=7.0)
    back = loads(dumps(sde))
    x = jnp.array([0.3, 0.2])
    np.testing.assert_allclose(back.f(x), [0.3 - 0.027 - 7.0 * 0.3 * 0.04, -(1 + 0.09) * 0.2])
    assert back.drift.program == sde.drift.program and back.name == sde.name
