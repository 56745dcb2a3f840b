"""``most_likely_path`` and ``PathProblem``: argument handling, bad input, and the independent check
(issues 12 and 17). Statuses are asserted as ``Status`` values, never as message substrings."""

from __future__ import annotations

import time
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab import PathStatus, models
from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    ResourceLimitError,
    ShapeError,
    UnderResolvedWarning,
    UnsupportedModelError,
)
from noetherlab.paths import PathProblem
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.solvers import AbstractPathSolver, BlockNewton
from noetherlab.paths.solvers.base import straight_line

OU2 = models.ornstein_uhlenbeck(K=1.0, D=1.0, dim=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "argument"),
    [
        ({"T": -1.0}, InvalidArgumentError, "T"),
        ({"T": 0.0}, InvalidArgumentError, "T"),
        ({"T": 1.0, "energy": 1.0}, InvalidArgumentError, "T/energy/t"),
        ({}, InvalidArgumentError, "T/energy/t"),
        ({"energy": -10.0}, InvalidArgumentError, "energy"),
        ({"T": 1.0, "n": 1}, InvalidArgumentError, "n"),
        ({"T": 1.0, "method": "sgd"}, InvalidArgumentError, "method"),
        ({"T": 1.0, "init": np.zeros((5, 2))}, ShapeError, "init"),
        ({"T": 5.0, "t": np.linspace(0, 1, 11)}, InvalidArgumentError, "T/t"),
        ({"n": 10, "t": np.linspace(0, 1, 11)}, InvalidArgumentError, "n/t"),
        ({"T": 1.0, "solver": BlockNewton(), "method": "newton"}, InvalidArgumentError, "solver"),
        ({"T": 1.0, "solver": "newton"}, InvalidArgumentError, "solver"),
        ({"T": 1.0, "resolution": {"rtol": 1e-3}}, InvalidArgumentError, "resolution"),
        ({"T": 1.0, "grid": "adaptive", "t": np.linspace(0, 1, 11)}, InvalidArgumentError, "T/t"),
        ({"energy": 1.0, "method": "newton"}, InvalidArgumentError, "method"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, argument):
    with pytest.raises(error) as info:
        nl.most_likely_path(OU2, [-1.0, 0.0], [1.0, 0.0], **kwargs)
    assert info.value.argument == argument
    assert "Fix:" in str(info.value)


def test_equal_end_states_at_fixed_energy_answer_immediately():
    start = time.perf_counter()
    with pytest.raises(InvalidArgumentError) as info:
        nl.most_likely_path(OU2, [1.0, 1.0], [1.0, 1.0], energy=1.0)
    assert info.value.argument == "x1" and time.perf_counter() - start < 1.0
    with pytest.raises(InvalidArgumentError) as info:
        nl.most_likely_path(OU2, [1.0, 1.0], [1.0, 1.0], T=1.0, method="time-via-energy")
    assert info.value.argument == "method"


def test_states_and_drift_shapes_checked():
    with pytest.raises(ShapeError) as info:
        nl.most_likely_path(OU2, [1.0, 1.0, 1.0], [0.0, 1.0], T=1.0)
    assert info.value.argument == "x0"
    with pytest.raises(ShapeError) as info:  # a 100-unit drift that returns 50 numbers
        nl.SDE(lambda x: x[:50], diffusion=1.0, dim=100)
    assert info.value.argument == "drift"


def test_time_dependent_model_refused_at_fixed_energy():
    sde = nl.SDE(lambda x, t: -t * x, diffusion=1.0, dim=1)
    with pytest.raises(InvalidArgumentError) as info:
        nl.most_likely_path(sde, 0.0, 1.0, energy=1.0)
    assert info.value.argument == "energy"


def test_non_finite_drift_and_derivative():
    with pytest.raises(NonFiniteError, match="initial path"):
        nl.most_likely_path(nl.SDE(lambda x: 1.0 / x, diffusion=1.0, dim=1), -1.0, 1.0, T=1.0, n=10)
    # finite drift, non-finite derivative at the midpoint 0.25 of the first interval
    kink = nl.SDE(lambda x: jnp.sqrt(jnp.abs(x - 0.25)), diffusion=1.0, dim=1)
    with pytest.raises(NonFiniteError, match="derivative"):
        nl.most_likely_path(kink, 0.0, 1.0, T=1.0, n=2)


def test_memory_guard_refuses_before_running():
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError) as info:
        nl.most_likely_path(OU2, [1.0, 1.0], [0.0, 1.0], energy=1.0, n=10**9)
    assert info.value.argument == "n" and time.perf_counter() - start < 2.0


