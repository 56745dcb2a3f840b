"""The residual convolutional network with BatchNorm of :mod:`noetherlab.training.resnet` (issue
30): known laws conserved by the loss gradient and independent, their count the closed form, the
bounded count certified there, and the symmetries behind them checked on the model itself.

Counted blind (``known=False``; ~3 minutes each on 2 cores, so run by
``benchmarks/laws.py --only-blocks`` rather than here): 3×3 images, 2 channels, 1 block, batch 3:
6 laws (D = 94, gap 4e11), with biases 12 (D = 100, gap 1e12), with gains and shifts 10
(D = 106, gap 2e10) — each the closed form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.known import known_laws, law_gradients


def _formula(channels, blocks, bias, affine):
    """Per channel: each of the 1 + 2·blocks convolutions' scale (and bias) law; with gains, one
    rescaling per block and one of the residual stream."""
    convs = 1 + 2 * blocks
    return convs * channels * (2 if bias else 1) + (channels * (blocks + 1) if affine else 0)


@pytest.mark.parametrize(
    ("blocks", "bias", "affine"), [(1, False, False), (1, True, False), (2, False, True)]
)
def test_known_laws_are_independent_conserved_and_certified(blocks, bias, affine):
    arch = tr.resnet(3, 1, 2, blocks, 2, batch=3, bias=bias, affine=affine)
    laws = known_laws(arch)
    expected = _formula(2, blocks, bias, affine)
    theta = arch.random_params(jax.random.PRNGKey(0), 0.7)
    X = arch.random_inputs(jax.random.PRNGKey(1), 3)
    Y = jax.random.normal(jax.random.PRNGKey(2), (3, arch.output_dim))
    loss = lambda th: jnp.sum((jax.vmap(lambda x: arch.flat(th, x))(X) - Y) ** 2)
    g = np.asarray(jax.grad(loss)(theta))
    dh = law_gradients(laws, theta[None])[0]
    assert len(laws) == expected
    assert np.linalg.matrix_rank(dh, tol=1e-9 * np.abs(dh).max()) == expected
    cosines = np.abs(dh @ g) / (np.linalg.norm(dh, axis=1) * np.linalg.norm(g))
    assert cosines.max() <= 1e-10
    if blocks == 1:
        res = tr.count_laws(arch, n_points=2)
        assert res.certified and res.laws == expected == res.explained, res.message


def test_the_symmetries_leave_the_model_unchanged():
    arch = tr.resnet(4, 2, 3, 2, 2, batch=3, bias=True, affine=True)
    p = arch.unravel(arch.random_params(jax.random.PRNGKey(0), 0.8))
    p = dict(p, gamma0=1.0 + 0.1 * p["gamma0"], gammaB1=1.0 + 0.1 * p["gammaB1"])
    x = jax.random.normal(jax.random.PRNGKey(1), arch.input_shape)
    lam = jnp.array([2.0, 0.5, 3.0])
    moved = dict(
        p,
        KA1=p["KA1"] * 1.7,  # BatchNorm scale invariance of each output channel ...
        cA1=p["cA1"] * 1.7 + 0.4,  # ... and its centring removes the bias
        gammaA2=p["gammaA2"] * lam,  # a channel of block 2 through its ReLU
        betaA2=p["betaA2"] * lam,
        KB2=p["KB2"] / lam[None, :, None, None],
        # the residual stream's channels: stem and every block's second BatchNorm up, the first
        # convolution of every block and the read-out down
        gamma0=p["gamma0"] * lam,
        beta0=p["beta0"] * lam,
        gammaB1=p["gammaB1"] * lam,
        betaB1=p["betaB1"] * lam,
        gammaB2=p["gammaB2"] * lam,
        betaB2=p["betaB2"] * lam,
    )
    moved["KA1"] = moved["KA1"] / lam[None, :, None, None]
    moved["KA2"] = p["KA2"] / lam[None, :, None, None]
    moved["R"] = p["R"] / lam[None, :]
    assert jnp.allclose(arch.apply(p, x), arch.apply(moved, x), atol=1e-11)
    other = dict(p, gammaA1=p["gammaA1"] * lam)  # without its compensation: a different model
    assert not jnp.allclose(arch.apply(p, x), arch.apply(other, x), atol=1e-6)


def test_bad_input():
    with pytest.raises(InvalidArgumentError, match=r"kernel.*odd"):
        tr.resnet(4, kernel=2)
    with pytest.raises(InvalidArgumentError, match="batch"):
        tr.resnet(4, batch=1)
    with pytest.raises(InvalidArgumentError, match="channels"):
        tr.resnet(4, channels=0)
