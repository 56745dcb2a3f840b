r"""The result of a simulation: :class:`Ensemble` (final states, exits, saved paths or moments),
its conditioning on exits and end states, densities, comparison with a reference path, and files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab._core.interp import resample
from noetherlab._core.io import open_result_dataset, to_jsonable
from noetherlab._core.validation import choice, positive_int
from noetherlab._core.version import VERSION

__all__ = ["Ensemble", "density", "load_ensemble"]


@dataclass(frozen=True)
class Ensemble:
    """Result of :func:`simulate`. Shapes: ``n`` paths, ``N`` state dimension, ``S`` saved times.

    Attributes:
        final: ``(n, N)`` states at ``T`` (absorbed paths: their frozen exit state).
        times, paths: ``(S,)`` and ``(S, n, N)`` when every k-th step was saved, else ``None``.
        mean, var: ``(S, N)`` running mean / variance over paths at ``times`` (``save="stats"``).
        exit_label: ``(n,)`` 0 = never absorbed, ``k`` = absorbed through boundary part ``k``.
        exit_time, exit_state: ``(n,)`` / ``(n, N)``, NaN where not absorbed.
        mask: ``(n,)`` which of the originally simulated paths these are (after conditioning).
    """

    final: np.ndarray
    exit_label: np.ndarray
    exit_time: np.ndarray
    exit_state: np.ndarray
    dt: float
    t0: float
    T: float
    parameters: dict[str, Any]
    times: np.ndarray | None = None
    paths: np.ndarray | None = None
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    seconds: float = 0.0
    mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_paths(self) -> int:
        return int(self.final.shape[0])

    def exit_fraction(self, label: int | str | None = None) -> float:
        """Fraction of paths absorbed (through part ``label`` if given) by time ``T``."""
        return float(np.mean(self._label_mask(label))) if self.n_paths else float("nan")

    def _label_mask(self, label: int | str | None) -> np.ndarray:
        if label is None:
            return self.exit_label > 0
        if isinstance(label, str):
            if label not in self.labels:
                raise InvalidArgumentError(
                    "exit", f"unknown boundary part {label!r}", f"use one of {list(self.labels)}"
                )
            label = self.labels.index(label) + 1
        elif (
            isinstance(label, bool)
            or not isinstance(label, (int, np.integer))
            or not (1 <= int(label) <= len(self.labels))
        ):
            raise InvalidArgumentError(
                "exit",
                f"boundary part {label!r} does not exist (this ensemble's boundary has "
                f"{len(self.labels)} part(s): {list(self.labels)})",
                f"pass a name from {list(self.labels)} or a number in 1..{len(self.labels)}",
            )
        return self.exit_label == label

    def condition(
        self,
        exit: int | str | None = None,
        window: tuple[float, float] | None = None,
        end_ball: tuple[Any, float] | None = None,
    ) -> Ensemble:
        """The sub-ensemble of paths that exit through ``exit`` with exit time in ``window``
        (inclusive), and/or whose final state lies in the ball ``end_ball = (center, radius)``."""
        if window is not None:
            lo, hi = (float(w) for w in window)
            if not lo <= hi:
                raise InvalidArgumentError(
                    "window",
                    f"must be (earliest, latest) exit time with earliest <= latest, got {window}",
                    "swap the two times",
                )
        keep = np.ones(self.n_paths, bool)
        if exit is not None or window is not None:
            keep &= self._label_mask(exit)
        if window is not None:
            keep &= (self.exit_time >= window[0]) & (self.exit_time <= window[1])
        if end_ball is not None:
            c, r = np.asarray(end_ball[0], float), float(end_ball[1])
            keep &= np.linalg.norm(self.final - c, axis=-1) <= r
        base = np.arange(self.n_paths) if self.mask is None else np.flatnonzero(self.mask)
        full = np.zeros(self.n_paths if self.mask is None else len(self.mask), bool)
        full[base[keep]] = True
        return Ensemble(
            final=self.final[keep],
            exit_label=self.exit_label[keep],
            exit_time=self.exit_time[keep],
            exit_state=self.exit_state[keep],
            dt=self.dt,
            t0=self.t0,
            T=self.T,
            parameters={**self.parameters, "conditioned_on": [exit, window, end_ball]},
            times=self.times,
            paths=None if self.paths is None else self.paths[:, keep],
            labels=self.labels,
            seconds=self.seconds,
            mask=full,
        )

    def compare(self, t: Any, x: Any) -> dict[str, Any]:
        """Compare the saved sample paths with a reference path ``x(t)`` (e.g. a most likely path,
        interpolated linearly to the saved times): mean path, tube width (RMS distance of the samples
        from their mean), and the distribution of sup-distances of each sample from the reference."""
        if self.paths is None or self.times is None:
            raise UnsupportedModelError(
                "this ensemble kept no paths; simulate with save_every=k to compare with a path"
            )
        if self.n_paths == 0:
            raise InvalidArgumentError("ensemble", "is empty", "relax the conditioning")
        t, x = np.asarray(t, float), np.asarray(x, float).reshape(len(t), -1)
        ref = resample(x, t, self.times)
        mean = self.paths.mean(axis=1)
        tube = np.sqrt(np.mean(np.sum((self.paths - mean[:, None]) ** 2, -1), axis=1))
        dist = np.max(np.linalg.norm(self.paths - ref[:, None], axis=-1), axis=0)
        return {
            "times": self.times,
            "mean_path": mean,
            "tube_width": tube,
            "mean_path_to_reference_max": float(np.max(np.linalg.norm(mean - ref, axis=-1))),
            "sup_distance_median": float(np.median(dist)),
            "sup_distance_q10_q90": [float(np.quantile(dist, 0.1)), float(np.quantile(dist, 0.9))],
        }

    def histogram(self, bins: int = 30, range: Any = None, which: str = "final") -> Any:
        """Normalised histogram density of the final states (see :func:`density`)."""
        choice(which, "which", ("final", "exit"))
        if self.n_paths == 0:
            raise InvalidArgumentError(
                "ensemble",
                "is empty (no path satisfied the conditioning)",
                "relax the conditioning",
            )
        return density(self.final if which == "final" else self.exit_state, bins=bins, range=range)

    def to_dataset(self) -> Any:
        """An ``xarray.Dataset`` (dims ``path``, ``dim``, ``time``) with the parameters as attrs."""
        import xarray as xr

        data: dict[str, Any] = {
            "final": (("path", "dim"), self.final),
            "exit_label": (("path",), self.exit_label),
            "exit_time": (("path",), self.exit_time),
            "exit_state": (("path", "dim"), self.exit_state),
        }
        coords: dict[str, Any] = {}
        if self.times is not None:
            coords["time"] = self.times
        if self.paths is not None:
            data["paths"] = (("time", "path", "dim"), self.paths)
        if self.mean is not None and self.var is not None:
            data["mean"] = (("time", "dim"), self.mean)
            data["var"] = (("time", "dim"), self.var)
        attrs = {
            "kind": "Ensemble",
            "noetherlab_version": VERSION,
            "dt": self.dt,
            "t0": self.t0,
            "T": self.T,
            "seconds": self.seconds,
            "boundary_labels": json.dumps(list(self.labels)),
            "ensemble_parameters": json.dumps(to_jsonable(self.parameters)),
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)

    @staticmethod
    def from_dataset(ds: Any) -> Ensemble:
        """Rebuild an :class:`Ensemble` from :meth:`to_dataset` (or a file written from it)."""
        get = lambda k: np.asarray(ds[k].values) if k in ds else None
        return Ensemble(
            final=np.asarray(ds["final"].values, float),
            exit_label=np.asarray(ds["exit_label"].values).astype(np.int32),
            exit_time=np.asarray(ds["exit_time"].values, float),
            exit_state=np.asarray(ds["exit_state"].values, float),
            dt=float(ds.attrs["dt"]),
            t0=float(ds.attrs["t0"]),
            T=float(ds.attrs["T"]),
            parameters=json.loads(ds.attrs.get("ensemble_parameters", "{}")),
            times=None if "time" not in ds.coords else np.asarray(ds["time"].values, float),
            paths=get("paths"),
            mean=get("mean"),
            var=get("var"),
            labels=tuple(json.loads(ds.attrs.get("boundary_labels", "[]"))),
            seconds=float(ds.attrs.get("seconds", 0.0)),
        )


def load_ensemble(path: Any) -> Ensemble:
    """Read an ensemble saved from ``Ensemble.to_dataset`` (e.g. ``noetherlab simulate --out e.nc``)."""
    with open_result_dataset(path, "Ensemble") as ds:
        return Ensemble.from_dataset(ds)


def density(samples: Any, bins: int | Any = 30, range: Any = None) -> Any:
    """Histogram density estimate of samples ``(n, N)`` (N = 1 or 2) as an ``xarray.DataArray``
    with bin-centre coordinates ``x0`` (, ``x1``), normalised to integrate to 1 over the range."""
    import xarray as xr

    s = np.asarray(samples, float)
    if s.size == 0:
        raise InvalidArgumentError("samples", "is empty", "pass at least one sample")
    s = s.reshape(len(s), -1)
    s = s[np.all(np.isfinite(s), axis=1)]
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        positive_int(bins, "bins")
    if s.shape[1] > 2 or s.shape[0] == 0:
        raise InvalidArgumentError(
            "samples", f"need a non-empty (n, 1) or (n, 2) array, got {s.shape}", "project first"
        )
    hist, edges = np.histogramdd(s, bins=bins, range=range, density=True)
    centres = {f"x{j}": 0.5 * (e[1:] + e[:-1]) for j, e in enumerate(edges)}
    return xr.DataArray(hist, coords=centres, dims=list(centres), name="density")
