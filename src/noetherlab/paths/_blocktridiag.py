r"""Cholesky solve of a symmetric block-tridiagonal system (private).

Solves ``H z = g`` with ``H`` symmetric positive definite, ``m`` diagonal blocks ``B_k`` (``b x b``)
and super-diagonal blocks ``U_k = H[k, k+1]`` (``H[k+1, k] = U_k^T``), by the block factorisation
``H = L L^T`` with lower block-bidiagonal ``L``:

.. math::
    L_{00} L_{00}^T = B_0,\quad C_k = U_{k-1}^T L_{k-1,k-1}^{-T},\quad
    L_{kk} L_{kk}^T = B_k - C_k C_k^T ,

followed by the forward and backward block substitutions. Cost ``O(m b^3)``, memory ``O(m b^2)``.
No library offers this in JAX (lineax handles scalar tridiagonal systems only), hence this module.
The block factors and triangular solves are :mod:`noetherlab._core.linalg`'s (unrolled scalar
arithmetic for ``b <= 8``, fused into each step of the scan; vector loops above, never LAPACK).

A non-positive-definite ``H`` shows up as a non-finite factor; :func:`solve` then returns ``ok =
False`` (the caller shifts ``H`` by a multiple of the identity and retries).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from noetherlab._core.linalg import cholesky as _chol
from noetherlab._core.linalg import lower_solve as _lower_solve
from noetherlab._core.linalg import lower_solve_transposed as _upper_solve_T

Array = jax.Array


def solve(diag: Array, upper: Array, rhs: Array) -> tuple[Array, Array]:
    """Solve ``H z = rhs``; ``diag`` ``(m, b, b)``, ``upper`` ``(m-1, b, b)``, ``rhs`` ``(m, b)``.

    Returns ``(z, ok)`` where ``ok`` is False if the factorisation broke down (``H`` not SPD)."""
    b = rhs.shape[1]
    lower_blocks = jnp.concatenate(
        [jnp.zeros((1, b, b), diag.dtype), jnp.swapaxes(upper, 1, 2)], axis=0
    )

    def forward(
        carry: tuple[Array, Array], inp: tuple[Array, Array, Array]
    ) -> tuple[tuple[Array, Array], tuple[Array, Array, Array]]:
        L_prev, y_prev = carry
        B_k, H_kkm1, g_k = inp
        C = _lower_solve(L_prev, H_kkm1.T).T  # C L_prev^T = H[k, k-1]
        L_k = _chol(B_k - C @ C.T)
        y_k = _lower_solve(L_k, g_k - C @ y_prev)
        return (L_k, y_k), (L_k, C, y_k)

    init = (jnp.eye(b, dtype=diag.dtype), jnp.zeros(b, diag.dtype))
    _, (Ls, Cs, ys) = jax.lax.scan(forward, init, (diag, lower_blocks, rhs))
    C_next = jnp.concatenate([Cs[1:], jnp.zeros((1, b, b), diag.dtype)], axis=0)

    def backward(z_next: Array, inp: tuple[Array, Array, Array]) -> tuple[Array, Array]:
        L_k, C_kp1, y_k = inp
        z_k = _upper_solve_T(L_k, y_k - C_kp1.T @ z_next)
        return z_k, z_k

    _, zs = jax.lax.scan(backward, jnp.zeros(b, diag.dtype), (Ls, C_next, ys), reverse=True)
    ok = jnp.all(jnp.isfinite(Ls)) & jnp.all(jnp.isfinite(zs))
    return zs, ok


def is_positive_definite(diag: Array, upper: Array) -> Array:
    """True if the block-tridiagonal ``H`` admits a Cholesky factorisation (factor only, no solve)."""
    b = diag.shape[1]
    lower_blocks = jnp.concatenate(
        [jnp.zeros((1, b, b), diag.dtype), jnp.swapaxes(upper, 1, 2)], axis=0
    )

    def forward(L_prev: Array, inp: tuple[Array, Array]) -> tuple[Array, Array]:
        B_k, H_kkm1 = inp
        C = _lower_solve(L_prev, H_kkm1.T).T
        L_k = _chol(B_k - C @ C.T)
        return L_k, jnp.all(jnp.isfinite(L_k))

    _, ok = jax.lax.scan(forward, jnp.eye(b, dtype=diag.dtype), (diag, lower_blocks))
    return jnp.all(ok)
