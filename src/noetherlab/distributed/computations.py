r"""What one grid point of a sweep computes: the registry of sweepable computations.

Each :class:`Computation` names its parameters, checks them *before* anything is submitted, and
runs one grid point into a flat record of declared outputs (numbers only, so that every output is
one array of the sweep's Zarr store). A failure of the point itself (a bad parameter value, a model
that blows up) is returned as the point's status and error message, not raised: one bad point does
not stop a sweep.

* ``path`` — :func:`~noetherlab.paths.most_likely_path` of a model (built-in name or
  ``package.module:function``) between ``x0`` and ``x1`` at fixed ``T`` or ``energy``; model
  parameters are named ``model.<name>`` (e.g. ``model.D``).
* ``laws`` — :func:`~noetherlab.training.count_laws` of an architecture (``arch``, ``sizes``,
  ``loss``, ``flow``, ...), the peers' "random networks" studies.
* ``rare`` — a rare transition at the model's noise by splitting, between the balls of ``radius``
  around ``x0`` and ``x1``: the mean exit time (AMS and the loop decomposition,
  :func:`~noetherlab.ensembles.sampled_exit_time`) or, with ``horizon``, the probability of reaching
  ``x1`` within it (:func:`~noetherlab.ensembles.tams`). A grid over ``key`` runs independent
  repetitions as Dask tasks (their mean and spread are the sweep's estimate and error bar); a grid
  over ``model.D`` the noise dependence.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.status import SweepStatus

__all__ = ["COMPUTATIONS", "Computation", "run_point"]


@dataclass(frozen=True)
class Computation:
    """A sweepable computation.

    Attributes:
        name: its name in a spec (``computation = "path"``).
        parameters: the parameter names it accepts (besides ``model.<name>`` where it has a model).
        required: the parameters every point needs.
        outputs: output name -> ``(units or meaning, dtype)``; ``float`` outputs are NaN until
            computed, ``int`` ones ``-1``.
        run: ``params -> {output: value}`` for one point (may raise; :func:`run_point` records it).
        check: validates the parameters of one point before the sweep starts (raises
            :class:`~noetherlab._core.errors.InvalidArgumentError` naming the parameter).
    """

    name: str
    parameters: tuple[str, ...]
    required: tuple[str, ...]
    outputs: Mapping[str, tuple[str, str]]
    run: Callable[[dict[str, Any]], dict[str, Any]]
    check: Callable[[dict[str, Any]], None]
    model_parameters: bool = False


def _split_model(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    own = {k: v for k, v in params.items() if not k.startswith("model.")}
    model = {k.removeprefix("model."): v for k, v in params.items() if k.startswith("model.")}
    return own, model


# ------------------------------------------------------------------------------ path
_PATH_PARAMETERS = (
    "model",
    "x0",
    "x1",
    "T",
    "energy",
    "n",
    "lagrangian",
    "method",
    "rtol",
    "refine",
    "grid",
)


def _path_problem(params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from noetherlab.models.registry import resolve_model

    own, model_params = _split_model(params)
    sde = resolve_model(own.pop("model"), model_params)
    return sde, own


def _number(params: dict[str, Any], name: str, kind: type) -> None:
    """Refuse a parameter that is not a number of ``kind`` (``int``: integral, no booleans) before
    the sweep starts. Its *value* is the point's business: a negative ``T`` fails that point
    alone, recorded in the store (module docstring)."""
    if name not in params:
        return
    v = params[name]
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if kind is int:
        ok = ok and float(v).is_integer()
    if not ok:
        what = "an integer" if kind is int else "a finite number"
        raise InvalidArgumentError(
            name, f"must be {what}, got {v!r}", f"write e.g. {name} = {1 if kind is int else 1.0}"
        )


def _boolean(params: dict[str, Any], name: str) -> None:
    if name in params and not isinstance(params[name], bool):
        raise InvalidArgumentError(
            name,
            f"must be true or false, got {params[name]!r}",
            f"write {name} = true (a TOML boolean, not a string)",
        )


@functools.lru_cache(maxsize=256)
def _checked_model(model: str, model_params: str, x0: str, x1: str) -> None:
    """Build the model once per distinct (model, parameters, end points) of a sweep and check the
    end points' dimensions (``check`` of a 90 000-point grid builds a handful of models)."""
    sde = resolve_model_cached(model, model_params)
    for name, text in (("x0", x0), ("x1", x1)):
        v = json.loads(text)
        dim = 1 if isinstance(v, int | float) else len(v)
        if dim != sde.dim:
            raise InvalidArgumentError(
                name, f"has {dim} components, the model {sde.name} has {sde.dim}", "fix the state"
            )


def resolve_model_cached(model: str, model_params: str) -> Any:
    from noetherlab.models.registry import resolve_model

    return resolve_model(model, json.loads(model_params))


