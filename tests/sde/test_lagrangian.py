"""Lagrangians, discrete action, Hamiltonian and Euler–Lagrange residual (issue: foundation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError


def test_ou_action_matches_closed_form(ou):
    """Midpoint action of the closed-form OU bridge: O(h²) error, Richardson-extrapolated to 1e-10."""
    sde = ou.sde()
    S = {}
    for n in (1000, 2000):
        t = np.linspace(0.0, ou.T, n + 1)
        S[n] = nl.action(sde, ou.path(t), t)
    assert abs(S[2000] / ou.action - 1) < 1e-7
    extrapolated = S[2000] + (S[2000] - S[1000]) / 3
    assert abs(extrapolated / ou.action - 1) < 1e-10
    # independent check of the closed form itself: ∫ ¼ (ẋ + k x)² / D dt by adaptive quadrature
    quad, _ = scipy.integrate.quad(
        lambda s: 0.25 * (ou.velocity(np.array(s)) + ou.k * ou.path(np.array(s))) ** 2 / ou.D,
        0.0,
        ou.T,
        epsabs=1e-13,
        epsrel=1e-13,
    )
    assert ou.action == pytest.approx(quad, rel=1e-12)


def test_non_uniform_grid_action(ou):
    t = ou.T * np.linspace(0.0, 1.0, 4001) ** 1.5
    assert nl.action(ou.sde(), ou.path(t), t) == pytest.approx(ou.action, rel=1e-6)


def test_energy_time_relation_recovers_T(ou):
    """Eq. 13: T = ∫ dx / sqrt(f² + 4 D E) with the bridge's energy."""
    E = ou.energy

    def integrand(x):
        return 1.0 / np.sqrt((ou.k * x) ** 2 + 4 * ou.D * E)

    T, _ = scipy.integrate.quad(integrand, ou.x0, ou.xT, epsabs=1e-13, epsrel=1e-13, limit=200)
    assert pytest.approx(ou.T, rel=1e-12) == T


def test_hamiltonian_constant_on_closed_form_path(ou):
    sde = ou.sde()
    t = np.linspace(0, ou.T, 7)
    x, v = ou.path(t), ou.velocity(t)
    p = (v + ou.k * x) / (2 * ou.D)  # p = D^-1 (ẋ - f) / 2
    H = [
        float(nl.hamiltonian(sde, jnp.array([xi]), jnp.array([pi])))
        for xi, pi in zip(x, p, strict=True)
    ]
    np.testing.assert_allclose(H, ou.energy, rtol=1e-13)
    L = [
        float(nl.lagrangian(sde, jnp.array([xi]), jnp.array([vi])))
        for xi, vi in zip(x, v, strict=True)
    ]
    np.testing.assert_allclose(np.asarray(p) * v - np.asarray(L), ou.energy, rtol=1e-13)


def test_hamilton_vector_field_matches_legendre():
    D = jnp.array([[1.0, 0.3], [0.3, 0.5]])
    sde = nl.SDE(lambda x: jnp.array([-x[0] + x[1] ** 2, -x[1]]), diffusion=D)
    field = nl.hamilton_vector_field(sde)
    x, p = jnp.array([0.3, -0.7]), jnp.array([0.2, 0.1])
    dy = np.asarray(field(0.0, jnp.concatenate([x, p]), None))
    np.testing.assert_allclose(dy[:2], np.asarray(sde.f(x) + 2 * D @ p), rtol=1e-14)
    J = jax.jacfwd(sde.f)(x)
    np.testing.assert_allclose(dy[2:], -np.asarray(J.T @ p), rtol=1e-14)


def test_euler_lagrange_residual_is_second_order(ou):
    sde = ou.sde()
    res = []
    for n in (200, 400):
        t = np.linspace(0, ou.T, n + 1)
        res.append(np.max(np.abs(nl.euler_lagrange_residual(sde, ou.path(t), t))))
    assert res[1] < 0.3 * res[0]  # O(h²): ratio ≈ 1/4
    t = np.linspace(0, ou.T, 201)
    straight = np.linspace(ou.x0, ou.xT, 201)
    assert np.max(np.abs(nl.euler_lagrange_residual(sde, straight, t))) > 100 * res[0]


def test_om_adds_half_divergence():
    sde = nl.SDE(lambda x: -2.0 * x, diffusion=0.5, dim=3)
    x, v = jnp.array([0.1, 0.2, 0.3]), jnp.array([1.0, 0.0, -1.0])
    L_fw = float(nl.lagrangian(sde, x, v, kind="fw"))
    L_om = float(nl.lagrangian(sde, x, v, kind="om"))
    assert L_om - L_fw == pytest.approx(0.5 * (-2.0 * 3), rel=1e-14)
    t = np.linspace(0, 1, 11)
    xs = np.linspace([0, 0, 0], [1, 1, 1], 11)
    assert nl.action(sde, xs, t, lagrangian="om") - nl.action(sde, xs, t) == pytest.approx(
        -3.0, rel=1e-13
    )


def test_om_refused_for_state_dependent_diffusion():
    sde = nl.SDE(lambda x: -x, diffusion=lambda x: 1.0 + x**2, dim=1)
    with pytest.raises(UnsupportedModelError, match=r"state-dependent D.*lagrangian='fw'"):
        nl.action(sde, [0.0, 1.0], [0.0, 1.0], lagrangian="om")
    sde_t = nl.SDE(lambda x: -x, diffusion=lambda x, t: 1.0 + t, dim=1)  # D(t): allowed
    assert np.isfinite(nl.action(sde_t, [0.0, 1.0], [0.0, 1.0], lagrangian="om"))


@pytest.mark.parametrize(
    ("x", "t", "kind", "error", "pattern"),
    [
        ([0.0, 1.0], [0.0, 0.0], "fw", InvalidArgumentError, "strictly increasing"),
        ([0.0, 1.0], [0.0], "fw", ShapeError, "at least 2 times"),
        ([0.0, 1.0, 2.0], [0.0, 1.0], "fw", ShapeError, r"shape \(len\(t\), N\)"),
        ([0.0, 1.0], [0.0, np.nan], "fw", nl.errors.NonFiniteError, "non-finite"),
        ([0.0, 1.0], [0.0, 1.0], "xx", InvalidArgumentError, "lagrangian"),
    ],
)
def test_action_bad_input(ou, x, t, kind, error, pattern):
    with pytest.raises(error, match=pattern):
        nl.action(ou.sde(), x, t, lagrangian=kind)
