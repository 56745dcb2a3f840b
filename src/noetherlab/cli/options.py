"""What every command shares: the consoles, the parsing of comma-separated options, JSON or table
output, the common option types, and :func:`reports_errors` — a noetherlab error becomes one line
on stderr naming the option, with exit code 2."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from noetherlab._core.errors import InvalidArgumentError, NoetherlabError
from noetherlab._core.io import to_jsonable

__all__ = [
    "JsonOpt",
    "ModelArg",
    "OutDirOpt",
    "ParamOpt",
    "SchedulerOpt",
    "console",
    "emit",
    "err_console",
    "floats",
    "ints",
    "params",
    "reports_errors",
]

console = Console()
err_console = Console(stderr=True)

ModelArg = Annotated[
    str, typer.Argument(help="built-in model (noetherlab models) or package.module:function")
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="model parameter override key=value (repeatable)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="run the tasks on this Dask scheduler (tcp://host:port)")
]
OutDirOpt = Annotated[Path, typer.Option(help="output directory")]

F = TypeVar("F", bound=Callable[..., None])


def floats(text: str, name: str) -> list[float]:
    """``"1,2.5"`` -> ``[1.0, 2.5]`` (the option ``name`` named in the error)."""
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidArgumentError(
            name, f"must be comma-separated numbers, got {text!r}", f"e.g. {name} 1.0,2.0"
        ) from None


def ints(text: str, name: str) -> list[int]:
    """``"3,4,2"`` -> ``[3, 4, 2]`` (positive integers)."""
    values = floats(text, name)
    if not values or any(v != int(v) or v < 1 for v in values):
        raise InvalidArgumentError(
            name, f"must be comma-separated positive integers, got {text!r}", f"e.g. {name} 3,4,2"
        )
    return [int(v) for v in values]


def params(items: list[str] | None) -> dict[str, Any]:
    """``-p key=value`` overrides; values are JSON where they parse as JSON, else strings."""
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidArgumentError(
                "--param", f"must be key=value, got {item!r}", "e.g. --param beta=4"
            )
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def reports_errors(*options: str) -> Callable[[F], F]:
    """Run the command; a noetherlab error becomes one line on stderr and exit code 2. An error
    about an API argument that the command exposes as one of ``options`` is reported under the
    option's name (``T`` as ``--T``, ``n_paths`` as ``--n-paths``)."""

    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                command(*args, **kwargs)
            except NoetherlabError as exc:
                text = str(exc)
                arg = getattr(exc, "argument", None)
                if arg is not None and arg in options:
                    option = "--" + arg.replace("_", "-") if arg != "T" else "--T"
                    text = text.replace(f"argument `{arg}`", f"argument `{option}`", 1)
                    text = text.replace(f"pass {arg} ", f"pass {option} ")
                # escaped: a message that lists names (['Q1', 'K1']) is text, not rich markup
                err_console.print(
                    f"[bold red]error:[/] {escape(text)}", highlight=False, soft_wrap=True
                )
                raise typer.Exit(2) from None

        return run  # type: ignore[return-value]

    return wrap


def emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    """``data`` as JSON on stdout, or as a two-column table."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=title, show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = "\n".join(value)  # formulas: one per line, wrapped, never cut
        table.add_row(str(key), str(value))
    console.print(table)
