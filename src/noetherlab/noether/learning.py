r"""Symmetries learned from conserved quantities: the converse direction of Noether's theorem.

Along a most likely path (a discrete minimiser of the action) the Noether charge of an affine
generator ``δx = A x + b`` is

.. math:: J_k = p_k \cdot (A x_k + b) = \sum_{ij} p_{k,i}\, x_{k,j}\, A_{ij} + p_k \cdot b ,

*linear* in ``θ = (vec A, b)`` for the fixed nodes ``x_k`` and momenta ``p_k``. A generator is
learned from a family of paths when ``J`` is the same at every node of each path: the rows
``F_k − \bar F`` (``F_k = (vec(p_k x_k^T), p_k)``, ``\bar F`` the mean over the path's nodes, each
path scaled by its largest ``|F_k|``) must annihilate ``θ``. The solutions are the null space of the
stacked rows (SVD), certified by the gap between the singular values kept and dropped, exactly as
:func:`~noetherlab.noether.symmetries.find_symmetries` certifies its count, and by an independent
check: each generator's :func:`~noetherlab.noether.approximate.symmetry_defect` on the path nodes
must be at most ``max_defect`` (a combination conserved by these paths that is no symmetry of the
model is *rejected*). A path of ``n + 1`` nodes gives at most ``n`` independent rows; with fewer
rows than unknowns the null space is forced and the count is ``underdetermined``. Noether's theorem in reverse
(for this non-degenerate Lagrangian): a charge conserved on *enough* different paths is the charge
of a symmetry; one path alone conserves spurious combinations, so pass a family (different end
points or transit times). Charges that vanish identically on the paths (``J_k = 0``) say nothing
and are dropped. With ``subspace=U`` (``(N, k)`` orthonormal) the generator is ``A = U a U^T``,
``b = U β``: ``k² + k`` unknowns, the only tractable choice for ``N = 100`` units.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab._core.exact import rref, snap_rational
from noetherlab._core.status import Certified, CountStatus
from noetherlab._core.validation import positive_float
from noetherlab.noether.approximate import MAX_UNKNOWNS, symmetry_defect
from noetherlab.noether.charges import node_momenta
from noetherlab.noether.symmetries import Generator, classify_generator, subspace_embedding
from noetherlab.sde.lagrangian import check_lagrangian, check_path
from noetherlab.sde.model import SDE

__all__ = ["LearnedSymmetries", "LearnedSymmetry", "learn_symmetries"]


@dataclass(frozen=True)
class LearnedSymmetry:
    """A generator whose charge is constant along the paths.

    Attributes:
        generator: ``δx = A x + b`` (largest entry 1).
        kind: ``translation``, ``rotation`` or ``general``.
        residual: the largest relative drift of its charge over the paths,
            ``(max J − min J) / max_k Σ_i |p_{k,i} δx_{k,i}|``.
        charges: the mean charge on each path.
        singular_value: of the stacked constancy rows (relative to the largest).
        defect: its :func:`~noetherlab.noether.approximate.symmetry_defect` on the path nodes
            (``nan`` for a candidate that was not checked).
    """

    generator: Generator
    kind: str
    residual: float
    charges: np.ndarray
    singular_value: float
    defect: float = float("nan")

    @property
    def name(self) -> str:
        return self.generator.name


@dataclass(frozen=True)
class LearnedSymmetries(Certified):
    """Result of :func:`learn_symmetries`.

    Attributes:
        symmetries: generators whose charge is conserved (singular value ``<= rtol``).
        candidates: the generators of the five smallest singular values, conserved or not (for an
            approximately symmetric model these say how close the best one comes).
        singular_values: of the stacked rows, relative to the largest, ascending.
        gap: smallest relative singular value kept over the largest dropped (``inf`` if a side is
            empty).
        status: ``CountStatus.certified`` when ``gap >= min_gap`` (the number of symmetries is
            unambiguous) and every generator passed the defect check; ``underdetermined`` when
            the paths give fewer independent rows than unknowns, ``rejected`` when a conserved
            combination is no symmetry of the model, else ``ambiguous``; ``message`` gives the
            numbers.
        n_paths, n_rows, unknowns: paths used, constancy rows, free parameters ``θ``.
        vanishing: null directions dropped because their charge is zero on every path.
        rejected: conserved combinations that failed the defect check (with their defect).
    """

    symmetries: list[LearnedSymmetry]
    candidates: list[LearnedSymmetry]
    singular_values: np.ndarray
    gap: float
    status: CountStatus
    message: str
    n_paths: int
    n_rows: int
    unknowns: int
    vanishing: int
    rejected: list[LearnedSymmetry] = dataclasses.field(default_factory=list)

    def __len__(self) -> int:
        return len(self.symmetries)

    def __iter__(self) -> Iterator[LearnedSymmetry]:
        return iter(self.symmetries)


def _paths(sde: SDE, paths: Any, kind: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Nodes and momenta of each path (``PathResult`` or ``(x, t)``)."""
    if not isinstance(paths, Sequence) or isinstance(paths, (str, bytes)) or not paths:
        raise InvalidArgumentError(
            "paths",
            f"must be a non-empty list of paths, got {type(paths).__name__}",
            "pass [result1, result2, ...] (PathResult) or [(x, t), ...]",
        )
    out = []
    for i, path in enumerate(paths):
        if hasattr(path, "x") and hasattr(path, "t"):
            x, t = np.asarray(path.x), np.asarray(path.t)
        elif isinstance(path, tuple) and len(path) == 2:
            x, t = path
        else:
            raise InvalidArgumentError(
                f"paths[{i}]",
                f"is a {type(path).__name__}, not a path",
                "pass a PathResult or an (x, t) pair of nodes (n+1, N) and times (n+1,)",
            )
        if getattr(path, "converged", True) is False:
            raise InvalidArgumentError(
                f"paths[{i}]",
                f"did not converge ({getattr(path, 'status', '?')!r}): the charges of an "
                "unconverged path drift for every generator, so it cannot tell which are conserved",
                "pass converged paths only (result.converged), or solve this one again",
            )
        x_arr, t_arr = check_path(sde, x, t)
        out.append((x_arr, node_momenta(sde, x_arr, t_arr, kind)))
    return out


