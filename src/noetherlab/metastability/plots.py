"""The transition graph over basins, density or quasi-potential: :func:`plot_landscape`."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np

from noetherlab._core.figures import HEATMAP, colour, figure

__all__ = ["plot_landscape", "plot_reactive"]


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


def plot_reactive(runs: dict[str, Any], instanton: Any = None, charges: Any = None) -> Any:
    """Reactive trajectories of splitting runs (``{label: SplittingResult}``, e.g. one per noise
    level) as tubes — the weighted 10–90 % band of the state (first coordinate) against the
    normalised time — over the ``instanton`` (states ``(m, N)``), and, if ``charges`` (``{label:
    ReactiveCharges}``) is given, the weighted histograms of the noise-free energy ``ε E`` of each
    run next to the instanton's value 0."""
    panels = 2 if charges else 1
    fig, axes = figure(width=4.2 * panels, height=3.4, ncols=panels)
    axes = np.atleast_1d(axes)
    grid = np.linspace(0.0, 1.0, 101)
    for i, (label, run) in enumerate(runs.items()):
        rt = run.reactive
        curves = []
        for j in range(len(rt)):
            m = int(rt.lengths[j])
            s = (rt.times[j, :m] - rt.times[j, 0]) / max(
                rt.times[j, m - 1] - rt.times[j, 0], 1e-300
            )
            curves.append(np.interp(grid, s, rt.paths[j, :m, 0]))
        c = np.asarray(curves)
        w = rt.weights / rt.weights.sum()
        order = np.argsort(c, axis=0)
        cw = np.cumsum(w[order], axis=0)
        lo = np.take_along_axis(c, order, 0)[np.argmax(cw >= 0.1, axis=0), np.arange(grid.size)]
        hi = np.take_along_axis(c, order, 0)[np.argmax(cw >= 0.9, axis=0), np.arange(grid.size)]
        axes[0].fill_between(grid, lo, hi, color=colour(i), alpha=0.3, label=f"{label} (10–90 %)")
    if instanton is not None:
        x = np.asarray(instanton)
        axes[0].plot(np.linspace(0, 1, x.shape[0]), x[:, 0], "k-", lw=1.5, label="most likely path")
    axes[0].set_xlabel("normalised time along the transition")
    axes[0].set_ylabel("$x_1$")
    axes[0].legend(fontsize=7)
    if charges:
        for i, (label, ch) in enumerate(charges.items()):
            axes[1].hist(ch.energy, bins=20, weights=ch.weights, density=True, alpha=0.5,
                         color=colour(i), label=label)  # fmt: skip
        axes[1].axvline(0.0, color="k", lw=1.2, label="instanton: $E = 0$")
        axes[1].set_xlabel(r"$\varepsilon\,\bar E$ of the reactive trajectories")
        axes[1].legend(fontsize=7)
    return fig
