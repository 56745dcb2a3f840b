r"""Symmetries of the path Lagrangian: test a generator, or discover all affine ones.

An affine generator ``δx = A x + b`` (with ``δẋ = A ẋ``) leaves
``L = ¼ (ẋ - f)^T D^{-1} (ẋ - f)`` invariant for all ``(x, ẋ, t)`` iff

.. math::
    \text{(i) } f \text{ is equivariant: } Df(x,t)\,(A x + b) = A f(x,t), \qquad
    \text{(ii) } D \text{ is invariant: } \partial_x D(x,t)[A x + b] = A D + D A^T .

(For the "om" Lagrangian the divergence term is then invariant too.) Both conditions are *linear*
in the unknowns ``(A, b)``: :func:`find_symmetries` stacks them at random probe points and takes
the numerical null space (SVD), reporting the singular-value gap that certifies its dimension.
Time translation is a symmetry when ``∂_t f = 0`` and ``∂_t D = 0``; its charge is the energy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError, ShapeError
from noetherlab._core.exact import rref, snap_rational
from noetherlab._core.resources import check_memory
from noetherlab._core.status import Certified, CountStatus
from noetherlab._core.validation import as_float_array, positive_int, require_finite
from noetherlab.noether.charges import ChargeTrace, noether_charge
from noetherlab.sde.lagrangian import check_lagrangian
from noetherlab.sde.lagrangian import lagrangian as lagrangian_fn
from noetherlab.sde.model import SDE

__all__ = [
    "Generator",
    "Symmetry",
    "SymmetryCheck",
    "SymmetryReport",
    "check_symmetry",
    "find_symmetries",
]

Array = jax.Array


@dataclass(frozen=True)
class Generator:
    r"""An infinitesimal transformation ``x → x + ε (A x + b)``, ``t → t + ε c`` (``c = time``),
    with an optional boundary term ``K(x, t)`` for quasi-symmetries (``δL = dK/dt``).

    Use the constructors :meth:`translation`, :meth:`rotation`, :meth:`time_translation` or pass
    ``A`` (``(N, N)``) and ``b`` (``(N,)``) directly."""

    A: np.ndarray
    b: np.ndarray
    time: float = 0.0
    K: Callable[[Any, Any], Any] | None = None
    name: str = ""

    @staticmethod
    def affine(
        A: Any = None,
        b: Any = None,
        *,
        dim: int | None = None,
        time: float = 0.0,
        K: Callable[[Any, Any], Any] | None = None,
        name: str = "",
    ) -> Generator:
        """A generator from ``A`` and/or ``b`` (missing parts are zero)."""
        if A is None and b is None and dim is None:
            raise ShapeError("A/b", "cannot infer the dimension", "pass A, b or dim")
        if A is not None:
            A = as_float_array(A, "A")
            if A.ndim != 2 or A.shape[0] != A.shape[1]:
                raise ShapeError(
                    "A", f"must be a square matrix, got shape {A.shape}", "pass an (N, N) array"
                )
            n = A.shape[0]
        else:
            n = dim if dim is not None else np.asarray(b).reshape(-1).size
            A = np.zeros((n, n))
        b = np.zeros(n) if b is None else as_float_array(b, "b").reshape(-1)
        if b.shape != (n,):
            raise ShapeError(
                "b", f"must have shape ({n},), got {b.shape}", "match the dimension of A"
            )
        return Generator(A=A, b=b, time=float(time), K=K, name=name)

    @staticmethod
    def translation(direction: Any) -> Generator:
        """``δx = v`` (momentum along ``v``)."""
        v = as_float_array(direction, "direction").reshape(-1)
        return Generator(A=np.zeros((v.size, v.size)), b=v, name=f"translation along {_fmt_vec(v)}")

    @staticmethod
    def rotation(i: int, j: int, dim: int, center: Any = None) -> Generator:
        """Rotation in the ``(x_i, x_j)`` plane (0-based), optionally about ``center``:
        ``δx_i = -(x_j - c_j)``, ``δx_j = x_i - c_i``; its charge is ``L_ij = x_i p_j - x_j p_i``."""
        dim = positive_int(dim, "dim", 2)
        if not (0 <= i < dim and 0 <= j < dim and i != j):
            raise ShapeError(
                "i/j",
                f"must be two different axes in [0, {dim}), got ({i}, {j})",
                "pick two coordinate axes",
            )
        A = np.zeros((dim, dim))
        A[i, j], A[j, i] = -1.0, 1.0
        c = np.zeros(dim) if center is None else as_float_array(center, "center").reshape(dim)
        return Generator(
            A=A,
            b=-A @ c,
            name=f"rotation in the x{i + 1}-x{j + 1} plane"
            + ("" if center is None else f" about {_fmt_vec(c)}"),
        )

    @staticmethod
    def time_translation(dim: int) -> Generator:
        """``t → t + ε``; its charge is the energy."""
        return Generator(A=np.zeros((dim, dim)), b=np.zeros(dim), time=1.0, name="time translation")

    @property
    def dim(self) -> int:
        return int(np.asarray(self.b).size)


def require_generator(generator: Any, dim: int, allow_time: bool = False) -> None:
    """Refuse what is not a finite, non-zero generator of a ``dim``-dimensional model (a zero
    generator is invariant under everything and would be stamped an exact symmetry)."""
    if not isinstance(generator, Generator):
        raise InvalidArgumentError(
            "generator",
            f"must be a Generator, got {type(generator).__name__}",
            "build one with Generator.rotation, Generator.translation or Generator.affine",
        )
    A, b = np.asarray(generator.A, dtype=float), np.asarray(generator.b, dtype=float)
    if A.shape != (dim, dim) or b.shape != (dim,):
        raise ShapeError(
            "generator",
            f"acts on dimension {generator.dim} (A {A.shape}, b {b.shape}), the model has "
            f"dimension {dim}",
            "build the generator for this model",
        )
    time = float(generator.time) if allow_time else 0.0
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b)) and math.isfinite(time)):
        raise NonFiniteError(
            "argument `generator`: A, b or time contains NaN or infinity. Fix: pass finite entries."
        )
    if not np.any(A) and not np.any(b) and time == 0.0 and generator.K is None:
        raise InvalidArgumentError(
            "generator",
            "is zero (A = 0, b = 0): it moves nothing, so every model is trivially invariant under "
            "it",
            "pass a non-zero generator",
        )


@dataclass(frozen=True)
class SymmetryCheck:
    """Result of :func:`check_symmetry`: ``invariant`` and the worst violation found."""

    invariant: bool
    max_violation: float
    relative_violation: float
    worst_x: np.ndarray
    worst_v: np.ndarray
    worst_t: float
    n_probes: int

    def __bool__(self) -> bool:
        return self.invariant


@dataclass(frozen=True)
class Symmetry:
    """One basis element of the symmetry algebra, with a readable name and its Noether charge."""

    generator: Generator
    kind: str  # "translation" | "rotation" | "general" | "time"
    sde: SDE = field(repr=False)
    lagrangian: str = "fw"

    @property
    def name(self) -> str:
        return self.generator.name

    def charge(self, x: Any, t: Any) -> ChargeTrace:
        """The conserved charge of this symmetry along a discrete path (see :func:`noether_charge`)."""
        return noether_charge(self.sde, x, t, self.generator, self.lagrangian)


@dataclass(frozen=True)
class SymmetryReport(Certified):
    """Result of :func:`find_symmetries`.

    Attributes:
        symmetries: the basis (spatial ones first, then time translation if present).
        singular_values: of the stacked linear conditions (descending).
        null_dimension: number of spatial symmetries found.
        gap: ratio between the smallest singular value kept as "non-zero" and the largest treated
            as zero (``inf`` if one side is empty); large means the count is unambiguous.
        status: ``CountStatus.certified`` when ``gap >= min_gap`` and every candidate passed the
            independent check; ``rejected`` when a candidate failed it, ``ambiguous`` when the gap
            is too small (``message`` gives the numbers).
        time_translation: whether ``L`` is invariant under time translation.
        rejected: candidates of the linear conditions that failed the independent check
            (``(name, relative violation)``): their presence means the probe did not determine the
            symmetries (too local a region, or too few points).
    """

    symmetries: list[Symmetry]
    singular_values: np.ndarray
    null_dimension: int
    gap: float
    status: CountStatus
    message: str
    time_translation: bool
    rejected: list[tuple[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.symmetries)

    def __iter__(self) -> Iterator[Symmetry]:
        return iter(self.symmetries)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.symmetries]


# ---------------------------------------------------------------------------- checking
def _center(center: Any, dim: int) -> np.ndarray:
    if center is None:
        return np.zeros(dim)
    c = as_float_array(center, "center").reshape(-1)
    if c.shape != (dim,):
        raise ShapeError(
            "center",
            f"must be a state of the {dim}-dimensional model, got {c.size} number(s)",
            f"pass {dim} comma-separated numbers",
        )
    require_finite(c, "center")
    return c


def _scale(scale: Any) -> float:
    try:
        out = float(scale)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "scale", f"must be a number, got {scale!r}", "pass scale > 0"
        ) from None
    if not np.isfinite(out) or out <= 0.0:
        raise InvalidArgumentError(
            "scale",
            f"must be a positive spread of the probe states, got {out!r} (a degenerate probe — all "
            "points at one state — cannot tell a symmetry from a coincidence)",
            "pass scale > 0, about the size of the region the paths live in (default 1)",
        )
    return out


def _probe(
    dim: int, n: int, seed: int, center: Any, scale: float, t_range: tuple[float, float]
) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    c = _center(center, dim)
    scale = _scale(scale)
    xs = c + scale * rng.standard_normal((n, dim))
    vs = scale * rng.standard_normal((n, dim))
    ts = rng.uniform(t_range[0], t_range[1], n)
    return xs, vs, ts


def check_symmetry(
    sde: SDE,
    generator: Generator,
    *,
    lagrangian: str = "fw",
    n_probes: int = 256,
    center: Any = None,
    scale: float = 1.0,
    t_range: tuple[float, float] = (0.0, 1.0),
    rtol: float = 1e-8,
    seed: int = 0,
) -> SymmetryCheck:
    r"""Is ``L`` invariant (up to ``dK/dt``) under ``generator``?

    Evaluates ``δL = ∂_x L·(Ax+b) + ∂_ẋ L·(Aẋ) + c ∂_t L - dK/dt`` at ``n_probes`` random
    ``(x, ẋ, t)`` (``x ~ center + scale·N(0, I)``, ``ẋ ~ scale·N(0, I)``, ``t ~ U(t_range)``) and
    compares it with the size of ``L``'s terms. ``invariant`` iff the largest relative violation is
    ``<= rtol``."""
    kind = check_lagrangian(lagrangian, sde)
    require_generator(generator, sde.dim, allow_time=True)
    n_probes = positive_int(n_probes, "n_probes")
    check_memory(
        8.0 * n_probes * (sde.dim * sde.dim + 8 * sde.dim),
        "n_probes",
        f"{n_probes} probes of the Lagrangian in {sde.dim} dimensions",
        "pass fewer probes (a few hundred decide the invariance)",
    )
    xs, vs, ts = _probe(sde.dim, n_probes, seed, center, scale, t_range)
    dL, size = (
        np.asarray(a)
        for a in _variations(
            sde,
            kind,
            jnp.asarray(generator.A),
            jnp.asarray(generator.b),
            jnp.asarray(float(generator.time)),
            generator.K,
            jnp.asarray(xs),
            jnp.asarray(vs),
            jnp.asarray(ts),
        )
    )
    rel = np.abs(dL) / np.maximum(size, 1e-300)
    k = int(np.argmax(np.abs(dL)))
    return SymmetryCheck(
        invariant=bool(np.max(rel) <= rtol),
        max_violation=float(np.abs(dL[k])),
        relative_violation=float(np.max(rel)),
        worst_x=xs[k],
        worst_v=vs[k],
        worst_t=float(ts[k]),
        n_probes=n_probes,
    )


def _variation(
    sde: SDE, kind: str, A: Array, b: Array, c: Array, K: Any, x: Array, v: Array, t: Array
) -> tuple[Array, Array]:
    """``δL`` under the generator at one ``(x, ẋ, t)``, and the size of its terms."""
    L, (gx, gv, gt) = jax.value_and_grad(
        lambda x, v, t: lagrangian_fn(sde, x, v, t, kind), argnums=(0, 1, 2)
    )(x, v, t)
    dL = gx @ (A @ x + b) + gv @ (A @ v) + c * gt
    size = (
        jnp.abs(gx) @ jnp.abs(A @ x + b)
        + jnp.abs(gv) @ jnp.abs(A @ v)
        + jnp.abs(c * gt)
        + jnp.abs(L)
    )
    if K is not None:
        kx, kt = jax.grad(
            lambda x, t: jnp.asarray(K(x, t), dtype=jnp.float64).reshape(()), argnums=(0, 1)
        )(x, t)
        dL = dL - (kx @ v + kt)
    return dL, size


@eqx.filter_jit
def _variations(
    sde: SDE, kind: str, A: Array, b: Array, c: Array, K: Any, xs: Array, vs: Array, ts: Array
) -> tuple[Array, Array]:
    return jax.vmap(lambda x, v, t: _variation(sde, kind, A, b, c, K, x, v, t))(xs, vs, ts)


# ---------------------------------------------------------------------------- discovery
def _condition_rows(sde: SDE, theta: Array, x: Array, t: Array) -> Array:
    """Conditions (i), (ii) at one probe, linear in ``theta = (vec A, b)``."""
    n = sde.dim
    A = theta[: n * n].reshape(n, n)
    b = theta[n * n :]
    dx = A @ x + b
    f, jvp_f = jax.jvp(lambda y: sde.f(y, t), (x,), (dx,))
    r_f = jvp_f - A @ f
    D, jvp_D = jax.jvp(lambda y: sde.D(y, t), (x,), (dx,))
    r_D = jvp_D - A @ D - D @ A.T
    # scale rows to comparable magnitude (relative to the size of f and D at this point)
    sf = 1.0 / (1.0 + jnp.max(jnp.abs(f)))
    sD = 1.0 / (jnp.max(jnp.abs(D)))
    return jnp.concatenate([sf * r_f, sD * r_D[jnp.triu_indices(n)]])


@eqx.filter_jit
def _condition_matrix(sde: SDE, xs: Array, ts: Array) -> Array:
    n = sde.dim
    theta0 = jnp.zeros(n * n + n)
    jac = jax.vmap(
        jax.jacfwd(lambda th, x, t: _condition_rows(sde, th, x, t)), in_axes=(None, 0, 0)
    )
    return jac(theta0, xs, ts)


def _conditions(sde: SDE, xs: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Matrix of the linear conditions (i), (ii) on theta = (vec A, b), one block per probe."""
    n = sde.dim
    return np.asarray(_condition_matrix(sde, jnp.asarray(xs), jnp.asarray(ts))).reshape(
        -1, n * n + n
    )


