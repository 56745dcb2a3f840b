"""Noisy RNNs with 100 units (issue 12): Newton–Krylov against the dense block Newton, and the
geometric solver conserving the energy exactly at that size."""

from __future__ import annotations

import numpy as np
import pytest

from noetherlab import PathStatus, models
from noetherlab.paths import PathProblem
from noetherlab.paths.solvers import BlockNewton, Geometric, NewtonKrylov

N = 100


@pytest.fixture(scope="module")
def rnn():
    sde = models.memory_rnn(N, seed=0)
    lo, hi = models.memory_rnn_attractors(N, seed=0)
    return sde, lo, hi


@pytest.fixture(scope="module")
def nk_path(rnn):
    sde, lo, hi = rnn
    return NewtonKrylov().solve(PathProblem.fixed_time(sde, lo, hi, T=10.0, n=100))


def test_newton_krylov_satisfies_euler_lagrange(rnn, nk_path):
    res = nk_path
    assert res.status is PathStatus.successful, res.message
    assert res.el_residual < 1e-8  # independent check on the returned path
    assert res.stats["lambda_min"] >= 0  # Lanczos: a minimiser, not a saddle


def test_newton_krylov_matches_dense_newton(rnn, nk_path):
    """Independent computation: exact block-tridiagonal Hessian and Cholesky (O(n N³))."""
    sde, lo, hi = rnn
    dense = BlockNewton().solve(PathProblem.fixed_time(sde, lo, hi, T=10.0, n=100), nk_path.x)
    assert dense.converged
    assert dense.action == pytest.approx(nk_path.action, rel=1e-12)
    assert np.max(np.abs(dense.x - nk_path.x)) < 1e-7


def test_geometric_conserves_energy_at_n100(rnn, nk_path):
    """At the fixed-T path's mean energy the geometric path has every interval energy equal to E
    (relative drift < 1e-6) and a transit time within the O(h²) discretisation difference of T."""
    sde, lo, hi = rnn
    geo = Geometric().solve(PathProblem.fixed_energy(sde, lo, hi, energy=nk_path.energy, n=100))
    assert geo.status is PathStatus.successful, geo.message
    assert geo.charges.energy.drift < 1e-6
    assert geo.T == pytest.approx(10.0, rel=1e-3)
    assert geo.action == pytest.approx(nk_path.action, rel=1e-3)


def test_geometric_dense_and_krylov_inner_steps_agree():
    """The geometric action in normal coordinates, Newton steps with the exact block Hessian vs
    matrix-free Newton–Krylov (the default above 4 dimensions): the same curve."""
    sde = models.memory_rnn(8, seed=1)
    lo, hi = models.memory_rnn_attractors(8, seed=1)
    prob = PathProblem.fixed_energy(sde, lo, hi, energy=1.0, n=120)
    dense = Geometric(inner="dense").solve(prob)
    krylov = Geometric(inner="krylov").solve(prob)
    assert dense.status is PathStatus.successful and krylov.status is PathStatus.successful
    assert krylov.action == pytest.approx(dense.action, rel=1e-9)
    assert krylov.T == pytest.approx(dense.T, rel=1e-7)
