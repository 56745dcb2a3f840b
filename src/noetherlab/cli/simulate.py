"""``noetherlab simulate``: an ensemble of Euler–Maruyama paths, saved as netCDF, or chunk tasks
on Dask keeping statistics in a Zarr store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.cli.options import (
    JsonOpt,
    ModelArg,
    ParamOpt,
    SchedulerOpt,
    emit,
    floats,
    params,
    reports_errors,
)

__all__ = ["simulate"]


@reports_errors(
    "x0", "T", "dt", "n_paths", "key", "save_every", "lower", "upper", "workers", "scheduler"
)
def simulate(
    model: ModelArg,
    x0: Annotated[str, typer.Option(help="start state, comma-separated")],
    T: Annotated[float, typer.Option("--T", help="time horizon")],
    dt: Annotated[float, typer.Option(help="time step")],
    n_paths: Annotated[
        int, typer.Option("--n-paths", "--paths", help="number of sample paths")
    ] = 10_000,
    key: Annotated[int, typer.Option("--key", "--seed", help="random key (an integer seed)")] = 0,
    save_every: Annotated[
        int | None, typer.Option(help="keep every k-th state (default: final states only)")
    ] = None,
    lower: Annotated[float | None, typer.Option(help="absorbing lower bound on x[0]")] = None,
    upper: Annotated[float | None, typer.Option(help="absorbing upper bound on x[0]")] = None,
    param: ParamOpt = None,
    out: Annotated[
        Path, typer.Option(help="netCDF file (.nc), or a new Zarr store (.zarr) with --workers")
    ] = Path("ensemble.nc"),
    workers: Annotated[
        int | None,
        typer.Option(
            help="split into chunk tasks on a local Dask cluster of this many processes "
            "(0: this process); keeps statistics, written to --out .zarr"
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    chunk_size: Annotated[int, typer.Option(help="paths per chunk task")] = 100_000,
    keep_final: Annotated[
        bool, typer.Option(help="with --workers/--scheduler: also store every final state")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Simulate an ensemble (Euler–Maruyama) and save it as netCDF with its parameters; with
    --workers or --scheduler, as chunk tasks on Dask, keeping statistics (exit counts, moments,
    histograms) in a Zarr store."""
    from noetherlab._core.io import NETCDF_SUFFIXES, check_output_file
    from noetherlab.ensembles.boundaries import interval
    from noetherlab.models.registry import resolve_model

    distributed = workers is not None or scheduler is not None
    if not distributed:
        check_output_file(out, suffixes=NETCDF_SUFFIXES)
    elif out.suffix != ".zarr":
        raise InvalidArgumentError(
            "--out",
            f"{str(out)!r}: with --workers/--scheduler the statistics go to a Zarr store",
            f"name it with .zarr, e.g. {out.with_suffix('.zarr')}",
        )
    overrides = params(param)
    sde = resolve_model(model, overrides)
    boundary = None
    if lower is not None or upper is not None:
        boundary = interval(-np.inf if lower is None else lower, np.inf if upper is None else upper)
    problem = (sde, floats(x0, "--x0"), T, dt, n_paths)
    common: dict[str, Any] = {"key": key, "boundary": boundary, "progress": not as_json}
    if distributed:
        if save_every is not None:
            raise InvalidArgumentError(
                "--save-every",
                "keeps whole paths, but --workers/--scheduler keep statistics",
                "drop --save-every, or drop --workers/--scheduler",
            )
        data = _statistics(problem, common, out, workers, scheduler, chunk_size, keep_final)
        emit(data, as_json, f"ensemble statistics of {sde.name}")
    else:
        data = _ensemble(
            problem, common, out, save_every, {"model": model, "model_params": overrides}
        )
        emit(data, as_json, f"ensemble of {sde.name}")


def _statistics(
    problem: tuple[Any, ...],
    common: dict[str, Any],
    out: Path,
    workers: int | None,
    scheduler: str | None,
    chunk_size: int,
    keep_final: bool,
) -> dict[str, Any]:
    """The ensemble as chunk tasks on Dask: its statistics, written to the Zarr store ``out``."""
    from noetherlab.distributed import ensemble_statistics

    stats = ensemble_statistics(
        *problem,
        **common,
        chunk_size=chunk_size,
        workers=workers,
        scheduler=scheduler,
        store=out,
        keep_final=keep_final,
    )
    exits = {name: stats.exit_fraction(name) for name in stats.labels}
    return {
        "store": str(out),
        "n_paths": stats.n_paths,
        "chunks": stats.chunks,
        "workers": stats.workers,
        "exit_fraction": exits or None,
        "mean_final": stats.final_mean,
        "var_final": stats.final_var,
        "seconds": stats.seconds,
    }


def _ensemble(
    problem: tuple[Any, ...],
    common: dict[str, Any],
    out: Path,
    save_every: int | None,
    model: dict[str, Any],
) -> dict[str, Any]:
    """The ensemble in this process, saved (netCDF) to ``out`` with the model named as given."""
    from noetherlab._core.io import save_dataset
    from noetherlab.ensembles.simulation import simulate as run

    ens = run(
        *problem,
        **common,
        save="paths" if save_every is not None else "final",
        save_every=save_every,
    )
    save_dataset(out, ens.to_dataset(), {**model, **ens.parameters})
    exits: dict[str, Any] | None = None
    if common["boundary"] is not None:
        exits = {"any": ens.exit_fraction()}
        exits.update({name: ens.exit_fraction(name) for name in ens.labels})
    return {
        "file": str(out),
        "n_paths": ens.n_paths,
        "exit_fraction": exits,
        "mean_final": ens.final.mean(0),
        "seconds": ens.seconds,
    }
