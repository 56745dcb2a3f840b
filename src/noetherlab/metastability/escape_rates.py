r"""Mean exit times over a saddle: Eyring–Kramers (gradient drifts) and Bouchet–Reygner (any drift).

Noise convention: the model's own ``D`` (``dx = f dt + G dW``, ``D = G Gᵀ/2``), the barrier ``S`` is
the action ``¼∫(ẋ−f)ᵀD⁻¹(ẋ−f)`` of the ``E = 0`` path (instanton) from the attractor ``m`` to the
saddle ``z``: ``S = ΔΦ/ε`` for ``D = ε D̂``. The quasi-potential ``S(x)`` solves the
Hamilton–Jacobi equation ``∇S·f + ∇S·D∇S = 0``, so ``f = −D∇S + ℓ`` with ``ℓ·∇S = 0``.

**Bouchet & Reygner (2016, Ann. Henri Poincaré 17, 3499–3532)**, their generalised
Eyring–Kramers formula in these units:

.. math::
    τ_{m→} ≈ \frac{2π}{λ_z^+}\sqrt{\frac{|\det H_z|}{\det H_m}}
    \exp\Big(\int_{-∞}^{∞} ∇·ℓ(φ(t))\,dt\Big)\, e^{S},

``λ_z^+`` the positive eigenvalue of the drift Jacobian ``J(z)``, ``H = ∇²S`` at the two points
and ``φ`` the instanton, ``φ̇ = f + 2Dp``. For a gradient drift ``ℓ = 0`` and ``J = −DH``: this is
Eyring–Kramers.

* ``H`` at a fixed point: from the quadratic part of Hamilton–Jacobi, ``M = H⁻¹`` solves the
  Lyapunov equation ``J M + M Jᵀ + 2D = 0`` (``M`` is the stationary covariance of the linearised
  process at an attractor; indefinite at a saddle). When ``J(z)`` has eigenvalues with ``λ_i + λ_j
  = 0`` (e.g. a 2-D saddle with ``tr J = 0``) the equation does not determine ``H_z``: the ``Q(z)``
  transported along the instanton is used instead, checked against the quadratic
  Hamilton–Jacobi equation ``H D H + (HJ + JᵀH)/2 = 0``.
* ``∇·ℓ = tr J + tr(D Q)`` with ``Q = ∇²S`` along ``φ``. ``Q`` obeys the Riccati equation obtained
  by differentiating Hamilton–Jacobi twice, ``Q̇ = −(QJ + JᵀQ + 2QDQ + Σ_k p_k ∇²f_k)``, solved as
  ``Q = Y X⁻¹`` of the linearised Hamilton equations ``Ẋ = JX + 2DY``, ``Ẏ = −(Σ p_k∇²f_k) X −
  JᵀY`` from ``Q = H_m`` at the attractor; each path segment is one exact step of the linear
  system with coefficients frozen at its midpoint (a matrix exponential). Along the path the
  component of ``Q`` on the tangent ``u`` is known exactly, ``Q u = dp/ds`` (``p = ∇S`` is the
  path's momentum), and the transport of that component is unstable near the saddle; so on the
  half of the path next to the saddle it is replaced by the known value after each step and only
  the transverse block is transported (stable).
  The arrival ``Q(z)`` is compared with ``H_z`` (``saddle_mismatch``). ``∇·ℓ`` vanishes at both
  ends, so the integral converges; it is the trapezoid sum on the nodes (first order in the node
  spacing; the same sum on every other node gives the error estimate).
* Several instantons to the same saddle add their rates, ``1/τ = Σ_i 1/τ_i``, when they arrive
  with the same ``H_z`` (a smooth quasi-potential), or when they are mirror images of each other:
  for Maier–Stein with ``β = 10``, ``μ = 1`` the two instantons (``y > 0`` and ``y < 0``) arrive
  with Hessians that differ in the sign of the off-diagonal entry (same determinant, same
  prefactor), so the quasi-potential has a kink at the saddle, each instanton carrying its own
  branch. The summed rate is then checked only empirically, against the exact mean first passage
  time of the grid generator (960 × 720 cells): ratios 0.965, 0.968, 0.974 at
  ``D = 1/40, 1/80, 1/160`` — approaching 1 more slowly than in the smooth case (``β = 3, μ = 2``:
  0.825, 0.923, 0.966 at ``D = 1/20, 1/40, 1/80``); at ``D = 1/20`` the formula is still 1.51×
  the exact value. Instantons with different Hessians that are not mirror images: the rate is
  withheld with the reason (:func:`noetherlab.metastability.landscape.landscape`).
* Validity: the tests measure the formula against the exact mean first passage time of the grid
  generator (:mod:`noetherlab.metastability.fokker_planck`); the ratio tends to 1 as the noise decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import as_state, as_states, positive_float, require_finite
from noetherlab.sde.model import SDE, require_sde

__all__ = [
    "MIN_BARRIER",
    "EscapeTime",
    "barrier_caveat",
    "bouchet_reygner",
    "check_fixed_point",
    "eyring_kramers",
    "quasi_potential_hessian",
]

Array = jax.Array


@dataclass(frozen=True)
class EscapeTime:
    """``τ = prefactor · e^{S}`` with how it was obtained.

    Attributes:
        mean_exit_time: ``τ`` in the model's time units.
        prefactor: ``τ e^{−S}``.
        method: "Eyring–Kramers" or "Bouchet–Reygner".
        divergence_integral: ``∫∇·ℓ dt`` (Bouchet–Reygner), 0 for gradient drifts.
        integral_error: its estimated discretisation error (the same sum on every other node);
            the relative error of ``τ`` from it is about ``integral_error``.
        saddle_mismatch: ``|Q(z) − H_z|/|H_z|`` at the end of the Riccati transport (should be
            small: a large value means the transport or the saddle Hessian is wrong).
        saddle_hessian: ``H_z`` used (Bouchet–Reygner).
        caveat: why the number may be far from the true mean exit time ("" when the barrier is
            large enough: ``S >= MIN_BARRIER``; the formulas' relative error is ``O(1/S)``).
    """

    mean_exit_time: float
    prefactor: float
    method: str
    divergence_integral: float = 0.0
    integral_error: float = 0.0
    saddle_mismatch: float = 0.0
    saddle_hessian: np.ndarray | None = field(default=None, repr=False)
    caveat: str = ""


#: barriers below this are too low for the small-noise formulas (relative error ``O(1/S)``):
#: measured on the 1-D double well ``f = x − x³`` at ``D = 1`` (``S = 1/4``): 5.70 against the
#: exact 3.48 of the grid generator
MIN_BARRIER = 5.0


def barrier_caveat(barrier: float) -> str:
    """The caveat of a rate over a barrier ``S`` ("" for ``S >= MIN_BARRIER``)."""
    if barrier >= MIN_BARRIER:
        return ""
    return (
        f"the barrier S = {barrier:.3g} is below {MIN_BARRIER:g}: the small-noise formula's "
        "relative error O(1/S) is not small here, so this time may be off by a factor of order "
        "one (use fokker_planck in N <= 3 dimensions, or simulate)"
    )


def check_fixed_point(sde: SDE, x: Any, name: str, index: int) -> np.ndarray:
    """``x`` as a state at which the drift vanishes and ``J`` has ``index`` eigenvalues with
    positive real part (0: an attractor, 1: an index-1 saddle), or a clear error."""
    x_arr = as_state(x, name, sde.dim)
    J = _jacobian(sde, x_arr)
    f = np.asarray(sde.f(jnp.asarray(x_arr), 0.0))
    require_finite(J, f"{name} (the drift Jacobian there)")
    scale = 1.0 + float(np.abs(J).max()) * (1.0 + float(np.abs(x_arr).max()))
    what = "an attractor" if index == 0 else f"an index-{index} saddle"
    if float(np.abs(f).max()) > 1e-6 * scale:
        raise InvalidArgumentError(
            name,
            f"is not a fixed point: |f(x)| = {float(np.abs(f).max()):.3g}",
            f"pass {what} of the drift (find_fixed_points or landscape give them)",
        )
    w = np.linalg.eigvals(J).real
    unstable = int(np.sum(w > 0))
    if unstable != index or np.any(np.abs(w) <= 1e-10 * max(float(np.abs(w).max()), 1e-300)):
        raise InvalidArgumentError(
            name,
            f"is not {what}: the drift Jacobian there has eigenvalues with real parts "
            f"{np.round(w, 6).tolist()} ({unstable} unstable)",
            f"pass {what} (find_fixed_points classifies the fixed points)",
        )
    return x_arr


def _check_barrier(barrier: Any) -> float:
    return positive_float(barrier, "barrier", "action of the E = 0 path")


def quasi_potential_hessian(J: np.ndarray, D: np.ndarray) -> np.ndarray:
    """``H = M⁻¹`` with ``J M + M Jᵀ + 2D = 0`` (see the module docstring); ``(N, N)``."""
    with np.errstate(all="ignore"):
        try:
            M = scipy.linalg.solve_continuous_lyapunov(J, -2.0 * D)
            ok = bool(np.all(np.isfinite(M))) and np.abs(J @ M + M @ J.T + 2 * D).max() <= 1e-9 * (
                1.0 + np.abs(J).max() * np.abs(M).max()
            )
        except (np.linalg.LinAlgError, ValueError, scipy.linalg.LinAlgError):
            ok = False
    if not ok:  # singular Sylvester operator: minimum-norm solution of the Kronecker system
        n = J.shape[0]
        K = np.kron(np.eye(n), J) + np.kron(J, np.eye(n))
        M = np.linalg.lstsq(K, -2.0 * D.reshape(-1), rcond=None)[0].reshape(n, n)
    M = 0.5 * (M + M.T)
    H = np.linalg.inv(M)
    return 0.5 * (H + H.T)


def _jacobian(sde: SDE, x: np.ndarray) -> np.ndarray:
    return np.asarray(jax.jacfwd(lambda y: sde.f(y, 0.0))(jnp.asarray(x)))


def _constant_D(sde: SDE) -> np.ndarray:
    return np.asarray(sde.D(jnp.zeros(sde.dim)))


def _unstable_eigenvalue(J: np.ndarray) -> float:
    return float(np.max(np.linalg.eigvals(J).real))


def eyring_kramers(
    sde: SDE, attractor: np.ndarray, saddle: np.ndarray, barrier: float
) -> EscapeTime:
    """``τ = 2π/λ_z^+ · sqrt(|det J(z)| / |det J(m)|) · e^S`` (gradient drift ``f = −D∇V``).

    Raises:
        InvalidArgumentError: ``attractor`` is not an attractor, ``saddle`` not an index-1 saddle
            of the drift, or ``barrier`` is not positive.
    """
    sde = require_sde(sde)
    attractor = check_fixed_point(sde, attractor, "attractor", 0)
    saddle = check_fixed_point(sde, saddle, "saddle", 1)
    barrier = _check_barrier(barrier)
    Jz, Jm = _jacobian(sde, saddle), _jacobian(sde, attractor)
    pref = (
        2 * np.pi / _unstable_eigenvalue(Jz) * np.sqrt(abs(np.linalg.det(Jz) / np.linalg.det(Jm)))
    )
    return EscapeTime(
        float(pref * np.exp(barrier)),
        float(pref),
        "Eyring–Kramers",
        caveat=barrier_caveat(barrier),
    )


def _segment(
    sde: SDE, Q: Array, xa: Array, xb: Array, u: Array, g: Array, w: Array
) -> tuple[Array, tuple[Array, Array]]:
    """One frozen-coefficient step of the Riccati transport over the path segment ``xa → xb``, then
    (where ``w = 1``) the components along the unit tangent ``u`` at ``xb`` replaced by the known
    ``Q u = g`` (``= dp/ds``). Returns ``Q(xb)`` and (segment time ``h``, ``∇·ℓ(xb)``)."""
    t0 = jnp.zeros((), jnp.float64)
    D, Dinv = sde.D(xa, t0), sde.D_inv(xa, t0)
    m, dx = 0.5 * (xa + xb), xb - xa
    f = sde.f(m, t0)
    h = jnp.sqrt(dx @ Dinv @ dx) / jnp.sqrt(jnp.maximum(f @ Dinv @ f, 1e-300))
    p = 0.5 * Dinv @ (dx / h - f)
    J = jax.jacfwd(lambda y: sde.f(y, t0))(m)
    P = jax.hessian(lambda y: p @ sde.f(y, t0))(m)
    n = xa.shape[0]
    K = jnp.block([[J, 2.0 * D], [-P, -J.T]])
    E = jax.scipy.linalg.expm(h * K)
    X = E[:n, :n] + E[:n, n:] @ Q
    Y = E[n:, :n] + E[n:, n:] @ Q
    Qb = jnp.linalg.solve(X.T, Y.T).T
    Qb = 0.5 * (Qb + Qb.T)
    Qu = Qb @ u
    Qb = Qb + w * (
        -jnp.outer(Qu, u)
        - jnp.outer(u, Qu)
        + (u @ Qu) * jnp.outer(u, u)
        + jnp.outer(g, u)
        + jnp.outer(u, g)
        - (u @ g) * jnp.outer(u, u)
    )
    Jb = jax.jacfwd(lambda y: sde.f(y, t0))(xb)
    return Qb, (h, jnp.trace(Jb) + jnp.trace(D @ Qb))


@eqx.filter_jit
def _riccati(
    sde: SDE, x: Array, u: Array, g: Array, w: Array, Qm: Array
) -> tuple[Array, Array, Array]:
    """Transport ``Q`` along the nodes ``x`` ``(n+1, N)`` from ``Qm`` at ``x_0`` with unit tangents
    ``u``, ``g = dp/ds`` and projection flags ``w`` at nodes ``1..n``; returns ``Q(x_n)``, the
    segment times ``h`` ``(n,)`` and ``∇·ℓ`` at nodes ``1..n``."""

    def step(
        Q: Array, seg: tuple[Array, Array, Array, Array, Array]
    ) -> tuple[Array, tuple[Array, Array]]:
        return _segment(sde, Q, *seg)

    Qn, (h, div) = jax.lax.scan(step, Qm, (x[:-1], x[1:], u, g, w))
    return Qn, h, div


def _tangents(sde: SDE, x: np.ndarray, Hm: np.ndarray, Hz: np.ndarray | None) -> tuple[Any, Any]:
    """Unit tangents ``u`` and ``g = dp/ds = Q u`` (``s`` the Euclidean arc length) at nodes
    ``1..n`` of an ``E = 0`` path: ``p = ½D⁻¹(ẋ − f)`` with ``ẋ = |f|_M u/|u|_M`` at each node,
    differentiated by finite differences in ``s`` (exact ``H u`` at the end nodes where ``H`` is
    known)."""
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(x, axis=0), axis=1))])
    u = np.gradient(x, s, axis=0)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    D = _constant_D(sde)
    Dinv = np.linalg.inv(D)
    f = np.asarray(jax.vmap(lambda y: sde.f(y, 0.0))(jnp.asarray(x)))
    speed = np.sqrt(np.einsum("ki,ij,kj->k", f, Dinv, f) / np.einsum("ki,ij,kj->k", u, Dinv, u))
    p = 0.5 * (speed[:, None] * u - f) @ Dinv.T
    g = np.gradient(p, s, axis=0)
    g[0] = Hm @ u[0]
    if Hz is not None:
        g[-1] = Hz @ u[-1]
    return u[1:], g[1:]


def _lyapunov_is_singular(J: np.ndarray) -> bool:
    """``J M + M Jᵀ = C`` has no unique solution: two eigenvalues with ``λ_i + λ_j ≈ 0``."""
    w = np.linalg.eigvals(J)
    return bool(np.abs(w[:, None] + w[None, :]).min() <= 1e-8 * max(np.abs(w).max(), 1e-300))


def bouchet_reygner(sde: SDE, path: Any, barrier: float) -> EscapeTime:
    """Mean exit time over the saddle at the end of the instanton ``path`` (``(n+1, N)`` nodes from
    the attractor to the saddle, e.g. ``most_likely_path(..., energy=0).x``) with action
    ``barrier`` (constant ``D``).

    When the Lyapunov equation at the saddle is singular (``λ_i + λ_j = 0``, e.g. a 2-D saddle with
    ``tr J = 0``) ``H_z`` is not determined locally: the transported ``Q(z)`` is used instead and
    ``saddle_mismatch`` is its residual in the quadratic Hamilton–Jacobi equation
    ``H D H + (H J + Jᵀ H)/2 = 0`` relative to ``|H D H|``."""
    sde = require_sde(sde)
    x = as_states(
        path, "path", sde.dim, 3, "pass the nodes most_likely_path(sde, m, z, energy=0).x"
    )
    check_fixed_point(sde, x[0], "path[0]", 0)
    check_fixed_point(sde, x[-1], "path[-1]", 1)
    barrier = _check_barrier(barrier)
    D = _constant_D(sde)
    Jm, Jz = _jacobian(sde, x[0]), _jacobian(sde, x[-1])
    Hm = quasi_potential_hessian(Jm, D)
    Hz = None if _lyapunov_is_singular(Jz) else quasi_potential_hessian(Jz, D)
    integral, Qz = _divergence_integral(sde, x, D, Jm, Hm, Hz)
    if Hz is None:
        Hz = Qz
        quad = Hz @ D @ Hz
        mismatch = float(
            np.linalg.norm(quad + 0.5 * (Hz @ Jz + Jz.T @ Hz))
            / max(float(np.linalg.norm(quad)), 1e-300)
        )
    else:
        mismatch = float(np.linalg.norm(Qz - Hz) / np.linalg.norm(Hz))
    # first-order transport: the same sum on every other node estimates the error
    coarse = x[::2] if x.shape[0] % 2 else np.concatenate([x[::2], x[-1:]])
    error = abs(integral - _divergence_integral(sde, coarse, D, Jm, Hm, Hz)[0])
    pref = (
        2
        * np.pi
        / _unstable_eigenvalue(Jz)
        * np.sqrt(abs(np.linalg.det(Hz)) / np.linalg.det(Hm))
        * np.exp(integral)
    )
    return EscapeTime(
        float(pref * np.exp(barrier)),
        float(pref),
        "Bouchet–Reygner",
        integral,
        error,
        mismatch,
        Hz,
        barrier_caveat(barrier),
    )


def _divergence_integral(
    sde: SDE,
    x: np.ndarray,
    D: np.ndarray,
    Jm: np.ndarray,
    Hm: np.ndarray,
    Hz: np.ndarray | None,
) -> tuple[float, np.ndarray]:
    """``∫∇·ℓ dt`` along the nodes ``x`` and the transported ``Q`` at the last node."""
    u, g = _tangents(sde, x, Hm, Hz)
    # the tangent component is unstable only near the saddle: project on the second half of the
    # path (near the attractor the free transport is stable and more accurate than the
    # finite-difference dp/ds)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(x, axis=0), axis=1))])
    w = (s[1:] >= 0.5 * s[-1]).astype(np.float64)
    Qn, h, div = (np.asarray(a) for a in _riccati(sde, *(jnp.asarray(v) for v in (x, u, g, w, Hm))))
    d = np.concatenate([[np.trace(Jm) + np.trace(D @ Hm)], div])
    return float(np.sum(h * 0.5 * (d[:-1] + d[1:]))), Qn
