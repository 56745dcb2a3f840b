"""Ensembles: statistics against closed forms (fixed seeds, stated tolerances), the Fig. 1a count,
boundaries, conditioning, devices, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab.ensembles import ball, density, interval, predicate, simulate
from noetherlab.models import drift_diffusion, ornstein_uhlenbeck
from noetherlab.sde.model import SDE


def test_ou_stationary_mean_and_variance():
    # EM for dx = -x dt + sqrt(2) dW has the exact stationary variance 2dt/(1-(1-dt)^2) = 1/(1-dt/2).
    dt, n = 0.02, 100_000
    ens = simulate(ornstein_uhlenbeck(K=1.0, D=1.0, dim=2), [2.0, -1.0], 20.0, dt, n, key=3)
    var_em = 1.0 / (1.0 - dt / 2)
    se_mean, se_var = np.sqrt(var_em / n), var_em * np.sqrt(2.0 / n)
    assert np.all(np.abs(ens.final.mean(0)) < 4 * se_mean)
    assert np.all(np.abs(ens.final.var(0) - var_em) < 4 * se_var)


def test_running_statistics_follow_the_ou_mean_relaxation():
    dt = 0.01
    ens = simulate(
        ornstein_uhlenbeck(K=1.0, D=0.5, dim=1),
        3.0,
        2.0,
        dt,
        50_000,
        7,
        save="stats",
        save_every=50,
    )
    assert ens.mean is not None and ens.times is not None and ens.var is not None
    # E x_k = 3 (1 - dt)^k exactly for EM; Var x_k = (1 - (1-dt)^{2k}) dt / (1 - (1-dt)^2) * 2D
    k = np.round((ens.times - ens.t0) / dt)
    mean = 3.0 * (1 - dt) ** k
    var = (1 - (1 - dt) ** (2 * k)) * dt / (1 - (1 - dt) ** 2)
    assert np.allclose(ens.mean[:, 0], mean, atol=4 * np.sqrt(0.5 / 50_000))
    assert np.allclose(ens.var[:, 0], var, atol=4 * 0.5 * np.sqrt(2 / 50_000))


def _p_lower(v: float, sigma: float, x0: float, a: float, b: float) -> float:
    """P(Brownian motion with drift v, volatility sigma, exits (a, b) through a)."""
    s = 2 * v / sigma**2
    return (np.exp(-s * x0) - np.exp(-s * b)) / (np.exp(-s * a) - np.exp(-s * b))


def test_ddm_exit_probabilities_match_the_closed_form():
    v, sigma, x0, dt, n = 0.3, 1.0, 0.2, 1e-3, 40_000
    ens = simulate(
        drift_diffusion(v=v, sigma=sigma), x0, 10.0, dt, n, key=11, boundary=interval(-1, 1)
    )
    assert ens.exit_fraction() > 0.999  # essentially every path has decided by T = 10
    # Discrete monitoring misses excursions between steps: the classical correction moves the bounds
    # outwards by beta sigma sqrt(dt), beta = -zeta(1/2)/sqrt(2 pi) = 0.5826 (Broadie-Glasserman-Kou).
    shift = 0.5826 * sigma * np.sqrt(dt)
    p_corrected = _p_lower(v, sigma, x0, -1 - shift, 1 + shift)
    p_exact = _p_lower(v, sigma, x0, -1.0, 1.0)
    p = ens.exit_fraction("lower")
    se = np.sqrt(p * (1 - p) / n)
    assert abs(p - p_corrected) < 4 * se
    assert abs(p - p_exact) < 4 * se + 0.01
    # exit states are clipped onto the bounds; exit times lie on the grid
    lower = ens.exit_label == 1
    assert np.all(ens.exit_state[lower, 0] == -1.0)
    assert np.allclose(np.round(ens.exit_time[lower] / dt) * dt, ens.exit_time[lower])


def _fig1a_ensemble(**kwargs):
    """The Fig. 1a set-up: DDM v = 0.1, sigma = 1 from 0.5, bounds at ±1, dt = 0.025, T = 1."""
    ddm = drift_diffusion(v=0.1, sigma=1.0)
    return simulate(ddm, 0.5, 1.0, 0.025, 100_000, key=0, boundary=interval(-1, 1), **kwargs)


def test_fig1a_paper_stream_keeps_981_paths():
    ens = _fig1a_ensemble(paper_stream=True)
    kept = ens.condition(exit="lower", window=(0.95, 1.0))
    assert kept.n_paths == 981


def test_conditioned_ensemble_concentrates_around_the_straight_line():
    ens = _fig1a_ensemble(save="paths", save_every=1)
    kept = ens.condition(exit="lower", window=(0.95, 1.0))
    assert 800 < kept.n_paths < 1200  # same law as the paper's 981, another random stream
    assert kept.mask is not None and kept.mask.sum() == kept.n_paths and len(kept.mask) == 100_000
    cmp = kept.compare([0.0, 1.0], [[0.5], [-1.0]])
    # The most likely (straight) path lies inside the tube of the late wrong-decision paths; their
    # mean sits above it (conditioning on *no earlier* exit pushes paths away from the bound).
    shift = cmp["mean_path"][:, 0] - (0.5 - 1.5 * cmp["times"])
    tube = cmp["tube_width"]
    assert tube[0] == 0.0 and 0.25 < tube.max() < 0.5
    assert np.all(np.abs(shift[1:-1]) < tube[1:-1]) and np.all(shift[1:-1] > -0.01)
    assert cmp["mean_path_to_reference_max"] < 0.3


def test_end_ball_conditioning_and_density():
    ens = simulate(ornstein_uhlenbeck(K=1.0, D=1.0, dim=2), [0.0, 0.0], 1.0, 0.01, 20_000, key=1)
    sub = ens.condition(end_ball=([1.0, 1.0], 0.5))
    assert sub.n_paths > 0 and np.all(np.linalg.norm(sub.final - 1.0, axis=1) <= 0.5)
    d = density(ens.final, bins=20, range=[[-4, 4], [-4, 4]])
    cell = float((d.x0[1] - d.x0[0]) * (d.x1[1] - d.x1[0]))
    assert d.dims == ("x0", "x1") and float(d.sum()) * cell == pytest.approx(1.0, abs=1e-3)


def test_ball_and_predicate_boundaries_absorb():
    ou = ornstein_uhlenbeck(K=1.0, D=1.0, dim=2)
    e1 = simulate(ou, [0.0, 0.0], 5.0, 0.01, 2000, key=2, boundary=ball([1.5, 0.0], 0.3))
    hit = e1.exit_label == 1
    assert hit.any() and np.all(np.linalg.norm(e1.final[hit] - [1.5, 0.0], axis=1) <= 0.3)
    e2 = simulate(ou, [0.0, 0.0], 5.0, 0.01, 2000, key=2, boundary=predicate(lambda x: x[0] > 1.0))
    assert np.all(e2.final[e2.exit_label == 1, 0] > 1.0)


def test_chunking_bounds_memory_but_keeps_the_law():
    ou = ornstein_uhlenbeck(K=1.0, D=1.0, dim=1)
    a = simulate(ou, 0.0, 1.0, 0.05, 10_000, key=5, chunk_size=1_000)
    b = simulate(ou, 0.0, 1.0, 0.05, 10_000, key=5, chunk_size=1_000)
    assert a.parameters["chunks"] == 10 and np.array_equal(a.final, b.final)  # reproducible
    c = simulate(ou, 0.0, 1.0, 0.05, 10_000, key=5)
    assert abs(a.final.var() - c.final.var()) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"dt": 0.0}, "dt"),
        ({"dt": -0.1}, "dt"),
        ({"dt": 2.0}, "dt"),
        ({"dt": 0.3}, "dt"),  # T/dt not an integer
        ({"n_paths": 0}, "n_paths"),
        ({"T": float("nan")}, "T"),
        ({"save": "all"}, "save"),
        ({"x0": [0.0, 1.0]}, "x0"),
    ],
)
def test_bad_input_is_rejected_clearly(kwargs, argument):
    args = {"x0": 0.0, "T": 1.0, "dt": 0.1, "n_paths": 10} | kwargs
    with pytest.raises(InvalidArgumentError) as info:
        simulate(
            drift_diffusion(),
            args.pop("x0"),
            args.pop("T"),
            args.pop("dt"),
            args.pop("n_paths"),
            **args,
        )
    assert info.value.argument == argument


def test_nan_mid_run_names_path_and_step():
    blowup = SDE(lambda x: x**3, diffusion=1e-6, dim=1, name="blow-up")
    x0 = np.array([[0.1], [0.2], [3.0]])
    with pytest.raises(NonFiniteError, match=r"path 2 became non-finite at step \d+"):
        simulate(blowup, x0, 10.0, 0.1, 3, key=0)


def test_ensembles_shard_across_local_devices():
    code = (
        "import json, numpy as np, jax;"
        "from noetherlab.models import ornstein_uhlenbeck;"
        "from noetherlab.ensembles import simulate;"
        "e = simulate(ornstein_uhlenbeck(K=1.0, D=1.0, dim=2), [1.0, 0.0], 1.0, 0.1, 1000, key=4);"
        "print(json.dumps({'devices': e.parameters['devices'], 'final': e.final.tolist()}))"
    )
    env = os.environ | {
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    sharded = json.loads(out.stdout.strip().splitlines()[-1])
    single = simulate(ornstein_uhlenbeck(K=1.0, D=1.0, dim=2), [1.0, 0.0], 1.0, 0.1, 1000, key=4)
    assert sharded["devices"] == 2
    # the same key gives the same paths whether the chunk is split over one device or two
    assert np.allclose(np.asarray(sharded["final"]), single.final, rtol=0, atol=1e-12)


def test_simulation_compiles_once_per_model_and_boundary_rule():
    # new drift parameter, new bounds, new start time and key: the compiled chunk is reused
    # (counted in the jit cache of the module-level runner); only a new rule (a ball) compiles
    from noetherlab.ensembles import simulation as sampling

    def compiled() -> int:
        return sampling._run_chunk._cached._cache_size()

    simulate(drift_diffusion(v=0.1), [0.0], 1.0, 0.01, 64, key=1, boundary=interval(-1.0, 1.0))
    before = compiled()
    ens = simulate(
        drift_diffusion(v=0.7), [0.0], 1.0, 0.01, 64, key=2, t0=0.5, boundary=interval(-2.0, 0.5)
    )
    assert compiled() == before and ens.exit_fraction("upper") > 0
    simulate(drift_diffusion(v=0.7), [0.0], 1.0, 0.01, 64, boundary=ball([0.4], 0.1))
    assert compiled() == before + 1


def test_a_union_of_balls_is_one_set_with_its_own_reference_state():
    from noetherlab.ensembles import Region, balls
    from noetherlab.ensembles.reaction import region

    both = balls([[0.0, 0.0], [2.0, 0.0]], [0.5, 0.25])
    inside = Region(both, np.array([0.0, 0.0])).contains([[0.4, 0.0], [2.2, 0.0], [1.0, 0.0],
                                                           [2.3, 0.0]])  # fmt: skip
    assert inside.tolist() == [True, True, False, False]
    with pytest.raises(InvalidArgumentError, match="reference state"):
        region(both, "A", 2)  # unlike one ball, a union has no centre to read off
    with pytest.raises(InvalidArgumentError, match="radii"):
        balls([[0.0, 0.0]], -1.0)
