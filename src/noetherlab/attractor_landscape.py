r"""The attractor landscape of a time-independent model: attractors, saddles, transitions, rates.

One call, :func:`landscape`, answers "which stable states are there, through which saddles do
noise-driven transitions between them go, and how rare is each?":

1. **Fixed points** in a box (:func:`noetherlab.fixed_points.find_fixed_points`), classified by the
   eigenvalues of the drift Jacobian ``J``.
2. **Connections.** From every index-1 saddle ``s`` the deterministic flow ``ẋ = f(x)`` is integrated
   (diffrax, ``Tsit5``, until steady state) from ``s ± δ v``, ``v`` the unstable eigenvector: the
   two attractors it reaches are the two sides of the transition through ``s``.
3. **Barriers.** The E = 0 minimum-action path (instanton) from each attractor ``a`` up to ``s``
   (the geometric solver); its action ``S = ΔΦ`` is the quasi-potential barrier in the model's own
   noise units: mean exit times grow like ``exp(S)``. For ``D = ε I``, ``ε·S`` is the barrier per
   unit noise.
4. **Rates.** When the drift is a gradient in the noise metric (``f = −D ∇V``, constant ``D``;
   tested by the symmetry of ``D⁻¹J`` at every fixed point and at random states of the box), the
   Eyring–Kramers formula gives the mean transition time from ``a`` to the attractor across ``s``:

   .. math:: τ_{a→b} ≈ \frac{2π}{λ_s^+}\sqrt{\frac{|\det J(s)|}{|\det J(a)|}}\; e^{S},

   ``λ_s^+`` the positive eigenvalue of ``J(s)`` (for ``f = −D∇V``: ``J = −D ∇²V`` and ``S = ΔV``,
   so this is the usual ``2π/|λ_1(s)| · sqrt(|det ∇²V(s)|/det ∇²V(a)) · e^{ΔV}``). The relative error
   of the formula is ``O(1/S)``. For non-gradient drifts only the barrier is reported (the
   Bouchet–Reygner prefactor is not implemented), with that reason stated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab.errors import InvalidArgumentError
from noetherlab.fixed_points import FixedPoint, FixedPointSearch, _Drift, find_fixed_points
from noetherlab.sde import SDE

__all__ = ["Landscape", "Transition", "landscape"]

Array = jax.Array


@dataclass(frozen=True)
class Transition:
    """A noise-driven transition ``source → target`` (attractor indices) over the saddle ``saddle``
    (an index into :attr:`Landscape.saddles`).

    Attributes:
        barrier: action ``S`` of the E = 0 path from the source attractor to the saddle.
        converged: whether that path's solver converged (``barrier`` is only meaningful if so).
        mean_exit_time: Eyring–Kramers ``τ`` (gradient drifts only, else ``None``).
        prefactor: ``τ e^{−S}`` (gradient drifts only, else ``None``).
        rate_method: how ``τ`` was obtained, or why it was not.
        path: the E = 0 path, states ``(n+1, N)``.
    """

    source: int
    target: int
    saddle: int
    barrier: float
    converged: bool
    mean_exit_time: float | None
    prefactor: float | None
    rate_method: str
    path: np.ndarray = field(repr=False)

    @property
    def rate(self) -> float | None:
        return None if self.mean_exit_time is None else 1.0 / self.mean_exit_time

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "via_saddle": self.saddle,
            "barrier": self.barrier,
            "converged": self.converged,
            "rate": self.rate,
            "mean_exit_time": self.mean_exit_time,
            "prefactor": self.prefactor,
            "rate_method": self.rate_method,
        }


@dataclass(frozen=True)
class Landscape:
    """Attractors, index-1 saddles and the transitions between them (see the module docstring)."""

    model: str
    attractors: tuple[FixedPoint, ...]
    saddles: tuple[FixedPoint, ...]
    transitions: tuple[Transition, ...]
    gradient: bool
    search: FixedPointSearch
    stats: dict[str, Any] = field(default_factory=dict)

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
        }

    def summary(self) -> str:
        lines = [
            f"{self.model}: {len(self.attractors)} attractors, {len(self.saddles)} index-1 saddles, "
            f"{len(self.transitions)} transitions ({'gradient' if self.gradient else 'non-gradient'} "
            "drift)"
        ]
        for t in self.transitions:
            tau = "" if t.mean_exit_time is None else f", mean exit time {t.mean_exit_time:.4g}"
            lines.append(
                f"  {t.source} → {t.target} via saddle {t.saddle}: barrier {t.barrier:.6g}{tau}"
            )
        return "\n".join(lines)


@eqx.filter_jit
def _flow_ends(args: _Drift, x0: Array, t1: Array) -> Array:
    """End states of ``ẋ = f(x)`` from each row of ``x0`` (until ``t1`` or steady state)."""

    def one(x: Array) -> Array:
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(lambda t, y, a: a.sde.f(y, 0.0)),
            diffrax.Tsit5(),
            0.0,
            t1,
            None,
            x,
            args=args,
            stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-10),
            event=diffrax.Event(diffrax.steady_state_event(rtol=1e-10, atol=1e-12)),
            max_steps=200_000,
            throw=False,
        )
        return sol.ys[-1]

    return jax.vmap(one)(x0)


def _is_gradient(sde: SDE, points: list[np.ndarray], box: np.ndarray | None, key: int) -> bool:
    """``f = −D∇V`` with constant ``D`` ⇔ ``D⁻¹J`` symmetric everywhere; tested at the fixed points
    and 16 random states of the box, relative tolerance 1e-8."""
    if not sde.constant_diffusion or sde.degenerate:
        return False
    probes = list(points)
    if box is not None:
        rng = np.random.default_rng(key + 1)
        probes += list(box[:, 0] + (box[:, 1] - box[:, 0]) * rng.random((16, sde.dim)))
    Dinv = np.asarray(sde.D_inv(jnp.zeros(sde.dim)))
    J = np.asarray(jax.vmap(jax.jacfwd(lambda x: sde.f(x, 0.0)))(jnp.asarray(np.stack(probes))))
    M = np.einsum("ij,kjl->kil", Dinv, J)
    asym = np.abs(M - np.swapaxes(M, 1, 2)).max(axis=(1, 2))
    return bool(np.all(asym <= 1e-8 * np.maximum(np.abs(M).max(axis=(1, 2)), 1e-300)))


def landscape(
    sde: SDE,
    box: Any = None,
    *,
    seeds: Any = None,
    starts: int | None = None,
    key: int = 0,
    n: int = 400,
) -> Landscape:
    """Attractors, saddles, transitions, barriers and (gradient drifts) Eyring–Kramers mean exit
    times of a time-independent ``sde`` in ``box`` (see :func:`find_fixed_points` for ``box``,
    ``seeds``, ``starts``, ``key``); ``n`` segments for each E = 0 path.

    Raises:
        InvalidArgumentError: no attractor found in the region (naming what was searched).
        UnsupportedModelError: time-dependent drift, or a continuum of fixed points.
    """
    from noetherlab.paths import most_likely_path

    search = find_fixed_points(sde, box, seeds=seeds, starts=starts, key=key)
    attractors = tuple(search.attractors)
    if not attractors:
        raise InvalidArgumentError(
            "box" if box is not None else "seeds",
            f"no attractor of `{sde.name}` found: {search.summary()}",
            "enlarge the box, or pass seeds near the states you expect (e.g. simulated end states)",
        )
    saddles = tuple(p for p in search.points if p.index == 1 and p.kind != "non-hyperbolic")
    args = _Drift(sde)
    transitions: list[Transition] = []
    box_arr = None if box is None else np.asarray(search.region["box"])
    gradient = _is_gradient(sde, [p.x for p in search.points], box_arr, key)
    reached: dict[int, list[int]] = {}
    if saddles:
        slowest = min(float(-np.max(p.eigenvalues.real)) for p in attractors)
        starts_flow, owners = [], []
        for k, s in enumerate(saddles):
            w, V = np.linalg.eig(np.asarray(jax.jacfwd(lambda x: sde.f(x, 0.0))(jnp.asarray(s.x))))
            v = np.real(V[:, int(np.argmax(w.real))])
            v /= np.linalg.norm(v)
            delta = 1e-4 * (1.0 + np.linalg.norm(s.x))
            starts_flow += [s.x + delta * v, s.x - delta * v]
            owners += [k, k]
        ends = np.asarray(
            _flow_ends(args, jnp.asarray(np.stack(starts_flow)), jnp.asarray(200.0 / slowest))
        )
        A = np.stack([p.x for p in attractors])
        for k, e in zip(owners, ends, strict=True):
            d = np.linalg.norm(A - e, axis=1)
            j = int(np.argmin(d))
            if d[j] <= 1e-3 * (1.0 + np.linalg.norm(A[j])):
                reached.setdefault(k, []).append(j)
        for k, sides in reached.items():
            if len(sides) != 2 or sides[0] == sides[1]:
                continue
            s = saddles[k]
            lam = float(np.max(s.eigenvalues.real))
            for a, b in (sides, sides[::-1]):
                path = most_likely_path(sde, attractors[a].x, s.x, energy=0.0, n=n)
                tau = pref = None
                method = (
                    "not available: the drift is not a gradient in the noise metric "
                    "(the Bouchet–Reygner non-gradient prefactor is not implemented)"
                )
                if gradient:
                    det_ratio = abs(np.prod(s.eigenvalues).real) / abs(
                        np.prod(attractors[a].eigenvalues).real
                    )
                    pref = float(2 * np.pi / lam * np.sqrt(det_ratio))
                    tau = float(pref * np.exp(path.action))
                    method = "Eyring–Kramers (gradient drift, constant D)"
                transitions.append(
                    Transition(a, b, k, path.action, path.converged, tau, pref, method, path.x)
                )
    return Landscape(
        sde.name,
        attractors,
        saddles,
        tuple(transitions),
        gradient,
        search,
        {"connections": {str(k): v for k, v in reached.items()}},
    )
