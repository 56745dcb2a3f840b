r"""Diffusion generative models from a score: noise schedules, the reverse SDE and the
probability-flow ODE (issue 31).

A diffusion model adds noise to data by the forward SDE

.. math::  dx = a(t)\,x\,dt + g(t)\,dW,\qquad x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon ,

and generates by running it backwards with the score ``s(x, t) = ∇ log p_t(x)``. Two schedules
(options as objects, each with its range of times):

* :class:`VarianceExploding` — the seed paper's ``σ(t) = t``: ``a = 0``, ``g² = dσ²/dt = 2t``,
  ``α = 1``; ``t ∈ [t_min, t_max]`` with ``t_min > 0`` (at ``t = 0`` the score of point data is
  singular);
* :class:`VariancePreserving` — DDPM (Ho et al. 2020; Song et al. 2021):
  ``β(t) = β_min + (β_max − β_min) t``, ``a = −β/2``, ``g² = β``,
  ``α = exp(−½ ∫₀ᵗ β)``, ``σ² = 1 − α²``; ``t ∈ [t_min, t_max] ⊂ (0, 1]``.

**Time direction (stated once, used everywhere).** Generation runs from ``t_max`` down to ``t_min``.
The models returned here are written in the **generative clock** ``u = −t``, so that model time
increases along generation, as the path solvers and :func:`~noetherlab.ensembles.simulation.
simulate` expect; pass ``u`` grids in ``[−t_max, −t_min]`` (``t0 = −t_max``). In that clock

.. math::  \text{reverse SDE:}\quad \frac{dx}{du} = g^2(t)\, s(x, t) - a(t)\, x + \text{noise},
           \qquad D(u) = \tfrac12 g^2(t)\, I ,

.. math::  \text{probability flow:}\quad \frac{dx}{du} = \tfrac12 g^2(t)\, s(x, t) - a(t)\, x ,

with ``t = −u``. For the variance-exploding schedule and the seed's Gaussian ring the reverse SDE
is :func:`~noetherlab.models.catalogue.gaussian_ring_reverse` exactly.

The score is any JAX-traceable ``s(x, t) -> (d,)``: a function, an Equinox or Flax nnx module (its
arrays are data: a retrained network of the same shape reuses every compiled solver), or a PyTorch
module ``forward(x, t)`` taking a batch ``x`` ``(B, d)`` and ``t`` ``(B,)``, captured with
``torch.fx`` and replayed in JAX (:mod:`noetherlab._core.torch_fx`), then checked against its own
forward pass at 4 states and times in the schedule's range (relative error ≤ 1e-10, float64).
It is checked once at construction (signature, shape, finiteness on a probe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError, ShapeError
from noetherlab._core.torch_fx import is_torch_module, torch_graph_to_jax
from noetherlab._core.validation import as_state, positive_float, positive_int
from noetherlab.sde.model import SDE

__all__ = [
    "DiffusionModel",
    "Schedule",
    "VarianceExploding",
    "VariancePreserving",
    "as_schedule",
    "diffusion_model",
]

Array = jax.Array


# ------------------------------------------------------------------------------ schedules
class Schedule(eqx.Module):
    """A forward noising SDE ``dx = a(t) x dt + g(t) dW`` on ``t ∈ [t_min, t_max]``, with the
    marginal ``x_t = α(t) x_0 + σ(t) ε``. Subclasses give ``a``, ``g²``, ``α`` and ``σ``."""

    t_min: float = eqx.field(static=True)
    t_max: float = eqx.field(static=True)

    def drift_rate(self, t: Array) -> Array:
        """``a(t)`` (1/time)."""
        raise NotImplementedError

    def g2(self, t: Array) -> Array:
        """``g(t)²`` (state²/time); the diffusion tensor of the forward SDE is ``g²/2 · I``."""
        raise NotImplementedError

    def alpha(self, t: Array) -> Array:
        """The signal scale ``α(t)`` of the marginal ``x_t = α x_0 + σ ε``."""
        raise NotImplementedError

    def sigma(self, t: Array) -> Array:
        """The noise scale ``σ(t)`` of the marginal (state units)."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


