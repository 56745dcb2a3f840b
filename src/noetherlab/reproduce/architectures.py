"""Case study: the conservation laws of a ResNet and of a transformer trained on synthetic tasks,
and how real training breaks them (the architectures of :mod:`noetherlab.training`).

1. **A ResNet** (:func:`~noetherlab.training.resnet.resnet`: a 3 × 3 convolution stem and one basic
   block, BatchNorm in training mode with gains and shifts, convolution biases, GELU; one input is
   a batch of 8 images) on bars: a horizontal (label +1) or vertical (−1) bar at a random row or
   column of a 6 × 6 image, in Gaussian pixel noise of 0.3.
2. **A transformer encoder** (:func:`~noetherlab.training.transformer.transformer_encoder`: two
   pre-norm layers of 2 heads of width 4 on 4 tokens of width 8, GELU feed-forward of 16) on a
   teacher–student task: a random transformer of the same shape labels random sequences.

For each: the certified number of conservation laws (with the known-laws bound) against its
closed form; then one quadratic law — a BatchNorm scale law ``|K[o]|² + c_o²`` of the ResNet, a
query–key law ``(QᵀQ − KᵀK)[0, 0]`` of the transformer — under gradient descent with weight decay,
at two step sizes, with heavy-ball momentum, with minibatches (the mean of several runs: the
prediction is an expectation) and with Adam (measured only: no closed form), each against its
prediction from :func:`~noetherlab.training.broken.law_evolution` (Kunin et al., "Neural
mechanics", ICLR 2021: ``h(0)e^{−2λt}`` plus the modified equation's finite-step and minibatch
terms).

``architectures(out, modes, quick)`` returns ``{"checks", "numbers", "notes", "figures"}`` like
the figures (``modes`` is not used: these are our own computations, with no published numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.figures import colour, figure, save
from noetherlab.reproduce.fig1 import check
from noetherlab.training import Architecture, count_laws, law_evolution, resnet, transformer_encoder
from noetherlab.training.broken import LawEvolution
from noetherlab.training.flows import train
from noetherlab.training.known import known_laws
from noetherlab.training.resnet import resnet_law_count
from noetherlab.training.transformer import transformer_law_count


@dataclass(frozen=True)
class _Case:
    """One trained model: data, start, the law followed and the optimiser settings. Gradient
    descent runs at ``eta``, ``eta/2`` and ``eta/4`` (``steps``, twice and four times as many:
    the same flow time ``T = eta·steps``), minibatches at ``eta/4``, heavy ball at
    ``eta_momentum`` for the same flow time ``η/(1 − β)`` per step."""

    label: str
    arch: Architecture
    closed_form: int
    X: Any
    Y: Any
    theta0: Any
    law: str
    eta: float
    eta_momentum: float
    steps: int
    weight_decay: float = 0.1
    momentum: float = 0.5
    repeats: int = 8


def _bars(key: Any, batches: int, batch: int, size: int, noise: float) -> tuple[Any, Any]:
    """``(batches, batch, 1, size, size)`` images of one bar each and their labels ``±1``."""
    k_orient, k_pos, k_noise = jax.random.split(key, 3)
    n = batches * batch
    horizontal = jax.random.bernoulli(k_orient, 0.5, (n,))
    line = (jnp.arange(size)[None, :] == jax.random.randint(k_pos, (n,), 0, size)[:, None]) * 1.0
    rows, cols = line[:, :, None] * jnp.ones(size), line[:, None, :] * jnp.ones((size, 1))
    images = jnp.where(horizontal[:, None, None], rows, cols)
    images = images + noise * jax.random.normal(k_noise, images.shape)
    labels = jnp.where(horizontal, 1.0, -1.0)
    return images.reshape(batches, batch, 1, size, size), labels.reshape(batches, batch)


def _resnet_case(quick: bool) -> _Case:
    """6 × 6 images, 4 channels, 16 batches of 8 (quick: 8 batches of 4, half the flow time)."""
    size, channels, batches, batch = (6, 4, 8, 4) if quick else (6, 4, 16, 8)
    options = {"bias": True, "affine": True, "activation": "gelu"}
    arch = resnet(size, 1, channels, 1, 1, batch=batch, **options)  # type: ignore[arg-type]
    X, Y = _bars(jax.random.PRNGKey(0), batches, batch, size, 0.3)
    theta0 = arch.random_params(jax.random.PRNGKey(1), 0.5)
    gains = np.array([i for i, n in enumerate(arch.param_names) if n.startswith("gamma")])
    theta0 = theta0.at[gains].add(1.0)  # BatchNorm gains start near 1, as in practice
    return _Case(
        "ResNet",
        arch,
        resnet_law_count(channels, 1, **options),  # type: ignore[arg-type]
        X,
        Y,
        theta0,
        "|KA1[0]|² + cA1[0]²",
        eta=0.05,
        eta_momentum=0.0125,
        steps=100 if quick else 200,
        repeats=4 if quick else 8,
    )


def _transformer_case(quick: bool) -> _Case:
    """Two pre-norm layers on 4 tokens of width 8, 2 heads of 4, feed-forward 16, 32 sequences
    (quick: half the flow time)."""
    shape = (4, 8, 2, 4, 4, 16)
    options = {"layers": 2, "norm": "pre", "activation": "gelu"}
    arch = transformer_encoder(*shape, **options)  # type: ignore[arg-type]
    teacher = arch.random_params(jax.random.PRNGKey(10), 0.5)
    X = arch.random_inputs(jax.random.PRNGKey(11), 32)
    Y = jax.vmap(lambda x: arch.flat(teacher, x))(X)
    return _Case(
        "transformer",
        arch,
        transformer_law_count(*shape[2:], **options),  # type: ignore[arg-type]
        X,
        Y,
        arch.random_params(jax.random.PRNGKey(1), 0.35),
        "Q1[0]^TQ1[0] - K1[0]^TK1[0][0,0]",
        eta=0.025,
        eta_momentum=0.0025,
        steps=200 if quick else 400,
        repeats=4 if quick else 8,
    )


#: the step sizes of the gradient-descent study, as fractions of the case's η
FRACTIONS = (1.0, 0.5, 0.25)


def _runs(case: _Case) -> dict[str, LawEvolution]:
    """The law under each optimiser with a closed form; gradient descent at three step sizes
    over the same flow time ``T = η·steps`` (one reference flow, reused)."""
    c = case
    data = (c.arch, c.law, c.X, c.Y, c.theta0)
    runs = {
        f"gd η×{f:g}": law_evolution(*data, lr=c.eta * f, steps=round(c.steps / f))
        for f in FRACTIONS
    }
    runs["weight decay"] = law_evolution(
        *data, lr=c.eta, steps=c.steps, weight_decay=c.weight_decay
    )
    flow_time = c.eta * c.steps
    runs["momentum"] = law_evolution(
        *data,
        lr=c.eta_momentum,
        momentum=c.momentum,
        steps=round(flow_time * (1 - c.momentum) / c.eta_momentum),
    )
    runs["sgd"] = law_evolution(
        *data,
        lr=c.eta / 4,
        steps=c.steps * 4,
        batch_size=max(1, c.X.shape[0] // 4),
        repeats=c.repeats,
    )
    return runs


def _adam(case: _Case) -> tuple[np.ndarray, np.ndarray]:
    """The law along an Adam run (measured only: Adam's per-coordinate scaling has no closed
    form), at the same step and number of steps as gradient descent."""
    from noetherlab.training.flows import mean_loss

    law = next(k for k in known_laws(case.arch) if k.name == case.law)
    run = train(
        case.arch, mean_loss(case.arch, "mse"), case.X, case.Y, case.theta0, method="adam",
        lr=case.eta / 10, steps=case.steps, on_divergence="stop",
    )  # fmt: skip
    return np.asarray(run.times), np.asarray(jax.vmap(law.fn)(jnp.asarray(run.theta)))


def _slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log |y|`` against ``log x``."""
    return float(np.polyfit(np.log(x), np.log(np.abs(y)), 1)[0])


