r"""Train a score network by denoising score matching (issue 31), and data with a symmetry.

The network is an Equinox MLP on ``[x, Fourier features of log t]`` whose output is divided by
``σ(t)`` (the usual preconditioning: the score of the noised data scales as ``1/σ``),

.. math::  s_\theta(x, t) = \mathrm{MLP}_\theta\big(x,\ \sin(k \log t), \cos(k \log t)\big)/\sigma(t),

trained with optax's Adam on the denoising score matching loss (Vincent 2011; Song et al. 2021)
weighted by ``λ(t) = σ(t)²``,

.. math::  \mathcal L(\theta) = \mathbb E_{t, x_0, ε}\, \big|σ(t)\, s_θ(α(t) x_0 + σ(t) ε, t) + ε\big|^2 ,

with ``t`` log-uniform on the schedule's ``[t_min, t_max]``. The loss is ``d`` (its floor, the
irreducible ``E|ε − E[ε|x_t]|²``, is below it) for a score that is zero. Data with a symmetry:
:func:`ring_data` (the seed's ring, radius ``R`` blurred by ``σ0``) and :func:`sphere_data`
(``S^{d−1}`` of radius ``R`` blurred by ``σ0``).

:func:`save_score` writes the weights (Equinox's serialisation) and the hyper-parameters with the
package version in one file, atomically; :func:`load_score` rebuilds the network.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.io import atomic_write, check_output_file
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab._core.version import VERSION
from noetherlab.models.diffusion import (
    DiffusionModel,
    Schedule,
    VarianceExploding,
    VariancePreserving,
    as_schedule,
    diffusion_model,
)

__all__ = [
    "ScoreNetwork",
    "TrainedScore",
    "load_score",
    "ring_data",
    "save_score",
    "sphere_data",
    "train_score",
]

Array = jax.Array


class ScoreNetwork(eqx.Module):
    """``s(x, t) = MLP([x, sin(k log t), cos(k log t)])/σ(t)`` for ``k = 1 … features`` (see the
    module docstring); ``width × depth`` hidden layers with SiLU."""

    mlp: eqx.nn.MLP
    schedule: Schedule
    features: int = eqx.field(static=True)

    def __init__(
        self, dim: int, schedule: Schedule, *, width: int, depth: int, features: int, key: Array
    ):
        self.mlp = eqx.nn.MLP(
            dim + 2 * features, dim, width, depth, activation=jax.nn.silu, key=key
        )
        self.schedule = schedule
        self.features = features

    def __call__(self, x: Array, t: Array) -> Array:
        k = jnp.arange(1, self.features + 1, dtype=x.dtype)
        lt = jnp.log(t)
        h = jnp.concatenate([x, jnp.sin(k * lt), jnp.cos(k * lt)])
        return self.mlp(h) / self.schedule.sigma(t)


@dataclass(frozen=True, eq=False)
class TrainedScore:
    """A score network trained by :func:`train_score`.

    Attributes:
        network: the :class:`ScoreNetwork` (callable ``s(x, t)``).
        model: its :class:`~noetherlab.models.diffusion.DiffusionModel` (reverse SDE, flow).
        losses: the denoising loss averaged over each block of ``log_every`` steps ``(B,)``.
        parameters: the hyper-parameters (saved with the weights).
    """

    network: ScoreNetwork
    model: DiffusionModel
    losses: np.ndarray
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def final_loss(self) -> float:
        """The last block's mean denoising loss (dimensionless; ``d`` for a zero score)."""
        return float(self.losses[-1])

    @property
    def message(self) -> str:
        p = self.parameters
        return (
            f"score network {p['depth']}×{p['width']} trained {p['steps']} steps on {p['samples']} "
            f"points in d = {p['dim']}: denoising loss {self.losses[0]:.4f} → {self.final_loss:.4f} "
            f"({p['seconds']:.1f} s)"
        )


def ring_data(n: int, R: float = 5.0, sigma0: float = 0.55, key: int = 0) -> np.ndarray:
    """``n`` points of the seed's Gaussian ring: angle uniform, radius ``R``, blurred by isotropic
    Gaussian noise of standard deviation ``sigma0``: ``(n, 2)``."""
    return sphere_data(n, 2, R, sigma0, key)