def _check_states(own: dict[str, Any], model_params: dict[str, Any]) -> None:
    for name in ("x0", "x1"):
        v = own[name]
        if not (
            isinstance(v, int | float)
            or (isinstance(v, list) and all(isinstance(c, int | float) for c in v))
        ):
            raise InvalidArgumentError(
                name, f"must be a number or a list of numbers, got {v!r}", f"write {name} = [1.0]"
            )
    _checked_model(
        str(own["model"]),
        json.dumps(model_params, sort_keys=True),
        json.dumps(own["x0"]),
        json.dumps(own["x1"]),
    )


def _check_path(params: dict[str, Any]) -> None:
    own, model_params = _split_model(params)
    if ("T" in own) == ("energy" in own):
        raise InvalidArgumentError(
            "T/energy",
            "a path sweep needs exactly one of T (fixed time) or energy (fixed energy)",
            "put T (or energy) in [parameters] or [grid], e.g. T = [0.5, 1.0]",
        )
    _number(own, "T", float)
    _number(own, "energy", float)
    _number(own, "n", int)
    _number(own, "rtol", float)
    _boolean(own, "refine")
    _check_states(own, model_params)


def _run_path(params: dict[str, Any]) -> dict[str, Any]:
    from noetherlab.paths import ResolutionControl, most_likely_path

    sde, own = _path_problem(params)
    x0, x1 = own.pop("x0"), own.pop("x1")
    study = {k: own.pop(k) for k in ("rtol", "refine") if k in own}
    res = most_likely_path(sde, x0, x1, resolution=ResolutionControl(**study), **own)
    certified = [c["drift"] for c in res.symmetry_charges or [] if c.get("certified")]
    r = res.resolution
    return {
        "action": res.action,
        "path_energy": res.energy,
        "transit_time": res.T,
        "converged": int(res.converged),
        "resolved": -1 if r is None else int(r.resolved),
        "relative_error": math.nan if r is None else r.relative_error,
        "grad_norm": res.grad_norm,
        "el_residual": res.el_residual,
        "charge_drift": max(certified) if certified else math.nan,
        "iterations": int(res.iterations),
        "n_final": int(res.n),
    }


PATH = Computation(
    name="path",
    parameters=_PATH_PARAMETERS,
    required=("model", "x0", "x1"),
    outputs={
        "action": ("S = ¼∫(ẋ−f)ᵀD⁻¹(ẋ−f)dt", "float"),
        "path_energy": ("E along the path", "float"),
        "transit_time": ("T (the free time of a fixed-energy path)", "float"),
        "converged": ("1 converged, 0 not", "int"),
        "resolved": ("1 within rtol, 0 not, -1 not studied", "int"),
        "relative_error": ("estimated relative discretisation error of S", "float"),
        "grad_norm": ("final gradient norm", "float"),
        "el_residual": ("normalised Euler–Lagrange residual", "float"),
        "charge_drift": ("largest drift of the model's certified charges", "float"),
        "iterations": ("solver iterations", "int"),
        "n_final": ("intervals of the final grid", "int"),
    },
    run=_run_path,
    check=_check_path,
    model_parameters=True,
)


# ------------------------------------------------------------------------------ laws
_LAWS_PARAMETERS = ("arch", "sizes", "bias", "kernel", "loss", "flow", "friction", "points", "seed")


def _architecture(params: dict[str, Any]) -> Any:
    from noetherlab.training.catalogue import build_architecture

    sizes = params.get("sizes", [3, 1])
    if not (
        isinstance(sizes, list)
        and sizes
        and all(isinstance(v, int) and not isinstance(v, bool) for v in sizes)
    ):
        raise InvalidArgumentError(
            "sizes",
            f"must be a list of integers (layer widths), got {sizes!r}",
            "write e.g. sizes = [3, 2, 1]",
        )
    _boolean(params, "bias")
    _number(params, "kernel", int)
    return build_architecture(
        str(params["arch"]),
        list(sizes),
        bias=params.get("bias", False),
        kernel=int(params.get("kernel", 2)),
    )


def _flow(params: dict[str, Any]) -> Any:
    from noetherlab.training.dynamics import parse_flow

    _number(params, "friction", float)
    return parse_flow(str(params.get("flow", "gradient")), float(params.get("friction", 1.0)))


def _check_laws(params: dict[str, Any]) -> None:
    _number(params, "points", int)
    _number(params, "seed", int)
    _architecture(params)
    _flow(params)


def _run_laws(params: dict[str, Any]) -> dict[str, Any]:
    from noetherlab.training.lie import count_laws

    res = count_laws(
        _architecture(params),
        loss=params.get("loss"),
        n_points=params.get("points"),
        seed=int(params.get("seed", 0)),
        flow=_flow(params),
    )
    return {
        "laws": -1 if res.laws is None else int(res.laws),
        "dimension": int(res.dimension),
        "trace_dimension": int(res.trace_dimension),
        "certified": int(res.certified),
        "gap": float(res.gap),
        "explained": -1 if res.explained is None else int(res.explained),
    }