def subspace_embedding(subspace: Any, n: int) -> np.ndarray | None:
    r"""The matrix ``P`` ``(N² + N, k² + k)`` of generators restricted to the span of the ``k``
    orthonormal columns of ``subspace`` (``(N, k)``): ``A = U a U^T``, ``b = U β``, so
    ``(vec A, b) = P (vec a, β)`` (row-major ``vec``). ``None`` (no restriction) gives ``None``.
    (Internal API shared by the approximate-symmetry and symmetry-learning modules.)"""
    if subspace is None:
        return None
    U = as_float_array(subspace, "subspace")
    if U.ndim == 1:
        U = U[:, None]
    if U.ndim != 2 or U.shape[0] != n or not 1 <= U.shape[1] <= n:
        raise ShapeError(
            "subspace",
            f"must be an (N, k) basis with N = {n} rows and 1 <= k <= N columns, got shape "
            f"{np.asarray(subspace).shape}",
            "pass the k basis vectors as columns, e.g. the top principal components",
        )
    require_finite(U, "subspace")
    k = U.shape[1]
    if np.max(np.abs(U.T @ U - np.eye(k))) > 1e-8:
        raise InvalidArgumentError(
            "subspace",
            "its columns are not orthonormal",
            "orthonormalise them first, e.g. numpy.linalg.qr(U)[0]",
        )
    P = np.zeros((n * n + n, k * k + k))
    P[: n * n, : k * k] = np.kron(U, U)
    P[n * n :, k * k :] = U
    return P


