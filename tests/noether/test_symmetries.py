"""Symmetry checks and discovery (issue: foundation, Symmetries)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl


def names(report):
    return sorted(report.names)


def test_isotropic_2d_ou():
    r = nl.find_symmetries(nl.SDE(lambda x: -x, diffusion=1.0, dim=2))
    assert names(r) == ["rotation in the x1-x2 plane", "time translation"]
    assert r.certified and r.gap > 1e10


def test_constant_drift_translations():
    r = nl.find_symmetries(
        nl.SDE(lambda x: jnp.array([0.3, -0.2]), diffusion=[[1.0, 0.2], [0.2, 0.5]])
    )
    assert names(r) == ["time translation", "translation along x1", "translation along x2"]
    assert r.certified


def test_radial_gradient_drift_in_3d_has_so3():
    def V(x):
        r2 = jnp.sum(x**2)
        return r2**2 / 4 - r2

    r = nl.find_symmetries(nl.SDE(lambda x: -jax.grad(V)(x), diffusion=0.5, dim=3))
    assert names(r) == [
        "rotation in the x1-x2 plane",
        "rotation in the x1-x3 plane",
        "rotation in the x2-x3 plane",
        "time translation",
    ]
    for s in r.symmetries[:3]:
        np.testing.assert_allclose(s.generator.A, -s.generator.A.T)
        assert np.count_nonzero(s.generator.A) == 2


def test_anisotropic_ou_has_time_only():
    r = nl.find_symmetries(nl.SDE(lambda x: -jnp.array([1.0, 2.0]) * x, diffusion=1.0, dim=2))
    assert names(r) == ["time translation"]
    assert r.certified


def test_rotating_ou_has_rotation():
    r = nl.find_symmetries(
        nl.SDE(lambda x: -0.5 * x + 2.0 * jnp.array([-x[1], x[0]]), diffusion=0.3, dim=2)
    )
    assert names(r) == ["rotation in the x1-x2 plane", "time translation"]


def test_rotation_about_a_center_and_time_dependent_drift():
    c = jnp.array([1.0, -2.0])
    r = nl.find_symmetries(
        nl.SDE(lambda x, t: -(1 + t**2) * (x - c), diffusion=1.0, dim=2), center=c
    )
    assert names(r) == ["rotation in the x1-x2 plane about (1, -2)"]
    assert not r.time_translation


def test_d_metric_rotation_is_general():
    D = np.diag([1.0, 4.0])
    r = nl.find_symmetries(nl.SDE(lambda x: -x, diffusion=D))
    assert names(r) == ["general affine symmetry", "time translation"]
    A = r.symmetries[0].generator.A
    np.testing.assert_allclose(A @ D + D @ A.T, 0.0, atol=1e-12)


def test_check_symmetry_reports_worst_violation():
    sym = nl.SDE(lambda x: -x + jnp.array([-x[1], x[0]]), diffusion=0.3, dim=2)
    ok = nl.check_symmetry(sym, nl.Generator.rotation(0, 1, 2))
    assert ok.invariant and ok.relative_violation < 1e-14
    broken = nl.SDE(lambda x: -jnp.array([1.0, 3.0]) * x, diffusion=0.3, dim=2)
    bad = nl.check_symmetry(broken, nl.Generator.rotation(0, 1, 2))
    assert not bad.invariant and bad.relative_violation > 1e-2
    assert bad.worst_x.shape == (2,)
    assert nl.check_symmetry(broken, nl.Generator.time_translation(2)).invariant
    td = nl.SDE(lambda x, t: -t * x, diffusion=0.3, dim=2)
    assert not nl.check_symmetry(td, nl.Generator.time_translation(2)).invariant


def test_symmetry_charge_callable():
    sde = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    rot = nl.find_symmetries(sde).symmetries[0]
    t = np.linspace(0, 1, 5)
    x = np.linspace([1.0, 0.0], [0.0, 1.0], 5)
    J = rot.charge(x, t)
    c = nl.noether_charges(sde, x, t)
    # rotation generator δx = A x with A = E21 - E12 (RREF sign): J = p·Ax = ±L12
    np.testing.assert_allclose(
        np.abs(J.values), np.abs(c.angular_momentum.values[:, 0, 1]), rtol=1e-13
    )


def test_generator_errors():
    with pytest.raises(nl.errors.ShapeError):
        nl.Generator.rotation(0, 0, 2)
    with pytest.raises(nl.errors.ShapeError, match="dimension 3"):
        nl.check_symmetry(
            nl.SDE(lambda x: -x, diffusion=1.0, dim=2), nl.Generator.rotation(0, 1, 3)
        )
