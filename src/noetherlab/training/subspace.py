r"""Subspace-valued conservation laws created by augmentation: the row space of the input-facing weights.

Let ``M(θ)`` (``r × d``) be the weights that act on the input coordinates (``W_1`` of an MLP, ``p`` of a
polynomial unit, ``[Q K V]ᵀ`` of (lightning) attention), so that ``g(θ, Gx) = g(θ', x)`` with
``M(θ') = M(θ) G``. Two mechanisms conserve the row space of ``M(θ) Π_V`` for an input subspace ``V``:

* **continuous** ``O(d)``: the averaged loss ``L̄(θ) = E_G ℓ(g(θ, Gx), y)`` is invariant under
  ``M → M H`` (``H ∈ O(d)``), so by the first fundamental theorem of invariant theory it depends on ``M``
  only through ``M Mᵀ``: ``∇_M L̄ = S M`` with ``S`` symmetric, hence ``Ṁ = −S M`` keeps the row space
  (any loss). With ``r`` independent rows in ``R^d`` this is a point of the Grassmannian ``Gr(r, d)``:
  ``r(d − r)`` laws when ``r < d`` — for lightning attention ``r = 2 d_k + d_out``;
* **finite groups, MSE, linear input layer**: on an isotypic block ``V`` of the input where every
  averaged second moment ``Σ_G G x xᵀ Gᵀ`` acts as a scalar and which holds no fixed vector (so the
  label term does not reach it), ``Ṁ Π_V = −c W_{rest}ᵀ W_{rest} M Π_V``: the row space of ``M Π_V`` is
  kept (``C3`` on ``R³``, ``V = (1,1,1)^⊥``: the direction of ``w_⊥``).

Candidates are *certified* numerically before they are reported: at random points, the derivative of
``M Π_V`` along random generators of the (augmented) flows must stay inside the current row space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy

from noetherlab.training.architectures import Architecture
from noetherlab.training.lie import FieldFamily

__all__ = ["SubspaceLaw", "subspace_laws"]

Array = jax.Array


@dataclass(frozen=True)
class SubspaceLaw:
    """The row space of ``M(θ) B`` (``B``: orthonormal basis ``(d, k)`` of an input block ``V``), a
    point of ``Gr(r, k)``: ``count = r (k − r)`` scalar laws. ``projector(θ)`` is its ``k × k``
    orthogonal projector, the conserved matrix (drift: ``‖P(θ_t) − P(θ_0)‖₂``, the sine of the
    largest principal angle)."""

    name: str
    weights: Callable[[Array], Array]
    basis: np.ndarray
    rank: int
    count: int
    reason: str

    def formulas(self, arch: Architecture) -> list[Any]:
        """The ``r(k − r)`` scalar laws as exact rational functions (sympy): with ``V`` spanned by the
        rational basis ``B'`` (reduced echelon form of ``B Bᵀ``) and ``M B' = [S | R]`` (``S``: first
        ``r`` columns), the entries of ``S⁻¹ R`` — the affine chart of ``Gr(r, k)`` (valid where
        ``det S ≠ 0``)."""
        from noetherlab._core.exact import rref as _rref
        from noetherlab._core.exact import snap_rational as _snap

        D = arch.dimension
        lin = np.stack([np.asarray(self.weights(jnp.eye(D)[i])) for i in range(D)])  # (D, r, d)
        Bp = _snap(_rref(self.basis @ self.basis.T, 1e-10))
        Bp = Bp[np.any(np.abs(Bp) > 0, axis=1)].T  # (d, k), rational entries
        syms = [sympy.Symbol(n) for n in arch.param_names]
        Mq = sympy.zeros(lin.shape[1], lin.shape[2])
        for i in np.flatnonzero(np.any(lin != 0, axis=(1, 2))):
            Mq += syms[i] * sympy.Matrix(lin[i].astype(int).tolist())
        MB = Mq * sympy.Matrix([[sympy.nsimplify(v) for v in row] for row in Bp.tolist()])
        S, R = MB[: self.rank, : self.rank], MB[: self.rank, self.rank :]
        return [sympy.simplify(e) for e in (S.inv() * R)]

    def projector(self, theta: Array) -> np.ndarray:
        A = np.asarray(self.weights(jnp.asarray(theta))) @ self.basis
        _, _, vt = np.linalg.svd(A, full_matrices=False)
        V = vt[: self.rank].T
        return V @ V.T


def _isotypic_blocks(mats: np.ndarray) -> list[np.ndarray]:
    """Input blocks ``V`` where every invariant form of the finite group is scalar and uncoupled to
    the rest and which is orthogonal to the fixed vectors."""
    d = mats.shape[1]
    rng = np.random.default_rng(0)
    forms = []
    for _ in range(d * (d + 1) // 2 + 2):
        S = rng.standard_normal((d, d))
        forms.append(np.mean(mats @ (S + S.T) @ mats.transpose(0, 2, 1), axis=0))
    fixed = np.mean(mats, axis=0)  # the projector onto the fixed vectors
    A = sum(rng.standard_normal() * F for F in forms)
    w, U = np.linalg.eigh(A)
    blocks, start = [], 0
    for i in range(1, d + 1):
        if i == d or abs(w[i] - w[start]) > 1e-8 * max(1.0, abs(w).max()):
            B = U[:, start:i]
            P = B @ B.T
            ok = np.linalg.norm(fixed @ B) < 1e-8 and all(
                np.linalg.norm(P @ F @ (np.eye(d) - P)) < 1e-8
                and np.linalg.norm(
                    B.T @ F @ B - np.trace(B.T @ F @ B) / B.shape[1] * np.eye(B.shape[1])
                )
                < 1e-8 * max(1.0, float(np.linalg.norm(F)))
                for F in forms
            )
            if ok:
                blocks.append(B)
            start = i
    return blocks


def subspace_laws(
    arch: Architecture,
    family: FieldFamily,
    mats: np.ndarray | None,
    continuous: bool,
    *,
    points: int = 3,
    seed: int = 0,
) -> tuple[list[SubspaceLaw], list[str]]:
    """Certified subspace laws of the augmented flows ``family`` (``mats``: the finite group, or
    ``continuous=True`` for ``O(d)``). Returns the laws and notes on rejected candidates."""
    M = arch.input_weights
    notes: list[str] = []
    if M is None:
        return [], [f"{arch.name}: no input-facing weight matrix known; no subspace candidates"]
    d = int(arch.input_shape[-1])
    if continuous:
        blocks = [(np.eye(d), "O(d) invariance: the averaged loss depends on M only through MMᵀ")]
    elif mats is not None:
        blocks = [
            (B, "MSE: the averaged second moments are scalar on this input block, no label term")
            for B in _isotypic_blocks(np.asarray(mats))
        ]
    else:
        return [], notes
    key = jax.random.PRNGKey(seed)
    laws = []
    grad_h = jax.grad(lambda th, xi: jnp.sum(jax.vmap(lambda one: family.h(th, one))(xi)))
    for j, (B, reason) in enumerate(blocks):
        k = B.shape[1]
        Bj = jnp.asarray(B)
        MB = lambda th, Bj=Bj: M(th) @ Bj
        ths = jax.random.normal(jax.random.fold_in(key, j), (points, arch.dimension))
        r = int(np.linalg.matrix_rank(np.asarray(MB(ths[0]))))
        if r >= k:
            continue  # the rows span the whole block: nothing to conserve
        worst = 0.0
        for p, th in enumerate(ths):
            xi = family.sample(jax.random.fold_in(key, 100 * j + p), 8)
            X = grad_h(th, xi)
            dM = np.asarray(jax.jvp(MB, (th,), (X,))[1])
            _, _, vt = np.linalg.svd(np.asarray(MB(th)), full_matrices=False)
            Pr = vt[:r].T @ vt[:r]
            worst = max(
                worst,
                float(np.linalg.norm(dM @ (np.eye(k) - Pr)))
                / max(float(np.linalg.norm(dM)), 1e-300),
            )
        name = f"row space of M(θ) on input block {j + 1} (dim {k}), M = input-facing weights"
        if worst < 1e-8:
            laws.append(SubspaceLaw(name, M, B, r, r * (k - r), reason))
        else:
            notes.append(f"{name}: not conserved (leaks {worst:.1e}), dropped")
    return laws, notes
