"""The command line (typer + rich): see :mod:`noetherlab.cli.app`."""

from noetherlab.cli.app import app

__all__ = ["app"]
