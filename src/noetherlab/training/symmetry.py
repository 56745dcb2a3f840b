r"""Data symmetry and augmentation: the laws that hold for *every* data set augmented by a group.

Training on the orbit ``{(G x_i, y_i) : G ∈ 𝒢}`` means minimising the group-averaged loss
``L̄(θ) = Σ_i Σ_G ℓ(g(θ, G x_i), y_i)``. A function is conserved for every augmented data set iff it is
conserved by every per-sample field ``∇_θ Σ_G ℓ(g(θ, G x), y)``; :func:`count_laws` counts those
(Lie algebra of the fields, certified ranks). Compared with the unaugmented count this gives the
*extra* laws created by the augmentation.

Why extra laws can appear (MSE, tensorizable ``g(θ, x) = ⟨Φ(θ), Ψ(x)⟩``): the averaged loss depends
on the data only through the group averages ``Σ_G Ψ(Gx)Ψ(Gx)ᵀ`` and ``Σ_G y Ψ(Gx)``, which commute
with the *lifted* action ``Ψ(Gx) = ρ(G)Ψ(x)``; any symmetry of ``θ ↦ Φ(θ)`` that acts on ``Φ`` inside
the commutant of ``ρ`` is then a symmetry of every averaged loss. Example (derived in the docs and
tested): linear regression ``g = w·x`` in ``R³`` with the cyclic group ``C3``: the averages are
circulant, ``A = α Π_1 + β Π_⊥``, ``b ∥ (1,1,1)``, so the flow ``ẇ = −2(Aw − b)`` only rescales the
component ``w_⊥`` in the plane ``⊥ (1,1,1)``: its direction is conserved — one extra (rational) law
``(w1 − w2)/(w1 + w2 − 2 w3)``; with ``O(3)`` the whole direction of ``w`` is conserved (two laws).
For non-polynomial losses (logistic, exponential) the averaged fields are generic: no extra laws.

Groups are finite stacks of ``d × d`` matrices acting on an input (token-wise for sequences). For
``O(d)`` and the MSE loss of a tensorizable model the Haar average is exact, through the lifted action
(:mod:`noetherlab.training.lifted`); otherwise ``O(d)`` is replaced by a finite subgroup whose averages
agree with Haar's for the polynomials involved: the dihedral group ``D_K`` (``K = 24``) for ``d = 2``
(exact up to degree 23), the signed permutations for ``3 ≤ d ≤ 5`` (exact up to degree 3), and
anything else is refused (:class:`UnsupportedModelError`). Derivations of every tested count
(linear regression with C3 and O(3), lightning attention ``n(d − n)``, the polynomial unit with
``C_k``): ``docs/data-symmetry.md``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab.training.architectures import Architecture
from noetherlab.training.lie import count_family_laws, count_laws

__all__ = [
    "Group",
    "augmentation_report",
    "cyclic",
    "orthogonal",
    "parse_group",
    "permutation",
    "reflection",
    "rotation",
]


@dataclass(frozen=True)
class Group:
    """A finite matrix group ``(|G|, d, d)`` acting on inputs, with a name and whether it stands in
    for a continuous group (``exact_degree``: polynomial degree up to which its averages are the Haar
    averages of that group)."""

    name: str
    matrices: np.ndarray
    continuous: str | None = None
    exact_degree: int | None = None
    lie_algebra: np.ndarray | None = None  # (r, d, d) basis, continuous groups only
    components: np.ndarray | None = None  # one element per connected component

    def __len__(self) -> int:
        return int(self.matrices.shape[0])

    @property
    def d(self) -> int:
        return int(self.matrices.shape[1])


def _perm_matrix(perm: tuple[int, ...]) -> np.ndarray:
    return np.eye(len(perm))[list(perm)]


def cyclic(d: int) -> Group:
    """Cyclic shifts of the ``d`` input coordinates (``C_d``)."""
    mats = np.stack([np.roll(np.eye(d), k, axis=0) for k in range(d)])
    return Group(f"C{d} (cyclic shifts)", mats)


def permutation(d: int) -> Group:
    """All ``d!`` permutations of the input coordinates (``S_d``; ``d ≤ 7``)."""
    if d > 7:
        raise InvalidArgumentError(
            "d", f"S_{d} has {math.factorial(d)} elements", "use cyclic or d <= 7"
        )
    return Group(
        f"S{d} (permutations)",
        np.stack([_perm_matrix(p) for p in itertools.permutations(range(d))]),
    )


def reflection(d: int) -> Group:
    """``{I, R}`` with ``R`` the reflection of the first coordinate, ``x1 ↦ −x1``."""
    R = np.eye(d)
    R[0, 0] = -1.0
    return Group("Z2 (reflection x1 -> -x1)", np.stack([np.eye(d), R]))


def rotation(K: int, d: int) -> Group:
    """``C_K``: rotations by ``2πk/K`` in the plane of the first two coordinates."""
    if d < 2 or K < 1:
        raise InvalidArgumentError(
            "rotation:K", f"needs d >= 2 inputs and K >= 1 (d = {d}, K = {K})", "e.g. rotation:4"
        )
    mats = []
    for k in range(K):
        c, s = math.cos(2 * math.pi * k / K), math.sin(2 * math.pi * k / K)
        M = np.eye(d)
        M[:2, :2] = [[c, -s], [s, c]]
        mats.append(M)
    return Group(f"C{K} (rotations in the (x1, x2) plane)", np.stack(mats))


def _so_basis(d: int) -> np.ndarray:
    """Basis ``E_ij − E_ji`` of the Lie algebra ``so(d)``, shape ``(d(d−1)/2, d, d)``."""
    out = []
    for i in range(d):
        for j in range(i + 1, d):
            E = np.zeros((d, d))
            E[i, j], E[j, i] = -1.0, 1.0
            out.append(E)
    return np.stack(out) if out else np.zeros((0, d, d))


def orthogonal(d: int, K: int = 24) -> Group:
    """``O(d)``, Haar measure. Exact for MSE on tensorizable models (through the lifted action,
    :mod:`noetherlab.training.lifted`: Lie algebra ``so(d)`` and the reflection ``x1 ↦ −x1``); other
    models use a finite stand-in whose averages agree with Haar's up to ``exact_degree``."""
    refl = np.eye(d)
    refl[0, 0] = -1.0
    comps = np.stack([np.eye(d), refl])
    if d == 1:
        return Group("O(1) = {±1}", comps)  # finite: the group sum is the Haar average
    if d == 2:
        rots = rotation(K, 2).matrices
        return Group(
            "O(2)", np.concatenate([rots, rots @ refl]), "O(2)", K - 1, _so_basis(2), comps
        )
    mats = (
        [
            np.diag(s) @ _perm_matrix(p)
            for p in itertools.permutations(range(d))
            for s in itertools.product((1.0, -1.0), repeat=d)
        ]
        if d <= 5
        else [refl]  # no finite stand-in beyond d = 5: exact (tensorizable) route only
    )
    return Group(f"O({d})", np.stack(mats), f"O({d})", 3 if d <= 5 else -1, _so_basis(d), comps)


