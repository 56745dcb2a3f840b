"""Basins of attraction against the exact separatrices of models whose basins are known."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab.metastability.basins import basins


def test_double_well_basins_are_the_half_planes():
    # f = (x − x³, −y): the separatrix is the stable manifold of the saddle, the line x = 0
    sde = nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=0.1, dim=2)
    b = basins(sde, [[-1.0, 0.0], [1.0, 0.0]], (-2, 2), cells=41)
    U = np.broadcast_to(b.u, b.labels.shape)
    assert np.all(b.labels[U < 0] == 0) and np.all(b.labels[U > 0] == 1)
    # the grid line u = 0 lies exactly on the separatrix: the flow stops at the saddle there
    assert np.all(b.labels[U == 0] == -1)
    assert b.fractions()[-1] == pytest.approx(1 / 41)


def test_three_attractor_slice_of_a_higher_dimensional_model():
    # four independent double wells in 4-D; the plane through three attractors
    sde = nl.SDE(lambda z: z - z**3, diffusion=0.1, dim=4)
    A = np.array([[-1, -1, 1, 1], [1, -1, 1, 1], [-1, 1, 1, 1]], dtype=float)
    b = basins(sde, A, (-1.5, 1.5), cells=31)
    proj = b.project(A)
    for k, (u, v) in enumerate(proj):
        i, j = np.argmin(np.abs(b.v - v)), np.argmin(np.abs(b.u - u))
        assert b.labels[i, j] == k  # each attractor sits in its own basin
    # states on the plane that flow to the fourth corner (1, 1, 1, 1) are not one of the three
    assert -1 in b.fractions()


def test_bad_input():
    sde = nl.SDE(lambda z: -z, diffusion=0.1, dim=3)
    with pytest.raises(InvalidArgumentError, match="plane"):
        basins(sde, [[0.0, 0.0, 0.0]], (-1, 1))
    with pytest.raises(ShapeError, match="attractors"):
        basins(sde, [[0.0, 0.0]], (-1, 1))
    with pytest.raises(ShapeError, match="box"):
        basins(sde, [[0.0, 0, 0]], (1, -1), plane=([0, 0, 0], [1, 0, 0], [0, 1, 0]))
    with pytest.raises(InvalidArgumentError, match="parallel"):
        basins(sde, [[0.0, 0, 0]], (-1, 1), plane=([0, 0, 0], [1, 0, 0], [2, 0, 0]))
