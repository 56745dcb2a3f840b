"""Adaptive multilevel splitting: AMS and TAMS against exact quadratures and an independent grid
solve, ties, the single-run variance, determinism, the loop decomposition, and bad input.

Reference values: the 1-D double well ``dx = (x − x³) dt + sqrt(2ε) dW`` (``U = x⁴/4 − x²/2``) has
the committor ``q(x) = ∫_a^x e^{U/ε} / ∫_a^b e^{U/ε}`` and the mean first-passage time
``T(x) = ε⁻¹ ∫_x^b e^{U(y)/ε} ∫_{-∞}^y e^{-U(z)/ε} dz dy`` (scipy.integrate.quad); the TAMS
probability is checked against ``1 − exp(T Q_CC) 1`` of the Fokker–Planck grid generator
(scipy.sparse.linalg.expm_multiply), an independent computation. All runs are seeded: the
assertions hold deterministically; the tolerances (2 or 3 standard errors of the run, stated
per test) are those that a correct estimator meets with probability ≥ 95 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab._core.status import SplittingStatus
from noetherlab.ensembles import ams, ball, sampled_exit_time, tams
from noetherlab.sde.model import SDE


def U(x: float) -> float:
    return x**4 / 4 - x**2 / 2


def double_well(eps: float) -> SDE:
    return SDE(lambda x: x - x**3, diffusion=eps, dim=1, name=f"double_well({eps})")


def committor(x: float, a: float, b: float, eps: float) -> float:
    g = lambda y: np.exp((U(y) - U(0.0)) / eps)
    return quad(g, a, x)[0] / quad(g, a, b)[0]


def mfpt(x: float, b: float, eps: float) -> float:
    def inner(y: float) -> float:
        return quad(lambda z: np.exp(-(U(z) - U(-1.0)) / eps), -np.inf, y)[0]

    outer = quad(lambda y: np.exp((U(y) - U(-1.0)) / eps) * inner(y), x, b, limit=200)[0]
    return outer / eps


@pytest.fixture(scope="module")
def dw_run():
    # p = q(-0.7) = 4.771e-3 for eps = 0.05, A = [-1.1, -0.9], B = [0.9, 1.1]
    sde = double_well(0.05)
    return ams(sde, [-0.7], [-1.0], [1.0], radius=0.1, replicas=50, repetitions=16, dt=2e-3,
               save_every=10, key=3)  # fmt: skip


def test_ams_probability_matches_the_exact_committor(dw_run):
    exact = committor(-0.7, -0.9, 0.9, 0.05)
    assert dw_run.status is SplittingStatus.estimated and dw_run.ok
    assert abs(dw_run.probability - exact) < 2 * dw_run.std_error  # 2 standard errors
    assert dw_run.interval[0] < exact < dw_run.interval[1]
    assert 0.01 < dw_run.relative_error < 0.2


def test_single_run_variance_estimate_agrees_with_the_spread_of_repetitions(dw_run):
    # the genealogical estimate is an estimate of the same standard error: within a factor 2
    ratio = dw_run.single_run_std_error / dw_run.std_error
    assert 0.5 < ratio < 2.0, ratio


def test_reactive_trajectories_are_weighted_and_end_in_B(dw_run):
    rt = dw_run.reactive
    assert len(rt) > 0
    assert np.isclose(rt.weights.sum(), dw_run.probability, rtol=1e-12)
    last = rt.paths[np.arange(len(rt)), rt.lengths - 1, 0]
    assert np.all(last >= 0.9) and np.all(rt.paths[:, 0, 0] == -0.7)
    assert np.all(rt.durations > 0) and np.all(np.diff(rt.times, axis=1) >= 0)
    # levels increase and end in B
    for lev in dw_run.levels:
        assert np.all(np.diff(lev) >= 0) and lev[-1] < 1.0


def test_coarse_levels_make_ties_and_stay_unbiased():
    # 25 levels: iterations kill many tied replicas (K_j > k, up to 33 of 50); killing all ties
    # keeps the estimator unbiased (Bréhier et al. 2016). Three standard errors. (With 10 levels
    # too, over 64 repetitions: -0.96 standard errors; with 16 the estimates are too skewed for a
    # 3-standard-error test — the genealogy collapses to 4-8 of 50 lines.)
    sde = double_well(0.05)
    run = ams(sde, [-0.7], [-1.0], [1.0], radius=0.1, replicas=50, repetitions=16, levels=25,
              dt=2e-3, save_every=1000, key=4)  # fmt: skip
    exact = committor(-0.7, -0.9, 0.9, 0.05)
    assert any(np.any(k > run.kill) for k in run.killed)
    assert abs(run.probability - exact) < 3 * run.std_error


def test_result_is_a_function_of_the_key():
    sde = double_well(0.1)
    kw = {"radius": 0.1, "replicas": 20, "repetitions": 2, "save_every": 1000}
    r1 = ams(sde, [-0.6], [-1.0], [1.0], key=7, **kw)
    r2 = ams(sde, [-0.6], [-1.0], [1.0], key=7, **kw)
    r3 = ams(sde, [-0.6], [-1.0], [1.0], key=8, **kw)
    assert np.array_equal(r1.estimates, r2.estimates)
    assert not np.array_equal(r1.estimates, r3.estimates)


def test_tams_probability_within_T_matches_the_grid_generator():
    import scipy.sparse.linalg as spla

    from noetherlab.metastability.fokker_planck import fokker_planck

    eps, T = 0.08, 5.0
    sde = double_well(eps)
    run = tams(sde, [-1.0], [1.0], T, radius=0.1, replicas=50, repetitions=16, dt=2e-3,
               save_every=1000, key=5)  # fmt: skip
    grid = fokker_planck(sde, (-2.0, 2.0), 800)
    Bmask = grid.region((np.array([1.0]), 0.1), "B")
    C = ~Bmask
    Q = grid.generator[C][:, C]
    survive = spla.expm_multiply(Q * T, np.ones(int(C.sum())))
    x = grid.centers[C, 0]
    exact = 1.0 - float(np.interp(-1.0, x, survive))
    assert run.ok
    # 3 standard errors plus 5 % for the Euler–Maruyama bias (dt = 2e-3) and the grid
    assert abs(run.probability - exact) < 3 * run.std_error + 0.05 * exact, (run.probability, exact)


def test_sampled_exit_time_matches_the_exact_mean_first_passage_time():
    eps = 0.1
    sde = double_well(eps)
    out = sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, replicas=50, repetitions=16,
                            dt=2e-3, loops=256, chains=32, key=1, method="splitting")  # fmt: skip
    exact = mfpt(-1.0, 0.9, eps)  # 65.29
    assert out.ok
    lo, hi = out.interval
    # the 95 % interval, widened by 5 % for the Euler–Maruyama bias at dt = 2e-3
    assert 0.95 * lo < exact < 1.05 * hi, (out.summary(), exact)
    assert 0 < out.probability < 1 and out.loop_time > 0 and out.reactive_time > 0


def test_a_transition_that_is_not_rare_is_timed_by_direct_simulation():
    eps = 0.25  # ΔV/ε = 1: most free chains from A reach B within a block of 2000 steps
    sde = double_well(eps)
    exact = mfpt(-1.0, 0.9, eps)  # 13.646 (quadrature)
    out = sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, dt=1e-2, loops=512, chains=64, key=0)
    assert out.method == "direct" and out.ok and out.splitting is None
    assert out.passage_times is not None and out.passage_times.size == 512
    lo, hi = out.interval
    # its 95 % interval, widened by 3 % for the Euler–Maruyama bias at dt = 1e-2
    assert 0.97 * lo < exact < 1.03 * hi, (out.summary(), exact)
    assert hi - lo < 0.2 * exact  # a real interval: 512 passages give about ±7 %
    assert "not rare" in out.message
    # the splitting route on the same problem, where it is asked for, agrees
    split = sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, dt=1e-2, loops=64, chains=32,
                              replicas=20, repetitions=4, key=0, method="splitting")  # fmt: skip
    assert split.method == "splitting" and split.ok
    assert split.interval[0] < out.mean_exit_time < split.interval[1], split.summary()
    # with a burn-in the loops are counted on stationary chains over a window (the loop rate):
    # the same time within its interval
    burnt = sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, dt=1e-2, loops=64, chains=32,
                              replicas=20, repetitions=4, key=0, method="splitting",
                              burn_in=50.0)  # fmt: skip
    assert burnt.ok and burnt.stats["burn_in_steps"] == 6000  # 5000 steps, in blocks of 2000
    assert burnt.interval[0] < out.mean_exit_time < burnt.interval[1], burnt.summary()
    with pytest.raises(InvalidArgumentError, match="burn_in"):
        sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, burn_in=-1.0)
    # chains that cannot finish within max_loop_steps: a status, no mean of the finished ones
    short = sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, dt=1e-2, loops=64, chains=16,
                              method="direct", max_loop_steps=2000)  # fmt: skip
    assert short.status is SplittingStatus.max_iterations and short.mean_exit_time is None
    assert "biased low" in short.message
    with pytest.raises(InvalidArgumentError, match="method"):
        sampled_exit_time(sde, [-1.0], [1.0], radius=0.1, method="brute")


def test_a_target_ball_the_time_step_jumps_over_is_warned_about():
    from noetherlab._core.errors import UnderResolvedWarning

    sde = double_well(0.05)  # √(2 ε dt) = 0.032 at dt = 0.01 against B's radius 0.01
    with pytest.warns(UnderResolvedWarning, match=r"exceeds B's radius 0.01.*dt <= 0.001"):
        tams(sde, [-1.0], [1.0], 0.05, radius=0.01, replicas=10, repetitions=1, dt=0.01)


def test_unresolvable_probabilities_get_a_status_not_a_tiny_number():
    sde = double_well(0.05)
    # B cannot be reached in 0.02 time units (p ~ 1e-95 in the run, from one ancestor)
    run = tams(sde, [-1.0], [1.0], 0.02, radius=0.1, replicas=20, repetitions=2, key=0)
    assert run.status is SplittingStatus.unresolved
    assert run.probability is None and run.interval is None and not run.ok
    # a coordinate that is flat: every replica ties at the first level -> extinct
    run = tams(sde, [-1.0], [1.0], 1.0, radius=0.1, replicas=20, repetitions=2, key=0,
               score=lambda x: jnp_clip(x[0]))  # fmt: skip
    assert run.status is SplittingStatus.extinct
    assert run.probability is None and "extinct" in run.summary()


def test_bad_input_is_refused_with_the_argument_named():
    sde = double_well(0.05)
    with pytest.raises(InvalidArgumentError, match="replicas"):
        ams(sde, [-0.7], [-1.0], [1.0], radius=0.1, replicas=5)
    with pytest.raises(InvalidArgumentError, match="kill"):
        ams(sde, [-0.7], [-1.0], [1.0], radius=0.1, replicas=20, kill=20)
    with pytest.raises(InvalidArgumentError, match="overlap"):
        ams(sde, [-0.7], [-1.0], [-0.95], radius=0.1)
    with pytest.raises(InvalidArgumentError, match="does not separate"):
        ams(sde, [-0.7], [-1.0], [1.0], radius=0.1, score=lambda x: -x[0])
    with pytest.raises(InvalidArgumentError, match="lies in B"):
        ams(sde, [0.95], [-1.0], [1.0], radius=0.1)
    with pytest.raises(InvalidArgumentError, match="lies in A"):
        ams(sde, [-0.95], [-1.0], [1.0], radius=0.1)
    with pytest.raises(InvalidArgumentError, match="radius"):
        ams(sde, [-0.7], [-1.0], [1.0])
    with pytest.raises(InvalidArgumentError, match="reference state"):
        from noetherlab.ensembles import predicate

        ams(sde, [-0.7], predicate(lambda x: x[0] < -0.9), [1.0], radius=0.1)
    bad = SDE(lambda x: jnp_log(x), diffusion=0.1, dim=1)
    with pytest.raises(NonFiniteError, match="drift is not finite"):
        ams(bad, [-0.7], [-1.0], [1.0], radius=0.1)
    # a ball works as a set (its centre is the reference state)
    run = ams(sde, [-0.6], ball([-1.0], 0.1), ball([1.0], 0.1), replicas=10, repetitions=1,
              save_every=1000)  # fmt: skip
    assert run.ok and run.std_error is None and run.single_run_std_error > 0
    # a set that is not a ball, as a Region with its reference state: {x >= 0.9} is entered
    # where the ball [0.9, 1.1] is (paths come from below), so the same key gives the same run
    from noetherlab.ensembles import Region, predicate

    half = Region(predicate(lambda x: x[0] >= 0.9), center=[1.0])
    same = ams(sde, [-0.6], ball([-1.0], 0.1), half, replicas=10, repetitions=1,
               save_every=1000)  # fmt: skip
    assert same.probability == pytest.approx(run.probability, rel=1e-12)
    with pytest.raises(InvalidArgumentError, match=r"B\.center"):
        ams(sde, [-0.6], [-1.0], Region(half.boundary, center=[1.0, 0.0]), radius=0.1)


def jnp_clip(v):
    import jax.numpy as jnp

    return jnp.where(v > 0.95, 1.0, 0.0)  # 0 everywhere below B: no level between


def jnp_log(x):
    import jax.numpy as jnp

    return jnp.log(x)


def test_stationary_hitting_points_count_each_crossing_once():
    import jax

    from noetherlab.ensembles.transition_time import _stationary_starts

    # chain 0 stored 2 of its 10 crossings (each stands for 5), chain 1 all of its 2
    hits = np.array([[[0.0], [0.0], [9.0]], [[1.0], [1.0], [9.0]]])
    got = _stationary_starts(hits, np.array([2, 2]), np.array([10, 2]), 6000, jax.random.PRNGKey(0))
    share = float(np.mean(got[:, 0] == 0.0))
    assert abs(share - 10 / 12) < 0.02, share  # binomial SE 0.005
    assert set(np.unique(got[:, 0])) == {0.0, 1.0}  # the unused slot (9) is never drawn