def sphere_data(n: int, dim: int, R: float = 1.0, sigma0: float = 0.1, key: int = 0) -> np.ndarray:
    """``n`` points uniform on the sphere ``S^{dim−1}`` of radius ``R``, blurred by isotropic
    Gaussian noise of standard deviation ``sigma0``: ``(n, dim)`` (rotation invariant in law)."""
    n, dim = positive_int(n, "n"), positive_int(dim, "dim", 2)
    R, sigma0 = positive_float(R, "R", "radius"), positive_float(sigma0, "sigma0", "width")
    rng = np.random.default_rng(positive_int(key, "key", 0))
    z = rng.standard_normal((n, dim))
    return R * z / np.linalg.norm(z, axis=1, keepdims=True) + sigma0 * rng.standard_normal((n, dim))


def circle_mixture_data(
    n: int, modes: int = 8, R: float = 5.0, sigma0: float = 0.3, key: int = 0
) -> np.ndarray:
    """``n`` points of a mixture of ``modes`` equal Gaussians (standard deviation ``sigma0``)
    centred at ``R (cos 2πj/modes, sin 2πj/modes)``: ``(n, 2)``. Its law has the discrete
    rotation symmetry by ``2π/modes`` only (no conserved angular momentum); its exact score is
    :func:`~noetherlab.models.catalogue.circle_mixture_score`."""
    n, modes = positive_int(n, "n"), positive_int(modes, "modes")
    R, sigma0 = positive_float(R, "R", "radius"), positive_float(sigma0, "sigma0", "width")
    rng = np.random.default_rng(positive_int(key, "key", 0))
    angle = 2.0 * np.pi * rng.integers(0, modes, n) / modes
    centres = R * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return centres + sigma0 * rng.standard_normal((n, 2))


def _loss(net: ScoreNetwork, x0: Array, key: Array, log_lo: float, log_hi: float) -> Array:
    kt, ke = jax.random.split(key)
    t = jnp.exp(jax.random.uniform(kt, (x0.shape[0],), minval=log_lo, maxval=log_hi))
    eps = jax.random.normal(ke, x0.shape)
    sch = net.schedule
    xt = sch.alpha(t)[:, None] * x0 + sch.sigma(t)[:, None] * eps
    s = jax.vmap(net)(xt, t)
    return jnp.mean(jnp.sum((sch.sigma(t)[:, None] * s + eps) ** 2, axis=1))


@eqx.filter_jit
def _train_block(
    net: ScoreNetwork, state: Any, data: Array, key: Array, steps: int, batch: int, opt: Any
) -> tuple[ScoreNetwork, Any, Array]:
    """``steps`` Adam steps on minibatches of ``batch`` rows of ``data``; the mean loss."""
    lo, hi = np.log(net.schedule.t_min), np.log(net.schedule.t_max)

    params, static = eqx.partition(net, eqx.is_array)

    def step(carry: Any, k: Array) -> tuple[Any, Array]:
        p, st = carry
        kb, kl = jax.random.split(k)
        rows = jax.random.randint(kb, (batch,), 0, data.shape[0])
        loss, grads = jax.value_and_grad(
            lambda q: _loss(eqx.combine(q, static), data[rows], kl, lo, hi)
        )(p)
        updates, st = opt.update(grads, st, p)
        return (optax.apply_updates(p, updates), st), loss

    (params, state), losses = jax.lax.scan(step, (params, state), jax.random.split(key, steps))
    net = eqx.combine(params, static)
    return net, state, jnp.mean(losses)


