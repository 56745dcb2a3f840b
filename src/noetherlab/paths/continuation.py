"""Continuation in the transit time or the energy: a family of most likely paths as an xarray Dataset.

Each member is solved with :func:`most_likely_path` warm-started from the previous member (time
rescaled for fixed ``T``; curve reparametrised for fixed ``E``), which is what makes hard members
(long ``T``, small ``E``, steep drifts) reachable: order the values from easy to hard, e.g. ``T``
increasing from a short time or ``E`` decreasing from a large energy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import as_float_array
from noetherlab._core.version import VERSION
from noetherlab.paths.api import most_likely_path
from noetherlab.paths.result import PathResult
from noetherlab.sde.model import SDE, require_sde

__all__ = ["path_family"]


def path_family(
    sde: SDE,
    x0: Any,
    x1: Any,
    *,
    T: Sequence[float] | None = None,
    energy: Sequence[float] | None = None,
    init: Any = None,
    progress: Callable[[int, PathResult], None] | None = None,
    **options: Any,
) -> Any:
    """Solve a family of boundary-value problems with warm starts.

    Args:
        sde: the model.
        x0: start state (as in :func:`most_likely_path`).
        x1: end state.
        T: the sequence of transit times (give ``T`` or ``energy``).
        energy: the sequence of energies.
        init: initial path of the first member.
        progress: called as ``progress(i, result)`` after each member.
        **options: passed to :func:`most_likely_path` (``n``, ``lagrangian``, ``grid``, ...).

    Returns:
        ``xarray.Dataset`` with dims ``member``, ``node``, ``dim``: ``x (member, node, dim)``,
        ``t (member, node)``, and per member ``action``, ``energy``, ``T``, ``converged``,
        ``energy_drift``, ``angular_momentum_drift``, ``momentum_start (member, dim)``,
        ``angular_momentum_start (member, dim, dim2)``; the parameter sequence is the ``member``
        coordinate's ``value``. ``attrs`` carry the model, the options and the package version.
    """
    sde = require_sde(sde)
    import xarray as xr

    if (T is None) == (energy is None):
        raise InvalidArgumentError(
            "T/energy",
            "give exactly one sequence: T=[...] or energy=[...]",
            "e.g. path_family(sde, x0, x1, T=[1, 2, 4])",
        )
    key = "T" if T is not None else "energy"
    values = as_float_array(T if T is not None else energy, key).reshape(-1)
    if values.size == 0:
        raise InvalidArgumentError(key, "is empty", "pass at least one value")
    results: list[PathResult] = []
    guess = init
    for i, value in enumerate(values):
        kwargs: dict[str, Any] = {key: float(value), **options}
        res = most_likely_path(sde, x0, x1, init=guess, **kwargs)
        results.append(res)
        if progress is not None:
            progress(i, res)
        guess = res if res.converged else guess
    n_nodes = max(r.x.shape[0] for r in results)
    N = sde.dim
    x = np.full((values.size, n_nodes, N), np.nan)
    t = np.full((values.size, n_nodes), np.nan)
    for i, r in enumerate(results):
        x[i, : r.x.shape[0]] = r.x
        t[i, : r.t.size] = r.t
    data_vars_extra: dict[str, Any] = {}
    if all(r.charges.angular_momentum.stored for r in results):
        data_vars_extra["angular_momentum_start"] = (
            ("member", "dim", "dim2"),
            np.array([r.charges.angular_momentum.values[0] for r in results]),
        )
    ds = xr.Dataset(
        {
            "x": (("member", "node", "dim"), x),
            "t": (("member", "node"), t),
            "action": (("member",), np.array([r.action for r in results])),
            "energy": (("member",), np.array([r.energy for r in results])),
            "T": (("member",), np.array([r.T for r in results])),
            "converged": (("member",), np.array([r.converged for r in results])),
            "energy_drift": (("member",), np.array([r.charges.energy.drift for r in results])),
            "angular_momentum_drift": (
                ("member",),
                np.array([r.charges.angular_momentum.drift for r in results]),
            ),
            "momentum_start": (("member", "dim"), np.array([r.p[0] for r in results])),
        },
        coords={
            "member": np.arange(values.size),
            "value": (("member",), values),
            "dim": np.arange(N),
            "dim2": np.arange(N),
        },
        attrs={
            "noetherlab_version": VERSION,
            "model": sde.name,
            "parameter": key,
            "x0": json.dumps(np.asarray(results[0].parameters["x0"]).tolist()),
            "x1": json.dumps(np.asarray(results[0].parameters["x1"]).tolist()),
            "options": json.dumps(
                {k: v for k, v in options.items() if isinstance(v, (int, float, str, bool))}
            ),
            "messages": json.dumps([r.message for r in results]),
        },
    )
    for k, v in data_vars_extra.items():
        ds[k] = v
    return ds