def _features(x: np.ndarray, p: np.ndarray) -> np.ndarray:
    """``F_k = (vec(p_k x_k^T), p_k)`` ``(m, N² + N)``: ``J_k = F_k · θ``."""
    return np.concatenate([np.einsum("ki,kj->kij", p, x).reshape(len(x), -1), p], axis=1)


def _learned(
    theta: np.ndarray,
    P: np.ndarray | None,
    n: int,
    feats: list[np.ndarray],
    terms: list[tuple[np.ndarray, np.ndarray]],
    M: np.ndarray,
    s_max: float,
) -> LearnedSymmetry:
    sv = float(np.linalg.norm(M @ theta) / np.linalg.norm(theta)) / s_max
    full = theta if P is None else P @ theta
    full = full / np.max(np.abs(full))
    A, b = full[: n * n].reshape(n, n), full[n * n :]
    # a learned generator is only as precise as the paths it is learned from
    kind, name = classify_generator(A, b, max(1e-6, 100.0 * sv))
    residual, means = 0.0, []
    for F, (x, p) in zip(feats, terms, strict=True):
        J = F @ full
        scale = float(np.max(np.sum(np.abs(p * (x @ A.T + b)), axis=1)))
        residual = max(residual, float(np.ptp(J)) / max(scale, 1e-300))
        means.append(float(np.mean(J)))
    return LearnedSymmetry(Generator(A=A, b=b, name=name), kind, residual, np.array(means), sv)


