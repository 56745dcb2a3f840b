"""Rare events on the landscape: reaction coordinates, landscape rates at the model's noise (AMS
and the grid generator), charges of reactive trajectories.

References: the 1-D double well ``dx = (x − x³) dt + sqrt(2ε) dW`` has the exact mean first-passage
time from −1 to 0.9 by quadrature (65.287 for ε = 0.1, scipy.integrate.quad, see
tests/ensembles/test_splitting.py); its instanton and descent have energy E = 0 exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.status import RateStatus
from noetherlab.ensembles import ams
from noetherlab.metastability.reaction_coordinates import (
    committor_coordinate,
    instanton_coordinate,
    transition_coordinate,
)
from noetherlab.metastability.reactive import reactive_charges
from noetherlab.sde.model import SDE

MFPT_EPS_01 = 65.287  # quadrature, ε = 0.1, from −1 to 0.9


def double_well(eps: float) -> SDE:
    return SDE(lambda x: x - x**3, diffusion=eps, dim=1, name="double_well")


def test_instanton_coordinate_is_normalised_arclength_with_a_distance_tie_breaker():
    path = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])  # length 2
    xi = instanton_coordinate(path)
    values = [float(xi(np.asarray(p))) for p in ([0.0, 0.0], [0.5, 0.0], [1.0, 0.5], [1.0, 1.0])]
    assert np.allclose(values, [0.0, 0.25, 0.75, 1.0], atol=1e-12)
    # off the path: the foot's arclength minus 1e-3 per path length of distance
    assert float(xi(np.asarray([0.5, -0.2]))) == pytest.approx(0.25 - 1e-3 / 2 * 0.2, abs=1e-12)
    with pytest.raises(InvalidArgumentError, match="path"):
        instanton_coordinate(np.zeros((3, 2)))


def test_transition_coordinate_continues_past_the_saddle_to_the_target():
    sde = double_well(0.1)
    up = np.linspace(-1.0, 0.0, 11)[:, None]
    xi = transition_coordinate(sde, up, [1.0])
    s = [float(xi(np.asarray([v]))) for v in (-1.0, -0.5, 0.0, 0.5, 0.99)]
    assert np.all(np.diff(s) > 0) and s[0] == pytest.approx(0.0, abs=1e-9)
    assert s[2] == pytest.approx(0.5, abs=0.02)  # the saddle halfway (symmetric well)


def test_committor_coordinate_is_the_log_of_the_grid_committor():
    sde = SDE(lambda z: np.array([1.0, -1.0]) * z - np.array([1.0, 0.0]) * z**3, diffusion=0.15,
              dim=2)  # fmt: skip
    grid = nl.fokker_planck(sde, [(-2, 2), (-1.5, 1.5)], 40)
    A, B = (np.array([-1.0, 0.0]), 0.2), (np.array([1.0, 0.0]), 0.2)
    xi = committor_coordinate(grid, A, B)
    q = grid.committor(A, B).reshape(-1)
    c = grid.centers
    k = int(np.argmin(np.linalg.norm(c - [0.05, 0.0], axis=1)))
    assert float(xi(np.asarray(c[k]))) == pytest.approx(np.log(q[k]), rel=1e-10)
    assert xi.name == "committor"


def test_landscape_grid_rates_match_the_quadrature():
    land = nl.landscape(double_well(0.1), (-2, 2), n=128, rates=nl.GridRates((-2.5, 2.5), 400))
    for t in land.transitions:
        assert t.sampled.method is RateStatus.grid
        lo, hi = t.sampled.interval
        # the half-grid difference as the error bar, plus 0.5 % for the ball's cell edges
        assert lo * 0.995 < MFPT_EPS_01 < hi * 1.005, t.sampled
        assert t.mean_exit_time == pytest.approx(54.14, rel=1e-3)  # Eyring–Kramers, side by side
    assert "grid" in land.summary()
    assert land.as_dict()["transitions"][0]["sampled"]["method"] == "grid"


def test_quasi_potential_coordinate_is_antisymmetric_and_normalises_the_exact_field():
    # f = (x − x³, −y), D = ε I (gradient of U = x⁴/4 − x²/2 + y²/2): V_a, V_b are mirror images,
    # so ξ(x, y) + ξ(−x, y) = 1 and ξ = 1/2 at the saddle; V_a = (U − U(a))/ε in a's basin
    import jax.numpy as jnp

    eps = 0.05
    sde = SDE(lambda z: jnp.stack([z[..., 0] - z[..., 0] ** 3, -z[..., 1]], axis=-1),
              diffusion=eps, dim=2)  # fmt: skip
    a, s, b = np.array([-1.0, 0.0]), np.zeros(2), np.array([1.0, 0.0])
    xi = nl.quasi_potential_coordinate(sde, a, b, s, [(-2, 2), (-1.5, 1.5)], cells=80, rays=1000)
    assert xi.name == "quasi-potential"
    at = lambda x, y: float(xi(jnp.asarray([x, y])))
    assert at(0.0, 0.0) == pytest.approx(0.5, abs=2e-3)
    assert at(-1.0, 0.0) < 1e-3 and at(1.0, 0.0) > 1 - 1e-3
    for x, y in [(-0.5, 0.0), (-0.3, 0.4), (-1.2, -0.6), (-0.8, 1.0)]:
        assert at(x, y) + at(-x, y) == pytest.approx(1.0, abs=1e-2), (x, y)
        assert at(x, y) < 0.5  # a's basin
    line = [at(x, 0.0) for x in np.linspace(-1.0, 1.0, 11)]
    assert np.all(np.diff(line) > 0)
    # the field itself in a's basin: a cell holds the least action of the ray points inside it,
    # so it lies between the extremes of V_a = (U − U(a))/ε over the cell's corners
    va, _, lo, h = (np.asarray(p) for p in xi.params)
    U = lambda x, y: x**4 / 4 - x**2 / 2 + y**2 / 2
    for x, y in [(-0.8, 0.2), (-1.2, -0.3), (-0.6, 0.0)]:
        i, j = ((np.array([x, y]) - lo) // h).astype(int)
        corners = [(U(*(lo + (np.array([i, j]) + c) * h)) - U(-1.0, 0.0)) / eps
                   for c in ((0, 0), (0, 1), (1, 0), (1, 1))]  # fmt: skip
        assert 0.99 * min(corners) <= va[i, j] <= 1.01 * max(corners), (x, y, va[i, j], corners)
    with pytest.raises(InvalidArgumentError, match="box"):
        nl.SampledRates(coordinate="quasi-potential")


def test_landscape_sampled_rates_label_and_bracket_the_exit_time():
    # at ΔV/ε = 2.5 one in seven free chains crosses within a block: "auto" would simulate it
    options = nl.SampledRates(replicas=16, repetitions=4, dt=5e-3, loops=64, chains=16, key=1,
                              method="splitting")  # fmt: skip
    land = nl.landscape(double_well(0.1), (-2, 2), n=128, rates=options)
    t = land.transitions[0]
    assert t.sampled.method is RateStatus.sampled
    lo, hi = t.sampled.interval
    assert 0 < lo < t.sampled.mean_exit_time < hi
    # a small run: its 95 % interval, widened by 10 % for dt = 5e-3, holds the exact value
    assert 0.9 * lo < MFPT_EPS_01 < 1.1 * hi, t.sampled.message
    assert "instanton coordinate" in t.sampled.message
    with pytest.raises(InvalidArgumentError, match="rates"):
        nl.landscape(double_well(0.1), (-2, 2), n=64, rates="sampling")
    with pytest.raises(InvalidArgumentError, match="box"):
        nl.SampledRates(coordinate="committor")


def test_reactive_charges_concentrate_on_the_instanton_energy_as_noise_decreases():
    spreads, means = [], []
    for eps in (0.12, 0.06):
        run = ams(double_well(eps), [-0.6], [-1.0], [1.0], radius=0.1, replicas=30,
                  repetitions=4, dt=2e-3, save_every=5, key=2)  # fmt: skip
        ch = reactive_charges(double_well(eps), run, window=0.05)
        spreads.append(ch.spread("energy"))
        means.append(ch.mean("energy"))
        assert np.isclose(ch.weights.sum(), 1.0) and np.all(np.isnan(ch.angular_momentum))
    # the instanton's energy is 0; the sampled one approaches it and narrows (like sqrt(eps))
    assert spreads[1] < spreads[0]
    assert abs(means[1]) < abs(means[0]) + spreads[1]
    assert abs(means[1]) < 2 * spreads[1]


def test_half_space_sets_give_the_one_dimensional_exit_time_in_eight_dimensions():
    # x1 is the double well, x2..x8 independent OU (f = −x): the hitting time of {x1 >= 0.9} is
    # the 1-D quadrature value. Balls of radius 0.1 about ±1 are almost never entered here (the
    # seven OU coordinates spread over |x⊥| ≈ 0.84), the half-spaces of the chord are. The
    # default surface reads the free chains from A only before they reach B (ΔV/ε = 2.5 here).
    from noetherlab.ensembles import Region, chord_coordinate, half_space, sampled_exit_time

    eps, N = 0.1, 8
    import jax.numpy as jnp

    def drift(x):
        return jnp.concatenate([x[..., :1] - x[..., :1] ** 3, -x[..., 1:]], axis=-1)

    sde = SDE(drift, diffusion=eps, dim=N, name="double_well_8d")
    a, b = -np.eye(N)[0], np.eye(N)[0]
    A = Region(half_space(a, b, 0.05, "below"), a)  # x1 <= −0.9
    B = Region(half_space(a, b, 0.95, "above"), b)  # x1 >= 0.9
    out = sampled_exit_time(
        sde, A, B, score=chord_coordinate(a, b), replicas=12, repetitions=3, dt=5e-3,
        loops=32, chains=16, key=2, method="splitting",
    )  # fmt: skip
    assert out.ok, out.message
    lo, hi = out.interval
    assert 0.9 * lo < MFPT_EPS_01 < 1.1 * hi, out.message  # as the 1-D test: dt = 5e-3 → 10 %
    with pytest.raises(InvalidArgumentError, match="level/side"):
        half_space(a, b, 1.2, "above")
    with pytest.raises(InvalidArgumentError, match="sets"):
        nl.SampledRates(sets="cubes")
