"""``noetherlab rare``: a transition probability or mean exit time at the model's own noise, by
adaptive multilevel splitting (AMS, or TAMS with ``--horizon``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from noetherlab.cli.options import (
    JsonOpt,
    ModelArg,
    ParamOpt,
    emit,
    err_console,
    floats,
    params,
    reports_errors,
)

__all__ = ["rare"]


@reports_errors("from", "to", "radius", "horizon", "replicas", "repetitions", "dt", "key", "out")
def rare(
    model: ModelArg,
    source: Annotated[str, typer.Option("--from", help="centre of the set A, comma-separated")],
    target: Annotated[str, typer.Option("--to", help="centre of the set B, comma-separated")],
    radius: Annotated[float, typer.Option(help="radius of the balls A and B")] = 0.1,
    horizon: Annotated[
        float | None,
        typer.Option(
            help="TAMS: the probability to reach B from A within this time (default: the mean "
            "exit time A → B by AMS and the loop decomposition)"
        ),
    ] = None,
    replicas: Annotated[int, typer.Option(help="replicas per repetition")] = 100,
    repetitions: Annotated[int, typer.Option(help="independent repetitions (error bar)")] = 8,
    dt: Annotated[float, typer.Option(help="Euler–Maruyama time step")] = 1e-3,
    key: Annotated[int, typer.Option("--key", "--seed", help="random key")] = 0,
    param: ParamOpt = None,
    out: Annotated[
        Path | None, typer.Option(help="save the splitting run (levels, reactive paths) as .nc")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rare transitions at the model's noise: the mean exit time A → B (AMS) or the probability
    of reaching B within a horizon (TAMS), with 95 % intervals."""
    from noetherlab._core.io import check_output_file, to_jsonable
    from noetherlab.ensembles.splitting import tams
    from noetherlab.ensembles.transition_time import sampled_exit_time
    from noetherlab.models.registry import resolve_model

    if out is not None:
        check_output_file(str(out), suffixes=(".nc",))
    sde = resolve_model(model, params(param))
    a, b = floats(source, "--from"), floats(target, "--to")
    show = not as_json
    if horizon is None:
        with err_console.status(f"AMS for {sde.name}..."):
            res = sampled_exit_time(sde, a, b, radius=radius, replicas=replicas,
                                    repetitions=repetitions, dt=dt, key=key)  # fmt: skip
        saving: Any = res
        coordinate = None if res.splitting is None else res.splitting.coordinate
        payload = {"method": "AMS" if res.method == "splitting" else "direct simulation",
                   "status": res.status.name, "message": res.message,
                   "mean_exit_time": res.mean_exit_time, "interval": res.interval,
                   "probability": res.probability, "loop_time": res.loop_time,
                   "time_to_surface": res.time_to_surface, "reactive_time": res.reactive_time,
                   "loops": res.loops, "surface": res.surface}  # fmt: skip
        if res.method == "direct":  # no loops, surface or splitting run: null, not NaN
            payload.update(dict.fromkeys(("loop_time", "time_to_surface", "reactive_time",
                                          "surface")), passages=res.stats.get("passages"))  # fmt: skip
        text = res.summary()
    else:
        run = tams(sde, a, b, horizon, A=a, radius=radius, replicas=replicas,
                   repetitions=repetitions, dt=dt, key=key, progress=show)  # fmt: skip
        payload = {"method": "TAMS", "status": run.status.name, "message": run.message,
                   "probability": run.probability, "interval": run.interval,
                   "horizon": horizon}  # fmt: skip
        text = run.summary()
        saving, coordinate = run, run.coordinate
    payload["coordinate"] = coordinate
    if out is not None:
        saving.save(out, {"model": model, "from": a, "to": b, "radius": radius, "horizon": horizon})
    emit(to_jsonable(payload), as_json, text)
