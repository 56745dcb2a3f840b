"""Piecewise-linear interpolation of paths: the one home for resampling a discrete path (private)."""

from __future__ import annotations

import numpy as np

__all__ = ["resample", "resample_uniform", "unit_parameter"]


def unit_parameter(t: np.ndarray) -> np.ndarray:
    """``(t - t_0) / (t_n - t_0)``: a grid mapped to ``[0, 1]``."""
    t = np.asarray(t, dtype=np.float64)
    return (t - t[0]) / (t[-1] - t[0])


def resample(x: np.ndarray, s_old: np.ndarray, s_new: np.ndarray) -> np.ndarray:
    """The path with nodes ``x`` (``(m, N)``) at parameters ``s_old`` (increasing), linearly
    interpolated at ``s_new``; returns ``(len(s_new), N)``."""
    x = np.asarray(x, dtype=np.float64)
    return np.stack([np.interp(s_new, s_old, x[:, i]) for i in range(x.shape[1])], axis=1)


def resample_uniform(x: np.ndarray, m: int) -> np.ndarray:
    """The path ``x`` (nodes equally spaced in its parameter) resampled at ``m`` equally spaced nodes."""
    return resample(x, np.linspace(0.0, 1.0, x.shape[0]), np.linspace(0.0, 1.0, m))
