"""The plots people would rather look at than tables, in one place for users.

* :func:`plot_path` — a most likely path with its charges along it (energy, angular momentum or
  momentum) and their drifts;
* :func:`plot_ensemble` — an ensemble's final-state density (1-D or 2-D) with sample paths and an
  optional reference path;
* :func:`plot_law_count` — the singular values behind a conservation-law count, with the gap that
  certifies it;
* :func:`plot_landscape` — attractors, saddles and transitions over basins, the stationary
  density or the quasi-potential field, extended attractors and escapes included;
* :func:`plot_branch` — a bifurcation diagram (stable and unstable branches, folds);
* :func:`plot_state_space` — a network's trajectories, fixed and slow points by stability,
  manifolds and paths in its two leading principal components.

Each returns the matplotlib figure; :func:`save` writes it (``name.png`` and ``name.svg``,
atomically). Like the package face, this module sits above every layer: nothing inside noetherlab
imports it.
"""

from noetherlab._core.figures import save
from noetherlab.ensembles.plots import plot_ensemble
from noetherlab.metastability.plots import (
    plot_branch,
    plot_landscape,
    plot_reactive,
    plot_state_space,
)
from noetherlab.paths.plots import plot_path
from noetherlab.training.plots import plot_law_count

__all__ = [
    "plot_branch",
    "plot_ensemble",
    "plot_landscape",
    "plot_law_count",
    "plot_path",
    "plot_reactive",
    "plot_state_space",
    "save",
]
