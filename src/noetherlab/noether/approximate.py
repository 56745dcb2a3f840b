r"""Approximate symmetries: how far a generator is from a symmetry, and the nearest ones.

For an affine generator ``δx = A x + b`` of a model with constant noise and ``A D + D A^T = 0``
(the noise is invariant), the change of the Lagrangian ``L = ¼ (ẋ - f)^T D^{-1} (ẋ - f)`` is

.. math::
    δL = \tfrac12\, (ẋ - f)^T D^{-1} \bigl(A f - Df\,(A x + b)\bigr) = p \cdot r(x),
    \qquad r(x) = A f(x) - Df(x)\,(A x + b),

so the action changes by ``δS = ∫ p·r dt``: the *equivariance residual* ``r`` is what breaks the
symmetry. Its size relative to the two terms it is made of is the **defect**

.. math::
    d(A, b)^2 = \frac{\sum_k |r(x_k)|^2}
                     {\sum_k |Df(x_k)\,δx_k|^2 + |A f(x_k)|^2 + κ^2 |δx_k|^2},
    \qquad κ^2 = \frac{1}{N}\,\overline{\|Df\|_F^2}\ (\text{or } 1 \text{ if } Df \equiv 0),

over states ``x_k`` where the dynamics lives (the ``κ`` term keeps the ratio defined for
translations along directions in which ``f`` does not change). ``d = 0`` exactly for a symmetry,
``d ≈ 1`` for a generator unrelated to the dynamics, at most ``√2``.

Both numerator and denominator are quadratic forms in ``θ = (vec A, b)``, so the generators of
smallest defect are the generalized eigenvectors of the pair (numerator, denominator);
:func:`approximate_symmetries` returns them, optionally with ``A`` and ``b`` restricted to a
``k``-dimensional subspace (``A = U a U^T``, ``b = U β``: ``k² + k`` unknowns instead of
``N² + N``). For a state-dependent noise the invariance condition of ``D`` enters the same two
quadratic forms (scaled by ``1/\max|D|``); for a constant ``D`` it is imposed exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError
from noetherlab._core.validation import as_float_array, as_states, positive_float, require_finite
from noetherlab.noether.symmetries import (
    Generator,
    classify_generator,
    require_generator,
    subspace_embedding,
)
from noetherlab.sde.model import SDE, require_sde

__all__ = [
    "ApproximateSymmetries",
    "ApproximateSymmetry",
    "approximate_symmetries",
    "defect_forms",
    "symmetry_defect",
]

Array = jax.Array

#: largest number of unknowns ``(A, b)`` solved for without a ``subspace``
MAX_UNKNOWNS = 2550


@dataclass(frozen=True)
class ApproximateSymmetry:
    """A generator with its defect ``d`` (module docstring): 0 for a symmetry, ≈ 1 for none."""

    generator: Generator
    kind: str
    defect: float

    @property
    def name(self) -> str:
        return self.generator.name


@dataclass(frozen=True)
class ApproximateSymmetries:
    """Result of :func:`approximate_symmetries`.

    Attributes:
        symmetries: generators with ``defect <= max_defect``, smallest defect first.
        defects: the defect of every generalized eigenvector (ascending), the spectrum that shows
            how isolated the near-symmetries are.
        n_states: number of states the defect was measured on.
        subspace_dim: ``k`` of the subspace (``N`` when unrestricted).
        unknowns: number of free parameters after the restriction and the (exact) noise condition.
    """

    symmetries: list[ApproximateSymmetry]
    defects: np.ndarray
    n_states: int
    subspace_dim: int
    unknowns: int

    def __len__(self) -> int:
        return len(self.symmetries)

    def __iter__(self) -> Iterator[ApproximateSymmetry]:
        return iter(self.symmetries)


# ---------------------------------------------------------------------------- quadratic forms
def _theta_terms(sde: SDE, P: Array, theta: Array, x: Array, t: Array) -> tuple[Array, ...]:
    """``(Df δx, A f, δx)`` at one state, for ``(vec A, b) = P θ``; linear in ``θ``."""
    n = sde.dim
    full = P @ theta
    A, b = full[: n * n].reshape(n, n), full[n * n :]
    dx = A @ x + b
    f, jvp_f = jax.jvp(lambda y: sde.f(y, t), (x,), (dx,))
    return jvp_f, A @ f, dx


def _diffusion_terms(sde: SDE, P: Array, theta: Array, x: Array, t: Array) -> tuple[Array, ...]:
    """``(∂D[δx], A D + D A^T)`` at one state (upper triangles), scaled by ``1/max|D|``."""
    n = sde.dim
    full = P @ theta
    A, b = full[: n * n].reshape(n, n), full[n * n :]
    D, jvp_D = jax.jvp(lambda y: sde.D(y, t), (x,), (A @ x + b,))
    iu = jnp.triu_indices(n)
    s = 1.0 / jnp.max(jnp.abs(D))
    return s * jvp_D[iu], s * (A @ D + D @ A.T)[iu]


@eqx.filter_jit
def _drift_jacobians(sde: SDE, P: Array, xs: Array, ts: Array) -> tuple[Array, ...]:
    """Linear maps ``θ → (Df δx, A f, δx)`` at every state, each ``(m, N, r)``, and ``‖Df‖_F²``."""
    theta0 = jnp.zeros(P.shape[1])
    terms = jax.vmap(
        jax.jacfwd(lambda th, x, t: _theta_terms(sde, P, th, x, t)), in_axes=(None, 0, 0)
    )(theta0, xs, ts)
    frob = jax.vmap(lambda x, t: jnp.sum(jax.jacfwd(lambda y: sde.f(y, t))(x) ** 2))(xs, ts)
    return (*terms, frob)


@eqx.filter_jit
def _diffusion_jacobians(sde: SDE, P: Array, xs: Array, ts: Array) -> tuple[Array, ...]:
    theta0 = jnp.zeros(P.shape[1])
    return jax.vmap(
        jax.jacfwd(lambda th, x, t: _diffusion_terms(sde, P, th, x, t)), in_axes=(None, 0, 0)
    )(theta0, xs, ts)


def _quadratic_forms(
    sde: SDE, P: np.ndarray, xs: np.ndarray, ts: np.ndarray, noise_rows: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator matrices ``(r, r)`` of ``d²`` (module docstring)."""
    Pj, xj, tj = jnp.asarray(P), jnp.asarray(xs), jnp.asarray(ts)
    jf, af, dx, frob = (np.asarray(a) for a in _drift_jacobians(sde, Pj, xj, tj))
    kappa2 = float(np.mean(frob)) / sde.dim
    kappa2 = kappa2 if kappa2 > 0 else 1.0
    res = (af - jf).reshape(-1, P.shape[1])
    num = res.T @ res
    den = sum(m.reshape(-1, P.shape[1]).T @ m.reshape(-1, P.shape[1]) for m in (jf, af))
    den = den + kappa2 * dx.reshape(-1, P.shape[1]).T @ dx.reshape(-1, P.shape[1])
    if noise_rows:
        jd, ad = (
            np.asarray(a).reshape(-1, P.shape[1]) for a in _diffusion_jacobians(sde, Pj, xj, tj)
        )
        num = num + (jd - ad).T @ (jd - ad)
        den = den + jd.T @ jd + ad.T @ ad
    return num, den


