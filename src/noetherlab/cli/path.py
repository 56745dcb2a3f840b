"""``noetherlab path``: a most likely path between two states, with its charges and diagnostics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from noetherlab._core.errors import InvalidArgumentError
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

__all__ = ["path"]


@reports_errors("x0", "x1", "T", "energy", "n", "lagrangian", "method", "rtol", "refine", "init")
def path(
    model: ModelArg,
    x0: Annotated[str, typer.Option(help="start state, comma-separated")],
    x1: Annotated[str, typer.Option(help="end state, comma-separated")],
    T: Annotated[
        float | None, typer.Option("--T", help="transit time (fixed-time problem)")
    ] = None,
    energy: Annotated[float | None, typer.Option(help="energy (fixed-energy problem)")] = None,
    n: Annotated[int, typer.Option(help="number of intervals")] = 1000,
    lagrangian: Annotated[str, typer.Option(help="fw or om")] = "fw",
    method: Annotated[
        str,
        typer.Option(
            help="auto, newton, newton-krylov, lbfgs, time-via-energy (fixed T through T(E) = T), "
            "geometric (fixed --energy), shooting, hamiltonian (noise on a subspace)"
        ),
    ] = "auto",
    refine: Annotated[bool, typer.Option(help="refine the grid until rtol is met")] = False,
    rtol: Annotated[
        float, typer.Option(help="relative discretisation tolerance of the action")
    ] = 1e-4,
    param: ParamOpt = None,
    out: Annotated[Path | None, typer.Option(help="save the path (netCDF)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Most likely path between two states, with its charges and diagnostics."""
    from noetherlab._core.io import check_output_file, save_dataset
    from noetherlab.models.registry import resolve_model
    from noetherlab.paths import ResolutionControl, most_likely_path

    if T is not None and energy is not None:
        raise InvalidArgumentError(
            "--T/--energy",
            "both a transit time and an energy were given (the energy fixes the time)",
            "give --T for a fixed-time path or --energy for a fixed-energy path, not both",
        )
    if out is not None:
        check_output_file(out)
    overrides = params(param)
    sde = resolve_model(model, overrides)
    title = f"most likely path of {sde.name}"
    with err_console.status(f"{title}...") as status:
        res = most_likely_path(
            sde,
            floats(x0, "--x0"),
            floats(x1, "--x1"),
            n=n,
            lagrangian=lagrangian,
            method=method,
            resolution=ResolutionControl(refine=refine, rtol=rtol),
            progress=lambda line: status.update(f"{title}: {line}"),
            **({"T": T} if energy is None else {"energy": energy}),
        )
    if out is not None:
        save_dataset(
            out,
            res.to_dataset(),
            {"model": model, "model_params": overrides, **res.summary()["parameters"]},
        )
    emit(res.summary(), as_json, title)