def _fmt_vec(v: np.ndarray) -> str:
    """``(v1, v2, ...)``; vectors longer than 6 entries by their norm only."""
    flat = np.asarray(v).reshape(-1)
    if flat.size > 6:
        return f"a {flat.size}-vector of norm {np.linalg.norm(flat):.3g}"
    return "(" + ", ".join(f"{x:.4g}" for x in flat) + ")"


def classify_generator(A: np.ndarray, b: np.ndarray, tol: float) -> tuple[str, str]:
    """Kind (``translation``, ``rotation``, ``general``) and readable name of ``δx = A x + b``.
    (Internal API: also names approximate and learned symmetries.)"""
    n = b.size
    if np.max(np.abs(A)) <= tol:
        v = b / np.linalg.norm(b)
        nz = np.flatnonzero(np.abs(v) > tol)
        label = f"x{nz[0] + 1}" if nz.size == 1 else _fmt_vec(v)
        return "translation", f"translation along {label}"
    if np.max(np.abs(A + A.T)) <= tol * max(1.0, np.max(np.abs(A))):
        center, *_ = np.linalg.lstsq(A, -b, rcond=None)
        about = "" if np.max(np.abs(center)) <= tol else f" about {_fmt_vec(center)}"
        plane = np.argwhere(np.abs(np.triu(A, 1)) > tol)
        if len(plane) == 1:
            i, j = plane[0]
            return "rotation", f"rotation in the x{i + 1}-x{j + 1} plane{about}"
        if np.linalg.matrix_rank(A, tol=tol * np.max(np.abs(A))) == 2:
            return "rotation", f"rotation in the plane spanned by the columns of A{about}"
        return "rotation", f"rotation (several planes){about}"
    _ = n
    return "general", "general affine symmetry"


