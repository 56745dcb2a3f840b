"""Symmetries learned from conserved charges (converse of Noether): the known generators are
recovered from families of most likely paths, with residuals at the solver's tolerance, and none
is found where there is none (anisotropic OU: no pᵀA x + p·b is conserved, by direct computation
d/dt(pᵀAx) = pᵀ[K, A]x + 2 pᵀA p for H = |p|² − pᵀK x). The rotation of the Fig. 2 ring
diffusion (time-dependent) is learned in the quick reproduction (tests/reproduce/test_reproduce.py), which
already pays for compiling its paths."""

from __future__ import annotations

import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import InvalidArgumentError

ENDS = [(1.5, 0.3), (-0.4, 1.2), (0.8, -1.0), (-1.0, -0.7)]


def _family(sde, x0, ends, **kw):
    out = [nl.most_likely_path(sde, x0, e, **kw) for e in ends]
    assert all(r.converged for r in out)
    return out


def test_rotation_learned_for_isotropic_ou():
    ou = models.ornstein_uhlenbeck(1.0, 0.5, dim=2)
    found = nl.learn_symmetries(ou, _family(ou, (0.2, 0.1), ENDS, T=2.0, n=100))
    assert found.certified and [s.kind for s in found] == ["rotation"]
    sym = found.symmetries[0]
    assert sym.residual < 1e-10  # discrete Noether: exact on a converged minimiser
    assert np.allclose(np.abs(sym.generator.A), [[0, 1], [1, 0]], atol=1e-9)
    assert np.allclose(sym.generator.b, 0, atol=1e-9)


def test_translations_learned_for_constant_drift():
    ddm = models.drift_diffusion(0.1, 1.0)
    found = nl.learn_symmetries(ddm, _family(ddm, 0.0, [1.0, -1.0, 2.0], T=1.0, n=60))
    assert [s.kind for s in found] == ["translation"] and found.symmetries[0].residual < 1e-12
    drift2 = nl.SDE(lambda x: np.array([0.3, -0.2]) + 0.0 * x, diffusion=0.5, dim=2)
    found2 = nl.learn_symmetries(drift2, _family(drift2, (0.0, 0.0), ENDS, T=1.0, n=60))
    assert [s.kind for s in found2] == ["translation", "translation"] and found2.certified


def test_nothing_learned_for_anisotropic_ou():
    aniso = models.ornstein_uhlenbeck(np.diag([1.0, 2.0]), 0.5)
    found = nl.learn_symmetries(aniso, _family(aniso, (0.2, 0.1), ENDS, T=2.0, n=100))
    assert len(found) == 0
    assert found.singular_values[0] > 1e-4  # measured 4e-3: far from the 1e-14 of a symmetry
    assert found.candidates[0].residual > 1e-3


def test_bad_paths_are_named():
    ou = models.ornstein_uhlenbeck(1.0, 0.5, dim=2)
    with pytest.raises(InvalidArgumentError, match="paths"):
        nl.learn_symmetries(ou, [])
    with pytest.raises(InvalidArgumentError, match=r"paths\[0\]"):
        nl.learn_symmetries(ou, [np.zeros((3, 2))])
