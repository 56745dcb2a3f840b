r"""Noether charges along discrete paths and along Hamiltonian trajectories.

Continuous charges (paper Eqs. 10, 15, 17 and the general Eq. 4):

.. math::
    E = \dot x^T \partial_{\dot x} L - L = \tfrac14 \dot x^T D^{-1}\dot x - \tfrac14 f^T D^{-1} f
        \;[-\tfrac12 \nabla\!\cdot f \text{ for "om"}],\qquad
    p = \partial_{\dot x} L = \tfrac12 D^{-1}(\dot x - f),\qquad
    \mathbf L = x p^T - p x^T,\qquad
    J = p \cdot \delta x - K .

**Discretisation** (consistent with the midpoint action of :mod:`noetherlab.sde.lagrangian`):

* node momenta ``p_k``: ``p_0 = -∂L_d(x_0,x_1)/∂x_0``, ``p_n = ∂L_d(x_{n-1},x_n)/∂x_n`` and, at interior
  nodes, the mean of the left value ``p_k^- = ∂L_d(x_{k-1},x_k)/∂x_k`` and the right value
  ``p_k^+ = -∂L_d(x_k,x_{k+1})/∂x_k``. At a discrete minimiser ``p_k^- = p_k^+`` (discrete
  Euler–Lagrange equations), and then every momentum map ``J_k = p_k·(A x_k + b)`` of an affine
  symmetry of ``L`` is conserved *exactly* (discrete Noether theorem) — to solver tolerance.
* interval energies ``E_k = v_k·∂L/∂v - L`` at the midpoint ``(m_k, v_k, t_{k+1/2})`` with
  ``v_k = (x_{k+1}-x_k)/h_k``; equivalently ``E_k = -∂L_d/∂h_k``. On a *prescribed* grid a
  symplectic discretisation cannot conserve energy exactly (Ge–Marsden), so the fixed-time solver
  conserves ``E_k`` to ``O(h²)``; the fixed-energy solver chooses each ``h_k`` so that ``E_k = E``
  exactly.

Each charge comes as a :class:`ChargeTrace` with its drift: ``abs_drift = max J - min J`` (per
component) and ``drift = abs_drift / scale`` where ``scale`` is the size of the terms that make up
the charge (so that a charge that is itself ~0 is not divided by ~0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    ShapeError,
    UnsupportedModelError,
)
from noetherlab._core.validation import as_float_array, require_finite
from noetherlab.sde.lagrangian import (
    check_lagrangian,
    check_path,
    discrete_lagrangian,
    hamiltonian,
    lagrangian,
    potential_term,
    quad_form,
)
from noetherlab.sde.model import SDE

__all__ = ["ChargeTrace", "Charges", "noether_charge", "noether_charges", "trajectory_charges"]
# Internal API (used by noetherlab.paths): charges_from, discrete_charges.

Array = jax.Array


class GeneratorLike(Protocol):
    """Anything with an affine generator ``δx = A x + b``, a time-translation coefficient and an
    optional boundary term ``K(x, t)`` (see :class:`noetherlab.noether.symmetries.Generator`)."""

    @property
    def A(self) -> np.ndarray: ...
    @property
    def b(self) -> np.ndarray: ...
    @property
    def time(self) -> float: ...
    @property
    def K(self) -> Callable[[Any, Any], Any] | None: ...
    @property
    def name(self) -> str: ...


#: above this state dimension the ``(m, N, N)`` angular-momentum tensor along a path is not stored
#: (``N = 1000`` would need ``8·m·N²`` bytes); its drift is computed plane block by plane block
ANGULAR_TENSOR_MAX_DIM = 64


@dataclass(frozen=True)
class ChargeTrace:
    """One candidate conserved quantity along a path.

    Attributes:
        name: e.g. ``"energy"``, ``"momentum"``, ``"angular momentum"``.
        times: where the values live (nodes, or interval midpoints for the energy), shape ``(m,)``.
        data: the values, shape ``(m,)`` or ``(m, ...)`` for vector/tensor charges; ``None`` when
            only the summary is kept (the angular-momentum tensor of a path with ``N > 64``) — read
            them through :attr:`values`.
        scale: size of the terms composing the charge (denominator of ``drift``).
        kept_abs_drift: ``max J - min J`` per component when ``data`` is not kept.
    """

    name: str
    times: np.ndarray
    data: np.ndarray | None
    scale: float
    kept_abs_drift: np.ndarray | None = None

    @property
    def stored(self) -> bool:
        """Whether the values along the path are kept (see :attr:`values`)."""
        return self.data is not None

    @property
    def values(self) -> np.ndarray:
        """The values along the path (raises for a summary-only trace)."""
        if self.data is None:
            raise UnsupportedModelError(
                f"the {self.name} values along this path are not stored (N > {ANGULAR_TENSOR_MAX_DIM}); "
                "Fix: evaluate the charge of one plane with noether_charge(sde, x, t, "
                "Generator.rotation(i, j, N))"
            )
        return self.data

    @property
    def abs_drift(self) -> np.ndarray:
        """``max J - min J`` along the path (per component)."""
        if self.data is None:
            assert self.kept_abs_drift is not None
            return self.kept_abs_drift
        return np.max(self.data, axis=0) - np.min(self.data, axis=0)

    @property
    def drift(self) -> float:
        """Largest relative deviation: ``max(abs_drift) / scale`` (0 for an exactly constant charge)."""
        return float(np.max(self.abs_drift) / self.scale) if self.scale > 0 else 0.0

    @property
    def mean(self) -> np.ndarray:
        return np.mean(self.values, axis=0)

    def __repr__(self) -> str:
        mean = np.round(self.mean, 10).tolist() if self.stored else "not stored"
        return f"ChargeTrace({self.name!r}, mean={mean}, drift={self.drift:.3e})"


def _angular_drift_blocked(x: np.ndarray, p: np.ndarray, block: int = 16) -> np.ndarray:
    """``max_t L_ij - min_t L_ij`` for all planes without the ``(m, N, N)`` tensor."""
    N = x.shape[1]
    out = np.empty((N, N))
    for a in range(0, N, block):
        b = min(N, a + block)
        L = x[:, a:b, None] * p[:, None, :] - p[:, a:b, None] * x[:, None, :]
        out[a:b] = np.max(L, axis=0) - np.min(L, axis=0)
    return out


@dataclass(frozen=True)
class Charges:
    """Energy, momentum and angular momentum along a discrete path (see module docstring).

    ``energy`` lives on interval midpoints (``n`` values), ``momentum`` ``(n+1, N)`` and
    ``angular_momentum`` ``(n+1, N, N)`` on nodes. ``momenta`` are the node momenta ``p_k``."""

    energy: ChargeTrace
    momentum: ChargeTrace
    angular_momentum: ChargeTrace
    momenta: np.ndarray
    extra: dict[str, ChargeTrace] = field(default_factory=dict)

    def drift_summary(self, per_component: bool = False) -> dict[str, float]:
        """``{name: relative drift}`` for every candidate charge evaluated — whether or not a
        symmetry makes it conserved (``PathResult.symmetry_charges`` says which are). With
        ``per_component`` (and ``N <= 4``) the momentum components ``p_i`` and the angular-momentum
        planes ``L_ij`` are listed one by one instead of their largest drift."""
        out = {"energy": self.energy.drift}
        N = self.momenta.shape[1]
        if per_component and N <= 4:
            m, a = self.momentum, self.angular_momentum
            for i in range(N):
                out[f"momentum p{i + 1}"] = float(m.abs_drift[i] / m.scale) if m.scale > 0 else 0.0
            for i in range(N):
                for j in range(i + 1, N):
                    d = float(a.abs_drift[i, j] / a.scale) if a.scale > 0 else 0.0
                    out[f"angular momentum L{i + 1}{j + 1}"] = d
        else:
            out["momentum"] = self.momentum.drift
            out["angular momentum"] = self.angular_momentum.drift
        out.update({k: v.drift for k, v in self.extra.items()})
        return out


# ---------------------------------------------------------------------------- discrete charges
def _interval_quantities(
    sde: SDE, xa: Array, xb: Array, ta: Array, tb: Array, kind: str
) -> tuple[Array, ...]:
    """Left/right momenta, energy and energy scale of one interval."""
    dLa, dLb = jax.grad(discrete_lagrangian, argnums=(1, 2))(sde, xa, xb, ta, tb, kind)
    h = tb - ta
    m, v, tm = 0.5 * (xa + xb), (xb - xa) / h, 0.5 * (ta + tb)
    L, dLdv = jax.value_and_grad(lagrangian, argnums=2)(sde, m, v, tm, kind)
    energy = v @ dLdv - L
    f = sde.f(m, tm)
    scale = (
        0.25 * quad_form(sde, v, m, tm)
        + 0.25 * quad_form(sde, f, m, tm)
        + jnp.abs(potential_term(sde, m, tm, kind))
    )
    return -dLa, dLb, energy, scale


@eqx.filter_jit
def _discrete_charges(sde: SDE, x: Array, t: Array, kind: str, last: Array) -> tuple[Array, ...]:
    """Node momenta and interval energies; ``last`` (data) is the index of the path's end node
    (``x.shape[0] - 1``, or less when the path is padded with copies of its end, which are
    then ignored)."""
    p_plus, p_minus, energy, escale = jax.vmap(
        _interval_quantities, in_axes=(None, 0, 0, 0, 0, None)
    )(sde, x[:-1], x[1:], t[:-1], t[1:], kind)
    interior = 0.5 * (p_minus[:-1] + p_plus[1:])
    p = jnp.concatenate([p_plus[:1], interior, p_minus[-1:]], axis=0)
    p = p.at[last].set(p_minus[last - 1])
    return p, energy, escale


def _charge_arrays(
    sde: SDE, x: np.ndarray, t: np.ndarray, kind: str, intervals: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(p, energy, energy scale)`` of a validated path on ``n`` intervals, computed on it padded
    to ``intervals`` (``>= n``) when given, so that one compiled kernel serves several grids."""
    n = x.shape[0] - 1
    if intervals is not None and intervals > n:
        extra = np.arange(1, intervals - n + 1)
        x = np.concatenate([x, np.repeat(x[-1:], extra.size, axis=0)])
        t = np.concatenate([t, t[-1] + (t[-1] - t[-2]) * extra])
    p, energy, escale = (
        np.asarray(a)
        for a in _discrete_charges(sde, jnp.asarray(x), jnp.asarray(t), kind, jnp.asarray(n))
    )
    return p[: n + 1], energy[:n], escale[:n]


