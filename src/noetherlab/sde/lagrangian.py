r"""Lagrangians, actions and the Hamiltonian of an SDE's most likely paths.

Two Lagrangians are offered (``lagrangian=`` everywhere):

``"fw"`` (default, Freidlin–Wentzell; paper Eq. 8)
    .. math:: L(x, \dot x, t) = \tfrac14\, (\dot x - f)^T D^{-1} (\dot x - f)

``"om"`` (Onsager–Machlup, midpoint/Stratonovich discretisation of the path integral)
    .. math:: L_{OM} = L_{FW} + \tfrac12\, \nabla\!\cdot f

    Implemented for diffusion tensors that do not depend on ``x`` (constant or ``D(t)``): there the
    correction is exactly ``½ ∇·f``. For state-dependent ``D`` the OM functional acquires
    discretisation-dependent terms (drift corrections and a scalar-curvature term of the metric
    ``D^{-1}``); we refuse rather than return a wrong answer.

The **discrete action** of a path ``x_0 .. x_n`` on a (possibly non-uniform) grid ``t_0 < .. < t_n``
uses the midpoint rule on every interval,

.. math:: S_d = \sum_{k=0}^{n-1} h_k\, L\big(\tfrac{x_k + x_{k+1}}2,\ \tfrac{x_{k+1}-x_k}{h_k},\
          \tfrac{t_k + t_{k+1}}2\big), \qquad h_k = t_{k+1} - t_k .

Its gradient with respect to an interior node is the jump of the discrete momenta there, i.e. the
**discrete Euler–Lagrange residual** (zero at a discrete minimiser). The Hamiltonian is

.. math:: H(x, p, t) = p^T D p + p^T f \;(\;-\tfrac12 \nabla\!\cdot f \text{ for "om"}),
   \qquad \dot x = \partial_p H = f + 2 D p,\quad \dot p = -\partial_x H .
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import ShapeError, UnsupportedModelError
from noetherlab._core.linalg import spd_quad
from noetherlab._core.validation import as_float_array, choice, time_grid
from noetherlab.sde.model import SDE, require_sde

__all__ = [
    "action",
    "discrete_lagrangian",
    "euler_lagrange_residual",
    "hamilton_vector_field",
    "hamiltonian",
    "lagrangian",
]

Array = jax.Array
LAGRANGIANS = ("fw", "om")


def check_lagrangian(kind: Any, sde: SDE, *, allow_degenerate: bool = False) -> str:
    """Validate the ``lagrangian=`` argument for ``sde`` (eager). Degenerate noise is refused unless
    ``allow_degenerate`` (the Hamiltonian form needs no ``D^{-1}``)."""
    require_sde(sde)
    kind = choice(kind, "lagrangian", LAGRANGIANS)
    if sde.degenerate and (kind == "om" or not allow_degenerate):
        raise UnsupportedModelError(
            f"model `{sde.name}` has noise on a subspace only (D is singular): the Lagrangian "
            "¼ (ẋ-f)ᵀ D⁻¹ (ẋ-f) is infinite off the noise subspace and this computation needs it. "
            "Fix: use the Hamiltonian form, which needs no D⁻¹: most_likely_path(..., "
            "method='hamiltonian') or shooting_path(...)"
        )
    if kind == "om" and not sde.diffusion_is_state_independent():
        raise UnsupportedModelError(
            f"argument `lagrangian`: the Onsager–Machlup Lagrangian is implemented only for a diffusion "
            f"tensor that does not depend on x, but model `{sde.name}` has state-dependent D. "
            "Fix: use lagrangian='fw' (the small-noise Freidlin–Wentzell action)."
        )
    return kind


def quad_form(sde: SDE, u: Array, x: Array, t: Array) -> Array:
    """``u^T D(x, t)^{-1} u``."""
    if sde.diffusion_inverse is not None:
        return u @ (sde.diffusion_inverse @ u)
    return spd_quad(sde.D(x, t), u)


def potential_term(sde: SDE, x: Array, t: Array, kind: str) -> Array:
    """The velocity-independent extra term of the Lagrangian: ``½ ∇·f`` for "om", else 0."""
    if kind == "om":
        return 0.5 * sde.divergence(x, t)
    return jnp.zeros((), dtype=jnp.float64)


def lagrangian(sde: SDE, x: Array, v: Array, t: Array | float = 0.0, kind: str = "fw") -> Array:
    r"""``L(x, v, t) = ¼ (v - f)^T D^{-1} (v - f) [+ ½ ∇·f]`` for one state ``x`` and velocity ``v``
    (both shape ``(N,)``); traceable, returns a scalar."""
    t = jnp.asarray(t, dtype=jnp.float64)
    u = v - sde.f(x, t)
    return 0.25 * quad_form(sde, u, x, t) + potential_term(sde, x, t, kind)


def hamiltonian(sde: SDE, x: Array, p: Array, t: Array | float = 0.0, kind: str = "fw") -> Array:
    r"""``H(x, p, t) = p^T D p + p^T f [- ½ ∇·f]``; traceable, returns a scalar."""
    t = jnp.asarray(t, dtype=jnp.float64)
    return p @ (sde.D(x, t) @ p) + p @ sde.f(x, t) - potential_term(sde, x, t, kind)


def hamilton_vector_field(sde: SDE, kind: str = "fw") -> Callable[[Array, Array, Any], Array]:
    """Hamilton's equations as a diffrax-style vector field ``(t, y, args) -> dy/dt`` with
    ``y = concat(x, p)`` of shape ``(2N,)``: ``ẋ = ∂H/∂p = f + 2 D p``, ``ṗ = -∂H/∂x``."""
    n = sde.dim

    def field(t: Array, y: Array, args: Any) -> Array:
        x, p = y[:n], y[n:]
        dHdx, dHdp = jax.grad(hamiltonian, argnums=(1, 2))(sde, x, p, t, kind)
        return jnp.concatenate([dHdp, -dHdx])

    return field


def discrete_lagrangian(
    sde: SDE, xa: Array, xb: Array, ta: Array, tb: Array, kind: str = "fw"
) -> Array:
    """Midpoint discrete Lagrangian ``h L((xa+xb)/2, (xb-xa)/h, (ta+tb)/2)`` of one interval."""
    h = tb - ta
    return h * lagrangian(sde, 0.5 * (xa + xb), (xb - xa) / h, 0.5 * (ta + tb), kind)


def _action(sde: SDE, x: Array, t: Array, kind: str) -> Array:
    terms = jax.vmap(discrete_lagrangian, in_axes=(None, 0, 0, 0, 0, None))(
        sde, x[:-1], x[1:], t[:-1], t[1:], kind
    )
    return jnp.sum(terms)


_action_jit = eqx.filter_jit(_action)
_action_grad_jit = eqx.filter_jit(jax.grad(_action, argnums=1))


def check_path(sde: SDE, x: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate a discrete path ``x`` (shape ``(n+1, N)``; ``(n+1,)`` allowed in 1-D) on grid ``t``."""
    t_arr = time_grid(t, "t")
    x_arr = as_float_array(x, "x")
    if x_arr.ndim == 1 and sde.dim == 1:
        x_arr = x_arr[:, None]
    if x_arr.shape != (t_arr.size, sde.dim):
        raise ShapeError(
            "x",
            f"must have shape (len(t), N) = ({t_arr.size}, {sde.dim}), got {x_arr.shape}",
            "pass one state per time point",
        )
    sde.check_states(x_arr, t_arr)
    return x_arr, t_arr


