r"""Escapes from an extended attractor: a limit cycle, or a ring or line of fixed points.

The quasi-potential of a set ``A`` that the noiseless flow keeps (a periodic orbit, a manifold of
fixed points) is constant on it: moving along ``A`` costs no action, forwards along a cycle
because ``ẋ = f`` there, along a manifold of fixed points because ``f = 0`` there. The barrier
from ``A`` to a state ``z`` (a saddle on the boundary of its basin, or the unstable point inside a
cycle) is therefore

.. math::  ΔΦ(z) = \min_{a ∈ A} S_{E=0}(a \to z),

the smallest zero-energy (infinite-time) Freidlin–Wentzell action over the points of ``A``, in the
model's noise units (mean escape times grow like ``e^{ΔΦ}``). :func:`escape_path` solves the
``E = 0`` path (the geometric solver of :func:`noetherlab.paths.most_likely_path`) from ``starts``
points spread evenly along ``A`` and bisects the samples about the best of them (``refine``
rounds), keeps the least action, and reports the spread of the actions
over the starting points: on a cycle the path can first follow the orbit for free, so the spread
measures how well the discretisation captured that (zero for a symmetric attractor).

Checked against the closed form ``ΔΦ = (U(0) − U(r_*))/D`` of the rotation-equivariant RNN
``ẋ = −x + (g I + ω J) φ(x)`` (its radial part is ``−∇U`` with ``U = r²/2 − g \log\cosh r``, its
rotation is orthogonal to ``∇U``, so the quasi-potential is ``U/D`` whatever ``ω``): a ring of
fixed points for ``ω = 0``, a limit cycle for ``ω ≠ 0``
(tests/metastability/test_escapes.py).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.status import Converged, PathStatus
from noetherlab._core.validation import as_float_array, positive_int
from noetherlab.sde.model import SDE, require_sde

__all__ = ["Escape", "attractor_samples", "escape_path"]


@dataclass(frozen=True)
class Escape(Converged):
    """The most likely escape from an extended attractor to ``target``: the ``E = 0`` path of least
    action over the starting points tried.

    Attributes:
        status: how the best path's solve ended (``PathStatus.successful`` only when it converged).
        barrier: its action ``ΔΦ`` (noise units; ``nan`` when no start converged).
        path: the path, states ``(n+1, N)``, from the attractor to ``target``.
        start: the state on the attractor it leaves from.
        actions: the action from each starting point tried, in the order of the samples (``nan``
            where not converged).
        spread: ``(max − min)/min`` of the converged actions.
        source, via, target_label: labels set by :func:`~noetherlab.metastability.landscape.landscape`
            (``"cycle 0"``, ``"saddle 1"``, ``"attractor 2"``, ...; empty otherwise).
    """

    status: PathStatus
    barrier: float
    path: np.ndarray = field(repr=False)
    start: np.ndarray
    actions: np.ndarray
    spread: float
    message: str
    source: str = ""
    via: str = ""
    target_label: str = ""
    stats: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "via": self.via,
            "to": self.target_label,
            "status": self.status.name,
            "converged": self.converged,
            "barrier": self.barrier,
            "start": self.start.tolist(),
            "actions": [None if not np.isfinite(a) else float(a) for a in self.actions],
            "spread": self.spread,
            "message": self.message,
        }


def attractor_samples(attractor: Any, dim: int) -> np.ndarray:
    """States ``(K, N)`` on an extended attractor: a
    :class:`~noetherlab.metastability.limit_cycles.LimitCycle` (its orbit), an
    :class:`~noetherlab.metastability.manifolds.AttractorManifold` (its points), or an array of
    states."""
    from noetherlab.metastability.limit_cycles import LimitCycle
    from noetherlab.metastability.manifolds import AttractorManifold

    if isinstance(attractor, LimitCycle):
        if not attractor.found:
            raise InvalidArgumentError(
                "attractor", f"is a failed cycle search: {attractor.message}", "find a cycle first"
            )
        X = attractor.x[:-1]  # the orbit closes: its last sample is its first
    elif isinstance(attractor, AttractorManifold):
        X = attractor.points
    else:
        X = np.atleast_2d(as_float_array(attractor, "attractor"))
    if X.ndim != 2 or X.shape[1] != dim or X.shape[0] == 0 or not np.all(np.isfinite(X)):
        raise ShapeError(
            "attractor",
            f"must give finite states (K, {dim}), got shape {np.shape(X)}",
            "pass a LimitCycle, an AttractorManifold or an array of states on the attractor",
        )
    return X


def escape_path(
    sde: SDE, attractor: Any, target: Any, *, starts: int = 8, refine: int = 3, n: int = 400
) -> Escape:
    """The most likely escape from ``attractor`` to the state ``target`` (see the module docstring).

    Args:
        sde: the model (time-independent drift).
        attractor: a limit cycle, an attractor manifold, or states ``(K, N)`` on the attractor.
        target: the state escaped to ``(N,)`` (a saddle, or the unstable point inside a cycle).
        starts: points of the attractor to start from, evenly spaced along its samples.
        refine: rounds of bisection of the samples about the best start (two more solves each).
        n: segments of every ``E = 0`` path.

    Raises:
        ShapeError: ``attractor`` or ``target`` of the wrong shape.
    """
    from noetherlab.paths import most_likely_path

    sde = require_sde(sde)
    X = attractor_samples(attractor, sde.dim)
    z = as_float_array(target, "target")
    if z.shape != (sde.dim,) or not np.all(np.isfinite(z)):
        raise ShapeError(
            "target", f"must be a finite state ({sde.dim},), got {z.shape}", "pass one state"
        )
    starts = positive_int(starts, "starts", 1)
    picks = [int(k) for k in np.linspace(0, len(X), min(starts, len(X)), endpoint=False)]
    results: dict[int, Any] = {}

    def solve(k: int) -> None:
        if k not in results:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the resolution caveat is summarised below
                results[k] = most_likely_path(sde, X[k], z, energy=0.0, n=n)

    for k in picks:
        solve(k)
    # refine the starting point: bisect the samples between the best start and its neighbours
    step = len(X) // max(len(picks), 1)
    for _ in range(refine):
        step //= 2
        if step < 1:
            break
        done = {k: r.action for k, r in results.items() if r.converged}
        if not done:
            break
        best_k = min(done, key=lambda k: done[k])
        for k in (best_k - step, best_k + step):
            solve(k % len(X))
    picks = sorted(results)
    results_list = [results[k] for k in picks]
    actions = np.array([r.action if r.converged else np.nan for r in results_list])
    ok = np.isfinite(actions)
    if not ok.any():
        first = results_list[0]
        return Escape(
            first.status,
            float("nan"),
            first.x,
            X[picks[0]],
            actions,
            float("nan"),
            f"no E = 0 path from the attractor converged: {first.message}",
            stats={"starts": len(picks)},
        )
    best = int(np.nanargmin(actions))
    lo, hi = float(np.nanmin(actions)), float(np.nanmax(actions))
    spread = (hi - lo) / lo if lo > 0 else 0.0
    r = results_list[best]
    message = (
        f"barrier {lo:.6g} (least E = 0 action from {int(ok.sum())} of {len(picks)} starting "
        f"points converged; spread {spread:.2g})"
    )
    rep = r.resolution
    if rep is not None and np.isfinite(rep.error) and lo > 0 and rep.error / lo > 1e-3:
        message += f"; estimated discretisation error {rep.error / lo:.1e} (pass a larger n)"
    return Escape(
        r.status,
        lo,
        r.x,
        X[picks[best]],
        actions,
        spread,
        message,
        stats={"starts": len(picks), "discretisation_error": None if rep is None else rep.error},
    )
