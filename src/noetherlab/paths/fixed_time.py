r"""Fixed-time most likely paths: minimise the midpoint discrete action over the interior nodes.

.. math:: \min_{x_1..x_{n-1}} S_d = \sum_k h_k L\big(\tfrac{x_k+x_{k+1}}2, \tfrac{x_{k+1}-x_k}{h_k},
          t_{k+1/2}\big), \qquad x_0, x_n \text{ fixed},\ t_0 < \dots < t_n \text{ given}.

Methods:

``"newton"`` (default)
    Newton's method with the exact block-tridiagonal Hessian (``O(n N³)`` per step), Levenberg
    shifts when it is indefinite, Armijo backtracking (:mod:`noetherlab.paths._chain`).
``"lbfgs"``
    SciPy's L-BFGS-B with the exact JAX gradient (a fallback, and the baseline of the benchmark).

At the discrete minimiser the discrete Euler–Lagrange equations hold, so every momentum map of an
affine symmetry is conserved exactly (to solver tolerance); the interval energy is conserved to
``O(h²)`` on a prescribed grid (use the fixed-energy solver for exact energy).
"""

from __future__ import annotations

import time
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from noetherlab.charges import _charges_from, _discrete_charges
from noetherlab.lagrangian import discrete_lagrangian
from noetherlab.paths._chain import Chain, chain_gradient, chain_value, newton_minimise
from noetherlab.paths._result import PathResult
from noetherlab.sde import SDE

Array = jax.Array


class _Model(eqx.Module):
    sde: SDE
    kind: str = eqx.field(static=True)


def _fixed_time_cost(za: Array, zb: Array, d: Array, params: _Model) -> Array:
    return discrete_lagrangian(params.sde, za, zb, d[0], d[1], params.kind)


def build_chain(sde: SDE, kind: str, x0: np.ndarray, x1: np.ndarray, t: np.ndarray) -> Chain:
    n, N = t.size - 1, sde.dim
    base = np.zeros((n + 1, N))
    base[0], base[-1] = x0, x1
    frame = np.broadcast_to(np.eye(N), (n + 1, N, N)).copy()
    frame[0] = frame[-1] = 0.0
    data = np.stack([t[:-1], t[1:]], axis=1)
    return Chain(
        _fixed_time_cost,
        _Model(sde, kind),
        jnp.asarray(base),
        jnp.asarray(frame),
        jnp.asarray(data),
    )


def interpolate_path(t_old: np.ndarray, x_old: np.ndarray, t_new: np.ndarray) -> np.ndarray:
    """Linear interpolation of a path onto a new grid with the same end times (rescaled if not)."""
    s_old = (t_old - t_old[0]) / (t_old[-1] - t_old[0])
    s_new = (t_new - t_new[0]) / (t_new[-1] - t_new[0])
    return np.stack([np.interp(s_new, s_old, x_old[:, i]) for i in range(x_old.shape[1])], axis=1)


def momentum_floor(sde: SDE, x0: np.ndarray, x1: np.ndarray, T: float) -> float:
    """A momentum scale ``½ |D^{-1}| max(|Δx|/T, |f(x0)|, |f(x1)|)`` used to make tolerances relative."""
    Dinv = np.asarray(sde.D_inv(jnp.asarray(x0), 0.0))
    f0 = np.abs(np.asarray(sde.f(jnp.asarray(x0), 0.0)))
    f1 = np.abs(np.asarray(sde.f(jnp.asarray(x1), 0.0)))
    speed = max(float(np.max(np.abs(x1 - x0))) / T, float(np.max(f0)), float(np.max(f1)), 1e-300)
    return 0.5 * float(np.max(np.abs(Dinv))) * speed


