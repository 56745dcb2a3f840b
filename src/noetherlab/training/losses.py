r"""Losses ``ℓ(pred, y)`` for one sample, with the label distributions used to sample data.

A loss is a :class:`Loss` object (pass one anywhere a loss is asked for, or build your own); the
built-in ones also go by name, a convenience for the command line:

* :data:`MSE` (``"mse"``): ``½ |pred - y|²``, ``y ~ N(0, I)``;
* :data:`LOGISTIC` (``"logistic"``): ``log(1 + exp(-y · pred))`` (scalar output), ``y ∈ {-1, +1}``;
* :data:`EXPONENTIAL` (``"exponential"``): ``exp(-y · pred)`` (scalar output), ``y ∈ {-1, +1}``;
* :data:`CROSS_ENTROPY` (``"cross-entropy"``): ``-log softmax(pred)_y``, ``y`` a class index
  (given one-hot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp

from noetherlab._core.errors import InvalidArgumentError

__all__ = [
    "CROSS_ENTROPY",
    "EXPONENTIAL",
    "LOGISTIC",
    "LOSSES",
    "MSE",
    "Loss",
    "as_loss",
    "get_loss",
]

Array = jax.Array


@dataclass(frozen=True)
class Loss:
    """A loss of one sample and the labels it is trained on.

    Attributes:
        name: how reports name it.
        fn: ``ℓ(pred, y) -> scalar`` (JAX-traceable; ``pred`` and ``y`` of shape ``(outputs,)``).
        sample_labels: ``(key, n, outputs) -> (n, outputs)`` labels of random data sets.
        scalar_output: the loss needs a model with one output.
        degree: ``ℓ`` is a polynomial of this degree in ``pred`` (``None``: it is not); with a
            polynomial model the loss is then a polynomial in ``x``, which decides whether a finite
            stand-in of a continuous group averages it exactly.
        logits: ``pred`` are the logits of a softmax over at least two classes (the loss is
            invariant under ``pred → pred + c 1``: the logit-shift laws).
    """

    name: str
    fn: Callable[[Array, Array], Array]
    sample_labels: Callable[[Array, int, int], Array]
    scalar_output: bool = False
    degree: int | None = None
    logits: bool = False


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


MSE = Loss("mse", _mse, _gauss, degree=2)
LOGISTIC = Loss("logistic", _logistic, _signs, scalar_output=True)
EXPONENTIAL = Loss("exponential", _exponential, _signs, scalar_output=True)
CROSS_ENTROPY = Loss("cross-entropy", _cross_entropy, _one_hot, logits=True)
#: the built-in losses by name (the command line's ``--loss``)
LOSSES: dict[str, Loss] = {loss.name: loss for loss in (MSE, LOGISTIC, EXPONENTIAL, CROSS_ENTROPY)}


def as_loss(loss: str | Loss) -> Loss:
    """``loss`` itself, or the built-in loss of that name."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise InvalidArgumentError(
            "loss",
            f"must be a Loss or one of {sorted(LOSSES)}, got {loss!r}",
            "pick a supported loss, e.g. noetherlab.training.losses.MSE",
        )
    return LOSSES[loss]


def get_loss(loss: str | Loss, output_dim: int) -> Loss:
    """:func:`as_loss`, refused for a model with ``output_dim`` outputs it cannot train."""
    the = as_loss(loss)
    if the.scalar_output and output_dim != 1:
        raise InvalidArgumentError(
            "loss",
            f"the {the.name} loss needs a scalar output, the model has {output_dim}",
            "use an architecture with one output",
        )
    if the.logits and output_dim < 2:
        raise InvalidArgumentError(
            "loss",
            f"{the.name} needs at least two classes (outputs)",
            "use softmax_layer or more outputs",
        )
    return the
