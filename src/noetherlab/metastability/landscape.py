r"""The attractor landscape of a time-independent model: attractors, saddles, transitions, rates.

One call, :func:`landscape`, answers "which stable states are there, through which saddles do
noise-driven transitions between them go, and how rare is each?":

1. **Fixed points** in a box (:func:`noetherlab.metastability.fixed_points.find_fixed_points`), classified by the
   eigenvalues of the drift Jacobian ``J``.
2. **Connections.** From every index-1 saddle ``s`` the deterministic flow ``ẋ = f(x)`` is integrated
   (diffrax, ``Tsit5``, until steady state) from ``s ± δ v``, ``v`` the unstable eigenvector: the
   two attractors it reaches are the two sides of the transition through ``s``.
3. **Barriers.** The E = 0 minimum-action path (instanton) from each attractor ``a`` up to ``s``
   (the geometric solver); its action ``S = ΔΦ`` is the quasi-potential barrier in the model's own
   noise units: mean exit times grow like ``exp(S)``. For ``D = ε I``, ``ε·S`` is the barrier per
   unit noise.
4. **Rates** (:mod:`noetherlab.metastability.escape_rates`, constant ``D``). When the drift is a gradient in the
   noise metric (``f = −D ∇V``; tested by the symmetry of ``D⁻¹J`` at every fixed point and at
   random states of the box), the Eyring–Kramers formula gives the mean transition time from ``a``
   to the attractor across ``s``:

   .. math:: τ_{a→b} ≈ \frac{2π}{λ_s^+}\sqrt{\frac{|\det J(s)|}{|\det J(a)|}}\; e^{S},

   ``λ_s^+`` the positive eigenvalue of ``J(s)`` (for ``f = −D∇V``: ``J = −D ∇²V`` and ``S = ΔV``,
   so this is the usual ``2π/|λ_1(s)| · sqrt(|det ∇²V(s)|/det ∇²V(a)) · e^{ΔV}``). For any other
   drift the Bouchet–Reygner generalisation (quasi-potential Hessians and the divergence of the
   non-gradient part integrated along the instanton) replaces it. The relative error of both is
   ``O(1/S)`` (tests/metastability/test_escape_rates.py) or slower: for Maier–Stein with ``β = 10, μ = 2`` the
   ratio to the exact time was measured 0.39, 0.59, 0.74 at ``S = 5, 10, 20``.
6. **Extended attractors.** A continuum of fixed points that attracts (a ring or a line,
   :func:`~noetherlab.metastability.manifolds.attractor_manifold`: its drift, normal stability and
   the diffusion along it) and the stable limit cycles the flow settles on
   (:func:`~noetherlab.metastability.limit_cycles.find_limit_cycle`) are attractors too, each as one
   object in :attr:`Landscape.extended`. Their transitions are :class:`~noetherlab.metastability.
   escapes.Escape` s in :attr:`Landscape.escapes`: off the attractor over a saddle to another
   attractor, into it from a point attractor, or off it to an unstable point inside and back
   (the barrier is the least ``E = 0`` action over points of the attractor). No rate formula for an
   extended attractor is implemented: escapes carry barriers, not rates.
5. **Several instantons.** The ``E = 0`` solve is repeated from the first instanton mirrored through
   the chord attractor–saddle; a converged, distinct second path (Maier–Stein with ``β > 4`` has
   two mirror-image instantons) adds its rate: ``1/τ = Σ 1/τ_i``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NoetherlabError, UnsupportedModelError
from noetherlab._core.status import Converged, PathStatus, RateStatus
from noetherlab._core.validation import positive_int
from noetherlab.metastability.basins import attractor_owner, extended_curve, flow_ends, on_curve
from noetherlab.metastability.escape_rates import EscapeTime, bouchet_reygner, eyring_kramers
from noetherlab.metastability.escapes import Escape, escape_path
from noetherlab.metastability.fixed_points import (
    FixedPoint,
    FixedPointSearch,
    continuum_error,
    find_fixed_points,
)
from noetherlab.metastability.limit_cycles import LimitCycle, find_limit_cycle
from noetherlab.metastability.manifolds import AttractorManifold, attractor_manifold
from noetherlab.metastability.sampled_rates import SampledRate, as_rate_options
from noetherlab.sde.model import SDE, require_sde

__all__ = ["Landscape", "Transition", "landscape"]

Array = jax.Array


@dataclass(frozen=True)
class Transition(Converged):
    """A noise-driven transition ``source → target`` (attractor indices) over the saddle ``saddle``
    (an index into :attr:`Landscape.saddles`).

    Attributes:
        barrier: action ``S`` of the E = 0 path from the source attractor to the saddle.
        status: how the E = 0 path solves ended (``PathStatus.successful`` when every instanton
            converged; ``barrier`` is only meaningful then — see :attr:`converged`).
        mean_exit_time: ``τ`` (Eyring–Kramers or Bouchet–Reygner; ``None`` when not available).
        prefactor: ``τ e^{−S}`` (or ``None``).
        rate_status: which formula gave ``τ`` (``RateStatus.eyring_kramers``,
            ``bouchet_reygner``, ``mirror_instantons``), or why there is none; ``rate_message``
            says so with the numbers.
        instantons: number of distinct E = 0 paths whose rates were added.
        divergence_integral: ``∫∇·ℓ dt`` of the (first) instanton, 0 for gradient drifts.
        prefactor_error: estimated relative error of the prefactor from the path discretisation.
        path: the (first) E = 0 path, states ``(n+1, N)``.
    """

    source: int
    target: int
    saddle: int
    barrier: float
    status: PathStatus
    mean_exit_time: float | None
    prefactor: float | None
    rate_status: RateStatus
    rate_message: str
    instantons: int
    divergence_integral: float | None
    prefactor_error: float | None
    path: np.ndarray = field(repr=False)
    sampled: SampledRate | None = None

    @property
    def rate(self) -> float | None:
        return None if self.mean_exit_time is None else 1.0 / self.mean_exit_time

    @property
    def exit_time(self) -> float | None:
        """The asymptotic mean exit time where it applies, else the sampled or grid one."""
        if self.mean_exit_time is not None:
            return self.mean_exit_time
        return None if self.sampled is None else self.sampled.mean_exit_time

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "via_saddle": self.saddle,
            "barrier": self.barrier,
            "status": self.status.name,
            "converged": self.converged,
            "rate": self.rate,
            "mean_exit_time": self.mean_exit_time,
            "prefactor": self.prefactor,
            "rate_status": self.rate_status.name,
            "rate_message": self.rate_message,
            "instantons": self.instantons,
            "divergence_integral": self.divergence_integral,
            "prefactor_error": self.prefactor_error,
            "sampled": None if self.sampled is None else self.sampled.as_dict(),
        }


@dataclass(frozen=True)
class Landscape:
    """Attractors, index-1 saddles and the transitions between them (see the module docstring);
    ``extended`` holds the rings, lines and limit cycles (each one attractor, labelled
    ``"ring 0"``, ``"line 0"``, ``"cycle 0"`` in ``escapes``), ``escapes`` the transitions that
    involve them."""

    model: str
    attractors: tuple[FixedPoint, ...]
    saddles: tuple[FixedPoint, ...]
    transitions: tuple[Transition, ...]
    gradient: bool
    search: FixedPointSearch
    stats: dict[str, Any] = field(default_factory=dict)
    extended: tuple[LimitCycle | AttractorManifold, ...] = ()
    escapes: tuple[Escape, ...] = ()

    @property
    def dim(self) -> int:
        """The model's state dimension."""
        if self.attractors:
            return int(self.attractors[0].x.size)
        if self.extended:
            e = self.extended[0]
            return int((e.x if isinstance(e, LimitCycle) else e.points).shape[1])
        return int(self.search.points[0].x.size)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: ``attractors``, ``saddles`` (each with ``x``, ``eigenvalues``, ``index``) and
        ``transitions`` (from, to, via saddle, barrier, rate, mean exit time)."""
        return {
            "model": self.model,
            "gradient": self.gradient,
            "attractors": [p.as_dict() for p in self.attractors],
            "saddles": [p.as_dict() for p in self.saddles],
            "transitions": [t.as_dict() for t in self.transitions],
            "search": {k: v for k, v in self.search.as_dict().items() if k != "points"},
            "other_fixed_points": [
                p.as_dict()
                for p in self.search.points
                if p not in self.attractors and p not in self.saddles
            ],
            "extended": [
                {"label": extended_label(self.extended, j), **e.as_dict()}
                for j, e in enumerate(self.extended)
            ],
            "escapes": [e.as_dict() for e in self.escapes],
        }

    def route(self, source: int, target: int) -> tuple[list[int], float]:
        """The most likely sequence of transitions from attractor ``source`` to ``target`` at weak
        noise: the route whose largest barrier is smallest (ties: smallest sum of barriers), as
        attractor indices, with that largest barrier (``inf`` and ``[]`` when not connected).
        Only converged transitions count."""
        import heapq

        edges: dict[int, list[tuple[int, float]]] = {}
        for t in self.transitions:
            if t.converged:
                edges.setdefault(t.source, []).append((t.target, t.barrier))
        best: dict[int, tuple[float, float]] = {source: (0.0, 0.0)}
        heap: list[tuple[float, float, int, list[int]]] = [(0.0, 0.0, source, [source])]
        while heap:
            worst, total, node, seq = heapq.heappop(heap)
            if node == target:
                return seq, worst
            for nxt, barrier in edges.get(node, []):
                key = (max(worst, barrier), total + barrier)
                if nxt not in best or key < best[nxt]:
                    best[nxt] = key
                    heapq.heappush(heap, (*key, nxt, [*seq, nxt]))
        return [], float("inf")

    def to_dataset(self) -> Any:
        """The transition graph as an ``xarray.Dataset``: attractors and saddles (states,
        eigenvalues), transitions as edges (``source``, ``target``, ``saddle``, ``barrier``,
        ``mean_exit_time`` — NaN where not available —, ``instantons``, ``rate_status``,
        ``rate_message``) with their
        E = 0 paths resampled to a common number of nodes; dims ``attractor``, ``saddle``,
        ``transition``, ``node``, ``dim``, ``eig``. Save with :func:`noetherlab._core.io.save_dataset`."""
        import xarray as xr

        from noetherlab._core.interp import resample_uniform

        def points(ps: tuple[FixedPoint, ...], name: str) -> dict[str, Any]:
            dim = self.dim
            x = np.stack([p.x for p in ps]) if ps else np.zeros((0, dim))
            w = np.stack([p.eigenvalues for p in ps]) if ps else np.zeros((0, dim), complex)
            return {
                f"{name}_x": ((name, "dim"), x),
                f"{name}_eig_real": ((name, "eig"), w.real),
                f"{name}_eig_imag": ((name, "eig"), w.imag),
                f"{name}_index": ((name,), np.array([p.index for p in ps], dtype=np.int64)),
            }

        dim = self.dim
        nodes = max((t.path.shape[0] for t in self.transitions), default=2)
        ts = self.transitions

        def column(get: Any, dtype: Any = np.float64) -> tuple[tuple[str], np.ndarray]:
            return (("transition",), np.array([get(t) for t in ts], dtype=dtype))

        data = {
            **points(self.attractors, "attractor"),
            **points(self.saddles, "saddle"),
            "source": column(lambda t: t.source, np.int64),
            "target": column(lambda t: t.target, np.int64),
            "via_saddle": column(lambda t: t.saddle, np.int64),
            "barrier": column(lambda t: t.barrier),
            "converged": column(lambda t: t.converged, bool),
            "mean_exit_time": column(
                lambda t: np.nan if t.mean_exit_time is None else t.mean_exit_time
            ),
            "instantons": column(lambda t: t.instantons, np.int64),
            "rate_status": column(lambda t: t.rate_status.name, str),
            "rate_message": column(lambda t: t.rate_message, str),
            "sampled_exit_time": column(
                lambda t: (
                    np.nan
                    if t.sampled is None or t.sampled.mean_exit_time is None
                    else t.sampled.mean_exit_time
                )
            ),
            "sampled_method": column(
                lambda t: "" if t.sampled is None else t.sampled.method.name, str
            ),
            "path": (
                ("transition", "node", "dim"),
                np.stack([resample_uniform(t.path, nodes) for t in ts])
                if ts
                else np.zeros((0, nodes, dim)),
            ),
        }
        attrs: dict[str, Any] = {
            "kind": "Landscape",
            "model": self.model,
            "gradient": int(self.gradient),
        }
        if self.extended:  # rings, lines and cycles with their escapes, as JSON text
            import json

            from noetherlab._core.io import to_jsonable

            d = self.as_dict()
            attrs["extended_json"] = json.dumps(to_jsonable(d["extended"]))
            attrs["escapes_json"] = json.dumps(to_jsonable(d["escapes"]))
        return xr.Dataset(data, attrs=attrs)

    def save(self, path: Any, parameters: dict[str, Any] | None = None) -> Any:
        """Write the transition graph atomically: netCDF (``.nc``, :meth:`to_dataset`) or JSON
        (``.json``, :meth:`as_dict`), with the noetherlab version and ``parameters``."""
        from pathlib import Path

        from noetherlab._core.io import save_dataset, save_json

        suffix = Path(path).suffix
        if suffix == ".json":
            return save_json(path, self.as_dict(), parameters)
        if suffix in (".nc", ".nc4"):
            return save_dataset(path, self.to_dataset(), parameters)
        raise InvalidArgumentError(
            "path", f"unknown file type {suffix!r}", "name the file *.nc (netCDF) or *.json"
        )

    def summary(self) -> str:
        lines = [
            f"{self.model}: {len(self.attractors)} attractors, {len(self.saddles)} index-1 saddles, "
            f"{len(self.transitions)} transitions ({'gradient' if self.gradient else 'non-gradient'} "
            "drift)"
            + (
                f"; {len(self.extended)} extended attractor(s), {len(self.escapes)} escapes"
                if self.extended
                else ""
            )
        ]
        for t in self.transitions:
            barrier = f"barrier {t.barrier:.6g}" + ("" if t.converged else f" ({t.status.name})")
            if t.mean_exit_time is None:
                tau = f", no rate ({t.rate_status.name})"
            else:
                tau = f", mean exit time {t.mean_exit_time:.4g} ({t.rate_status.name})"
                if "caveat" in t.rate_message:
                    tau += " with a caveat"
            if t.sampled is not None:
                sr = t.sampled
                if sr.mean_exit_time is None:
                    tau += f"; {sr.method.name}: none"
                else:
                    lo, hi = sr.interval or (np.nan, np.nan)
                    tau += f"; {sr.method.name} {sr.mean_exit_time:.4g} [{lo:.3g}, {hi:.3g}]"
            lines.append(f"  {t.source} → {t.target} via saddle {t.saddle}: {barrier}{tau}")
        for j, ea in enumerate(self.extended):
            lines.append(f"  {extended_label(self.extended, j)}: {ea.message}")
        for esc in self.escapes:
            barrier = f"barrier {esc.barrier:.6g}" + (
                "" if esc.converged else f" ({esc.status.name})"
            )
            lines.append(f"  {esc.source} → {esc.target_label} via {esc.via}: {barrier}, no rate")
        if any(not t.converged for t in (*self.transitions, *self.escapes)):
            lines.append("  barriers marked with a status other than successful are not converged")
        return "\n".join(lines)


def extended_label(extended: tuple[Any, ...], j: int) -> str:
    """``"cycle j"``, ``"ring j"`` or ``"line j"``: the name of ``extended[j]`` in escapes."""
    e = extended[j]
    return f"{'cycle' if isinstance(e, LimitCycle) else e.kind} {j}"


def _is_gradient(sde: SDE, points: list[np.ndarray], box: np.ndarray | None, key: int) -> bool:
    """``f = −D∇V`` with constant ``D`` ⇔ ``D⁻¹J`` symmetric everywhere; tested at the fixed points
    and 16 random states of the box, relative tolerance 1e-8."""
    if not sde.constant_diffusion or sde.degenerate:
        return False
    if sde.dim == 1:  # every 1-D drift is a gradient: f = −D V' with V = −∫ f / D
        return True
    probes = list(points)
    if box is not None:
        rng = np.random.default_rng(key + 1)
        probes += list(box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((16, sde.dim)))
    Dinv = np.asarray(sde.D_inv(jnp.zeros(sde.dim)))
    J = np.asarray(jax.vmap(jax.jacfwd(lambda x: sde.f(x, 0.0)))(jnp.asarray(np.stack(probes))))
    M = np.einsum("ij,kjl->kil", Dinv, J)
    M = M[np.all(np.isfinite(M), axis=(1, 2))]  # where the drift is defined
    asym = np.abs(M - np.swapaxes(M, 1, 2)).max(axis=(1, 2))
    return bool(np.all(asym <= 1e-8 * np.maximum(np.abs(M).max(axis=(1, 2)), 1e-300)))


def _instantons(sde: SDE, a: np.ndarray, s: np.ndarray, n: int) -> list[Any]:
    """The E = 0 paths ``a → s``: the default solve and, when it bends away from the chord, the
    solve started from its mirror image through the chord, kept if converged and distinct."""
    from noetherlab.paths import most_likely_path

    first = most_likely_path(sde, a, s, energy=0.0, n=n)
    e = (s - a) / np.linalg.norm(s - a)
    along = a + np.outer((first.x - a) @ e, e)
    scale = 1e-3 * (1.0 + np.linalg.norm(s - a))
    if not first.converged or np.abs(first.x - along).max() <= scale:
        return [first]
    second = most_likely_path(sde, a, s, energy=0.0, n=n, init=2 * along - first.x)
    gap = np.linalg.norm(second.x[:, None, :] - first.x[None, :, :], axis=-1).min(axis=1).max()
    if not (second.converged and gap > scale):
        return [first]
    return sorted([first, second], key=lambda p: p.action)


def _transition(
    sde: SDE,
    attractors: tuple[FixedPoint, ...],
    saddle: FixedPoint,
    a: int,
    b: int,
    k: int,
    gradient: bool,
    n: int,
) -> Transition:
    """The transition ``a → b`` over the saddle ``k``: instantons, barrier and mean exit time."""
    paths = _instantons(sde, attractors[a].x, saddle.x, n)
    first = paths[0]
    failed = [p for p in paths if not p.converged]
    status = failed[0].status if failed else PathStatus.successful

    def without_rate(why: RateStatus, message: str) -> Transition:
        return Transition(
            a, b, k, first.action, status, None, None, why, message, len(paths), None, None, first.x
        )

    if failed:
        return without_rate(
            RateStatus.path_not_converged, f"the E = 0 path did not converge: {failed[0].message}"
        )
    if not sde.constant_diffusion or sde.degenerate:
        return without_rate(
            RateStatus.noise_not_constant, "the rate formulas need constant, non-degenerate noise"
        )
    # Eyring–Kramers counts the saddle once; Bouchet–Reygner adds the instantons' rates
    times: list[EscapeTime] = (
        [eyring_kramers(sde, attractors[a].x, saddle.x, first.action)]
        if gradient
        else [bouchet_reygner(sde, p.x, p.action) for p in paths]
    )
    # a NaN mismatch (the transport broke down) is a mismatch too, never a pass
    mismatch = max((t.saddle_mismatch for t in times), key=lambda m: np.inf if np.isnan(m) else m)
    if not mismatch <= 1e-3:
        return without_rate(
            RateStatus.saddle_mismatch,
            "the quasi-potential Hessian transported along the instanton does not match the "
            f"saddle's (mismatch {mismatch:.2g}: a stiff drift, or a saddle whose quasi-potential "
            "Hessian is not the Lyapunov solution)",
        )
    kinked = False
    if len(times) > 1 and not gradient:
        H = [np.asarray(t.saddle_hessian) for t in times]
        gap = max(float(np.linalg.norm(h - H[0]) / np.linalg.norm(H[0])) for h in H)
        # mirror images (the same prefactor, and Hessians of the same determinant): each carries
        # its own branch of the quasi-potential to the saddle; their rates add
        mirror = all(
            abs(t.prefactor / times[0].prefactor - 1) < 1e-3
            and abs(np.linalg.det(h) / np.linalg.det(H[0]) - 1) < 1e-3
            for t, h in zip(times, H, strict=True)
        )
        kinked = gap > 1e-3 and mirror
        if gap > 1e-3 and not mirror:
            return without_rate(
                RateStatus.several_instantons,
                f"{len(times)} instantons reach the saddle with different quasi-potential "
                f"Hessians (relative difference {gap:.2g}), so the quasi-potential is not smooth "
                "there and the Bouchet–Reygner formula does not apply (use "
                "noetherlab.fokker_planck for N ≤ 3, or simulate)",
            )
    tau = 1.0 / sum(1.0 / t.mean_exit_time for t in times)
    if not (np.isfinite(tau) and tau > 0):
        return without_rate(
            RateStatus.nonfinite,
            f"the formula gave a mean exit time of {tau!r} (a non-finite prefactor or divergence "
            "integral along the instanton)",
        )
    if kinked:
        rate_status = RateStatus.mirror_instantons
        message = (
            f"{times[0].method} ({len(times)} mirror-image instantons, rates added; the "
            "quasi-potential has a kink at the saddle: slow approach to the weak-noise limit, "
            "see noetherlab.metastability.escape_rates)"
        )
    else:
        rate_status = RateStatus.eyring_kramers if gradient else RateStatus.bouchet_reygner
        message = times[0].method + (f" ({len(times)} instantons)" if len(times) > 1 else "")
    caveats = [c for c in (times[0].caveat, _resolution_caveat(first)) if c]
    if caveats:
        message += "; caveat: " + "; ".join(caveats)
    return Transition(
        a,
        b,
        k,
        first.action,
        status,
        float(tau),
        float(tau * np.exp(-first.action)),
        rate_status,
        message,
        len(paths),
        times[0].divergence_integral,
        max(t.integral_error for t in times),
        first.x,
    )


def _resolution_caveat(path: Any) -> str:
    """Why the barrier of ``path`` may be off by more than its resolution tolerance ("" if not)."""
    report = path.resolution
    if report is None:
        return "the barrier's discretisation error was not estimated"
    if not report.resolved:
        return (
            f"the barrier's estimated relative discretisation error {report.relative_error:.1e} "
            f"exceeds {report.rtol:g} at n = {path.n} (pass a larger n)"
        )
    return ""


#: fewest segments of an E = 0 path in a landscape (the resolution study halves the grid twice)
MIN_SEGMENTS = 16


def landscape(
    sde: SDE,
    box: Any = None,
    *,
    seeds: Any = None,
    starts: int | None = None,
    key: int = 0,
    n: int = 400,
    rates: Any = "asymptotic",
    cycles: bool | None = None,
) -> Landscape:
    """Attractors, saddles, transitions, barriers and mean exit times (Eyring–Kramers for gradient
    drifts, Bouchet–Reygner otherwise; ``None`` with the reason where the formula does not apply)
    of a time-independent ``sde`` in ``box`` (see :func:`find_fixed_points` for ``box``,
    ``seeds``, ``starts``, ``key``); ``n`` segments for each E = 0 path.

    ``rates``: ``"asymptotic"`` (the formulas only), ``"sampled"`` (also an AMS mean exit time at
    the model's noise for every transition, :class:`~noetherlab.metastability.sampled_rates.SampledRates`),
    ``"grid"`` (also the grid generator's, N ≤ 3, on ``box``), or one of those options objects:
    each transition's :attr:`Transition.sampled` then holds the second rate with its method and
    error bar, side by side with the asymptotic one.

    ``cycles``: look for stable limit cycles by following the flow from 32 states of the box (or
    seeds): ``None`` (default) only when no point or manifold attractor was found, ``True``
    always, ``False`` never. An attracting continuum of fixed points is always taken as one
    attractor (a ring or line, :attr:`Landscape.extended`).

    Raises:
        InvalidArgumentError: no attractor found in the region (naming what was searched).
        UnsupportedModelError: time-dependent drift, or a continuum of fixed points that is not
            one attracting ring or line.
    """
    sde = require_sde(sde)
    n = positive_int(n, "n", MIN_SEGMENTS)
    if cycles not in (None, True, False):
        raise InvalidArgumentError(
            "cycles", f"must be None, True or False, got {cycles!r}", "pass cycles=True"
        )
    options = as_rate_options(rates, box)
    search = find_fixed_points(sde, box, seeds=seeds, starts=starts, key=key, continuum="keep")
    attractors = tuple(search.attractors)
    flat = [p for p in search.points if p.kind == "non-hyperbolic"]
    extended: list[LimitCycle | AttractorManifold] = []
    if len(flat) >= 2:
        extended.append(_manifold(sde, flat))
    if cycles or (cycles is None and not attractors and not extended):
        region = search.region.get("box")
        extended += _limit_cycles(sde, None if region is None else np.asarray(region), seeds, key)
    if not attractors and not extended and flat:
        raise UnsupportedModelError(
            f"`{sde.name}`: the only fixed point(s) found are non-hyperbolic (a zero Jacobian "
            f"eigenvalue, e.g. at {np.round(flat[0].x, 6).tolist()}, as for f = −x³ at 0): whether "
            "they attract cannot be read off the linearisation, and the barrier and rate "
            "formulas need hyperbolic attractors. Fix: study such a point with simulate or "
            "fokker_planck, or add a linear restoring term"
        )
    if not attractors and not extended:
        raise InvalidArgumentError(
            "box" if box is not None else "seeds",
            f"no attractor of `{sde.name}` found (no stable fixed point, ring, line or limit "
            f"cycle): {search.summary()}",
            "enlarge the box, or pass seeds near the states you expect (e.g. simulated end states)",
        )
    ext = tuple(extended)
    saddles = tuple(p for p in search.points if p.index == 1 and p.kind != "non-hyperbolic")
    transitions: list[Transition] = []
    escapes: list[Escape] = []
    box_arr = None if box is None else np.asarray(search.region["box"])
    gradient = _is_gradient(sde, [p.x for p in search.points], box_arr, key) and not ext
    owner = _owners(attractors, ext)
    t1 = (
        200.0 / min(float(-np.max(p.eigenvalues.real)) for p in attractors) if attractors else 200.0
    )
    reached = {k: _sides(sde, s, t1, owner) for k, s in enumerate(saddles)}
    reached = {k: v for k, v in reached.items() if v}
    for k, sides in reached.items():
        if len(sides) != 2 or (sides[0] == sides[1] and isinstance(sides[0], int)):
            continue
        s = saddles[k]
        a, b = sides
        if isinstance(a, int) and isinstance(b, int):
            for i, j in ((a, b), (b, a)):
                transitions.append(_transition(sde, attractors, s, i, j, k, gradient, n))
            continue
        pairs: tuple[tuple[int | str, int | str], ...] = ((a, b), (b, a)) if a != b else ((a, a),)
        for src, dst in pairs:
            escapes.append(_escape(sde, attractors, ext, src, dst, f"saddle {k}", s.x, n))
    # the unstable points inside a ring or cycle: off the attractor and back
    inner = [p for p in search.points if p.index >= 2 and p.kind != "non-hyperbolic"]
    for m, p in enumerate(inner):
        out = _sides(sde, p, t1, owner)
        if len(out) == 2 and out[0] == out[1] and isinstance(out[0], str):
            escapes.append(
                _escape(sde, attractors, ext, out[0], out[0], f"unstable point {m}", p.x, n)
            )
    if options is not None:
        transitions = [replace(t, sampled=_sampled(options, sde, attractors, saddles, t))
                       for t in transitions]  # fmt: skip
    return Landscape(
        sde.name,
        attractors,
        saddles,
        tuple(transitions),
        gradient,
        search,
        {"connections": {str(k): v for k, v in reached.items()}},
        ext,
        tuple(escapes),
    )


def _manifold(sde: SDE, flat: list[FixedPoint]) -> AttractorManifold:
    """The attracting ring or line through the non-hyperbolic fixed points ``flat``, or the
    continuum refusal saying why it is not one."""
    try:
        m = attractor_manifold(sde, np.stack([p.x for p in flat]))
    except NoetherlabError as err:
        raise continuum_error(sde, flat, str(err)) from None
    if not float(np.max(m.normal_rate)) < 0:
        raise continuum_error(
            sde, flat, f"it repels in a normal direction, rate up to {np.max(m.normal_rate):.3g}"
        )
    return m


#: states followed by the flow in the search for limit cycles
CYCLE_PROBES = 32


def _limit_cycles(sde: SDE, box: np.ndarray | None, seeds: Any, key: int) -> list[LimitCycle]:
    """The distinct stable limit cycles reached by the flow from ``CYCLE_PROBES`` states of the box
    (or the first seeds): ends that are not at rest start :func:`find_limit_cycle`."""
    if sde.dim < 2:
        return []
    if box is not None:
        rng = np.random.default_rng(key + 2)
        probes = box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((CYCLE_PROBES, sde.dim))
    else:
        probes = np.atleast_2d(np.asarray(seeds, dtype=float))[:CYCLE_PROBES]
    ends = np.asarray(flow_ends(sde, jnp.asarray(probes), jnp.asarray(200.0)))
    speed = np.abs(sde.drift_at(ends)).max(axis=1)
    found: list[LimitCycle] = []
    tries = 0
    for e in ends[np.isfinite(speed) & (speed > 1e-6)]:
        if any(on_curve(c.x, e) for c in found) or tries >= 4:
            continue
        tries += 1
        c = find_limit_cycle(sde, e, settle=50.0)
        if c.found and c.stable:
            found.append(c)
    return found


def _owners(attractors: tuple[FixedPoint, ...], ext: tuple[Any, ...]) -> Any:
    """``owner(x)``: the index of the point attractor a flow end ``x`` sits at, the label of the
    extended attractor it lies on, or ``None``."""
    A = np.stack([p.x for p in attractors]) if attractors else np.zeros((0, 0))
    find = attractor_owner(A, [extended_curve(e) for e in ext])

    def owner(x: np.ndarray) -> int | str | None:
        k = find(x)
        if k is None or k < len(attractors):
            return k
        return extended_label(ext, k - len(attractors))

    return owner


def _sides(sde: SDE, p: FixedPoint, t1: float, owner: Any) -> list[int | str]:
    """Where the flow goes from both sides of ``p`` along its leading unstable eigenvector: the
    owners of the two ends (fewer when an end is not at an attractor)."""
    w, V = np.linalg.eig(np.asarray(jax.jacfwd(lambda x: sde.f(x, 0.0))(jnp.asarray(p.x))))
    v = np.real(V[:, int(np.argmax(w.real))])
    v /= np.linalg.norm(v)
    delta = 1e-4 * (1.0 + np.linalg.norm(p.x))
    ends = np.asarray(
        flow_ends(sde, jnp.asarray(np.stack([p.x + delta * v, p.x - delta * v])), jnp.asarray(t1))
    )
    return [o for o in (owner(e) for e in ends) if o is not None]


def _escape(
    sde: SDE,
    attractors: tuple[FixedPoint, ...],
    ext: tuple[Any, ...],
    source: int | str,
    target: int | str,
    via: str,
    z: np.ndarray,
    n: int,
) -> Escape:
    """The escape from ``source`` (a point attractor's index or an extended attractor's label) to
    the state ``z`` of ``via``, labelled with where the flow from there goes (``target``)."""
    if isinstance(source, int):
        esc = escape_path(sde, attractors[source].x[None, :], z, starts=1, n=n)
        name = f"attractor {source}"
    else:
        j = int(source.split()[1])
        esc = escape_path(sde, ext[j], z, n=n)
        name = source
    to = f"attractor {target}" if isinstance(target, int) else target
    return replace(esc, source=name, via=via, target_label=to)


def _sampled(options: Any, sde: SDE, attractors: Any, saddles: Any, t: Transition) -> Any:
    """The non-asymptotic rate of ``t`` (``options.rate``), told of the other attractors."""
    others = [m.x for k, m in enumerate(attractors) if k not in (t.source, t.target)]
    a, s, b = attractors[t.source].x, saddles[t.saddle].x, attractors[t.target].x
    return options.rate(sde, a, s, b, t.path, others)
