"""The result of a splitting run: :class:`SplittingResult` (probability, error bars, levels,
status) and its :class:`ReactiveTrajectories` (the weighted trajectories that reached ``B``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noetherlab._core.status import SplittingStatus

__all__ = ["ReactiveTrajectories", "SplittingResult"]


@dataclass(frozen=True)
class ReactiveTrajectories:
    """The final replicas that reached ``B``: ``m`` trajectories, padded to ``L`` stored states.

    Attributes:
        paths: ``(m, L, N)`` states every ``every`` steps from the start, then the state of entry
            into ``B``; rows beyond ``lengths[i]`` repeat the last state.
        times: ``(m, L)`` their times.
        lengths: ``(m,)`` stored states of each.
        weights: ``(m,)`` each trajectory's weight ``\\hat P_r / (n R)``: they sum to ``p``.
        durations: ``(m,)`` time from the start to the entry into ``B``.
        repetition: ``(m,)`` the repetition each comes from.
    """

    paths: np.ndarray
    times: np.ndarray
    lengths: np.ndarray
    weights: np.ndarray
    durations: np.ndarray
    repetition: np.ndarray

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def mean_duration(self) -> float:
        """The weighted mean time to reach ``B`` (given that it is reached)."""
        if not len(self):
            return float("nan")
        return float(np.sum(self.weights * self.durations) / np.sum(self.weights))


@dataclass(frozen=True)
class SplittingResult:
    """Result of :func:`ams` or :func:`tams`.

    Attributes:
        method: ``"AMS"`` or ``"TAMS"``.
        status: a :class:`~noetherlab._core.status.SplittingStatus`; ``probability`` is ``None``
            unless it is ``estimated``.
        probability: mean of the repetitions' estimates.
        std_error: standard error of that mean from the repetitions (``None`` if ``R = 1``).
        interval: 95 % confidence interval (Student ``t`` over the repetitions; for ``R = 1`` the
            single-run estimate).
        single_run_std_error: the same standard error from the genealogical estimate.
        estimates: ``(R,)`` each repetition's estimate (NaN where it did not finish).
        levels: per repetition, the normalised levels ``z_j / levels`` of its iterations.
        killed: per repetition, ``K_j``.
        coordinate: the reaction coordinate's name.
        reactive: the weighted trajectories that reached ``B``.
        stats: counts (``iterations``, ``extinct``, ``timed_out``, ``nonfinite``, ``ancestors``,
            ``truncated_paths``) and ``seconds``.
    """

    method: str
    status: SplittingStatus
    message: str
    probability: float | None
    std_error: float | None
    interval: tuple[float, float] | None
    single_run_std_error: float | None
    estimates: np.ndarray
    levels: tuple[np.ndarray, ...]
    killed: tuple[np.ndarray, ...]
    coordinate: str
    replicas: int
    kill: int
    repetitions: int
    dt: float
    horizon: float
    reactive: ReactiveTrajectories = field(repr=False)
    parameters: dict[str, Any] = field(default_factory=dict, repr=False)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True exactly when ``status`` is ``SplittingStatus.estimated``."""
        return self.status is SplittingStatus.estimated

    @property
    def relative_error(self) -> float | None:
        """``std_error / probability`` (the single-run one when ``R = 1``)."""
        se = self.std_error if self.std_error is not None else self.single_run_std_error
        if self.probability is None or se is None or self.probability <= 0:
            return None
        return se / self.probability

    def summary(self) -> str:
        if self.probability is None:
            return f"{self.method}: no estimate ({self.status.name}): {self.message}"
        lo, hi = self.interval or (float("nan"), float("nan"))
        rel = self.relative_error
        return (
            f"{self.method}: p = {self.probability:.4g} (95 % interval [{lo:.3g}, {hi:.3g}], "
            f"relative error {rel:.2g}) from {self.repetitions} × {self.replicas} replicas, "
            f"coordinate {self.coordinate!r}, {self.stats.get('iterations', 0)} iterations"
        )

    def to_dataset(self) -> Any:
        """The estimates, levels and reactive trajectories as an ``xarray.Dataset``."""
        import xarray as xr

        nlev = max((len(v) for v in self.levels), default=0)
        lev = np.full((self.repetitions, nlev), np.nan)
        kil = np.full((self.repetitions, nlev), -1, np.int64)
        for r, (v, k) in enumerate(zip(self.levels, self.killed, strict=True)):
            lev[r, : len(v)], kil[r, : len(k)] = v, k
        rt = self.reactive
        attrs = {
            "kind": "SplittingResult",
            "method": self.method,
            "status": self.status.name,
            "message": self.message,
            "probability": np.nan if self.probability is None else self.probability,
            "coordinate": self.coordinate,
            "replicas": self.replicas,
            "kill": self.kill,
            "dt": self.dt,
            "horizon": self.horizon,
        }
        return xr.Dataset(
            {
                "estimate": (("repetition",), self.estimates),
                "level": (("repetition", "iteration"), lev),
                "killed": (("repetition", "iteration"), kil),
                "reactive_path": (("trajectory", "node", "dim"), rt.paths),
                "reactive_time": (("trajectory", "node"), rt.times),
                "reactive_length": (("trajectory",), rt.lengths),
                "reactive_weight": (("trajectory",), rt.weights),
                "reactive_duration": (("trajectory",), rt.durations),
            },
            attrs=attrs,
        )

    def save(self, path: Any, parameters: dict[str, Any] | None = None) -> Any:
        """Write the result atomically as netCDF, with the noetherlab version and parameters."""
        from noetherlab._core.io import save_dataset

        return save_dataset(path, self.to_dataset(), {**self.parameters, **(parameters or {})})