class VarianceExploding(Schedule):
    """``σ(t) = t`` (the seed paper's): ``dx = √(2t) dW``, ``α = 1``; requires ``t_min > 0``."""

    def __init__(self, t_min: float = 10**-0.4, t_max: float = 10**1.5) -> None:
        self.t_min, self.t_max = _time_range(t_min, t_max, upper=None, schedule="VarianceExploding")

    def drift_rate(self, t: Array) -> Array:
        return jnp.zeros_like(t)

    def g2(self, t: Array) -> Array:
        return 2.0 * t

    def alpha(self, t: Array) -> Array:
        return jnp.ones_like(t)

    def sigma(self, t: Array) -> Array:
        return t

    def describe(self) -> str:
        return f"variance exploding σ(t) = t on [{self.t_min:g}, {self.t_max:g}]"


class VariancePreserving(Schedule):
    """DDPM's ``β(t) = β_min + (β_max − β_min) t`` on ``t ∈ [t_min, t_max] ⊂ (0, 1]``:
    ``dx = −½β x dt + √β dW``, ``α = exp(−½(β_min t + ½(β_max − β_min) t²))``, ``σ² = 1 − α²``."""

    beta_min: float = eqx.field(static=True)
    beta_max: float = eqx.field(static=True)

    def __init__(
        self, beta_min: float = 0.1, beta_max: float = 20.0, t_min: float = 1e-3, t_max: float = 1.0
    ) -> None:
        self.beta_min = positive_float(beta_min, "beta_min", "noise rate")
        self.beta_max = positive_float(beta_max, "beta_max", "noise rate")
        if self.beta_max < self.beta_min:
            raise InvalidArgumentError(
                "beta_max",
                f"must be ≥ beta_min = {self.beta_min:g}, got {self.beta_max:g}",
                "e.g. VariancePreserving(beta_min=0.1, beta_max=20)",
            )
        self.t_min, self.t_max = _time_range(t_min, t_max, upper=1.0, schedule="VariancePreserving")

    def _beta(self, t: Array) -> Array:
        return self.beta_min + (self.beta_max - self.beta_min) * t

    def drift_rate(self, t: Array) -> Array:
        return -0.5 * self._beta(t)

    def g2(self, t: Array) -> Array:
        return self._beta(t)

    def alpha(self, t: Array) -> Array:
        return jnp.exp(-0.5 * (self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2))

    def sigma(self, t: Array) -> Array:
        return jnp.sqrt(
            -jnp.expm1(-(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2))
        )

    def describe(self) -> str:
        return (
            f"variance preserving β(t) = {self.beta_min:g} + {self.beta_max - self.beta_min:g} t "
            f"on [{self.t_min:g}, {self.t_max:g}]"
        )


def _time_range(
    t_min: Any, t_max: Any, *, upper: float | None, schedule: str
) -> tuple[float, float]:
    lo = positive_float(t_min, "t_min", "time")  # the score of point data is singular at t = 0
    hi = positive_float(t_max, "t_max", "time")
    if hi <= lo:
        raise InvalidArgumentError(
            "t_max",
            f"must exceed t_min = {lo:g}, got {hi:g}",
            f"e.g. {schedule}(t_min=0.01, t_max=1)",
        )
    if upper is not None and hi > upper:
        raise InvalidArgumentError(
            "t_max",
            f"{schedule} is defined on (0, {upper:g}], got t_max = {hi:g}",
            f"pass t_max ≤ {upper:g} (rescale time, or raise beta_max instead)",
        )
    return lo, hi


