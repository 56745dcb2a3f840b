r"""A sweep's results on disk: one Zarr store (format 2) holding an ``xarray.Dataset``.

Dimensions are the grid axes (coordinates: their values; lists such as states as JSON strings).
Every output of the computation is one array over the grid, chunked one point per chunk, so a
finished point is written (and survives) on its own, next to

* ``status`` — 0 pending, 1 done, 2 failed (CF ``flag_values`` / ``flag_meanings``), written
  *last* for each point: a point interrupted half-written reads as pending and is redone;
* ``error`` — why a point failed (empty otherwise); ``wall_time`` (s); ``finished_at`` (Unix s).

The attributes carry the spec (canonical JSON), its digest and the noetherlab version; a store
written from another spec is refused before anything is written (:func:`open_store`).
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.status import SweepStatus
from noetherlab.distributed.spec import SweepSpec

__all__ = ["STATUS_CODES", "SweepStore", "open_store"]

#: the code the store's ``status`` array holds for each point status (CF ``flag_values``)
STATUS_CODES: dict[SweepStatus, int] = {
    SweepStatus.pending: 0,
    SweepStatus.done: 1,
    SweepStatus.failed: 2,
}

_FILL = {"float": np.nan, "int": -1}
_DTYPE = {"float": np.float64, "int": np.int64}


def _coordinate(values: list[Any]) -> np.ndarray:
    """Grid-axis coordinate: numbers as float, strings as strings, anything else as JSON."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.float64)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=object)
    return np.asarray([json.dumps(v) for v in values], dtype=object)


def _template(spec: SweepSpec) -> Any:
    import xarray as xr

    dims = tuple(spec.grid)
    shape = spec.shape
    comp = spec.spec_computation
    data: dict[str, Any] = {}
    for name, (meaning, kind) in comp.outputs.items():
        data[name] = (dims, np.full(shape, _FILL[kind], _DTYPE[kind]), {"meaning": meaning})
    data["status"] = (
        dims,
        np.full(shape, STATUS_CODES[SweepStatus.pending], np.int8),
        {
            "flag_values": list(STATUS_CODES.values()),
            "flag_meanings": " ".join(s.name for s in STATUS_CODES),
        },
    )
    data["error"] = (dims, np.full(shape, "", dtype=object), {"meaning": "why the point failed"})
    data["wall_time"] = (dims, np.full(shape, np.nan), {"units": "s"})
    data["finished_at"] = (
        dims,
        np.full(shape, np.nan),
        {"meaning": "when the point finished, Unix time (s)"},
    )
    coords = {a: _coordinate(list(v)) for a, v in spec.grid.items()}
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update({"kind": "Sweep", "spec": spec.canonical(), "spec_digest": spec.digest()})
    encoding = {name: {"chunks": (1,) * len(dims)} for name in data}
    return ds, encoding


@dataclass(frozen=True)
class SweepStore:
    """An open sweep store (see the module docstring)."""

    path: Path
    spec: SweepSpec

    def status(self) -> np.ndarray:
        """The status codes over the grid (:data:`STATUS_CODES`: 0 pending, 1 done, 2 failed)."""
        import zarr

        from noetherlab._core.io import reading

        with reading(self.path, "sweep store"):
            group: Any = zarr.open_group(self.path, mode="r")
            return np.asarray(group["status"][...])

    @functools.cached_property
    def _arrays(self) -> dict[str, Any]:
        """The store's arrays, opened once for writing."""
        import zarr

        group: Any = zarr.open_group(self.path, mode="r+")
        return {name: group[name] for name in group.array_keys()}

    def write_point(self, index: tuple[int, ...], record: dict[str, Any]) -> None:
        """Write one point's outputs, then its error, times and — last — its status."""
        arrays = self._arrays
        for name, value in record["outputs"].items():
            arrays[name][index] = value
        arrays["error"][index] = record["error"]
        arrays["wall_time"][index] = record["wall_time"]
        arrays["finished_at"][index] = time.time()
        arrays["status"][index] = STATUS_CODES[record["status"]]

    def dataset(self) -> Any:
        """The whole store as an in-memory ``xarray.Dataset``."""
        import xarray as xr

        from noetherlab._core.io import reading

        with reading(self.path, "sweep store"), xr.open_zarr(self.path, consolidated=True) as ds:
            return ds.load()


def open_store(path: str | Path, spec: SweepSpec) -> SweepStore:
    """Open the sweep store at ``path`` for ``spec``, creating it (atomically) if it does not exist.

    Raises:
        InvalidArgumentError: ``path`` exists but is not a sweep store, or was written from another
            spec (nothing is written then).
    """
    from noetherlab._core.io import check_output_dir, create_zarr

    path = check_output_dir(path, "store")
    if not path.exists():
        ds, encoding = _template(spec)
        create_zarr(path, ds, spec.as_dict(), encoding)
        return SweepStore(path, spec)
    import zarr

    try:
        attrs = dict(zarr.open_group(path, mode="r").attrs)
    except Exception as exc:
        raise InvalidArgumentError(
            "store", f"{str(path)!r} exists and is not a Zarr store ({exc})", "pass a new path"
        ) from None
    if attrs.get("kind") != "Sweep":
        raise InvalidArgumentError(
            "store", f"{str(path)!r} is not a noetherlab sweep store", "pass a new path"
        )
    if attrs.get("spec_digest") != spec.digest():
        theirs = json.loads(str(attrs.get("spec", "{}")))
        raise InvalidArgumentError(
            "store",
            f"{str(path)!r} holds the sweep of another spec ({theirs.get('computation')!r} over "
            f"{list(theirs.get('grid', {}))}); nothing was written",
            "pass a new store path, or the spec that wrote this store to resume it",
        )
    return SweepStore(path, spec)
