"""Paths with specific structure: exact discrete Noether, saddles of the action, instantons,
shooting, continuation, persistence."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab import PathStatus, models
from noetherlab._core.errors import UnderResolvedWarning
from noetherlab.paths import load_path
from noetherlab.paths.continuation import path_family
from noetherlab.paths.solvers.shooting import shoot, shooting_path

OU2 = models.ornstein_uhlenbeck(K=1.0, D=1.0, dim=2)
MS = models.maier_stein(beta=10.0)


def test_exact_discrete_noether_vs_second_order_energy():
    """Discrete minimiser on a fixed grid: rotation charge exact, energy only O(h²) (ratio 4)."""
    J = jnp.array([[0.0, -1.0], [1.0, 0.0]])
    sde = nl.SDE(
        lambda x: -x + 1.5 * J @ x - 0.5 * jnp.tanh(jnp.sum(x * x)) * x, diffusion=0.3, dim=2
    )
    drifts = []
    for n in (200, 400):
        res = nl.most_likely_path(
            sde,
            [1.0, 0.0],
            [-0.5, 0.8],
            T=2.0,
            n=n,
            solver=nl.BlockNewton(gtol=1e-13),
            resolution=nl.ResolutionControl(check=False),
        )
        assert res.status is PathStatus.successful
        assert res.charges.angular_momentum.drift < 1e-11
        drifts.append(res.charges.energy.drift)
    assert drifts[0] > 1e-7 and 3.0 < drifts[0] / drifts[1] < 5.0


def test_maier_stein_saddle_escape_and_instanton():
    """The straight line (-1, 0) → (0, 0) is a saddle of the action (the v = 0 axis); Newton must
    leave it. Instanton reference 0.1700207017: our own resolution study, E = 0, n = 200 … 3200,
    observed order 2.00, Richardson from 1600/3200; it agrees with CriticalTransitions.jl's coarse
    gMAM (0.33709 at 30 points in the peer's ½∫|ẋ-f|² convention, i.e. 0.16855 in ours)."""
    res = nl.most_likely_path(
        MS, [-1.0, 0.0], [0.0, 0.0], T=5.0, n=1000, resolution=nl.ResolutionControl(check=False)
    )
    assert res.status is PathStatus.successful
    assert res.stats["negative_curvature_steps"] >= 1
    assert np.max(np.abs(res.x[:, 1])) > 0.2  # off the axis
    on_axis = nl.action(MS, res.x * [1.0, 0.0], res.t)
    assert res.action < 0.8 * on_axis
    inst = nl.most_likely_path(
        MS, [-1.0, 0.0], [0.0, 0.0], energy=0.0, n=400, resolution=nl.ResolutionControl(check=False)
    )
    assert inst.status is PathStatus.successful and inst.T == np.inf
    assert inst.action == pytest.approx(0.1700207017, rel=2e-5)
    assert inst.action < res.action  # more time, cheaper transition


def test_lbfgs_agrees_with_newton_or_says_why_not():
    init = np.linspace([-1.0, 0.0], [0.0, 0.0], 201) + np.sin(np.linspace(0, np.pi, 201))[
        :, None
    ] * [0, -0.2]
    kw = {"T": 2.0, "n": 200, "init": init, "resolution": nl.ResolutionControl(check=False)}
    rn = nl.most_likely_path(MS, [-1.0, 0.0], [0.0, 0.0], **kw)
    rl = nl.most_likely_path(MS, [-1.0, 0.0], [0.0, 0.0], solver=nl.LBFGS(max_steps=20000), **kw)
    assert rn.status is PathStatus.successful
    assert rl.action == pytest.approx(rn.action, rel=1e-10)
    # L-BFGS reaches the action but stalls near residual 1e-8 at float64 resolution: either it
    # converged or its status is the structured reason
    assert rl.status in (PathStatus.successful, PathStatus.line_search_failed)
    assert rl.converged == (rl.el_residual <= 1e-8)


def test_shooting_cross_checks_newton():
    rn = nl.most_likely_path(OU2, [-2.0, 2.0], [2.0, 2.0], T=1.0, n=2000)
    rs = shooting_path(OU2, [-2.0, 2.0], [2.0, 2.0], T=1.0)
    assert rs.status is PathStatus.successful and rs.el_residual < 1e-9
    assert rs.action == pytest.approx(rn.action, rel=1e-7)
    rn = nl.most_likely_path(
        MS, [-1.0, 0.0], [0.0, 0.0], T=3.0, n=1000, resolution=nl.ResolutionControl(check=False)
    )
    rs = shooting_path(MS, [-1.0, 0.0], [0.0, 0.0], T=3.0, init=rn, segments=3)
    assert rs.status is PathStatus.successful and rs.action == pytest.approx(rn.action, rel=1e-5)


def test_shooting_to_a_saddle_at_zero_energy_is_refused_clearly():
    with pytest.raises(nl.errors.InvalidArgumentError, match="infinite time") as info:
        shooting_path(MS, [-1.0, 0.0], [0.0, 0.0], energy=0.0)
    assert info.value.argument == "energy"


def test_shoot_with_prescribed_momentum():
    traj = shoot(OU2, [1.0, 0.0], [0.0, 0.5], 1.0)
    assert traj.successful
    assert traj.charges.angular_momentum.drift < 1e-9 and traj.charges.energy.drift < 1e-9
    assert traj.charges.angular_momentum.values[0, 0, 1] == pytest.approx(0.5)  # x p_y - y p_x
    blow = shoot(nl.SDE(lambda x: x**3, diffusion=1.0, dim=1), [1.0], [1.0], 5.0)
    assert blow.status is PathStatus.integration_failed and not blow.successful
    assert np.all(np.isfinite(blow.x))


def test_continuation_family_dataset():
    ds = path_family(
        OU2,
        [-2.0, 2.0],
        [2.0, 2.0],
        T=[0.5, 1.0, 2.0, 4.0],
        n=400,
        resolution=nl.ResolutionControl(check=False),
    )
    assert ds.sizes["member"] == 4 and ds["x"].shape == (4, 401, 2)
    assert bool(ds["converged"].all())
    assert np.all(np.diff(ds["action"].values) < 0) and np.all(np.diff(ds["energy"].values) < 0)
    assert ds.attrs["parameter"] == "T" and "noetherlab_version" in ds.attrs


def test_divergent_drift_reported_not_nan():
    sde = nl.SDE(lambda x: 1e3 * x**5, diffusion=1e-3, dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderResolvedWarning)
        res = nl.most_likely_path(sde, 0.0, 3.0, T=10.0, n=20, solver=nl.BlockNewton(max_steps=5))
    assert res.status is PathStatus.max_iterations and not res.converged
    assert np.all(np.isfinite(res.x)) and np.isfinite(res.action)


def test_save_and_load_round_trip(tmp_path):
    res = nl.most_likely_path(OU2, [-2.0, 2.0], [2.0, 2.0], T=1.0, n=200)
    path = tmp_path / "p.nc"
    nl.io.save_dataset(path, res.to_dataset())
    back = load_path(path)
    assert back.converged is True and back.status is PathStatus.successful
    np.testing.assert_array_equal(back.x, res.x)
    assert back.action == res.action and back.el_residual == res.el_residual
    assert back.charges.angular_momentum.drift == pytest.approx(
        res.charges.angular_momentum.drift, rel=1e-12
    )
    assert back.resolution == res.resolution