def node_momenta(sde: SDE, x: np.ndarray, t: np.ndarray, kind: str) -> np.ndarray:
    """Node momenta ``p_k`` (shape ``(n+1, N)``) of a validated path."""
    return _charge_arrays(sde, x, t, kind)[0]


def charges_from(
    x: np.ndarray,
    t: np.ndarray,
    p: np.ndarray,
    energy: ChargeTrace,
    momentum_scale: float | None = None,
    angular_scale: float | None = None,
) -> Charges:
    """Assemble :class:`Charges` from node states ``x``, node momenta ``p`` (``(m, N)``) and an
    energy trace; momentum and angular-momentum scales default to ``max|p|`` and ``2 max|x_i p_j|``.
    (Internal API shared by the path solvers and the loaders.)"""
    m_scale = float(np.max(np.abs(p))) if momentum_scale is None else momentum_scale
    m_trace = ChargeTrace("momentum", t, p, m_scale)
    if angular_scale is None:  # 2 max_k max_ij |x_ki| |p_kj|
        angular_scale = (
            2.0 * float(np.max(np.max(np.abs(x), axis=1) * np.max(np.abs(p), axis=1)))
            if x.size
            else 0.0
        )
    if x.shape[1] <= ANGULAR_TENSOR_MAX_DIM:
        ang = np.einsum("ki,kj->kij", x, p) - np.einsum("ki,kj->kij", p, x)
        a_trace = ChargeTrace("angular momentum", t, ang, angular_scale)
    else:
        a_trace = ChargeTrace(
            "angular momentum", t, None, angular_scale, _angular_drift_blocked(x, p)
        )
    return Charges(energy=energy, momentum=m_trace, angular_momentum=a_trace, momenta=p)


