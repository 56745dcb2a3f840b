"""An ensemble's final-state density with sample paths: :func:`plot_ensemble`."""

from __future__ import annotations

from typing import Any

import numpy as np

from noetherlab._core.figures import HEATMAP, colour, figure

__all__ = ["plot_ensemble"]


def plot_ensemble(ensemble: Any, reference: Any = None, bins: int = 40, max_paths: int = 50) -> Any:
    """An :class:`~noetherlab.ensembles.ensemble.Ensemble`: density of the final states (1-D histogram or 2-D
    heat map), up to ``max_paths`` saved sample paths, and a reference path (e.g. a most likely
    path) on top."""
    fig, ax = figure()
    final = np.asarray(ensemble.final)
    if final.shape[1] == 1:
        ax.hist(final[:, 0], bins=bins, density=True, color=colour(5))
        ax.set(xlabel="x(T)", ylabel="density")
    else:
        ax.hist2d(final[:, 0], final[:, 1], bins=bins, density=True, cmap=HEATMAP)
        if ensemble.paths is not None:
            for j in range(min(max_paths, ensemble.paths.shape[1])):
                ax.plot(
                    ensemble.paths[:, j, 0],
                    ensemble.paths[:, j, 1],
                    color="white",
                    lw=0.3,
                    alpha=0.5,
                )
        if reference is not None:
            ax.plot(
                reference.x[:, 0],
                reference.x[:, 1],
                color=colour(1),
                lw=2,
                label="most likely path",
            )
            ax.legend(loc="best")
        ax.set(xlabel="x₁", ylabel="x₂")
    ax.set_title(f"{ensemble.n_paths} paths, T = {ensemble.T:g}")
    return fig
