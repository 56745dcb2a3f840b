r"""Fixed-energy, free-time most likely paths: the geometric (Maupertuis) action (``E = 0``: gMAM).

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

**Discretisation.** The midpoint rule on each segment (:mod:`noetherlab.paths._objectives`) gives
exactly the fixed-time midpoint action minimised over the step ``h_k`` (``h_k = |Δφ_k|_M /
\sqrt{|f(m_k)|²_M + 4(E+V)}``), so the recovered time grid makes every interval energy equal to
``E`` to rounding, and the result is directly comparable with the fixed-time solvers. The curve is
parametrised by a monitor arc length (geometry + variation of the drift [+ time when finite]), so
steep drifts get more nodes; only the normal coordinates of the nodes are optimised (the Newton
engine of :mod:`noetherlab.paths._newton` with a trust region of ``trust`` median segments), and
nodes are redistributed along the curve between rounds until the spacing is settled.

``E`` must be at least ``E_min = max_{endpoints}(-¼|f|²_M - V)``. When the path passes through a
zero-speed point (a fixed point or saddle at ``E = 0``) the transit time is infinite: ``T = inf``
is reported and the node times are a finite-resolution truncation. At ``E = 0`` a path through an
interior fixed point (where the geometric action has a cone singularity and Newton cannot
converge) is split there: the instanton is the concatenation of the ``E = 0`` paths ``x0 → x*`` and
``x* → x1``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.interp import resample, resample_uniform
from noetherlab._core.status import PathStatus
from noetherlab.paths._chain import Chain, chain_gradient, normalised_residual
from noetherlab.paths._krylov import describe_krylov, krylov_minimise
from noetherlab.paths._newton import describe, newton_minimise
from noetherlab.paths._objectives import (
    GeometricModel,
    geometric_chain,
    minimum_energy,
    node_speed2,
    speed2,
)
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import DENSE_MAX_DIM, AbstractPathSolver, start
from noetherlab.sde.model import SDE
from noetherlab.sde.stationary import fixed_point_near

__all__ = ["Geometric"]

Array = jax.Array


@eqx.filter_jit
def _time_steps(params: GeometricModel, x: Array) -> Array:
    """``h_k = |Δφ_k|_M / sqrt(|f(m_k)|²_M + 4(E + V(m_k)))``."""

    def one(a: Array, b: Array) -> Array:
        m, delta = 0.5 * (a + b), b - a
        M = params.sde.D_inv(m, jnp.zeros((), jnp.float64))
        return jnp.sqrt(delta @ M @ delta) / jnp.sqrt(
            speed2(params.sde, m, params.energy, params.kind)
        )

    return jax.vmap(one)(x[:-1], x[1:])


@eqx.filter_jit
def _gradient(chain: Chain, y: Array) -> tuple[Array, Array]:
    return chain_gradient(chain, y)


def _fresh_residual(params: GeometricModel, x: np.ndarray) -> float:
    """Normalised residual of the geometric action in the normal frames of the curve ``x``."""
    g, scale = _gradient(
        geometric_chain(params, x, _normal_frames(x)), jnp.zeros((x.shape[0], x.shape[1] - 1))
    )
    return float(normalised_residual(g, scale))


def _short(x: np.ndarray) -> str:
    """A state for messages: all coordinates up to 6 dimensions, else the first 3 and the norm."""
    if x.size <= 6:
        return str(np.round(x, 10).tolist())
    return f"[{', '.join(f'{v:.6g}' for v in x[:3])}, ...] (|x*| = {np.linalg.norm(x):.6g})"


def _monitor(sde: SDE, params: GeometricModel, x: np.ndarray, use_time: bool) -> np.ndarray:
    """Per-segment monitor: arc length of ``(φ/Lφ, f(φ)/Lf [, t/T])``."""
    dx = np.linalg.norm(np.diff(x, axis=0), axis=1)
    f = sde.drift_at(x)
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
    return resample(x, s, np.linspace(0.0, s[-1], x.shape[0]))


def _normal_frames(x: np.ndarray) -> np.ndarray:
    """Householder vectors ``v_k`` (``(n+1, N)``) whose reflections ``H_k = I - 2 v_k v_kᵀ`` map
    ``e_1`` to the discrete tangent at node ``k``, so that the last ``N - 1`` columns of ``H_k``
    are an orthonormal basis of the normal plane (applied implicitly by the chain: memory ``O(nN)``).
    Zero at the endpoints, which are fixed."""
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
    v[0] = v[-1] = 0.0
    return v


class Geometric(AbstractPathSolver):
    """Minimiser of the geometric action at fixed energy (see module docstring).

    Attributes:
        gtol: tolerance of the normalised residual of the geometric action (normal directions).
        max_steps: Newton steps per round between re-parametrisations.
        max_rounds: rounds of Newton steps and node redistribution.
        trust: nodes move at most ``trust`` median segment lengths per step (``None``: no limit).
        inner: the Newton steps between re-parametrisations: ``"dense"`` (exact block-tridiagonal
            Hessian, ``O(n N³)``), ``"krylov"`` (matrix-free trust-region Newton–Krylov of
            :mod:`~noetherlab.paths.solvers.newton_krylov`, ``O(n N)`` memory, preconditioned by the
            kinetic part with the curve's own time steps ``h_k``) or ``"auto"`` (Krylov above
            ``DENSE_MAX_DIM`` dimensions).
        el_tol: tolerance of the independent check (normal Euler–Lagrange residual).
    """

    gtol: float = 1e-8
    max_steps: int = 10
    max_rounds: int = 200
    trust: float | None = 0.5
    inner: str = "auto"
    el_tol: float | None = None
    name: ClassVar[str] = "geometric"
    problems: ClassVar[tuple[str, ...]] = ("energy",)
    places_nodes_on_curve: ClassVar[bool] = True

    def uses_dense_hessian(self, dim: int) -> bool:
        return not self._krylov(dim)

    def _krylov(self, dim: int) -> bool:
        """Whether the inner steps are matrix-free in ``dim`` dimensions."""
        return self.inner == "krylov" or (self.inner == "auto" and dim > DENSE_MAX_DIM)

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        if self.inner not in ("auto", "dense", "krylov"):
            raise InvalidArgumentError(
                "inner", f"must be 'auto', 'dense' or 'krylov', got {self.inner!r}", "pick one"
            )
        result = self._solve_single(problem, init)
        E = problem.energy
        if E != 0.0 or result.converged or problem.dim == 1 or problem.n < 8:
            return result
        return self._split_at_fixed_point(problem, result)

    # ------------------------------------------------------------------ one curve
    def _solve_single(self, problem: PathProblem, init: np.ndarray | None) -> PathResult:
        sde, kind, E = problem.sde, problem.lagrangian, float(problem.energy or 0.0)
        x0, x1, n, N = problem.x0, problem.x1, problem.n, problem.dim
        e_min = minimum_energy(sde, x0, x1, kind)
        if E < e_min:
            raise InvalidArgumentError(
                "energy",
                f"E = {E!r} is below the minimum admissible value E_min = {e_min!r} (where |f|²_M + "
                "4(E+V) at an endpoint would be negative: no real path of that energy can start or "
                "end there)",
                f"pass energy >= {e_min:.6g}",
            )
        params = GeometricModel(sde, jnp.asarray(E), kind)
        begin = time.perf_counter()
        x = start(problem, init)
        s2 = np.asarray(node_speed2(params, jnp.asarray(x)))
        if np.any(s2[1:-1] < 0):
            k = int(np.argmax(s2[1:-1] < 0)) + 1
            raise InvalidArgumentError(
                "init",
                f"the initial curve enters the forbidden region |f|²_M + 4(E+V) < 0 at x = "
                f"{x[k].tolist()} for E = {E!r}",
                "raise E, or pass init= a curve that stays where the drift is fast enough",
            )
        use_time = bool(np.min(s2) > 1e-8 * max(np.max(s2), 1e-300))
        x = _redistribute(x, _monitor(sde, params, x, use_time))
        history: list[dict[str, float]] = []
        status, message, iterations, rounds = (
            PathStatus.successful,
            "one-dimensional: the curve is the segment",
            0,
            0,
        )
        trust = self.trust
        grad = (0.0, 0.0)
        krylov = self._krylov(N)
        for rounds in range(1, (self.max_rounds if N > 1 else 0) + 1):
            chain = geometric_chain(params, x, _normal_frames(x))
            seg = np.linalg.norm(np.diff(x, axis=0), axis=1)
            max_step = np.inf if trust is None else trust * float(np.median(seg))
            y_out, status, message, k, hist, grad, clipped = self._inner_steps(
                chain, params, x, max_step, krylov
            )
            if trust is not None and k:  # adapt the trust radius (in median segments)
                if np.any(hist[:, 2] < 1.0):
                    trust = max(0.5 * trust, 0.05)
                elif np.all(hist[:, 5] > 0):
                    trust = min(2.0 * trust, 8.0)
            iterations += k
            history.extend(
                {"round": float(rounds), "value": float(h[0]), "residual": float(h[1])}
                for h in hist
            )
            x_new = np.asarray(chain.nodes(jnp.asarray(y_out)))
            w = _monitor(sde, params, x_new, use_time)
            spacing = float(np.max(w) / np.mean(w))
            x = x_new
            if k == 0 and status is not PathStatus.successful:
                break
            if status is PathStatus.successful and clipped == 0 and spacing <= 1.1:
                # the normal frames rotate with the nodes: converged only if the residual is also small
                # in the normal directions of the final curve
                fresh = _fresh_residual(params, x_new)
                if fresh <= self.gtol:
                    message += f"; node spacing settled (max/mean monitor {spacing:.2f}) after {rounds} rounds"
                    break
                status = PathStatus.max_iterations
                message = (
                    f"normal residual {fresh:.2e} > gtol in the frames of the moved curve (the curve turns "
                    "faster than its nodes resolve; more segments help)"
                )
            x = _redistribute(x_new, w)
        else:
            if N > 1:
                status = PathStatus.max_iterations
                message = (
                    f"not converged in {self.max_rounds} rounds of Newton steps and re-parametrisation: "
                    + message
                )
        seconds = time.perf_counter() - begin
        h = np.asarray(_time_steps(params, jnp.asarray(x)))
        t = np.concatenate([[0.0], np.cumsum(h)])
        s2_nodes = np.asarray(node_speed2(params, jnp.asarray(x)))
        zero_speed = bool(np.min(s2_nodes) <= 1e-10 * max(np.max(s2_nodes), 1e-300))
        T = float("inf") if zero_speed else float(t[-1])
        if zero_speed:
            message += "; the path passes through a zero-speed point (fixed point or saddle): T = inf, node times are a finite truncation"
        if N > 1:
            g_arr, _ = _gradient(
                geometric_chain(params, x, _normal_frames(x)), jnp.zeros((n + 1, N - 1))
            )
            g_np = np.asarray(g_arr)
            grad = (float(np.linalg.norm(g_np)), float(np.max(np.abs(g_np))) if g_np.size else 0.0)
        return finish(
            problem,
            x,
            t,
            method=self.name,
            status=status,
            message=message,
            iterations=iterations,
            seconds=seconds,
            el_tol=self.tolerance(),
            grad=grad,
            stats={"rounds": rounds, "E_min": e_min, "final_trust": trust},
            history=history,
            T=T,
            energy=E,
            geometric=True,
        )

    def _inner_steps(
        self, chain: Chain, params: GeometricModel, x: np.ndarray, max_step: float, krylov: bool
    ) -> tuple[np.ndarray, PathStatus, str, int, np.ndarray, tuple[float, float], int]:
        """Up to ``max_steps`` Newton steps in the normal coordinates of the curve ``x``.

        Returns ``(y, status, message, steps, history rows (value, residual, alpha, shift,
        curvature step, clipped), (|g|_2, |g|_∞), clipped steps)``."""
        n, N = x.shape[0] - 1, x.shape[1]
        y0 = jnp.zeros((n + 1, N - 1))
        if not krylov:
            out = newton_minimise(
                chain, y0, jnp.asarray(self.gtol), self.max_steps, jnp.asarray(max_step)
            )
            k = int(out.iterations)
            status, message = describe(out, self.gtol)
            return (
                np.asarray(out.y),
                status,
                message,
                k,
                np.asarray(out.history)[:k],
                (float(out.grad_norm), float(out.grad_inf)),
                int(out.clipped_steps),
            )
        h = np.asarray(_time_steps(params, jnp.asarray(x)))
        h = np.where(np.isfinite(h) & (h > 0), h, np.nanmax(np.where(np.isfinite(h), h, 0.0)) + 1.0)
        mid = jnp.asarray(x[x.shape[0] // 2])
        d_bar = float(jnp.trace(params.sde.D(mid, 0.0))) / N
        kout = krylov_minimise(
            chain,
            y0,
            h,
            d_bar * np.eye(N - 1),
            gtol=self.gtol,
            max_steps=self.max_steps,
            lanczos_steps=0,
            max_step=max_step,
        )
        rows = np.array(
            [
                [r["value"], r["residual"], 1.0 if r["rho"] > 0 else 0.0, 0.0, 0.0, 0.0]
                for r in kout.history
            ]
        ).reshape(-1, 6)
        g = kout.grad
        return (
            kout.y,
            kout.status,
            describe_krylov(kout, self.gtol),
            kout.iterations,
            rows,
            (float(np.linalg.norm(g)), float(np.max(np.abs(g))) if g.size else 0.0),
            kout.clipped_steps,
        )

    # ------------------------------------------------------------------ E = 0 through a fixed point
    def _split_at_fixed_point(self, problem: PathProblem, result: PathResult) -> PathResult:
        sde, kind, n = problem.sde, problem.lagrangian, problem.n
        params = GeometricModel(sde, jnp.asarray(0.0), kind)
        s2 = np.asarray(node_speed2(params, jnp.asarray(result.x)))
        k = int(np.argmin(s2[2:-2])) + 2
        if s2[k] > 1e-3 * np.max(s2):
            return result
        star, found = fixed_point_near(sde, result.x[k])
        scale = max(float(np.max(np.abs(problem.x1 - problem.x0))), 1e-300)
        if (
            not found
            or min(np.max(np.abs(star - problem.x0)), np.max(np.abs(star - problem.x1)))
            < 1e-6 * scale
        ):
            return result
        m1, m2 = max(k, 4), max(n - k, 4)
        first_problem = PathProblem(sde, problem.x0, star, None, 0.0, m1, kind)
        second_problem = PathProblem(sde, star, problem.x1, None, 0.0, m2, kind)
        first = self.solve(first_problem, resample_uniform(result.x[: k + 1], m1 + 1))
        second = self.solve(second_problem, resample_uniform(result.x[k:], m2 + 1))
        x = np.concatenate([first.x, second.x[1:]])
        t = np.concatenate([first.t, first.t[-1] + second.t[1:] - second.t[0]])
        both = first.converged and second.converged
        status = (
            PathStatus.successful
            if both
            else (first.status if not first.converged else second.status)
        )
        message = (
            f"E = 0 path through the fixed point x* = {_short(star)}: concatenation of two "
            f"instantons ({'both converged' if both else 'NOT converged: ' + first.message + ' | ' + second.message}); T = inf"
        )
        merged = finish(
            problem,
            x,
            t,
            method=self.name,
            status=status,
            message=message,
            iterations=result.iterations + first.iterations + second.iterations,
            seconds=result.seconds + first.seconds + second.seconds,
            el_tol=self.tolerance(),
            grad=(
                float(np.hypot(first.grad_norm, second.grad_norm)),
                max(first.grad_inf, second.grad_inf),
            ),
            stats={"split_at": star.tolist(), "segments": [first.n, second.n]},
            T=float("inf"),
            energy=0.0,
            geometric=True,
            junctions=(first.n,),
        )
        return replace(merged, parameters={**merged.parameters, "split_at": star.tolist()})
