r"""Training-run verification of conservation laws: which laws hold, which drift, and how.

From one initialisation and one (augmented) data set, :func:`train_check` runs the gradient flow
(diffrax), gradient descent, minibatch SGD (minibatches of whole orbits), heavy-ball and Nesterov
momentum, Adam, and gradient descent with weight decay, and tracks

* the architecture's known laws (quadratic, from parameter rescalings/rotations: hold for any data);
* the subspace laws created by the augmentation (:mod:`noetherlab.training.subspace`).

What theory predicts, and the report measures:

* gradient flow: drift at the ODE tolerance;
* GD / SGD: a quadratic law ``h`` with ``⟨∇h, ∇L⟩ = 0`` changes per step by
  ``h(θ − η∇L) − h(θ) = η² h(∇L)`` — drift ``O(η²)`` per step (slope 2 of drift vs ``η`` at a fixed
  number of steps) and ``O(η)`` at a fixed time ``T = steps·η`` (slope 1); both slopes are fitted;
* weight decay ``θ̇ = −∇L − λθ``: ``ḣ = −2λh``, so ``h(t) = h(0) e^{−2λt}`` (GD: factor
  ``(1 − ηλ)²`` per step); the fitted rate is compared with ``2λ``. Subspace laws survive weight decay
  (it rescales every row of ``M`` alike);
* heavy-ball / Nesterov: drift ``O(η)`` (momentum is not a gradient of the current point); Adam: the
  per-coordinate preconditioner breaks the symmetry — drift ``O(1)``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab._core.io import JsonRecord
from noetherlab._core.status import FlowStatus
from noetherlab.training.architectures import Architecture
from noetherlab.training.flows import (
    Trajectory,
    gradient_flow,
    law_drift_series,
    make_data,
    train,
)
from noetherlab.training.known import KnownLaw, known_laws
from noetherlab.training.lie import FieldFamily, loss_fields
from noetherlab.training.lifted import averaged_mse_fields, lifted_action, tensorization
from noetherlab.training.losses import MSE, Loss, as_loss
from noetherlab.training.subspace import SubspaceLaw, subspace_laws

__all__ = ["MethodDrift", "TrainingCheck", "train_check"]

Array = jax.Array


@dataclass(frozen=True)
class MethodDrift(JsonRecord):
    """Final drift of one training method's run.

    Attributes:
        known_laws: largest final relative drift of the architecture's known laws (``None``: none
            checked, or the run diverged — no measurement).
        augmentation_laws: largest final drift ``‖P(t) − P(0)‖₂`` of the augmentation's subspace
            laws (``None`` likewise).
        final_loss: the training loss at the end of the run.
        status: ``FlowStatus.successful``, or how the run diverged (``message``: the numbers).
    """

    known_laws: float | None
    augmentation_laws: float | None
    final_loss: float
    status: FlowStatus
    message: str
    json_properties: ClassVar[tuple[str, ...]] = ("diverged",)

    @property
    def diverged(self) -> str | None:
        """Why the run diverged, ``None`` when it did not."""
        return None if self.status.ok else self.message


@dataclass(frozen=True)
class TrainingCheck(JsonRecord):
    """Result of :func:`train_check`.

    Attributes:
        average: how the group average was taken; ``base_samples``, ``lr``, ``steps``,
            ``flow_time = lr·steps``, ``weight_decay``: the run's settings.
        known_laws: the known laws checked, ``"name (symmetry)"``.
        augmentation_laws: the subspace laws of the augmentation (name, count, rank, reason,
            formulas).
        notes: remarks of the subspace-law search.
        status: how the reference run, the gradient flow, ended (``FlowStatus.successful``: the
            ODE solve reached ``flow_time``); ``message`` says so in words.
        diverged: the methods whose runs diverged (no conservation verdict for them).
        final_drift: per method, its :class:`MethodDrift`.
        step_size_scaling: ``etas`` and, for ``gd`` and ``sgd``, the drifts at a fixed number of
            steps and at a fixed time with their fitted slopes (theory: 2 and 1).
        weight_decay_fit: fitted decay rate of a known law against ``2λ`` (``None`` without weight
            decay or known laws).
        broken_laws: for the known law of largest size, its predicted against its measured
            evolution under gradient descent with weight decay, heavy-ball momentum and
            minibatches (:func:`~noetherlab.training.broken.law_evolution`: the optimiser, the
            largest error, the measured/predicted finite-step correction and the series), and
            Adam's measured only. Empty without known laws or with an exact group average.
        files: report files written (empty without ``out``); ``seconds``: wall time.
    """

    architecture: str
    loss: str
    group: str | None
    average: str
    base_samples: int
    lr: float
    steps: int
    flow_time: float
    weight_decay: float
    known_laws: list[str]
    augmentation_laws: list[dict[str, Any]]
    notes: list[str]
    status: FlowStatus
    message: str
    diverged: list[str]
    final_drift: dict[str, MethodDrift]
    step_size_scaling: dict[str, Any]
    weight_decay_fit: dict[str, Any] | None
    broken_laws: list[dict[str, Any]]
    files: list[str]
    seconds: float
    json_properties: ClassVar[tuple[str, ...]] = ("gradient_flow_successful",)

    @property
    def gradient_flow_successful(self) -> bool:
        """True exactly when ``status`` is ``FlowStatus.successful``."""
        return self.status is FlowStatus.successful


def _objective(
    arch: Architecture, loss: Loss, group: Any, n: int, seed: int
) -> tuple[Any, Array, Array, int, FieldFamily, str]:
    """Training objective, data ``(X, Y)``, orbit block size, the flows' generator family and how
    the group average is taken."""
    if group is None:
        X, Y = make_data(arch, loss, n, seed)
        return loss, X, Y, 1, loss_fields(arch, loss), "no augmentation"
    if group.lie_algebra is not None and loss is MSE:
        try:
            fam = averaged_mse_fields(lifted_action(tensorization(arch), group, seed=seed))
        except UnsupportedModelError:
            fam = None
        if fam is not None:
            X, Y = make_data(arch, loss, n, seed)
            h = fam.h

            def exact(theta: Array, Xb: Array, Yb: Array) -> Array:
                return jnp.mean(jax.vmap(lambda x, y: h(theta, (x, y)))(Xb, Yb))

            return exact, X, Y, 1, fam, "exact Haar average (lifted action)"
    if group.continuous is not None:
        raise UnsupportedModelError(
            f"{group.name} training needs an exact group average: available for the MSE loss of "
            "tensorizable models. Fix: use --loss mse with a linear, polynomial or lightning model, "
            "or a finite group."
        )
    X, Y = make_data(arch, loss, n, seed, group=group.matrices)
    return loss, X, Y, len(group), loss_fields(arch, loss, group.matrices), "orbit data"


def _scalar_drift(laws: list[KnownLaw], traj: Trajectory) -> np.ndarray:
    """``(n_laws, m)`` relative drift series of the known laws (:func:`law_drift_series`)."""
    return law_drift_series([law.fn for law in laws], traj)


def _subspace_drift(laws: list[SubspaceLaw], traj: Trajectory) -> np.ndarray:
    out = []
    for law in laws:
        P0 = law.projector(traj.theta[0])
        out.append([np.linalg.norm(law.projector(t) - P0, 2) for t in traj.theta])
    return np.asarray(out) if out else np.zeros((0, traj.theta.shape[0]))


def _slope(x: np.ndarray, y: np.ndarray) -> float | None:
    """Fitted slope of ``log y`` against ``log x``; ``None`` where the drift is at roundoff (exact law)."""
    ok = (y > 1e-13) & np.isfinite(y)
    if ok.sum() < 2:
        return None
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def train_check(
    arch: Architecture,
    loss: str | Loss = MSE,
    group: Any = None,
    *,
    n: int = 16,
    lr: float = 0.01,
    steps: int = 300,
    weight_decay: float = 0.1,
    momentum: float = 0.9,
    scale: float = 0.5,
    seed: int = 0,
    out: str | Path | None = None,
) -> TrainingCheck:
    """Verify the conservation laws of ``arch`` on real training runs (see the module docstring).

    Args:
        group: an augmentation :class:`~noetherlab.training.symmetry.Group` or ``None``.
        n: base samples (each replaced by its orbit); ``lr, steps``: step size and steps of every
            discrete run (flow time ``T = lr·steps``); ``scale``: initial parameter scale.
        out: directory for ``report.md``, ``report.json`` and the figures (``None``: no files).

    Returns:
        A :class:`TrainingCheck`: per method the final drift of each law class, the fitted
        step-size slopes, the weight-decay rate against ``2λ``, the laws checked and notes.
    """
    start = time.perf_counter()
    loss = as_loss(loss)
    if out is not None:
        from noetherlab._core.io import check_output_dir

        check_output_dir(out, "out")
    if steps < 20:
        raise InvalidArgumentError("steps", f"needs >= 20, got {steps}", "use more steps")
    objective, X, Y, block, family, how = _objective(arch, loss, group, n, seed)
    known = known_laws(arch, loss)
    sub, notes = (
        subspace_laws(arch, family, group.matrices, group.lie_algebra is not None, seed=seed)
        if group is not None
        else ([], [])
    )
    theta0 = scale * jax.random.normal(jax.random.PRNGKey(seed + 1), (arch.dimension,))
    T = lr * steps
    problem = _Problem(arch, objective, X, Y, theta0, block, seed)
    runs = _runs(problem, lr, steps, momentum, weight_decay)
    series = {
        name: (_scalar_drift(known, tr), _subspace_drift(sub, tr)) for name, tr in runs.items()
    }
    verdicts = {name: _divergence(tr) for name, tr in runs.items()}
    final = {name: _final_drift(runs[name], verdicts[name], s) for name, s in series.items()}
    scaling = _step_size_scaling(problem, known, sub, lr)
    wd = (
        None
        if not verdicts["gd + weight decay"][0].ok
        else _weight_decay_fit(known, runs["gd + weight decay"], lr, weight_decay)
    )
    check = TrainingCheck(
        architecture=arch.name,
        loss=loss.name,
        group=None if group is None else group.name,
        average=how,
        base_samples=n,
        lr=lr,
        steps=steps,
        flow_time=T,
        weight_decay=weight_decay,
        known_laws=[f"{k.name} ({k.symmetry})" for k in known],
        augmentation_laws=[
            {
                "name": s.name,
                "scalar_laws": s.count,
                "rank": s.rank,
                "reason": s.reason,
                "formulas": [str(f) for f in s.formulas(arch)],
            }
            for s in sub
        ],
        notes=notes,
        status=runs["gradient flow"].status,
        message=runs["gradient flow"].message,
        diverged=sorted(name for name, (status, _) in verdicts.items() if not status.ok),
        final_drift=final,
        step_size_scaling=scaling,
        weight_decay_fit=wd,
        broken_laws=_broken_laws(problem, loss, known, runs, lr, steps, weight_decay, momentum),
        files=[],
        seconds=time.perf_counter() - start,
    )
    if out is None:
        return check
    from noetherlab._core.io import from_jsonable, run_directory
    from noetherlab.training._check_report import write_report

    with run_directory(out, "out") as directory:  # the report's figures need numbers, not "nan"
        files = write_report(directory, from_jsonable(check.as_dict()), runs, series)
    return dataclasses.replace(check, files=files, seconds=time.perf_counter() - start)


class _Problem(NamedTuple):
    """What every run of a training check trains: the model, its objective on ``(X, Y)``, the
    start ``theta0``, the orbit block size of the minibatches and the seed."""

    arch: Architecture
    objective: Any
    X: Array
    Y: Array
    theta0: Array
    block: int
    seed: int

    def train(self, method: str, **options: Any) -> Trajectory:
        return train(
            self.arch,
            self.objective,
            self.X,
            self.Y,
            self.theta0,
            method=method,
            block=self.block,
            seed=self.seed,
            on_divergence="stop",
            **options,
        )


def _runs(
    problem: _Problem, lr: float, steps: int, momentum: float, weight_decay: float
) -> dict[str, Trajectory]:
    """The gradient flow to ``T = lr·steps`` and every discrete method for ``steps`` steps."""
    p = problem
    runs = {
        "gradient flow": gradient_flow(
            p.arch, p.objective, p.X, p.Y, p.theta0, lr * steps, n_save=steps + 1
        )
    }
    for method in ("gd", "sgd", "momentum", "nesterov", "adam"):
        runs[method] = p.train(method, lr=lr, steps=steps, momentum=momentum)
    runs["gd + weight decay"] = p.train(
        "gd", lr=lr, steps=steps, momentum=momentum, weight_decay=weight_decay
    )
    return runs


def _final_drift(
    run: Trajectory, verdict: tuple[FlowStatus, str], series: tuple[np.ndarray, np.ndarray]
) -> MethodDrift:
    """The final drift of each law class along a run (none for a run that blew up: its drifts
    are not measurements)."""
    status, message = verdict
    known, augmentation = series
    return MethodDrift(
        known_laws=float(np.max(known[:, -1])) if status.ok and known.size else None,
        augmentation_laws=(
            float(np.max(augmentation[:, -1])) if status.ok and augmentation.size else None
        ),
        final_loss=float(run.loss[-1]),
        status=status,
        message=message,
    )


def _step_size_scaling(
    problem: _Problem, known: list[KnownLaw], sub: list[SubspaceLaw], lr: float
) -> dict[str, Any]:
    """GD and SGD drifts after 10 steps (the per-step order) and at the fixed time ``10 lr``
    for six step sizes ``η = lr 2^{-k}``, with the slopes of ``log drift`` against ``log η``
    fitted on the four smallest (the asymptotic regime; theory: 2 and 1)."""
    etas = lr * 2.0 ** -np.arange(6)
    scaling: dict[str, Any] = {"etas": etas.tolist()}
    for method in ("gd", "sgd"):
        fs = np.array(
            [_class_max(known, sub, problem.train(method, lr=eta, steps=10)) for eta in etas]
        )
        ft = np.array(
            [
                _class_max(known, sub, problem.train(method, lr=eta, steps=round(10 * lr / eta)))
                for eta in etas
            ]
        )
        scaling[method] = {
            "drift_fixed_steps": fs.tolist(),
            "drift_fixed_time": ft.tolist(),
            "slope_fixed_steps": _slope(etas[2:], fs[2:]),
            "slope_fixed_time": _slope(etas[2:], ft[2:]),
        }
    return scaling


def _divergence(tr: Trajectory) -> tuple[FlowStatus, str]:
    """Whether a training run diverged (its own non-finite status, or loss or parameters grown by
    more than 1e6), with the numbers."""
    if not tr.successful:
        return tr.status, tr.message
    loss = np.asarray(tr.loss, dtype=float)
    theta = np.asarray(tr.theta, dtype=float)
    if not (np.all(np.isfinite(loss)) and np.all(np.isfinite(theta))):
        return FlowStatus.nonfinite, "non-finite loss or parameters"
    l0 = max(abs(float(loss[0])), 1e-300)
    if float(np.max(np.abs(loss))) > 1e6 * max(l0, 1.0):
        return (
            FlowStatus.diverged,
            f"loss grew from {loss[0]:.3g} to {float(np.max(np.abs(loss))):.3g}",
        )
    n0 = max(float(np.linalg.norm(theta[0])), 1e-300)
    n_max = float(np.max(np.linalg.norm(theta, axis=1)))
    if n_max > 1e6 * max(n0, 1.0):
        return FlowStatus.diverged, f"parameters grew from norm {n0:.3g} to {n_max:.3g}"
    return FlowStatus.successful, tr.message


def _class_max(known: list[KnownLaw], sub: list[SubspaceLaw], tr: Trajectory) -> float:
    """Largest final drift over every law checked (both classes); ``nan`` for a diverged run."""
    if not _divergence(tr)[0].ok:
        return float("nan")
    vals = [np.max(_scalar_drift(known, tr)[:, -1])] if known else []
    if sub:
        vals.append(np.max(_subspace_drift(sub, tr)[:, -1]))
    return float(max(vals)) if vals else float("nan")


def _weight_decay_fit(
    known: list[KnownLaw], tr: Trajectory, lr: float, lam: float
) -> dict[str, Any] | None:
    """Fit ``log|h(t)/h(0)| = −κ t`` for the known law with the largest ``|h(0)|``; compare ``κ`` with
    ``2λ`` (flow) and ``−2 log(1 − ηλ)/η`` (GD)."""
    if not known or lam == 0.0:
        return None
    th = jnp.asarray(tr.theta)
    vals = [np.asarray(jax.vmap(k.fn)(th)) for k in known]
    i = int(np.argmax([abs(v[0]) for v in vals]))
    ratio = vals[i] / vals[i][0]
    fit: Callable[[np.ndarray], float] = lambda r: (
        -float(np.polyfit(tr.times, np.log(np.abs(r)), 1)[0])
    )
    return {
        "law": known[i].name,
        "fitted_rate": fit(ratio),
        "predicted_flow_rate": 2 * lam,
        "predicted_gd_rate": float(-2 * np.log(1 - lr * lam) / lr),
        "times": tr.times.tolist(),
        "ratio": ratio.tolist(),
    }


def _broken_laws(
    problem: _Problem,
    loss: Loss,
    known: list[KnownLaw],
    runs: dict[str, Trajectory],
    lr: float,
    steps: int,
    weight_decay: float,
    momentum: float,
) -> list[dict[str, Any]]:
    """The largest known law under each optimiser: predicted (closed form) against measured."""
    if not known or not isinstance(problem.objective, Loss):  # an exact group average: no
        return []
    from noetherlab.training.broken import law_evolution

    p = problem
    values = [abs(float(k.fn(p.theta0))) for k in known]
    law = known[int(np.argmax(values))]
    settings: dict[str, dict[str, Any]] = {
        "gd + weight decay": {"weight_decay": weight_decay},
        "momentum": {"momentum": momentum},
        "sgd": {"batch_size": max(1, p.X.shape[0] // 4), "seed": p.seed},
    }
    out: list[dict[str, Any]] = []
    for name, options in settings.items():
        if name in runs and not _divergence(runs[name])[0].ok:
            continue  # a run that blew up predicts nothing
        try:
            ev = law_evolution(
                p.arch, law, p.X, p.Y, p.theta0, loss=loss, lr=lr, steps=steps, **options
            )
        except InvalidArgumentError as exc:  # e.g. not linear or quadratic
            out.append({"method": name, "law": law.name, "skipped": str(exc)})
            continue
        out.append(
            {
                "method": name,
                "law": ev.law,
                "optimiser": ev.optimiser,
                "max_error": ev.max_error,
                "correction_ratio": ev.correction_ratio,
                "times": ev.times.tolist(),
                "measured": ev.measured.tolist(),
                "predicted": ev.predicted.tolist(),
                "flow": ev.flow.tolist(),
            }
        )
    adam = runs.get("adam")
    if adam is not None and _divergence(adam)[0].ok:
        measured = np.asarray(jax.vmap(law.fn)(jnp.asarray(adam.theta)))
        out.append(
            {
                "method": "adam",
                "law": law.name,
                "optimiser": f"adam (η = {lr:g}): measured only, no closed form",
                "times": adam.times.tolist(),
                "measured": measured.tolist(),
            }
        )
    return out
