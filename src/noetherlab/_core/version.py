"""The installed package's version, read from its metadata (``pyproject.toml``'s ``version``).

Lower layers take the version from here, so that nothing imports the package face
(``noetherlab/__init__.py``) from below.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["VERSION"]

try:
    VERSION: str = version("noetherlab")
except PackageNotFoundError:  # pragma: no cover - a source tree on sys.path without installation
    VERSION = "0+unknown"
