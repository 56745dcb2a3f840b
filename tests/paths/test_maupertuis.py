"""The geometric (Maupertuis) action of a given curve against closed forms and the solver."""

from __future__ import annotations

import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import InvalidArgumentError, ShapeError


def test_uphill_costs_the_potential_difference_and_downhill_costs_nothing():
    eps = 0.1
    sde = nl.SDE(lambda x: x - x**3, diffusion=eps, dim=1)
    up = np.linspace(-1.0, 0.0, 1001)
    # E = 0, 1-D gradient drift: Ŝ = ∫ |f| dx / ε = ΔV/ε = 0.25/ε (midpoint rule: O(h²))
    S, T = nl.geometric_action(sde, up)
    assert S == pytest.approx(0.25 / eps, rel=1e-6)
    assert T > 10  # the traversal time diverges logarithmically with resolution at fixed points
    S_down, _ = nl.geometric_action(sde, up[::-1])
    assert abs(S_down) < 1e-12
    # energy E > 0: T(E) = ∫ dx / sqrt(f² + 4εE) (paper Eq. 13), by the same midpoint rule
    E = 0.5
    x = np.linspace(-1.0, 1.0, 2001)
    m = 0.5 * (x[1:] + x[:-1])
    f = m - m**3
    _, T_E = nl.geometric_action(sde, x, E)
    assert T_E == pytest.approx(np.sum(np.diff(x) / np.sqrt(f**2 + 4 * eps * E)), rel=1e-12)


def test_solver_instanton_has_its_reported_action():
    sde = models.maier_stein(beta=10.0)
    path = nl.most_likely_path(sde, [-1.0, 0.0], [0.0, 0.0], energy=0.0, n=400)
    S, _ = nl.geometric_action(sde, path.x)
    assert S == pytest.approx(path.action, rel=1e-10)
    # the straight chord is not the instanton: its action is larger (0.25: the axis, ΔV)
    chord = np.stack([np.linspace(-1, 0, 401), np.zeros(401)], axis=1)
    assert nl.geometric_action(sde, chord)[0] == pytest.approx(0.25, rel=1e-5)


def test_bad_input():
    sde = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    with pytest.raises(ShapeError, match="curve"):
        nl.geometric_action(sde, np.zeros((1, 2)))
    with pytest.raises(ShapeError, match="curve"):
        nl.geometric_action(sde, np.zeros((5, 3)))
    with pytest.raises(InvalidArgumentError, match="minimum energy"):
        nl.geometric_action(sde, [[1.0, 0.0], [2.0, 0.0]], energy=-5.0)