def _at_least(name: str, bound: float, ours: float, where: str) -> dict[str, Any]:
    """A one-sided check ``ours ≥ bound`` in the report's format (``rel_diff``: the relative
    shortfall, 0 when met)."""
    return {
        "name": name,
        "kind": "analytic",
        "published": bound,
        "ours": ours,
        "rel_diff": max(0.0, (bound - ours) / abs(bound)),
        "rtol": 0.0,
        "match": bool(ours >= bound),
        "where": where,
    }


def _checks(case: _Case, count: Any, runs: dict[str, LawEvolution]) -> list[dict[str, Any]]:
    """Each prediction against its measurement, with the tolerance the closed form allows."""
    name = case.label
    drift = {k: r.measured[-1] - r.measured[0] for k, r in runs.items()}
    etas = [case.eta * f for f in FRACTIONS]
    gd = [runs[f"gd η×{f:g}"] for f in FRACTIONS]
    sgd = runs["sgd"]
    sgd_predicted = sgd.predicted[-1] - sgd.measured[0]
    se = 0.0 if sgd.measured_se is None else float(sgd.measured_se[-1])
    where = "law_evolution (reproduce/architectures.py)"
    steps = ", ".join(f"{e:g}" for e in etas)
    return [
        check(
            f"{name}: certified number of conservation laws (D = {case.arch.dimension})",
            case.closed_form, float(count.laws) if count.certified else float("nan"), 0.0,
            "count_laws with the known-laws bound vs the closed form", kind="analytic",
        ),
        check(
            f"{name}: weight decay λ = {case.weight_decay:g}, largest error of the prediction "
            "(fraction of max|h|)",
            0.0, runs["weight decay"].max_error, 1e-3, where, scale=1.0, kind="analytic",
        ),
        # the modified equation: the drift is first order in η, the prediction's error second
        check(
            f"{name}: slope of log|drift| against log η (η = {steps}): first order",
            1.0, _slope(etas, [drift[f"gd η×{f:g}"] for f in FRACTIONS]), 0.25, where,
            kind="analytic",
        ),
        _at_least(
            f"{name}: slope of log(error of the prediction) against log η: at least second "
            "order (≥ 1.75)",
            1.75, _slope(etas, [r.max_error for r in gd]), where,
        ),
        check(
            f"{name}: finite-step correction at η = {etas[-1]:g}, measured/predicted",
            1.0, float(gd[-1].correction_ratio or np.nan), 0.15, where, kind="analytic",
        ),
        check(
            f"{name}: heavy ball β = {case.momentum:g} at η = {case.eta_momentum:g}, correction "
            "measured/predicted",
            1.0, float(runs["momentum"].correction_ratio or np.nan), 0.25, where,
            kind="analytic",
        ),
        check(
            f"{name}: minibatches of {case.X.shape[0] // 4} at η = {etas[-1]:g}, mean drift of "
            f"{sgd.repeats} runs / predicted",
            1.0, float(drift["sgd"] / sgd_predicted), 0.15 + 2 * se / abs(sgd_predicted),
            where + ": tolerance 15 % (first order in η) + 2 standard errors", kind="analytic",
        ),
        check(
            f"{name}: exact step identities on the full-batch run (fraction of max|h|)",
            0.0, gd[0].max_error_on_run, 1e-12, where, scale=1.0, kind="analytic",
        ),
    ]  # fmt: skip


