"""The result object returned by every path solver (see :class:`PathResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noetherlab.charges import Charges

__all__ = ["PathResult", "ResolutionReport"]


@dataclass(frozen=True)
class ResolutionReport:
    """Grid-refinement study of a discrete path.

    Attributes:
        n: interval counts of the grids solved (coarse to fine).
        actions: discrete action on each grid.
        path_changes: max-norm change of the path between consecutive grids (at common times).
        error: estimated discretisation error of the finest action (Richardson, ``|S_2n - S_n|/3``).
        relative_error: ``error / |S|``.
        extrapolated_action: Richardson extrapolation ``S_2n + (S_2n - S_n)/3`` (``O(h⁴)``).
        rtol: the tolerance asked for; ``resolved`` is ``relative_error <= rtol``.
    """

    n: list[int]
    actions: list[float]
    path_changes: list[float]
    error: float
    relative_error: float
    extrapolated_action: float
    rtol: float
    resolved: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "n": list(self.n),
            "actions": list(self.actions),
            "path_changes": list(self.path_changes),
            "error": self.error,
            "relative_error": self.relative_error,
            "extrapolated_action": self.extrapolated_action,
            "rtol": self.rtol,
            "resolved": self.resolved,
        }


@dataclass(frozen=True)
class PathResult:
    """A most likely path with its charges and convergence diagnostics.

    Attributes:
        t: times of the nodes, shape ``(n+1,)``.
        x: states, shape ``(n+1, N)``.
        p: node momenta ``p = ½ D^{-1}(ẋ - f)`` (discrete, see :mod:`noetherlab.charges`).
        action: discrete action ``S`` of the path.
        T: transit time (``inf`` when a fixed-energy path passes through a zero-speed point).
        energy: the path's energy: the prescribed ``E`` (fixed-energy) or the time-weighted mean of
            the interval energies (fixed-time).
        charges: energy, momentum and angular momentum along the path with their drifts.
        converged: the optimiser met its gradient tolerance (``message`` says why not otherwise).
        grad_norm / grad_inf: 2-norm / max-norm of the action gradient at the interior nodes.
        el_residual: max-norm of the discrete Euler–Lagrange residual (gradient / local step).
        iterations, seconds: optimiser iterations and wall time (compilation included on a first call).
        resolution: grid-refinement study when one was run (``None`` otherwise).
        parameters: everything needed to reproduce the result.
    """

    t: np.ndarray
    x: np.ndarray
    p: np.ndarray
    action: float
    T: float
    energy: float
    charges: Charges
    lagrangian: str
    method: str
    converged: bool
    message: str
    grad_norm: float
    grad_inf: float
    el_residual: float
    iterations: int
    seconds: float
    parameters: dict[str, Any]
    model: str
    resolution: ResolutionReport | None = None
    history: list[dict[str, float]] = field(default_factory=list, repr=False)

    @property
    def n(self) -> int:
        """Number of intervals."""
        return int(self.t.size - 1)

    @property
    def resolved(self) -> bool | None:
        """Result of the resolution study (``None`` if none was run)."""
        return None if self.resolution is None else self.resolution.resolved

    def summary(self) -> dict[str, Any]:
        """Key numbers as plain Python types (JSON-serialisable)."""
        out: dict[str, Any] = {
            "model": self.model,
            "method": self.method,
            "lagrangian": self.lagrangian,
            "converged": self.converged,
            "message": self.message,
            "n": self.n,
            "T": self.T,
            "action": self.action,
            "energy": self.energy,
            "momentum_start": self.charges.momentum.values[0].tolist(),
            "charge_drift": self.charges.drift_summary(),
            "grad_norm": self.grad_norm,
            "el_residual": self.el_residual,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "parameters": _plain(self.parameters),
        }
        if self.charges.angular_momentum.values.shape[1] >= 2:
            out["angular_momentum_start"] = self.charges.angular_momentum.values[0].tolist()
        if self.resolution is not None:
            out["resolution"] = self.resolution.as_dict()
        return out

    def __str__(self) -> str:
        status = "converged" if self.converged else "NOT converged"
        lines = [
            f"PathResult[{self.method}, {self.lagrangian}] {status}: {self.message}",
            f"  model {self.model!r}, n = {self.n} intervals, T = {self.T:.6g}",
            f"  action S = {self.action:.12g}, energy E = {self.energy:.12g}",
            f"  |grad|_2 = {self.grad_norm:.2e}, EL residual = {self.el_residual:.2e}, "
            f"{self.iterations} iterations, {self.seconds:.3f} s",
            "  charge drift: "
            + ", ".join(f"{k} {v:.2e}" for k, v in self.charges.drift_summary().items()),
        ]
        if self.resolution is not None:
            r = self.resolution
            lines.append(
                f"  resolution: n = {r.n}, relative discretisation error {r.relative_error:.2e} "
                f"({'resolved' if r.resolved else 'UNDER-RESOLVED'} at rtol {r.rtol:g})"
            )
        return "\n".join(lines)

    def to_dataset(self) -> Any:
        """The path as an ``xarray.Dataset`` (dims ``node``, ``interval``, ``dim``) with scalars in
        ``attrs`` (a JSON summary under ``attrs['summary']``)."""
        import json

        import xarray as xr

        from noetherlab import __version__

        n_dim = self.x.shape[1]
        ds = xr.Dataset(
            {
                "x": (("node", "dim"), self.x),
                "p": (("node", "dim"), self.p),
                "energy": (("interval",), self.charges.energy.values),
                "angular_momentum": (("node", "dim", "dim2"), self.charges.angular_momentum.values),
            },
            coords={
                "t": (("node",), self.t),
                "t_mid": (("interval",), 0.5 * (self.t[:-1] + self.t[1:])),
                "dim": np.arange(n_dim),
                "dim2": np.arange(n_dim),
            },
            attrs={
                "noetherlab_version": __version__,
                "model": self.model,
                "method": self.method,
                "lagrangian": self.lagrangian,
                "converged": int(self.converged),
                "action": self.action,
                "T": self.T,
                "summary": json.dumps(self.summary()),
            },
        )
        return ds


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
