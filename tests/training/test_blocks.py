"""Normalisation, residual and multi-head attention blocks (issue 30): certified counts against the
closed forms of :mod:`noetherlab.training.blocks`, counted *without* the known-laws bound (so the
count is independent of the library's list), and every known law is one of them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.known import known_laws, law_gradients


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        # LayerNorm: |W1|² and the 3 column sums of W1 (1 + d laws)
        (tr.normalised_net([3, 3, 2], "layer"), 4),
        # with the bias: |W1|² + |b1|², 3 column sums and Σ b1 (d + 2)
        (tr.normalised_net([3, 3, 2], "layer", bias=True), 5),
        # two LayerNorm layers: (1 + 3) + (1 + 3)
        (tr.normalised_net([3, 3, 3, 2], "layer"), 8),
        # with gain and shift: + one rescaling through the ReLU per neuron (4 + 3)
        (tr.normalised_net([3, 3, 2], "layer", affine=True), 7),
        # RMSNorm: the scale invariance only
        (tr.normalised_net([3, 3, 2], "rms"), 1),
        # BatchNorm (training mode, one input = a batch of 4): |w_j|² + b_j² and b_j per neuron
        (tr.normalised_net([3, 3, 2], "batch", bias=True), 6),
        # residual ReLU blocks: one rescaling per branch neuron (2 blocks × 2)
        (tr.residual_net(3, 2, blocks=2), 4),
        # multi-head attention: per head GL(d_k) and GL(d_v), 2 × (3 + 3)
        (tr.multihead_attention(3, 3, heads=2, d_k=2, d_v=2), 12),
    ],
    ids=lambda v: getattr(v, "name", str(v)),
)
def test_counts_equal_the_closed_forms(arch, expected):
    res = tr.count_laws(arch, known=False)
    assert res.certified and res.gap > 1e8
    assert res.laws == expected
    laws = known_laws(arch)
    grads = law_gradients(laws, jnp.asarray(res.points[:1]))[0]
    assert len(laws) == expected
    assert np.linalg.matrix_rank(grads, tol=1e-9 * np.abs(grads).max()) == expected
    # with the bound the search stops at D − k and says every law is explained
    bounded = tr.count_laws(arch)
    assert bounded.laws == expected and bounded.explained == expected


@pytest.mark.parametrize(
    "arch",
    [
        tr.normalised_net([3, 4, 2], "layer", bias=True, affine=True),
        tr.normalised_net([3, 3, 2], "batch", bias=True, affine=True),
        tr.residual_net(3, 2, bias=True),
        tr.multihead_attention(3, 2, heads=2, d_k=1, d_v=2),
    ],
    ids=lambda a: a.name,
)
def test_known_laws_are_conserved_by_the_loss_gradient(arch):
    # ⟨∇h, ∇_θ L⟩ = 0 for every known law h and a random MSE loss on random inputs
    key = jax.random.PRNGKey(3)
    theta = arch.random_params(key, 0.7)
    X = arch.random_inputs(jax.random.PRNGKey(4), 5)
    Y = jax.random.normal(jax.random.PRNGKey(5), (5, arch.output_dim))
    loss = lambda th: jnp.sum((jax.vmap(lambda x: arch.flat(th, x))(X) - Y) ** 2)
    g = np.asarray(jax.grad(loss)(theta))
    dh = law_gradients(known_laws(arch), theta[None])[0]  # (laws, D)
    cosines = np.abs(dh @ g) / (np.linalg.norm(dh, axis=1) * np.linalg.norm(g))
    assert cosines.max() <= 1e-10


def test_the_normalisation_removes_exactly_the_stated_directions():
    # LayerNorm output of λ(z + c·1) equals that of z (λ > 0): the model does not change
    arch = tr.normalised_net([3, 3, 2], "layer", bias=True)
    theta = arch.random_params(jax.random.PRNGKey(0))
    x = jnp.array([0.3, -1.2, 0.5])
    p = arch.unravel(theta)
    moved = dict(p, W1=2.5 * (p["W1"] + jnp.array([0.4, -0.1, 0.7])), b1=2.5 * (p["b1"] + 0.3))
    assert jnp.allclose(arch.apply(p, x), arch.apply(moved, x), atol=1e-13)


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match=r"norm.*layer"):
        tr.normalised_net([3, 3, 2], "group")
    with pytest.raises(InvalidArgumentError, match="width 1 is constant"):
        tr.normalised_net([3, 1, 2], "layer")
    with pytest.raises(InvalidArgumentError, match="batch"):
        tr.normalised_net([3, 3, 2], "batch", batch=1)
    with pytest.raises(InvalidArgumentError, match="heads"):
        tr.multihead_attention(3, 3, heads=0, d_k=2, d_v=2)