def discrete_charges(
    sde: SDE, x: np.ndarray, t: np.ndarray, kind: str, intervals: int | None = None
) -> Charges:
    """Charges of a validated discrete path (node momenta, interval energies); ``intervals``: see
    :func:`_charge_arrays`. (Internal API.)"""
    p, energy, escale = _charge_arrays(sde, x, t, kind, intervals)
    e_trace = ChargeTrace("energy", 0.5 * (t[:-1] + t[1:]), energy, float(np.max(escale)))
    return charges_from(x, t, p, e_trace)


def noether_charges(sde: SDE, x: Any, t: Any, lagrangian: str = "fw") -> Charges:
    """Energy, momentum vector and angular-momentum tensor along the discrete path ``x`` on ``t``.

    Args:
        sde: the model.
        x: path, shape ``(n+1, N)`` (``(n+1,)`` in 1-D).
        t: strictly increasing grid, shape ``(n+1,)``.
        lagrangian: ``"fw"`` or ``"om"`` (the OM energy includes ``-½ ∇·f``).

    Returns:
        :class:`Charges`; each entry carries its values and its relative drift along the path.
    """
    kind = check_lagrangian(lagrangian, sde)
    x_arr, t_arr = check_path(sde, x, t)
    return discrete_charges(sde, x_arr, t_arr, kind)


