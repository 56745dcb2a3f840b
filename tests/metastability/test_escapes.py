"""Extended attractors in the landscape: rings, lines and limit cycles, their escapes, and basin
fractions by sampling (issue 29).

Reference values (closed forms):

* the rotation-equivariant RNN ``ẋ = −x + (2I + ωJ) tanh(|x|) x/|x|`` with ``D = εI``: the radial
  drift is ``−∇U``, ``U = r²/2 − 2 log cosh r``, and the rotation ``ωJφ`` is orthogonal to ``∇U``,
  so the quasi-potential is ``U/ε`` for every ω. The escape from the ring (ω = 0) or the limit cycle
  (ω ≠ 0, radius ``r* = 2 tanh r*``, period ``2π·2/ω``) to the unstable origin costs
  ``(U(0) − U(r*))/ε``;
* the line attractor ``ẋ = (−xy, −y(y − 1)(y − 2))``: the ``y`` motion does not depend on ``x``, so
  every path from the line ``y = 0`` to the saddle ``(0, 1)`` costs at least the 1-D barrier
  ``(V(1) − V(0))/ε`` with ``V = y⁴/4 − y³ + y²``, i.e. ``1/(4ε)``, attained at ``x = 0``; the same
  from the point attractor ``(0, 2)``. Its basin boundary is ``y = 1``;
* the product double well ``ẋ_i = x_i − x_i³`` in the box ``[−1, 2]³``: the basin of ``(1, 1, 1)``
  is the positive orthant, volume fraction ``(2/3)³``.
"""

import json

import jax.numpy as jnp
import matplotlib
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError
from noetherlab.metastability.basins import basin_fractions
from noetherlab.metastability.escapes import escape_path
from noetherlab.metastability.fixed_points import find_fixed_points
from noetherlab.metastability.limit_cycles import LimitCycle
from noetherlab.metastability.manifolds import AttractorManifold
from noetherlab.plotting import plot_branch, plot_landscape, plot_state_space


def _radius() -> float:
    r = 1.0
    for _ in range(200):
        r = 2 * np.tanh(r)
    return r


@pytest.mark.parametrize("rotation", [0.0, 0.5])
def test_escape_from_a_ring_or_a_cycle_to_the_origin(rotation):
    eps = 0.1
    r = _radius()
    exact = -(r**2 / 2 - 2 * np.log(np.cosh(r))) / eps
    sde = nl.models.equivariant_rnn(rotation=rotation, noise=eps)
    land = nl.landscape(sde, (-3, 3), n=200)
    assert land.attractors == () and len(land.extended) == 1
    attractor = land.extended[0]
    if rotation == 0.0:
        assert isinstance(attractor, AttractorManifold) and attractor.kind == "ring"
        # ~100 points from random Newton starts: the polygon through them shortens the ring
        np.testing.assert_allclose(attractor.effective_diffusion, eps / r**2, rtol=5e-3)
    else:
        assert isinstance(attractor, LimitCycle) and attractor.stable
        np.testing.assert_allclose(attractor.period, 2 * np.pi * 2 / rotation, rtol=1e-9)
    (esc,) = land.escapes
    assert esc.converged and esc.via == "unstable point 0"
    assert esc.source == esc.target_label  # off the attractor and back
    np.testing.assert_allclose(esc.barrier, exact, rtol=1e-3)
    assert esc.spread < 1e-3  # every phase of a symmetric attractor costs the same
    np.testing.assert_allclose(np.linalg.norm(esc.start), r, rtol=1e-3)
    assert "ring 0" in land.summary() or "cycle 0" in land.summary()
    json.dumps(land.as_dict())  # JSON-ready, extended attractors included
    assert "escapes_json" in land.to_dataset().attrs


def _line_model(eps=0.05):
    return nl.SDE(
        lambda z: jnp.array([-z[0] * z[1], -z[1] * (z[1] - 1) * (z[1] - 2)]),
        diffusion=eps,
        dim=2,
        name="line and point",
    )


def test_a_line_attractor_and_a_point_attractor_across_a_saddle():
    eps = 0.05
    sde = _line_model(eps)
    box = [(-1, 1), (-0.5, 2.5)]
    land = nl.landscape(sde, box, n=200)
    assert len(land.attractors) == 1 and len(land.saddles) == 1
    np.testing.assert_allclose(land.attractors[0].x, [0, 2], atol=1e-10)
    (line,) = land.extended
    assert isinstance(line, AttractorManifold) and line.kind == "line"
    np.testing.assert_allclose(line.normal_rate, -2.0, atol=1e-8)
    pairs = {(e.source, e.target_label): e for e in land.escapes}
    assert set(pairs) == {("line 0", "attractor 0"), ("attractor 0", "line 0")}
    for e in pairs.values():
        assert e.converged and e.via == "saddle 0"
        np.testing.assert_allclose(e.barrier, 1 / (4 * eps), rtol=1e-3)
    # the cheapest start on the line is x = 0 (elsewhere the x motion costs extra, or the path
    # slides along the line first at no cost)
    assert np.all(pairs[("line 0", "attractor 0")].actions >= 1 / (4 * eps) * (1 - 1e-3))

    fr = basin_fractions(sde, land, box=box, samples=2000, key=1)
    assert fr.labels == ("attractor 0", "line 0")
    p, se = fr.fractions[0], fr.standard_errors[0]
    assert abs(p - 0.5) < 4 * se  # basin boundary y = 1: half of the box
    lo, hi = fr.intervals[0]
    assert lo < 0.5 < hi
    # states below the line drift outwards in x and may settle beyond the sampled segment
    assert fr.counts.sum() + fr.unassigned == 2000 and fr.unassigned < 100

    fig = plot_landscape(land)
    widths = sorted(line.get_linewidth() for line in fig.axes[0].lines)
    assert widths[-1] == 2.4  # the line attractor drawn as a thick curve
    assert sum(ln.get_linestyle() == "--" for ln in fig.axes[0].lines) == 2  # two escapes
    matplotlib.pyplot.close(fig)


