"""The transition graph over basins, density or quasi-potential: :func:`plot_landscape`."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np

from noetherlab._core.figures import HEATMAP, colour, figure

__all__ = ["plot_landscape"]


def plot_landscape(
    land: Any, basins: Any = None, density: Any = None, quasi_potential: Any = None
) -> Any:
    """A :class:`~noetherlab.metastability.landscape.Landscape` as a transition graph: attractors
    (``A0, A1, …``), index-1 saddles (``S0, …``) and the E = 0 paths of the transitions, each
    labelled with its barrier ``S`` (and ``τ`` when known), drawn over the basins of attraction
    (:func:`noetherlab.metastability.basins.basins`) or over the stationary density of a 2-D model
    (:class:`~noetherlab.metastability.fokker_planck.FokkerPlanck`, log scale) or the quasi-potential field of
    an attractor (:class:`~noetherlab.metastability.quasi_potential.QuasiPotential`, contours of ``S``).
    N-D models are drawn in the plane of ``basins`` (or their first two coordinates)."""
    fig, ax = figure(width=4.4, height=3.8)

    def plane(x: np.ndarray) -> np.ndarray:
        return basins.project(x) if basins is not None else np.asarray(x)[..., :2]

    if quasi_potential is not None:
        q = quasi_potential
        cs = ax.contourf(q.x, q.y, np.ma.masked_invalid(q.values), levels=20, cmap=HEATMAP)
        fig.colorbar(cs, ax=ax, label="quasi-potential S")
    elif density is not None:
        rho = density.stationary_density()
        floor = rho.max() * 1e-12
        im = ax.pcolormesh(
            *density.axes, np.log10(np.maximum(rho, floor)).T, cmap=HEATMAP, shading="auto"
        )
        fig.colorbar(im, ax=ax, label="log₁₀ stationary density")
    elif basins is not None:
        k = max(int(basins.labels.max()) + 1, 1)
        shades = matplotlib.colors.ListedColormap(["#dddddd"] + [colour(i) for i in range(k)])
        ax.pcolormesh(
            basins.u,
            basins.v,
            basins.labels + 1,
            cmap=shades,
            vmin=0,
            vmax=k,
            alpha=0.35,
            shading="auto",
        )
    for t in land.transitions:
        xy = plane(t.path)
        ax.plot(xy[:, 0], xy[:, 1], color=colour(t.source), lw=1.6)
        mid = xy[len(xy) // 2]
        label = f"S={t.barrier:.3g}" + (
            "" if t.mean_exit_time is None else f"\nτ={t.mean_exit_time:.3g}"
        )
        ax.annotate(label, mid, fontsize=6, color=colour(t.source))
    for i, p in enumerate(land.attractors):
        xy = plane(p.x)
        ax.plot(*xy, "o", color=colour(i), mec="black", ms=7)
        ax.annotate(f"A{i}", xy, xytext=(4, 4), textcoords="offset points")
    for i, p in enumerate(land.saddles):
        xy = plane(p.x)
        ax.plot(*xy, "X", color="black", ms=7)
        ax.annotate(f"S{i}", xy, xytext=(4, -10), textcoords="offset points")
    axis = ("u", "v") if basins is not None and land.attractors[0].x.size > 2 else ("x₁", "x₂")
    ax.set(xlabel=axis[0], ylabel=axis[1], title=f"{land.model}: transition graph")
    return fig
