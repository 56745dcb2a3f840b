"""Slow points, branches with folds, limit cycles and continuous attractors (issue 29).

Reference values: the ghost of a saddle-node ``ẋ = μ + x²`` (μ > 0) has its slowest point at
``x = 0`` with ``q = μ²/2``; the fold of ``ẋ = u + x − x³`` is at ``u = ±2/(3√3)``, ``x = ∓1/√3``;
Van der Pol (μ = 1) and FitzHugh–Nagumo periods are compared with an independent direct
integration (SciPy DOP853, rtol 1e-13, successive section crossings); the rotation-equivariant
ring ``ẋ = −x + 2 tanh(|x|) x/|x|`` has radius ``r = 2 tanh r``, normal rate ``−1 + 2 sech² r`` and
angular diffusion ``D/r²``."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError
from noetherlab.metastability.bifurcations import fixed_point_branch
from noetherlab.metastability.limit_cycles import find_limit_cycle
from noetherlab.metastability.manifolds import attractor_manifold


def test_exact_fixed_points_of_a_double_well_product():
    sde = nl.SDE(lambda x: x - x**3, diffusion=0.1, dim=2)
    seeds = np.random.default_rng(0).uniform(-1.5, 1.5, (400, 2))
    found = nl.find_slow_points(sde, seeds)
    assert len(found.fixed_points) == 9 and not found.slow_points
    assert {p.kind for p in found.attractors} == {"stable node"} and len(found.attractors) == 4
    assert sorted(p.index for p in found.points) == [0] * 4 + [1] * 4 + [2]
    corners = np.sort(np.abs(found.states("stable")), axis=0)
    np.testing.assert_allclose(corners, 1.0, atol=1e-14)
    assert max(p.q for p in found.points) < 1e-28


def test_a_slow_point_is_the_ghost_of_a_saddle_node():
    mu = 1e-3
    sde = nl.SDE(lambda x: mu + x**2, diffusion=0.1, dim=1)
    found = nl.find_slow_points(sde, np.linspace(-0.5, 0.5, 64)[:, None], q_tol=1e-5)
    (p,) = found.points
    assert not p.exact and found.fixed_points == []
    np.testing.assert_allclose(p.x, 0.0, atol=1e-9)
    np.testing.assert_allclose(p.q, mu**2 / 2, rtol=1e-10)


def test_slow_point_search_refuses_bad_states():
    sde = nl.SDE(lambda x: -x, diffusion=0.1, dim=2)
    with pytest.raises(ShapeError, match="states"):
        nl.find_slow_points(sde, np.zeros((5, 3)))
    with pytest.raises(ShapeError, match="states"):
        nl.find_slow_points(sde, np.full((5, 2), np.nan))
    with pytest.raises(InvalidArgumentError, match="perturbation"):
        nl.find_slow_points(sde, np.zeros((5, 2)), perturbation=-1.0)


def test_fold_of_the_cubic_located_exactly():
    branch = fixed_point_branch(lambda x, u: u + x - x**3, [-1.5], (-1.0, 1.0))
    assert branch.status is nl.SearchStatus.branch_complete
    exact = 2.0 / (3.0 * np.sqrt(3.0))
    mus = sorted(f.mu for f in branch.folds)
    np.testing.assert_allclose(mus, [-exact, exact], atol=1e-12)  # the issue asks for 1e-4
    np.testing.assert_allclose(
        sorted(abs(f.x[0]) for f in branch.folds), 1 / np.sqrt(3), atol=1e-12
    )
    # the outer parts of the S are attractors, the middle one is a repeller
    middle = np.abs(branch.x[:, 0]) < 1 / np.sqrt(3) - 1e-3
    outer = np.abs(branch.x[:, 0]) > 1 / np.sqrt(3) + 1e-3
    assert np.all(branch.stable[outer]) and not np.any(branch.stable[middle])
    assert middle.any() and outer.any()


def test_branch_arguments():
    with pytest.raises(InvalidArgumentError, match="mu"):
        fixed_point_branch(lambda x, u: u - x, [0.0], (1.0, 1.0))
    with pytest.raises(InvalidArgumentError, match="x0"):
        fixed_point_branch(lambda x, u: u + x**2, [0.0], (1.0, 2.0))  # no fixed point at u = 1
    with pytest.raises(ShapeError, match="drift"):
        fixed_point_branch(lambda x, u: jnp.sum(x) + u, [0.0, 0.0], (0.0, 1.0))


def _direct_period(f, y0, t_end):
    def event(t, y):
        return y[0]

    event.direction = 1
    sol = solve_ivp(f, (0, t_end), y0, method="DOP853", rtol=1e-13, atol=1e-13, events=event)
    return float(np.diff(sol.t_events[0])[-1])


def test_van_der_pol_and_fitzhugh_nagumo_limit_cycles():
    vdp = nl.SDE(lambda x: jnp.array([x[1], (1 - x[0] ** 2) * x[1] - x[0]]), diffusion=0.01, dim=2)
    cycle = find_limit_cycle(vdp, [0.5, 0.0])
    assert cycle.status is nl.SearchStatus.cycle_found and cycle.stable
    direct = _direct_period(lambda t, y: [y[1], (1 - y[0] ** 2) * y[1] - y[0]], [0.5, 0.0], 400)
    assert abs(cycle.period - direct) < 1e-6
    np.testing.assert_allclose(cycle.period, 6.663286859323, atol=1e-9)  # e.g. Strogatz, tables
    # the non-trivial Floquet multiplier is exp(∮ div f dt) for a planar flow
    div = np.trapezoid(1 - cycle.x[:, 0] ** 2, cycle.t)
    np.testing.assert_allclose(abs(cycle.nontrivial_multipliers[0]), np.exp(div), rtol=1e-4)

    def fhn(y):
        return [y[0] - y[0] ** 3 / 3 - y[1] + 0.5, 0.08 * (y[0] + 0.7 - 0.8 * y[1])]

    model = nl.SDE(lambda x: jnp.array(fhn(x)), diffusion=0.01, dim=2)
    cycle = find_limit_cycle(model, [0.0, 0.0])
    assert (
        cycle.found and abs(cycle.period - _direct_period(lambda t, y: fhn(y), [0, 0], 1000)) < 1e-6
    )


def test_limit_cycle_search_says_when_there_is_none():
    ou = nl.SDE(lambda x: -x, diffusion=0.01, dim=2)
    assert find_limit_cycle(ou, [1.0, 1.0]).status is nl.SearchStatus.settled_on_point
    with pytest.raises(UnsupportedModelError, match="one-dimensional"):
        find_limit_cycle(nl.SDE(lambda x: -x, diffusion=0.01, dim=1), [1.0])


def _ring(D=0.01):
    sde = nl.models.equivariant_rnn(rotation=0.0, noise=D)
    r = 1.0
    for _ in range(200):
        r = 2 * np.tanh(r)
    return sde, r


def test_exact_ring_manifold_drift_stability_and_diffusion():
    D = 0.01
    sde, r = _ring(D)
    seeds = 2.5 * np.random.default_rng(0).standard_normal((256, 2))
    found = nl.find_slow_points(sde, seeds, q_tol=1e-14)
    points = np.stack([p.x for p in found.points if p.kind != "unstable node"])
    ring = attractor_manifold(sde, points, kind="ring")
    assert ring.kind == "ring" and ring.dimension == 1 and ring.gap > 1e6
    np.testing.assert_allclose(ring.length, 2 * np.pi * r, rtol=1e-3)
    assert np.max(np.abs(ring.drift)) < 1e-12
    np.testing.assert_allclose(ring.normal_rate, -1 + 2 / np.cosh(r) ** 2, atol=1e-9)
    np.testing.assert_allclose(ring.effective_diffusion, D / r**2, rtol=1e-3)
    assert ring.symmetry is not None and ring.symmetry.kind == "rotation"
    # simulation: the angle's variance grows as 2 D_θ t (4000 paths: ±2.2 % standard error)
    theta0 = 0.3
    ens = nl.simulate(
        sde, r * np.array([np.cos(theta0), np.sin(theta0)]), T=10.0, dt=0.005, n_paths=4000, key=1
    )
    angle = np.mod(np.arctan2(ens.final[:, 1], ens.final[:, 0]) - theta0 + np.pi, 2 * np.pi) - np.pi
    np.testing.assert_allclose(np.var(angle) / 20.0, ring.effective_diffusion, rtol=0.08)


def test_manifold_refusals():
    sde, r = _ring()
    arc = r * np.stack([np.cos(np.linspace(0, 2, 20)), np.sin(np.linspace(0, 2, 20))], axis=1)
    with pytest.raises(UnsupportedModelError, match="do not close into a ring"):
        attractor_manifold(sde, arc, kind="ring")
    assert attractor_manifold(sde, arc).kind == "line"  # an arc of the ring: a line
    plane = nl.SDE(lambda x: jnp.array([0.0, 0.0, -x[2]]), diffusion=0.1, dim=3)
    pts = np.c_[np.random.default_rng(0).standard_normal((20, 2)), np.zeros(20)]
    with pytest.raises(UnsupportedModelError, match="dimension 2"):
        attractor_manifold(plane, pts, kind="ring")
    with pytest.raises(ShapeError, match="at least 8"):
        attractor_manifold(sde, arc[:3])
