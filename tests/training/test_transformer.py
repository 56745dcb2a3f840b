"""The transformer encoder of :mod:`noetherlab.training.transformer` (issue 30): its laws counted
*blind* (without the known-laws bound) against the closed form, each known law conserved by the
loss gradient, and the symmetries behind them checked on the model itself."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.known import known_laws, law_gradients
from noetherlab.training.transformer import transformer_law_count


def _formula(heads, d_k, d_v, ff, layers, norm, outputs=1):
    """The closed form, written out independently of the library: per head GL(d_k), GL(d_v) and
    the d_v row sums of O; the column sums of Q, K, V where attention reads a LayerNorm output;
    per feed-forward neuron rescaling, row sum of U, column sum of W; Σ w; the read-out's row
    sums."""
    total = outputs
    for layer in range(1, layers + 1):
        head = d_k * (d_k + 1) / 2 + d_v * (d_v + 1) / 2 + d_v
        if norm == "pre" or layer > 1:
            head += 2 * d_k + d_v
        total += heads * head + 3 * ff + 1
    return int(total)


@pytest.mark.parametrize("norm", ["post", "pre"])
def test_blind_counts_equal_the_closed_form(norm):
    # tokens 3, d 3, one head of width 1, two feed-forward neurons (D = 32): 11 post-norm, 14
    # pre-norm (measured: certified at bracket level 3, gaps 1.9e11 and 1.0e12)
    arch = tr.transformer_encoder(3, 3, 1, 1, 1, 2, norm=norm)
    res = tr.count_laws(arch, known=False)
    assert res.certified and res.gap > 1e8, res.message
    assert res.laws == _formula(1, 1, 1, 2, 1, norm) == {"post": 11, "pre": 14}[norm]
    assert transformer_law_count(1, 1, 1, 2, norm=norm) == res.laws


@pytest.mark.parametrize(("layers", "norm"), [(1, "post"), (2, "post"), (2, "pre")])
def test_known_laws_are_independent_conserved_and_bound_the_count(layers, norm):
    arch = tr.transformer_encoder(3, 4, 2, 2, 1, 2, layers=layers, norm=norm)
    laws = known_laws(arch)
    expected = _formula(2, 2, 1, 2, layers, norm)
    theta = arch.random_params(jax.random.PRNGKey(3), 0.6)
    X = arch.random_inputs(jax.random.PRNGKey(4), 6)
    Y = jax.random.normal(jax.random.PRNGKey(5), (6, arch.output_dim))
    loss = lambda th: jnp.sum((jax.vmap(lambda x: arch.flat(th, x))(X) - Y) ** 2)
    g = np.asarray(jax.grad(loss)(theta))
    dh = law_gradients(laws, theta[None])[0]
    assert len(laws) == expected
    assert np.linalg.matrix_rank(dh, tol=1e-9 * np.abs(dh).max()) == expected
    cosines = np.abs(dh @ g) / (np.linalg.norm(dh, axis=1) * np.linalg.norm(g))
    assert cosines.max() <= 1e-10
    if layers == 1:  # the bounded count stops at D − k and certifies it (a wrong law would
        # be refused as bound_violated, a missing one would leave the count above the formula)
        res = tr.count_laws(arch)
        assert res.certified and res.laws == expected and res.explained == expected


def test_the_symmetries_leave_the_model_unchanged():
    # two post-norm layers: the second attention reads a LayerNorm output
    arch = tr.transformer_encoder(3, 4, 2, 2, 3, 5, layers=2)
    p = arch.unravel(arch.random_params(jax.random.PRNGKey(0), 0.5))
    X = jax.random.normal(jax.random.PRNGKey(1), (3, 4))
    k = iter(jax.random.split(jax.random.PRNGKey(2), 16))
    A = jnp.eye(2) + 0.3 * jax.random.normal(next(k), (2, 2))  # GL(2) on the query-key product
    moved = dict(
        p,
        Q1=p["Q1"].at[0].set(p["Q1"][0] @ A),
        K1=p["K1"].at[0].set(p["K1"][0] @ jnp.linalg.inv(A).T),
        O1=p["O1"] + jax.random.normal(next(k), (2, 3, 1)),  # O + v1ᵀ
        Q2=p["Q2"] + jax.random.normal(next(k), (2, 1, 2)),  # 1vᵀ added to layer 2's Q, K, V
        K2=p["K2"] + jax.random.normal(next(k), (2, 1, 2)),
        V2=p["V2"] + jax.random.normal(next(k), (2, 1, 3)),
        U1=2.0 * p["U1"] + jax.random.normal(next(k), (5, 1)),  # U + v1ᵀ, and neurons × 2 ...
        u1=2.0 * p["u1"],
        W1=0.5 * p["W1"] + jax.random.normal(next(k), (1, 5)),  # ... their outputs / 2; W + 1vᵀ
        w2=p["w2"] + 0.7,
        R=p["R"] + jax.random.normal(next(k), (1, 1)),
    )
    assert jnp.allclose(arch.apply(p, X), arch.apply(moved, X), atol=1e-12)
    # and a direction that is not a symmetry does change it (the check can fail)
    other = dict(p, V1=p["V1"] + jax.random.normal(next(k), (2, 1, 3)))
    assert not jnp.allclose(arch.apply(p, X), arch.apply(other, X), atol=1e-6)


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match="d >= 2"):
        tr.transformer_encoder(3, 1, 1, 1, 1, 2)
    with pytest.raises(InvalidArgumentError, match=r"norm.*post"):
        tr.transformer_encoder(3, 3, 1, 1, 1, 2, norm="sandwich")
    with pytest.raises(InvalidArgumentError, match="heads"):
        tr.transformer_encoder(3, 3, 0, 1, 1, 2)
