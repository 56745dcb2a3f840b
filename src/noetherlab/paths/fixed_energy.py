r"""Fixed-energy, free-time most likely paths (Maupertuis / geometric action; ``E = 0`` is gMAM).

**Derivation** (constant or state-dependent ``D``, metric ``M = D^{-1}``, ``⟨a, b⟩ = a^T M b``). On a
path of energy ``E`` the energy relation ``E = ¼|ẋ|²_M - ¼|f|²_M - V`` (``V = ½ ∇·f`` for "om", 0
for "fw") fixes the speed, ``|ẋ|_M = \sqrt{|f|²_M + 4(E + V)}``. For a curve ``φ(s)`` traversed in
the direction ``φ'`` we therefore have ``ẋ = φ' |ẋ|_M / |φ'|_M``, and the abbreviated action
``∫ p·dx`` with ``p = ½ M (ẋ - f)`` becomes

.. math::
    \hat S_E[φ] = \tfrac12 \int \Big( |φ'|_M \sqrt{|f(φ)|_M^2 + 4(E + V(φ))} - ⟨f(φ), φ'⟩ \Big) ds ,

which is independent of the parametrisation. The full action is ``S = \hat S_E + E T`` and the
transit time is recovered from the curve as

.. math:: T(E) = \int \frac{|φ'|_M\, ds}{\sqrt{|f|_M^2 + 4(E + V)}}
   \qquad\big(\text{in 1-D: } T = \int dx / \sqrt{f^2 + 4 D E}\text{, paper Eq. 13}\big).

**Discretisation.** The midpoint rule on each segment gives exactly the fixed-time midpoint action
minimised over the step ``h_k`` (``h_k = |Δφ_k|_M / \sqrt{|f(m_k)|²_M + 4(E+V)}``), so the recovered
time grid makes every interval energy equal to ``E`` to rounding, and the result is directly
comparable with the fixed-time solver. The curve is parametrised by a monitor arc length
(geometry + variation of the drift [+ time when finite]), so steep drifts get more nodes; only the
normal coordinates of the nodes are optimised (Newton with block-tridiagonal Hessian), and nodes
are redistributed along the curve between Newton solves until the spacing is settled.

``E`` must be at least ``E_min = max_{endpoints}(-¼|f|²_M - V)``. When the path passes through a
zero-speed point (a fixed point or saddle at ``E = 0``) the transit time is infinite: ``T = inf``
is reported and the node times are a finite-resolution truncation.
"""

from __future__ import annotations

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from noetherlab.errors import InvalidArgumentError
from noetherlab.lagrangian import potential_term
from noetherlab.paths._chain import Chain, chain_gradient, newton_minimise
from noetherlab.paths._result import PathResult
from noetherlab.paths.fixed_time import finish
from noetherlab.sde import SDE

Array = jax.Array


class _GeoModel(eqx.Module):
    sde: SDE
    energy: Array
    kind: str = eqx.field(static=True)


def _speed2(sde: SDE, x: Array, E: Array, kind: str) -> Array:
    """``|f|²_M + 4 (E + V)`` at ``x`` (the squared speed of an energy-E path)."""
    t0 = jnp.zeros((), jnp.float64)
    f = sde.f(x, t0)
    Mf = sde.D_inv(x, t0) @ f
    return f @ Mf + 4.0 * (E + potential_term(sde, x, t0, kind))


def _geometric_cost(za: Array, zb: Array, d: Array, params: _GeoModel) -> Array:
    sde, E, kind = params.sde, params.energy, params.kind
    t0 = jnp.zeros((), jnp.float64)
    m, delta = 0.5 * (za + zb), zb - za
    M = sde.D_inv(m, t0)
    f = sde.f(m, t0)
    s2 = _speed2(sde, m, E, kind)
    length = jnp.sqrt(jnp.maximum(delta @ M @ delta, 1e-300))
    cost = 0.5 * (length * jnp.sqrt(jnp.maximum(s2, 1e-300)) - f @ M @ delta)
    return jnp.where(s2 >= 0.0, cost, jnp.inf)


@eqx.filter_jit
def _node_speed2(params: _GeoModel, x: Array) -> Array:
    return jax.vmap(lambda xi: _speed2(params.sde, xi, params.energy, params.kind))(x)


