"""Hutchinson's divergence estimate (issue 31). Reference: for a linear drift ``f = A x`` the
divergence is ``tr A`` and one Rademacher probe has variance ``Σ_{i≠l} (A_il² + A_il A_li)``."""

import jax.numpy as jnp
import numpy as np

import noetherlab as nl
from noetherlab.sde.divergence import hutchinson_divergence


def test_hutchinson_estimate_against_the_exact_trace_in_64_dimensions():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((64, 64)) / 8 - np.eye(64)
    sde = nl.SDE(lambda x: jnp.asarray(A) @ x, diffusion=1.0, dim=64)
    x = rng.standard_normal(64)
    exact = float(sde.divergence(x))
    np.testing.assert_allclose(exact, np.trace(A), rtol=1e-13)
    off = ~np.eye(64, dtype=bool)
    var = float(np.sum((A**2 + A * A.T)[off]))
    k = 4096
    est, se = hutchinson_divergence(sde, x, probes=k, key=1)
    assert abs(est - exact) < 4 * np.sqrt(var / k)
    np.testing.assert_allclose(se, np.sqrt(var / k), rtol=0.1)  # the sample SE, within 10 %
    # a diagonal Jacobian is estimated exactly by every probe
    diag = nl.SDE(lambda x: -(1 + x**2) * x, diffusion=1.0, dim=64)
    est, se = hutchinson_divergence(diag, x, probes=3)
    np.testing.assert_allclose(est, float(diag.divergence(x)), rtol=1e-13)
    assert se < 1e-12


def _tanh_network(d: int) -> nl.SDE:
    w = np.random.default_rng(3).standard_normal((d, d)) / np.sqrt(d)
    return nl.SDE(lambda x: jnp.asarray(w) @ jnp.tanh(x) - x, diffusion=0.5, dim=d)


def test_fixed_probe_divergence_is_the_mean_of_its_quadratic_forms():
    """Reference: the explicit Jacobian (jax.jacfwd) contracted with the model's own probes."""
    import jax

    sde = _tanh_network(6)
    est = sde.with_hutchinson_divergence(probes=5, key=2)
    assert est.divergence_probes.shape == (5, 6)
    assert set(np.unique(np.asarray(est.divergence_probes))) == {-1.0, 1.0}
    assert "Hutchinson" in est.name and "Hutchinson" not in sde.name
    x = jnp.linspace(-1.0, 1.0, 6)
    J = np.asarray(jax.jacfwd(lambda y: sde.f(y))(x))
    z = np.asarray(est.divergence_probes)
    np.testing.assert_allclose(
        float(est.divergence(x)), np.mean(np.einsum("ki,il,kl->k", z, J, z)), rtol=1e-13
    )
    np.testing.assert_allclose(float(sde.divergence(x)), np.trace(J), rtol=1e-13)


def test_onsager_machlup_path_with_estimated_divergence_brackets_the_exact_action():
    """Each path minimises its own action, so with Δ(x) = S_H(x) − S(x) (the divergence error
    integrated along x): Δ(x_H) <= S_H(x_H) − S(x*) <= Δ(x*). Checked on an 8-D tanh network."""
    sde = _tanh_network(8)
    est = sde.with_hutchinson_divergence(probes=2, key=0)
    x0, x1 = -np.ones(8), np.linspace(0.5, 1.5, 8)
    unchecked = nl.ResolutionControl(check=False)
    exact = nl.most_likely_path(sde, x0, x1, T=2.0, n=64, lagrangian="om", resolution=unchecked)
    hutch = nl.most_likely_path(est, x0, x1, T=2.0, n=64, lagrangian="om", resolution=unchecked)
    assert exact.converged and hutch.converged

    def gap(path: nl.PathResult) -> float:
        return nl.action(est, path.x, path.t, "om") - nl.action(sde, path.x, path.t, "om")

    diff = hutch.action - exact.action
    assert gap(hutch) - 1e-9 <= diff <= gap(exact) + 1e-9
    assert abs(gap(exact)) > 1e-3  # two probes do miss the trace: the bracket is not trivial
    assert np.max(np.abs(hutch.x - exact.x)) > 1e-6


def test_bad_probe_counts_are_refused_by_name():
    sde = _tanh_network(3)
    for bad in (0, -2, 1.5):
        try:
            sde.with_hutchinson_divergence(probes=bad)
        except nl.errors.InvalidArgumentError as err:
            assert err.argument == "probes"
        else:  # pragma: no cover - the failure names the value
            raise AssertionError(f"probes={bad!r} was accepted")
