"""Figures: one style (colour-blind-safe Okabe–Ito palette), atomic saving (PNG + SVG), and the
plots people would rather look at than tables:

* :func:`plot_path` — a most likely path with its charges along it (energy, angular momentum or
  momentum) and their drifts;
* :func:`plot_ensemble` — an ensemble's final-state density (1-D or 2-D) with sample paths and an
  optional reference path;
* :func:`plot_law_count` — the singular values behind a conservation-law count, with the gap that
  certifies it;
* :func:`plot_landscape` — attractors, saddles and transitions over basins, the stationary
  density or the quasi-potential field.

Each returns the matplotlib figure; ``save(fig, out, name)`` writes it.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from noetherlab.io import atomic_write

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


def plot_path(result: Any, charges: tuple[str, ...] = ("energy", "angular momentum")) -> Any:
    """A :class:`~noetherlab.paths.PathResult`: the path (2-D: in the plane; else each coordinate
    against time, at most 6) and the relative deviation of each charge from its mean along it."""
    fig, (ax_path, ax_charge) = figure(ncols=2)
    x, t = result.x, result.t
    if x.shape[1] == 2:
        ax_path.plot(x[:, 0], x[:, 1], color=colour(0), lw=2)
        ax_path.plot(*x[0], "o", color=colour(2), label="x0")
        ax_path.plot(*x[-1], "s", color=colour(1), label="x1")
        ax_path.set(xlabel="x₁", ylabel="x₂")
        ax_path.set_aspect("equal", adjustable="datalim")
        ax_path.legend(loc="best")
    else:
        tt = t if np.all(np.isfinite(t)) else np.arange(t.size)
        for i in range(min(x.shape[1], 6)):
            ax_path.plot(tt, x[:, i], color=colour(i), label=f"x{i + 1}")
        ax_path.set(xlabel="t", ylabel="state")
        ax_path.legend(loc="best")
    status = "converged" if result.converged else f"NOT converged ({result.status.value})"
    ax_path.set_title(f"{result.model}\nS = {result.action:.6g}, {status}")
    traces = {
        "energy": result.charges.energy,
        "momentum": result.charges.momentum,
        "angular momentum": result.charges.angular_momentum,
    }
    for i, name in enumerate(charges):
        tr = traces[name]
        if not tr.stored:
            continue
        vals = np.asarray(tr.values).reshape(tr.values.shape[0], -1)
        dev = (vals - vals.mean(axis=0)) / max(tr.scale, 1e-300)
        k = int(np.argmax(np.ptp(dev, axis=0)))
        ax_charge.plot(tr.times, dev[:, k], color=colour(i), label=f"{name} (drift {tr.drift:.1e})")
    ax_charge.set(xlabel="t", ylabel="(J - mean J) / scale", title="charges along the path")
    ax_charge.legend(loc="best")
    return fig


def plot_ensemble(ensemble: Any, reference: Any = None, bins: int = 40, max_paths: int = 50) -> Any:
    """An :class:`~noetherlab.sampling.Ensemble`: density of the final states (1-D histogram or 2-D
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


def plot_landscape(
    land: Any, basins: Any = None, density: Any = None, quasi_potential: Any = None
) -> Any:
    """A :class:`~noetherlab.attractor_landscape.Landscape` as a transition graph: attractors
    (``A0, A1, …``), index-1 saddles (``S0, …``) and the E = 0 paths of the transitions, each
    labelled with its barrier ``S`` (and ``τ`` when known), drawn over the basins of attraction
    (:func:`noetherlab.attraction_basins.basins`) or over the stationary density of a 2-D model
    (:class:`~noetherlab.grid_generator.FokkerPlanck`, log scale) or the quasi-potential field of
    an attractor (:class:`~noetherlab.quasi_potential_field.QuasiPotential`, contours of ``S``).
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
