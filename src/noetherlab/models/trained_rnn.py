r"""Rate RNNs trained (JAX + optax) to hold a memory: the networks of the RNN case study.

The network is the noisy rate model of :func:`noetherlab.models.catalogue.noisy_rnn` with an input and a
readout,

.. math::
    \dot x = -x + W \tanh x + b + B\,u(t), \qquad y = C \tanh x ,

``x`` of shape ``(N,)`` (unit activations, time in units of the membrane time constant). One trial
gives a pulse ``u = (\cos θ, \sin θ)`` for ``t < 1`` and then nothing; the readout must hold a
target angle from ``t = 2`` to the end of the trial (``t = 12``):

* ``task="ring"`` — the target is the input angle itself, for every ``θ ∈ [0, 2π)``: the network
  learns a ring of (near-)fixed points, a continuous attractor with an approximate rotation symmetry
  in a two-dimensional subspace of its state space.
* ``task="memory"`` — the target is the *nearest* of ``n_memories`` stored angles ``2πk/K``: the
  network learns ``K`` point attractors and the decision boundaries between them.

Training is backpropagation through the Euler-discretised dynamics (step ``dt = 0.2``), with
independent noise of strength ``training_noise`` in every step (so that the learned states are
attractors, not fine-tuned trajectories), Adam (optax, gradients clipped to norm 1) on the mean squared readout error plus
``1e-4·mean(W²)``. The dimension ``N`` fixes the shapes; a new seed, task or learning rate reuses
the compiled step. After training, :meth:`TrainedRNN.sde` is the autonomous network
``dx = (-x + W tanh x + b) dt + \sqrt{2D}\,dW`` (inputs off) that the case study analyses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.resources import check_memory, warn_if_long
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.sde.model import SDE

__all__ = ["TASKS", "TrainedRNN", "load_rnn", "train_rnn"]

TASKS = ("ring", "memory")
#: Euler step of training (membrane time constants), pulse and trial lengths in steps
DT = 0.2
PULSE_STEPS = 5
TRIAL_STEPS = 60
#: the readout error counts from this step on (t = 2): after the pulse, while the memory is held
HOLD_FROM = 10
BATCH = 64
#: a final loss this many times the first one means the training diverged
DIVERGED_GROWTH = 10.0

Array = jax.Array


@dataclass(frozen=True)
class TrainedRNN:
    """A trained network: weights ``W`` ``(N, N)``, bias ``b`` ``(N,)``, input ``B`` ``(N, 2)``,
    readout ``C`` ``(2, N)``; the loss after every optimiser step, and how it was trained."""

    task: str
    W: np.ndarray
    b: np.ndarray
    B: np.ndarray
    C: np.ndarray
    loss_history: np.ndarray
    seed: int
    n_memories: int
    learning_rate: float
    training_noise: float

    @property
    def N(self) -> int:
        return int(self.b.size)

    @property
    def steps(self) -> int:
        return int(self.loss_history.size)

    @property
    def final_loss(self) -> float:
        """Mean of the last 20 steps' losses (each step's loss is one noisy minibatch)."""
        return float(np.mean(self.loss_history[-20:]))

    @property
    def memories(self) -> np.ndarray:
        """Stored angles (radians) of the memory task; empty for the ring."""
        if self.task != "memory":
            return np.zeros(0)
        return 2.0 * np.pi * np.arange(self.n_memories) / self.n_memories

    def sde(self, noise: float = 0.01) -> SDE:
        r"""The autonomous noisy network ``dx = (-x + W tanh x + b) dt + \sqrt{2D}\,dW``, ``D = noise·I``."""
        from noetherlab.models.catalogue import noisy_rnn

        return noisy_rnn(self.W, self.b, noise=noise, activation="tanh")

    def readout(self, x: Any) -> np.ndarray:
        """``y = C tanh x`` for states ``(..., N)``; shape ``(..., 2)``."""
        arr = as_float_array(x, "x")
        if arr.ndim == 0 or arr.shape[-1] != self.N:
            raise ShapeError(
                "x",
                f"must hold states of the {self.N} units in its last axis, got shape {arr.shape}",
                f"pass an array of shape (..., {self.N})",
            )
        return np.tanh(arr) @ self.C.T

    def readout_angle(self, x: Any) -> np.ndarray:
        """Angle of the readout, ``atan2(y_2, y_1)`` (radians)."""
        y = self.readout(x)
        return np.arctan2(y[..., 1], y[..., 0])

    def to_dataset(self) -> Any:
        import xarray as xr

        return xr.Dataset(
            {
                "W": (("unit", "unit_from"), self.W),
                "b": (("unit",), self.b),
                "B": (("unit", "input"), self.B),
                "C": (("output", "unit"), self.C),
                "loss": (("step",), self.loss_history),
            },
            attrs={
                "kind": "trained_rnn",
                "task": self.task,
                "seed": self.seed,
                "n_memories": self.n_memories,
                "learning_rate": self.learning_rate,
                "training_noise": self.training_noise,
            },
        )

    def save(self, path: str | Path) -> Path:
        """Write the weights and loss history to netCDF (atomically, with the noetherlab version)."""
        from noetherlab._core.io import check_output_file, save_dataset

        out = check_output_file(path, "path")
        return save_dataset(out, self.to_dataset(), self._parameters())

    def _parameters(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "N": self.N,
            "steps": self.steps,
            "seed": self.seed,
            "n_memories": self.n_memories,
            "learning_rate": self.learning_rate,
            "training_noise": self.training_noise,
        }


def load_rnn(path: str | Path) -> TrainedRNN:
    """Read a network written by :meth:`TrainedRNN.save`."""
    from noetherlab._core.io import open_result_dataset

    with open_result_dataset(path, "trained_rnn") as ds:
        return TrainedRNN(
            task=str(ds.attrs["task"]),
            W=ds["W"].values,
            b=ds["b"].values,
            B=ds["B"].values,
            C=ds["C"].values,
            loss_history=ds["loss"].values,
            seed=int(ds.attrs["seed"]),
            n_memories=int(ds.attrs["n_memories"]),
            learning_rate=float(ds.attrs["learning_rate"]),
            training_noise=float(ds.attrs["training_noise"]),
        )


# ---------------------------------------------------------------------------- training
def _init(key: Array, N: int) -> dict[str, Array]:
    kw, kb, kc = jax.random.split(key, 3)
    return {
        "W": 0.9 * jax.random.normal(kw, (N, N)) / jnp.sqrt(N),
        "b": jnp.zeros(N),
        "B": jax.random.normal(kb, (N, 2)),
        "C": jax.random.normal(kc, (2, N)) / jnp.sqrt(N),
    }


def _trial(params: dict[str, Array], u: Array, x0: Array, key: Array, noise: Array) -> Array:
    """Readouts ``(TRIAL_STEPS, batch, 2)`` of Euler steps with input pulse ``u`` ``(batch, 2)``."""

    def step(x: Array, k: tuple[Array, Array]) -> tuple[Array, Array]:
        i, ki = k
        drive = jnp.where(i < PULSE_STEPS, 1.0, 0.0) * u @ params["B"].T
        drift = -x + jnp.tanh(x) @ params["W"].T + params["b"] + drive
        x = x + DT * drift + noise * jnp.sqrt(DT) * jax.random.normal(ki, x.shape)
        return x, jnp.tanh(x) @ params["C"].T

    keys = jax.random.split(key, TRIAL_STEPS)
    return jax.lax.scan(step, x0, (jnp.arange(TRIAL_STEPS), keys))[1]


def _batch_loss(params: dict[str, Array], key: Array, n_memories: Array, noise: Array) -> Array:
    """Mean squared readout error while holding, for a random batch of input angles.
    ``n_memories = 0`` is the ring task (target = input angle)."""
    ka, kx, kn = jax.random.split(key, 3)
    theta = jax.random.uniform(ka, (BATCH,), maxval=2.0 * jnp.pi)
    k = jnp.maximum(n_memories, 1).astype(jnp.float64)
    nearest = 2.0 * jnp.pi / k * jnp.round(theta * k / (2.0 * jnp.pi))
    target_angle = jnp.where(n_memories > 0, nearest, theta)
    u = jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=1)
    target = jnp.stack([jnp.cos(target_angle), jnp.sin(target_angle)], axis=1)
    x0 = 0.1 * jax.random.normal(kx, (BATCH, params["b"].size))
    y = _trial(params, u, x0, kn, noise)
    return jnp.mean((y[HOLD_FROM:] - target[None]) ** 2) + 1e-4 * jnp.mean(params["W"] ** 2)


def _optimizer(learning_rate: Any) -> optax.GradientTransformation:
    """Adam on gradients clipped to global norm 1 (backpropagation through a recurrent network
    occasionally meets an exploding gradient; clipping keeps one bad minibatch from undoing the
    training)."""
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(learning_rate))


_OPTIMIZER = optax.inject_hyperparams(_optimizer)


@jax.jit
def _adam_step(
    params: dict[str, Array],
    state: Any,
    key: Array,
    n_memories: Array,
    noise: Array,
    learning_rate: Array,
) -> tuple[dict[str, Array], Any, Array]:
    loss, grads = jax.value_and_grad(_batch_loss)(params, key, n_memories, noise)
    updates, state = _OPTIMIZER(learning_rate=learning_rate).update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss


def train_rnn(
    task: str = "ring",
    N: int = 100,
    *,
    steps: int = 400,
    n_memories: int = 3,
    seed: int = 0,
    learning_rate: float = 3e-3,
    training_noise: float = 0.05,
    progress: Callable[[int, float], None] | None = None,
) -> TrainedRNN:
    """Train an ``N``-unit rate network on ``task`` (``"ring"`` or ``"memory"``; module docstring).

    Args:
        task: ``"ring"`` (store any angle) or ``"memory"`` (store the nearest of ``n_memories``).
        N: number of units.
        steps: Adam steps (minibatches of 64 trials); about 30 ms each at ``N = 100`` on 2 cores.
        n_memories: stored angles of the memory task (at least 2).
        seed: seeds the initial weights and every minibatch (the result is reproducible).
        learning_rate: Adam's step size.
        training_noise: noise per unit time in the training trials (``σ`` of ``σ dW``).
        progress: called as ``progress(step, loss)`` every 50 steps.
    """
    if task not in TASKS:
        raise InvalidArgumentError(
            "task", f"must be one of {list(TASKS)}, got {task!r}", "pick 'ring' or 'memory'"
        )
    N = positive_int(N, "N", 2)
    steps = positive_int(steps, "steps")
    check_memory(8.0 * steps, "steps", f"a loss history of {steps} steps", "pass fewer steps")
    n_memories = positive_int(n_memories, "n_memories", 2)
    learning_rate = positive_float(learning_rate, "learning_rate", "Adam's step size")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InvalidArgumentError(
            "seed", f"must be an integer, got {seed!r}", "pass e.g. seed=0 (any integer)"
        )
    if (
        isinstance(training_noise, bool)
        or not isinstance(training_noise, int | float | np.floating | np.integer)
        or not np.isfinite(training_noise)
        or training_noise < 0
    ):
        raise InvalidArgumentError(
            "training_noise",
            f"must be a finite number >= 0, got {training_noise!r}",
            "pass e.g. 0.05 (0 trains without noise)",
        )
    check_memory(
        8.0 * BATCH * TRIAL_STEPS * N * 12 + 8.0 * N * N * 8,
        "N",
        f"training a {N}-unit network (Adam state and the backward pass of {BATCH} trials of "
        f"{TRIAL_STEPS} steps)",
        "pass a smaller N (the case study uses 100 units)",
    )
    warn_if_long(
        steps * (BATCH * TRIAL_STEPS * (2 * N * N + 40 * N)) * 3 / 2e9,
        f"training a {N}-unit network for {steps} steps",
        "Pass fewer steps or a smaller N.",
    )
    key_init, key = jax.random.split(jax.random.PRNGKey(int(seed)))
    params = _init(key_init, N)
    state = _OPTIMIZER(learning_rate=learning_rate).init(params)
    memories = jnp.asarray(n_memories if task == "memory" else 0)
    noise, lr = jnp.asarray(float(training_noise)), jnp.asarray(learning_rate)
    losses = np.empty(steps)
    for i in range(steps):
        params, state, loss = _adam_step(
            params, state, jax.random.fold_in(key, i), memories, noise, lr
        )
        losses[i] = float(loss)
        if not np.isfinite(losses[i]):
            raise InvalidArgumentError(
                "learning_rate",
                f"training diverged (loss {losses[i]}) at step {i}",
                "lower the learning rate",
            )
        if progress is not None and (i % 50 == 0 or i == steps - 1):
            progress(i, losses[i])
    tail = float(np.median(losses[-max(1, steps // 10) :]))
    if tail > DIVERGED_GROWTH * float(losses[0]):
        raise InvalidArgumentError(
            "learning_rate",
            f"training diverged: the loss grew from {losses[0]:.3g} to {tail:.3g} (median of the "
            f"last {max(1, steps // 10)} steps) at learning rate {learning_rate:g}",
            "lower the learning rate (the default is 3e-3)",
        )
    return TrainedRNN(
        task=task,
        W=np.asarray(params["W"]),
        b=np.asarray(params["b"]),
        B=np.asarray(params["B"]),
        C=np.asarray(params["C"]),
        loss_history=losses,
        seed=int(seed),
        n_memories=int(n_memories) if task == "memory" else 0,
        learning_rate=learning_rate,
        training_noise=float(training_noise),
    )
