r"""Shooting: integrate Hamilton's equations, and boundary-value paths by (multiple) shooting.

Hamilton's equations of the path Lagrangian (``H = p^T D p + p^T f [- ½∇·f]``),

.. math:: \dot x = f + 2 D p,\qquad \dot p = -\partial_x H,\qquad \dot S = L = p^T D p\ [+\tfrac12\nabla\!\cdot f],

are integrated with diffrax (8th-order Dormand–Prince, adaptive steps, tight tolerances); the
action ``S`` is integrated alongside. They need no ``D^{-1}``, so shooting also works for noise on
a subspace (hypoelliptic systems such as Langevin dynamics). :func:`shoot` starts from
``(x0, p0)`` — e.g. a prescribed angular momentum. :class:`Shooting` finds the initial momentum
(and, at fixed energy, the transit time) that reaches ``x1``: with ``K`` segments the unknowns are
``p0`` and the states ``(x_i, p_i)`` at the segment starts, and the residual stacks the continuity
jumps, the end condition ``x(T) = x1`` and (fixed energy) ``H(x0, p0) = E``. The root is found
with optimistix's Newton method; Jacobians come from forward-mode differentiation through the ODE
solver.

Without an initial path the guess comes from a coarse minimum-action solve (block Newton at fixed
``T``, the geometric solver at fixed ``E``; for degenerate noise the straight line with momenta
from the pseudo-inverse of ``D``). The returned path is integrated segment by segment from the
solved segment starts; its independent residual is the largest continuity jump / end mismatch of
that dense solution (relative to the path's extent and momentum size). Single shooting is
exponentially sensitive over long times (the Hamiltonian flow is hyperbolic): use more
``segments`` there, or the minimum-action solvers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.interp import resample, unit_parameter
from noetherlab._core.resources import check_memory
from noetherlab._core.status import PathStatus
from noetherlab._core.validation import as_state, positive_float, positive_int
from noetherlab.noether.charges import Charges, trajectory_charges
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import AbstractPathSolver
from noetherlab.paths.solvers.geometric import Geometric
from noetherlab.paths.solvers.newton import BlockNewton
from noetherlab.sde.lagrangian import check_lagrangian, hamiltonian, potential_term
from noetherlab.sde.model import SDE, require_sde

__all__ = ["HamiltonianTrajectory", "Shooting", "shoot", "shooting_path"]

Array = jax.Array


@dataclass(frozen=True)
class HamiltonianTrajectory:
    """A solution of Hamilton's equations of the path Lagrangian.

    Attributes:
        t, x, p: save times ``(m,)``, states and momenta ``(m, N)``.
        action: ``∫ L dt`` along the trajectory.
        charges: energy ``H``, momentum and angular momentum along it, with drifts.
        status: ``PathStatus.successful`` when the ODE solver finished with a finite trajectory,
            else ``PathStatus.integration_failed`` (``message`` says where it stopped).
        steps: ODE steps taken.
    """

    t: np.ndarray
    x: np.ndarray
    p: np.ndarray
    action: float
    charges: Charges
    status: PathStatus
    message: str
    steps: int

    @property
    def successful(self) -> bool:
        """True exactly when ``status`` is ``PathStatus.successful``."""
        return self.status is PathStatus.successful


class _Ham(eqx.Module):
    sde: SDE
    kind: str = eqx.field(static=True)


def _field(t: Array, y: Array, args: _Ham) -> Array:
    sde, kind = args.sde, args.kind
    n = sde.dim
    x, p = y[:n], y[n : 2 * n]
    dHdx, dHdp = jax.grad(hamiltonian, argnums=(1, 2))(sde, x, p, t, kind)
    L = p @ (sde.D(x, t) @ p) + potential_term(sde, x, t, kind)
    return jnp.concatenate([dHdp, -dHdx, L[None]])


def _solve(
    ham: _Ham,
    y0: Array,
    t0: Array,
    t1: Array,
    ts: Array | None,
    rtol: float,
    atol: float,
    max_steps: int,
) -> diffrax.Solution:
    saveat = diffrax.SaveAt(ts=ts) if ts is not None else diffrax.SaveAt(t1=True)
    return diffrax.diffeqsolve(
        diffrax.ODETerm(cast(Any, _field)),
        diffrax.Dopri8(),
        t0,
        t1,
        None,
        y0,
        args=ham,
        saveat=saveat,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
        adjoint=diffrax.ForwardMode(),
        throw=False,
    )


@eqx.filter_jit
def _dense(
    ham: _Ham, y0: Array, ts: Array, rtol: float, atol: float, max_steps: int
) -> tuple[Any, Any, Any]:
    sol = _solve(ham, y0, ts[0], ts[-1], ts, rtol, atol, max_steps)
    return sol.ys, sol.result == diffrax.RESULTS.successful, sol.stats["num_steps"]


def shoot(
    sde: SDE,
    x0: Any,
    p0: Any,
    T: float,
    *,
    t0: float = 0.0,
    lagrangian: str = "fw",
    n_save: int = 201,
    rtol: float = 1e-11,
    atol: float = 1e-12,
    max_steps: int = 100_000,
) -> HamiltonianTrajectory:
    """Integrate Hamilton's equations from ``(x0, p0)`` at ``t0`` for a time ``T``.

    Returns a :class:`HamiltonianTrajectory` sampled at ``n_save`` equally spaced times; a
    diverging trajectory is reported (``PathStatus.integration_failed``, message with the time
    reached), never silently returned with NaNs."""
    sde = require_sde(sde)
    kind = check_lagrangian(lagrangian, sde, allow_degenerate=True)
    x0a, p0a = as_state(x0, "x0", sde.dim), as_state(p0, "p0", sde.dim)
    T = positive_float(T, "T", "duration")
    n_save = positive_int(n_save, "n_save", 2)
    check_memory(
        8.0 * n_save * (6 * sde.dim + 4),
        "n_save",
        f"a trajectory sampled at {n_save} times in {sde.dim} dimensions",
        "pass fewer n_save points",
    )
    ts = jnp.linspace(t0, t0 + T, n_save)
    y0 = jnp.concatenate([jnp.asarray(x0a), jnp.asarray(p0a), jnp.zeros(1)])
    ys, ok, steps = _dense(_Ham(sde, kind), y0, ts, rtol, atol, max_steps)
    return _trajectory(sde, kind, np.asarray(ts), np.asarray(ys), bool(ok), int(steps))


def _trajectory(
    sde: SDE, kind: str, ts: np.ndarray, ys: np.ndarray, ok: bool, steps: int
) -> HamiltonianTrajectory:
    n = sde.dim
    finite = np.all(np.isfinite(ys), axis=1)
    message = f"integrated to t = {ts[-1]:.6g} ({steps} steps)"
    if not ok or not np.all(finite):
        last = int(np.argmin(finite)) if not np.all(finite) else ts.size
        message = (
            f"the Hamiltonian trajectory diverged or the ODE solver failed before t = "
            f"{ts[min(last, ts.size - 1)]:.6g} ({steps} steps); shorten T, change p0, or use more "
            "shooting segments"
        )
        ok = False
        ys = ys[: max(last, 1)]
        ts = ts[: max(last, 1)]
    x, p = ys[:, :n], ys[:, n : 2 * n]
    charges = trajectory_charges(sde, ts, x, p, kind)
    return HamiltonianTrajectory(
        t=ts,
        x=x,
        p=p,
        action=float(ys[-1, -1]),
        charges=charges,
        status=PathStatus.successful if ok else PathStatus.integration_failed,
        message=message,
        steps=steps,
    )


class _BVP(eqx.Module):
    ham: _Ham
    x0: Array
    x1: Array
    energy: Array | None
    T: Array | None
    segments: int = eqx.field(static=True)
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)


def _unpack(z: Array, bvp: _BVP) -> tuple[Array, Any, Array]:
    """Unknowns -> (segment start states ``(K, 2N)``, total time ``T``, ``p0``)."""
    n, K = bvp.ham.sde.dim, bvp.segments
    p0 = z[:n]
    inner = z[n : n + 2 * n * (K - 1)].reshape(K - 1, 2 * n)
    starts = jnp.concatenate([jnp.concatenate([bvp.x0, p0])[None], inner], axis=0)
    T = jnp.exp(z[-1]) if bvp.energy is not None else bvp.T
    return starts, T, p0


def _residual(z: Array, bvp: _BVP) -> Array:
    n, K = bvp.ham.sde.dim, bvp.segments
    starts, T, p0 = _unpack(z, bvp)
    dt = T / K

    def flow(y: Array) -> Array:
        sol: Any = _solve(
            bvp.ham,
            jnp.concatenate([y, jnp.zeros(1)]),
            jnp.zeros(()),
            dt,
            None,
            bvp.rtol,
            bvp.atol,
            bvp.max_steps,
        )
        return sol.ys[-1, : 2 * n]

    ends = jax.vmap(flow)(starts)
    parts = [(ends[:-1] - starts[1:]).reshape(-1), ends[-1, :n] - bvp.x1]
    if bvp.energy is not None:
        H0 = hamiltonian(bvp.ham.sde, bvp.x0, p0, jnp.zeros(()), bvp.ham.kind)
        parts.append(jnp.atleast_1d(H0 - bvp.energy))
    return jnp.concatenate(parts)


@eqx.filter_jit
def _root(bvp: _BVP, z0: Array, rtol: float, atol: float, max_steps: int) -> tuple[Any, Any, Any]:
    sol: Any = optx.root_find(
        _residual, optx.Newton(rtol=rtol, atol=atol), z0, args=bvp, max_steps=max_steps, throw=False
    )
    return sol.value, sol.result == optx.RESULTS.successful, sol.stats["num_steps"]


@eqx.filter_jit
def _segments_dense(
    ham: _Ham, starts: Array, dt: Array, m: int, rtol: float, atol: float, max_steps: int
) -> tuple[Any, Any, Any]:
    """Each segment integrated from its own start, ``m + 1`` save points each."""
    ts = jnp.linspace(0.0, 1.0, m + 1) * dt

    def one(y: Array) -> tuple[Any, Any, Any]:
        sol = _solve(
            ham, jnp.concatenate([y, jnp.zeros(1)]), ts[0], ts[-1], ts, rtol, atol, max_steps
        )
        return sol.ys, sol.result == diffrax.RESULTS.successful, sol.stats["num_steps"]

    return jax.vmap(one)(starts)


def momenta_from_nodes(sde: SDE, x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``p = ½ D⁺ (ẋ - f)`` at the nodes of a path (central differences; pseudo-inverse of ``D``,
    so degenerate noise is fine): a starting guess for shooting."""
    v = np.gradient(x, t, axis=0)
    out = np.empty_like(x)
    for k in range(x.shape[0]):
        xk = jnp.asarray(x[k])
        f = np.asarray(sde.f(xk, t[k]))
        D = np.asarray(sde.D(xk, t[k]))
        out[k] = 0.5 * np.linalg.lstsq(D, v[k] - f, rcond=1e-12)[0]
    return out


