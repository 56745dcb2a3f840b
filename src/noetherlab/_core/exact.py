"""Exact forms of numerical bases: reduced row echelon form and snapping to simple fractions
(private; the one home of these helpers — symmetry generators, polynomial and subspace laws)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["rref", "snap_rational"]


def rref(A: np.ndarray, tol: float) -> np.ndarray:
    """Reduced row echelon form of the rows of ``A`` (partial pivoting); entries below ``tol`` are
    set to zero."""
    B = np.array(A, dtype=np.float64, copy=True)
    rows, cols = B.shape
    r = 0
    for c in range(cols):
        if r >= rows:
            break
        piv = r + int(np.argmax(np.abs(B[r:, c])))
        if abs(B[piv, c]) <= tol:
            continue
        B[[r, piv]] = B[[piv, r]]
        B[r] /= B[r, c]
        others = np.arange(rows) != r
        B[others] -= np.outer(B[others, c], B[r])
        r += 1
    B[np.abs(B) < tol] = 0.0
    return B


def snap_rational(values: np.ndarray, max_den: int = 100, tol: float = 1e-8) -> np.ndarray:
    """Replace entries within ``tol`` (relative, floored at 1) of a fraction with denominator
    ``<= max_den`` by that fraction; other entries are kept."""
    out = np.array(values, dtype=np.float64, copy=True)
    for idx, v in np.ndenumerate(values):
        if v == 0.0:
            continue
        frac = Fraction(float(v)).limit_denominator(max_den)
        if abs(float(frac) - v) <= tol * max(1.0, abs(v)):
            out[idx] = float(frac)
    return out
