"""``noetherlab reproduce``: the paper's case studies, figures and report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from noetherlab.cli.options import OutDirOpt, console, reports_errors

__all__ = ["reproduce"]

#: the two tables of the summary: which checks, under which title
TABLES = (("reproduction", "published numbers, recomputed"), ("analytic", "closed forms"))


@reports_errors("out", "mode", "only", "workers")
def reproduce(
    mode: Annotated[str, typer.Option(help="paper, converged or both")] = "both",
    out: OutDirOpt = Path("results"),
    quick: Annotated[
        bool, typer.Option(help="fewer samples, coarser grids, no grid refinement")
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(help="comma-separated subset of fig1a,fig1b,fig1c,fig2,rnn,diffusion"),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="processes running figures side by side (default: up to 2)")
    ] = None,
) -> None:
    """Reproduce the paper's case studies: figures (PNG + SVG), report.md and report.json."""
    from noetherlab.reproduce import FIGURES, default_workers, summary_rows
    from noetherlab.reproduce import reproduce as run

    figs = tuple(f.strip() for f in only.split(",")) if only else FIGURES
    with console.status("reproducing...") as status:
        rep = run(
            out,
            mode=mode,
            quick=quick,
            only=figs,
            progress=lambda n: status.update(f"reproducing {n}..."),
            workers=default_workers() if workers is None else workers,
        )
    for kind, title in TABLES:
        table = Table(title=title)
        for col in ("check", "published", "ours", "rel. diff", "tolerance", "match"):
            table.add_column(col)
        for c in summary_rows(rep, kind):
            table.add_row(
                c["name"],
                f"{c['published']:.10g}",
                f"{c['ours']:.10g}",
                f"{c['rel_diff']:.1e}",
                f"{c['rtol']:.1e}",
                "yes" if c["match"] else "NO",
            )
        console.print(table)
    console.print(
        f"{rep['seconds']:.0f} s on {rep['workers']} process(es); report in {out}/report.md"
    )
    if not rep["all_checks_match"]:
        raise typer.Exit(1)