def test_degenerate_noise_refused_by_lagrangian_solvers():
    langevin = nl.SDE(lambda x: jnp.stack([x[1], -x[0] - x[1]]), diffusion=[[0.0, 0.0], [0.0, 0.5]])
    with pytest.raises(UnsupportedModelError, match="hamiltonian"):
        nl.most_likely_path(langevin, [0.0, 0.0], [1.0, 0.0], T=1.0, method="newton")


class _Liar(AbstractPathSolver):
    """A solver that claims success for the straight line (to test the independent check)."""

    el_tol: float | None = None

    def solve(self, problem, init=None):
        x = straight_line(problem)
        return finish(
            problem,
            x,
            problem.t,
            method="liar",
            status=PathStatus.successful,
            message="trust me",
            iterations=0,
            seconds=0.0,
            el_tol=self.tolerance(),
        )


def test_independent_check_demotes_a_false_success():
    res = nl.most_likely_path(
        OU2,
        [-2.0, 2.0],
        [2.0, 2.0],
        T=1.0,
        n=100,
        solver=_Liar(),
        resolution=nl.ResolutionControl(check=False),
    )
    assert res.status is PathStatus.residual_too_large and not res.converged
    assert res.el_residual > 1e-3  # the straight line is far from stationary for f = -x


def test_audit_x5_is_not_falsely_converged():
    """The audit's false stamp: f = x⁵ from (0, 0) to (30, 30) in T = 1 was 'converged' with an
    Euler–Lagrange residual of 18.9 and an action 34 % too high (0.728). Now it is converged only
    at a stationary point: restarting from it does not move it."""
    sde = nl.SDE(lambda x: x**5, diffusion=1.0, dim=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderResolvedWarning)
        res = nl.most_likely_path(sde, [0.0, 0.0], [30.0, 30.0], T=1.0, n=200)
        again = nl.most_likely_path(
            sde,
            [0.0, 0.0],
            [30.0, 30.0],
            T=1.0,
            n=200,
            init=res,
            resolution=nl.ResolutionControl(check=False),
        )
    assert res.status is PathStatus.successful and res.el_residual <= res.el_tol
    assert again.action == pytest.approx(res.action, rel=1e-12)
    assert res.action < 0.6  # the false stamp's 0.728 was not a minimum


def test_tiny_transit_time_is_normalised():
    """T = 1e-12: S = |Δx|²/(4 D T) to leading order; the residual is reported dimensionless."""
    res = nl.most_likely_path(
        OU2, [-2.0, 2.0], [2.0, 2.0], T=1e-12, n=100, resolution=nl.ResolutionControl(check=False)
    )
    assert res.converged and res.el_residual < 1e-10
    assert res.action == pytest.approx(16.0 / (4 * 1e-12), rel=1e-9)


def test_zero_action_path_is_converged():
    """Relaxation along the drift (x0 = 1 to the attractor 0 over T = 30): S ≈ 0, p ≈ 0."""
    res = nl.most_likely_path(
        nl.SDE(lambda x: -x, diffusion=1.0, dim=1),
        1.0,
        0.0,
        T=30.0,
        n=1000,
        resolution=nl.ResolutionControl(check=False),
    )
    assert res.status is PathStatus.successful
    assert res.action < 1e-20  # exact: x = e^{-t}, up to the O(e^{-2T}) end correction


def test_long_fixed_time_reports_and_suggests_energy():
    res = nl.most_likely_path(
        models.maier_stein(),
        [-1.0, 0.0],
        [0.0, 0.0],
        T=200.0,
        n=1000,
        resolution=nl.ResolutionControl(check=False),
    )
    assert res.status in (PathStatus.line_search_failed, PathStatus.stalled, PathStatus.successful)
    if not res.converged:
        assert "method='time-via-energy'" in res.message


def test_auto_method_by_dimension():
    from noetherlab.paths.api import DENSE_MAX_DIM

    small = nl.most_likely_path(
        OU2, [-1.0, 0.0], [1.0, 0.0], T=1.0, n=50, resolution=nl.ResolutionControl(check=False)
    )
    big_dim = DENSE_MAX_DIM + 1
    big = models.ornstein_uhlenbeck(K=1.0, D=1.0, dim=big_dim)
    res = nl.most_likely_path(
        big,
        np.zeros(big_dim),
        np.ones(big_dim),
        T=1.0,
        n=50,
        resolution=nl.ResolutionControl(check=False),
    )
    assert small.method == "newton" and res.method == "newton-krylov" and res.converged


def test_problem_describes_itself():
    p = PathProblem.fixed_time(OU2, [0.0, 0.0], [1.0, 0.0], t=np.array([0.0, 0.1, 0.5, 1.0]))
    assert p.describe()["grid"] == "explicit" and p.T == 1.0 and p.n == 3
