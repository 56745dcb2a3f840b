"""The attractor landscape: barriers against closed forms and published values, Eyring–Kramers
mean exit times against the exact mean first passage time and a simulation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate

import noetherlab as nl
from noetherlab import models
from noetherlab.attractor_landscape import landscape
from noetherlab.sampling import interval, simulate


def _double_well(eps: float) -> nl.SDE:
    return nl.SDE(lambda x: x - x**3, diffusion=eps, dim=1)


def _exact_mfpt(eps: float) -> float:
    """Mean first passage time from x = −1 to x = +1 of dx = (x − x³) dt + sqrt(2ε) dW (V = x⁴/4 −
    x²/2): τ = (1/ε) ∫_{−1}^{1} e^{V(y)/ε} ∫_{−∞}^{y} e^{−V(z)/ε} dz dy (Gardiner, Handbook of
    Stochastic Methods, §5.2.7), by adaptive quadrature."""

    def V(x: float) -> float:
        return x**4 / 4 - x**2 / 2 + 0.25  # shifted so V(±1) = 0

    def inner(y: float) -> float:
        return scipy.integrate.quad(lambda z: np.exp(-V(z) / eps), -np.inf, y, limit=200)[0]

    return scipy.integrate.quad(lambda y: np.exp(V(y) / eps) * inner(y), -1, 1, limit=200)[0] / eps


def test_double_well_kramers_time_approaches_the_exact_mean_first_passage_time():
    ratios = []
    for eps in (1 / 16, 1 / 24, 1 / 32):
        land = landscape(_double_well(eps), (-2, 2))
        assert land.gradient and len(land.attractors) == 2 and len(land.saddles) == 1
        up = next(t for t in land.transitions if t.source == 0)
        assert up.converged
        assert up.barrier == pytest.approx(0.25 / eps, rel=1e-5)  # ΔV/ε, V(0) − V(−1) = 1/4
        # Kramers: τ = 2π/λ_s · sqrt(|J_s|/|J_a|) e^S with J_s = 1, J_a = −2
        assert up.prefactor == pytest.approx(2 * np.pi / np.sqrt(2), rel=1e-10)
        ratios.append(up.mean_exit_time / _exact_mfpt(eps))
    # measured: 0.876, 0.923, 0.946 — the O(ε/ΔV) error of Eyring–Kramers shrinking
    assert abs(ratios[1] - 1) < 0.10 and abs(ratios[2] - 1) < 0.10
    assert ratios[0] < ratios[1] < ratios[2] < 1


def test_double_well_kramers_time_against_simulated_exit_times():
    eps = 1 / 16
    land = landscape(_double_well(eps), (-2, 2))
    tau = next(t for t in land.transitions if t.source == 0).mean_exit_time
    # 2000 paths from −1, absorbed at +1, censored at T = 600: exit times are exponential after a
    # short relaxation, so the censored maximum-likelihood mean is Σ(exit or T) / (number exited)
    ens = simulate(
        _double_well(eps), [-1.0], 600.0, 0.01, 2000, key=4, boundary=interval(-10.0, 1.0)
    )
    exited = np.isfinite(ens.exit_time)
    total = np.where(exited, ens.exit_time, 600.0).sum()
    tau_sim, se = total / exited.sum(), total / exited.sum() / np.sqrt(exited.sum())
    exact = _exact_mfpt(eps)
    assert abs(tau_sim - exact) < 4 * se + 0.02 * exact  # sampling error and dt = 0.01 bias
    assert abs(tau / tau_sim - 1) < 0.15  # Kramers 12 % below the exact value at ΔV/ε = 4


def test_maier_stein_non_gradient_barrier_and_no_false_rate():
    land = landscape(models.maier_stein(beta=10.0), (-2, 2))
    assert not land.gradient
    np.testing.assert_allclose(land.saddles[0].x, [0, 0], atol=1e-12)
    assert len(land.transitions) == 2
    for t in land.transitions:
        # instanton action of tests/paths/test_path_cases.py (resolution-studied, 0.1700207017)
        assert t.converged and t.barrier == pytest.approx(0.1700207017, rel=1e-4)
        assert t.mean_exit_time is None and "not a gradient" in t.rate_method
    data = land.as_dict()
    assert set(data) >= {"attractors", "saddles", "transitions"}
    assert data["saddles"][0]["index"] == 1 and data["transitions"][0]["rate"] is None
