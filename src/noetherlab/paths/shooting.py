r"""Shooting: integrate Hamilton's equations, and solve boundary-value problems by (multiple) shooting.

Hamilton's equations of the path Lagrangian (``H = p^T D p + p^T f [- ½∇·f]``),

.. math:: \dot x = f + 2 D p,\qquad \dot p = -\partial_x H,\qquad \dot S = L = p^T D p\ [+\tfrac12\nabla\!\cdot f],

are integrated with diffrax (8th-order Dormand–Prince, adaptive steps, tight tolerances); the
action ``S`` is integrated alongside. :func:`shoot` starts from ``(x0, p0)`` — e.g. a prescribed
angular momentum. :func:`shooting_path` finds the initial momentum (and, at fixed energy, the
transit time) that reaches ``x1``: with ``K`` segments the unknowns are ``p0`` and the states
``(x_i, p_i)`` at the segment starts, and the residual stacks the continuity jumps, the end
condition ``x(T) = x1`` and (fixed energy) ``H(x0, p0) = E``. The root is found with
optimistix's Newton method; Jacobians come from forward-mode differentiation through the solver.

Single shooting is exponentially sensitive over long times (the Hamiltonian flow is hyperbolic):
use more ``segments`` there, or the Newton minimum-action solver.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from noetherlab._validation import as_state, positive_float, positive_int
from noetherlab.charges import Charges, trajectory_charges
from noetherlab.errors import InvalidArgumentError
from noetherlab.lagrangian import check_lagrangian, hamiltonian, potential_term
from noetherlab.paths._result import PathResult
from noetherlab.sde import SDE

__all__ = ["Trajectory", "shoot", "shooting_path"]

Array = jax.Array


@dataclass(frozen=True)
class Trajectory:
    """A solution of Hamilton's equations.

    Attributes:
        t, x, p: save times ``(m,)``, states and momenta ``(m, N)``.
        action: ``∫ L dt`` along the trajectory.
        charges: energy ``H``, momentum and angular momentum along it, with drifts.
        successful: the ODE solver finished; ``message`` otherwise says why not.
    """

    t: np.ndarray
    x: np.ndarray
    p: np.ndarray
    action: float
    charges: Charges
    successful: bool
    message: str
    steps: int


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
) -> Trajectory:
    """Integrate Hamilton's equations from ``(x0, p0)`` at ``t0`` for a time ``T``.

    Returns a :class:`Trajectory` sampled at ``n_save`` equally spaced times; a diverging
    trajectory is reported (``successful=False``, message with the time reached), never silently
    returned with NaNs."""
    kind = check_lagrangian(lagrangian, sde)
    x0a, p0a = as_state(x0, "x0", sde.dim), as_state(p0, "p0", sde.dim)
    T = positive_float(T, "T", "duration")
    n_save = positive_int(n_save, "n_save", 2)
    ham = _Ham(sde, kind)
    ts = jnp.linspace(t0, t0 + T, n_save)
    ys, ok, steps = _dense(
        ham,
        jnp.concatenate([jnp.asarray(x0a), jnp.asarray(p0a), jnp.zeros(1)]),
        ts,
        rtol,
        atol,
        max_steps,
    )
    return _trajectory(sde, kind, np.asarray(ts), np.asarray(ys), bool(ok), int(steps))


def _trajectory(
    sde: SDE, kind: str, ts: np.ndarray, ys: np.ndarray, ok: bool, steps: int
) -> Trajectory:
    n = sde.dim
    finite = np.all(np.isfinite(ys), axis=1)
    message = "successful"
    if not ok or not np.all(finite):
        last = int(np.argmin(finite)) if not np.all(finite) else ts.size
        message = (
            f"the Hamiltonian trajectory diverged or the ODE solver failed before t = {ts[min(last, ts.size - 1)]:.6g} "
            f"({steps} steps); shorten T, change p0, or use more shooting segments"
        )
        ok = False
        ys = ys[: max(last, 1)]
        ts = ts[: max(last, 1)]
    x, p = ys[:, :n], ys[:, n : 2 * n]
    charges = trajectory_charges(sde, ts, x, p, kind)
    return Trajectory(
        t=ts,
        x=x,
        p=p,
        action=float(ys[-1, -1]),
        charges=charges,
        successful=ok,
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
    """Unknowns -> (segment start states (K, 2N), total time T, ...)."""
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
        parts.append(
            jnp.atleast_1d(
                hamiltonian(bvp.ham.sde, bvp.x0, p0, jnp.zeros(()), bvp.ham.kind) - bvp.energy
            )
        )
    return jnp.concatenate(parts)


@eqx.filter_jit
def _root(bvp: _BVP, z0: Array, rtol: float, atol: float, max_steps: int) -> tuple[Any, Any, Any]:
    sol: Any = optx.root_find(
        _residual, optx.Newton(rtol=rtol, atol=atol), z0, args=bvp, max_steps=max_steps, throw=False
    )
    return sol.value, sol.result == optx.RESULTS.successful, sol.stats["num_steps"]


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
    momenta and states at the segment starts), from ``p0``, or from the straight line
    (``p0 = ½ D^{-1}((x1 - x0)/T - f(x0))``). Returns a :class:`PathResult` (``method="shooting"``)
    whose ``x``, ``p`` are the dense ODE solution and whose charges are the continuous ones."""
    kind = check_lagrangian(lagrangian, sde)
    x0a, x1a = as_state(x0, "x0", sde.dim), as_state(x1, "x1", sde.dim)
    if (T is None) == (energy is None):
        raise InvalidArgumentError(
            "T/energy", "give exactly one of T and energy", "e.g. shooting_path(sde, x0, x1, T=1.0)"
        )
    K = positive_int(segments, "segments")
    n = sde.dim
    if energy is not None:
        if sde.time_dependent:
            raise InvalidArgumentError(
                "energy", "fixed energy needs a time-independent model", "prescribe T instead"
            )
        if init is None:
            raise InvalidArgumentError(
                "init",
                "a fixed-energy shooting solve needs an initial path (for T and p0)",
                "pass init=most_likely_path(..., energy=E)",
            )
        T_guess = float(init.T) if np.isfinite(init.T) else float(init.t[-1])
    else:
        T_guess = positive_float(T, "T", "transit time")
    if init is not None:
        s = np.linspace(0.0, 1.0, K + 1)[:-1]
        tt = init.t[0] + s * (init.t[-1] - init.t[0])
        xs = np.stack([np.interp(tt, init.t, init.x[:, i]) for i in range(n)], axis=1)
        ps = np.stack([np.interp(tt, init.t, init.p[:, i]) for i in range(n)], axis=1)
    else:
        s = np.linspace(0.0, 1.0, K + 1)[:-1]
        xs = x0a[None] + s[:, None] * (x1a - x0a)[None]
        v = (x1a - x0a) / T_guess
        fs = np.stack([np.asarray(sde.f(jnp.asarray(xi), 0.0)) for xi in xs])
        Dinv = np.asarray(sde.D_inv(jnp.asarray(x0a), 0.0))
        ps = 0.5 * (Dinv @ (v[None] - fs).T).T
        if p0 is not None:
            ps[0] = as_state(p0, "p0", n)
    z0 = [ps[0], np.concatenate([xs[1:], ps[1:]], axis=1).reshape(-1)]
    if energy is not None:
        z0.append(np.array([np.log(T_guess)]))
    z0_arr = jnp.asarray(np.concatenate(z0))
    bvp = _BVP(
        _Ham(sde, kind),
        jnp.asarray(x0a),
        jnp.asarray(x1a),
        None if energy is None else jnp.asarray(float(energy)),
        None if T is None else jnp.asarray(float(T_guess)),
        K,
        1e-12,
        1e-13,
        100_000,
    )
    start = time.perf_counter()
    z, ok, steps = _root(bvp, z0_arr, tol, tol, max_steps)
    residual = float(jnp.max(jnp.abs(_residual(z, bvp))))
    _, T_sol, p0_sol = _unpack(z, bvp)
    T_val = float(T_sol)
    traj = shoot(sde, x0a, np.asarray(p0_sol), T_val, lagrangian=kind, n_save=n_save)
    seconds = time.perf_counter() - start
    converged = (
        bool(ok) and traj.successful and residual <= 1e3 * tol * (1.0 + float(np.max(np.abs(x1a))))
    )
    message = (
        f"converged: boundary residual {residual:.2e} after {int(steps)} Newton steps"
        if converged
        else f"shooting did not converge (boundary residual {residual:.2e}, {int(steps)} steps; {traj.message}); "
        "try more segments or a better init"
    )
    E = float(np.mean(traj.charges.energy.values))
    return PathResult(
        t=traj.t,
        x=traj.x,
        p=traj.p,
        action=traj.action,
        T=T_val,
        energy=E,
        charges=traj.charges,
        lagrangian=kind,
        method="shooting",
        converged=converged,
        message=message,
        grad_norm=residual,
        grad_inf=residual,
        el_residual=1e-11,
        iterations=int(steps),
        seconds=seconds,
        parameters={
            "x0": x0a,
            "x1": x1a,
            "T": T_val,
            "energy": energy,
            "segments": K,
            "lagrangian": kind,
        },
        model=sde.name,
    )