def parse_group(spec: str, model: Architecture) -> Group:
    """``cyclic``, ``permutation``, ``reflection``, ``rotation:K``, ``orthogonal`` or a ``.npy`` stack of
    matrices ``(|G|, d, d)``; ``d`` is the model's input (token) dimension."""
    d = int(model.input_shape[-1])
    if spec.endswith(".npy"):
        path = Path(spec)
        if not path.exists():
            raise InvalidArgumentError(
                "--augment", f"file {spec!r} does not exist", "pass an existing .npy file"
            )
        mats = np.load(path)
        if mats.ndim != 3 or mats.shape[1:] != (d, d):
            raise InvalidArgumentError(
                "--augment",
                f"needs a (|G|, {d}, {d}) stack, got {mats.shape}",
                "save matrices acting on the inputs",
            )
        return Group(path.name, mats.astype(float))
    if spec.startswith("rotation:"):
        try:
            K = int(spec.split(":", 1)[1])
        except ValueError:
            raise InvalidArgumentError(
                "--augment", f"bad rotation spec {spec!r}", "e.g. rotation:4"
            ) from None
        return rotation(K, d)
    builders = {
        "cyclic": cyclic,
        "permutation": permutation,
        "reflection": reflection,
        "orthogonal": orthogonal,
    }
    if spec not in builders:
        raise InvalidArgumentError(
            "--augment",
            f"unknown group {spec!r}",
            f"use one of {sorted(builders)}, rotation:K or a .npy file",
        )
    return builders[spec](d)


