"""Resolution control (issue 12): Richardson only in the asymptotic regime, conservative otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import UnderResolvedWarning
from noetherlab.paths import ResolutionControl


def test_ou_bridge_extrapolated_action(ou):
    """Three grids in the O(h²) regime: observed order 2, Richardson to 1e-10 of the closed form."""
    res = nl.most_likely_path(ou.sde(), ou.x0, ou.xT, T=ou.T, n=4000)
    r = res.resolution
    assert r.n == [1000, 2000, 4000] and r.asymptotic and r.order == pytest.approx(2.0, abs=0.05)
    assert abs(r.extrapolated_action / ou.action - 1) < 1e-10
    assert r.resolved


def test_estimate_is_conservative_before_the_asymptotic_regime():
    """Three-attractor T = 1 (sigmoids of width 0.01) on coarse grids: the reported relative
    error must not be smaller than the true one (reference: n = 16000, Richardson)."""
    sde = models.three_attractor()
    a, b = [3.0, 0.1], [0.1, 3.0]
    ref = nl.most_likely_path(
        sde, a, b, T=1.0, n=16000, resolution=nl.ResolutionControl(rtol=1.0)
    ).resolution.extrapolated_action
    for n in (16, 32, 64):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UnderResolvedWarning)
            res = nl.most_likely_path(sde, a, b, T=1.0, n=n)
        true = abs(res.action - ref) / ref
        assert res.resolution.relative_error >= true, (n, res.resolution, true)


def test_odd_n_still_studied():
    res = nl.most_likely_path(models.ornstein_uhlenbeck(), [1.0, 1.0], [0.0, 1.0], T=1.0, n=101)
    assert res.resolution.n == [50, 101] and np.isfinite(res.resolution.relative_error)


def test_refinement_and_warning():
    sde = models.three_attractor()
    with pytest.warns(UnderResolvedWarning, match="discretisation error"):
        nl.most_likely_path(
            sde, [3.0, 0.1], [0.1, 3.0], T=1.0, n=16, resolution=nl.ResolutionControl(rtol=1e-6)
        )
    lines: list[str] = []
    res = nl.most_likely_path(
        sde,
        [3.0, 0.1],
        [0.1, 3.0],
        T=1.0,
        n=100,
        resolution=ResolutionControl(rtol=1e-5, refine=True),
        progress=lines.append,
    )
    assert res.resolved and res.resolution.relative_error <= 1e-5 and res.n > 100
    # progress: the first solve, one line per coarse grid of the study, one per bisection
    study = [line for line in lines if line.startswith("resolution study")]
    refinements = [line for line in lines if line.startswith("refining")]
    assert lines[0].startswith("solving on n = 100") and len(lines) == 1 + len(study) + len(
        refinements
    )
    assert len(study) + 1 + len(refinements) == len(res.resolution.n) and refinements
    assert refinements[-1].startswith(f"refining: n = {res.n // 2} -> {res.n}")


def test_padded_grid_gives_the_unpadded_solve():
    """A grid solved inside a larger compiled engine (padding: fixed copies of the end state on
    zero-weight intervals) gives the unpadded solve's iterates. Reference: the unpadded solve of
    the same problem (Maier–Stein, 38 Newton steps from the straight line, through a saddle
    escape)."""
    from noetherlab.paths import PathProblem
    from noetherlab.paths.solvers import BlockNewton

    problem = PathProblem.fixed_time(models.maier_stein(), [-1.0, 0.0], [0.0, 0.0], T=10.0, n=250)
    plain = BlockNewton().solve(problem)
    padded = BlockNewton(pad_to=1000).solve(problem)
    assert plain.converged and padded.converged and plain.iterations == padded.iterations
    np.testing.assert_allclose(padded.x, plain.x, rtol=0, atol=1e-14)
    assert padded.action == pytest.approx(plain.action, rel=1e-14)
    assert padded.el_residual == pytest.approx(plain.el_residual, rel=1e-10)
    np.testing.assert_allclose(
        padded.charges.energy.values, plain.charges.energy.values, rtol=0, atol=1e-14
    )
    np.testing.assert_allclose(padded.charges.momenta, plain.charges.momenta, rtol=0, atol=1e-14)
    with pytest.raises(nl.errors.InvalidArgumentError, match="pad_to"):
        BlockNewton(pad_to=0)


def test_resolution_study_compiles_the_engine_once():
    """The coarse grids n/2 and n/4 run in the fine grid's compiled Newton engine, residual and
    charge kernels: one XLA compilation each per study (counted with JAX's compile events; n =
    376 is used by no other test, so each kernel is compiled here)."""
    import collections

    import jax.monitoring

    counts: collections.Counter[str] = collections.Counter()

    def listen(event: str, duration: float, **kwargs: object) -> None:
        if event == "/jax/core/compile/backend_compile_duration":
            counts[str(kwargs.get("fun_name"))] += 1

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        res = nl.most_likely_path(models.maier_stein(), [-1.0, 0.0], [0.0, 0.0], T=10.0, n=376)
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    assert res.resolution.n == [94, 188, 376]
    for kernel in ("newton_minimise", "_residual_kernel", "_discrete_charges"):
        assert counts[f"jit({kernel})"] == 1, dict(counts)