class Shooting(AbstractPathSolver):
    """(Multiple) shooting on Hamilton's equations, at fixed ``T`` or fixed energy.

    Attributes:
        segments: number of shooting segments ``K``.
        ode_rtol, ode_atol, ode_max_steps: the diffrax integration (Dopri8, PID controller).
        root_tol: tolerance of the optimistix Newton root find; ``max_steps``: its iteration cap.
        n_save: points of the returned dense path.
        el_tol: tolerance of the independent residual of the dense path (default ``1e-6``).
        fixed_time_start, fixed_energy_start: the solvers of the automatic initial path (a coarse
            minimum-action path on at most 200 intervals) at fixed time and at fixed energy.
    """

    segments: int = 1
    ode_rtol: float = 1e-12
    ode_atol: float = 1e-13
    ode_max_steps: int = 20_000
    root_tol: float = 1e-10
    max_steps: int = 64
    n_save: int = 401
    el_tol: float | None = None
    fixed_time_start: BlockNewton = BlockNewton(max_steps=50)
    fixed_energy_start: Geometric = Geometric()
    name: ClassVar[str] = "shooting"
    continuous_solution: ClassVar[bool] = True
    problems: ClassVar[tuple[str, ...]] = ("time", "energy")
    needs_inverse_diffusion: ClassVar[bool] = False

    def tolerance(self) -> float:
        return 1e-6 if self.el_tol is None else float(self.el_tol)

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        return self.solve_from(problem, init=init)

    def solve_from(
        self,
        problem: PathProblem,
        *,
        init: np.ndarray | PathResult | None = None,
        p0: Any = None,
    ) -> PathResult:
        """Solve from an initial path (nodes on the problem's grid, or a :class:`PathResult` with
        its momenta) and/or an initial momentum ``p0``."""
        sde, kind, n = problem.sde, problem.lagrangian, problem.dim
        K = positive_int(self.segments, "segments")
        t_init, x_init, p_init, T_guess = self._initial(problem, init, p0)
        s = np.linspace(0.0, 1.0, K + 1)[:-1]
        s_old = unit_parameter(t_init)
        xs, ps = resample(x_init, s_old, s), resample(p_init, s_old, s)
        if p0 is not None:
            ps[0] = as_state(p0, "p0", n)
        z0 = [ps[0], np.concatenate([xs[1:], ps[1:]], axis=1).reshape(-1)]
        if not problem.is_fixed_time:
            z0.append(np.array([np.log(T_guess)]))
        bvp = _BVP(
            _Ham(sde, kind),
            jnp.asarray(problem.x0),
            jnp.asarray(problem.x1),
            None if problem.is_fixed_time else jnp.asarray(float(problem.energy or 0.0)),
            jnp.asarray(T_guess) if problem.is_fixed_time else None,
            K,
            self.ode_rtol,
            self.ode_atol,
            self.ode_max_steps,
        )
        begin = time.perf_counter()
        z, ok, steps = _root(
            bvp, jnp.asarray(np.concatenate(z0)), self.root_tol, self.root_tol, self.max_steps
        )
        starts, T_sol, _ = _unpack(z, bvp)
        T_val = float(T_sol)
        m = max(2, -(-self.n_save // K))
        ys, seg_ok, seg_steps = (
            np.asarray(a)
            for a in _segments_dense(
                bvp.ham,
                starts,
                jnp.asarray(T_val / K),
                m,
                self.ode_rtol,
                self.ode_atol,
                self.ode_max_steps,
            )
        )
        seconds = time.perf_counter() - begin
        return self._result(
            problem,
            ys,
            bool(ok) and bool(np.all(seg_ok)),
            int(steps),
            T_val,
            K,
            m,
            seconds,
            int(np.sum(seg_steps)),
        )

    # ------------------------------------------------------------------ helpers
    def _initial(
        self, problem: PathProblem, init: np.ndarray | PathResult | None, p0: Any
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """``(t, x, p, T_guess)`` of the initial path."""
        sde = problem.sde
        if isinstance(init, PathResult):
            T_guess = float(init.T) if np.isfinite(init.T) else float(init.t[-1] - init.t[0])
            if not problem.is_fixed_time and not np.isfinite(init.T):
                raise InvalidArgumentError(
                    "energy",
                    "this fixed-energy path passes through a zero-speed point (a fixed point or saddle): "
                    "it takes infinite time, which shooting cannot integrate",
                    "use method='geometric' for E = 0 paths into or through fixed points",
                )
            return init.t, init.x, init.p, T_guess if not problem.is_fixed_time else problem.T
        if init is not None:
            t = problem.t if problem.t is not None else np.linspace(0.0, 1.0, problem.n + 1)
            x = np.asarray(init, dtype=np.float64)
            return t, x, momenta_from_nodes(sde, x, t), problem.T if problem.is_fixed_time else 1.0
        if p0 is not None and problem.is_fixed_time:
            t = np.linspace(0.0, problem.T, 3)
            x = np.linspace(problem.x0, problem.x1, 3)
            return t, x, momenta_from_nodes(sde, x, t), problem.T
        # automatic start: a coarse minimum-action path (or the straight line for degenerate noise)
        coarse_n = min(problem.n, 200)
        if problem.is_fixed_time:
            if sde.degenerate:
                t = np.linspace(0.0, problem.T, coarse_n + 1)
                x = np.linspace(problem.x0, problem.x1, coarse_n + 1)
                return t, x, momenta_from_nodes(sde, x, t), problem.T
            guess = self.fixed_time_start.solve(problem.with_n(coarse_n))
            return guess.t, guess.x, guess.p, problem.T
        if sde.degenerate:
            raise InvalidArgumentError(
                "init",
                "a fixed-energy shooting solve with degenerate noise needs an initial path (for T and p0)",
                "pass init= a PathResult, e.g. from a fixed-T Hamiltonian solve",
            )
        guess = self.fixed_energy_start.solve(problem.with_n(coarse_n))
        return self._initial(problem, guess, p0)

    def _result(
        self,
        problem: PathProblem,
        ys: np.ndarray,
        ok: bool,
        root_steps: int,
        T: float,
        K: int,
        m: int,
        seconds: float,
        ode_steps: int,
    ) -> PathResult:
        sde, kind, n = problem.sde, problem.lagrangian, problem.dim
        dt = T / K
        # dense path: each segment's m+1 points, joined (drop each segment's last point but the final one)
        jumps_x = [np.max(np.abs(ys[i, -1, :n] - ys[i + 1, 0, :n])) for i in range(K - 1)]
        jumps_p = [
            np.max(np.abs(ys[i, -1, n : 2 * n] - ys[i + 1, 0, n : 2 * n])) for i in range(K - 1)
        ]
        end_miss = float(np.max(np.abs(ys[-1, -1, :n] - problem.x1)))
        x = np.concatenate([ys[i, :-1, :n] for i in range(K)] + [ys[-1, -1:, :n]])
        p = np.concatenate([ys[i, :-1, n : 2 * n] for i in range(K)] + [ys[-1, -1:, n : 2 * n]])
        t = np.concatenate(
            [i * dt + np.linspace(0.0, dt, m + 1)[:-1] for i in range(K)] + [np.array([T])]
        )
        action = float(np.sum(ys[:, -1, -1]))
        extent = max(
            float(np.max(np.ptp(x, axis=0))), float(np.max(np.abs(problem.x1 - problem.x0))), 1e-300
        )
        p_scale = max(float(np.max(np.abs(p))), 1e-300)
        el = max(
            [end_miss / extent, *(j / extent for j in jumps_x), *(j / p_scale for j in jumps_p)]
        )
        finite = bool(np.all(np.isfinite(ys)))
        charges = trajectory_charges(sde, t, x, p, kind) if finite else None
        if not ok or not finite:
            status = PathStatus.integration_failed if not finite else PathStatus.boundary_mismatch
            message = (
                f"shooting did not converge (boundary residual {el:.2e} after {root_steps} Newton steps); "
                "try more segments or a better init"
            )
        else:
            status = PathStatus.successful
            message = f"boundary residual {el:.2e} after {root_steps} Newton steps ({K} segment{'s' if K > 1 else ''})"
        if charges is None:
            charges = trajectory_charges(sde, t, np.nan_to_num(x), np.nan_to_num(p), kind)
        return finish(
            problem,
            x,
            t,
            method=self.name,
            status=status,
            message=message,
            iterations=root_steps,
            seconds=seconds,
            el_tol=self.tolerance(),
            grad=(el, el),
            stats={"segments": K, "ode_steps": ode_steps, "end_mismatch": end_miss},
            T=T,
            energy=float(problem.energy) if problem.energy is not None else None,
            continuous=(action, p, charges, el if finite else float("nan")),
        )


def shooting_path(
    sde: SDE,
    x0: Any,
    x1: Any,
    *,
    T: float | None = None,
    energy: float | None = None,
    segments: int = 1,
    init: PathResult | None = None,
    p0: Any = None,
    lagrangian: str = "fw",
    n_save: int = 401,
    tol: float = 1e-10,
    max_steps: int = 64,
) -> PathResult:
    """Boundary-value most likely path by (multiple) shooting, at fixed ``T`` or fixed ``energy``.

    The initial guess comes from ``init`` (a :class:`PathResult`, e.g. the Newton solution: its
    momenta and states at the segment starts), from ``p0``, or from a coarse minimum-action solve.
    Returns a :class:`PathResult` (``method="shooting"``) whose ``x``, ``p`` are the dense ODE
    solution and whose charges are the continuous ones."""
    if (T is None) == (energy is None):
        raise InvalidArgumentError(
            "T/energy", "give exactly one of T and energy", "e.g. shooting_path(sde, x0, x1, T=1.0)"
        )
    problem = (
        PathProblem.fixed_time(sde, x0, x1, T=T, n=max(n_save - 1, 2), lagrangian=lagrangian)
        if T is not None
        else PathProblem.fixed_energy(
            sde, x0, x1, energy=energy, n=max(n_save - 1, 2), lagrangian=lagrangian
        )
    )
    solver = Shooting(
        segments=positive_int(segments, "segments"),
        root_tol=tol,
        max_steps=max_steps,
        n_save=n_save,
    )
    solver.check(problem)
    return solver.solve_from(problem, init=init, p0=p0)
