r"""Resolution control: is the discrete path resolved, and refine it until it is.

After a solve on ``n`` intervals the same problem is re-solved on coarser grids (``n/2`` and, when
``n`` is divisible by 4, ``n/4``; warm-started from the fine path, one or two Newton steps). With
the grid ratio ``r = 2`` and the midpoint rule's ``O(h²)`` error:

* the **observed order** ``p = log2(|S_{n/4} - S_{n/2}| / |S_{n/2} - S_n|)`` tells whether the
  grids are in the asymptotic regime (``p ≈ 2``);
* there, Richardson's estimate ``|S_n - S_{n/2}| / 3`` is used; otherwise the full difference
  ``|S_n - S_{n/2}|`` (a pre-asymptotic path — e.g. one spiralling into a focus — must not be
  declared resolved on a lucky agreement of two actions);
* the path itself is compared too (max-norm change at common times relative to its extent, with
  the same Richardson factor), and the reported relative error is the larger of the two.

With ``refine=True`` the grid is bisected (fixed time: midpoints inserted; fixed energy: ``2n``
segments) and re-solved from the interpolated path until ``relative_error <= rtol`` or ``n_max``
is reached; an :class:`~noetherlab._core.errors.UnderResolvedWarning` is issued when the tolerance is not
met.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, UnderResolvedWarning
from noetherlab._core.interp import resample, unit_parameter
from noetherlab._core.validation import positive_float, positive_int
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult, ResolutionReport

__all__ = ["ResolutionControl"]

Solve = Callable[[PathProblem, np.ndarray | None], PathResult]
SolveBatch = Callable[[Sequence[PathProblem], Sequence[np.ndarray | None]], list[PathResult]]


@dataclass(frozen=True)
class ResolutionControl:
    """How to check (and optionally refine) the discretisation of a path.

    Attributes:
        rtol: target relative discretisation error of the action (and of the path).
        refine: bisect the grid until ``rtol`` is met (or ``n_max`` is reached).
        n_max: largest number of intervals allowed when refining.
        check: run the coarse-grid study at all (``False``: no resolution report, no extra solves).
    """

    rtol: float = 1e-4
    refine: bool = False
    n_max: int = 200_000
    check: bool = True

    def __post_init__(self) -> None:
        positive_float(self.rtol, "rtol", "tolerance")
        positive_int(self.n_max, "n_max", 4)
        if not isinstance(self.refine, bool) or not isinstance(self.check, bool):
            raise InvalidArgumentError("refine/check", "must be True or False", "pass booleans")

    def apply(
        self,
        problem: PathProblem,
        result: PathResult,
        solve: Solve,
        *,
        curve: bool = False,
        coarse_solve: Solve | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> PathResult:
        """Run the study (and refinement) on a solved ``result`` of ``problem``. ``curve``: the
        solver places its nodes along the curve itself (geometric solvers), so paths are restricted,
        prolonged and compared in the node index, not in time. ``coarse_solve`` (default ``solve``)
        solves the coarse grids. ``progress`` is called with a line before each solve."""
        if not (self.check or self.refine) or not result.converged:
            return result
        if result.n < 4:
            warnings.warn(
                f"most likely path of `{result.model}` on n = {result.n} intervals: too few for a "
                "resolution study (it halves the grid), so its discretisation error is not "
                "estimated; pass n >= 4 (a few hundred for a resolved path)",
                UnderResolvedWarning,
                stacklevel=4,
            )
            return result
        say = progress or (lambda line: None)
        by_time = problem.is_fixed_time and not curve
        levels: list[PathResult] = []
        for m in _coarse_levels(result.n):
            say(f"resolution study: solving on n = {m} (the path has n = {result.n})")
            guess = _restrict(result, m, by_time)
            coarse = (coarse_solve or solve)(_coarser(problem, result, m), guess)
            if not coarse.converged:
                break
            levels.insert(0, coarse)
        levels.append(result)
        report = _report(levels, self.rtol, by_time)
        while (
            self.refine and not report.resolved and 2 * result.n <= self.n_max and result.converged
        ):
            say(
                f"refining: n = {result.n} -> {2 * result.n}, estimated error "
                f"{report.relative_error:.1e} > rtol {self.rtol:g}"
            )
            fine_problem = _finer(problem, result)
            finer = solve(fine_problem, _prolong(result, fine_problem, by_time))
            if not finer.converged:
                result = replace(finer, resolution=report)
                break
            levels.append(finer)
            result = finer
            report = _report(levels, self.rtol, by_time)
        if not report.resolved:
            warnings.warn(
                f"most likely path of `{result.model}`: estimated relative discretisation error "
                f"{report.relative_error:.2e} exceeds rtol = {self.rtol:g} at n = {result.n}"
                + ("" if report.asymptotic else " (grids not yet in the asymptotic regime)")
                + "; pass refine=True, a larger n, or grid='adaptive'",
                UnderResolvedWarning,
                stacklevel=4,
            )
        return replace(result, resolution=report)

    def apply_batch(
        self,
        problems: Sequence[PathProblem],
        results: Sequence[PathResult],
        solve_batch: SolveBatch,
    ) -> list[PathResult]:
        """The coarse-grid study of :meth:`apply` for fixed-time paths on one grid size, each
        coarse level solved for all members at once by ``solve_batch(problems, inits)``
        (refinement is per path: use :meth:`apply`). Members that did not converge are returned
        as they are; one :class:`UnderResolvedWarning` names the members whose estimated error
        exceeds ``rtol``."""
        if self.refine:
            raise InvalidArgumentError(
                "resolution",
                "refinement bisects each path's own grid, so it cannot run as one batch",
                "pass ResolutionControl(refine=False) with a larger n, or call most_likely_path "
                "for the paths that need refining",
            )
        out = list(results)
        active = [i for i, r in enumerate(results) if r.converged]
        if not self.check or not active:
            return out
        n = results[active[0]].n
        if n < 4:
            warnings.warn(
                f"{len(active)} most likely paths on n = {n} intervals: too few for a resolution "
                "study (it halves the grid); pass n >= 4 (a few hundred for a resolved path)",
                UnderResolvedWarning,
                stacklevel=4,
            )
            return out
        levels: dict[int, list[PathResult]] = {i: [] for i in active}
        alive = active
        for m in _coarse_levels(n):
            if not alive:
                break
            coarse = solve_batch(
                [_coarser(problems[i], results[i], m) for i in alive],
                [_restrict(results[i], m, True) for i in alive],
            )
            for i, c in zip(alive, coarse, strict=True):
                if c.converged:
                    levels[i].insert(0, c)
            alive = [i for i, c in zip(alive, coarse, strict=True) if c.converged]
        unresolved = []
        for i in active:
            report = _report([*levels[i], results[i]], self.rtol, True)
            out[i] = replace(results[i], resolution=report)
            if not report.resolved:
                unresolved.append(i)
        if unresolved:
            worst = max(out[i].resolution.relative_error for i in unresolved)  # type: ignore[union-attr]
            warnings.warn(
                f"{len(unresolved)} of {len(out)} most likely paths (members {unresolved[:10]}"
                f"{' …' if len(unresolved) > 10 else ''}) have an estimated relative "
                f"discretisation error above rtol = {self.rtol:g} at n = {n} (worst "
                f"{worst:.2e}); pass a larger n",
                UnderResolvedWarning,
                stacklevel=4,
            )
        return out


def _coarse_levels(n: int) -> list[int]:
    """``n//2`` and, when it is still ``>= 2`` and ``n % 4 == 0``, ``n//4`` (fine to coarse)."""
    out = [n // 2]
    if n % 4 == 0 and n // 4 >= 2:
        out.append(n // 4)
    return [m for m in out if m >= 2]


def _coarser(problem: PathProblem, result: PathResult, m: int) -> PathProblem:
    if not problem.is_fixed_time:
        return problem.with_n(m)
    t = result.t
    if result.n % m == 0:
        return problem.with_grid(t[:: result.n // m])
    # odd n: a uniform coarse grid over the same interval
    return problem.with_grid(np.linspace(t[0], t[-1], m + 1))


def _restrict(result: PathResult, m: int, fixed_time: bool) -> np.ndarray:
    s_new = np.linspace(0.0, 1.0, m + 1)
    s_old = unit_parameter(result.t) if fixed_time else np.linspace(0.0, 1.0, result.n + 1)
    return resample(result.x, s_old, s_new)


def _finer(problem: PathProblem, result: PathResult) -> PathProblem:
    if not problem.is_fixed_time:
        return problem.with_n(2 * result.n)
    t = result.t
    fine = np.empty(2 * t.size - 1)
    fine[0::2] = t
    fine[1::2] = 0.5 * (t[:-1] + t[1:])
    return problem.with_grid(fine)


def _prolong(result: PathResult, fine: PathProblem, by_time: bool) -> np.ndarray:
    if by_time and fine.t is not None:
        return resample(result.x, result.t, fine.t)
    return resample(
        result.x, np.linspace(0.0, 1.0, result.n + 1), np.linspace(0.0, 1.0, fine.n + 1)
    )


def _path_change(coarse: PathResult, fine: PathResult, by_time: bool) -> float:
    """Max-norm difference of the two paths at the coarse nodes, relative to the path's extent:
    at equal times, or — for curves whose nodes the solver places itself — the distance from each
    coarse node to the fine polygon (geometric, independent of where the nodes sit)."""
    extent = max(float(np.max(np.ptp(fine.x, axis=0))), 1e-300)
    if by_time:
        return float(np.max(np.abs(resample(fine.x, fine.t, coarse.t) - coarse.x))) / extent
    return _distance_to_polygon(coarse.x, fine.x) / extent


def _distance_to_polygon(points: np.ndarray, poly: np.ndarray) -> float:
    """``max_i min_segment |p_i - segment|`` (Euclidean), searching the fine segments in a window
    around the proportional index of each point."""
    m, n = points.shape[0], poly.shape[0] - 1
    width = max(4, n // 10)
    a, b = poly[:-1], poly[1:]
    d = b - a
    dd = np.maximum(np.sum(d * d, axis=1), 1e-300)
    worst = 0.0
    for i, p in enumerate(points):
        c = round(i * n / max(m - 1, 1))
        lo, hi = max(0, c - width), min(n, c + width)
        u = np.clip(np.sum((p - a[lo:hi]) * d[lo:hi], axis=1) / dd[lo:hi], 0.0, 1.0)
        dist = np.linalg.norm(a[lo:hi] + u[:, None] * d[lo:hi] - p, axis=1)
        worst = max(worst, float(np.min(dist)))
    return worst


def _report(levels: list[PathResult], rtol: float, fixed_time: bool) -> ResolutionReport:
    ns = [r.n for r in levels]
    S = [r.action for r in levels]
    changes = [_path_change(a, b, fixed_time) for a, b in itertools.pairwise(levels)]
    order = float("nan")
    if len(S) >= 3:
        d1, d2 = abs(S[-2] - S[-3]), abs(S[-1] - S[-2])
        if d1 > 0 and d2 > 0:
            order = float(np.log2(d1 / d2))
        elif d2 == 0 and d1 == 0:
            order = float("inf")  # exact on every grid (e.g. a straight line of constant drift)
    asymptotic = bool(1.5 <= order <= 2.5 or order == float("inf"))
    if len(S) >= 2 and ns[-1] != ns[-2]:
        r = ns[-1] / ns[-2]
        factor = (r * r - 1.0) if asymptotic else 1.0
        err = abs(S[-1] - S[-2]) / factor
        extrap = S[-1] + (S[-1] - S[-2]) / (r * r - 1.0)
        path_rel = changes[-1] / factor
    else:
        err, extrap, path_rel = float("nan"), S[-1], float("nan")
    last = levels[-1]
    duration = float(last.t[-1] - last.t[0])
    floor = 1e-12 * last.charges.energy.scale * duration + 1e-300  # an (almost) zero action
    rel = max(err / max(abs(S[-1]), floor), path_rel) if len(S) >= 2 else float("nan")
    return ResolutionReport(
        n=ns,
        actions=S,
        path_changes=changes,
        order=order,
        asymptotic=asymptotic,
        error=err,
        relative_error=rel,
        extrapolated_action=extrap,
        rtol=rtol,
        resolved=bool(rel <= rtol),
    )
