"""Explicit polynomial conservation laws (issue: laws)."""

from __future__ import annotations

import sympy

from noetherlab import training as tr
from noetherlab.training.polylaws import find_polynomial_laws


def test_product_model_laws():
    res = find_polynomial_laws(tr.product_model(3), 2)
    x1, x2, x3 = sympy.symbols("x1 x2 x3")
    assert res.null_dimension == 2 and res.certified and res.verified
    span = sympy.Matrix(
        [
            [sympy.Poly(law, x1, x2, x3).coeff_monomial(m) for m in (x1**2, x2**2, x3**2)]
            for law in res.laws
        ]
    )
    target = sympy.Matrix([[-1, 0, 1], [-1, 1, 0]])  # x3² - x1², x2² - x1²
    assert span.rank() == 2 and span.col_join(target).rank() == 2


def test_linear_net_laws_are_the_known_ones_and_nothing_else():
    res = find_polynomial_laws(tr.linear_net([2, 2, 2]), 2)
    assert res.null_dimension == 3 and res.functionally_independent == 3 and res.verified
    W = {n: sympy.Symbol(n) for n in tr.linear_net([2, 2, 2]).param_names}
    expected = W["W1[0,0]"] ** 2 + W["W1[0,1]"] ** 2 - W["W2[0,0]"] ** 2 - W["W2[1,0]"] ** 2
    assert any(sympy.expand(law - expected) == 0 for law in res.laws)


def test_relu_per_neuron_balances_with_bias():
    arch = tr.relu_net([2, 2, 1], bias=True)
    res = find_polynomial_laws(arch, 2)
    assert res.null_dimension == 2
    s = {n: sympy.Symbol(n) for n in arch.param_names}
    law0 = s["W1[0,0]"] ** 2 + s["W1[0,1]"] ** 2 + s["b1[0]"] ** 2 - s["W2[0,0]"] ** 2
    assert any(sympy.expand(law - law0) == 0 for law in res.laws)


def test_softmax_linear_laws_and_products():
    res = find_polynomial_laws(tr.softmax_layer(2, 3), 2, loss="cross-entropy")
    # degree <= 2: the 2 column sums plus their 3 products/squares; 2 functionally independent
    assert res.null_dimension == 5 and res.functionally_independent == 2
    assert str(res.laws[0]) == "W[0,0] + W[1,0] + W[2,0]"


def test_no_spurious_laws_for_generic_model():
    res = find_polynomial_laws(tr.linear_net([2, 1]), 2)  # y = W x: every direction reachable
    assert res.null_dimension == 0 and res.laws == []


def test_laws_by_block_name_the_layers_they_couple_and_their_kind():
    # ReLU with biases: one rescaling balance per hidden unit, coupling W1, b1 and W2
    rows = find_polynomial_laws(tr.relu_net([2, 2, 1], bias=True), 2).by_block()
    assert [r["kind"] for r in rows] == ["balance", "balance"]
    assert all(r["blocks"] == ["W1", "W2", "b1"] for r in rows)
    # deep linear: the GL(2) laws have cross terms
    kinds = {r["kind"] for r in find_polynomial_laws(tr.linear_net([2, 2, 2]), 2).by_block()}
    assert kinds == {"balance", "quadratic"}
    # softmax + cross-entropy: linear laws (column sums) of the one block W; their products too
    rows = find_polynomial_laws(tr.softmax_layer(2, 3), 2, loss="cross-entropy").by_block()
    assert [r["kind"] for r in rows].count("linear") == 2 and all(
        r["blocks"] == ["W"] for r in rows
    )
    # momentum: time-dependent
    (row,) = find_polynomial_laws(tr.linear_net([2, 2, 1]), 2, flow="momentum").by_block()
    assert row["kind"] == "time-dependent" and row["blocks"] == ["W1", "W2"]
