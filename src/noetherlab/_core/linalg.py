r"""Small dense SPD linear algebra inside compiled loops: the one home for Cholesky factors and
triangular solves of ``b x b`` blocks and diffusion tensors (private).

``A = L L^T`` (lower ``L``), ``L^{-1} B`` and ``L^{-T} B``, and from them ``A^{-1} B`` and
``u^T A^{-1} u = |L^{-1} u|^2``. Two implementations, chosen by the (static) size ``b``:

* ``b <= 8``: unrolled into scalar arithmetic, so XLA fuses it with the surrounding step of a scan
  (this is what makes a block-tridiagonal Newton step on ``n = 2000`` nodes cost about a
  millisecond on a CPU);
* larger ``b``: a loop of vector operations, one column (row) per step, ``O(b^3)`` flops.

Neither calls LAPACK. jaxlib 0.10's CPU ``trsm`` kernel (behind ``jnp.linalg.solve``,
``solve_triangular`` and ``inv``), called inside a scan inside a ``while`` loop, deadlocks
intermittently on a 2-core machine: a 16-dimensional most likely path on 40 intervals hung on its
second identical call, every thread waiting on the kernel's batch counter (measured 2026-12-04,
``gdb`` backtrace in ``lapack_dtrsm_ffi`` / ``ParallelBatchMap``). The matrices here are at most a
few tens wide, where the loop costs no more than the library call.

A matrix that is not positive definite gives a NaN factor (``sqrt`` of a negative pivot): callers
test ``isfinite`` (the Newton engine shifts and retries; elsewhere the NaN reaches the result's
finiteness checks).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = [
    "cholesky",
    "lower_solve",
    "lower_solve_transposed",
    "spd_inverse",
    "spd_quad",
    "spd_solve",
]

Array = jax.Array
_UNROLL_MAX = 8


def cholesky(A: Array) -> Array:
    """Lower Cholesky factor of the SPD ``A`` (``(b, b)``); NaN where ``A`` is not SPD."""
    A = jnp.asarray(A)
    b = A.shape[0]
    if b > _UNROLL_MAX:
        return _cholesky_loop(A)
    zero = jnp.zeros((), A.dtype)
    L = [[zero] * b for _ in range(b)]
    for j in range(b):
        s = A[j, j] - sum((L[j][k] * L[j][k] for k in range(j)), zero)
        L[j][j] = jnp.sqrt(s)
        for i in range(j + 1, b):
            s = A[i, j] - sum((L[i][k] * L[j][k] for k in range(j)), zero)
            L[i][j] = s / L[j][j]
    return jnp.stack([jnp.stack(row) for row in L])


def lower_solve(L: Array, B: Array) -> Array:
    """``L^{-1} B`` for lower-triangular ``L`` (``B`` of shape ``(b,)`` or ``(b, c)``)."""
    L, B = jnp.asarray(L), jnp.asarray(B)
    b = L.shape[0]
    if b > _UNROLL_MAX:
        return _triangular_loop(L, B, transpose=False)
    rows: list[Array] = []
    for i in range(b):
        s = B[i]
        for k in range(i):
            s = s - L[i, k] * rows[k]
        rows.append(s / L[i, i])
    return jnp.stack(rows)


def lower_solve_transposed(L: Array, B: Array) -> Array:
    """``L^{-T} B`` for lower-triangular ``L``."""
    L, B = jnp.asarray(L), jnp.asarray(B)
    b = L.shape[0]
    if b > _UNROLL_MAX:
        return _triangular_loop(L, B, transpose=True)
    rows: list[Array | None] = [None] * b
    for i in reversed(range(b)):
        s = B[i]
        for k in range(i + 1, b):
            s = s - L[k, i] * rows[k]  # type: ignore[operator]
        rows[i] = s / L[i, i]
    return jnp.stack(rows)  # type: ignore[arg-type]


def spd_solve(A: Array, B: Array) -> Array:
    """``A^{-1} B`` for SPD ``A`` by its Cholesky factor."""
    L = cholesky(A)
    return lower_solve_transposed(L, lower_solve(L, B))


def spd_inverse(A: Array) -> Array:
    """``A^{-1}`` for SPD ``A`` (symmetrised against round-off)."""
    A = jnp.asarray(A)
    inv = spd_solve(A, jnp.eye(A.shape[0], dtype=A.dtype))
    return 0.5 * (inv + inv.T)


def spd_quad(A: Array, u: Array) -> Array:
    """``u^T A^{-1} u = |L^{-1} u|^2`` for SPD ``A`` and ``u`` of shape ``(b,)``."""
    w = lower_solve(cholesky(A), u)
    return w @ w


def _cholesky_loop(A: Array) -> Array:
    """Column ``j``: ``s = A[:, j] - L L[j]^T`` (columns ``>= j`` of ``L`` still zero), ``L[j, j] =
    sqrt(s_j)``, ``L[i, j] = s_i / L[j, j]`` below the diagonal."""
    b = A.shape[0]
    rows = jnp.arange(b)

    def column(j: Array, L: Array) -> Array:
        s = A[:, j] - L @ L[j]
        d = jnp.sqrt(s[j])
        return L.at[:, j].set(jnp.where(rows > j, s / d, jnp.where(rows == j, d, 0.0)))

    return jax.lax.fori_loop(0, b, column, jnp.zeros_like(A))


def _triangular_loop(L: Array, B: Array, *, transpose: bool) -> Array:
    """Forward (``L^{-1} B``) or backward (``L^{-T} B``) substitution, one row per step; the rows
    of ``X`` not yet solved are zero, so a full row of ``L`` times ``X`` is the partial sum."""
    b = L.shape[0]

    def row(k: Array, X: Array) -> Array:
        i = b - 1 - k if transpose else k
        coeff = L[:, i] if transpose else L[i]
        return X.at[i].set((B[i] - coeff @ X) / L[i, i])

    return jax.lax.fori_loop(0, b, row, jnp.zeros_like(B))
