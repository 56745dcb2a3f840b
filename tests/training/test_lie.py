"""Counting conservation laws via the Lie algebra of the gradient fields (issue: laws)."""

from __future__ import annotations

import numpy as np
import pytest

from noetherlab import CountStatus
from noetherlab import training as tr


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        (tr.linear_net([2, 2, 2]), 3),
        (tr.linear_net([4, 4, 4]), 10),
        (tr.linear_net([5, 5, 5]), 15),
        (tr.linear_net([3, 2, 1]), 3),  # r(r+1)/2 with r = 2 <= n + m
        (tr.relu_net([2, 3, 2]), 3),
        (tr.relu_net([3, 3, 3, 3]), 6),
        (tr.relu_net([4, 5, 3], bias=True), 5),
        (tr.product_model(3), 2),
        (tr.polynomial_net([2, 3, 1], degree=3), 3),
        (tr.attention(3, 2, 2, 2, 1), 6),
        (tr.lightning_attention(3, 2, 2, 1), 4),
        (tr.conv1d_net(6, [1, 2, 2], kernel=2), 4),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_architecture_level_counts(arch, expected):
    res = tr.count_laws(arch)
    assert res.certified and res.gap > 1e8
    assert res.laws == expected
    assert res.trace_dimension == arch.dimension - expected
    assert res.explained == expected  # every law is accounted for by the known-laws library


def test_softmax_cross_entropy_column_sums():
    res = tr.count_laws(tr.softmax_layer(4, 3), loss="cross-entropy")
    assert res.laws == 4 and res.explained == 4
    assert tr.count_laws(tr.softmax_layer(4, 3)).laws == 0  # linear logits alone: no law


def test_ambiguous_rank_is_not_a_guess():
    # with a threshold above the true gap the decision must be refused, not guessed
    res = tr.count_laws(tr.relu_net([2, 3, 2]), min_gap=1e30)
    assert res.laws is None and not res.certified and res.status is CountStatus.ambiguous


def test_report_fields():
    d = tr.count_laws(tr.linear_net([2, 2, 2])).as_dict()
    for key in ("laws", "dimension", "trace_dimension", "certified", "gap", "seconds"):
        assert key in d
    assert d["dimension"] == 8


def test_errors():
    with pytest.raises(tr.architectures.InvalidArgumentError, match="sizes"):
        tr.linear_net([3])
    with pytest.raises(tr.architectures.InvalidArgumentError, match="scalar output"):
        tr.count_laws(tr.linear_net([2, 2, 2]), loss="logistic")
    with pytest.raises(tr.architectures.InvalidArgumentError, match="loss"):
        tr.count_laws(tr.linear_net([2, 2, 1]), loss="hinge")


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        (tr.relu_net([3, 3, 3, 3]), 6),
        (tr.linear_net([4, 4, 4]), 10),
        (tr.attention(3, 2, 2, 2, 1), 6),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_streamed_qr_rank_decision_agrees_with_the_svd(arch, expected, monkeypatch):
    """Above SVD_MAX_DIMENSION (large models) the rank and gap at each point come from the
    streamed rank-revealing QR; forced here on small models, it must give the same certified
    counts as the SVD path (the closed forms of test_architecture_level_counts)."""
    from noetherlab.training import lie

    monkeypatch.setattr(lie, "SVD_MAX_DIMENSION", 0)
    res = tr.count_laws(arch)
    assert res.certified and res.gap > 1e8 and res.laws == expected
    assert len(res.ranks) == 2  # large models: two points by default (each costs O(D³))
    # and an impossible gap is refused, not guessed, on this path too
    assert tr.count_laws(arch, min_gap=1e30).laws is None


def test_an_algebra_not_closed_by_max_level_is_not_certified():
    # deep linear nets need level-2 brackets (closed form above: [4,4,4] has 10 laws)
    arch = tr.linear_net([4, 4, 4])
    res = tr.count_laws(arch, max_level=1)
    assert res.laws is None and not res.certified and res.status is CountStatus.not_closed
    # without the known laws: level 2 completes the algebra, level 3 (adding nothing) shows it
    assert tr.count_laws(arch, max_level=2, known=False).laws is None
    assert tr.count_laws(arch, max_level=3, known=False).laws == 10


