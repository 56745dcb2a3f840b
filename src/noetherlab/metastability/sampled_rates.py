r"""Rates for every transition of a landscape at the model's own noise (``landscape(rates=...)``).

The asymptotic formulas (Eyring–Kramers, Bouchet–Reygner) are small-noise statements and are
withheld where they do not apply. Two options objects fill each transition ``a → b`` over the
saddle ``s`` with a second, non-asymptotic mean exit time, labelled with its method and error bar:

* :class:`SampledRates` — :func:`~noetherlab.ensembles.transition_time.sampled_exit_time`
  (adaptive multilevel splitting and the loop decomposition) between the balls
  ``A = B(a, r|a − s|)`` and ``B = B(b, r|b − s|)``, scored by the progress along the instanton and
  the descent from the saddle (:func:`~noetherlab.metastability.reaction_coordinates.transition_coordinate`),
  or by the grid committor (N ≤ 3, ``coordinate="committor"``), or the normalised
  quasi-potentials ``V_a/(V_a + V_b)`` (2-D, constant noise, ``coordinate="quasi-potential"``),
  or the chord;
  the error bar is the 95 % interval (``RateStatus.sampled``);
* :class:`GridRates` — the mean first-passage time from ``a`` to ``B`` of the Fokker–Planck grid
  generator (N ≤ 3), with the difference to the half grid as its discretisation error
  (``RateStatus.grid``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NoetherlabError
from noetherlab._core.status import RateStatus
from noetherlab._core.validation import choice, positive_float, positive_int
from noetherlab.ensembles.boundaries import ball, balls, half_space
from noetherlab.ensembles.reaction import ReactionCoordinate, Region, chord_coordinate
from noetherlab.ensembles.transition_time import sampled_exit_time
from noetherlab.metastability.fokker_planck import fokker_planck
from noetherlab.metastability.reaction_coordinates import (
    committor_coordinate,
    quasi_potential_coordinate,
    transition_coordinate,
)
from noetherlab.sde.model import SDE

__all__ = ["GridRates", "SampledRate", "SampledRates", "as_rate_options"]


@dataclass(frozen=True)
class SampledRate:
    """A non-asymptotic mean exit time: ``method`` (``RateStatus.sampled``/``grid``, or
    ``sampling_failed``), the time and its 95 % interval (``None`` when it failed), a message."""

    method: RateStatus
    mean_exit_time: float | None
    interval: tuple[float, float] | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method.name,
            "mean_exit_time": self.mean_exit_time,
            "interval": None if self.interval is None else list(self.interval),
            "message": self.message,
        }


def _balls(a: np.ndarray, s: np.ndarray, b: np.ndarray, radius: float) -> tuple[float, float]:
    return radius * float(np.linalg.norm(a - s)), radius * float(np.linalg.norm(b - s))


@dataclass(frozen=True)
class SampledRates:
    """Options of the AMS rates of a landscape (see the module text).

    ``radius`` is the fraction of the attractor–saddle distance the balls ``A`` and ``B`` take
    (``sets="balls"``), or the chord level of the half-spaces ``A = {ξ <= radius}``,
    ``B = {ξ >= 1 − radius}`` of ``ξ(x) = (x − a)·(b − a)/|b − a|²`` (``sets="half-spaces"``: in
    many dimensions, where the noise spreads the states over ``~√(N D)`` and a small ball is never
    entered); ``box``/``cells`` only for ``coordinate="committor"`` and ``"quasi-potential"``. The
    others are those of ``sampled_exit_time`` (``method="auto"`` times a transition that is not
    rare at this noise by direct simulation; the message says so). ``burn_in`` (time) lets the
    loop chains mix over ``A`` first: give it, several times the cluster's own exchange times,
    when ``A`` also holds the ``others`` (see ``sampled_exit_time``)."""

    replicas: int = 100
    repetitions: int = 8
    kill: int | None = None
    levels: int = 200
    dt: float = 1e-3
    radius: float = 0.1
    sets: str = "balls"
    coordinate: str = "instanton"
    box: Any = None
    cells: int = 100
    loops: int = 500
    chains: int = 128
    key: int = 0
    method: str = "auto"
    burn_in: float | None = None

    def __post_init__(self) -> None:
        positive_int(self.replicas, "replicas", 10)
        positive_int(self.repetitions, "repetitions")
        positive_float(self.dt, "dt", "time step")
        if not 0 < positive_float(self.radius, "radius", "fraction") < 0.5:
            raise InvalidArgumentError(
                "radius", f"= {self.radius} must be a fraction in (0, 0.5)", "pass e.g. 0.1"
            )
        choice(
            self.coordinate, "coordinate", ("instanton", "committor", "quasi-potential", "chord")
        )
        choice(self.sets, "sets", ("balls", "half-spaces"))
        if self.coordinate in ("committor", "quasi-potential") and self.box is None:
            raise InvalidArgumentError(
                "box", f"the {self.coordinate} coordinate needs the grid's box", "pass box=... or use "
                "coordinate='instanton'",
            )  # fmt: skip

    def rate(
        self, sde: SDE, a: np.ndarray, s: np.ndarray, b: np.ndarray, path: Any, others: Any = ()
    ) -> SampledRate:
        """The mean exit time ``a → b`` over the saddle ``s`` (``path``: the instanton ``a → s``).
        ``others``: the landscape's other attractors; with ``sets="balls"`` a splitting replica
        that falls into one of them (balls of ``a``'s radius) fails as if it had returned to
        ``a``, so that loops through a fast-exchanging cluster of attractors are loops, not
        replicas stuck at the horizon (the exit time is then that of the cluster ``a`` belongs
        to, as a first passage into ``B`` from ``a`` is when the cluster mixes fast)."""
        ra, rb = _balls(a, s, b, self.radius)
        score: ReactionCoordinate
        if self.coordinate == "committor":
            grid = fokker_planck(sde, self.box, self.cells)
            start: Any = (a, ra)
            if len(others) and self.sets == "balls":  # the committor against the same A
                start = np.logical_or.reduce([grid.region((c, ra), "A") for c in [a, *others]])
            score = committor_coordinate(grid, start, (b, rb))
        elif self.coordinate == "quasi-potential":
            score = quasi_potential_coordinate(sde, a, b, s, self.box, cells=self.cells)
        elif self.coordinate == "chord":
            score = chord_coordinate(a, b)
        else:
            score = transition_coordinate(sde, path, b)
        if self.sets == "half-spaces":
            A: Any = Region(half_space(a, b, self.radius, "below"), a)
            B: Any = Region(half_space(a, b, 1.0 - self.radius, "above"), b)
        elif len(others):
            A, B = Region(balls(np.vstack([a, *others]), ra), a), ball(b, rb)
        else:
            A, B = ball(a, ra), ball(b, rb)
        try:
            out = sampled_exit_time(
                sde, A, B, score=score, replicas=self.replicas,
                kill=self.kill, repetitions=self.repetitions, levels=self.levels, dt=self.dt,
                loops=self.loops, chains=self.chains, key=self.key, method=self.method,
                burn_in=self.burn_in,
            )  # fmt: skip
        except NoetherlabError as exc:
            return SampledRate(RateStatus.sampling_failed, None, None, str(exc))
        if not out.ok:
            return SampledRate(RateStatus.sampling_failed, None, None, out.message)
        how = (
            f"AMS ({score.name} coordinate, {self.sets}, {self.repetitions} × {self.replicas} "
            f"replicas, dt = {self.dt:g})"
            if out.method == "splitting"
            else f"direct simulation ({self.sets}, {self.chains} chains, dt = {self.dt:g})"
        )
        if len(others) and self.sets == "balls" and out.method == "splitting":
            how += f"; A also holds the {len(others)} other attractors' balls"
            how += (
                f", loops after a burn-in of {self.burn_in:g}"
                if self.burn_in
                else " (no burn-in: loops sampled near the source only)"
            )
        return SampledRate(RateStatus.sampled, out.mean_exit_time, out.interval,
                           f"{how}: {out.message}")  # fmt: skip


@dataclass(frozen=True)
class GridRates:
    """Options of the grid rates of a landscape (N ≤ 3): the ``box`` and ``cells`` of
    :func:`~noetherlab.metastability.fokker_planck.fokker_planck`; the target is the ball
    ``B(b, radius·|b − s|)``."""

    box: Any
    cells: int = 200
    radius: float = 0.1

    def rate(
        self, sde: SDE, a: np.ndarray, s: np.ndarray, b: np.ndarray, path: Any, others: Any = ()
    ) -> SampledRate:
        """The grid's mean first-passage time from ``a`` into ``B`` (any route: ``others`` unused)."""
        _, rb = _balls(a, s, b, self.radius)
        try:
            fine = fokker_planck(sde, self.box, self.cells)
            coarse = fokker_planck(sde, self.box, max(self.cells // 2, 4))
            tau = fine.at(fine.mean_first_passage_time((b, rb)), a)
            tau_c = coarse.at(coarse.mean_first_passage_time((b, rb)), a)
        except NoetherlabError as exc:
            return SampledRate(RateStatus.sampling_failed, None, None, str(exc))
        err = abs(tau - tau_c)
        return SampledRate(
            RateStatus.grid,
            float(tau),
            (max(tau - err, 0.0), tau + err),
            f"grid generator ({self.cells} cells per axis): τ = {tau:.4g}, half-grid difference "
            f"{err / tau:.2g} (relative) as its error bar",
        )


def as_rate_options(rates: Any, box: Any) -> SampledRates | GridRates | None:
    """``rates`` of ``landscape``: ``"asymptotic"`` (None), ``"sampled"``, ``"grid"`` (with the
    landscape's box) or an options object."""
    if isinstance(rates, (SampledRates, GridRates)):
        return rates
    name = choice(rates, "rates", ("asymptotic", "sampled", "grid"))
    if name == "asymptotic":
        return None
    if name == "sampled":
        return SampledRates()
    if box is None:
        raise InvalidArgumentError(
            "rates", "'grid' needs a box for the grid generator", "pass box=... to landscape"
        )
    return GridRates(box)
