"""Figures of the landscape layer: the transition graph over basins, density or quasi-potential
(:func:`plot_landscape`), a bifurcation diagram (:func:`plot_branch`), a network's state space in
its principal components with its fixed and slow points, manifolds and paths
(:func:`plot_state_space`), and reactive trajectories (:func:`plot_reactive`)."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.figures import HEATMAP, colour, figure

__all__ = ["plot_branch", "plot_landscape", "plot_reactive", "plot_state_space"]

#: marker of each stability class
MARKERS = {"stable": "o", "saddle": "X", "unstable": "s", "non-hyperbolic": "D"}


def _curve(attractor: Any) -> np.ndarray:
    """The closed (ring, cycle) or open (line) curve through an extended attractor's samples."""
    X = getattr(attractor, "points", None)
    if X is None:  # a limit cycle: its orbit is already closed
        return np.asarray(attractor.x)
    return np.concatenate([X, X[:1]]) if attractor.kind == "ring" else X


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
    for e in getattr(land, "escapes", ()):
        xy = plane(e.path)
        ax.plot(xy[:, 0], xy[:, 1], "--", color="black", lw=1.2)
        ax.annotate(f"S={e.barrier:.3g}", xy[len(xy) // 2], fontsize=6)
    for j, e in enumerate(getattr(land, "extended", ())):
        xy = plane(_curve(e))
        c = colour(len(land.attractors) + j)
        ax.plot(xy[:, 0], xy[:, 1], color=c, lw=2.4)
        ax.annotate(("C" if hasattr(e, "period") else "M") + str(j), xy[0], color=c)
    for i, p in enumerate(land.attractors):
        xy = plane(p.x)
        ax.plot(*xy, "o", color=colour(i), mec="black", ms=7)
        ax.annotate(f"A{i}", xy, xytext=(4, 4), textcoords="offset points")
    for i, p in enumerate(land.saddles):
        xy = plane(p.x)
        ax.plot(*xy, "X", color="black", ms=7)
        ax.annotate(f"S{i}", xy, xytext=(4, -10), textcoords="offset points")
    axis = ("u", "v") if basins is not None and land.dim > 2 else ("x₁", "x₂")
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


def plot_branch(branch: Any, component: int = 0, *, label: str = "μ") -> Any:
    """A bifurcation diagram: coordinate ``component`` of the fixed points of a
    :class:`~noetherlab.metastability.bifurcations.Branch` against the parameter, solid where
    stable and dashed where not, the folds (saddle-node bifurcations) marked and labelled."""
    fig, ax = figure(width=4.2, height=3.2)
    mu, y, stable = branch.mu, branch.x[:, component], branch.stable
    # split the branch where stability changes, overlapping one point so the curve is unbroken
    cuts = np.flatnonzero(stable[1:] != stable[:-1]) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(mu)], strict=True):
        seg = slice(max(lo - 1, 0), hi)
        ax.plot(
            mu[seg],
            y[seg],
            "-" if stable[lo] else "--",
            color=colour(0 if stable[lo] else 1),
            lw=1.6,
        )
    for f in branch.folds:
        ax.plot(f.mu, f.x[component], "o", color="black", ms=5)
        ax.annotate(f"fold {label} = {f.mu:.6g}", (f.mu, f.x[component]), fontsize=6)
    ax.plot([], [], "-", color=colour(0), label="stable")
    ax.plot([], [], "--", color=colour(1), label="unstable")
    ax.legend(frameon=False)
    ax.set(xlabel=label, ylabel=f"x_{component + 1}", title="fixed points along the branch")
    return fig


def _pca(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, the two leading principal directions ``(2, N)`` and their explained variance."""
    centre = X.mean(axis=0)
    _, sv, Vt = np.linalg.svd(X - centre, full_matrices=False)
    share = sv**2 / max(float(np.sum(sv**2)), 1e-300)
    k = min(2, Vt.shape[0])
    E = np.zeros((2, X.shape[1]))
    E[:k] = Vt[:k]
    return centre, E, np.pad(share[:k], (0, 2 - k))


def plot_state_space(
    points: Any = None,
    *,
    trajectories: Any = None,
    manifolds: Any = (),
    paths: Any = (),
) -> Any:
    """A network's state space in the plane of its two leading principal components: simulated
    ``trajectories`` ``(M, T, N)`` (or an ensemble with ``paths``) in grey, fixed and slow
    ``points`` (a :class:`~noetherlab.metastability.slow_points.SlowPointSearch`, a
    :class:`~noetherlab.metastability.fixed_points.FixedPointSearch` or a
    :class:`~noetherlab.metastability.landscape.Landscape`) by stability class (○ stable, ✕ saddle,
    □ unstable, ◇ non-hyperbolic; hollow markers for slow points), ``manifolds`` (rings, lines,
    limit cycles) as thick curves, and ``paths`` (path results or ``(n+1, N)`` arrays: instantons,
    escapes) as lines. The components are those of the trajectories when given, else of every
    state drawn; the axis labels give the share of variance they explain."""
    fig, ax = figure(width=4.4, height=3.8)
    pts = list(getattr(points, "points", ())) if points is not None else []
    if points is not None and hasattr(points, "extended"):  # a Landscape
        pts = [*points.attractors, *points.saddles]
        manifolds = (*points.extended, *manifolds)
        paths = (*(t.path for t in points.transitions), *(e.path for e in points.escapes), *paths)
    traj = getattr(trajectories, "paths", trajectories)
    traj = None if traj is None else np.asarray(traj)
    curves = [_curve(m) for m in manifolds]
    lines = [np.asarray(getattr(p, "x", p)) for p in paths]
    if traj is not None:
        basis = traj.reshape(-1, traj.shape[-1])
    else:
        parts = ([np.stack([p.x for p in pts])] if pts else []) + curves + lines
        if not parts:
            raise InvalidArgumentError(
                "points", "nothing to draw", "pass points, trajectories, manifolds or paths"
            )
        basis = np.concatenate(parts)
    centre, E, share = _pca(basis)

    def proj(x: np.ndarray) -> np.ndarray:
        return (np.asarray(x) - centre) @ E.T

    if traj is not None:
        for path in traj[: min(len(traj), 50)]:
            xy = proj(path)
            ax.plot(xy[:, 0], xy[:, 1], color="#999999", lw=0.4, alpha=0.6)
    for j, c in enumerate(curves):
        xy = proj(c)
        ax.plot(xy[:, 0], xy[:, 1], color=colour(j + 2), lw=2.6)
    for j, line in enumerate(lines):
        xy = proj(line)
        ax.plot(xy[:, 0], xy[:, 1], color=colour(j + 3), lw=1.4)
    seen: set[str] = set()
    for p in pts:
        klass = p.kind.split()[0]
        exact = getattr(p, "exact", True)
        xy = proj(p.x)
        name = klass + ("" if exact else " (slow)")
        ax.plot(
            *xy,
            MARKERS.get(klass, "o"),
            color=colour({"stable": 0, "saddle": 1, "unstable": 4}.get(klass, 6)),
            mfc=None if exact else "none",
            mec="black" if exact else None,
            ms=7,
            label=None if name in seen else name,
        )
        seen.add(name)
    if seen:
        ax.legend(frameon=False)
    ax.set(
        xlabel=f"PC 1 ({100 * share[0]:.0f} % of variance)",
        ylabel=f"PC 2 ({100 * share[1]:.0f} % of variance)",
        title="state space: fixed and slow points",
    )
    return fig
