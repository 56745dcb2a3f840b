"""``noetherlab sweep``: every point of a parameter grid as a Dask task, into one resumable Zarr
store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from noetherlab.cli.options import JsonOpt, SchedulerOpt, emit, err_console, reports_errors

__all__ = ["sweep"]


@reports_errors("workers", "scheduler", "out")
def sweep(
    spec: Annotated[
        Path, typer.Argument(help="TOML sweep spec: computation, \\[parameters], \\[grid]")
    ],
    out: Annotated[
        Path, typer.Option(help="Zarr store of the results (resumed if it exists)")
    ] = Path("sweep.zarr"),
    workers: Annotated[
        int | None,
        typer.Option(help="local Dask worker processes (default: CPU count; 0: this process)"),
    ] = None,
    scheduler: SchedulerOpt = None,
    retry_failed: Annotated[
        bool, typer.Option(help="run again the points that failed in an earlier run")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run every point of a parameter grid as a Dask task; results, status, errors and wall times
    go to one Zarr store, and a second run resumes what is missing. Example spec:

    computation = "path" / \\[parameters] model = "ou", x0 = \\[1.0, 1.0], x1 = \\[0.0, 1.0] /
    \\[grid] T = \\[0.5, 1.0, 2.0], "model.D" = \\[0.5, 1.0]
    """
    from noetherlab.distributed import load_spec
    from noetherlab.distributed import sweep as run

    the_spec = load_spec(spec)
    options: dict[str, Any] = {
        "workers": workers,
        "scheduler": scheduler,
        "retry_failed": retry_failed,
    }
    if as_json:
        res = run(the_spec, out, **options)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console
        ) as bar:
            task = bar.add_task(f"sweep of {the_spec.size} points", total=None)

            def show(p: Any) -> None:
                bar.update(
                    task,
                    total=p.total,
                    completed=p.done + p.failed,
                    description=f"done {p.done}, failed {p.failed}, running {p.running}",
                )

            res = run(the_spec, out, **options, progress=show)
    emit(res.summary(), as_json, f"sweep {spec}")
    if res.failed:
        raise typer.Exit(1)