def _plot(case: _Case, runs: dict[str, LawEvolution], adam: tuple[np.ndarray, np.ndarray],
          out: Path) -> list[str]:  # fmt: skip
    """Measured (solid) against predicted (dashed) for each optimiser, and Adam's measured law;
    every panel against the flow time (``kη``, heavy ball ``kη/(1 − β)``)."""
    fig, axes = figure(5, width=2.9, height=2.6)
    wd = runs["weight decay"]
    ax = axes[0]
    ax.plot(wd.times, wd.measured, color=colour(0), label="measured")
    ax.plot(wd.times, wd.predicted, "--", color=colour(1), label="predicted")
    ax.plot(wd.times, wd.flow, ":", color=colour(2), label="flow h(0)e^(-2λt)")
    ax.set(title=f"{case.label}: weight decay", xlabel="flow time", ylabel=case.law)
    ax.legend()
    ax = axes[1]
    for i, f in enumerate(FRACTIONS):
        r = runs[f"gd η×{f:g}"]
        ax.plot(r.times, r.measured - r.measured[0], color=colour(i), label=f"η = {case.eta * f:g}")
        ax.plot(r.times, r.predicted - r.measured[0], "--", color=colour(i))
    ax.set(title="finite step: solid measured, dashed predicted", xlabel="flow time",
           ylabel="h(t) − h(0)")  # fmt: skip
    ax.legend()
    panels = (
        ("momentum", f"heavy ball β = {case.momentum:g}", 1.0 / (1.0 - case.momentum)),
        ("sgd", f"minibatches: mean of {runs['sgd'].repeats} runs", 1.0),
    )
    for ax, (key, title, stretch) in zip(axes[2:4], panels, strict=True):
        r = runs[key]
        t, mean = r.times * stretch, r.measured - r.measured[0]
        ax.plot(t, mean, color=colour(0), label="measured")
        if r.measured_se is not None:
            band = 2 * r.measured_se
            ax.fill_between(t, mean - band, mean + band, color=colour(0), alpha=0.25, lw=0)
        ax.plot(t, r.predicted - r.measured[0], "--", color=colour(1), label="predicted")
        ax.set(title=title, xlabel="flow time", ylabel="h(t) − h(0)")
        ax.legend()
    ax = axes[4]
    times, values = adam
    ax.plot(times * 10, values - values[0], color=colour(3))
    ax.set(title="Adam, step η/10: measured only", xlabel="kη", ylabel="h(t) − h(0)")
    return save(fig, out, f"architectures_{case.label.lower()}")


