r"""What a most-likely-path solver is asked: :class:`PathProblem`.

A boundary-value problem for the path Lagrangian ``L = ¼ (ẋ - f)^T D^{-1} (ẋ - f)`` (``"fw"``) or
its Onsager–Machlup variant (``"om"``), from ``x0`` to ``x1`` (states, shape ``(N,)``), either

* at **fixed time**: on a strictly increasing grid ``t`` (``T = t[-1] - t[0]``, ``n = len(t) - 1``
  intervals; :meth:`PathProblem.fixed_time` builds the uniform grid from ``T`` and ``n``), or
* at **fixed energy** ``E`` (free transit time; ``E = 0`` is the infinite-time instanton),
  discretised with ``n`` curve segments.

Constructing a problem validates everything a solver needs (shapes, finiteness, ``T > 0``, conflicts
such as ``T`` together with ``t``, a model that depends on time at fixed energy, degenerate noise for
a Lagrangian solver), so solvers only solve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.resources import check_memory
from noetherlab._core.validation import as_state, positive_float, positive_int, time_grid
from noetherlab.sde.lagrangian import check_lagrangian
from noetherlab.sde.model import SDE

__all__ = ["PathProblem"]


@dataclass(frozen=True)
class PathProblem:
    """A validated most-likely-path boundary-value problem (build it with :meth:`fixed_time` or
    :meth:`fixed_energy`).

    Attributes:
        sde: the model.
        x0, x1: end states, shape ``(N,)``.
        t: the time grid ``(n+1,)`` of a fixed-time problem (``None`` at fixed energy).
        energy: the prescribed energy ``E`` (``None`` at fixed time).
        n: number of intervals (time steps or curve segments).
        lagrangian: ``"fw"`` or ``"om"``.
    """

    sde: SDE
    x0: np.ndarray
    x1: np.ndarray
    t: np.ndarray | None
    energy: float | None
    n: int
    lagrangian: str

    # ------------------------------------------------------------------ constructors
    @classmethod
    def fixed_time(
        cls,
        sde: SDE,
        x0: Any,
        x1: Any,
        *,
        T: Any = None,
        n: Any = None,
        t: Any = None,
        lagrangian: str = "fw",
    ) -> PathProblem:
        """Fixed transit time: give ``T`` (and ``n``, default 1000) or an explicit grid ``t``."""
        x0a, x1a, kind = _common(sde, x0, x1, lagrangian)
        if t is not None:
            if T is not None:
                raise InvalidArgumentError(
                    "T/t",
                    f"both T = {T!r} and an explicit grid t were given; the grid already fixes "
                    "T = t[-1] - t[0]",
                    "pass either T (with n) or t, not both",
                )
            if n is not None:
                raise InvalidArgumentError(
                    "n/t",
                    "both n and an explicit grid t were given; the grid already fixes n = len(t) - 1",
                    "pass either n (with T) or t, not both",
                )
            grid = time_grid(t, "t")
            positive_int(grid.size - 1, "n (from t)", 2)
        else:
            if T is None:
                raise InvalidArgumentError(
                    "T", "is missing", "pass a transit time T > 0 (or an explicit grid t)"
                )
            Tf = positive_float(T, "T", "transit time")
            m = positive_int(1000 if n is None else n, "n", 2)
            _check_nodes(m, sde.dim)
            grid = np.linspace(0.0, Tf, m + 1)
            if not np.all(np.diff(grid) > 0):
                raise InvalidArgumentError(
                    "T",
                    f"T = {Tf!r} split into n = {m} intervals gives steps below float64 resolution",
                    "pass a larger T or a smaller n",
                )
        return cls(sde, x0a, x1a, grid, None, grid.size - 1, kind)

    @classmethod
    def fixed_energy(
        cls,
        sde: SDE,
        x0: Any,
        x1: Any,
        *,
        energy: Any,
        n: Any = None,
        lagrangian: str = "fw",
    ) -> PathProblem:
        """Fixed energy ``E`` (free transit time), ``n`` curve segments (default 1000)."""
        x0a, x1a, kind = _common(sde, x0, x1, lagrangian)
        try:
            E = float(energy)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                "energy", f"must be a number, got {energy!r}", "pass a float"
            ) from None
        if not np.isfinite(E):
            raise InvalidArgumentError(
                "energy", f"must be finite, got {E!r}", "pass a finite energy"
            )
        if sde.time_dependent:
            raise InvalidArgumentError(
                "energy",
                f"a fixed-energy path needs a time-independent model (energy is conserved only "
                f"then), but `{sde.name}` depends on t",
                "prescribe the transit time T instead",
            )
        scale = max(float(np.max(np.abs(x0a))), float(np.max(np.abs(x1a))), 1.0)
        if float(np.max(np.abs(x1a - x0a))) <= 1e-14 * scale:
            raise InvalidArgumentError(
                "x1",
                "equals x0: at fixed energy the path between equal states is degenerate (it has zero "
                "length and no transit time)",
                "pick two different states, or prescribe a transit time T",
            )
        m = positive_int(1000 if n is None else n, "n", 2)
        _check_nodes(m, sde.dim)
        return cls(sde, x0a, x1a, None, E, m, kind)

    # ------------------------------------------------------------------ properties
    @property
    def is_fixed_time(self) -> bool:
        return self.t is not None

    @property
    def T(self) -> float:
        """Transit time of a fixed-time problem (``nan`` at fixed energy: the solver finds it)."""
        return float(self.t[-1] - self.t[0]) if self.t is not None else float("nan")

    @property
    def dim(self) -> int:
        return self.sde.dim

    def with_grid(self, t: np.ndarray) -> PathProblem:
        """The same fixed-time problem on another grid (resolution studies)."""
        return PathProblem(self.sde, self.x0, self.x1, t, None, t.size - 1, self.lagrangian)

    def with_n(self, n: int) -> PathProblem:
        """The same problem with ``n`` intervals (uniform grid at fixed time)."""
        if self.t is not None:
            return self.with_grid(np.linspace(self.t[0], self.t[-1], n + 1))
        return PathProblem(self.sde, self.x0, self.x1, None, self.energy, n, self.lagrangian)

    def with_energy(self, energy: float) -> PathProblem:
        return PathProblem(self.sde, self.x0, self.x1, None, float(energy), self.n, self.lagrangian)

    def describe(self) -> dict[str, Any]:
        """The parameters that define the problem (stored with every result)."""
        out: dict[str, Any] = {
            "model": self.sde.name,
            "x0": self.x0.tolist(),
            "x1": self.x1.tolist(),
            "n": self.n,
            "lagrangian": self.lagrangian,
        }
        if self.t is not None:
            out["T"] = self.T
            uniform = bool(np.allclose(np.diff(self.t), self.T / self.n, rtol=1e-12, atol=0))
            out["grid"] = "uniform" if uniform else "explicit"
        else:
            out["energy"] = self.energy
        return out


def _common(sde: Any, x0: Any, x1: Any, lagrangian: Any) -> tuple[np.ndarray, np.ndarray, str]:
    if not isinstance(sde, SDE):
        raise InvalidArgumentError(
            "sde",
            f"must be a noetherlab.SDE, got {type(sde).__name__}",
            "build it with nl.SDE(f, ...)",
        )
    kind = check_lagrangian(lagrangian, sde, allow_degenerate=True)
    return as_state(x0, "x0", sde.dim), as_state(x1, "x1", sde.dim), kind


def _check_nodes(n: int, dim: int) -> None:
    """Refuse a grid whose nodes alone would not fit in memory (before it is allocated; the
    solvers' own, larger needs are sized by :func:`~noetherlab.paths.most_likely_path`)."""
    check_memory(
        8.0 * (n + 1) * (4 * dim + 4),
        "n",
        f"a path of n = {n} intervals in {dim} dimensions",
        "use fewer intervals (a few thousand resolve most paths; ResolutionControl refines)",
    )
