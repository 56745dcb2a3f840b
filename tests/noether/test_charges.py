"""Noether charges along discrete paths and Hamiltonian trajectories (issue: foundation)."""

from __future__ import annotations

import diffrax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl


def test_constant_drift_straight_line_momentum():
    v, D, x0, xT, T = 0.1, 0.5, 0.5, -1.0, 1.0
    sde = nl.SDE(lambda x: jnp.full((1,), v), diffusion=D, dim=1)
    t = np.linspace(0.0, T, 41)
    x = np.linspace(x0, xT, 41)
    c = nl.noether_charges(sde, x, t)
    p_exact = -1.6  # printed by the authors' fig1-decisions notebook (v = 0.1, sigma = 1, T = 1)
    np.testing.assert_allclose(c.momentum.values[:, 0], p_exact, rtol=1e-13)
    assert c.momentum.drift < 1e-13 and c.energy.drift < 1e-13
    # the general charge of a translation is the momentum; of a time translation the energy
    J = nl.noether_charge(sde, x, t, nl.Generator.translation([1.0]))
    np.testing.assert_allclose(J.values, p_exact, rtol=1e-13)
    Et = nl.noether_charge(sde, x, t, nl.Generator.time_translation(1))
    np.testing.assert_allclose(Et.values, c.energy.values, rtol=1e-15)


def test_boundary_term_is_subtracted():
    sde = nl.SDE(lambda x: jnp.zeros(1), diffusion=1.0, dim=1)
    t = np.linspace(0, 1, 5)
    x = np.linspace(0, 2, 5)
    gen = nl.Generator.affine(b=[1.0], K=lambda x, t: 3.0 * t)
    J = nl.noether_charge(sde, x, t, gen)
    np.testing.assert_allclose(J.values, 1.0 - 3.0 * t, rtol=1e-14)  # p = 2/(2*1) = 1


def test_ou_closed_form_energy_second_order(ou):
    sde = ou.sde()
    drift = []
    for n in (500, 1000):
        t = np.linspace(0, ou.T, n + 1)
        c = nl.noether_charges(sde, ou.path(t), t)
        assert np.mean(c.energy.values) == pytest.approx(ou.energy, rel=1e-5)
        drift.append(np.max(np.abs(c.energy.values - ou.energy)))
    assert drift[1] < 0.3 * drift[0]


def _integrate(sde, y0, T, n_save=201):
    field = nl.hamilton_vector_field(sde)
    ts = jnp.linspace(0.0, T, n_save)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        diffrax.Dopri8(),
        0.0,
        T,
        1e-3,
        y0,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-13),
        max_steps=100_000,
    )
    ys = np.asarray(sol.ys)
    return np.asarray(ts), ys[:, :2], ys[:, 2:]


def test_angular_momentum_conserved_iff_rotation_symmetric():
    k, w = 0.7, 1.9
    J = jnp.array([[0.0, -1.0], [1.0, 0.0]])
    symmetric = nl.SDE(
        lambda x: -k * x + w * J @ x - 0.3 * jnp.tanh(jnp.sum(x * x)) * x, diffusion=0.4, dim=2
    )
    broken = nl.SDE(lambda x: -jnp.array([k, 2.5 * k]) * x + w * J @ x, diffusion=0.4, dim=2)
    y0 = jnp.array([1.0, -0.5, 0.8, 0.3])
    for sde, conserved in ((symmetric, True), (broken, False)):
        t, x, p = _integrate(sde, y0, 2.0)
        c = nl.trajectory_charges(sde, t, x, p)
        L12 = c.angular_momentum.values[:, 0, 1]
        np.testing.assert_allclose(L12, x[:, 0] * p[:, 1] - x[:, 1] * p[:, 0], rtol=1e-14)
        assert c.energy.drift < 1e-9  # time-independent: energy always conserved
        if conserved:
            assert c.angular_momentum.drift < 1e-9
        else:
            assert c.angular_momentum.drift > 1e-2


def test_charges_shapes_and_summary():
    sde = nl.SDE(lambda x: -x, diffusion=1.0, dim=3)
    t = np.linspace(0, 1, 11)
    x = np.linspace([1.0, 0.0, 0.0], [0.0, 1.0, 0.5], 11)
    c = nl.noether_charges(sde, x, t)
    assert c.energy.values.shape == (10,)
    assert c.momentum.values.shape == (11, 3)
    assert c.angular_momentum.values.shape == (11, 3, 3)
    np.testing.assert_allclose(
        c.angular_momentum.values, -np.swapaxes(c.angular_momentum.values, 1, 2)
    )
    # L = x pᵀ - p xᵀ with the node momenta. On this straight line (f = -x, D = 1) the interval
    # momentum is p_{k+½} = ½(v + m_k) and ∂L/∂m = p, so the one-sided node momenta are
    # p⁻ = (1 + h/2) p_{k-½} and p⁺ = (1 - h/2) p_{k+½} (∂L_d/∂x_b = p + (h/2) ∂L/∂m); the node value
    # is their mean (charges module docstring)
    np.testing.assert_allclose(
        c.angular_momentum.values,
        np.einsum("ki,kj->kij", x, c.momenta) - np.einsum("ki,kj->kij", c.momenta, x),
        atol=1e-15,
    )
    v = (x[1] - x[0]) / (t[1] - t[0])
    p_interval = 0.5 * (v + 0.5 * (x[:-1] + x[1:]))  # ½ (ẋ - f) with f = -x at the midpoints
    h = t[1] - t[0]
    expected = 0.5 * ((1 + h / 2) * p_interval[:-1] + (1 - h / 2) * p_interval[1:])
    np.testing.assert_allclose(c.momenta[1:-1], expected, rtol=1e-13)
    assert set(c.drift_summary()) == {"energy", "momentum", "angular momentum"}