def _constant_noise_null_space(sde: SDE, P: np.ndarray) -> np.ndarray:
    """Basis ``Z`` ``(r, r0)`` of the ``θ`` with ``A D + D A^T = 0`` for a constant ``D``."""
    n = sde.dim
    D = np.asarray(sde.D(jnp.zeros(n)))
    k = P.shape[1]
    cols = []
    for j in range(k):
        A = P[: n * n, j].reshape(n, n)
        cols.append((A @ D + D @ A.T)[np.triu_indices(n)] / np.max(np.abs(D)))
    C = np.stack(cols, axis=1)
    _, s, vt = np.linalg.svd(C, full_matrices=True)
    rank = int(np.sum(s > 1e-10 * max(float(s[0]) if s.size else 0.0, 1e-300)))
    return vt[rank:].T


# ---------------------------------------------------------------------------- inputs
def _states(sde: SDE, states: Any, t: Any) -> tuple[np.ndarray, np.ndarray]:
    xs = as_states(
        states, "states", sde.dim, 1, "pass states where the dynamics lives (simulated states)"
    )
    t_arr = as_float_array(t, "t")
    if t_arr.ndim > 1 or (t_arr.ndim == 1 and t_arr.size != xs.shape[0]):
        raise ShapeError(
            "t",
            f"must be one time or one per state ({xs.shape[0]},), got shape {t_arr.shape}",
            "pass a scalar time or an array with one time per row of states",
        )
    ts = np.broadcast_to(t_arr, (xs.shape[0],)).astype(np.float64)
    require_finite(ts, "t")
    sde.check_states(xs, ts, "states")
    return xs, ts


