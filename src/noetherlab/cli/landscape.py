"""``noetherlab landscape``: attractors, saddles, transitions, barriers and mean exit times."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.cli.options import (
    JsonOpt,
    ModelArg,
    ParamOpt,
    console,
    emit,
    err_console,
    floats,
    params,
    reports_errors,
)

__all__ = ["landscape"]


@reports_errors("box", "starts", "n", "key", "out", "noise", "rates")
def landscape(
    model: ModelArg,
    box: Annotated[str, typer.Option(help="search region low,high (every coordinate)")] = "-3,3",
    starts: Annotated[
        int | None, typer.Option(help="random Newton starts in the box (default 64·N)")
    ] = None,
    n: Annotated[int, typer.Option(help="segments of each E = 0 path")] = 400,
    key: Annotated[int, typer.Option("--key", "--seed", help="random key of the starts")] = 0,
    param: ParamOpt = None,
    as_json: JsonOpt = False,
    out: Annotated[
        str | None,
        typer.Option(help="also save the transition graph: *.nc (netCDF) or *.json"),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="isotropic noise D (replaces the model's; barriers scale as 1/D)"),
    ] = None,
    rates: Annotated[
        str,
        typer.Option(
            help="asymptotic (formulas only), sampled (also AMS at the model's noise) or grid "
            "(also the Fokker–Planck grid's, N <= 3)"
        ),
    ] = "asymptotic",
) -> None:
    """Attractors, saddles, transitions, barriers and mean exit times (Eyring–Kramers or
    Bouchet–Reygner) of a model."""
    from noetherlab._core.io import check_output_file
    from noetherlab._core.validation import positive_float
    from noetherlab.metastability.landscape import landscape as run
    from noetherlab.models.registry import resolve_model

    if out is not None:
        check_output_file(out, suffixes=(".nc", ".nc4", ".json"))
    bounds = floats(box, "--box")
    if len(bounds) != 2:
        raise InvalidArgumentError("--box", f"needs two numbers, got {box!r}", "e.g. --box -2,2")
    sde = resolve_model(model, params(param))
    if noise is not None:
        sde = sde.with_diffusion(positive_float(noise, "noise", "noise level"))
    with err_console.status(f"mapping the landscape of {sde.name}..."):
        res = run(sde, tuple(bounds), starts=starts, key=key, n=n, rates=rates)
    if out is not None:
        res.save(
            out,
            {
                "model": model,
                "box": bounds,
                "starts": starts,
                "key": key,
                "n": n,
                "noise": noise,
                "rates": rates,
            },
        )
    if as_json:
        emit(res.as_dict(), True, "")
        return
    _print_graph(sde.name, res)


def _print_graph(name: str, res: Any) -> None:
    """The fixed points and the transitions as two tables."""
    table = Table(title=f"{name}: fixed points ({res.search.summary()})")
    for col in ("#", "kind", "index", "x", "leading eigenvalue"):
        table.add_column(col, overflow="fold")
    for i, p in enumerate((*res.attractors, *res.saddles)):
        label = f"A{i}" if i < len(res.attractors) else f"S{i - len(res.attractors)}"
        x = ", ".join(f"{v:.4g}" for v in p.x[:6]) + (" …" if p.x.size > 6 else "")
        table.add_row(label, p.kind, str(p.index), x, f"{p.eigenvalues[0].real:.4g}")
    console.print(table)
    tr = Table(title=f"transitions ({'gradient' if res.gradient else 'non-gradient'} drift)")
    sampled = any(t.sampled is not None for t in res.transitions)
    cols = ["from", "to", "via", "barrier S", "mean exit time", "how"]
    if sampled:
        cols += ["sampled / grid τ (95 %)", "how (sampled)"]
    for col in cols:
        tr.add_column(col, overflow="fold")
    for t in res.transitions:
        tau = "-" if t.mean_exit_time is None else f"{t.mean_exit_time:.4g}"
        barrier = f"{t.barrier:.6g}" + ("" if t.converged else " (not converged)")
        row = [f"A{t.source}", f"A{t.target}", f"S{t.saddle}", barrier, tau, t.rate_message]
        if sampled:
            sr = t.sampled
            if sr is None or sr.mean_exit_time is None:
                row += ["-", "" if sr is None else f"{sr.method.name}: {sr.message}"]
            else:
                lo, hi = sr.interval or (float("nan"), float("nan"))
                row += [f"{sr.mean_exit_time:.4g} [{lo:.3g}, {hi:.3g}]", sr.message]
        tr.add_row(*row)
    console.print(tr)
