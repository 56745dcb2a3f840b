"""Figures: one style (colour-blind-safe Okabe–Ito palette) and atomic saving (PNG + SVG).

:func:`figure` opens a figure in the house style, :func:`colour` picks the ``i``-th colour of the
sequence and :func:`save` writes ``name.png`` and ``name.svg`` atomically. The plots themselves live
beside what they draw (``paths.plots``, ``ensembles.plots``, ``landscape.plots``,
``training.plots``) and are gathered for users in :mod:`noetherlab.plotting`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from noetherlab._core.io import atomic_write

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
SEQUENCE = ["blue", "vermillion", "green", "orange", "purple", "sky", "black"]
HEATMAP = "cividis"  # perceptually uniform and colour-blind safe


def colour(i: int) -> str:
    return OKABE_ITO[SEQUENCE[i % len(SEQUENCE)]]


def figure(ncols: int = 1, width: float = 3.6, height: float = 3.2) -> tuple[Any, Any]:
    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.titlesize": 9,
            "axes.labelsize": 9,
            "legend.fontsize": 7,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "savefig.dpi": 200,
        }
    )
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), constrained_layout=True)
    return fig, axes


def _savefig(fig: Any, ext: str, path: Path) -> None:
    fig.savefig(path, format=ext, bbox_inches="tight")


def save(fig: Any, out: Path, name: str) -> list[str]:
    """Write ``name.png`` and ``name.svg`` into ``out`` (atomically); returns the file names."""
    files = []
    for ext in ("png", "svg"):
        path = out / f"{name}.{ext}"
        atomic_write(path, partial(_savefig, fig, ext))
        files.append(path.name)
    plt.close(fig)
    return files