def _generator_of(sde: SDE, P: np.ndarray | None, theta: np.ndarray) -> Generator:
    n = sde.dim
    full = theta if P is None else P @ theta
    A, b = full[: n * n].reshape(n, n), full[n * n :]
    scale = max(float(np.max(np.abs(A))), float(np.max(np.abs(b))))
    A, b = A / scale, b / scale
    return Generator(A=A, b=b)


def _identity_embedding(sde: SDE) -> np.ndarray:
    n = sde.dim
    r = n * n + n
    if r > MAX_UNKNOWNS:
        raise InvalidArgumentError(
            "subspace",
            f"an unrestricted generator of this {n}-dimensional model has {r} unknowns (A, b), "
            f"more than {MAX_UNKNOWNS}",
            "restrict it: pass subspace=U with a few orthonormal columns (e.g. the top principal "
            "components of simulated states)",
        )
    return np.eye(r)


def _require_determined(num: np.ndarray, den: np.ndarray, xs: np.ndarray, dim: int) -> None:
    """Refuse states that cannot determine the generators: ``m`` distinct states give ``m N``
    residual equations, and with fewer than the unknowns a zero defect is forced (one state of a
    2-D model: 2 equations for a rotation and two translations); a ``θ`` with ``δx = 0`` and
    ``A f = 0`` at every state has a zero denominator (states on a lower-dimensional set)."""
    m = len(np.unique(np.round(xs, 12), axis=0))
    if m * dim < num.shape[0]:
        raise InvalidArgumentError(
            "states",
            f"{m} distinct state(s) of this {dim}-dimensional model give {m * dim} equations for "
            f"{num.shape[0]} unknowns: a zero defect would be forced by too few data, not found",
            f"pass at least {-(-num.shape[0] // dim)} distinct states (many more, spread over "
            "where the dynamics lives, for a meaningful average)",
        )
    w = np.linalg.eigvalsh(den)
    top = max(float(w[-1]), 1e-300)
    missing = int(np.sum(w <= 1e-10 * top))
    if missing:
        raise InvalidArgumentError(
            "states",
            f"the {m} state(s) do not determine {missing} of the {den.shape[0]} generator "
            "directions (they move none of the states): their defect would be 0 for lack of "
            "data, not because of a symmetry",
            "pass more states, spread over where the dynamics lives (they must not all lie on a "
            "line or plane), or restrict the generators with subspace=",
        )


# ---------------------------------------------------------------------------- public API
def defect_forms(sde: SDE, generator: Generator, states: Any, t: Any = 0.0) -> tuple[float, float]:
    """The numerator ``Σ_k |r(x_k)|²`` (plus the noise rows for a varying noise) and the
    denominator of ``d²`` (module docstring) for one affine generator on ``states`` ``(m, N)``."""
    xs, ts = _states(sde, states, t)
    theta = np.concatenate([np.asarray(generator.A).reshape(-1), np.asarray(generator.b)])
    num, den = _quadratic_forms(sde, theta[:, None], xs, ts, noise_rows=not sde.constant_diffusion)
    return float(num[0, 0]), float(den[0, 0])


