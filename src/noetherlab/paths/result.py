r"""What every path solver returns: :class:`PathResult` with a
:class:`~noetherlab._core.status.PathStatus` and diagnostics.

``converged`` is true exactly when the status is ``PathStatus.successful``, and a solver's own
"success" is only kept as such when the path passes the independent check of
:mod:`noetherlab.paths.diagnostics` (normalised Euler–Lagrange residual within ``el_tol``);
otherwise the status becomes ``PathStatus.residual_too_large``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.io import from_jsonable, open_result_dataset, to_jsonable
from noetherlab._core.status import Converged, PathStatus
from noetherlab._core.version import VERSION
from noetherlab.noether.charges import Charges, ChargeTrace, charges_from

__all__ = ["PathResult", "ResolutionReport", "load_path"]


@dataclass(frozen=True)
class ResolutionReport:
    """Grid-refinement study of a discrete path.

    Attributes:
        n: interval counts of the grids solved (coarse to fine).
        actions: discrete action on each grid.
        path_changes: max-norm change of the path between consecutive grids (at common nodes),
            relative to the path's extent.
        order: observed convergence order ``log2(|S_{n/2} - S_{n/4}| / |S_n - S_{n/2}|)`` when three
            grids were solved (2 in the asymptotic regime of the midpoint rule), else ``nan``.
        asymptotic: the observed order is within ``[1.5, 2.5]``: Richardson's estimate applies.
        error: estimated discretisation error of the finest action — Richardson's
            ``|S_n - S_{n/2}|/3`` in the asymptotic regime, the full difference ``|S_n - S_{n/2}|``
            otherwise (conservative).
        relative_error: ``max(error / |S|, last path change)``: the path's own change counts too,
            so an action that happens to agree across grids cannot hide a moving path.
        extrapolated_action: Richardson extrapolation ``S_n + (S_n - S_{n/2})/3`` (``O(h⁴)``).
        rtol: the tolerance asked for; ``resolved`` is ``relative_error <= rtol``.
    """

    n: list[int]
    actions: list[float]
    path_changes: list[float]
    order: float
    asymptotic: bool
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
            "order": self.order,
            "asymptotic": self.asymptotic,
            "error": self.error,
            "relative_error": self.relative_error,
            "extrapolated_action": self.extrapolated_action,
            "rtol": self.rtol,
            "resolved": self.resolved,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ResolutionReport:
        return ResolutionReport(**{k: from_jsonable(v) for k, v in d.items()})


@dataclass(frozen=True)
class PathResult(Converged):
    """A most likely path with its charges, status and diagnostics.

    Attributes:
        t: times of the nodes, shape ``(n+1,)``.
        x: states, shape ``(n+1, N)``.
        p: node momenta ``p = ½ D^{-1}(ẋ - f)`` (discrete, see :mod:`noetherlab.noether.charges`).
        action: the action ``S`` of the path (discrete midpoint action; the integral for shooting).
        T: transit time (``inf`` when a fixed-energy path passes through a zero-speed point).
        energy: the prescribed ``E`` (fixed energy) or the time-weighted mean of the interval
            energies (fixed time).
        charges: energy, momentum and angular momentum along the path with their drifts.
        lagrangian: ``"fw"`` or ``"om"``.
        method: the solver that produced the path (``"newton"``, ``"newton-krylov"``, ...).
        status: how the solve ended (a :class:`~noetherlab._core.status.PathStatus`); ``message`` explains it in words.
        grad_norm / grad_inf: 2-norm / max-norm of the solver's own gradient (or residual).
        el_residual: normalised Euler–Lagrange residual of the returned path, measured
            independently of the solver (:mod:`noetherlab.paths.diagnostics`); dimensionless.
        el_tol: the tolerance ``el_residual`` must meet for ``converged``.
        iterations, seconds: solver iterations and wall time (compilation included on a first call).
        stats: solver-specific numbers (shifts, Krylov iterations, trust radius, ...).
        resolution: grid-refinement study when one was run (``None`` otherwise).
        symmetry_charges: the Noether charge of each symmetry of the model (found by
            :func:`~noetherlab.noether.symmetries.find_symmetries`) with its drift along this path —
            the charges that *should* be conserved; ``None`` when not evaluated.
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
    status: PathStatus
    message: str
    grad_norm: float
    grad_inf: float
    el_residual: float
    el_tol: float
    iterations: int
    seconds: float
    parameters: dict[str, Any]
    model: str
    stats: dict[str, Any] = field(default_factory=dict)
    resolution: ResolutionReport | None = None
    symmetry_charges: list[dict[str, Any]] | None = None
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
            "status": self.status.name,
            "message": self.message,
            "n": self.n,
            "T": self.T,
            "action": self.action,
            "energy": self.energy,
            "momentum_start": self.charges.momentum.values[0].tolist(),
            "symmetry_charges": self.symmetry_charges,
            "charge_drift": self.charges.drift_summary(per_component=True),
            "grad_norm": self.grad_norm,
            "grad_inf": self.grad_inf,
            "el_residual": self.el_residual,
            "el_tol": self.el_tol,
            "iterations": self.iterations,
            "seconds": self.seconds,
            "stats": self.stats,
            "parameters": self.parameters,
        }
        ang = self.charges.angular_momentum
        if ang.stored and ang.values.shape[1] >= 2:
            out["angular_momentum_start"] = ang.values[0].tolist()
        if self.resolution is not None:
            out["resolution"] = self.resolution.as_dict()
        return to_jsonable(out)

    def __str__(self) -> str:
        state = "converged" if self.converged else f"NOT converged ({self.status.name})"
        lines = [
            f"PathResult[{self.method}, {self.lagrangian}] {state}: {self.message}",
            f"  model {self.model!r}, n = {self.n} intervals, T = {self.T:.6g}",
            f"  action S = {self.action:.12g}, energy E = {self.energy:.12g}",
            f"  |grad|_2 = {self.grad_norm:.2e}, EL residual = {self.el_residual:.2e} "
            f"(tolerance {self.el_tol:.0e}), {self.iterations} iterations, {self.seconds:.3f} s",
        ]
        if self.symmetry_charges:
            lines.append(
                "  charges of the model's symmetries: "
                + ", ".join(
                    f"{c['charge']} ({c['symmetry']}) drift {c['drift']:.2e}"
                    for c in self.symmetry_charges
                )
            )
        lines.append(
            "  drift of every candidate charge: "
            + ", ".join(
                f"{k} {v:.2e}" for k, v in self.charges.drift_summary(per_component=True).items()
            )
        )
        if self.resolution is not None:
            r = self.resolution
            lines.append(
                f"  resolution: n = {r.n}, relative discretisation error {r.relative_error:.2e} "
                f"({'resolved' if r.resolved else 'UNDER-RESOLVED'} at rtol {r.rtol:g})"
            )
        return "\n".join(lines)

    # ------------------------------------------------------------------ persistence
    def to_dataset(self) -> Any:
        """The path as an ``xarray.Dataset`` (dims ``node``, ``interval``, ``dim``); the summary,
        the charge scales and the status go to ``attrs`` (see :meth:`from_dataset`)."""
        import xarray as xr

        n_dim = self.x.shape[1]
        c = self.charges
        data: dict[str, Any] = {
            "x": (("node", "dim"), self.x),
            "p": (("node", "dim"), self.p),
            "energy": (("interval",), c.energy.values),
        }
        if c.angular_momentum.stored:
            data["angular_momentum"] = (("node", "dim", "dim2"), c.angular_momentum.values)
        return xr.Dataset(
            data,
            coords={
                "t": (("node",), self.t),
                "t_energy": (("interval",), c.energy.times),
                "dim": np.arange(n_dim),
                "dim2": np.arange(n_dim),
            },
            attrs={
                "noetherlab_version": VERSION,
                "kind": "PathResult",
                "model": self.model,
                "method": self.method,
                "lagrangian": self.lagrangian,
                "status": self.status.name,
                "converged": int(self.converged),
                "action": self.action,
                "T": self.T,
                "charge_scales": json.dumps(
                    [c.energy.scale, c.momentum.scale, c.angular_momentum.scale]
                ),
                "summary": json.dumps(self.summary()),
            },
        )

    @staticmethod
    def from_dataset(ds: Any) -> PathResult:
        """Rebuild a :class:`PathResult` from :meth:`to_dataset` (or a file written from it)."""
        s = json.loads(ds.attrs["summary"])
        e_scale, m_scale, a_scale = json.loads(ds.attrs["charge_scales"])
        x, p, t = (np.asarray(ds[k].values, float) for k in ("x", "p", "t"))
        energy = ChargeTrace(
            "energy",
            np.asarray(ds["t_energy"].values, float),
            np.asarray(ds["energy"].values),
            e_scale,
        )
        charges = charges_from(x, t, p, energy, m_scale, a_scale)
        res = s.get("resolution")
        return PathResult(
            t=t,
            x=x,
            p=p,
            action=from_jsonable(s["action"]),
            T=from_jsonable(s["T"]),
            energy=from_jsonable(s["energy"]),
            charges=charges,
            lagrangian=s["lagrangian"],
            method=s["method"],
            status=PathStatus.named(s["status"]),
            message=s["message"],
            grad_norm=from_jsonable(s["grad_norm"]),
            grad_inf=from_jsonable(s["grad_inf"]),
            el_residual=from_jsonable(s["el_residual"]),
            el_tol=from_jsonable(s["el_tol"]),
            iterations=int(s["iterations"]),
            seconds=float(s["seconds"]),
            parameters=s["parameters"],
            model=s["model"],
            stats=s.get("stats", {}),
            resolution=None if res is None else ResolutionReport.from_dict(res),
            symmetry_charges=s.get("symmetry_charges"),
        )


def load_path(path: str | Path) -> PathResult:
    """Read a path saved by ``PathResult.to_dataset`` (e.g. ``noetherlab path --out p.nc``)."""
    with open_result_dataset(path, "PathResult") as ds:
        return PathResult.from_dataset(ds)