def _generator_values(
    gen: GeneratorLike, x: np.ndarray, t: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    dx = x @ np.asarray(gen.A).T + np.asarray(gen.b)[None, :]
    terms = p * dx
    values = np.sum(terms, axis=1)
    scale = np.sum(np.abs(terms), axis=1)
    if gen.K is not None:
        K = np.asarray(jax.vmap(gen.K)(jnp.asarray(x), jnp.asarray(t)), dtype=np.float64).reshape(
            -1
        )
        values = values - K
        scale = scale + np.abs(K)
    return values, scale


def noether_charge(
    sde: SDE, x: Any, t: Any, generator: GeneratorLike, lagrangian: str = "fw"
) -> ChargeTrace:
    r"""The general Noether charge ``J = p·δx + c E - K`` of a generator along a discrete path.

    ``δx = A x + b`` is the spatial part, ``c = generator.time`` the time-translation coefficient
    (a pure time translation gives ``J = E``), and ``K(x, t)`` the boundary term of a
    quasi-symmetry (``L → L + ε dK/dt``). Spatial parts are evaluated at the nodes with the node
    momenta; a pure time translation returns the interval energies. For a mixed generator the
    energy is averaged onto the nodes (this adds an ``O(h²)`` drift).
    """
    kind = check_lagrangian(lagrangian, sde)
    x_arr, t_arr = check_path(sde, x, t)
    _check_generator_like(generator, sde.dim)
    p, energy, escale = _charge_arrays(sde, x_arr, t_arr, kind)
    spatial = (
        np.any(np.asarray(generator.A) != 0)
        or np.any(np.asarray(generator.b) != 0)
        or generator.K is not None
    )
    c = float(generator.time)
    name = generator.name or "charge"
    if not spatial:
        return ChargeTrace(
            name, 0.5 * (t_arr[:-1] + t_arr[1:]), c * energy, abs(c) * float(np.max(escale))
        )
    values, scale = _generator_values(generator, x_arr, t_arr, p)
    if c != 0.0:
        e_nodes = np.concatenate([energy[:1], 0.5 * (energy[:-1] + energy[1:]), energy[-1:]])
        s_nodes = np.concatenate([escale[:1], 0.5 * (escale[:-1] + escale[1:]), escale[-1:]])
        values = values + c * e_nodes
        scale = scale + abs(c) * s_nodes
    return ChargeTrace(name, t_arr, values, float(np.max(scale)))


def _check_generator_like(generator: Any, dim: int) -> None:
    """A generator (``A``, ``b``, ``time``, ``K``) of a ``dim``-dimensional model, or a clear error."""
    if not all(hasattr(generator, a) for a in ("A", "b", "time", "K")):
        raise InvalidArgumentError(
            "generator",
            f"must be a generator (with A, b, time, K), got {type(generator).__name__}",
            "pass a Generator (Generator.rotation, .translation, .affine) or a Symmetry",
        )
    try:
        A = np.asarray(generator.A, dtype=np.float64)
        b = np.asarray(generator.b, dtype=np.float64)
        c = float(generator.time)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "generator", "has non-numeric A, b or time", "build it with Generator.affine(A, b)"
        ) from None
    if A.shape != (dim, dim) or b.shape != (dim,):
        raise ShapeError(
            "generator",
            f"has A {A.shape} and b {b.shape}; the model has dimension {dim}",
            "build the generator for this model",
        )
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b)) and math.isfinite(c)):
        raise NonFiniteError(
            "argument `generator`: A, b or time contains NaN or infinity. Fix: pass finite entries."
        )