LAWS = Computation(
    name="laws",
    parameters=_LAWS_PARAMETERS,
    required=("arch",),
    outputs={
        "laws": ("independent conservation laws (-1: rank ambiguous)", "int"),
        "dimension": ("state dimension D", "int"),
        "trace_dimension": ("dim Lie(W)(θ)", "int"),
        "certified": ("1 certified, 0 not", "int"),
        "gap": ("smallest singular-value gap", "float"),
        "explained": ("laws the known-laws library accounts for (-1: none known)", "int"),
    },
    run=_run_laws,
    check=_check_laws,
)

# ------------------------------------------------------------------------------ rare
_RARE_PARAMETERS = (
    "model",
    "x0",
    "x1",
    "radius",
    "horizon",
    "replicas",
    "repetitions",
    "dt",
    "key",
)


def _check_rare(params: dict[str, Any]) -> None:
    own, model_params = _split_model(params)
    for name in ("radius", "horizon", "dt"):
        _number(own, name, float)
    for name in ("replicas", "repetitions", "key"):
        _number(own, name, int)
    _check_states(own, model_params)


def _run_rare(params: dict[str, Any]) -> dict[str, Any]:
    from noetherlab.ensembles.splitting import tams
    from noetherlab.ensembles.transition_time import sampled_exit_time

    sde, own = _path_problem(params)
    x0, x1 = own.pop("x0"), own.pop("x1")
    horizon = own.pop("horizon", None)
    options = {"radius": 0.1, **own}
    for name in ("replicas", "repetitions", "key"):
        if name in options:
            options[name] = int(options[name])
    nan = math.nan
    if horizon is None:
        exit_time = sampled_exit_time(sde, x0, x1, **options)
        run = exit_time.splitting
        tau, tau_interval = exit_time.mean_exit_time, exit_time.interval
        ok = exit_time.ok
        if run is None:  # simulated directly: the transition is not rare at this noise
            low, high = tau_interval or (nan, nan)
            return {"probability": nan, "probability_low": nan, "probability_high": nan,
                    "relative_error": nan, "mean_exit_time": nan if tau is None else tau,
                    "mean_exit_time_low": low, "mean_exit_time_high": high,
                    "estimated": int(ok)}  # fmt: skip
    else:
        run = tams(sde, x0, x1, float(horizon), A=x0, **options)
        tau, tau_interval, ok = None, None, run.ok
    low, high = run.interval or (nan, nan)
    tau_low, tau_high = tau_interval or (nan, nan)
    relative = run.relative_error
    return {
        "probability": nan if run.probability is None else run.probability,
        "probability_low": low,
        "probability_high": high,
        "relative_error": nan if relative is None else relative,
        "mean_exit_time": nan if tau is None else tau,
        "mean_exit_time_low": tau_low,
        "mean_exit_time_high": tau_high,
        "estimated": int(ok),
    }


RARE = Computation(
    name="rare",
    parameters=_RARE_PARAMETERS,
    required=("model", "x0", "x1"),
    outputs={
        "probability": ("p: reach x1 before x0 (AMS) or within the horizon (TAMS)", "float"),
        "probability_low": ("95 % interval of p, low end", "float"),
        "probability_high": ("95 % interval of p, high end", "float"),
        "relative_error": ("standard error of p over p", "float"),
        "mean_exit_time": ("τ from x0 to x1 (AMS only; NaN with a horizon)", "float"),
        "mean_exit_time_low": ("95 % interval of τ, low end", "float"),
        "mean_exit_time_high": ("95 % interval of τ, high end", "float"),
        "estimated": ("1 the estimate stands, 0 not (extinction, too few levels, ...)", "int"),
    },
    run=_run_rare,
    check=_check_rare,
    model_parameters=True,
)

#: every sweepable computation by name
COMPUTATIONS: dict[str, Computation] = {c.name: c for c in (PATH, LAWS, RARE)}


def run_point(computation: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one grid point (on a Dask worker or here): ``{"status", "error", "wall_time",
    "outputs"}`` with a :class:`~noetherlab._core.status.SweepStatus`. Exceptions of the
    computation are recorded, not raised."""
    start = time.perf_counter()
    try:
        outputs = COMPUTATIONS[computation].run(dict(params))
        status, error = SweepStatus.done, ""
    except Exception as exc:  # the point failed: record why, keep the sweep going
        outputs, status, error = {}, SweepStatus.failed, f"{type(exc).__name__}: {exc}"
    return {
        "status": status,
        "error": error,
        "wall_time": time.perf_counter() - start,
        "outputs": outputs,
    }
