"""``noetherlab symmetries``: the affine symmetries of a model's path Lagrangian."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from noetherlab.cli.options import (
    JsonOpt,
    ModelArg,
    ParamOpt,
    console,
    emit,
    floats,
    params,
    reports_errors,
)

__all__ = ["symmetries"]

#: the Noether charge of each kind of symmetry, as the table names it
CHARGES = {"time": "energy", "translation": "momentum p·v", "rotation": "angular momentum"}


@reports_errors("center", "scale")
def symmetries(
    model: ModelArg,
    param: ParamOpt = None,
    center: Annotated[
        str | None, typer.Option(help="centre of the probe region, comma-separated")
    ] = None,
    scale: Annotated[float, typer.Option(help="spread of the probe states")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Affine symmetries of the model's path Lagrangian and their conserved charges."""
    from noetherlab.models.registry import resolve_model
    from noetherlab.noether.symmetries import find_symmetries

    sde = resolve_model(model, params(param))
    rep = find_symmetries(
        sde, center=None if center is None else floats(center, "--center"), scale=scale
    )
    data: dict[str, Any] = {
        "model": sde.name,
        "symmetries": [
            {
                "name": s.name,
                "kind": s.kind,
                "A": np.round(s.generator.A, 12),
                "b": np.round(s.generator.b, 12),
            }
            for s in rep
        ],
        "count": len(rep),
        "status": rep.status,
        "certified": rep.certified,
        "gap": rep.gap,
        "rejected": [{"name": n, "relative_violation": v} for n, v in rep.rejected],
    }
    if as_json:
        emit(data, True, "")
        return
    table = Table(title=f"symmetries of {sde.name} (certified: {rep.certified}, gap {rep.gap:.1e})")
    table.add_column("symmetry")
    table.add_column("conserved charge")
    for s in rep:
        table.add_row(s.name, CHARGES.get(s.kind, "p·(A x + b)"))
    console.print(table)
    for name, violation in rep.rejected:
        console.print(
            f"rejected by the independent check: {name} (relative violation {violation:.2g}); "
            "the probe region did not determine the symmetries"
        )
