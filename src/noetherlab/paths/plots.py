"""A most likely path with its charges along it: :func:`plot_path`."""

from __future__ import annotations

from typing import Any

import numpy as np

from noetherlab._core.figures import colour, figure

__all__ = ["plot_path"]


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
    status = "converged" if result.converged else f"NOT converged ({result.status.name})"
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