# ------------------------------------------------------------------------------ the model
@dataclass(frozen=True, eq=False)
class DiffusionModel:
    """A score ``s(x, t)`` with its schedule: the reverse SDE (:attr:`reverse_sde`), the
    probability-flow ODE (:meth:`probability_flow`), the exact Gaussian-data score for checks, in
    the generative clock ``u = −t`` of the module docstring.

    Attributes:
        score: the score function ``s(x, t) -> (d,)`` (1/state units).
        schedule: the :class:`Schedule`.
        dim: the data dimension ``d``.
        reverse_sde: the reverse SDE as an :class:`~noetherlab.sde.model.SDE` in ``u = −t``,
            drift ``g² s − a x``, diffusion ``D = g²/2 · I``.
        flow: the probability-flow ODE as an :class:`~noetherlab.sde.model.SDE` in ``u`` with
            drift ``½ g² s − a x`` (its diffusion is the reverse SDE's, unused by
            :meth:`probability_flow`; it lets the path solvers ask how far a path is from it).
    """

    score: Callable[[Array, Array], Array]
    schedule: Schedule
    dim: int
    reverse_sde: SDE
    flow: SDE
    name: str

    def times(self, n: int = 400, spacing: str = "log") -> np.ndarray:
        """A grid of ``n + 1`` generative times ``u`` from ``−t_max`` to ``−t_min`` (geometric in
        ``t`` by default: the score changes fastest near the data)."""
        n = positive_int(n, "n", 2)
        lo, hi = self.schedule.t_min, self.schedule.t_max
        if spacing == "log":
            t = np.geomspace(hi, lo, n + 1)
        elif spacing == "linear":
            t = np.linspace(hi, lo, n + 1)
        else:
            raise InvalidArgumentError("spacing", f"must be 'log' or 'linear', got {spacing!r}", "")
        return -t

    def probability_flow(
        self, x_start: Any, *, rtol: float = 1e-9, saves: int = 201
    ) -> tuple[np.ndarray, np.ndarray]:
        """The probability-flow trajectory from ``x_start`` ``(d,)`` or ``(M, d)`` at ``t_max`` to
        ``t_min`` (diffrax Tsit5, adaptive, relative and absolute tolerance ``rtol``): the forward
        times ``t`` ``(saves,)`` (decreasing) and the states ``(saves, d)`` or ``(saves, M, d)``.

        Raises:
            NonFiniteError: the integration left the finite numbers (the score blew up)."""
        x0 = np.asarray(x_start, dtype=float)
        single = x0.ndim == 1
        batch = np.atleast_2d(x0)
        for k, row in enumerate(batch):
            as_state(row, f"x_start[{k}]" if not single else "x_start", self.dim)
        rtol = positive_float(rtol, "rtol", "tolerance")
        u = jnp.linspace(
            -self.schedule.t_max, -self.schedule.t_min, positive_int(saves, "saves", 2)
        )
        xs = np.asarray(
            _flow_trajectories(self.flow, jnp.asarray(batch), u, jnp.asarray(rtol))
        )  # (M, S, d)
        if not np.all(np.isfinite(xs)):
            raise NonFiniteError(
                f"`{self.name}`: the probability-flow trajectory is not finite; the score blew up "
                "on the way. Fix: check the score near the data (t_min), or raise t_min"
            )
        xs = np.moveaxis(xs, 0, 1)
        return -np.asarray(u), xs[:, 0] if single else xs

    def gaussian_score(self, mean: Any, std: float) -> Callable[[Array, Array], Array]:
        """The exact score of Gaussian data ``N(mean, std² I)`` under this schedule:
        ``s(x, t) = −(x − α m)/(α² std² + σ²)`` (for tests and comparisons)."""
        m = jnp.asarray(as_state(mean, "mean", self.dim))
        s0 = positive_float(std, "std", "standard deviation")
        sch = self.schedule

        def score(x: Array, t: Array) -> Array:
            a, s = sch.alpha(t), sch.sigma(t)
            return -(x - a * m) / (a**2 * s0**2 + s**2)

        return score


@eqx.filter_jit
def _flow_trajectories(flow: SDE, x0: Array, u: Array, rtol: Array) -> Array:
    """Integrate ``dx/du = flow.f(x, u)`` from every row of ``x0`` ``(M, d)`` over ``u``, saving at
    ``u``: ``(M, len(u), d)`` (compiled once per model structure and shape)."""
    term = diffrax.ODETerm(lambda s, y, args: flow.f(y, jnp.asarray(s)))
    controller = diffrax.PIDController(rtol=rtol, atol=rtol)

    def one(y0: Array) -> Array:
        sol = diffrax.diffeqsolve(
            term,
            diffrax.Tsit5(),
            u[0],
            u[-1],
            None,
            y0,
            saveat=diffrax.SaveAt(ts=u),
            stepsize_controller=controller,
            max_steps=100_000,
            throw=False,
        )
        return sol.ys

    return jax.vmap(one)(x0)


class _TorchScore(eqx.Module):
    """A PyTorch score module replayed in JAX: its parameters are data (float64 arrays keyed by
    their PyTorch names), the replayed graph is static."""

    params: dict[str, Array]
    apply: Callable[..., Array] = eqx.field(static=True)

    def __call__(self, x: Array, t: Array) -> Array:
        return self.apply(self.params, x, jnp.asarray(t, dtype=x.dtype))


def _from_torch(module: Any, dim: int, schedule: Schedule) -> _TorchScore:
    """The module's ``forward(x, t)`` in JAX, checked at 4 states and times of the schedule."""
    rng = np.random.default_rng(0)
    times = np.geomspace(schedule.t_min, schedule.t_max, 4)
    probes = [(rng.standard_normal(dim), np.asarray(t)) for t in times]
    params, apply = torch_graph_to_jax(module, probes, tol=1e-10, argument="score")
    return _TorchScore(params, apply)


