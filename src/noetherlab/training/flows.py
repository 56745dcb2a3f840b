r"""Training trajectories, to check conservation laws on real runs.

* :func:`gradient_flow` integrates ``θ̇ = -∇L(θ)`` with diffrax (8th-order Dormand–Prince, tight
  tolerances), ``L(θ) = (1/n) Σ_i ℓ(g(θ, x_i), y_i)``;
* :func:`train` runs a discrete optimiser from optax on the same loss: ``"gd"``, ``"sgd"``
  (minibatches), ``"momentum"`` (heavy ball), ``"nesterov"``, ``"adam"``, optionally with weight decay;
* :func:`law_drift` evaluates conserved candidates along a trajectory: ``max_t |h(θ_t) - h(θ_0)|``,
  relative to ``max(|h(θ_0)|, scale)`` where ``scale`` is the size of the law's terms.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab._core.status import FlowStatus
from noetherlab._core.validation import choice, positive_float, positive_int
from noetherlab.training.architectures import Architecture
from noetherlab.training.losses import Loss, get_loss

__all__ = [
    "Trajectory",
    "gradient_flow",
    "law_drift",
    "law_drift_series",
    "make_data",
    "mean_loss",
    "train",
]

Array = jax.Array
OPTIMISERS = ("gd", "sgd", "momentum", "nesterov", "adam")


@dataclass(frozen=True)
class Trajectory:
    """Parameters ``theta (m, D)`` at ``times (m,)`` (flow time, or step index × step size) and the
    loss along the way; ``status`` says whether the run reached its end (``message``: how not)."""

    times: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    method: str
    status: FlowStatus
    message: str

    @property
    def successful(self) -> bool:
        """True exactly when ``status`` is ``FlowStatus.successful``."""
        return self.status is FlowStatus.successful


def make_data(
    arch: Architecture, loss: str | Loss, n: int, seed: int = 0, group: np.ndarray | None = None
) -> tuple[Array, Array]:
    """Random data ``(X, Y)``: inputs ``N(0, I)`` and labels drawn as the loss expects; with ``group``
    every input is replaced by its orbit (the augmented data set, labels repeated)."""
    L = get_loss(loss, arch.output_dim)
    kx, ky = jax.random.split(jax.random.PRNGKey(seed))
    X = arch.random_inputs(kx, positive_int(n, "n"))
    Y = L.sample_labels(ky, n, arch.output_dim)
    if group is None:
        return X, Y
    G = jnp.asarray(group)
    Xa = jnp.einsum("gij,nj->ngi", G, X) if X.ndim == 2 else jnp.einsum("gij,nlj->ngli", G, X)
    Xa = Xa.reshape(-1, *X.shape[1:])
    return Xa, jnp.repeat(Y, G.shape[0], axis=0)


Objective = Callable[[Array, Array, Array], Array]


def mean_loss(arch: Architecture, loss: str | Loss | Objective) -> Objective:
    """The mean loss ``(θ, X, Y) -> (1/n) Σ ℓ(g(θ, x_i), y_i)``; a callable is used as it is (e.g. an
    exactly group-averaged loss). Kept with the model, so that training it again with the same
    loss reuses the compiled code."""
    if callable(loss) and not isinstance(loss, Loss):
        return loss
    L = get_loss(loss, arch.output_dim)
    key = f"mean_loss:{L.name}:{id(L.fn)}"
    if key not in arch.cache:

        def total(theta: Array, X: Array, Y: Array) -> Array:
            return jnp.mean(jax.vmap(lambda x, y: L.fn(arch.flat(theta, x), y))(X, Y))

        arch.cache[key] = total
    objective: Objective = arch.cache[key]
    return objective


class _Flow(eqx.Module):
    X: Array
    Y: Array
    total: Objective = eqx.field(static=True)


def _field(t: Any, theta: Array, args: Any) -> Array:
    return -jax.grad(args.total)(theta, args.X, args.Y)


_SOLVERS = {"dopri8": diffrax.Dopri8, "tsit5": diffrax.Tsit5}


@eqx.filter_jit
def _integrate(
    args: _Flow, theta0: Array, ts: Array, rtol: float, atol: float, solver: str, max_steps: int
) -> tuple[Any, Any]:
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_field),
        _SOLVERS[solver](),
        ts[0],
        ts[-1],
        None,
        theta0,
        args=args,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
        throw=False,
    )
    return sol.ys, sol.result == diffrax.RESULTS.successful


@eqx.filter_jit
def _losses(args: _Flow, states: Array) -> Array:
    """The mean loss at each of a stack of states (compiled: op by op it took 6.6 s over the 1001
    saved states of a 364-parameter ResNet)."""
    return jax.vmap(lambda th: args.total(th, args.X, args.Y))(states)


def gradient_flow(
    arch: Architecture,
    loss: str | Loss | Objective,
    X: Any,
    Y: Any,
    theta0: Any,
    T: float,
    *,
    n_save: int = 101,
    rtol: float = 1e-12,
    atol: float = 1e-13,
    solver: str = "dopri8",
    max_steps: int = 200_000,
) -> Trajectory:
    """Integrate the gradient flow of the mean loss on ``(X, Y)`` from ``theta0`` over ``[0, T]``.

    ``solver="dopri8"`` (smooth models) or ``"tsit5"`` (ReLU nets: the flow has kinks where an
    activation pattern changes, which high-order steps resolve only with very small steps)."""
    if solver not in _SOLVERS:
        raise InvalidArgumentError(
            "solver", f"must be one of {sorted(_SOLVERS)}, got {solver!r}", "pick dopri8 or tsit5"
        )
    total = mean_loss(arch, loss)
    th0 = jnp.asarray(theta0, dtype=jnp.float64)
    if th0.shape != (arch.dimension,):
        raise InvalidArgumentError(
            "theta0",
            f"must have shape ({arch.dimension},), got {th0.shape}",
            "pass a flat parameter vector",
        )
    ts = jnp.linspace(0.0, positive_float(T, "T", "flow time"), positive_int(n_save, "n_save", 2))
    args = _Flow(jnp.asarray(X), jnp.asarray(Y), total)
    ys, ok = _integrate(args, th0, ts, rtol, atol, solver, max_steps)
    ys = np.asarray(ys)
    finite = bool(np.all(np.isfinite(ys)))
    losses = np.asarray(_losses(args, jnp.asarray(np.nan_to_num(ys))))
    if not finite:
        status, message = FlowStatus.nonfinite, "the flow diverged (non-finite parameters)"
    elif not bool(ok):
        status, message = (
            FlowStatus.integration_failed,
            f"the ODE solver ({solver}) stopped before t = {float(ts[-1]):g}",
        )
    else:
        status, message = FlowStatus.successful, f"integrated to t = {float(ts[-1]):g}"
    return Trajectory(np.asarray(ts), ys, losses, "gradient flow", status, message)


@functools.cache
def _named_transformation(method: str, decayed: bool) -> optax.GradientTransformation:
    """One optax transformation per named method (and weight decay or not), its hyperparameters
    held in its state (``optax.inject_hyperparams``): a new step size, momentum or decay is new
    data for the same compiled training loop, not a new program."""
    inject = optax.inject_hyperparams
    base = {
        "gd": lambda: inject(optax.sgd)(learning_rate=0.0),
        "sgd": lambda: inject(optax.sgd)(learning_rate=0.0),
        "momentum": lambda: inject(optax.sgd)(learning_rate=0.0, momentum=0.0),
        "nesterov": lambda: inject(optax.sgd, static_args=("nesterov",))(
            learning_rate=0.0, momentum=0.0, nesterov=True
        ),
        "adam": lambda: inject(optax.adam)(learning_rate=0.0),
    }[method]()
    if not decayed:
        return base
    return optax.chain(inject(optax.add_decayed_weights)(weight_decay=0.0), base)


def _set_hyperparameters(state: Any, values: dict[str, float]) -> Any:
    """``state`` with the injected hyperparameters it holds set to ``values`` (by name)."""

    def injected(node: Any) -> bool:
        return hasattr(node, "hyperparams") and isinstance(node, tuple)

    def update(node: Any) -> Any:
        if not injected(node):
            return node
        hyper = {
            k: jnp.asarray(values[k], dtype=v.dtype) if k in values else v
            for k, v in node.hyperparams.items()
        }
        return node._replace(hyperparams=hyper)

    return jax.tree_util.tree_map(update, state, is_leaf=injected)


def _optimiser(
    method: str | optax.GradientTransformation,
    lr: float,
    momentum: float,
    weight_decay: float,
    batch_size: int | None,
) -> tuple[optax.GradientTransformation, dict[str, float], str, bool]:
    """The transformation to train with, the hyperparameters to set in its state, its label and
    whether it takes minibatches (``sgd``, or any method given a ``batch_size``)."""
    minibatches = batch_size is not None
    if isinstance(method, optax.GradientTransformation):
        base, values, label = method, {}, "optax transformation"
        if weight_decay:
            base = optax.chain(optax.add_decayed_weights(weight_decay), base)
    elif method in OPTIMISERS:
        base = _named_transformation(method, bool(weight_decay))
        values = {"learning_rate": lr, "momentum": momentum, "weight_decay": weight_decay}
        label, minibatches = method, minibatches or method == "sgd"
    else:
        raise InvalidArgumentError(
            "method",
            f"must be an optax GradientTransformation or one of {OPTIMISERS}, got {method!r}",
            "pass e.g. optax.adam(1e-2), or a supported name",
        )
    if weight_decay:
        label += f" + weight decay {weight_decay:g}"
    return base, values, label, minibatches


@functools.partial(jax.jit, static_argnums=(0, 1))
def _train_records(
    total: Objective,
    opt: optax.GradientTransformation,
    theta: Array,
    state: Any,
    X: Array,
    Y: Array,
    batches: Array,
) -> tuple[Array, Any, Array]:
    """Optimiser steps on the minibatches ``batches`` ``(records, every, batch)`` (row indices):
    ``every`` steps between records, all in one compiled loop; returns the final parameters and
    state and the recorded parameters ``(records, D)``."""

    def one(carry: tuple[Array, Any], rows: Array) -> tuple[tuple[Array, Any], None]:
        th, st = carry
        g = jax.grad(total)(th, X[rows], Y[rows])
        updates, st = opt.update(g, st, th)
        return (optax.apply_updates(th, updates), st), None

    def record(carry: tuple[Array, Any], block: Array) -> tuple[tuple[Array, Any], Array]:
        carry, _ = jax.lax.scan(one, carry, block)
        return carry, carry[0]

    (theta, state), recorded = jax.lax.scan(record, (theta, state), batches)
    return theta, state, recorded


def _batch_rows(steps: int, n: int, bs: int, block: int, seed: int) -> np.ndarray:
    """``(steps, bs)`` row indices: all rows each step (full batch), or minibatches drawn without
    replacement each epoch in whole blocks of ``block`` consecutive rows."""
    if bs == n:
        return np.broadcast_to(np.arange(n), (steps, n))
    rng = np.random.default_rng(seed)
    nb, bb = n // block, bs // block
    perm, pos = rng.permutation(nb), 0
    rows = np.empty((steps, bs), dtype=int)
    for k in range(steps):
        if pos + bb > nb:
            perm, pos = rng.permutation(nb), 0
        rows[k] = (perm[pos : pos + bb, None] * block + np.arange(block)[None, :]).ravel()
        pos += bb
    return rows


def train(
    arch: Architecture,
    loss: str | Loss | Objective,
    X: Any,
    Y: Any,
    theta0: Any,
    *,
    method: str | optax.GradientTransformation = "gd",
    lr: float = 1e-2,
    steps: int = 1000,
    batch_size: int | None = None,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    record_every: int = 1,
    block: int = 1,
    on_divergence: str = "raise",
) -> Trajectory:
    """Discrete training with optax; ``times`` are ``step × lr`` so that runs compare with the
    gradient flow.

    ``method`` is an optax ``GradientTransformation`` (full batch, or minibatches of ``batch_size``
    when it is given; ``weight_decay`` is chained before it when non-zero) or, as a convenience,
    the name of one built from ``lr``, ``momentum`` and ``weight_decay``: ``gd``, ``sgd``,
    ``momentum``, ``nesterov``, ``adam``. ``sgd`` uses minibatches of ``batch_size`` (default
    ``n/4``), and so does any method given a ``batch_size``. All steps run in one compiled loop,
    compiled once per loss and kind of optimiser: a new step size, momentum, decay or data set
    reuses it. Minibatches are sampled without replacement each epoch, in whole blocks of ``block``
    consecutive rows (e.g. the orbit of one sample under an augmentation group, so that every
    minibatch is itself an augmented data set).

    ``on_divergence``: ``"raise"`` (default) raises :class:`NonFiniteError` when the parameters
    become non-finite; ``"stop"`` returns the trajectory up to the last finite step with the status
    ``FlowStatus.nonfinite`` and the reason (used by ``train_check``, which marks such runs)."""
    choice(on_divergence, "on_divergence", ("raise", "stop"))
    lr = positive_float(lr, "lr", "learning rate")
    opt, values, label, minibatches = _optimiser(method, lr, momentum, weight_decay, batch_size)
    steps = positive_int(steps, "steps")
    record_every = positive_int(record_every, "record_every")
    total = mean_loss(arch, loss)
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    n = X.shape[0]
    block = positive_int(block, "block")
    if n % block:
        raise InvalidArgumentError(
            "block", f"{block} does not divide the {n} samples", "pass the orbit size"
        )
    bs = n if not minibatches else (batch_size or max(block, n // 4))
    if bs % block:
        raise InvalidArgumentError(
            "batch_size", f"{bs} is not a multiple of block = {block}", "use whole orbits"
        )
    theta = jnp.asarray(theta0, dtype=jnp.float64)
    state = _set_hyperparameters(opt.init(theta), values)
    rows = _batch_rows(steps, n, bs, block, seed)
    # records every `record_every` steps, and at the last step (a shorter last record)
    full, rest = divmod(steps, record_every)
    recorded, ends = [np.asarray(theta)[None]], [0]
    if full:
        theta, state, thetas = _train_records(
            total,
            opt,
            theta,
            state,
            X,
            Y,
            jnp.asarray(rows[: full * record_every]).reshape(full, record_every, bs),
        )
        recorded.append(np.asarray(thetas))
        ends += [record_every * (i + 1) for i in range(full)]
    if rest:
        theta, state, thetas = _train_records(
            total, opt, theta, state, X, Y, jnp.asarray(rows[full * record_every :])[None]
        )
        recorded.append(np.asarray(thetas))
        ends.append(steps)
    th_arr = np.concatenate(recorded)
    status, message = FlowStatus.successful, f"{steps} steps"
    finite = np.all(np.isfinite(th_arr), axis=1)
    if not np.all(finite):
        bad = int(np.argmin(finite))
        message = f"training diverged (non-finite parameters) at step {ends[bad]} with lr = {lr}"
        if on_divergence == "raise":
            raise NonFiniteError(message + ". Fix: lower lr.")
        status, th_arr, ends = FlowStatus.nonfinite, th_arr[:bad], ends[:bad]
    times = np.asarray(ends, dtype=float) * lr
    losses = np.asarray(_losses(_Flow(X, Y, total), jnp.asarray(th_arr)))
    return Trajectory(times, th_arr, losses, label, status, message)


def law_drift_series(
    laws: Sequence[Callable[[Array], Array]], trajectory: Trajectory
) -> np.ndarray:
    """``(n_laws, m)`` relative drift of each candidate law ``h`` (a JAX function of the flat ``θ``)
    along a trajectory: ``|h(θ_t) - h(θ_0)| / max(|h(θ_0)|, ‖∇h(θ_0)‖ ‖θ_0‖)`` — the second term is
    the size of the law's terms (for a homogeneous polynomial of degree ``k``, ``k`` times it), so a
    law whose value is itself ~0 is not divided by ~0."""
    th = jnp.asarray(trajectory.theta)
    out = []
    for h in laws:
        vals = np.asarray(jax.vmap(h)(th), dtype=np.float64).reshape(th.shape[0])
        size = float(np.linalg.norm(np.asarray(jax.grad(h)(th[0])))) * float(
            np.linalg.norm(trajectory.theta[0])
        )
        out.append(np.abs(vals - vals[0]) / max(abs(vals[0]), size, 1e-300))
    return np.stack(out) if out else np.zeros((0, th.shape[0]))


def law_drift(laws: Sequence[Callable[[Array], Array]], trajectory: Trajectory) -> np.ndarray:
    """The largest relative drift of each law along the trajectory (``max_t`` of
    :func:`law_drift_series`), shape ``(n_laws,)``."""
    series = law_drift_series(laws, trajectory)
    return np.max(series, axis=1) if series.size else np.zeros(0)
