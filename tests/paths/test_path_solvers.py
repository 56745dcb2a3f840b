"""Every path solver on the closed-form problems (issue 12: solver × problem matrix).

References (all closed forms, no fitted numbers):
* 1-D Ornstein–Uhlenbeck bridge ``f = -k x``: ``x(t) = (x0 sinh k(T-t) + xT sinh kt)/sinh kT``,
  ``S = k (xT - x0 e^{-kT})² / (2D(1 - e^{-2kT}))`` (tests/conftest.py).
* Fig. 1b, 2-D OU ``f = -x``, ``D = I`` from (-2, 2) to (2, 2): the same sinh form per component;
  ``E = ¼|ẋ|² - ¼|x|²`` and ``L = x p_y - y p_x`` with ``p = ½(ẋ + x)`` evaluated at t = 0.
* Constant drift ``v`` (DDM): the straight line, ``p = ((x1 - x0)/T - v)/(2D)`` exactly on any grid.

Tolerances: the discrete solvers carry the midpoint rule's ``O(h²)`` error (measured ~5e-8 on the
path at h = 1e-3); L-BFGS is run to ``gtol = 1e-6`` (it stalls near 1e-8 at float64 resolution);
shooting integrates the continuous equations (error ~1e-10).
"""

from __future__ import annotations

import numpy as np
import pytest

from noetherlab import PathStatus, models
from noetherlab.paths import PathProblem
from noetherlab.paths.solvers import (
    LBFGS,
    BlockNewton,
    Geometric,
    Hamiltonian,
    NewtonKrylov,
    Shooting,
    TimeViaEnergy,
)

FIXED_TIME = {
    "newton": (BlockNewton(), 2e-7),
    "newton-krylov": (NewtonKrylov(), 2e-7),
    "lbfgs": (LBFGS(gtol=1e-6), 1e-4),
    "hamiltonian": (Hamiltonian(), 2e-7),
    "energy": (TimeViaEnergy(), 5e-6),  # T(E*) matches T to ttol = 1e-6: |ẋ|·T·1e-6 on the path
    "shooting": (Shooting(), 1e-9),
}
OU2 = models.ornstein_uhlenbeck(K=1.0, D=1.0, dim=2)
X0, X1 = np.array([-2.0, 2.0]), np.array([2.0, 2.0])


def _ou2_exact(t, T):
    t = np.asarray(t)[:, None]
    x = (X0 * np.sinh(T - t) + X1 * np.sinh(t)) / np.sinh(T)
    v = (-X0 * np.cosh(T - t) + X1 * np.cosh(t)) / np.sinh(T)
    return x, v


@pytest.mark.parametrize("name", list(FIXED_TIME))
def test_ou_1d_bridge(ou, name):
    solver, tol = FIXED_TIME[name]
    res = solver.solve(PathProblem.fixed_time(ou.sde(), ou.x0, ou.xT, T=ou.T, n=2000))
    assert res.status is PathStatus.successful and res.converged, res.message
    assert res.el_residual <= res.el_tol
    assert np.max(np.abs(res.x[:, 0] - ou.path(res.t))) < tol
    assert res.action == pytest.approx(ou.action, rel=max(tol, 1e-7))
    assert res.energy == pytest.approx(ou.energy, rel=max(10 * tol, 1e-6))


@pytest.mark.parametrize("name", list(FIXED_TIME))
def test_fig1b_ou_2d(name):
    solver, tol = FIXED_TIME[name]
    res = solver.solve(PathProblem.fixed_time(OU2, X0, X1, T=1.0, n=1000))
    assert res.status is PathStatus.successful, res.message
    x, _ = _ou2_exact(res.t, 1.0)
    assert np.max(np.abs(res.x - x)) < 5 * tol
    x0, v0 = _ou2_exact([0.0], 1.0)
    E = 0.25 * np.sum(v0**2) - 0.25 * np.sum(x0**2)
    p0 = 0.5 * (v0 + x0)[0]
    L = x0[0, 0] * p0[1] - x0[0, 1] * p0[0]
    assert res.energy == pytest.approx(E, rel=max(50 * tol, 1e-6))
    assert np.mean(res.charges.angular_momentum.values[:, 0, 1]) == pytest.approx(
        L, rel=max(50 * tol, 1e-6)
    )
    # rotation symmetry: the discrete momentum map is conserved to solver tolerance
    assert res.charges.angular_momentum.drift < (1e-4 if name == "lbfgs" else 1e-7)


@pytest.mark.parametrize("name", list(FIXED_TIME))
def test_constant_drift_straight_line(name):
    solver, _ = FIXED_TIME[name]
    res = solver.solve(
        PathProblem.fixed_time(models.drift_diffusion(v=0.1, sigma=1.0), 0.5, -1.0, T=1.0, n=40)
    )
    assert res.converged, res.message
    np.testing.assert_allclose(res.x[:, 0], np.linspace(0.5, -1.0, res.x.shape[0]), atol=1e-12)
    np.testing.assert_allclose(res.p[:, 0], -1.6, rtol=1e-12)  # ((-1 - 0.5)/1 - 0.1)/(2·½)


@pytest.mark.parametrize("solver", [Geometric(), Shooting()], ids=["geometric", "shooting"])
def test_fixed_energy_period_matches_quadrature(ou, solver):
    """1-D: T(E) = ∫ dx / sqrt(f² + 4DE) (paper Eq. 13), integrated by scipy.quad."""
    import scipy.integrate

    E = 0.5
    T_ref, _ = scipy.integrate.quad(
        lambda x: 1 / np.sqrt((ou.k * x) ** 2 + 4 * ou.D * E), ou.x0, ou.xT, epsabs=1e-13, limit=200
    )
    res = solver.solve(PathProblem.fixed_energy(ou.sde(), ou.x0, ou.xT, energy=E, n=2000))
    assert res.converged, res.message
    assert res.T == pytest.approx(T_ref, rel=1e-6)
    assert res.charges.energy.drift < 1e-9


def test_fixed_energy_2d_inverts_fixed_time():
    """The geometric path at the fixed-T path's energy has T(E) = T and the same action."""
    rt = BlockNewton().solve(PathProblem.fixed_time(OU2, X0, X1, T=1.0, n=2000))
    re = Geometric().solve(PathProblem.fixed_energy(OU2, X0, X1, energy=rt.energy, n=2000))
    assert re.status is PathStatus.successful
    assert re.T == pytest.approx(1.0, rel=1e-6)
    assert re.action == pytest.approx(rt.action, rel=1e-6)
    assert re.charges.energy.drift < 1e-10  # every interval has energy E exactly
    assert re.stats["tangential_residual"] < 1e-6


def test_hamiltonian_equals_lagrangian_minimiser_nonlinear():
    """Eliminating p from S_H gives S_d: the two formulations agree on a non-linear drift."""
    ms = models.maier_stein()
    prob = PathProblem.fixed_time(ms, [-1.0, 0.0], [0.0, 0.0], T=3.0, n=300)
    rn = BlockNewton(gtol=1e-12).solve(prob)
    rh = Hamiltonian().solve(prob, rn.x + 1e-3 * np.sin(np.linspace(0, np.pi, 301))[:, None])
    assert rn.converged and rh.converged
    assert np.max(np.abs(rh.x - rn.x)) < 1e-8
    assert rh.action == pytest.approx(rn.action, rel=1e-10)
