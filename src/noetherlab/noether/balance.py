r"""The balance of a broken charge: how far a near-symmetry lets its Noether charge drift.

For an affine generator ``δx = A x + b`` (``δẋ = A ẋ``) and the charge ``Q = p·δx`` of a
Lagrangian ``L(x, ẋ, t)``, Noether's identity along a solution of the Euler–Lagrange equations is

.. math::  \dot Q = δL = \frac{d}{dε} L(x + ε\,δx,\ ẋ + ε A ẋ,\ t)\Big|_{ε=0} ,

zero for a symmetry. For ``L = ¼ (ẋ − f)^T D^{-1} (ẋ − f)`` with a noise that is invariant and does
not depend on the state (``A D + D A^T = 0``: e.g. isotropic ``D(t) = ½ g(t)² I``, as in a diffusion
model's reverse SDE),

.. math::  δL = p \cdot r(x, t), \qquad r = A f - Df\,δx, \qquad p = ½ D^{-1}(ẋ - f),

with ``r`` the equivariance residual of :mod:`~noetherlab.noether.approximate`; the Onsager–Machlup
Lagrangian adds ``½ ∇(∇·f) \cdot δx``.

**Discrete, exactly.** The path solvers minimise the midpoint action
``S_d = Σ_k L_d(x_k, x_{k+1})``, ``L_d = h_k L(m_k, v_k, t_k^{mid})``. Its node momenta
``p_k^+ = −∂_1 L_d^{(k)}``, ``p_{k+1}^- = ∂_2 L_d^{(k)}`` satisfy, by the chain rule,
``p_{k+1}^-\cdot δx_{k+1} − p_k^+\cdot δx_k = δL_d^{(k)}``; on a stationary path (``p_k^- = p_k^+``)
the charge ``Q_k = p_k\cdot δx_k`` therefore changes by exactly

.. math::  Q_n − Q_0 = \sum_k δL_d^{(k)}, \qquad δL_d^{(k)} = h_k\, p^{mid}_k \cdot r(m_k)
           \ [+\ ½ h_k ∇(∇·f)(m_k)\cdot δm_k] ,

up to the path's Euler–Lagrange residual (:attr:`ChargeBalance.closure`). Two bounds follow:
``|Q_n − Q_0| ≤ Σ_k |δL_d^{(k)}|`` (:attr:`ChargeBalance.bound`) and, by Cauchy–Schwarz, the bound
by the symmetry defect ``d`` of :func:`~noetherlab.noether.approximate.symmetry_defect` measured on
the path's midpoints ``m_k``:

.. math::  |Q_n − Q_0| \le d\,\sqrt{\mathcal D}\ \Bigl(\sum_k h_k^2 |p^{mid}_k|^2\Bigr)^{1/2}
           \ [+\ \sum_k ½ h_k |∇(∇·f)\cdot δm_k|] ,

``\mathcal D`` the defect's denominator on the same states (:attr:`ChargeBalance.defect_bound`).
A symmetry (``d = 0``) conserves the charge; a near-symmetry moves it by at most the defect times
the path's momentum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.linalg import spd_solve
from noetherlab.noether.approximate import defect_forms
from noetherlab.noether.charges import noether_charge
from noetherlab.noether.symmetries import Generator, require_generator
from noetherlab.sde.lagrangian import (
    check_lagrangian,
    check_path,
    discrete_lagrangian,
    potential_term,
)
from noetherlab.sde.model import SDE, require_sde

__all__ = ["ChargeBalance", "charge_balance"]

Array = jax.Array


@dataclass(frozen=True)
class ChargeBalance:
    """Result of :func:`charge_balance` (equations in the module docstring).

    Attributes:
        t: node times ``(n+1,)``.
        charge: ``Q_k = p_k·δx_k`` at the nodes ``(n+1,)``.
        change: measured ``Q_k − Q_0`` ``(n+1,)``.
        predicted: ``Σ_{j<k} δL_d^{(j)}`` ``(n+1,)``: the change Noether's identity predicts from the
            symmetry-breaking of the Lagrangian alone.
        variation: ``δL_d^{(k)}`` per interval ``(n,)``.
        bound: ``Σ_k |δL_d^{(k)}|`` over the whole path.
        defect: the symmetry defect ``d`` on the path's midpoints.
        defect_bound: ``d √𝒟 (Σ h² |p^{mid}|²)^{1/2}`` (+ the Onsager–Machlup term).
        closure: ``max_k |change_k − predicted_k|``: what the Euler–Lagrange residual of the path
            leaves of the identity (≈ the solver's tolerance times the charge's scale).
        scale: ``max_k Σ_i |p_{k,i} δx_{k,i}|``, the charge's natural size.
    """

    t: np.ndarray
    charge: np.ndarray
    change: np.ndarray
    predicted: np.ndarray
    variation: np.ndarray
    bound: float
    defect: float
    defect_bound: float
    closure: float
    scale: float

    @property
    def drift(self) -> float:
        """``|Q_n − Q_0|``, the charge's net change along the path."""
        return float(abs(self.change[-1]))

    def summary(self) -> str:
        return (
            f"charge {self.charge[0]:+.6g} → {self.charge[-1]:+.6g}: change {self.change[-1]:+.3e}, "
            f"predicted by δL {self.predicted[-1]:+.3e} (closure {self.closure:.1e}); "
            f"bounds Σ|δL| {self.bound:.3e}, by the defect d = {self.defect:.3e}: "
            f"{self.defect_bound:.3e}"
        )