def _checked_score(score: Any, dim: int, schedule: Schedule) -> Callable[[Array, Array], Array]:
    if is_torch_module(score):
        score = _from_torch(score, dim, schedule)
    if not callable(score):
        raise InvalidArgumentError(
            "score",
            f"must be a function or module s(x, t) -> (d,), got {type(score).__name__}",
            "pass e.g. lambda x, t: -x / (1 + t**2)",
        )
    probe = jnp.full((dim,), 0.1)
    t_probe = jnp.asarray(0.5 * (schedule.t_min + schedule.t_max))
    try:
        out = jax.eval_shape(score, probe, t_probe)
    except TypeError as exc:
        raise InvalidArgumentError(
            "score",
            f"must take the state and the time, s(x, t) with x of shape ({dim},); calling it "
            f"that way failed: {exc}",
            "wrap a score of x only as lambda x, t: s(x), or a time-first one as lambda x, t: s(t, x)",
        ) from exc
    shape = getattr(out, "shape", None)
    if shape != (dim,):
        raise ShapeError(
            "score",
            f"must return the score of shape ({dim},) at a state of shape ({dim},); got {shape}",
            "return ∇ log p_t(x) for one state (vectorise with jax.vmap outside, not inside)",
        )
    value = np.asarray(score(probe, t_probe))
    if not np.all(np.isfinite(value)):
        raise NonFiniteError(
            f"the score is not finite at x = 0.1·1, t = {float(t_probe):g}. Fix: check the network's "
            "time embedding and weights"
        )
    return score


def as_schedule(schedule: Schedule | str) -> Schedule:
    """A :class:`Schedule` from itself or its name (``"ve"``, ``"vp"``: the defaults).

    Raises:
        InvalidArgumentError: any other name or object."""
    if isinstance(schedule, str):
        known: dict[str, Callable[[], Schedule]] = {
            "ve": VarianceExploding,
            "vp": VariancePreserving,
        }
        if schedule not in known:
            raise InvalidArgumentError(
                "schedule",
                f"must be 've', 'vp' or a Schedule, got {schedule!r}",
                "e.g. schedule=VariancePreserving(beta_min=0.1, beta_max=20)",
            )
        return known[schedule]()
    if not isinstance(schedule, Schedule):
        raise InvalidArgumentError(
            "schedule",
            f"must be 've', 'vp' or a Schedule, got {type(schedule).__name__}",
            "e.g. schedule=VarianceExploding(t_min=0.01, t_max=10)",
        )
    return schedule


def diffusion_model(
    score: Any,
    schedule: Schedule | str = "ve",
    *,
    dim: int,
    name: str | None = None,
) -> DiffusionModel:
    """A diffusion model from its score ``s(x, t) -> (d,)`` and schedule (``"ve"``,
    ``"vp"`` or a :class:`Schedule`): the reverse SDE and the probability-flow ODE in the
    generative clock ``u = −t`` (see the module docstring for the equations).

    Raises:
        InvalidArgumentError: an unknown schedule name, a score that does not take ``(x, t)``, a
            PyTorch module whose JAX replay disagrees with its forward pass.
        UnsupportedModelError: a PyTorch module using an operation that is not translated (named).
        ShapeError: a score that does not return shape ``(dim,)``.
        NonFiniteError: a score that is not finite on a probe state.
    """
    dim = positive_int(dim, "dim")
    schedule = as_schedule(schedule)
    s = _checked_score(score, dim, schedule)
    sch = schedule
    label = name or f"diffusion({getattr(score, '__name__', type(score).__name__)}, d={dim})"

    def reverse(x: Array, u: Array) -> Array:
        t = -u
        return sch.g2(t) * s(x, t) - sch.drift_rate(t) * x

    def flow(x: Array, u: Array) -> Array:
        t = -u
        return 0.5 * sch.g2(t) * s(x, t) - sch.drift_rate(t) * x

    def diffusion(x: Array, u: Array) -> Array:
        return 0.5 * sch.g2(-u) * jnp.ones(dim)

    return DiffusionModel(
        score=s,
        schedule=sch,
        dim=dim,
        reverse_sde=SDE(reverse, diffusion=diffusion, dim=dim, name=f"{label} reverse SDE"),
        flow=SDE(flow, diffusion=diffusion, dim=dim, name=f"{label} probability flow"),
        name=label,
    )
