"""The loop/unrolled SPD linear algebra of ``_core.linalg`` against NumPy's LAPACK (the reference),
and the time-scaled Newton–Krylov preconditioner it serves."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core import linalg


def _spd(b: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((b, b))
    return m @ m.T + b * np.eye(b)


@pytest.mark.parametrize("b", [3, 16])  # 3: unrolled scalar code; 16: the column/row loops
def test_factor_and_solves_match_lapack(b: int) -> None:
    A = _spd(b, b)
    B = np.random.default_rng(1).standard_normal((b, 4))
    L = np.asarray(linalg.cholesky(jnp.asarray(A)))
    np.testing.assert_allclose(L, np.linalg.cholesky(A), atol=1e-13)
    np.testing.assert_allclose(linalg.lower_solve(L, B), np.linalg.solve(L, B), atol=1e-13)
    np.testing.assert_allclose(
        linalg.lower_solve_transposed(L, B[:, 0]), np.linalg.solve(L.T, B[:, 0]), atol=1e-13
    )
    np.testing.assert_allclose(linalg.spd_solve(A, B), np.linalg.solve(A, B), atol=1e-13)
    np.testing.assert_allclose(linalg.spd_inverse(jnp.asarray(A)), np.linalg.inv(A), atol=1e-13)
    u = B[:, 1]
    assert float(linalg.spd_quad(A, u)) == pytest.approx(u @ np.linalg.solve(A, u), rel=1e-13)


@pytest.mark.parametrize("b", [3, 16])
def test_indefinite_matrix_gives_nan_factor(b: int) -> None:
    A = _spd(b, 0)
    A[b - 1, b - 1] = -1.0
    assert np.isnan(np.asarray(linalg.cholesky(jnp.asarray(A)))).any()


def test_krylov_preconditioner_follows_a_time_dependent_noise_scale() -> None:
    """The reverse SDE of a VE diffusion model of N(0, σ0² I) data (score −x/(σ0² + t²), exact)
    has D = t·I on t in [0.01, 3]: a 300-fold range. The preconditioner scales its kinetic part by
    tr D(t_k) / tr D̄ and its potential part node by node, so CG needs a handful of iterations
    per Newton step (with one D̄ for all t, measured 2026-12-04: 2938 CG iterations in 19 steps)."""
    sigma0, d = 0.3, 16
    sched = nl.VarianceExploding(t_min=0.01, t_max=3.0)
    model = nl.diffusion_model(lambda x, t: -x / (sigma0**2 + t**2), sched, dim=d)
    x_noise = 3.0 * np.cos(np.arange(d))
    x_data = 0.3 * np.sin(np.arange(d))
    res = nl.most_likely_path(
        model.reverse_sde,
        x_noise,
        x_data,
        t=model.times(40),
        method="newton-krylov",
        resolution=nl.ResolutionControl(check=False),
    )
    assert res.converged, res.message
    assert res.stats["cg_iterations"] <= 5 * res.iterations
    dense = nl.most_likely_path(
        model.reverse_sde,
        x_noise,
        x_data,
        t=model.times(40),
        method="newton",
        resolution=nl.ResolutionControl(check=False),
    )
    np.testing.assert_allclose(res.x, dense.x, atol=1e-7)
    assert jax.config.jax_enable_x64