def architectures(out: Path, modes: set[str], quick: bool) -> dict[str, Any]:
    res: dict[str, Any] = {"checks": [], "numbers": {}, "notes": [], "figures": []}
    for case in (_resnet_case(quick), _transformer_case(quick)):
        count = count_laws(case.arch)
        runs = _runs(case)
        adam = _adam(case)
        res["checks"] += _checks(case, count, runs)
        res["figures"] += _plot(case, runs, adam, out)
        res["numbers"][case.label] = {
            "architecture": case.arch.name,
            "D": case.arch.dimension,
            "laws": count.laws,
            "closed_form": case.closed_form,
            "gap": count.gap,
            "count_seconds": count.seconds,
            "law": case.law,
            **{
                key: {
                    "optimiser": r.optimiser,
                    "h0": float(r.measured[0]),
                    "measured_end": float(r.measured[-1]),
                    "predicted_end": float(r.predicted[-1]),
                    "flow_end": float(r.flow[-1]),
                    "correction_ratio": r.correction_ratio,
                    "max_error": r.max_error,
                }
                for key, r in runs.items()
            },
            "adam_end_minus_start": float(adam[1][-1] - adam[1][0]),
        }
        res["notes"].append(f"{case.label}: {count.message}")
    res["notes"] += [
        "ResNet: bars (horizontal +1, vertical -1) in 6 × 6 images with pixel noise 0.3; one "
        "input is a batch of 8 images (BatchNorm in training mode).",
        "transformer: teacher–student, a random transformer of the same shape labels random "
        "sequences of 4 tokens.",
        "predictions: law_evolution (Kunin et al., ICLR 2021: decay h(0)e^{-2λt}, the modified "
        "equation's finite-step term, the minibatch noise term as an expectation; heavy ball "
        "with flow time η/(1−β) and the factor (1+β)/(1−β)); Adam has no closed form and is "
        "measured only.",
    ]
    return res