def train_score(
    data: Any,
    schedule: Schedule | str = "ve",
    *,
    width: int = 128,
    depth: int = 3,
    features: int = 8,
    steps: int = 5000,
    batch: int = 256,
    learning_rate: float = 1e-3,
    log_every: int = 250,
    key: int = 0,
) -> TrainedScore:
    """Fit a :class:`ScoreNetwork` to ``data`` ``(K, d)`` by denoising score matching with Adam
    (learning rate decayed by a cosine schedule to a tenth).

    Raises:
        ShapeError: ``data`` not a finite ``(K, d)`` array with ``K ≥ 2``.
        InvalidArgumentError: a non-positive size or rate, an unknown schedule.
    """
    X = as_float_array(data, "data")
    if X.ndim != 2 or X.shape[0] < 2 or not np.all(np.isfinite(X)):
        raise ShapeError(
            "data",
            f"must be finite points (K, d) with K ≥ 2, got shape {X.shape}",
            "e.g. ring_data(4096)",
        )
    dim = X.shape[1]
    schedule = as_schedule(schedule)
    width, depth = positive_int(width, "width"), positive_int(depth, "depth")
    features, steps = positive_int(features, "features"), positive_int(steps, "steps")
    batch, log_every = positive_int(batch, "batch"), positive_int(log_every, "log_every")
    lr = positive_float(learning_rate, "learning_rate", "rate")
    blocks = max(1, steps // log_every)
    net = ScoreNetwork(
        dim, schedule, width=width, depth=depth, features=features, key=jax.random.PRNGKey(key)
    )
    opt = optax.adam(optax.cosine_decay_schedule(lr, blocks * log_every, alpha=0.1))
    state = opt.init(eqx.filter(net, eqx.is_array))
    data_j = jnp.asarray(X)
    keys = jax.random.split(jax.random.PRNGKey(key + 1), blocks)
    start = time.perf_counter()
    losses = []
    for k in keys:
        net, state, loss = _train_block(net, state, data_j, k, log_every, batch, opt)
        losses.append(float(loss))
    params = {
        "dim": dim,
        "samples": int(X.shape[0]),
        "width": width,
        "depth": depth,
        "features": features,
        "steps": blocks * log_every,
        "batch": batch,
        "learning_rate": lr,
        "key": key,
        "schedule": _schedule_parameters(schedule),
        "seconds": time.perf_counter() - start,
    }
    return TrainedScore(
        net,
        diffusion_model(net, schedule, dim=dim, name="learned score"),
        np.asarray(losses),
        params,
    )


def _schedule_parameters(schedule: Schedule) -> dict[str, Any]:
    if isinstance(schedule, VariancePreserving):
        return {
            "kind": "vp",
            "beta_min": schedule.beta_min,
            "beta_max": schedule.beta_max,
            "t_min": schedule.t_min,
            "t_max": schedule.t_max,
        }
    if isinstance(schedule, VarianceExploding):
        return {"kind": "ve", "t_min": schedule.t_min, "t_max": schedule.t_max}
    raise InvalidArgumentError(
        "schedule", f"only the built-in schedules can be saved, got {type(schedule).__name__}", ""
    )


def _schedule_from(p: dict[str, Any]) -> Schedule:
    kw = {k: v for k, v in p.items() if k != "kind"}
    return VariancePreserving(**kw) if p["kind"] == "vp" else VarianceExploding(**kw)


def save_score(trained: TrainedScore, path: str | Path) -> Path:
    """Write the network's weights and hyper-parameters (with the package version) to ``path``,
    atomically: one line of JSON, then Equinox's serialised leaves."""
    path = check_output_file(path, "path", (".eqx",))
    header = json.dumps(
        {
            "kind": "noetherlab.score",
            "version": VERSION,
            **trained.parameters,
            "losses": trained.losses.tolist(),
        }
    )

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            fh.write(header.encode() + b"\n")
            eqx.tree_serialise_leaves(fh, trained.network)

    return atomic_write(path, write)


def load_score(path: str | Path) -> TrainedScore:
    """Read a network written by :func:`save_score`.

    Raises:
        InvalidArgumentError: the file is not a saved score."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            p = json.loads(fh.readline())
            if p.get("kind") != "noetherlab.score":
                raise ValueError("not a score file")
            schedule = _schedule_from(p["schedule"])
            like = ScoreNetwork(
                p["dim"],
                schedule,
                width=p["width"],
                depth=p["depth"],
                features=p["features"],
                key=jax.random.PRNGKey(0),
            )
            net = eqx.tree_deserialise_leaves(fh, like)
    except (OSError, ValueError, KeyError) as exc:
        raise InvalidArgumentError(
            "path",
            f"{path} is not a score saved by save_score ({exc})",
            "pass a file written by save_score",
        ) from exc
    losses = np.asarray(p.pop("losses"))
    for k in ("kind", "version"):
        p.pop(k)
    return TrainedScore(
        net, diffusion_model(net, schedule, dim=p["dim"], name="learned score"), losses, p
    )