def learn_symmetries(
    sde: SDE,
    paths: Any,
    *,
    subspace: Any = None,
    lagrangian: str = "fw",
    rtol: float = 1e-6,
    min_gap: float = 1e3,
    max_defect: float = 1e-3,
) -> LearnedSymmetries:
    r"""Generators ``δx = A x + b`` whose Noether charge is constant along every path (module
    docstring).

    Args:
        sde: the model the paths are most likely paths of.
        paths: a list of :class:`~noetherlab.paths.PathResult` or ``(x, t)`` pairs (converged
            minimisers: the discrete charge of an exact symmetry is then constant to the solver's
            tolerance).
        subspace: ``(N, k)`` orthonormal columns restricting ``A`` and ``b`` (required when
            ``N² + N > 2550``).
        lagrangian: ``"fw"`` or ``"om"`` (the momenta ``p`` of that Lagrangian).
        rtol: relative singular value up to which a direction counts as conserved.
        min_gap: the gap that certifies the count.
        max_defect: largest symmetry defect of a learned generator on the path nodes (the
            independent check); conserved combinations above it are ``rejected``.
    """
    kind = check_lagrangian(lagrangian, sde)
    rtol = positive_float(rtol, "rtol", "tolerance")
    min_gap = positive_float(min_gap, "min_gap", "gap")
    max_defect = positive_float(max_defect, "max_defect", "largest defect")
    n = sde.dim
    P = subspace_embedding(subspace, n)
    if P is None and n * n + n > MAX_UNKNOWNS:
        raise InvalidArgumentError(
            "subspace",
            f"an unrestricted generator of this {n}-dimensional model has {n * n + n} unknowns",
            "pass subspace=U with a few orthonormal columns (e.g. top principal components)",
        )
    terms = _paths(sde, paths, kind)
    feats = [_features(x, p) for x, p in terms]
    rows = []
    for F in feats:
        G = F if P is None else F @ P
        rows.append((G - G.mean(axis=0)) / max(float(np.max(np.linalg.norm(G, axis=1))), 1e-300))
    M = np.concatenate(rows)
    if not np.all(np.isfinite(M)):
        raise NonFiniteError(
            "argument `paths`: the momenta along a path are not finite (the drift is NaN or "
            "infinite at its nodes). Fix: pass paths on which the model is finite."
        )
    r = M.shape[1]
    independent = sum(len(x) - 1 for x, _ in terms)  # rank bound: each path's rows are centred
    _, s, vt = np.linalg.svd(M, full_matrices=True)
    s_full = np.zeros(r)
    s_full[: s.size] = s
    s_max = max(float(s_full[0]), 1e-300)
    rel = s_full / s_max
    zero = rel <= rtol
    k = int(np.sum(zero))
    if np.all(zero) or not np.any(zero):
        gap = float("inf")
    else:
        gap = float(np.min(rel[~zero]) / max(float(np.max(rel[zero])), 1e-15))
    order = np.argsort(rel)
    null = vt[order[:k]]
    basis = snap_rational(rref(null, 1e-10), max_den=12, tol=1e-9) if k else null
    syms, vanishing = [], 0
    for theta in basis:
        full = theta if P is None else P @ theta
        size = max(float(np.max(np.abs(F @ full))) for F in feats)
        if size <= 1e-10 * max(float(np.max(np.abs(F))) for F in feats) * np.max(np.abs(full)):
            vanishing += 1
            continue
        syms.append(_learned(theta, P, n, feats, terms, M, s_max))
    nodes = np.concatenate([x for x, _ in terms])
    times = np.concatenate(
        [_times(path, len(x)) for path, (x, _) in zip(paths, terms, strict=True)]
    )
    checked = [
        dataclasses.replace(s, defect=symmetry_defect(sde, s.generator, nodes, times)) for s in syms
    ]
    syms = [s for s in checked if s.defect <= max_defect]
    rejected = [s for s in checked if not s.defect <= max_defect]
    if independent < r:
        status = CountStatus.underdetermined
        verdict = f"underdetermined: {independent} independent rows for {r} unknowns"
    elif rejected:
        status = CountStatus.rejected
        verdict = (
            f"{len(rejected)} conserved combination(s) rejected: symmetry defect "
            f"{min(s.defect for s in rejected):.2g} > max_defect {max_defect:.0e}"
        )
    elif gap >= min_gap:
        status = CountStatus.certified
        verdict = f"singular-value gap {gap:.1e} >= min_gap {min_gap:.0e}"
    else:
        status = CountStatus.ambiguous
        verdict = f"singular-value gap {gap:.1e} < min_gap {min_gap:.0e}"
    candidates = [_learned(vt[i], P, n, feats, terms, M, s_max) for i in order[: min(5, r)]]
    return LearnedSymmetries(
        symmetries=syms,
        candidates=candidates,
        singular_values=np.sort(rel),
        gap=gap,
        status=status,
        message=f"{len(syms)} symmetr{'y' if len(syms) == 1 else 'ies'} from {len(terms)} "
        f"path(s): {verdict}",
        n_paths=len(terms),
        n_rows=int(M.shape[0]),
        unknowns=r,
        vanishing=vanishing,
        rejected=rejected,
    )


def _times(path: Any, m: int) -> np.ndarray:
    t = np.asarray(path.t if hasattr(path, "t") else path[1], dtype=np.float64)
    return np.broadcast_to(t, (m,))
