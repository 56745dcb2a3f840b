r"""How real training breaks a conservation law: predicted against measured.

A known law ``h`` (linear, or a homogeneous quadratic ``h(θ) = ½ θᵀAθ``) of a symmetry of every
sample's loss has ``⟨∇h(θ), g⟩ = 0`` for the full-batch gradient and for every minibatch gradient
``g``. One optimiser step ``θ' = (1 − ηλ)θ − ηg`` (gradient descent with step ``η`` and weight
decay ``λ``, as :func:`~noetherlab.training.flows.train` runs it) therefore changes it *exactly* by

``h(θ') = (1 − ηλ)^k h(θ) + η² h(g)``  (``k`` the degree; ``h(g) = 0`` for a linear law),

and the closed forms follow (Kunin, Sagastuy-Brena, Ganguli, Yamins & Tanaka, "Neural mechanics:
symmetry and broken conservation laws in deep learning dynamics", ICLR 2021, arXiv:2012.04728 —
conservation under gradient flow, its breaking by weight decay, and their modified gradient flow
for finite steps and minibatches; written out here for the laws of :mod:`~noetherlab.training.known`):

* **gradient flow with weight decay** (η → 0): ``h(t) = h(0) e^{−kλt}``;
* **finite step** (first order in η, the modified equation): ``ḣ = −a h + η H(t)`` with
  ``a = −k log(1 − ηλ)/η`` and ``H(t) = h(∇L(θ(t)))`` along the gradient flow (with weight decay), so
  ``h(t) = e^{−at} h(0) + η ∫₀ᵗ e^{−a(t−s)} H(s) ds``: at a fixed time the departure from the
  flow is ``O(η)`` (``O(η²)`` per step);
* **minibatches** of ``B`` of ``n`` samples drawn without replacement: in expectation
  ``h(g_B) = h(ḡ) + c_B (1/n) Σ_i h(g_i − ḡ)`` with ``c_B = (n − B)/(B(n − 1))``, so ``H`` gains the
  per-sample gradient spread — the noise-driven drift (Ziyin et al. 2024 study its equilibria);
* **heavy-ball momentum** ``β`` (optax's ``v' = βv + g``, ``θ' = θ − ηv'``): to leading order it is
  the flow with step ``η_β = η/(1 − β)``, reached after the ramp of the first ``~1/(1 − β)`` steps —
  flow time ``τ_k = η_β (k − β(1 − β^k)/(1 − β))`` after ``k`` steps (a constant gradient moves
  exactly that far). The finite-step term is *not* that of gradient descent with step ``η_β``:
  for ``u = h(θ)`` with bilinear form ``B`` and steps ``s_k = θ_{k+1} − θ_k``,
  ``u_{k+1} = u_k + 2c_k + h(s_k)`` with ``c_k = B(θ_k, s_k) = β(c_{k−1} + h(s_{k−1})) − ηλu_k``
  (by ``B(θ_k, g_k) = 0``); in the steady state ``s ≈ −η_β g`` this adds
  ``(1 + β)/(1 − β)·h(s)`` per step, so ``dh/dτ = −kλh + η_β (1 + β)/(1 − β) H`` (derived here;
  its equilibrium is the angular update
  ``√(2ηλ/(1 + β))`` of Wan et al., "Spherical motion dynamics", NeurIPS 2021). Valid while the
  angular step ``η|g|/|w|`` is small: under strong weight decay a scale-invariant layer shrinks
  until it reaches that equilibrium, which a first-order prediction from the flow does not see.

Adam's per-coordinate scaling has no such closed form: :func:`law_evolution` measures it only.

:func:`law_evolution` runs the discrete training, integrates the gradient flow from the same start,
and returns the measured ``h`` with both predictions and the exact step identities evaluated on the
measured run (for a full batch their closure is roundoff).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.io import JsonRecord
from noetherlab._core.status import FlowStatus
from noetherlab._core.validation import positive_float, positive_int
from noetherlab.training.architectures import Architecture
from noetherlab.training.flows import Trajectory, gradient_flow, mean_loss, train
from noetherlab.training.known import KnownLaw, known_laws
from noetherlab.training.losses import MSE, Loss

__all__ = ["LawEvolution", "law_evolution"]

Array = jax.Array

SOURCES = {
    "decay": "Kunin et al., Neural mechanics (ICLR 2021, arXiv:2012.04728): h(t) = h(0) exp(-k λ t)",
    "modified": "Kunin et al. 2021, modified gradient flow: dh/dt = -a h + η h(∇L)",
    "minibatch": "Kunin et al. 2021, minibatch noise: E h(g_B) = h(ḡ) + c_B·mean_i h(g_i − ḡ)",
    "momentum": "heavy ball: flow time η/(1-β) per step after its ramp; finite-step term × (1+β)/(1-β)"
    " (steady state of the step recursion; cf. Wan et al., NeurIPS 2021)",
}


@dataclass(frozen=True)
class LawEvolution(JsonRecord):
    """One law along one training run: measured, and predicted by the closed forms.

    Attributes:
        law, symmetry: the law and the symmetry behind it; ``degree``: 1 (linear) or 2.
        optimiser: what was run (step, weight decay, momentum, batch size).
        steps: the recorded step indices ``k``; ``times``: ``k·η``.
        measured: ``h(θ_k)``.
        flow: the η → 0 prediction ``h(0) e^{−kλτ_k}`` (``τ_k = kη``, or the momentum time).
        predicted: the first-order (modified-equation, and minibatch) prediction.
        correction_ratio: ``(measured − flow)/(predicted − flow)`` at the last step: → 1 as η → 0
            (``None`` when the predicted correction is zero, e.g. a linear law).
        max_error: ``max_k |measured − predicted| / max_k |h|``.
        predicted_on_run: the exact step identities (:class:`_Recursion`: ``s_k = βs_{k−1} −
            η(g_k + λθ_k)``, ``u_{k+1} = u_k + 2B(θ_k, s_k) + h(s_k)``, the cross term carried by
            its own recursion) driven by the measured states: for a full-batch run it equals
            the measured law to roundoff — gradient descent and heavy ball alike — and for
            minibatches it is the expectation along the run. It stays right where the
            first-order prediction from the flow does not, e.g. a scale-invariant layer under
            strong weight decay, whose shrinking norm makes the angular step ``η|g|/|w|`` grow
            until the norm equilibrates.
        max_error_on_run: ``max_k |measured − predicted_on_run| / max_k |h|``.
        identity_closure: ``max_error_on_run`` for a full-batch run (roundoff: the identity is
            exact), ``None`` for minibatches.
        reference: the path along which the source term ``H`` was evaluated: the gradient flow
            (a prediction from the start alone), or the measured run where the flow failed.
        sources: where each closed form comes from.
        status, message: how the measured run ended (``FlowStatus.nonfinite``: it diverged, and
            the series stop at its last finite step).
        repeats: minibatch runs averaged into ``measured`` (seeds ``seed, seed + 1, …``): the
            minibatch closed form predicts the expectation over the batches drawn;
        measured_se: the standard error of that mean at each step (``None`` for one run).
    """

    law: str
    symmetry: str
    degree: int
    optimiser: str
    steps: np.ndarray
    times: np.ndarray
    measured: np.ndarray
    flow: np.ndarray
    predicted: np.ndarray
    correction_ratio: float | None
    max_error: float
    identity_closure: float | None
    reference: str
    predicted_on_run: np.ndarray
    max_error_on_run: float
    sources: list[str]
    status: FlowStatus = FlowStatus.successful
    message: str = ""
    repeats: int = 1
    measured_se: np.ndarray | None = None

    def summary(self) -> str:
        ratio = "n/a" if self.correction_ratio is None else f"{self.correction_ratio:.3f}"
        end = f"{self.measured[-1]:.6g}"
        if self.measured_se is not None:
            end += f" ± {self.measured_se[-1]:.2g} (mean of {self.repeats} runs)"
        return (
            f"{self.law} under {self.optimiser}: h {self.measured[0]:.6g} -> {end}"
            f" (flow {self.flow[-1]:.6g}, predicted {self.predicted[-1]:.6g}); measured/predicted "
            f"finite-step correction {ratio}; largest error {self.max_error:.2e} of max|h| "
            + f"({self.max_error_on_run:.2e} by the step identities on the measured states)"
        )


def _pick_law(arch: Architecture, law: KnownLaw | str, loss: str | Loss) -> KnownLaw:
    if isinstance(law, KnownLaw):
        return law
    laws = known_laws(arch, loss)
    for candidate in laws:
        if candidate.name == law:
            return candidate
    names = [k.name for k in laws][:8]
    raise InvalidArgumentError(
        "law",
        f"{law!r} is not a known law of {arch.name}",
        f"pass a KnownLaw or one of the names {names}"
        + (" ..." if len(laws) > 8 else "")
        + " (noetherlab.training.known_laws(arch))",
    )


def _degree(h: Any, theta0: Array, name: str) -> int:
    """1 or 2: ``h(2θ) = 2^k h(θ)`` (and ``h(0) = 0``) checked at the start."""
    v1, v2, v0 = float(h(theta0)), float(h(2.0 * theta0)), float(h(jnp.zeros_like(theta0)))
    for k in (1, 2):
        if abs(v2 - 2.0**k * v1) <= 1e-9 * max(abs(v2), 1.0) and abs(v0) <= 1e-12:
            return k
    raise InvalidArgumentError(
        "law",
        f"{name} is neither linear nor a homogeneous quadratic (h(0) = {v0:.3g}, "
        f"h(2θ)/h(θ) = {v2 / v1 if v1 else float('nan'):.4g})",
        "the closed forms hold for the laws of linear symmetries (rescalings, rotations, shifts)",
    )


def law_evolution(
    arch: Architecture,
    law: KnownLaw | str,
    X: Any,
    Y: Any,
    theta0: Any,
    *,
    loss: str | Loss = MSE,
    lr: float = 0.01,
    steps: int = 200,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    batch_size: int | None = None,
    seed: int = 0,
    repeats: int = 1,
) -> LawEvolution:
    """Train ``arch`` on ``(X, Y)`` from ``theta0`` and compare ``law`` with its closed forms.

    Args:
        law: a :class:`~noetherlab.training.known.KnownLaw` or its name among ``known_laws(arch)``.
        lr, steps: step size ``η`` and number of steps; ``weight_decay``: ``λ`` (added to the
            gradient, as ``optax.add_decayed_weights``); ``momentum``: heavy-ball ``β`` (0: plain
            gradient descent); ``batch_size``: minibatches of ``B`` (``None``: full batch).
        seed: the minibatch order. Every step is recorded.
        repeats: with ``batch_size``, the number of minibatch runs (seeds ``seed, seed + 1, …``)
            whose mean is compared with the prediction, an expectation over the batches; its
            standard error is returned (``measured_se``). The step identities are driven by the
            first run's states.

    Returns:
        A :class:`LawEvolution` (module docstring: what is predicted, and from where).

    Raises:
        InvalidArgumentError: a law that is not a conservation law of this loss (its gradient is
            not orthogonal to the loss gradient at ``theta0``), or not linear/quadratic; bad
            optimiser settings (each named).
    """
    lr = positive_float(lr, "lr", "step size")
    steps = positive_int(steps, "steps")
    lam = float(weight_decay)
    if not (math.isfinite(lam) and 0.0 <= lam < 1.0 / lr):
        raise InvalidArgumentError(
            "weight_decay",
            f"must be in [0, 1/lr) = [0, {1 / lr:g}), got {weight_decay!r}",
            "e.g. 0.1",
        )
    beta = float(momentum)
    if not (math.isfinite(beta) and 0.0 <= beta < 1.0):
        raise InvalidArgumentError("momentum", f"must be in [0, 1), got {momentum!r}", "e.g. 0.9")
    X, Y = jnp.asarray(X), jnp.asarray(Y)
    n = int(X.shape[0])
    if batch_size is not None and not 1 <= int(batch_size) <= n:
        raise InvalidArgumentError(
            "batch_size", f"must be in [1, {n}] (the samples), got {batch_size!r}", "or None"
        )
    repeats = positive_int(repeats, "repeats")
    if repeats > 1 and batch_size is None:
        raise InvalidArgumentError(
            "repeats",
            f"averages minibatch runs; a full-batch run is deterministic (got repeats={repeats})",
            "pass batch_size, or repeats=1",
        )
    known = _pick_law(arch, law, loss)
    h = known.fn
    th0 = jnp.asarray(theta0, dtype=jnp.float64)
    total, decayed = _objectives(arch, loss, lam)
    k = _degree(h, th0, known.name)
    g0 = jax.grad(total)(th0, X, Y)
    dh0 = jax.grad(h)(th0)
    cosine = float(jnp.abs(dh0 @ g0) / (jnp.linalg.norm(dh0) * jnp.linalg.norm(g0) + 1e-300))
    if cosine > 1e-8:
        raise InvalidArgumentError(
            "law",
            f"{known.name} is not conserved by this loss's gradient flow (cos(∇h, ∇L) = "
            f"{cosine:.2e} at theta0)",
            "pass one of known_laws(arch, loss), for this architecture",
        )

    # the measured run (optax, as train() runs every method)
    # a named method: its step size, momentum and decay are data of one compiled training loop
    method = "momentum" if beta else "gd"
    run = train(
        arch, total, X, Y, th0, method=method, lr=lr, momentum=beta, steps=steps, batch_size=batch_size,
        weight_decay=lam, seed=seed, on_divergence="stop",
    )  # fmt: skip
    measured = np.asarray(_values(h, jnp.asarray(run.theta)))
    measured_se = None
    if repeats > 1:
        runs = [measured]
        for r in range(1, repeats):
            other = train(
                arch, total, X, Y, th0, method=method, lr=lr, momentum=beta, steps=steps,
                batch_size=batch_size, weight_decay=lam, seed=seed + r, on_divergence="stop",
            )  # fmt: skip
            if other.status is not FlowStatus.successful:
                raise InvalidArgumentError(
                    "lr",
                    f"minibatch run {r} (seed {seed + r}) ended {other.status.name}: "
                    f"{other.message}",
                    "lower lr",
                )
            runs.append(np.asarray(_values(h, jnp.asarray(other.theta))))
        stack = np.stack([m[: len(measured)] for m in runs])
        measured, measured_se = stack.mean(axis=0), stack.std(axis=0, ddof=1) / np.sqrt(repeats)

    # the flow time of each step (momentum: after its ramp) and the modified equation's gain
    K = len(measured) - 1
    steps_k = np.arange(K + 1)
    if beta:
        tau = lr / (1 - beta) * (steps_k - beta * (1 - beta**steps_k) / (1 - beta))
        eta = lr / (1 - beta)
        gain = eta * (1 + beta) / (1 - beta)
    else:
        tau, eta, gain = lr * steps_k.astype(float), lr, lr
    T = float(tau[-1]) if tau[-1] > 0 else lr
    flow = _reference_flow(arch, decayed, X, Y, th0, T)
    on_run = _Recursion(h, k, total, X, Y, lr, lam, beta, batch_size)(
        jnp.asarray(run.theta[:-1]), measured[0]
    )
    source = lambda states: _source_terms(h, total, states, X, Y, batch_size)
    if flow.successful:
        s, H, reference = np.asarray(flow.times), np.asarray(source(flow.theta)), "gradient flow"
    else:  # e.g. a ReLU net's flow sliding along a kink: H along the measured states instead
        s, H = tau, np.asarray(source(jnp.asarray(run.theta)))
        reference = f"measured run (the gradient flow failed: {flow.message})"
    a = -k * math.log1p(-eta * lam) / eta if lam else 0.0
    predicted = np.exp(-a * tau) * measured[0] + gain * _convolve(H, s, a, tau)
    flow_pred = measured[0] * np.exp(-k * lam * tau)

    scale = max(float(np.max(np.abs(measured))), 1e-300)
    corr_pred = predicted[-1] - flow_pred[-1]
    ratio = (
        None
        if abs(corr_pred) <= 1e-14 * scale
        else float((measured[-1] - flow_pred[-1]) / corr_pred)
    )
    error_on_run = float(np.max(np.abs(measured - on_run))) / scale
    closure = error_on_run if batch_size is None else None
    what = [f"η = {lr:g}"]
    if lam:
        what.append(f"weight decay λ = {lam:g}")
    if beta:
        what.append(f"heavy-ball β = {beta:g}")
    what.append("full batch" if batch_size is None else f"minibatches of {batch_size} of {n}")
    if repeats > 1:
        what.append(f"mean of {repeats} runs")
    sources = [SOURCES["decay"], SOURCES["modified"]]
    if batch_size is not None:
        sources.append(SOURCES["minibatch"])
    if beta:
        sources.append(SOURCES["momentum"])
    return LawEvolution(
        law=known.name,
        symmetry=known.symmetry,
        degree=k,
        optimiser=("momentum" if beta else "gd" if batch_size is None else "sgd")
        + " ("
        + ", ".join(what)
        + ")",
        steps=steps_k,
        times=lr * steps_k.astype(float),
        measured=measured,
        flow=flow_pred,
        predicted=predicted,
        correction_ratio=ratio,
        max_error=float(np.max(np.abs(measured - predicted))) / scale,
        predicted_on_run=on_run,
        max_error_on_run=error_on_run,
        identity_closure=closure,
        reference=reference,
        sources=sources,
        status=run.status,
        message=run.message,
        repeats=repeats,
        measured_se=measured_se,
    )


#: reference flows kept per model (the most recent ones): runs at η and at η/2 with twice the
#: steps, or with minibatches, follow the same gradient flow to the same time
_FLOWS_KEPT = 8


def _reference_flow(
    arch: Architecture, decayed: Any, X: Array, Y: Array, th0: Array, T: float
) -> Trajectory:
    """The gradient flow of ``decayed`` from ``th0`` to ``T`` on one grid of 1001 times (one
    grid for every run: the compiled flow is reused), solved once per objective, data, start
    and ``T`` and kept with the model."""
    kept: dict[Any, Trajectory] = arch.cache.setdefault("law_evolution:flows", {})
    key = (
        id(decayed),
        T,
        *(hashlib.sha1(np.ascontiguousarray(a).tobytes()).hexdigest() for a in (X, Y, th0)),
    )
    if key not in kept:
        if len(kept) >= _FLOWS_KEPT:
            del kept[next(iter(kept))]
        kept[key] = gradient_flow(
            arch, decayed, X, Y, th0, T, n_save=1001, solver="tsit5", rtol=1e-10
        )
    return kept[key]


def _objectives(arch: Architecture, loss: str | Loss, lam: float) -> tuple[Any, Any]:
    """The mean loss and the loss with weight decay ``+ ½λ|θ|²``, kept with the model so that a
    second run on it reuses the compiled gradient flow."""
    key = loss if isinstance(loss, str) else loss.name
    total = arch.cache.setdefault(f"law_evolution:{key}", mean_loss(arch, loss))
    decayed = arch.cache.setdefault(
        f"law_evolution:{key}:{lam!r}",
        lambda th, X, Y: total(th, X, Y) + 0.5 * lam * jnp.sum(th**2),
    )
    return total, decayed


class _Recursion:
    """``u_k = h(θ_k)`` from the exact step identities, driven by given states ``θ_k``:

    ``s_k = βs_{k−1} − η(g_k + λθ_k)`` (``g_k = ∇L(θ_k)``, ``s_{−1} = 0``), and for a quadratic law
    ``c_k = β(c_{k−1} + S_{k−1}) − ηλu_k``, ``u_{k+1} = u_k + 2c_k + S_k`` with ``S_k = E h(s_k)``
    (``h(s̄_k)`` plus the minibatch noise ``N_k = β²N_{k−1} + η² c_B mean_i h(g_i − ḡ)``); for a
    linear law ``u_{k+1} = u_k + h(s_k)``. Driven by the measured states of a full-batch run it
    is exact (roundoff); driven by the gradient flow's it is the prediction."""

    def __init__(
        self,
        h: Any,
        degree: int,
        total: Any,
        X: Array,
        Y: Array,
        lr: float,
        lam: float,
        beta: float,
        batch_size: int | None,
    ) -> None:
        self.h, self.degree, self.lr, self.lam, self.beta = h, degree, lr, lam, beta
        n = X.shape[0]
        self.c_B = (
            0.0
            if batch_size is None or batch_size >= n
            else (n - batch_size) / (batch_size * (n - 1))
        )
        self.total, self.X, self.Y = total, X, Y

    def __call__(self, states: Array, u0: float) -> np.ndarray:
        eta, lam, beta = self.lr, self.lam, self.beta
        drive = np.asarray(_gradients(self.total, states, self.X, self.Y)) + lam * np.asarray(
            states
        )
        s = np.zeros_like(drive)
        previous = np.zeros(drive.shape[1])
        for j in range(drive.shape[0]):
            previous = beta * previous - eta * drive[j]
            s[j] = previous
        S = np.array(_values(self.h, jnp.asarray(s)))
        u = np.empty(len(S) + 1)
        u[0] = u0
        if self.degree == 1:
            u[1:] = u0 + np.cumsum(S)
            return u
        if self.c_B:
            spread = _spreads(self.h, self.total, states, self.X, self.Y)
            noise, acc = np.asarray(spread) * eta**2 * self.c_B, 0.0
            for j in range(len(S)):
                acc = beta**2 * acc + noise[j]
                S[j] += acc
        c = 0.0
        for j in range(len(S)):
            c = beta * (c + (S[j - 1] if j else 0.0)) - eta * lam * u[j]
            u[j + 1] = u[j] + 2 * c + S[j]
        return u


