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

Honesty checks. Every solve is repeated on the grid with half the cells per dimension (when each
dimension has at least ``2 × MIN_CHECK_CELLS`` cells); a relative difference above
``GRID_TOLERANCE`` gives an :class:`~noetherlab._core.errors.UnderResolvedWarning` with the numbers
(fewer cells: a warning that the error cannot be estimated). The stationary density is computed as
``π = w y``, ``w`` the detailed-balance estimate along the grid lines (exact in 1-D and for gradient
drifts), ``y`` from the chain rescaled by ``w`` with one cell pinned (no dense row in the sparse
LU): the solve then works on numbers of order one, and densities of ``1e-200`` at the walls keep
their digits. When the result fails its balance check (a drift far from gradient, where ``w`` is off
by many orders) the unscaled solve is used: accurate to about ``1e-13`` of the peak density. Mean first-passage times and
committors that come out negative or outside ``[0, 1]`` (the linear solve lost all precision:
rates ``e^{ΔV/D}`` beyond float64) are refused, not clipped.
"""

from __future__ import annotations

import warnings
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
    UnderResolvedWarning,
    UnsupportedModelError,
)
from noetherlab._core.resources import warn_if_long
from noetherlab._core.validation import as_float_array, positive_float, require_finite
from noetherlab.sde.model import SDE, require_sde

__all__ = ["FokkerPlanck", "ReactiveFlux", "fokker_planck"]

#: most cells the sparse LU handles in seconds (a 1000 × 1000 grid)
MAX_CELLS = 1_000_000
#: in three dimensions the LU fill grows as ``m⁴`` and its time as ``m⁶`` (measured on a 2-core
#: machine: 2 s per solve at 24³ cells, 13 s at 32³): refused above this, warned above 40³
MAX_CELLS_3D = 64**3
#: the grid-error estimate needs at least this many cells per dimension on the half grid
MIN_CHECK_CELLS = 4
#: relative difference between the grid and the half grid above which a result is under-resolved
GRID_TOLERANCE = 0.1

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
        """``1/rate`` (``inf`` when no reactive flux reaches ``B`` in float64)."""
        return 1.0 / self.rate if self.rate > 0 else float("inf")


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
    sde: SDE | None = field(default=None, repr=False, compare=False)

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
            require_finite(center, name)
            radius = positive_float(spec[1], f"{name} radius", "radius")
            if np.any(center < self.box[:, 0]) or np.any(center > self.box[:, 1]):
                raise InvalidArgumentError(
                    name,
                    f"the centre {center.tolist()} lies outside the box {self.box.tolist()}",
                    "centre the set inside the box (or enlarge the box to hold it)",
                )
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
        """A grid field (shape :attr:`shape` or flat) linearly interpolated at the state ``x``
        inside the box (constant from the outermost cell centres to the walls)."""
        x_arr = as_float_array(x, "x").reshape(-1)
        if x_arr.shape != (len(self.shape),) or not np.all(np.isfinite(x_arr)):
            raise ShapeError(
                "x", f"must be a finite state of dimension {len(self.shape)}, got {x!r}", ""
            )
        if np.any(x_arr < self.box[:, 0]) or np.any(x_arr > self.box[:, 1]):
            raise InvalidArgumentError(
                "x",
                f"{x_arr.tolist()} lies outside the box {self.box.tolist()}: the grid says nothing "
                "there (an extrapolated density can be negative)",
                "evaluate inside the box, or build the grid on a larger box",
            )
        axes = self.axes
        x_arr = np.clip(x_arr, [a[0] for a in axes], [a[-1] for a in axes])
        interp = scipy.interpolate.RegularGridInterpolator(axes, np.reshape(values, self.shape))
        return float(interp(x_arr.reshape(1, -1))[0])

    # ------------------------------------------------------------------ solves on the generator
    def stationary_density(self) -> np.ndarray:
        """``π`` per unit volume on the grid (shape :attr:`shape`), ``Σ π · volume = 1``."""
        rho = self._stationary().reshape(self.shape) / float(np.prod(self.spacing))
        coarse = self._half_grid()
        if coarse is not None:
            rho_c = coarse.stationary_density()
            err = float(np.sum(np.abs(_on(self, coarse, rho_c) - rho)) * np.prod(self.spacing))
            self._warn_if_unresolved("stationary density (L1 distance)", err)
        return rho

    def _stationary(self) -> np.ndarray:
        """``π`` ``(cells,)`` summing to 1 (module docstring: a scaled solve around the
        detailed-balance estimate, relatively accurate in the tails)."""
        Q = self.generator
        log_w = self._log_balance_estimate()
        w = np.exp(log_w - float(np.max(log_w)))
        # the scaled chain S_ij = w_j Q_ji / w_i has entries of the size of the rates everywhere;
        # π = w y with S y = 0 (one cell pinned: no dense row in the LU), y ≈ 1 for gradient drifts
        R = Q.T.tocoo()
        S = scipy.sparse.coo_matrix(
            (R.data * w[R.col] / w[R.row], (R.row, R.col)), shape=Q.shape
        ).tocsr()
        y = _pinned_null_vector(S, int(np.argmax(w)))
        with np.errstate(all="ignore"):
            pi = w * y
            balance = np.abs(Q.T @ pi) / (pi * np.abs(Q.diagonal()))
        if np.all(np.isfinite(pi)) and np.all(pi > 0) and float(np.max(balance)) <= 1e-8:
            return pi / pi.sum()
        # far from detailed balance (a strongly non-gradient drift) the estimate is off by many
        # orders: the unscaled solve, accurate to ~1e-13 of the peak (its tails are rounded)
        pi = np.maximum(_pinned_null_vector(Q.T.tocsr(), int(np.argmax(pi))), 0.0)
        return pi / pi.sum()

    def _log_balance_estimate(self) -> np.ndarray:
        """``log π`` up to a constant from detailed balance along the grid lines (exact for a 1-D
        chain and for gradient drifts; the sum of ``log(q_{i→i+e_k}/q_{i+e_k→i})`` along axis 0,
        then along axis 1 from there, ...), ``(cells,)``."""
        Q = self.generator
        n = len(self.shape)
        index = np.arange(int(np.prod(self.shape))).reshape(self.shape)
        out = np.zeros(self.shape)
        for k in range(n):
            lo = np.take(index, np.arange(self.shape[k] - 1), axis=k)
            hi = np.take(index, np.arange(1, self.shape[k]), axis=k)
            up = np.asarray(Q[lo.ravel(), hi.ravel()]).reshape(lo.shape)
            down = np.asarray(Q[hi.ravel(), lo.ravel()]).reshape(lo.shape)
            step = np.log(up) - np.log(down)
            # the line through index 0 of every later axis
            step = step[tuple(slice(None) if a <= k else slice(0, 1) for a in range(n))]
            zero = np.zeros_like(np.take(step, [0], axis=k))
            out = out + np.concatenate([zero, np.cumsum(step, axis=k)], axis=k)
        return out.ravel()

    def mean_first_passage_time(self, target: Any) -> np.ndarray:
        """Mean time to reach ``target`` (a set, see :meth:`region`) from every cell."""
        tau = self._mfpt(self.region(target, "target"))
        coarse = self._half_grid()
        if coarse is not None:
            tau_c = coarse._mfpt(coarse.region(_coarse_set(target, self), "target"))
            top = float(np.max(tau))
            err = float(np.max(np.abs(_on(self, coarse, tau_c) - tau))) / top
            self._warn_if_unresolved("mean first passage time (largest, relative)", err)
        return tau

    def _mfpt(self, B: np.ndarray) -> np.ndarray:
        tau = np.zeros(B.size)
        C = ~B
        A = self.generator[C][:, C]
        tau[C] = _solve(A, -np.ones(int(C.sum())), "mean first passage")
        if np.any(tau < 0):
            raise _too_stiff(self.model, f"negative mean first passage times (min {tau.min():.3g})")
        residual = float(np.max(np.abs(A @ tau[C] + 1.0)))  # each equation reads (Q τ)_i = −1
        if residual > 0.1:
            raise _too_stiff(
                self.model, f"passage times that miss their equations by {residual:.2g} (of 1)"
            )
        return tau.reshape(self.shape)

    def committor(self, A: Any, B: Any) -> np.ndarray:
        """Forward committor: probability to reach ``B`` before ``A``, on the grid."""
        a, b = self._disjoint(A, B)
        return self._committor(self.generator, a, b, self.model).reshape(self.shape)

    def reactive_flux(self, A: Any, B: Any) -> ReactiveFlux:
        """Transition path theory ``A → B``: rate, committors and reactive current."""
        out = self._reactive_flux(*self._disjoint(A, B))
        coarse = self._half_grid()
        if coarse is not None and out.rate > 0:  # (no flux in float64: mean_time is inf)
            ca, cb = coarse._disjoint(_coarse_set(A, self), _coarse_set(B, self))
            rate_c = coarse._reactive_flux(ca, cb).rate
            self._warn_if_unresolved("reactive rate (relative)", abs(rate_c / out.rate - 1.0))
        return out

    def _reactive_flux(self, a: np.ndarray, b: np.ndarray) -> ReactiveFlux:
        log_pi = np.log(self._stationary())
        Q = self.generator
        qp = self._committor(Q, a, b, self.model)
        # q⁻ is the committor B → A of the time-reversed chain Q̃_ij = π_j Q_ji / π_i, built from
        # ratios of π (relatively accurate in the tails, where π itself may be 1e-200)
        R = Q.T.tocoo()
        ratio = np.exp(log_pi[R.col] - log_pi[R.row])
        off = R.row != R.col
        Qr = scipy.sparse.coo_matrix(
            (R.data[off] * ratio[off], (R.row[off], R.col[off])), shape=Q.shape
        ).tocsr()
        Qr = (Qr - scipy.sparse.diags(np.asarray(Qr.sum(axis=1)).ravel())).tocsr()
        qm = self._committor(Qr, b, a, self.model)
        pi = np.exp(log_pi)
        u = pi * qm
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
    def _committor(
        Q: scipy.sparse.csr_matrix, a: np.ndarray, b: np.ndarray, model: str
    ) -> np.ndarray:
        q = b.astype(np.float64)
        C = ~(a | b)
        q[C] = _solve(Q[C][:, C], -np.asarray(Q[C][:, b].sum(axis=1)).ravel(), "committor")
        slack = 1e-8
        if np.any(q < -slack) or np.any(q > 1 + slack):
            raise _too_stiff(
                model, f"a committor outside [0, 1] (range {q.min():.3g}…{q.max():.3g})"
            )
        return np.clip(q, 0.0, 1.0)

    # ------------------------------------------------------------------ the grid-error estimate
    def _half_grid(self) -> FokkerPlanck | None:
        """The same generator on half the cells per dimension (``None`` when too coarse: then a
        warning that the grid error cannot be estimated)."""
        if self.sde is None:
            return None
        half = tuple(m // 2 for m in self.shape)
        if min(half) < MIN_CHECK_CELLS:
            warnings.warn(
                f"Fokker–Planck grid of `{self.model}` with {self.shape} cells: too coarse to "
                f"estimate its error (fewer than {2 * MIN_CHECK_CELLS} cells per dimension); the "
                "results may be far from the continuum values. Pass more cells",
                UnderResolvedWarning,
                stacklevel=3,
            )
            return None
        return _generator(self.sde, self.box, half, check=False)

    def _warn_if_unresolved(self, what: str, difference: float) -> None:
        if not difference <= GRID_TOLERANCE:
            warnings.warn(
                f"Fokker–Planck grid of `{self.model}` with {self.shape} cells: the {what} "
                f"differs by {difference:.2g} from the grid with half the cells (tolerance "
                f"{GRID_TOLERANCE:g}): under-resolved. Pass more cells",
                UnderResolvedWarning,
                stacklevel=3,
            )

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
    if arr.shape != (dim, 2) or not np.all(np.isfinite(arr)) or np.any(arr[:, 1] <= arr[:, 0]):
        raise ShapeError(
            "box",
            f"box of shape {arr.shape} (lower ≥ upper somewhere?)",
            f"give (lo, hi) or one (lo, hi) row per dimension, shape ({dim}, 2), with lo < hi",
        )
    return arr


def _solve(A: scipy.sparse.spmatrix, rhs: np.ndarray, what: str) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.sparse.linalg.MatrixRankWarning)
        try:
            out = scipy.sparse.linalg.spsolve(A.tocsc(), rhs)
        except (scipy.sparse.linalg.MatrixRankWarning, RuntimeError) as exc:
            raise NonFiniteError(
                f"the {what} equations of the grid generator are singular ({exc}). Fix: check "
                "that the box holds the dynamics (a drift that vanishes on a whole region makes "
                "the chain reducible)"
            ) from None
    if not np.all(np.isfinite(out)):
        raise NonFiniteError(
            f"the {what} solve of the grid generator returned non-finite values. Fix: a larger "
            "noise, a smaller box, or the small-noise asymptotics (landscape)"
        )
    return np.asarray(out)


def _pinned_null_vector(M: scipy.sparse.csr_matrix, k: int) -> np.ndarray:
    """``y`` with ``M y = 0`` and ``y_k = 1`` (row ``k`` dropped, column ``k`` to the right)."""
    C = np.ones(M.shape[0], bool)
    C[k] = False
    y = np.ones(M.shape[0])
    y[C] = _solve(M[C][:, C], -np.asarray(M[C][:, [k]].todense()).ravel(), "stationary")
    return y


def _too_stiff(model: str, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"the grid generator of `{model}` gave {what}: the linear solve lost all precision, the "
        "passage times (of order e^(ΔV/D)) being beyond float64 at this noise level. Fix: use the "
        "small-noise asymptotics (landscape: Eyring–Kramers or Bouchet–Reygner), or a larger D"
    )


def _on(fine: FokkerPlanck, coarse: FokkerPlanck, values: np.ndarray) -> np.ndarray:
    """A field of the ``coarse`` grid at the cell centres of ``fine`` (linear, constant near the
    walls)."""
    pts = np.clip(fine.centers, [a[0] for a in coarse.axes], [a[-1] for a in coarse.axes])
    interp = scipy.interpolate.RegularGridInterpolator(coarse.axes, values)
    return interp(pts).reshape(fine.shape)


def _coarse_set(spec: Any, fine: FokkerPlanck) -> Any:
    """A set of the ``fine`` grid on its half grid: a ball unchanged, a mask by 2×…×2 blocks."""
    if isinstance(spec, np.ndarray) and spec.dtype == bool:
        m = spec.reshape(fine.shape)
        m = m[tuple(slice(0, 2 * (k // 2)) for k in fine.shape)]
        blocks = m.reshape([v for k in fine.shape for v in (k // 2, 2)])
        return blocks.any(axis=tuple(range(1, 2 * len(fine.shape), 2)))
    return spec


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
    sde = require_sde(sde)
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
    shape = _cells(cells, dim)
    total = int(np.prod(shape))
    limit = MAX_CELLS_3D if dim == 3 else MAX_CELLS
    if total > limit:
        raise ResourceLimitError(
            "cells",
            f"{total} cells (shape {shape}); the sparse solves in {dim} dimensions are limited to "
            f"{limit}" + (" (the LU fill grows as m⁴, its time as m⁶)" if dim == 3 else ""),
            "use fewer cells per dimension",
        )
    if dim == 3:
        warn_if_long(
            2.0 * (total / 24**3) ** 2,
            f"a {shape} Fokker–Planck grid (each sparse solve)",
            "Use fewer cells per dimension.",
            threshold=60.0,
        )
    return _generator(sde, lohi, shape)


def _cells(cells: Any, dim: int) -> tuple[int, ...]:
    items = cells if isinstance(cells, tuple | list) else (cells,) * dim
    if len(items) != dim or not all(
        isinstance(m, int | np.integer) and not isinstance(m, bool) and m >= 3 for m in items
    ):
        raise InvalidArgumentError(
            "cells",
            f"cells={cells!r}",
            f"give an integer ≥ 3 or {dim} integers ≥ 3, one per dimension (e.g. cells=200)",
        )
    return tuple(int(m) for m in items)


def _generator(
    sde: SDE, lohi: np.ndarray, shape: tuple[int, ...], check: bool = True
) -> FokkerPlanck:
    """Assemble ``Q`` (module docstring) on a validated box and shape."""
    dim = sde.dim
    D = np.asarray(sde.D(jnp.zeros(dim)))
    total = int(np.prod(shape))
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
    return FokkerPlanck(sde.name, lohi, shape, Q, sde if check else None)
