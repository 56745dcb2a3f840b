"""Command-line interface (typer + rich): one module per command, registered here.

    noetherlab models
    noetherlab path MODEL --x0 -2,2 --x1 2,2 --T 1 [--json] [--out path.nc]
    noetherlab symmetries MODEL [--json]
    noetherlab landscape MODEL --box -2,2 [--json] [--out graph.nc] [--rates sampled]
    noetherlab rare MODEL --from X --to Y [--horizon T] [--replicas n] [--out run.nc]
    noetherlab simulate MODEL --x0 0,0 --T 50 --dt 0.025 --n-paths 10000 --out ensemble.nc [--json]
    noetherlab laws ARCH --sizes 4,4,4 [--bias] [--loss mse] [--degree 2] [--augment cyclic] [--json]
    noetherlab train-check ARCH --sizes 3,1 --augment cyclic [--out DIR]
    noetherlab reproduce [--mode paper|converged|both] [--out results] [--quick] [--workers 2]
    noetherlab sweep SPEC.toml --out sweep.zarr [--workers N | --scheduler tcp://…]

MODEL is a built-in name (``noetherlab models`` lists them with their parameters) with ``-p
key=value`` overrides, or ``package.module:function`` returning an SDE (modules in the current
directory are found). Options carry the names of the Python API's arguments (``--T``, ``--x0``,
``--n-paths``, ``--key``, ``--energy``, ``--method``). Errors are one line on stderr, naming the
option and the fix, with exit code 2; ``--json`` output is plain UTF-8 JSON on stdout.
"""

from __future__ import annotations

from typing import Annotated

import typer

from noetherlab._core.version import VERSION
from noetherlab.cli.landscape import landscape
from noetherlab.cli.laws import laws
from noetherlab.cli.models import models
from noetherlab.cli.options import console
from noetherlab.cli.path import path
from noetherlab.cli.rare import rare
from noetherlab.cli.reproduce import reproduce
from noetherlab.cli.simulate import simulate
from noetherlab.cli.sweep import sweep
from noetherlab.cli.symmetries import symmetries
from noetherlab.cli.train_check import train_check

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Symmetries → conservation laws: most likely paths of noisy systems and laws of gradient-flow "
    "training. `noetherlab models` lists the built-in models.",
)
app.command()(models)
app.command()(path)
app.command()(symmetries)
app.command()(laws)
app.command("train-check")(train_check)
app.command()(reproduce)
app.command()(landscape)
app.command()(simulate)
app.command()(rare)
app.command()(sweep)


def _version(value: bool) -> None:
    if value:
        console.print(f"noetherlab {VERSION}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Symmetries → conservation laws (see `noetherlab COMMAND --help`)."""


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
