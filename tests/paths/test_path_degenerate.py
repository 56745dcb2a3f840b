"""Noise on a subspace (hypoelliptic Langevin dynamics) through the Hamiltonian form (issue 12).

Model: ``dq = v dt``, ``dv = (q - q³ - γ v) dt + σ dW`` (``γ = σ = 1``), ``D = diag(0, σ²/2)``.
Reference: its stationary density is ``∝ exp(-(2γ/σ²) H)`` with ``H = V(q) + v²/2``,
``V = q⁴/4 - q²/2`` (detailed balance up to ``v → -v``), so the minimum action from the well
``(-1, 0)`` to the saddle ``(0, 0)`` tends to ``(2γ/σ²) ΔH = 2 · 1/4 = 0.5`` as ``T → ∞``.
"""

from __future__ import annotations

import jax.numpy as jnp
import pytest

import noetherlab as nl
from noetherlab import PathStatus
from noetherlab.paths.solvers.shooting import shooting_path

LANGEVIN = nl.SDE(
    lambda z: jnp.stack([z[1], z[0] - z[0] ** 3 - z[1]]), noise=[[0.0], [1.0]], name="langevin"
)


def test_langevin_action_tends_to_quasipotential():
    assert LANGEVIN.degenerate
    r10 = nl.most_likely_path(LANGEVIN, [-1.0, 0.0], [0.0, 0.0], T=10.0, n=2000)
    r20 = nl.most_likely_path(LANGEVIN, [-1.0, 0.0], [0.0, 0.0], T=20.0, n=2000)
    assert r10.method == "hamiltonian" and r10.status is PathStatus.successful
    assert r20.status is PathStatus.successful
    assert 0.5 < r20.action < r10.action  # decreasing in T towards the barrier
    assert r20.action == pytest.approx(0.5, abs=1e-4)
    # q̇ = v holds exactly on the discrete path (the constraint of the degenerate noise)
    dq = (r20.x[1:, 0] - r20.x[:-1, 0]) / (r20.t[1:] - r20.t[:-1])
    assert float(jnp.max(jnp.abs(dq - 0.5 * (r20.x[1:, 1] + r20.x[:-1, 1])))) < 1e-9


def test_langevin_shooting_agrees():
    """Shooting integrates Hamilton's equations (no D⁻¹): the continuous action at T = 10 agrees
    with the discrete Hamiltonian solution to its O(h²) error (h = 5e-3)."""
    r = nl.most_likely_path(
        LANGEVIN,
        [-1.0, 0.0],
        [0.0, 0.0],
        T=10.0,
        n=2000,
        resolution=nl.ResolutionControl(check=False),
    )
    s = shooting_path(LANGEVIN, [-1.0, 0.0], [0.0, 0.0], T=10.0, init=r, segments=4)
    assert s.status is PathStatus.successful
    assert s.action == pytest.approx(r.action, rel=1e-5)
