"""The singular values behind a conservation-law count: :func:`plot_law_count`."""

from __future__ import annotations

from typing import Any

import numpy as np

from noetherlab._core.figures import colour, figure

__all__ = ["plot_law_count"]


def plot_law_count(count: Any) -> Any:
    """A :class:`~noetherlab.training.LawCount`: the certification gaps at each random point and the
    trace dimension against the number of parameters."""
    fig, ax = figure()
    pts = np.arange(1, len(count.gaps) + 1)
    ax.semilogy(pts, count.gaps, "o", color=colour(0), label="singular-value gap σ_r/σ_r+1")
    ax.axhline(1e4, color=colour(1), ls="--", lw=1, label="certification threshold")
    ax.set(
        xlabel="random point",
        ylabel="gap",
        title=(
            f"D = {count.dimension}, rank {count.trace_dimension}: "
            + (f"{count.laws} laws (certified)" if count.certified else "ambiguous")
        ),
    )
    ax.legend(loc="best")
    return fig
