"""The balance of a broken charge (noether/balance.py).

Reference values:

* Noether's identity on the discrete midpoint action: ``Q_n − Q_0 = Σ_k δL_d^{(k)}`` on a
  stationary path, exactly (derivation in the module docstring); the closure is what the path's
  Euler–Lagrange residual leaves of it;
* ``δL_d^{(k)} = h_k p^{mid}_k · (A f(m_k) − Df(m_k) A m_k)`` for an isotropic state-independent
  noise, computed here independently of the module's forward differentiation;
* data ``N(0, diag(s²))`` under the variance-exploding schedule has the exact score
  ``s_i(x, t) = −x_i/(s_i² + t²)``: rotation invariant in the (0, 1) plane iff ``s_0 = s_1``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError

SCHEDULE = nl.VarianceExploding(t_min=0.1, t_max=3.0)


def _model(s):
    s2 = jnp.asarray(s) ** 2
    return nl.diffusion_model(lambda x, t: -x / (s2 + t**2), SCHEDULE, dim=len(s))


def _path(model, n=120):
    u = model.times(n)
    start, end = np.array([2.0, 0.5, -1.0]), np.array([0.3, 1.2, 0.4])
    path = nl.most_likely_path(model.reverse_sde, start, end, t=u)
    assert path.converged, path.message
    return path


def test_a_symmetric_score_conserves_the_charge_and_has_zero_defect():
    model = _model([1.0, 1.0, 0.5])
    path = _path(model)
    rot = nl.Generator.rotation(0, 1, 3)
    bal = nl.charge_balance(model.reverse_sde, rot, path.x, path.t)
    assert bal.defect < 1e-12 and bal.bound < 1e-12 * bal.scale
    assert bal.drift < 1e-9 * bal.scale, bal.summary()


@pytest.mark.parametrize("lagrangian", ["fw", "om"])
def test_a_broken_symmetry_moves_the_charge_by_exactly_the_variation_of_the_action(lagrangian):
    model = _model([1.0, 0.8, 0.5])  # s_0 ≠ s_1: the (0, 1) rotation is broken
    path = _path(model)
    rot = nl.Generator.rotation(0, 1, 3)
    sde = model.reverse_sde
    bal = nl.charge_balance(sde, rot, path.x, path.t, lagrangian=lagrangian)
    # the charge moves visibly, and by exactly what Noether's identity predicts
    assert bal.drift > 1e-2 * bal.scale
    assert bal.closure < 1e-10 * bal.scale, bal.summary()  # measured 1.3e-13
    np.testing.assert_allclose(bal.change[-1], bal.predicted[-1], rtol=1e-8)
    # both bounds hold and neither is vacuous (within a factor of 20 of the drift)
    assert bal.drift <= bal.bound * (1 + 1e-12) <= bal.defect_bound * (1 + 1e-12)
    assert bal.defect_bound < 20 * bal.drift  # measured 3.1×
    assert 0 < bal.defect < 1
    assert bal.defect == pytest.approx(
        nl.symmetry_defect(
            sde, rot, 0.5 * (path.x[1:] + path.x[:-1]), 0.5 * (path.t[1:] + path.t[:-1])
        ),
        rel=1e-12,
    )
    if lagrangian == "fw":  # independent formula: δL_d = h p_mid · (A f − Df A m)
        A = np.asarray(rot.A)
        x, t = path.x, path.t
        h, m, tm = np.diff(t), 0.5 * (x[1:] + x[:-1]), 0.5 * (t[1:] + t[:-1])
        expect = []
        for k in range(len(h)):
            f = np.asarray(sde.f(m[k], tm[k]))
            J = np.asarray(jax.jacfwd(sde.f)(jnp.asarray(m[k]), tm[k]))
            D = np.asarray(sde.D(m[k], tm[k]))
            p = 0.5 * np.linalg.solve(D, (x[k + 1] - x[k]) / h[k] - f)
            expect.append(h[k] * p @ (A @ f - J @ A @ m[k]))
        np.testing.assert_allclose(bal.variation, expect, rtol=1e-10, atol=1e-14)


def test_the_balance_refuses_what_its_identity_does_not_cover():
    model = _model([1.0, 0.8, 0.5])
    path = _path(model, n=120)
    with pytest.raises(InvalidArgumentError, match="generator"):
        nl.charge_balance(model.reverse_sde, nl.Generator.time_translation(3), path.x, path.t)
    noisy = nl.SDE(
        lambda x, t: -x, diffusion=lambda x, t: 1.0 + 0.1 * x**2, dim=3, name="state noise"
    )
    with pytest.raises(InvalidArgumentError, match="noise D depends on the state"):
        nl.charge_balance(noisy, nl.Generator.rotation(0, 1, 3), path.x, path.t)