@eqx.filter_jit
def _time_steps(params: _GeoModel, x: Array) -> Array:
    """``h_k = |Δφ_k|_M / sqrt(|f(m_k)|²_M + 4(E + V(m_k)))``."""

    def one(a: Array, b: Array) -> Array:
        m, delta = 0.5 * (a + b), b - a
        M = params.sde.D_inv(m, jnp.zeros((), jnp.float64))
        return jnp.sqrt(delta @ M @ delta) / jnp.sqrt(
            _speed2(params.sde, m, params.energy, params.kind)
        )

    return jax.vmap(one)(x[:-1], x[1:])


@eqx.filter_jit
def _drift_along(sde: SDE, x: Array) -> Array:
    return jax.vmap(lambda xi: sde.f(xi, jnp.zeros((), jnp.float64)))(x)


def minimum_energy(sde: SDE, x0: np.ndarray, x1: np.ndarray, kind: str) -> float:
    """``E_min = max over the endpoints of (-¼|f|²_M - V)``: below it an endpoint is unreachable."""
    params = _GeoModel(sde, jnp.asarray(0.0), kind)
    s2 = np.asarray(_node_speed2(params, jnp.asarray(np.stack([x0, x1]))))
    return float(np.max(-0.25 * s2))


def _monitor(sde: SDE, params: _GeoModel, x: np.ndarray, use_time: bool) -> np.ndarray:
    """Per-segment monitor: arc length of ``(φ/Lφ, f(φ)/Lf [, t/T])``."""
    dx = np.linalg.norm(np.diff(x, axis=0), axis=1)
    f = np.asarray(_drift_along(sde, jnp.asarray(x)))
    df = np.linalg.norm(np.diff(f, axis=0), axis=1)
    parts = [dx / max(dx.sum(), 1e-300)]
    if df.sum() > 1e-12 * max(np.abs(f).max(), 1e-300):
        parts.append(df / df.sum())
    if use_time:
        h = np.asarray(_time_steps(params, jnp.asarray(x)))
        if np.all(np.isfinite(h)) and h.sum() > 0:
            parts.append(h / h.sum())
    return np.sqrt(sum(p * p for p in parts))


