"""Conservation laws of momentum and metric flows (issue 15, item 1).

Reference counts: the SageMath code of Marcotte, Gribonval & Peyré (*Keep the momentum*, ICML 2024),
run on the same cases (numbers quoted in issue 15); the deep-linear [1,4,1] -> 10 and [1,2,1] -> 2
momentum counts are from the same peer. The closed forms of the laws are derived in
:mod:`noetherlab.training.known` (``e^{τt} J`` for antisymmetric generators, ``Σ_in φ - Σ_out φ``
under a diagonal metric)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.dynamics import Flow, parse_flow
from noetherlab.training.polylaws import find_polynomial_laws


@pytest.mark.parametrize(
    ("arch", "flow", "expected"),
    [
        (tr.linear_net([2, 2, 1]), "momentum", 1),
        (tr.linear_net([2, 3, 1]), "momentum", 3),
        (tr.linear_net([1, 3, 1]), "momentum", 6),
        (tr.linear_net([2, 1, 2]), "momentum", 0),
        (tr.linear_net([1, 4, 1]), "momentum", 10),
        (tr.linear_net([1, 2, 1]), "momentum", 2),
        (tr.linear_net([2, 2, 1]), "nesterov", 1),
        (tr.relu_net([2, 3, 1]), "momentum", 0),
        (tr.linear_net([2, 3, 2]), "nmf", 3),
        (tr.linear_net([2, 2, 2]), "nmf", 2),
        (tr.relu_net([2, 3, 2]), "mirror", 3),
        (tr.relu_net([2, 3, 2], bias=True), "mirror", 3),
        (tr.linear_net([2, 2, 2]), "nmf+momentum", 0),
        (tr.relu_net([2, 3, 2]), "mirror+momentum", 0),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_counts_agree_with_the_peer(arch, flow, expected):
    res = tr.count_laws(arch, flow=flow, batch=16)
    assert res.certified and res.gap > 1e8
    assert res.laws == expected
    f = parse_flow(flow)
    assert res.dimension == f.state_dimension(arch.dimension)
    assert res.flow == f.name


@pytest.mark.parametrize(
    ("arch", "flow", "explained"),
    [
        (tr.linear_net([2, 3, 1]), "momentum", 3),  # all: 3 antisymmetric generators of GL(3)
        (
            tr.linear_net([1, 3, 1]),
            "nesterov",
            3,
        ),  # 3 of the 6: the rest come from overparametrisation
        (tr.linear_net([2, 3, 2]), "nmf", 3),
        (tr.relu_net([2, 3, 2], bias=True), "mirror", 3),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_known_flow_laws_explain_the_counts(arch, flow, explained):
    res = tr.count_laws(arch, flow=flow, batch=16)
    assert res.explained == explained
    # every known law is conserved: its gradient is orthogonal to the flow's generators
    from noetherlab.training.lie import architecture_fields, on_flow

    family = on_flow(architecture_fields(arch), parse_flow(flow), arch.param_names)
    z = family.random_points(jax.random.PRNGKey(3), 3)
    xi = family.sample(jax.random.PRNGKey(4), 6)
    for law in tr.known_laws(arch, flow=parse_flow(flow)):
        for p in range(3):
            g = jax.grad(law.fn)(z[p])
            X = jax.vmap(lambda one, p=p: family.vector_field(z[p], one))(xi)
            assert float(jnp.max(jnp.abs(X @ g))) < 1e-10 * float(
                jnp.linalg.norm(g) * jnp.max(jnp.abs(X))
            )


def test_momentum_laws_as_formulas():
    arch = tr.linear_net([2, 2, 1])
    names = {n: sympy.Symbol(n) for n in ("t", *arch.param_names)}
    v = {n: sympy.Symbol(f"{n}'") for n in arch.param_names}
    # e^{τt} times the antisymmetric part of W1'W1^T - W2^T W2' (derived in training.known)
    J = (
        names["W1[0,0]"] * v["W1[1,0]"]
        - v["W1[0,0]"] * names["W1[1,0]"]
        + names["W1[0,1]"] * v["W1[1,1]"]
        - v["W1[0,1]"] * names["W1[1,1]"]
        + names["W2[0,0]"] * v["W2[0,1]"]
        - v["W2[0,0]"] * names["W2[0,1]"]
    )
    for flow, weight in (
        (Flow("heavy-ball", friction=0.5), sympy.exp(names["t"] / 2)),
        (Flow("nesterov"), names["t"] ** 3),
    ):
        res = find_polynomial_laws(arch, 2, flow=flow)
        assert res.null_dimension == 1 and res.certified and res.verified
        assert sympy.simplify(res.laws[0] / (weight * J)) in (1, -1)


def test_momentum_law_values_match_the_formula():
    arch = tr.linear_net([1, 2, 1])
    res = find_polynomial_laws(arch, 2, flow="momentum")
    assert res.null_dimension == 2 and res.functionally_independent == 2
    z = np.random.default_rng(0).normal(size=(3, 2 * arch.dimension + 1))
    syms = [sympy.Symbol(n) for n in res.names]
    for law, values in zip(res.laws, res.evaluate(z).T, strict=True):
        f = sympy.lambdify(syms, law, "numpy")
        np.testing.assert_allclose([f(*row) for row in z], values, rtol=1e-12)


def test_metric_laws_as_formulas():
    arch = tr.linear_net([2, 2, 2])
    res = find_polynomial_laws(arch, 1, flow="nmf")
    s = {n: sympy.Symbol(n) for n in arch.param_names}
    expected = s["W1[0,0]"] + s["W1[0,1]"] - s["W2[0,0]"] - s["W2[1,0]"]
    assert res.null_dimension == 2 and res.verified
    assert any(sympy.expand(law - expected) == 0 for law in res.laws)


def test_momentum_law_conserved_along_heavy_ball_trajectory():
    """e^{τt}·A(W1'W1^T - W2^T W2') stays constant along θ̈ + τθ̇ = -∇L (diffrax Dopri8, τ = 0.7)."""
    import diffrax

    arch = tr.linear_net([2, 2, 1])
    flow = Flow("heavy-ball", friction=0.7)
    (law,) = tr.known_laws(arch, flow=flow)
    X = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    Y = jax.random.normal(jax.random.PRNGKey(1), (8, 1))
    D = arch.dimension

    def loss(th):
        return 0.5 * jnp.mean(jnp.sum((jax.vmap(lambda x: arch.flat(th, x))(X) - Y) ** 2, -1))

    def rhs(t, z, args):
        v = z[D + 1 :]
        return jnp.concatenate([jnp.ones(1), v, -0.7 * v - jax.grad(loss)(z[1 : D + 1])])

    z0 = jnp.concatenate([jnp.zeros(1), jax.random.normal(jax.random.PRNGKey(2), (2 * D,))])
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs),
        diffrax.Dopri8(),
        0.0,
        2.0,
        0.01,
        z0,
        stepsize_controller=diffrax.PIDController(rtol=1e-12, atol=1e-12),
    )
    z = sol.ys[-1]
    h0 = float(law.fn(z0))
    assert abs(float(law.fn(z)) - h0) < 1e-9 * max(1.0, abs(h0))
    # the plain J (without e^{τt}) decays: the time weight is needed
    assert abs(float(law.fn(z)) * np.exp(-0.7 * 2.0) - h0) > 1e-3 * abs(h0)


def test_flow_bad_input():
    with pytest.raises(InvalidArgumentError, match="flow"):
        parse_flow("adam")
    with pytest.raises(InvalidArgumentError, match="two momenta"):
        parse_flow("momentum+nesterov")
    with pytest.raises(InvalidArgumentError, match="friction"):
        Flow("heavy-ball", friction=-1.0)
    with pytest.raises(InvalidArgumentError, match="constrained"):
        tr.count_laws(tr.linear_net([2, 2, 1]), flow=Flow(metric="mirror", constrained=("V",)))
    with pytest.raises(InvalidArgumentError, match="constrained"):
        tr.count_laws(tr.product_model(3), flow="mirror")