def find_symmetries(
    sde: SDE,
    *,
    lagrangian: str = "fw",
    n_points: int | None = None,
    center: Any = None,
    scale: float = 1.0,
    t_range: tuple[float, float] = (0.0, 1.0),
    rtol: float = 1e-9,
    min_gap: float = 1e4,
    seed: int = 0,
) -> SymmetryReport:
    r"""Basis of the continuous affine symmetries ``δx = A x + b`` of ``L`` (plus time translation).

    Solves conditions (i)-(ii) of the module docstring at ``n_points`` random states
    ``x ~ center + scale·N(0, I)``, ``t ~ U(t_range)`` (default ``max(8, 2N+2)`` points). The null
    space of the stacked conditions is computed by SVD (singular values ``<= rtol·σ_max`` count
    as zero), brought to reduced row-echelon form (so rotations and translations come out as
    clean coordinate generators) and named: ``translation along v``, ``rotation in the xi-xj
    plane [about c]``, or ``general affine symmetry``. Each returned :class:`Symmetry` has a
    ``charge(x, t)`` method.

    The count is *certified* when the singular-value gap (smallest kept / largest dropped) is at
    least ``min_gap``; otherwise its status says why not and the basis should not be trusted. Probe
    points should cover the region the paths live in (``center``/``scale``).
    """
    kind = check_lagrangian(lagrangian, sde)
    n = sde.dim
    rows = n + n * (n + 1) // 2
    n_min = max(2, -(-(n * n + 2 * n) // rows))
    n_points = max(8, 2 * n + 2) if n_points is None else positive_int(n_points, "n_points")
    if n_points < n_min:
        raise InvalidArgumentError(
            "n_points",
            f"{n_points} probe point(s) give {n_points * rows} conditions for {n * n + n} unknowns "
            f"(A, b): the null space is not determined, so any count would be spurious",
            f"pass n_points >= {n_min} (default {max(8, 2 * n + 2)})",
        )
    check_memory(
        8.0 * n_points * rows * (n * n + n) * 3,
        "n_points",
        f"the symmetry conditions at {n_points} probe points in {n} dimensions",
        f"pass fewer n_points (the default {max(8, 2 * n + 2)} determines the symmetries)",
    )
    xs, _, ts = _probe(n, n_points, seed, center, scale, t_range)
    M = _conditions(sde, xs, ts)
    if not np.all(np.isfinite(M)):
        raise NonFiniteError(
            f"`{sde.name}`: the symmetry conditions are not finite at the probe points "
            f"(states {np.round(_center(center, n), 3).tolist()} ± {scale:g}, times in "
            f"{list(t_range)}): the drift or diffusion is undefined there. Fix: pass center, "
            "scale and t_range inside the model's domain"
        )
    s, vt = np.linalg.svd(M, full_matrices=True)[1:]
    s_full = np.zeros(n * n + n)
    s_full[: s.size] = s
    smax = float(s_full[0]) if s_full.size else 0.0
    zero = s_full <= rtol * max(smax, 1e-300)
    k = int(np.sum(zero))
    gap = _gap(s_full, zero, smax)
    null = vt[s_full.size - k :] if k else np.zeros((0, n * n + n))
    basis = snap_rational(rref(null, 1e-10), max_den=12, tol=1e-9) if k else null
    tol = 1e-8
    syms: list[Symmetry] = []
    rejected: list[tuple[str, float]] = []
    for row in basis:
        A, b = row[: n * n].reshape(n, n), row[n * n :]
        kind_name, name = classify_generator(A, b, tol)
        sym = Symmetry(Generator(A=A, b=b, name=name), kind_name, sde, kind)
        violation = _independent_check(
            sde, sym.generator, kind, center, float(scale), t_range, seed
        )
        if violation <= 1e-7:
            syms.append(sym)
        else:
            rejected.append((name, violation))
    time_sym = _time_invariant(sde, xs, ts)
    if time_sym:
        syms.append(Symmetry(Generator.time_translation(n), "time", sde, kind))
    if rejected:
        status = CountStatus.rejected
        message = (
            f"{len(rejected)} candidate(s) of the linear conditions failed the independent check "
            f"(largest relative violation {max(v for _, v in rejected):.2e}): widen the probe "
            "(center, scale) or add points"
        )
    elif gap >= min_gap:
        status = CountStatus.certified
        message = f"{k} spatial symmetr{'y' if k == 1 else 'ies'}, gap {gap:.1e} >= {min_gap:.0e}"
    else:
        status = CountStatus.ambiguous
        message = (
            f"singular-value gap {gap:.1e} < min_gap {min_gap:.0e}: the count is not determined"
        )
    return SymmetryReport(
        symmetries=syms,
        singular_values=s_full,
        null_dimension=k - len(rejected),
        gap=gap,
        status=status,
        message=message,
        time_translation=time_sym,
        rejected=rejected,
    )


def _independent_check(
    sde: SDE,
    gen: Generator,
    kind: str,
    center: Any,
    scale: float,
    t_range: tuple[float, float],
    seed: int,
) -> float:
    """Relative violation of ``δL = 0`` (:func:`check_symmetry`, a different formulation from the
    linear conditions) at fresh points in a broad region — spread ``max(scale, 1, |center|)``
    around ``center``, so that it also covers the origin: a symmetry of ``L`` holds everywhere, and
    a drift that is only locally symmetric (e.g. saturated sigmoids far out) must not pass — or in
    the probe region if the model is not finite in the broad one."""
    c = _center(center, sde.dim)
    broad = max(scale, 1.0, float(np.max(np.abs(c))))
    for s in (broad, scale):
        try:
            chk = check_symmetry(
                sde,
                gen,
                lagrangian=kind,
                n_probes=64,
                center=center,
                scale=s,
                t_range=t_range,
                seed=seed + 7919,
            )
        except NonFiniteError:
            continue
        if np.isfinite(chk.relative_violation):
            return chk.relative_violation
    return float("inf")


def _gap(s: np.ndarray, zero: np.ndarray, smax: float) -> float:
    """Smallest kept singular value over the largest dropped one, floored at the float64
    resolution ``1e-15·σ_max`` (so an empty or exactly-zero side gives a finite, comparable gap)."""
    if np.all(zero):
        return float("inf")
    floor = 1e-15 * smax
    dropped = float(s[zero][0]) if np.any(zero) else 0.0
    return float(s[~zero][-1] / max(dropped, floor))


def _time_rate(sde: SDE, x: Array, t: Array) -> Array:
    df = jax.jacfwd(lambda s: sde.f(x, s))(t)
    dD = jax.jacfwd(lambda s: sde.D(x, s))(t)
    return jnp.maximum(
        jnp.max(jnp.abs(df)) / (1.0 + jnp.max(jnp.abs(sde.f(x, t)))),
        jnp.max(jnp.abs(dD)) / jnp.max(jnp.abs(sde.D(x, t))),
    )


@eqx.filter_jit
def _time_rates(sde: SDE, xs: Array, ts: Array) -> Array:
    return jax.vmap(lambda x, t: _time_rate(sde, x, t))(xs, ts)


def _time_invariant(sde: SDE, xs: np.ndarray, ts: np.ndarray) -> bool:
    if not sde.time_dependent:
        return True
    worst = float(np.max(np.asarray(_time_rates(sde, jnp.asarray(xs), jnp.asarray(ts)))))
    return worst <= 1e-12
