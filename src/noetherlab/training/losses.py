r"""Losses ``ℓ(pred, y)`` for one sample, with the label distributions used to sample data.

* ``"mse"``: ``½ |pred - y|²``, ``y ~ N(0, I)``;
* ``"logistic"``: ``log(1 + exp(-y · pred))`` (scalar output), ``y ∈ {-1, +1}``;
* ``"exponential"``: ``exp(-y · pred)`` (scalar output), ``y ∈ {-1, +1}``;
* ``"cross-entropy"``: ``-log softmax(pred)_y``, ``y`` a class index (given one-hot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from noetherlab.errors import InvalidArgumentError

__all__ = ["LOSSES", "Loss", "get_loss"]

Array = jax.Array


@dataclass(frozen=True)
class Loss:
    name: str
    fn: Callable[[Array, Array], Array]
    sample_labels: Callable[[Array, int, int], Array]  # (key, n, output_dim) -> (n, output_dim)
    scalar_output: bool = False
    polynomial: bool = False


def _mse(pred: Array, y: Array) -> Array:
    return 0.5 * jnp.sum((pred - y) ** 2)


def _logistic(pred: Array, y: Array) -> Array:
    return jnp.sum(jnp.logaddexp(0.0, -y * pred))


def _exponential(pred: Array, y: Array) -> Array:
    return jnp.sum(jnp.exp(-y * pred))


def _cross_entropy(pred: Array, y: Array) -> Array:
    return -jnp.sum(y * jax.nn.log_softmax(pred))


def _gauss(key: Array, n: int, m: int) -> Array:
    return jax.random.normal(key, (n, m))


def _signs(key: Array, n: int, m: int) -> Array:
    return jnp.where(jax.random.bernoulli(key, 0.5, (n, m)), 1.0, -1.0)


def _one_hot(key: Array, n: int, m: int) -> Array:
    return jax.nn.one_hot(jax.random.randint(key, (n,), 0, m), m)


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", _mse, _gauss, polynomial=True),
    "logistic": Loss("logistic", _logistic, _signs, scalar_output=True),
    "exponential": Loss("exponential", _exponential, _signs, scalar_output=True),
    "cross-entropy": Loss("cross-entropy", _cross_entropy, _one_hot),
}


def get_loss(name: str, output_dim: int) -> Loss:
    if name not in LOSSES:
        raise InvalidArgumentError(
            "loss", f"must be one of {sorted(LOSSES)}, got {name!r}", "pick a supported loss"
        )
    loss = LOSSES[name]
    if loss.scalar_output and output_dim != 1:
        raise InvalidArgumentError(
            "loss",
            f"the {name} loss needs a scalar output, the model has {output_dim}",
            "use an architecture with one output",
        )
    if name == "cross-entropy" and output_dim < 2:
        raise InvalidArgumentError(
            "loss",
            "cross-entropy needs at least two classes (outputs)",
            "use softmax_layer or more outputs",
        )
    return loss