def _gradient(total: Any, theta: Array, X: Array, Y: Array) -> Array:
    return jax.grad(total)(theta, X, Y)


def _spread(h: Any, total: Any, theta: Array, X: Array, Y: Array) -> Array:
    """``mean_i h(g_i − ḡ)``: the per-sample gradients' spread, read by the law ``h``."""
    g = jax.grad(total)(theta, X, Y)
    per = jax.vmap(lambda x, y: jax.grad(total)(theta, x[None], y[None]))(X, Y)
    return jnp.mean(jax.vmap(lambda gi: h(gi - g))(per))


# compiled once per objective (and law), with the states and data as arguments: a second
# law_evolution on the same model reuses them
_gradients = jax.jit(jax.vmap(_gradient, in_axes=(None, 0, None, None)), static_argnums=0)
_spreads = jax.jit(jax.vmap(_spread, in_axes=(None, None, 0, None, None)), static_argnums=(0, 1))
_values = jax.jit(jax.vmap(lambda h, z: h(z), in_axes=(None, 0)), static_argnums=0)


def _interpolate(times: np.ndarray, states: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The states ``(m, D)`` saved at ``times``, linearly interpolated at ``at``."""
    i = np.clip(np.searchsorted(times, at) - 1, 0, len(times) - 2)
    w = ((at - times[i]) / (times[i + 1] - times[i]))[:, None]
    return (1 - w) * states[i] + w * states[i + 1]


def _source_term(
    h: Any, total: Any, theta: Array, X: Array, Y: Array, batch_size: int | None
) -> Array:
    """``H = h(ḡ)``, plus ``c_B · mean_i h(g_i − ḡ)`` for minibatches of ``B`` (module docstring);
    zero for a linear law (``h(g) = ⟨a, g⟩ = 0``)."""
    g = jax.grad(total)(theta, X, Y)
    out = h(g) - h(jnp.zeros_like(g))
    if batch_size is None or batch_size >= X.shape[0]:
        return out
    n, B = X.shape[0], batch_size
    spread = _spread(h, total, theta, X, Y) - h(jnp.zeros_like(g))
    return out + (n - B) / (B * (n - 1)) * spread


#: ``_source_term`` at each of a stack of states, compiled once per law and objective (run op by
#: op it took 39 s of a 64 s ``law_evolution`` on a 364-parameter ResNet: 1001 flow states)
_source_terms = jax.jit(
    jax.vmap(_source_term, in_axes=(None, None, 0, None, None, None)), static_argnums=(0, 1, 5)
)


def _convolve(H: np.ndarray, s: np.ndarray, a: float, tau: np.ndarray) -> np.ndarray:
    """``∫₀^τ e^{−a(τ−s)} H(s) ds`` at each ``τ`` (trapezoid on the flow's grid ``s``)."""
    integrand = np.exp(a * (s - s[-1])) * H  # e^{a s}, rescaled by e^{−a s_end} against overflow
    cumulative = np.concatenate(
        [[0.0], np.cumsum(0.5 * (integrand[1:] + integrand[:-1]) * np.diff(s))]
    )
    at = np.interp(tau, s, cumulative)
    return np.exp(-a * (tau - s[-1])) * at
