"""Approximate symmetries: the defect is 0 to roundoff for exact symmetries, and > 0 for broken
ones. The reference values are closed forms for linear drifts."""

from __future__ import annotations

import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import InvalidArgumentError, ShapeError

STATES = np.random.default_rng(0).standard_normal((100, 2))


def test_exact_symmetries_have_zero_defect():
    ou = models.ornstein_uhlenbeck(1.0, 0.5, dim=2)
    assert nl.symmetry_defect(ou, nl.Generator.rotation(0, 1, 2), STATES) < 1e-14
    ddm = models.drift_diffusion(0.1, 1.0)
    assert nl.symmetry_defect(ddm, nl.Generator.translation([1.0]), STATES[:, :1]) < 1e-14
    found = nl.approximate_symmetries(ou, STATES, max_defect=0.5)
    assert [s.kind for s in found] == ["rotation"] and found.symmetries[0].defect < 1e-7


def test_broken_symmetry_has_its_closed_form_defect():
    # f = -x: a translation b gives r = Df b = -b, Df δx = -b, A f = 0, κ² = ||Df||²/N = 1, so
    # d² = |b|² / (|b|² + κ²|b|²) = 1/2 exactly
    ou = models.ornstein_uhlenbeck(1.0, 0.5, dim=2)
    d = nl.symmetry_defect(ou, nl.Generator.translation([1.0, 0.0]), STATES)
    assert d == pytest.approx(np.sqrt(0.5), rel=1e-12)
    # f = -K x, K = diag(1, 2): rotation J gives r = J K x - K J x = [J, K] x ≠ 0
    aniso = models.ornstein_uhlenbeck(np.diag([1.0, 2.0]), 0.5)
    d_rot = nl.symmetry_defect(aniso, nl.Generator.rotation(0, 1, 2), STATES)
    assert 0.2 < d_rot < 0.6
    found = nl.approximate_symmetries(aniso, STATES, max_defect=1.0)
    assert found.defects[0] > 0.2  # no exact symmetry left
    assert found.defects[0] <= d_rot + 1e-12  # the minimiser is at least as good as J


def test_subspace_restriction_finds_the_rotation_plane():
    # 3-D OU, isotropic in the (x1, x2) plane only: restricted to that plane the rotation is exact
    K = np.diag([1.0, 1.0, 3.0])
    ou = models.ornstein_uhlenbeck(K, 0.5)
    states = np.random.default_rng(1).standard_normal((60, 3))
    U = np.eye(3)[:, :2]
    found = nl.approximate_symmetries(ou, states, subspace=U, max_defect=0.1)
    assert found.unknowns == 3  # antisymmetric 2x2 block (1) + translation in the plane (2)
    assert len(found) == 1 and found.symmetries[0].defect < 1e-7
    A = found.symmetries[0].generator.A
    assert abs(A[0, 1]) == pytest.approx(1.0) and np.allclose(A + A.T, 0, atol=1e-9)
    assert np.allclose(A[2], 0) and np.allclose(A[:, 2], 0)


def test_bad_input_is_named():
    ou = models.ornstein_uhlenbeck(1.0, 0.5, dim=2)
    with pytest.raises(ShapeError, match="states"):
        nl.approximate_symmetries(ou, np.zeros((5, 3)))
    with pytest.raises(InvalidArgumentError, match="orthonormal"):
        nl.approximate_symmetries(ou, STATES, subspace=np.ones((2, 1)))
    big = models.memory_rnn(60)
    with pytest.raises(InvalidArgumentError, match="subspace"):
        nl.approximate_symmetries(big, np.zeros((3, 60)))