def symmetry_defect(sde: SDE, generator: Generator, states: Any, t: Any = 0.0) -> float:
    """The defect ``d`` (module docstring) of ``generator`` on ``states`` ``(m, N)`` at time(s)
    ``t``: 0 for a symmetry of the Lagrangian, ≈ 1 for an unrelated generator. For a constant
    noise it is the larger of ``d`` and the noise defect ``|A D + D A^T| / (√2 |A D|)``."""
    sde = require_sde(sde)
    require_generator(generator, sde.dim)
    if generator.time != 0.0:
        raise InvalidArgumentError(
            "generator",
            "has a time component; the defect measures affine generators δx = A x + b only",
            "pass Generator.affine(A, b), or use check_symmetry for time translations",
        )
    num, den = defect_forms(sde, generator, states, t)
    defect = float(np.sqrt(num / den)) if den > 0 else 0.0
    if sde.constant_diffusion:  # the noise condition, once: |A D + D A^T| against its two terms
        A = np.asarray(generator.A)
        D = np.asarray(sde.D(jnp.zeros(sde.dim)))
        AD = A @ D
        size = np.sqrt(2.0 * np.sum(AD**2))
        if size > 0:
            defect = max(defect, float(np.sqrt(np.sum((AD + AD.T) ** 2)) / size))
    return defect


def approximate_symmetries(
    sde: SDE,
    states: Any,
    *,
    t: Any = 0.0,
    subspace: Any = None,
    max_defect: float = 0.1,
) -> ApproximateSymmetries:
    r"""Generators ``δx = A x + b`` of smallest defect on ``states`` (module docstring).

    Args:
        sde: the model.
        states: ``(m, N)`` states where the dynamics lives (simulated states, points of paths, the
            fixed points of an attractor); the defect is an average over them.
        t: time of the states (scalar or ``(m,)``).
        subspace: ``(N, k)`` orthonormal columns; generators are restricted to it
            (``A = U a U^T``, ``b = U β``). Required when ``N² + N > 2550``.
        max_defect: generators up to this defect are returned (``0 < max_defect``).

    Returns:
        :class:`ApproximateSymmetries` (exact symmetries come out with defect ``~1e-8`` or less).
    """
    sde = require_sde(sde)
    max_defect = positive_float(max_defect, "max_defect", "largest defect to report")
    xs, ts = _states(sde, states, t)
    P = _identity_embedding(sde) if subspace is None else subspace_embedding(subspace, sde.dim)
    assert P is not None
    if sde.constant_diffusion:
        Z = _constant_noise_null_space(sde, P)
        if Z.shape[1] == 0:
            raise UnsupportedModelError(
                "no generator in this subspace leaves the noise invariant (A D + D A^T = 0 has "
                "only the trivial solution), so none can be even an approximate symmetry"
            )
        P_eff = P @ Z
    else:
        P_eff = P
    num, den = _quadratic_forms(sde, P_eff, xs, ts, noise_rows=not sde.constant_diffusion)
    _require_determined(num, den, xs, sde.dim)
    den = den + 1e-14 * np.trace(den) / den.shape[0] * np.eye(den.shape[0])
    lam, vecs = scipy.linalg.eigh(num, den)
    defects = np.sqrt(np.clip(lam, 0.0, None))
    syms = []
    for d, v in zip(defects, vecs.T, strict=True):
        if d > max_defect:
            break
        gen = _generator_of(sde, P_eff, v)
        kind, name = classify_generator(gen.A, gen.b, 1e-6)
        gen = Generator(A=gen.A, b=gen.b, name=f"{name} (defect {d:.2g})")
        syms.append(ApproximateSymmetry(gen, kind, float(d)))
    return ApproximateSymmetries(
        symmetries=syms,
        defects=defects,
        n_states=xs.shape[0],
        subspace_dim=sde.dim
        if subspace is None
        else int(np.asarray(subspace).reshape(sde.dim, -1).shape[1]),
        unknowns=int(P_eff.shape[1]),
    )