def _input_degree(model: Architecture) -> int | None:
    """Polynomial degree of ``g(θ, x)`` in ``x`` when known (tensorizable nets)."""
    kind = model.kind
    if kind == "linear":
        return 1
    if kind == "lightning":
        return 3
    if kind == "polynomial":
        return model.layers.get("homogeneous_degree")
    if kind == "polynomial-unit":
        return int(model.layers["degree"])
    return None


def stand_in_exact(model: Architecture, group: Group, loss: str) -> bool:
    """Whether summing over ``group.matrices`` gives the exact group average of ``loss``: always for
    finite groups, and for a continuous group's stand-in when the loss is a polynomial in ``x`` of
    degree ``<= group.exact_degree``."""
    if group.continuous is None or group.exact_degree is None:
        return True
    deg = _input_degree(model)
    return loss == "mse" and deg is not None and 2 * deg <= group.exact_degree


def augmentation_report(
    model: Architecture, group: Group, loss: str = "mse", points: int = 4, seed: int = 0
) -> dict[str, Any]:
    """Count the laws for ``loss`` with and without augmentation by ``group`` (both certified).

    Returns a JSON-ready dict: ``laws_without``, ``laws_with``, ``extra_laws``, ``certified``, gaps,
    the group and, for continuous groups, whether the finite stand-in is exact for this model."""
    exact = None
    if group.lie_algebra is not None and loss == "mse":
        from noetherlab.training.lifted import averaged_mse_fields, lifted_action, tensorization

        try:
            exact = averaged_mse_fields(lifted_action(tensorization(model), group, seed=seed))
        except UnsupportedModelError:
            exact = None  # not tensorizable: the finite stand-in below, where it is exact
    deg = _input_degree(model)
    if exact is None and group.continuous is not None and group.exact_degree is not None:
        loss_deg = None if deg is None or loss != "mse" else 2 * deg
        if loss_deg is None or loss_deg > group.exact_degree:
            raise UnsupportedModelError(
                f"{group.name} reproduces the {group.continuous} average only for polynomials of degree "
                f"<= {group.exact_degree} in x; the {loss} loss of {model.name} is "
                f"{'not polynomial' if loss_deg is None else f'of degree {loss_deg}'} in x. Fix: use 2-D "
                "inputs (dihedral stand-in, exact to degree 23) or a finite group."
            )
    without = count_laws(model, loss=loss, n_points=points, seed=seed)
    if exact is not None:
        with_g = count_family_laws(exact, n_points=points, seed=seed)
    else:
        with_g = count_laws(model, loss=loss, group=group.matrices, n_points=points, seed=seed)
    extra = None if without.laws is None or with_g.laws is None else with_g.laws - without.laws
    return {
        "architecture": model.name,
        "loss": loss,
        "group": group.name,
        "group_order": None if group.lie_algebra is not None else len(group),
        "average": "exact Haar average through the lifted action"
        if exact is not None
        else (
            "finite group sum"
            if group.continuous is None
            else f"finite stand-in {len(group)} elements"
        ),
        "dimension": with_g.dimension,
        "laws_without": without.laws,
        "laws_with": with_g.laws,
        "laws": with_g.laws,
        "extra_laws": extra,
        "trace_dimension": with_g.trace_dimension,
        "certified": bool(without.certified and with_g.certified),
        "gap": min(without.gap, with_g.gap),
        "gap_without": without.gap,
        "gap_with": with_g.gap,
        "seconds": without.seconds + with_g.seconds,
    }
