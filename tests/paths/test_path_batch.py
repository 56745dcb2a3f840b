"""Batched fixed-time solves (issue 32): ``most_likely_paths`` against one-by-one solves and the
closed-form Ornstein–Uhlenbeck bridge action, and its bad-input errors."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab import models
from noetherlab.paths import ResolutionControl
from noetherlab.paths.solvers import LBFGS, BlockNewton, NewtonKrylov


def test_batch_equals_one_by_one_solves():
    """Maier–Stein, four end points and times: each member is the sequential block-Newton solve
    (reference: ``most_likely_path(method="newton")`` per member) — same status, iterations,
    resolution grids, actions to 1e-12."""
    sde = models.maier_stein()
    x0 = np.array([-1.0, 0.0])
    x1 = np.array([[0.0, -0.2], [0.0, 0.0], [0.0, 0.1], [0.2, 0.0]])
    T = np.array([5.0, 6.0, 8.0, 7.0])
    batch = nl.most_likely_paths(sde, x0, x1, T=T, n=400)
    assert len(batch) == 4
    for b, got in enumerate(batch):
        ref = nl.most_likely_path(sde, x0, x1[b], T=T[b], n=400, method="newton")
        assert got.status == ref.status and got.iterations == ref.iterations
        assert got.converged
        assert got.action == pytest.approx(ref.action, rel=1e-12)
        np.testing.assert_allclose(got.x, ref.x, rtol=0, atol=1e-7)
        assert got.resolution.n == ref.resolution.n == [100, 200, 400]
        assert got.resolution.relative_error == pytest.approx(
            ref.resolution.relative_error, rel=1e-4
        )
        assert got.stats["batch_size"] == 4
        names = lambda r: [row["symmetry"] for row in r.symmetry_charges]
        assert names(got) == names(ref)


def test_batch_of_ou_bridges_matches_the_closed_form():
    """2-D OU ``f = -k x`` with isotropic ``D``: the bridge action
    ``k |x1 - x0 e^{-kT}|² / (2 D (1 - e^{-2kT}))`` (closed form, per member), to 1e-7 from the
    resolution study's Richardson extrapolation at n = 1000."""
    k, D = 1.3, 0.7
    sde = nl.SDE(lambda x: -k * x, diffusion=D, dim=2, name="ou2d")
    x0 = np.array([[-1.0, 0.5], [0.0, 0.0], [2.0, -1.0]])
    x1 = np.array([1.0, 1.0])
    T = np.array([0.5, 1.0, 3.0])
    for b, res in enumerate(nl.most_likely_paths(sde, x0, x1, T=T, n=1000)):
        gap = x1 - x0[b] * np.exp(-k * T[b])
        closed = k * gap @ gap / (2 * D * (1 - np.exp(-2 * k * T[b])))
        assert res.converged
        assert res.resolution.extrapolated_action == pytest.approx(closed, rel=1e-7)


@pytest.mark.parametrize(
    ("kwargs", "argument", "text"),
    [
        ({"x0": np.zeros((3, 3))}, "x0", "shape"),
        ({"x1": np.zeros((3, 2)), "T": [1.0, 2.0]}, "x0/x1/T", "disagree"),
        ({"T": [1.0, -1.0]}, "T", "member 1"),
        ({"solver": LBFGS()}, "solver", "block-Newton or Newton–Krylov"),
        ({"resolution": ResolutionControl(refine=True)}, "resolution", "refine"),
    ],
)
def test_bad_input_names_the_argument(kwargs, argument, text):
    args = {"x0": [-1.0, 0.0], "x1": [0.0, 0.0], "T": 5.0, "n": 40, **kwargs}
    with pytest.raises(nl.errors.InvalidArgumentError, match=text) as info:
        nl.most_likely_paths(models.maier_stein(), args.pop("x0"), args.pop("x1"), **args)
    assert info.value.argument == argument


def test_single_member_and_configured_solver():
    """One member (shapes ``(N,)`` and a number) is a batch of one; the solver's cap applies."""
    (res,) = nl.most_likely_paths(
        models.maier_stein(), [-1.0, 0.0], [0.0, 0.0], T=5.0, n=200, solver=BlockNewton(max_steps=2)
    )
    assert res.status == nl.PathStatus.max_iterations and res.iterations == 2


def test_newton_krylov_batch_equals_one_by_one_solves():
    """A 6-D tanh network (above DENSE_MAX_DIM, so the batch defaults to Newton–Krylov): the
    vectorised trust-region loop gives each member the sequential solve (reference:
    ``most_likely_path(method="newton-krylov")`` per member): same status and iteration count,
    action to 1e-10, and the members need different numbers of steps."""
    w = np.random.default_rng(4).standard_normal((6, 6)) / np.sqrt(6)
    sde = nl.SDE(lambda x: -x + jnp.asarray(w) @ jnp.tanh(x), diffusion=0.2, dim=6)
    x0 = np.zeros(6)
    x1 = np.stack([np.linspace(-1, 1, 6) * s for s in (0.5, 2.0)])
    T = np.array([2.0, 8.0])
    once = ResolutionControl(check=False)
    vectorised = NewtonKrylov(batch="vectorised")
    batch = nl.most_likely_paths(sde, x0, x1, T=T, n=40, solver=vectorised, resolution=once)
    sequential = nl.most_likely_paths(sde, x0, x1, T=T, n=40, resolution=once)  # auto on a CPU
    for b, got in enumerate(batch):
        ref = sequential[b]
        assert ref.method == "newton-krylov"  # the default above 4 dimensions
        assert got.converged and got.status == ref.status
        assert got.iterations == ref.iterations
        assert got.action == pytest.approx(ref.action, rel=1e-10)
        assert got.stats["batch_size"] == ref.stats["batch_size"] == 2
    one = nl.most_likely_path(sde, x0, x1[1], T=8.0, n=40, method="newton-krylov", resolution=once)
    assert one.action == pytest.approx(batch[1].action, rel=1e-10)
    assert len({r.iterations for r in batch}) > 1
    capped = NewtonKrylov(max_steps=1, batch="vectorised")
    (first,) = nl.most_likely_paths(sde, x0, x1[1], T=8.0, n=40, solver=capped, resolution=once)
    assert first.status == nl.PathStatus.max_iterations and first.iterations == 1
    with pytest.raises(nl.errors.InvalidArgumentError, match="batch"):
        NewtonKrylov(batch="parallel")
