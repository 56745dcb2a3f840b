r"""Augmentation groups: finite matrix groups acting on a model's inputs (token-wise for sequences).

Built-in: cyclic shifts ``C_d``, permutations ``S_d``, the reflection ``x1 ↦ -x1``, rotations ``C_K``
in the ``(x1, x2)`` plane, and ``O(d)`` (Haar measure: exact through the lifted action for
tensorizable models, else a finite stand-in whose averages agree with Haar's up to a degree). A
user's group is a ``.npy`` stack of ``d x d`` matrices, validated by :func:`validate_group`: finite
entries, shape, contains the identity, closed under multiplication — a set that is not a group
(``{I, 2I}``) or has NaNs is refused rather than counted.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.architectures import Architecture

__all__ = [
    "Group",
    "cyclic",
    "orthogonal",
    "parse_group",
    "permutation",
    "reflection",
    "rotation",
    "validate_group",
]

#: closure and identity are decided to this relative tolerance
GROUP_TOL = 1e-8
#: groups larger than this are checked for closure on random products
GROUP_CHECK_ALL = 400


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
    if spec.endswith(".npy") or Path(spec).suffix or "/" in spec:
        path = Path(spec)
        if path.suffix != ".npy":
            raise InvalidArgumentError(
                "--augment",
                f"{spec!r} is not a .npy file",
                "save the group with numpy.save('g.npy', stack) (a (|G|, d, d) array)",
            )
        if not path.exists():
            raise InvalidArgumentError(
                "--augment", f"file {spec!r} does not exist", "pass an existing .npy file"
            )
        try:
            mats = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InvalidArgumentError(
                "--augment",
                f"cannot read {spec!r} as a NumPy array ({exc})",
                "save it with numpy.save",
            ) from None
        return validate_group(mats, d, name=path.name, argument="--augment")
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


def validate_group(mats: Any, d: int, *, name: str = "group", argument: str = "group") -> Group:
    """A user's finite group as a :class:`Group`, after checking that it is one: a finite real
    ``(|G|, d, d)`` stack that contains the identity and is closed under multiplication (every
    product ``G_i G_j`` is in the stack to relative ``1e-8``; on random pairs beyond 400 elements)."""
    try:
        arr = np.asarray(mats, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            argument, "is not a numeric array", "pass a (|G|, d, d) stack"
        ) from None
    if arr.ndim != 3 or arr.shape[1:] != (d, d) or arr.shape[0] < 1:
        raise InvalidArgumentError(
            argument,
            f"needs a (|G|, {d}, {d}) stack of matrices acting on the {d} inputs, got shape {arr.shape}",
            "save matrices of the model's input dimension",
        )
    if not np.all(np.isfinite(arr)):
        raise InvalidArgumentError(
            argument, "contains NaN or infinite entries", "pass finite matrices"
        )
    scale = max(1.0, float(np.max(np.abs(arr))))
    flat = arr.reshape(arr.shape[0], -1)

    def index_of(M: np.ndarray) -> int:
        dist = np.max(np.abs(flat - M.reshape(1, -1)), axis=1)
        k = int(np.argmin(dist))
        return k if dist[k] <= GROUP_TOL * scale else -1

    if index_of(np.eye(d)) < 0:
        raise InvalidArgumentError(
            argument,
            "does not contain the identity, so it is not a group",
            "add numpy.eye(d) to the stack",
        )
    n = arr.shape[0]
    if n <= GROUP_CHECK_ALL:
        pairs = [(i, j) for i in range(n) for j in range(n)]
    else:
        rng = np.random.default_rng(0)
        pairs = [(int(rng.integers(0, n)), int(rng.integers(0, n))) for _ in range(20000)]
    for i, j in pairs:
        if index_of(arr[i] @ arr[j]) < 0:
            raise InvalidArgumentError(
                argument,
                f"is not closed under multiplication (element {i} times element {j} is not in the set), "
                "so it is not a group and its 'augmentation' would be meaningless",
                "pass every element of the group (e.g. all powers of a generator)",
            )
    return Group(name, arr)