def _redistribute(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Nodes equidistributed in the cumulative monitor ``w`` along the polygon ``x``."""
    s = np.concatenate([[0.0], np.cumsum(w)])
    target = np.linspace(0.0, s[-1], x.shape[0])
    return np.stack([np.interp(target, s, x[:, i]) for i in range(x.shape[1])], axis=1)


def _normal_frames(x: np.ndarray) -> np.ndarray:
    """Orthonormal bases of the planes normal to the discrete tangent at each node, ``(n+1, N, N-1)``
    (zero at the endpoints, which are fixed). Built from Householder reflections."""
    N = x.shape[1]
    tang = np.zeros_like(x)
    tang[1:-1] = x[2:] - x[:-2]
    tang[0], tang[-1] = x[1] - x[0], x[-1] - x[-2]
    tang /= np.maximum(np.linalg.norm(tang, axis=1, keepdims=True), 1e-300)
    e1 = np.zeros(N)
    e1[0] = 1.0
    sign = np.where(tang[:, :1] >= 0, 1.0, -1.0)
    v = tang + sign * e1
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    H = np.eye(N)[None] - 2.0 * v[:, :, None] * v[:, None, :]
    frames = H[:, :, 1:].copy()
    frames[0] = frames[-1] = 0.0
    return frames


def _solve_single(
    sde: SDE,
    kind: str,
    x0: np.ndarray,
    x1: np.ndarray,
    energy: float,
    n: int,
    x_init: np.ndarray | None,
    *,
    gtol: float = 1e-8,
    max_iter: int = 100,
    max_outer: int = 200,
    inner_iter: int = 10,
    trust: float | None = 0.5,
    parameters: dict[str, Any] | None = None,
) -> PathResult:
    """Minimise the geometric action at energy ``energy`` with ``n`` segments (see module docstring)."""
    if sde.time_dependent:
        raise InvalidArgumentError(
            "energy",
            f"a fixed-energy path needs a time-independent model, but `{sde.name}` depends on t",
            "prescribe the transit time T instead",
        )
    if np.allclose(x0, x1):
        raise InvalidArgumentError(
            "x1",
            "equals x0: a fixed-energy path between equal states is degenerate",
            "pick two different states, or use a fixed T",
        )
    e_min = minimum_energy(sde, x0, x1, kind)
    if energy < e_min:
        raise InvalidArgumentError(
            "energy",
            f"E = {energy!r} is below the minimum admissible value E_min = {e_min!r} (where |f|²_M + 4(E+V) "
            "at an endpoint would be negative: no real path of that energy can start or end there)",
            f"pass energy >= {e_min:.6g}",
        )
    parameters = dict(parameters or {})
    params = _GeoModel(sde, jnp.asarray(float(energy)), kind)
    start = time.perf_counter()
    if x_init is None:
        x = np.linspace(x0, x1, n + 1)
    else:
        x = np.array(x_init, dtype=np.float64)
        x[0], x[-1] = x0, x1
    s2 = np.asarray(_node_speed2(params, jnp.asarray(x)))
    if np.any(s2[1:-1] < 0):
        k = int(np.argmax(s2[1:-1] < 0)) + 1
        raise InvalidArgumentError(
            "init",
            f"the initial curve enters the forbidden region |f|²_M + 4(E+V) < 0 at x = {x[k].tolist()} for E = {energy!r}",
            "raise E, or pass init= a curve that stays where the drift is fast enough",
        )
    use_time = bool(np.min(s2) > 1e-8 * max(np.max(s2), 1e-300))
    x = _redistribute(x, _monitor(sde, params, x, use_time))
    N = sde.dim
    history: list[dict[str, float]] = []
    converged, message, iterations = N == 1, "one-dimensional: the curve is the segment", 0
    grad_inf = grad_norm = 0.0
    for outer in range(max_outer if N > 1 else 0):
        chain = Chain(
            _geometric_cost,
            params,
            jnp.asarray(x),
            jnp.asarray(_normal_frames(x)),
            jnp.zeros((n, 1)),
        )
        seg = np.linalg.norm(np.diff(x, axis=0), axis=1)
        # trust region: nodes may move at most a quarter of the shortest segment before the curve is
        # re-parametrised (keeps the normal frames valid and prevents nodes from folding over)
        res = newton_minimise(
            chain,
            np.zeros((n + 1, N - 1)),
            gtol=gtol,
            max_iter=inner_iter,
            max_step=None if trust is None else trust * float(np.median(seg)),
        )
        if (
            trust is not None and res.history
        ):  # adapt the trust radius (in units of the median segment)
            if any(h["alpha"] < 1.0 for h in res.history) or not res.history[-1]["value"] < np.inf:
                trust = max(0.5 * trust, 0.05)
            elif all(h["clipped"] for h in res.history):
                trust = min(2.0 * trust, 8.0)
        iterations += res.iterations
        history.extend({**h, "outer": float(outer)} for h in res.history)
        x_new = np.asarray(chain.nodes(jnp.asarray(res.y)))
        w = _monitor(sde, params, x_new, use_time)
        spacing = float(np.max(w) / np.mean(w))
        grad_inf, grad_norm = res.grad_inf, float(np.linalg.norm(res.grad))
        converged, message = res.converged, res.message
        x = x_new
        if res.iterations == 0 and not res.converged:
            break
        if res.converged and res.clipped_steps == 0 and spacing <= 2.0:
            message += (
                f"; node spacing settled (max/mean monitor {spacing:.2f}) after {outer + 1} rounds"
            )
            break
        x = _redistribute(x_new, w)
    else:
        if N > 1:
            converged = False
            message = (
                f"not converged in {max_outer} rounds of Newton steps and re-parametrisation: "
                + message
            )
    seconds = time.perf_counter() - start
    h = np.asarray(_time_steps(params, jnp.asarray(x)))
    t = np.concatenate([[0.0], np.cumsum(h)])
    s2_nodes = np.asarray(_node_speed2(params, jnp.asarray(x)))
    zero_speed = bool(np.min(s2_nodes) <= 1e-10 * max(np.max(s2_nodes), 1e-300))
    T = float("inf") if zero_speed else float(t[-1])
    if zero_speed:
        message += "; the path passes through a zero-speed point (fixed point or saddle): T = inf, node times are a finite truncation"
    if N > 1:
        chain = Chain(
            _geometric_cost,
            params,
            jnp.asarray(x),
            jnp.asarray(_normal_frames(x)),
            jnp.zeros((n, 1)),
        )
        _, _, gi = chain_gradient(chain, jnp.zeros((n + 1, N - 1)))
        grad_inf = float(gi)
    parameters.update({"energy": float(energy), "n": n, "E_min": e_min})
    result = finish(
        sde,
        kind,
        x,
        t,
        method="geometric",
        converged=converged,
        message=message,
        iterations=iterations,
        seconds=seconds,
        parameters=parameters,
        history=history,
        T=T,
        energy=float(energy),
    )
    return _with_grad(result, grad_norm, grad_inf)


def solve_fixed_energy(
    sde: SDE,
    kind: str,
    x0: np.ndarray,
    x1: np.ndarray,
    energy: float,
    n: int,
    x_init: np.ndarray | None,
    **options: Any,
) -> PathResult:
    """Fixed-energy path; at ``E = 0`` a path through an interior fixed point (where the geometric
    action has a cone singularity and Newton cannot converge) is split there: the instanton is the
    concatenation of the optimal ``E = 0`` paths ``x0 → x*`` and ``x* → x1``."""
    result = _solve_single(sde, kind, x0, x1, energy, n, x_init, **options)
    if energy != 0.0 or result.converged or sde.dim == 1 or n < 8:
        return result
    params = _GeoModel(sde, jnp.asarray(0.0), kind)
    s2 = np.asarray(_node_speed2(params, jnp.asarray(result.x)))
    k = int(np.argmin(s2[2:-2])) + 2
    if s2[k] > 1e-3 * np.max(s2):
        return result
    star, found = _fixed_point_near(sde, result.x[k])
    scale = max(float(np.max(np.abs(x1 - x0))), 1e-300)
    if not found or min(np.max(np.abs(star - x0)), np.max(np.abs(star - x1))) < 1e-6 * scale:
        return result
    first = solve_fixed_energy(
        sde, kind, x0, star, 0.0, max(k, 4), _reparam_nodes(result.x[: k + 1], max(k, 4)), **options
    )
    m = max(n - k, 4)
    second = solve_fixed_energy(
        sde, kind, star, x1, 0.0, m, _reparam_nodes(result.x[k:], m), **options
    )
    x = np.concatenate([first.x, second.x[1:]])
    t = np.concatenate([first.t, first.t[-1] + second.t[1:] - second.t[0]])
    both = first.converged and second.converged
    message = (
        f"E = 0 path through the fixed point x* = {np.round(star, 10).tolist()}: concatenation of two instantons "
        f"({'both converged' if both else 'NOT converged: ' + first.message + ' | ' + second.message}); T = inf"
    )
    parameters = dict(result.parameters, split_at=star.tolist())
    merged = finish(
        sde,
        kind,
        x,
        t,
        method="geometric",
        converged=both,
        message=message,
        iterations=result.iterations + first.iterations + second.iterations,
        seconds=result.seconds + first.seconds + second.seconds,
        parameters=parameters,
        T=float("inf"),
        energy=0.0,
    )
    return _with_grad(
        merged,
        float(np.hypot(first.grad_norm, second.grad_norm)),
        max(first.grad_inf, second.grad_inf),
    )


def _reparam_nodes(x: np.ndarray, n: int) -> np.ndarray:
    s_old = np.linspace(0.0, 1.0, x.shape[0])
    s = np.linspace(0.0, 1.0, n + 1)
    return np.stack([np.interp(s, s_old, x[:, i]) for i in range(x.shape[1])], axis=1)


class _Drift(eqx.Module):
    sde: SDE


def _drift_residual(x: Array, args: _Drift) -> Array:
    return args.sde.f(x, jnp.zeros((), jnp.float64))


@eqx.filter_jit
def _newton_fixed_point(args: _Drift, x: Array) -> tuple[Any, Any]:
    sol: Any = optx.root_find(
        _drift_residual,
        optx.Newton(rtol=1e-12, atol=1e-12),
        x,
        args=args,
        max_steps=64,
        throw=False,
    )
    return sol.value, sol.result == optx.RESULTS.successful


def _fixed_point_near(sde: SDE, x: np.ndarray) -> tuple[np.ndarray, bool]:
    """A zero of the drift near ``x`` (optimistix Newton)."""
    star, ok = _newton_fixed_point(_Drift(sde), jnp.asarray(x))
    star_np = np.asarray(star)
    return star_np, bool(ok) and bool(np.all(np.isfinite(star_np)))


def _with_grad(result: PathResult, grad_norm: float, grad_inf: float) -> PathResult:
    from dataclasses import replace

    return replace(result, grad_norm=grad_norm, grad_inf=grad_inf)
