"""Small argument-checking helpers shared by the public functions (private)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError, ShapeError


def as_float_array(value: Any, name: str) -> np.ndarray:
    """Convert ``value`` to a float64 NumPy array or raise a clear error."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            name, f"cannot be converted to a float64 array ({exc})", "pass numbers or an array"
        ) from None
    return arr


def as_state(value: Any, name: str, dim: int) -> np.ndarray:
    """A state vector of shape ``(dim,)`` (a scalar is accepted when ``dim == 1``)."""
    arr = as_float_array(value, name)
    if arr.ndim == 0 and dim == 1:
        arr = arr.reshape(1)
    if arr.shape != (dim,):
        raise ShapeError(
            name,
            f"must be a state of shape ({dim},) for this {dim}-dimensional model, got shape "
            f"{arr.shape}",
            f"pass a length-{dim} vector",
        )
    require_finite(arr, name)
    return arr


def require_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise NonFiniteError(
            f"argument `{name}`: contains a non-finite value at index {tuple(int(i) for i in bad)}. "
            "Fix: pass finite numbers."
        )


def finite_float(value: Any, name: str, what: str = "number") -> float:
    """``value`` as a finite float (any sign), or a clear error naming ``name``."""
    if isinstance(value, bool):
        raise InvalidArgumentError(name, f"must be a number, got {value!r}", f"pass a {what}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            name, f"must be a number, got {value!r}", f"pass a finite {what}"
        ) from None
    if not math.isfinite(out):
        raise InvalidArgumentError(name, f"must be finite, got {out!r}", f"pass a finite {what}")
    return out


def positive_float(value: Any, name: str, what: str = "value") -> float:
    """``value`` as a finite float ``> 0``, or a clear error naming ``name``."""
    out = finite_float(value, name, f"positive {what}")
    if out <= 0.0:
        raise InvalidArgumentError(
            name, f"must be a positive {what}, got {out!r}", f"pass {name} > 0"
        )
    return out


def as_states(value: Any, name: str, dim: int, min_rows: int, fix: str) -> np.ndarray:
    """Finite states ``(m, dim)`` with ``m >= min_rows`` (``(m,)`` accepted when ``dim == 1``)."""
    arr = as_float_array(value, name)
    if arr.ndim == 1 and dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] < min_rows:
        raise ShapeError(
            name,
            f"must be an (m, {dim}) array of states with m >= {min_rows}, got shape {arr.shape}",
            fix,
        )
    require_finite(arr, name)
    return arr


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidArgumentError(
            name, f"must be an integer, got {value!r}", f"pass an integer >= {minimum}"
        )
    if int(value) < minimum:
        raise InvalidArgumentError(
            name, f"must be >= {minimum}, got {value}", f"pass {name} >= {minimum}"
        )
    return int(value)


def time_grid(t: Any, name: str = "t") -> np.ndarray:
    """A strictly increasing 1-D time grid with at least two points."""
    arr = as_float_array(t, name)
    if arr.ndim != 1 or arr.size < 2:
        raise ShapeError(
            name,
            f"must be a 1-D grid of at least 2 times, got shape {arr.shape}",
            "pass e.g. numpy.linspace(0, T, n + 1)",
        )
    require_finite(arr, name)
    steps = np.diff(arr)
    if np.any(steps <= 0):
        k = int(np.argmax(steps <= 0))
        raise InvalidArgumentError(
            name,
            f"must be strictly increasing, but t[{k + 1}] = {arr[k + 1]!r} <= t[{k}] = {arr[k]!r}",
            "sort the grid and remove repeated times",
        )
    return arr


def choice(value: Any, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise InvalidArgumentError(
            name,
            f"must be one of {options}, got {value!r}",
            f"pass one of {', '.join(map(repr, options))}",
        )
    return str(value)
