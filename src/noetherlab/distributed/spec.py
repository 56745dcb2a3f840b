r"""A sweep specification: which computation, which fixed parameters, which parameter grid.

A spec is a small TOML file (or the same as Python dicts)::

    computation = "path"            # see noetherlab.distributed.computations

    [parameters]                    # the same for every grid point
    model = "ornstein_uhlenbeck"
    x0 = [1.0, 1.0]
    x1 = [0.0, 1.0]
    n = 200

    [grid]                          # the Cartesian product of these lists
    T = [0.5, 1.0, 2.0]
    "model.D" = [0.5, 1.0]          # a model parameter (a dotted key model.D = [...] works too)

The grid points are ordered like ``itertools.product`` over the grid axes in the order written.
The spec's canonical JSON (sorted keys) identifies a sweep's store: resuming into a store written
from another spec is refused.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.distributed.computations import COMPUTATIONS, Computation

__all__ = ["SweepSpec", "load_spec"]


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"D": [..]}}`` -> ``{"model.D": [..]}`` (TOML dotted keys)."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


@dataclass(frozen=True)
class SweepSpec:
    """Which computation, its fixed parameters, and the grid of the others.

    Attributes:
        computation: a name of :data:`~noetherlab.distributed.computations.COMPUTATIONS`.
        parameters: ``name -> value`` shared by every point.
        grid: ``name -> list of values``; the points are the Cartesian product (axis order kept).
    """

    computation: str
    parameters: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.computation not in COMPUTATIONS:
            raise InvalidArgumentError(
                "computation",
                f"unknown computation {self.computation!r}",
                f"use one of {sorted(COMPUTATIONS)}",
            )
        object.__setattr__(self, "parameters", _flatten(self.parameters))
        object.__setattr__(self, "grid", _flatten(self.grid))
        comp = self.spec_computation
        if not self.grid:
            raise InvalidArgumentError(
                "grid", "is empty: a sweep needs at least one grid axis", "add e.g. T = [0.5, 1.0]"
            )
        for name, values in self.grid.items():
            if not isinstance(values, (list, tuple)) or len(values) == 0:
                raise InvalidArgumentError(
                    f"grid.{name}",
                    f"must be a non-empty list of values, got {values!r} (a grid with zero points)",
                    f"give at least one value, e.g. {name} = [1.0]",
                )
        both = sorted(set(self.parameters) & set(self.grid))
        if both:
            raise InvalidArgumentError(
                "grid", f"{both} are both fixed parameters and grid axes", "keep each in one place"
            )
        names = [*self.parameters, *self.grid]
        unknown = [
            n
            for n in names
            if n not in comp.parameters and not (comp.model_parameters and n.startswith("model."))
        ]
        if unknown:
            raise InvalidArgumentError(
                "parameters",
                f"{self.computation!r} has no parameter(s) {unknown}",
                f"use {list(comp.parameters)}"
                + (" and model.<name> for model parameters" if comp.model_parameters else ""),
            )
        clash = sorted(set(self.grid) & set(comp.outputs))
        if clash:
            raise InvalidArgumentError(
                "grid", f"{clash} name outputs of {self.computation!r}", "rename the grid axis"
            )
        missing = [n for n in comp.required if n not in names]
        if missing:
            raise InvalidArgumentError(
                "parameters", f"{self.computation!r} needs {missing}", "add them to the spec"
            )

    @property
    def spec_computation(self) -> Computation:
        return COMPUTATIONS[self.computation]

    @property
    def shape(self) -> tuple[int, ...]:
        """Points along each grid axis."""
        return tuple(len(v) for v in self.grid.values())

    @property
    def size(self) -> int:
        """The number of grid points."""
        n = 1
        for k in self.shape:
            n *= k
        return n

    def points(self) -> Iterator[tuple[tuple[int, ...], dict[str, Any]]]:
        """``(index, parameters)`` of every grid point, in ``itertools.product`` order."""
        axes = list(self.grid)
        for index in itertools.product(*(range(k) for k in self.shape)):
            values = {a: self.grid[a][i] for a, i in zip(axes, index, strict=True)}
            yield index, {**self.parameters, **values}

    def check(self) -> None:
        """Validate every grid point's parameters (model and architecture built, states checked)
        before anything runs; the first bad point is named. Each distinct model is built once."""
        from noetherlab._core.resources import warn_if_long

        comp = self.spec_computation
        warn_if_long(
            self.size * 2e-4,
            f"checking the {self.size} points of this sweep",
            "Use a coarser grid.",
            threshold=60.0,
        )
        for _, params in self.points():
            try:
                comp.check(params)
            except InvalidArgumentError as exc:
                where = {a: params[a] for a in self.grid}
                raise InvalidArgumentError(
                    exc.argument, f"at grid point {where}: {exc.problem}", exc.fix
                ) from None

    @staticmethod
    def from_dict(data: Any, where: str = "spec") -> SweepSpec:
        """A spec from its dict form ``{"computation", "parameters", "grid"}`` (as in the TOML
        file), refusing unknown or missing keys naming ``where``."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                where,
                f"must be a table, got {type(data).__name__}",
                "see `noetherlab sweep --help`",
            )
        extra = sorted(set(data) - {"computation", "parameters", "grid"})
        if extra or "computation" not in data:
            raise InvalidArgumentError(
                where,
                "needs `computation` and may hold [parameters] and [grid]"
                + (f"; unknown key(s) {extra}" if extra else ""),
                "see `noetherlab sweep --help` for an example",
            )
        for key in ("parameters", "grid"):
            if not isinstance(data.get(key, {}), Mapping):
                raise InvalidArgumentError(
                    f"{where}.{key}", "must be a table of name = value", f"write [{key}] ..."
                )
        if not isinstance(data["computation"], str):
            raise InvalidArgumentError(
                "computation", f"must be a name, got {data['computation']!r}", 'e.g. "path"'
            )
        return SweepSpec(data["computation"], data.get("parameters", {}), data.get("grid", {}))

    def as_dict(self) -> dict[str, Any]:
        return {"computation": self.computation, "parameters": self.parameters, "grid": self.grid}

    def canonical(self) -> str:
        """The spec as canonical JSON (sorted keys): what identifies a sweep's store."""
        return json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]


def load_spec(path: str | Path) -> SweepSpec:
    """Read a TOML sweep spec (see the module docstring)."""
    p = Path(path)
    if not p.is_file():
        raise InvalidArgumentError("SPEC", f"{str(p)!r} is not a file", "pass a .toml sweep spec")
    try:
        data = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgumentError(
            "SPEC", f"{p} is not valid TOML ({exc})", "fix the syntax"
        ) from None
    return SweepSpec.from_dict(data, "SPEC")