def finish(
    sde: SDE,
    kind: str,
    x: np.ndarray,
    t: np.ndarray,
    *,
    method: str,
    converged: bool,
    message: str,
    iterations: int,
    seconds: float,
    parameters: dict[str, Any],
    history: list[dict[str, float]] | None = None,
    T: float | None = None,
    energy: float | None = None,
) -> PathResult:
    """Assemble a :class:`PathResult` (action, charges, gradient diagnostics) for a discrete path."""
    chain = build_chain(sde, kind, x[0], x[-1], t)
    y = jnp.asarray(x)
    S = float(chain_value(chain, y))
    g_full, _, g_inf = chain_gradient(chain, y)
    g = np.asarray(g_full)[1:-1]
    h = np.diff(t)
    el = g / (0.5 * (h[:-1] + h[1:]))[:, None] if g.size else g
    p, E, escale = (np.asarray(a) for a in _discrete_charges(sde, y, jnp.asarray(t), kind))
    charges = _charges_from(x, t, p, E, escale, 0.5 * (t[:-1] + t[1:]))
    if not np.isfinite(S) or not np.all(np.isfinite(x)):
        converged = False
        message = "non-finite action or path: " + message
    return PathResult(
        t=t,
        x=x,
        p=p,
        action=S,
        T=float(t[-1] - t[0]) if T is None else T,
        energy=float(np.sum(h * E) / np.sum(h)) if energy is None else energy,
        charges=charges,
        lagrangian=kind,
        method=method,
        converged=converged,
        message=message,
        grad_norm=float(np.linalg.norm(g)),
        grad_inf=float(g_inf),
        el_residual=float(np.max(np.abs(el))) if el.size else 0.0,
        iterations=iterations,
        seconds=seconds,
        parameters=parameters,
        model=sde.name,
        history=history or [],
    )


def solve_fixed_time(
    sde: SDE,
    kind: str,
    x0: np.ndarray,
    x1: np.ndarray,
    t: np.ndarray,
    x_init: np.ndarray,
    *,
    method: str = "newton",
    gtol: float = 1e-8,
    max_iter: int = 200,
    parameters: dict[str, Any] | None = None,
) -> PathResult:
    """Minimise the discrete action on the grid ``t`` from the initial path ``x_init``."""
    parameters = dict(parameters or {})
    chain = build_chain(sde, kind, x0, x1, t)
    p_floor = momentum_floor(sde, x0, x1, float(t[-1] - t[0]))
    start = time.perf_counter()
    if method == "newton":
        res = newton_minimise(chain, x_init, gtol=gtol, p_floor=p_floor, max_iter=max_iter)
        x, converged, message, iterations, history = (
            res.y,
            res.converged,
            res.message,
            res.iterations,
            res.history,
        )
    else:
        x, converged, message, iterations, history = _lbfgs(chain, x_init, gtol, p_floor, max_iter)
    seconds = time.perf_counter() - start
    x = np.asarray(x).copy()
    x[0], x[-1] = x0, x1
    return finish(
        sde,
        kind,
        x,
        t,
        method=method,
        converged=converged,
        message=message,
        iterations=iterations,
        seconds=seconds,
        parameters=parameters,
        history=history,
    )


@eqx.filter_jit
def _value_and_grad(chain: Chain, y: Array) -> tuple[Array, Array]:
    return chain_value(chain, y), chain_gradient(chain, y)[0]


def _lbfgs(
    chain: Chain, x_init: np.ndarray, gtol: float, p_floor: float, max_iter: int
) -> tuple[np.ndarray, bool, str, int, list[dict[str, float]]]:
    shape = x_init.shape
    template = np.asarray(x_init, dtype=np.float64).copy()

    def fun(z: np.ndarray) -> tuple[float, np.ndarray]:
        y = template.copy()
        y[1:-1] = z.reshape(shape[0] - 2, shape[1])
        v, g = _value_and_grad(chain, jnp.asarray(y))
        return float(v), np.asarray(g)[1:-1].reshape(-1)

    _, P, _ = chain_gradient(chain, jnp.asarray(template))
    tol = gtol * max(float(P), p_floor)
    res = scipy.optimize.minimize(
        fun,
        template[1:-1].reshape(-1),
        jac=True,
        method="L-BFGS-B",
        options={
            "maxiter": max_iter,
            "maxfun": 2 * max_iter,
            "gtol": tol,
            "ftol": 0.0,
            "maxcor": 30,
        },
    )
    y = template.copy()
    y[1:-1] = res.x.reshape(shape[0] - 2, shape[1])
    _, P, g_inf = chain_gradient(chain, jnp.asarray(y))
    tol = gtol * max(float(P), p_floor)
    converged = float(g_inf) <= tol
    msg = (
        f"converged: |grad|_inf = {float(g_inf):.3e} <= {tol:.3e}"
        if converged
        else f"L-BFGS stopped ({res.message}) at |grad|_inf = {float(g_inf):.3e} > {tol:.3e}"
    )
    return y, converged, msg, int(res.nit), []