def test_known_laws_bound_the_trace_so_the_search_stops_at_the_bound():
    # the 10 GL(4) laws W1W1ᵀ − W2ᵀW2 bound the trace of linear[4,4,4] (D = 32) at 22; level 2
    # reaches it at every point, one more round of level-2 elements adds nothing: certified
    # without level 3, with the same count as the closure rule
    arch = tr.linear_net([4, 4, 4])
    res = tr.count_laws(arch, max_level=2)
    assert res.certified and res.laws == 10 and res.trace_dimension == 22
    assert "no further bracket level needed" in res.message and len(res.levels) == 2
    assert res.gap >= 1e4
    # ReLU [3,4,1]: the four neuron rescalings; the bound is reached as well
    relu = tr.count_laws(tr.relu_net([3, 4, 1]))
    assert relu.certified and relu.laws == 4
    # a wrong bound (20 < 22) is caught: an element raises the rank above it
    from noetherlab.training.lie import architecture_fields, count_family_laws

    wrong = count_family_laws(
        architecture_fields(arch), max_level=2, ceiling=lambda pts: np.full(len(pts), 20)
    )
    assert not wrong.certified and wrong.laws is None
    assert wrong.status is CountStatus.bound_violated


def test_bracket_elements_are_evaluated_within_memory(monkeypatch):
    """XLA's memory plan of a bracket element decides the chunk of the batch evaluated at once;
    when not even one element fits, the count is refused with the argument to change."""
    import jax

    from noetherlab._core import resources as _resources
    from noetherlab.training import lie

    family = lie.architecture_fields(tr.attention(3, 4, 4, 4, 1))
    points = family.random_points(jax.random.PRNGKey(0), 2)
    key = jax.random.PRNGKey(1)
    _, chunk = lie._element_within_memory(family, 2, points, key, 64, 8)
    assert chunk == 64  # fits easily on this machine
    monkeypatch.setattr(_resources, "available_memory", lambda: 1_000)
    with pytest.raises(tr.architectures.InvalidArgumentError, match="max_level=1"):
        lie._element_within_memory(family, 2, points, key, 64, 8)


def test_progress_reports_each_round():
    lines: list[str] = []
    res = tr.count_laws(tr.relu_net([2, 3, 2]), progress=lines.append)
    assert res.laws == 3 and lines
    assert lines[0].startswith("bracket level 1: trace rank") and lines[-1].endswith(" of 12")
    assert "9–9 of 12" in lines[-1]  # the final round saw the trace dimension 12 - 3 at every point


def test_one_field_family_and_compiled_elements_per_model():
    """Counting the same model again (another seed, another flow) reuses its traced and compiled
    bracket elements instead of compiling them again; the counts are the same."""
    from noetherlab.training import lie

    arch = tr.linear_net([2, 2, 1])
    family = lie.architecture_fields(arch)
    assert lie.architecture_fields(arch) is family
    first = tr.count_laws(arch, flow="momentum", batch=16)
    compiled = {k: v for k, v in family.cache.items() if k[0] == "flow"}
    assert len(compiled) == 1
    (momentum_family,) = compiled.values()
    elements = dict(momentum_family.cache)
    again = tr.count_laws(arch, flow="momentum", batch=16, seed=5)
    assert (first.laws, again.laws) == (1, 1)
    assert all(momentum_family.cache[k] is v for k, v in elements.items())
    assert lie.architecture_fields(tr.linear_net([2, 2, 1])) is not family  # another model


def test_stacked_known_laws_equal_each_law_and_its_gradient():
    import jax
    import jax.numpy as jnp

    from noetherlab.training.known import known_laws, law_gradients, stacked_laws

    for arch in (
        tr.linear_net([3, 4, 2]),
        tr.relu_net([3, 4, 2], bias=True),
        tr.attention(2, 3, 2, 2),
    ):
        laws = known_laws(arch)
        theta = jax.random.normal(jax.random.PRNGKey(1), (2, arch.dimension))
        each = jnp.stack([jnp.stack([law.fn(t) for law in laws]) for t in theta])
        np.testing.assert_allclose(
            jax.vmap(stacked_laws(laws))(theta), each, rtol=1e-14, atol=1e-14
        )
        grads = np.stack([[np.asarray(jax.grad(law.fn)(t)) for law in laws] for t in theta])
        np.testing.assert_allclose(law_gradients(laws, theta), grads, rtol=1e-13, atol=1e-13)
