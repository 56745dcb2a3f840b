"""The grid Fokker–Planck generator against exact passage times, exact stationary densities and its
own internal consistency (transition path theory vs mean first passage times)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ResourceLimitError, UnsupportedModelError
from noetherlab.metastability.fokker_planck import fokker_planck


def _exact_mfpt(eps: float) -> float:
    """Mean first passage time from −1 to +1 of dx = (x − x³) dt + sqrt(2ε) dW (Gardiner, Handbook
    of Stochastic Methods §5.2.7: τ = (1/ε)∫_{−1}^{1} e^{V/ε} ∫_{−∞}^{y} e^{−V/ε}), by quadrature."""

    def V(x: float) -> float:
        return x**4 / 4 - x**2 / 2 + 0.25

    def inner(y: float) -> float:
        return scipy.integrate.quad(lambda z: np.exp(-V(z) / eps), -np.inf, y, limit=200)[0]

    return scipy.integrate.quad(lambda y: np.exp(V(y) / eps) * inner(y), -1, 1, limit=200)[0] / eps


def test_double_well_mean_first_passage_time_matches_the_exact_quadrature():
    eps = 1 / 16
    sde = nl.SDE(lambda x: x - x**3, diffusion=eps, dim=1)
    fp = fokker_planck(sde, (-2.5, 1.0), 1000)
    tau = fp.mean_first_passage_time(fp.centers[:, 0] >= 1.0 - fp.spacing[0])
    # measured 277.0359 vs exact 277.0546 (6.8e-5: the absorbing edge sits within one cell of +1)
    assert fp.at(tau, [-1.0]) == pytest.approx(_exact_mfpt(eps), rel=3e-4)


def test_ornstein_uhlenbeck_stationary_density_is_the_exact_gaussian():
    # dx = −K x dt + sqrt(2D) dW with K = diag(1, 2), D = diag(0.5, 0.3): N(0, D/K)
    sde = nl.SDE(lambda x: -x * jnp.array([1.0, 2.0]), diffusion=[0.5, 0.3], dim=2)
    fp = fokker_planck(sde, (-4, 4), 200)
    rho = fp.stationary_density().ravel()
    var = np.array([0.5, 0.15])
    exact = np.exp(-0.5 * (fp.centers**2 / var).sum(1)) / (2 * np.pi * np.sqrt(var.prod()))
    # measured 1.5e-8 relative to the peak (the exponentially fitted flux is exact for linear drift
    # up to quadrature of the face drift)
    assert np.abs(rho - exact).max() <= 1e-6 * exact.max()
    assert rho.sum() * np.prod(fp.spacing) == pytest.approx(1.0, rel=1e-12)


def test_reactive_flux_rate_agrees_with_the_mean_first_passage_time_and_current_is_conserved():
    # symmetric 2-D double well f = (x − x³, −y), D = 0.1
    sde = nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=0.1, dim=2)
    fp = fokker_planck(sde, [(-2, 2), (-1.5, 1.5)], (200, 150))
    A, B = ((-1.0, 0.0), 0.1), ((1.0, 0.0), 0.1)
    tpt = fp.reactive_flux(A, B)
    mfpt = fp.at(fp.mean_first_passage_time(B), [-1.0, 0.0])
    # 1/k_AB is the mean time from A to B up to the relaxation inside the basin: 0.3 % measured
    assert tpt.mean_time == pytest.approx(mfpt, rel=0.01)
    i = int(np.argmin(np.abs(fp.axes[0])))
    # by symmetry the committor is ½ on the plane x = 0 (up to half a cell of drift)
    assert fp.at(tpt.forward, [0.0, 0.0]) == pytest.approx(0.5, abs=0.02)
    # every reactive trajectory crosses x = 0 once, net: the current through it is ν
    through = tpt.current[i, :, 0].sum() * fp.spacing[1]
    assert through == pytest.approx(tpt.frequency, rel=1e-9)
    assert np.all((tpt.backward >= 0) & (tpt.backward <= 1))


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(UnsupportedModelError, match="N ≤ 3"):
        fokker_planck(nl.SDE(lambda x: -x, diffusion=1.0, dim=4), (-1, 1), 5)
    with pytest.raises(UnsupportedModelError, match="non-diagonal"):
        fokker_planck(nl.SDE(lambda x: -x, diffusion=[[1.0, 0.5], [0.5, 1.0]], dim=2), (-1, 1))
    with pytest.raises(UnsupportedModelError, match="time-dependent"):
        fokker_planck(nl.SDE(lambda x, t: -x * t, diffusion=1.0, dim=1), (-1, 1))
    ou = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    with pytest.raises(InvalidArgumentError, match="cells"):
        fokker_planck(ou, (-1, 1), 2)
    with pytest.raises(ResourceLimitError, match="cells"):
        fokker_planck(ou, (-1, 1), 2000)
    with pytest.raises(InvalidArgumentError, match="box"):
        fokker_planck(ou, (1, -1), 10)
    fp = fokker_planck(ou, (-1, 1), 10)
    with pytest.raises(InvalidArgumentError, match="overlap"):
        fp.reactive_flux(((0.0, 0.0), 0.5), ((0.1, 0.0), 0.5))
    with pytest.raises(InvalidArgumentError, match="whole grid"):
        fp.mean_first_passage_time(((0.0, 0.0), 10.0))
    with pytest.raises(nl.errors.NonFiniteError, match="not finite"):
        fokker_planck(nl.SDE(lambda x: jnp.log(x), diffusion=1.0, dim=1), (-1, 1), 10)
