r"""The Fokker–Planck generator of a low-dimensional model on a grid: stationary density, mean first
passage times, committors and transition-path-theory rates, without sampling.

For ``dx = f(x) dt + G dW`` with constant diagonal ``D = G Gᵀ/2`` the density obeys

.. math:: ∂_t ρ = -∇·(f ρ) + ∇·(D ∇ρ).

The box is cut into ``cells`` (``N ≤ 3``) and the process replaced by a continuous-time Markov
chain on the cells (finite volumes with the Scharfetter–Gummel, i.e. exponentially fitted, flux):
between neighbours ``i`` and ``i + e_k`` at distance ``h_k``, with ``a = f_k`` at the face
midpoint and the cell Péclet number ``P = a h_k / D_kk``,

.. math:: q_{i→i+e_k} = \frac{D_{kk}}{h_k^2} B(-P),\qquad q_{i+e_k→i} = \frac{D_{kk}}{h_k^2} B(P),
   \qquad B(z) = \frac{z}{e^z - 1}.

The rates are positive for any noise level (upwind when ``|P| ≫ 1``, central differences when
``|P| ≪ 1``), the box walls reflect, and the generator ``Q`` (``Q_{ij}`` the rate ``i → j``,
rows summing to zero) is second-order accurate in ``h``. On ``Q`` (sparse LU, SciPy):

* stationary density ``π Q = 0``, ``Σ π = 1`` (divided by the cell volume: a density);
* mean first passage time to a set ``B``: ``Q τ = -1`` off ``B``, ``τ = 0`` on ``B``;
* forward committor ``q⁺`` (``Q q⁺ = 0`` off ``A ∪ B``, 0 on ``A``, 1 on ``B``), backward committor
  ``q⁻`` from the time-reversed chain ``Q̃_{ij} = π_j Q_{ji}/π_i``;
* transition path theory (E & Vanden-Eijnden; Metzner, Schütte & Vanden-Eijnden 2009): reactive
  flux ``f_{ij} = π_i q⁻_i Q_{ij} q⁺_j``, reactive frequency ``ν = Σ_{i∈A, j∉A} f_{ij}``, rate
  ``k_{AB} = ν / ρ_A`` with ``ρ_A = Σ π q⁻`` (the probability of having last visited ``A``), and
  the reactive current as a vector field.

Units: the model's own (time as in ``f``, states as in ``x``). The grid error is checked in the
tests against exact one-dimensional passage times and Gaussian stationary densities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.interpolate
import scipy.sparse
import scipy.sparse.linalg

from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    ResourceLimitError,
    ShapeError,
    UnsupportedModelError,
)
from noetherlab._core.validation import as_float_array
from noetherlab.sde.model import SDE

__all__ = ["FokkerPlanck", "ReactiveFlux", "fokker_planck"]

#: most cells the sparse LU handles in seconds (a 1000 × 1000 grid)
MAX_CELLS = 1_000_000

Array = jax.Array


def _bernoulli(z: np.ndarray) -> np.ndarray:
    """``B(z) = z / (e^z − 1)`` (``B(0) = 1``), without cancellation near 0 or overflow."""
    small = np.abs(z) < 1e-8
    safe = np.where(small, 1.0, z)
    with np.errstate(over="ignore"):
        out = safe / np.expm1(safe)
    return np.where(small, 1.0 - 0.5 * z, out)


@dataclass(frozen=True)
class ReactiveFlux:
    """Transition path theory between two sets ``A → B`` (module docstring).

    Attributes:
        rate: ``k_{AB} = ν / ρ_A`` (per unit time); ``1/rate`` is the mean time from ``A`` to ``B``.
        frequency: ``ν``, reactive trajectories per unit time.
        forward: committor ``q⁺`` on the grid (probability to reach ``B`` before ``A``).
        backward: committor ``q⁻`` (probability to have come from ``A`` rather than ``B``).
        current: reactive current, shape ``grid + (N,)`` (probability per unit time and area).
    """

    rate: float
    frequency: float
    forward: np.ndarray = field(repr=False)
    backward: np.ndarray = field(repr=False)
    current: np.ndarray = field(repr=False)

    @property
    def mean_time(self) -> float:
        return 1.0 / self.rate


@dataclass(frozen=True)
class FokkerPlanck:
    """The generator ``Q`` of a model on a grid (see the module docstring).

    Attributes:
        model: the model's name.
        box: ``(N, 2)`` lower and upper corners.
        shape: cells per dimension.
        generator: sparse ``Q``, ``(cells, cells)``, rows summing to zero.
    """

    model: str
    box: np.ndarray
    shape: tuple[int, ...]
    generator: scipy.sparse.csr_matrix = field(repr=False)

    @property
    def spacing(self) -> np.ndarray:
        return (self.box[:, 1] - self.box[:, 0]) / np.asarray(self.shape)

    @property
    def axes(self) -> list[np.ndarray]:
        """Cell centres along each dimension."""
        return [
            lo + h * (np.arange(m) + 0.5)
            for (lo, _), h, m in zip(self.box, self.spacing, self.shape, strict=True)
        ]

    @property
    def centers(self) -> np.ndarray:
        """All cell centres, ``(cells, N)`` in C order."""
        return np.stack(np.meshgrid(*self.axes, indexing="ij"), axis=-1).reshape(
            -1, len(self.shape)
        )

    def region(self, spec: Any, name: str = "region") -> np.ndarray:
        """Boolean mask ``(cells,)`` of a set: a boolean array of the grid's shape, or a ball
        ``(center, radius)`` (which always contains the cell of its centre)."""
        if isinstance(spec, np.ndarray) and spec.dtype == bool:
            if spec.shape not in (self.shape, (int(np.prod(self.shape)),)):
                raise ShapeError(
                    name,
                    f"a mask of shape {spec.shape} for a grid of shape {self.shape}",
                    f"pass a boolean array of shape {self.shape}",
                )
            mask = spec.reshape(-1)
        elif isinstance(spec, tuple) and len(spec) == 2:
            center = as_float_array(spec[0], name).reshape(-1)
            if center.shape != (len(self.shape),):
                raise ShapeError(
                    name, f"centre of dimension {center.size}", f"give {len(self.shape)} values"
                )
            radius = float(spec[1])
            mask = np.linalg.norm(self.centers - center, axis=1) <= radius
            mask[self._cell_of(center)] = True
        else:
            raise InvalidArgumentError(
                name,
                f"a set given as {type(spec).__name__}",
                "give a ball as (center, radius) or a boolean mask of the grid's shape",
            )
        if not mask.any() or mask.all():
            raise InvalidArgumentError(
                name,
                "the set is empty" if not mask.any() else "the set is the whole grid",
                "choose a set that holds some cells but not all of them",
            )
        return mask

    def _cell_of(self, x: np.ndarray) -> int:
        idx = np.floor((x - self.box[:, 0]) / self.spacing).astype(int)
        idx = np.clip(idx, 0, np.asarray(self.shape) - 1)
        return int(np.ravel_multi_index(tuple(idx), self.shape))

    def at(self, values: np.ndarray, x: Any) -> float:
        """A grid field (shape :attr:`shape` or flat) linearly interpolated at the state ``x``."""
        interp = scipy.interpolate.RegularGridInterpolator(
            self.axes, np.reshape(values, self.shape), bounds_error=False, fill_value=None
        )
        return float(interp(as_float_array(x, "x").reshape(1, -1))[0])

    # ------------------------------------------------------------------ solves on the generator
    def stationary_density(self) -> np.ndarray:
        """``π`` per unit volume on the grid (shape :attr:`shape`), ``Σ π · volume = 1``."""
        return self._stationary().reshape(self.shape) / float(np.prod(self.spacing))

    def _stationary(self) -> np.ndarray:
        A = self.generator.T.tolil()
        A[-1, :] = np.ones(A.shape[1])
        rhs = np.zeros(A.shape[0])
        rhs[-1] = 1.0
        pi = scipy.sparse.linalg.spsolve(A.tocsc(), rhs)
        pi = np.maximum(pi, 0.0)
        return pi / pi.sum()

    def mean_first_passage_time(self, target: Any) -> np.ndarray:
        """Mean time to reach ``target`` (a set, see :meth:`region`) from every cell."""
        B = self.region(target, "target")
        tau = np.zeros(B.size)
        C = ~B
        tau[C] = scipy.sparse.linalg.spsolve(
            self.generator[C][:, C].tocsc(), -np.ones(int(C.sum()))
        )
        return tau.reshape(self.shape)

    def committor(self, A: Any, B: Any) -> np.ndarray:
        """Forward committor: probability to reach ``B`` before ``A``, on the grid."""
        a, b = self._disjoint(A, B)
        return self._committor(self.generator, a, b).reshape(self.shape)

    def reactive_flux(self, A: Any, B: Any) -> ReactiveFlux:
        """Transition path theory ``A → B``: rate, committors and reactive current."""
        a, b = self._disjoint(A, B)
        pi = self._stationary()
        Q = self.generator
        qp = self._committor(Q, a, b)
        # u = π q⁻ solves the reversed-chain equations without dividing by π (which underflows far
        # from the attractors): (Qᵀ u)_i = 0 off A ∪ B, u = π on A, u = 0 on B
        u = np.where(a, pi, 0.0)
        C = ~(a | b)
        QT = Q.T.tocsr()
        u[C] = scipy.sparse.linalg.spsolve(QT[C][:, C].tocsc(), -(QT[C][:, a] @ pi[a]))
        u = np.clip(u, 0.0, pi)
        qm = np.where(pi > 0, u / np.where(pi > 0, pi, 1.0), a.astype(np.float64))
        flux = (scipy.sparse.diags(u) @ Q @ scipy.sparse.diags(qp)).tocsr()
        flux.setdiag(0.0)
        flux.eliminate_zeros()
        nu = float(flux[a][:, ~a].sum())
        rho_a = float(np.sum(u))
        return ReactiveFlux(
            nu / rho_a,
            nu,
            qp.reshape(self.shape),
            qm.reshape(self.shape),
            self._current(flux),
        )

    def _disjoint(self, A: Any, B: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.region(A, "A"), self.region(B, "B")
        if (a & b).any():
            raise InvalidArgumentError(
                "B", "the sets A and B overlap", "choose disjoint sets (smaller radii)"
            )
        return a, b

    @staticmethod
    def _committor(Q: scipy.sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        q = b.astype(np.float64)
        C = ~(a | b)
        q[C] = scipy.sparse.linalg.spsolve(
            Q[C][:, C].tocsc(), -np.asarray(Q[C][:, b].sum(axis=1)).ravel()
        )
        return np.clip(q, 0.0, 1.0)

    def _current(self, flux: scipy.sparse.csr_matrix) -> np.ndarray:
        """Net reactive flux through each face, per unit face area, averaged onto cell centres."""
        n = len(self.shape)
        index = np.arange(int(np.prod(self.shape))).reshape(self.shape)
        volume = float(np.prod(self.spacing))
        current = np.zeros((*self.shape, n))
        for k in range(n):
            lo = np.take(index, np.arange(self.shape[k] - 1), axis=k).ravel()
            hi = np.take(index, np.arange(1, self.shape[k]), axis=k).ravel()
            net = np.asarray(flux[lo, hi]).ravel() - np.asarray(flux[hi, lo]).ravel()
            face = np.zeros((*self.shape[:k], self.shape[k] + 1, *self.shape[k + 1 :]))
            inner = [slice(None)] * n
            inner[k] = slice(1, self.shape[k])
            shape_k = list(self.shape)
            shape_k[k] -= 1
            face[tuple(inner)] = net.reshape(shape_k) * self.spacing[k] / volume
            lo_face = np.take(face, np.arange(self.shape[k]), axis=k)
            hi_face = np.take(face, np.arange(1, self.shape[k] + 1), axis=k)
            current[..., k] = 0.5 * (lo_face + hi_face)
        return current


def _as_box(box: Any, dim: int) -> np.ndarray:
    arr = as_float_array(box, "box")
    if arr.shape == (2,):
        arr = np.tile(arr, (dim, 1))
    if arr.shape != (dim, 2) or np.any(arr[:, 1] <= arr[:, 0]):
        raise ShapeError(
            "box",
            f"box of shape {arr.shape} (lower ≥ upper somewhere?)",
            f"give (lo, hi) or one (lo, hi) row per dimension, shape ({dim}, 2), with lo < hi",
        )
    return arr


def fokker_planck(sde: SDE, box: Any, cells: int | tuple[int, ...] = 200) -> FokkerPlanck:
    """The Fokker–Planck generator of a time-independent ``sde`` with constant diagonal ``D``
    (``N ≤ 3``) on ``box`` (``(lo, hi)`` for every axis, or ``(N, 2)``) cut into ``cells`` per
    dimension (an int or one per dimension).

    Raises:
        UnsupportedModelError: ``N > 3``, time-dependent drift, state-dependent or non-diagonal
            ``D``.
        ResourceLimitError: more than ``MAX_CELLS`` cells.
        NonFiniteError: the drift is not finite somewhere in the box.
    """
    dim = sde.dim
    if dim > 3:
        raise UnsupportedModelError(
            f"`{sde.name}` has {dim} dimensions; the grid generator handles N ≤ 3 "
            "(use `landscape` for Eyring–Kramers / Bouchet–Reygner rates in any dimension)"
        )
    if sde.time_dependent:
        raise UnsupportedModelError(
            f"`{sde.name}` has a time-dependent drift: it has no stationary generator"
        )
    if not sde.constant_diffusion or sde.degenerate:
        raise UnsupportedModelError(
            f"`{sde.name}` needs constant, non-degenerate noise for the grid generator"
        )
    D = np.asarray(sde.D(jnp.zeros(dim)))
    if np.any(np.abs(D - np.diag(np.diag(D))) > 1e-14 * np.abs(D).max()):
        raise UnsupportedModelError(
            f"`{sde.name}` has correlated noise (non-diagonal D); rotate the coordinates so that "
            "D is diagonal before building the grid generator"
        )
    lohi = _as_box(box, dim)
    shape = (cells,) * dim if isinstance(cells, int | np.integer) else tuple(cells)
    if len(shape) != dim or any(int(m) < 3 for m in shape):
        raise InvalidArgumentError(
            "cells", f"cells={cells!r}", f"give an int ≥ 3 or {dim} ints ≥ 3, one per dimension"
        )
    shape = tuple(int(m) for m in shape)
    total = int(np.prod(shape))
    if total > MAX_CELLS:
        raise ResourceLimitError(
            "cells",
            f"{total} cells (shape {shape}); the sparse solves are limited to {MAX_CELLS}",
            "use fewer cells per dimension",
        )
    fp = FokkerPlanck(sde.name, lohi, shape, scipy.sparse.csr_matrix((total, total)))
    h = fp.spacing
    index = np.arange(total).reshape(shape)
    rows, cols, rates = [], [], []
    grids = np.meshgrid(*fp.axes, indexing="ij")
    for k in range(dim):
        lo = np.take(index, np.arange(shape[k] - 1), axis=k).ravel()
        hi = np.take(index, np.arange(1, shape[k]), axis=k).ravel()
        mid = np.stack([g.reshape(-1)[lo] for g in grids], axis=1)
        mid[:, k] += 0.5 * h[k]
        a = sde.drift_at(mid)[:, k]
        if not np.all(np.isfinite(a)):
            bad = mid[~np.isfinite(a)][0]
            raise NonFiniteError(
                f"the drift of `{sde.name}` is not finite at {bad.tolist()} inside the box; "
                "shrink the box to where the model is defined"
            )
        peclet = a * h[k] / D[k, k]
        base = D[k, k] / h[k] ** 2
        rows += [lo, hi]
        cols += [hi, lo]
        rates += [base * _bernoulli(-peclet), base * _bernoulli(peclet)]
    r, c, q = np.concatenate(rows), np.concatenate(cols), np.concatenate(rates)
    Q = scipy.sparse.coo_matrix((q, (r, c)), shape=(total, total)).tocsr()
    Q = (Q - scipy.sparse.diags(np.asarray(Q.sum(axis=1)).ravel())).tocsr()
    return FokkerPlanck(sde.name, lohi, shape, Q)