def _interval_variation(
    sde: SDE, xa: Array, xb: Array, ta: Array, tb: Array, A: Array, b: Array, kind: str
) -> tuple[Array, Array, Array, Array]:
    """``δL_d`` of one interval (by forward differentiation of the midpoint discrete Lagrangian),
    the midpoint momentum ``p_mid``, the midpoint state and ``|½ h ∇(∇·f)·δm|``."""
    _, dLd = jax.jvp(
        lambda ya, yb: discrete_lagrangian(sde, ya, yb, ta, tb, kind),
        (xa, xb),
        (A @ xa + b, A @ xb + b),
    )
    h, m, tm = tb - ta, 0.5 * (xa + xb), 0.5 * (ta + tb)
    v = (xb - xa) / h
    p_mid = 0.5 * spd_solve(sde.D(m, tm), v - sde.f(m, tm))
    _, dpot = jax.jvp(lambda y: potential_term(sde, y, tm, kind), (m,), (A @ m + b,))
    return dLd, p_mid, m, jnp.abs(h * dpot)


@eqx.filter_jit
def _variations(
    sde: SDE, x: Array, t: Array, A: Array, b: Array, kind: str
) -> tuple[Array, Array, Array, Array]:
    return jax.vmap(_interval_variation, in_axes=(None, 0, 0, 0, 0, None, None, None))(
        sde, x[:-1], x[1:], t[:-1], t[1:], A, b, kind
    )


def charge_balance(
    sde: SDE, generator: Generator, x: Any, t: Any, lagrangian: str = "fw"
) -> ChargeBalance:
    """The measured change of the charge of ``generator`` along the discrete path ``x`` on ``t``,
    against the change Noether's identity predicts from the symmetry-breaking of the Lagrangian,
    and its two bounds (module docstring). ``x`` should be a converged most likely path
    (``path.x``, ``path.t``); otherwise :attr:`ChargeBalance.closure` is large.

    Args:
        sde: the model (noise invariant under ``A`` and independent of the state, e.g. isotropic).
        generator: an affine spatial generator (``Generator.rotation``, ``.translation``).
        x: path ``(n+1, N)``; t: its strictly increasing times ``(n+1,)``.
        lagrangian: ``"fw"`` or ``"om"``.

    Raises:
        InvalidArgumentError: a generator with a time part or a boundary term; a noise that
            depends on the state or is not invariant under ``A`` (the identity has extra terms).
    """
    sde = require_sde(sde)
    kind = check_lagrangian(lagrangian, sde)
    require_generator(generator, sde.dim)
    if generator.time != 0.0 or generator.K is not None:
        raise InvalidArgumentError(
            "generator",
            "has a time part or a boundary term; the balance is for affine generators δx = A x + b",
            "pass Generator.rotation(...), .translation(...) or .affine(A, b)",
        )
    x_arr, t_arr = check_path(sde, x, t)
    A, b = np.asarray(generator.A, dtype=float), np.asarray(generator.b, dtype=float)
    _require_invariant_noise(sde, A, x_arr, t_arr)
    dLd, p_mid, m, om_term = (
        np.asarray(a)
        for a in _variations(
            sde, jnp.asarray(x_arr), jnp.asarray(t_arr), jnp.asarray(A), jnp.asarray(b), kind
        )
    )
    trace = noether_charge(sde, x_arr, t_arr, generator, lagrangian=kind)
    charge = np.asarray(trace.values)
    change = charge - charge[0]
    predicted = np.concatenate([[0.0], np.cumsum(dLd)])
    h = np.diff(t_arr)
    num, den = defect_forms(sde, generator, m, 0.5 * (t_arr[:-1] + t_arr[1:]))
    defect = float(np.sqrt(num / den)) if den > 0 else 0.0
    weight = float(np.sqrt(np.sum(h**2 * np.sum(p_mid**2, axis=1))))
    return ChargeBalance(
        t=t_arr,
        charge=charge,
        change=change,
        predicted=predicted,
        variation=dLd,
        bound=float(np.sum(np.abs(dLd))),
        defect=defect,
        defect_bound=defect * float(np.sqrt(den)) * weight + float(np.sum(om_term)),
        closure=float(np.max(np.abs(change - predicted))),
        scale=float(trace.scale),
    )


def _require_invariant_noise(sde: SDE, A: np.ndarray, x: np.ndarray, t: np.ndarray) -> None:
    """``D`` independent of the state and ``A D + D A^T = 0`` at a few nodes, or a named error."""
    for k in np.unique(np.linspace(0, len(t) - 1, 5).astype(int)):
        D = np.asarray(sde.D(jnp.asarray(x[k]), t[k]))
        moved = np.asarray(sde.D(jnp.asarray(x[k] + 0.1 + 0.05 * x[k]), t[k]))
        AD = A @ D
        if not np.allclose(moved, D, rtol=1e-12, atol=1e-14 * np.max(np.abs(D))) or not np.allclose(
            AD + AD.T, 0.0, atol=1e-12 * max(1.0, float(np.max(np.abs(AD))))
        ):
            raise InvalidArgumentError(
                "sde",
                f"its noise D depends on the state or is not invariant under the generator (at "
                f"node {k}); the balance δQ = Σ p·r needs A D + D Aᵀ = 0 and D(x) = D",
                "use an isotropic state-independent noise, or compare charges with noether_charge",
            )
