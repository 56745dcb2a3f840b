"""``noetherlab train-check``: verify conservation laws on real training runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from noetherlab.cli.laws import AugmentOpt, BiasOpt, KernelOpt, SeedOpt
from noetherlab.cli.options import (
    JsonOpt,
    OutDirOpt,
    console,
    emit,
    err_console,
    ints,
    reports_errors,
)

__all__ = ["train_check"]


@reports_errors("sizes", "augment", "lr", "steps", "weight_decay", "samples", "seed", "out", "loss")
def train_check(
    arch: Annotated[str, typer.Argument(help="as for `laws`")],
    sizes: Annotated[str, typer.Option(help="as for `laws`")] = "3,1",
    bias: BiasOpt = False,
    loss: Annotated[str, typer.Option(help="mse, logistic, exponential, cross-entropy")] = "mse",
    augment: AugmentOpt = None,
    lr: Annotated[float, typer.Option(help="step size of every discrete run")] = 0.01,
    steps: Annotated[int, typer.Option(help="steps of every discrete run")] = 300,
    weight_decay: Annotated[float, typer.Option(help="λ of the weight-decay run")] = 0.1,
    samples: Annotated[int, typer.Option(help="base samples (each replaced by its orbit)")] = 16,
    kernel: KernelOpt = 2,
    seed: SeedOpt = 0,
    out: OutDirOpt = Path("train-check"),
    as_json: JsonOpt = False,
) -> None:
    """Verify conservation laws on real training runs (flow, GD, SGD, momentum, Nesterov, Adam,
    weight decay): report.md, report.json and figures in --out."""
    from noetherlab._core.io import check_output_dir
    from noetherlab.training.catalogue import build_architecture
    from noetherlab.training.check import train_check as run_check
    from noetherlab.training.groups import parse_group

    check_output_dir(out)
    model = build_architecture(arch, ints(sizes, "--sizes"), bias=bias, kernel=kernel)
    group = None if augment is None else parse_group(augment, model)
    rep = run_check(
        model,
        loss,
        group,
        n=samples,
        lr=lr,
        steps=steps,
        weight_decay=weight_decay,
        seed=seed,
        out=out,
    )
    if as_json:
        emit(rep.as_dict(), True, "")
    else:
        table = Table(title=f"training-run check: {model.name} ({rep.average})")
        for col in ("method", "known laws", "augmentation laws", "final loss"):
            table.add_column(col)
        fmt = lambda v: "—" if v is None else f"{v:.2e}"
        for name, row in rep.final_drift.items():
            if row.diverged:
                table.add_row(name, f"DIVERGED: {row.diverged}", "—", f"{row.final_loss:.4g}")
                continue
            table.add_row(
                name, fmt(row.known_laws), fmt(row.augmentation_laws), f"{row.final_loss:.4g}"
            )
        console.print(table)
        console.print(f"report and figures written to {out}/")
    if rep.diverged:
        err_console.print(
            f"[bold red]error:[/] {len(rep.diverged)} training run(s) diverged "
            f"({', '.join(rep.diverged)}); no conservation is claimed for them. Fix: lower --lr."
        )
        raise typer.Exit(1)
