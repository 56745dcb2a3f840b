r"""The quasi-potential of an attractor as a field on a 2-D grid, by the method of characteristics.

The quasi-potential ``S(x)`` (the action of the cheapest path from the attractor ``m`` to ``x``;
mean exit times grow like ``e^{S}``) solves ``∇S·f + ∇S·D∇S = 0``. Its characteristics are the
``E = 0`` solutions of Hamilton's equations (Freidlin–Wentzell Hamiltonian ``H = pᵀf + pᵀDp``):

.. math:: \dot x = f + 2Dp,\qquad \dot p = -J(x)^T p,\qquad \dot S = p^T D p .

Rays start on a small ellipse ``½ yᵀH_m y = S_0`` around ``m`` (``H_m`` the quasi-potential
Hessian there, :func:`noetherlab.metastability.escape_rates.quasi_potential_hessian`) with ``p = H_m y`` and
``S = S_0``; each is integrated with diffrax (``Tsit5``, adaptive step, all rays at once) until
``t_max`` or until it leaves the box (with a 10 % margin). A grid
cell gets the smallest ``S`` of the ray points inside it (where rays cross — caustics — the
smallest action wins, as the minimisation over paths requires); cells no ray reaches are NaN.
The field is exact along each ray up to the integration tolerance and the ``O(S_0^{3/2})`` error
of the quadratic start; on the grid, a cell's value is that of a point inside it (error at most
``|∇S| h``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import ShapeError, UnsupportedModelError
from noetherlab._core.resources import check_memory
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.metastability.escape_rates import check_fixed_point, quasi_potential_hessian
from noetherlab.sde.model import SDE, require_sde

__all__ = ["QuasiPotential", "quasi_potential"]

Array = jax.Array


@dataclass(frozen=True)
class QuasiPotential:
    """``S`` on a grid: ``values[j, i]`` at ``(x[i], y[j])`` (NaN where no ray arrived), and the
    ray points ``points`` ``(K, 2)`` with their exact actions ``actions`` ``(K,)``."""

    x: np.ndarray
    y: np.ndarray
    values: np.ndarray = field(repr=False)
    points: np.ndarray = field(repr=False)
    actions: np.ndarray = field(repr=False)

    @property
    def coverage(self) -> float:
        """Fraction of grid cells reached by a ray."""
        return float(np.isfinite(self.values).mean())


@eqx.filter_jit
def _rays(
    sde: SDE, x0: Array, p0: Array, s0: Array, ts: Array, lo: Array, hi: Array
) -> tuple[Array, Array]:
    t0 = jnp.zeros((), jnp.float64)

    def vector_field(t: Any, state: Any, args: Any) -> Any:
        x, p, _ = state
        D = sde.D(x, t0)
        f, vjp = jax.vjp(lambda y: sde.f(y, t0), x)
        return f + 2.0 * D @ p, -vjp(p)[0], p @ D @ p

    def one(x: Array, p: Array) -> tuple[Array, Array]:
        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(vector_field),
            diffrax.Tsit5(),
            ts[0],
            ts[-1],
            None,
            (x, p, s0),
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=1e-9, atol=1e-12),
            event=diffrax.Event(lambda t, y, args, **kw: jnp.any((y[0] < lo) | (y[0] > hi))),
            max_steps=100_000,
            throw=False,
        )
        xs, _, ss = sol.ys
        return xs, ss

    return jax.vmap(one)(x0, p0)


#: samples stored along each ray
RAY_SAMPLES = 1000


def quasi_potential(
    sde: SDE,
    attractor: Any,
    box: Any,
    *,
    cells: int = 100,
    rays: int = 2000,
    start: float = 1e-4,
    t_max: float | None = None,
) -> QuasiPotential:
    """``S`` of the attractor ``attractor`` of a 2-D time-independent ``sde`` with constant ``D`` on
    a ``cells × cells`` grid of ``box`` (``(lo, hi)`` or ``((xlo, xhi), (ylo, yhi))``) from
    ``rays`` characteristics started at ``S_0 = start`` (see the module docstring). ``t_max``
    (default ``25 / |slowest eigenvalue at m|``) bounds each ray's time."""
    sde = require_sde(sde)
    if sde.dim != 2 or sde.time_dependent or not sde.constant_diffusion or sde.degenerate:
        raise UnsupportedModelError(
            f"`{sde.name}`: the quasi-potential field is drawn for 2-D time-independent models "
            "with constant non-degenerate noise (use landscape() for barriers in any dimension)"
        )
    m = check_fixed_point(sde, attractor, "attractor", 0)
    lohi = as_float_array(box, "box")
    if lohi.shape == (2,):
        lohi = np.tile(lohi, (2, 1))
    if lohi.shape != (2, 2) or not np.all(np.isfinite(lohi)) or np.any(lohi[:, 1] <= lohi[:, 0]):
        raise ShapeError("box", f"box {lohi.tolist()}", "give (lo, hi) or ((xlo, xhi), (ylo, yhi))")
    n, k = positive_int(cells, "cells", minimum=2), positive_int(rays, "rays", minimum=8)
    start = positive_float(start, "start", "initial quasi-potential of the rays")
    if t_max is not None:
        t_max = positive_float(t_max, "t_max", "longest ray time")
    check_memory(
        8.0 * k * RAY_SAMPLES * 12 + 8.0 * n * n * 4,
        "rays" if k * RAY_SAMPLES * 12 > n * n * 4 else "cells",
        f"{k} rays of {RAY_SAMPLES} samples on a {n} × {n} grid",
        "pass fewer rays (a few thousand cover a 2-D box) or fewer cells",
    )
    J = np.asarray(jax.jacfwd(lambda y: sde.f(y, 0.0))(jnp.asarray(m)))
    D = np.asarray(sde.D(jnp.asarray(m)))
    H = quasi_potential_hessian(J, D)
    L = np.linalg.cholesky(H)
    theta = 2 * np.pi * np.arange(k) / k
    circle = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    y = np.sqrt(2 * start) * np.linalg.solve(L.T, circle.T).T  # ½ yᵀ H y = start
    if t_max is None:
        t_max = 25.0 / float(np.min(np.abs(np.linalg.eigvals(J).real)))
    ts = jnp.linspace(0.0, float(t_max), RAY_SAMPLES)
    xs, ss = (
        np.asarray(a)
        for a in _rays(
            sde,
            jnp.asarray(m + y),
            jnp.asarray(y @ H),
            jnp.asarray(start),
            ts,
            jnp.asarray(lohi[:, 0] - 0.1 * (lohi[:, 1] - lohi[:, 0])),
            jnp.asarray(lohi[:, 1] + 0.1 * (lohi[:, 1] - lohi[:, 0])),
        )
    )
    pts, acts = xs.reshape(-1, 2), ss.reshape(-1)
    inside = np.all((pts >= lohi[:, 0]) & (pts <= lohi[:, 1]), axis=1) & np.isfinite(acts)
    pts, acts = pts[inside], acts[inside]
    h = (lohi[:, 1] - lohi[:, 0]) / n
    idx = np.minimum(((pts - lohi[:, 0]) / h).astype(int), n - 1)
    values = np.full((n, n), np.inf)
    np.minimum.at(values, (idx[:, 1], idx[:, 0]), acts)
    values[np.isinf(values)] = np.nan
    centres = [lohi[i, 0] + h[i] * (np.arange(n) + 0.5) for i in range(2)]
    return QuasiPotential(centres[0], centres[1], values, pts, acts)