def action(sde: SDE, x: Any, t: Any, lagrangian: str = "fw") -> float:
    """Midpoint-rule discrete action ``S_d`` of the path ``x`` (``(n+1, N)``) on the grid ``t``
    (``(n+1,)``, strictly increasing, non-uniform allowed). See the module docstring for the formula."""
    kind = check_lagrangian(lagrangian, sde)
    x_arr, t_arr = check_path(sde, x, t)
    return float(_action_jit(sde, jnp.asarray(x_arr), jnp.asarray(t_arr), kind))


def euler_lagrange_residual(sde: SDE, x: Any, t: Any, lagrangian: str = "fw") -> np.ndarray:
    r"""Discrete Euler–Lagrange residual at the interior nodes, shape ``(n-1, N)``.

    ``r_k = (∂S_d/∂x_k) / h̄_k`` with ``h̄_k = (h_{k-1} + h_k)/2``. ``∂S_d/∂x_k = p_k^- - p_k^+`` is
    the jump of the discrete momenta at node ``k``; dividing by ``h̄_k`` gives a consistent
    approximation of ``∂L/∂x - d/dt ∂L/∂ẋ`` (units of momentum per time). It vanishes at a discrete
    minimiser."""
    kind = check_lagrangian(lagrangian, sde)
    x_arr, t_arr = check_path(sde, x, t)
    g = np.asarray(_action_grad_jit(sde, jnp.asarray(x_arr), jnp.asarray(t_arr), kind))
    h = np.diff(t_arr)
    hbar = 0.5 * (h[:-1] + h[1:])
    return g[1:-1] / hbar[:, None]