# ---------------------------------------------------------------------------- continuous trajectories
@eqx.filter_jit
def _trajectory_energy(sde: SDE, t: Array, x: Array, p: Array, kind: str) -> tuple[Array, Array]:
    def one(ti: Array, xi: Array, pi: Array) -> tuple[Array, Array]:
        H = hamiltonian(sde, xi, pi, ti, kind)
        Dp = sde.D(xi, ti) @ pi
        f = sde.f(xi, ti)
        scale = pi @ Dp + jnp.abs(pi @ f) + jnp.abs(potential_term(sde, xi, ti, kind))
        return H, scale

    return jax.vmap(one)(t, x, p)


def trajectory_charges(sde: SDE, t: Any, x: Any, p: Any, lagrangian: str = "fw") -> Charges:
    """Charges along a (continuous-time) Hamiltonian trajectory ``(x(t), p(t))`` sampled at ``t``:
    ``E = H(x, p, t)``, ``p`` and ``L = x p^T - p x^T`` (used for shooting / ODE solutions; the
    Hamiltonian form needs no ``D^{-1}``, so degenerate noise is fine)."""
    kind = check_lagrangian(lagrangian, sde, allow_degenerate=True)
    t_arr = as_float_array(t, "t")
    if t_arr.ndim != 1 or t_arr.size < 1:
        raise ShapeError(
            "t",
            f"must be a 1-D array of times, got shape {t_arr.shape}",
            "pass the sample times, e.g. numpy.linspace(0, T, m)",
        )
    require_finite(t_arr, "t")
    arrays = []
    for name, value in (("x", x), ("p", p)):
        arr = as_float_array(value, name)
        if arr.size != t_arr.size * sde.dim:
            raise ShapeError(
                name,
                f"must hold one state per time, shape ({t_arr.size}, {sde.dim}), got {arr.shape}",
                "pass the trajectory sampled at the times t",
            )
        arr = arr.reshape(t_arr.size, sde.dim)
        require_finite(arr, name)
        arrays.append(arr)
    x_arr, p_arr = arrays
    H, scale = (
        np.asarray(a)
        for a in _trajectory_energy(
            sde, jnp.asarray(t_arr), jnp.asarray(x_arr), jnp.asarray(p_arr), kind
        )
    )
    return charges_from(x_arr, t_arr, p_arr, ChargeTrace("energy", t_arr, H, float(np.max(scale))))