def test_basin_fractions_of_a_product_double_well_in_three_dimensions():
    sde = nl.SDE(lambda x: x - x**3, diffusion=0.01, dim=3)
    corners = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)], float)
    fr = basin_fractions(sde, corners, box=(-1, 2), samples=4000, key=3)
    k = int(np.flatnonzero(np.all(corners == 1, axis=1))[0])
    assert abs(fr.fractions[k] - (2 / 3) ** 3) < 4 * fr.standard_errors[k]
    assert fr.unassigned == 0 and fr.counts.sum() == 4000
    neg = int(np.flatnonzero(np.all(corners == -1, axis=1))[0])
    assert abs(fr.fractions[neg] - (1 / 3) ** 3) < 4 * fr.standard_errors[neg]
    # given initial states instead of a box
    again = basin_fractions(sde, corners, np.full((5, 3), 0.3))
    assert again.counts[k] == 5
    with pytest.raises(InvalidArgumentError, match="exactly one"):
        basin_fractions(sde, corners, np.zeros((4, 3)), box=(-1, 1))
    with pytest.raises(ShapeError, match="initial"):
        basin_fractions(sde, corners, np.zeros((4, 2)))
    with pytest.raises(ShapeError, match="box"):
        basin_fractions(sde, corners, box=[(1, -1)] * 3)


def test_a_continuum_is_refused_unless_kept_and_a_repelling_one_always():
    ring = nl.models.equivariant_rnn(rotation=0.0, noise=0.1)
    with pytest.raises(UnsupportedModelError, match="continuum='keep'"):
        find_fixed_points(ring, (-3, 3))
    kept = find_fixed_points(ring, (-3, 3), continuum="keep")
    assert sum(p.kind == "non-hyperbolic" for p in kept.points) >= 8
    with pytest.raises(InvalidArgumentError, match="continuum"):
        find_fixed_points(ring, (-3, 3), continuum="ignore")
    reversed_ring = nl.SDE(lambda x: -ring.f(x), diffusion=0.1, dim=2, name="repelling ring")
    with pytest.raises(UnsupportedModelError, match="repels"):
        nl.landscape(reversed_ring, (-3, 3))
    with pytest.raises(InvalidArgumentError, match="cycles"):
        nl.landscape(ring, (-3, 3), cycles="yes")


def test_van_der_pol_cycle_is_one_attractor_with_an_escape_to_its_focus():
    vdp = nl.SDE(
        lambda x: jnp.array([x[1], (1 - x[0] ** 2) * x[1] - x[0]]),
        diffusion=0.01,
        dim=2,
        name="vdp",
    )
    land = nl.landscape(vdp, (-3, 3), n=200)
    (cycle,) = land.extended
    np.testing.assert_allclose(cycle.period, 6.663286859323, atol=1e-9)  # as in find_limit_cycle
    (esc,) = land.escapes
    assert esc.converged and esc.source == "cycle 0" == esc.target_label
    assert np.all(esc.barrier <= esc.actions[np.isfinite(esc.actions)])
    # the bare escape from one point is an upper bound of the minimum over the cycle
    one = escape_path(vdp, cycle.x[:1], np.zeros(2), n=200)
    assert one.barrier >= esc.barrier - 1e-9
    # ε·ΔΦ is a property of the drift: about 0.42 (no closed form; reported, not asserted further)
    assert 0.3 < 0.01 * esc.barrier < 0.6


def test_bifurcation_diagram_and_state_space_views():
    branch = nl.fixed_point_branch(lambda x, u: u + x - x**3, [-1.5], (-1.0, 1.0))
    fig = plot_branch(branch, label="u")
    drawn = [ln for ln in fig.axes[0].lines if len(ln.get_xdata()) > 1]
    assert sum(ln.get_linestyle() == "-" for ln in drawn) == 2  # the two stable branches
    assert sum(ln.get_linestyle() == "--" for ln in drawn) == 1  # the unstable middle branch
    folds = [ln for ln in fig.axes[0].lines if ln.get_marker() == "o"]
    np.testing.assert_allclose(
        sorted(float(ln.get_xdata()[0]) for ln in folds), [-2 / 3**1.5, 2 / 3**1.5], atol=1e-8
    )
    matplotlib.pyplot.close(fig)

    net = nl.models.equivariant_rnn(rotation=0.0, noise=0.01)
    seeds = 2.5 * np.random.default_rng(0).standard_normal((64, 2))
    slow = nl.find_slow_points(net, seeds, q_tol=1e-14)
    traj = np.random.default_rng(1).standard_normal((3, 20, 2))
    fig = plot_state_space(slow, trajectories=traj)
    ax = fig.axes[0]
    assert "PC 1" in ax.get_xlabel() and "% of variance" in ax.get_ylabel()
    assert sum(ln.get_color() == "#999999" for ln in ax.lines) == 3
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "unstable" in labels  # the origin
    matplotlib.pyplot.close(fig)
    with pytest.raises(InvalidArgumentError, match="nothing to draw"):
        plot_state_space()
