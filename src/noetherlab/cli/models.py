"""``noetherlab models``: the built-in models, their parameters and defaults."""

from __future__ import annotations

from rich.table import Table

from noetherlab.cli.options import console

__all__ = ["models"]


def models() -> None:
    """The built-in models, their parameters (-p key=value) and defaults."""
    from noetherlab.models.registry import describe_models

    table = Table(title="built-in models (or pass package.module:function returning an SDE)")
    table.add_column("MODEL")
    table.add_column("parameters", overflow="fold")
    table.add_column("description", overflow="fold")
    for line in describe_models().splitlines():
        name, _, rest = line.partition(" (")
        parameters, _, doc = rest.partition("): ")
        table.add_row(name, parameters, doc)
    console.print(table)
