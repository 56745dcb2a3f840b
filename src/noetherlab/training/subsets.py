r"""Conservation laws that depend on a subset of the parameters only.

Marcotte, Peyré & Gribonval (ICML 2025, "Transformative or conservative? Conservation laws for
ResNets and Transformers") ask which laws of a deep network involve only the parameters ``θ_S``
of one block. A function ``h(θ_S)`` is conserved by the gradient flow of every loss exactly when
``⟨∇_S h(θ_S), Π_S X_ξ(θ_S, θ_C)⟩ = 0`` for every generator ``X_ξ`` (:mod:`~noetherlab.training.lie`)
and every value of the other parameters ``θ_C``: ``h`` is annihilated by the family of vector
fields on ``R^{|S|}``

.. math:: \mathcal F_S = \{ θ_S \mapsto Π_S X_ξ(θ_S, θ_C) : ξ, θ_C \},

hence by their Lie brackets, and by Frobenius' theorem (on ``R^{|S|}``, near a generic point)

.. math:: \#\text{laws of } θ_S = |S| - \dim \operatorname{Lie}(\mathcal F_S)(θ_S) .

So the count is :func:`~noetherlab.training.lie.count_family_laws` on ``|S|`` dimensions, with
``θ_C`` drawn at random as part of ``ξ`` (from the model's own distribution of parameter
points). Its rank decisions cost ``|S|²`` memory and ``O(|S|³)`` time whatever ``D`` is — the
way to certify the laws of one block of a network too large for a whole count (each bracket
still differentiates the whole model). The known laws that involve ``θ_S`` only bound the count
and explain it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.architectures import Architecture
from noetherlab.training.known import KnownLaw, known_laws, law_gradients, stacked_laws
from noetherlab.training.lie import (
    FieldFamily,
    LawCount,
    architecture_fields,
    count_family_laws,
    loss_fields,
)
from noetherlab.training.losses import Loss

__all__ = ["count_subset_laws", "subset_fields", "subset_index"]

Array = jax.Array


def subset_index(arch: Architecture, subset: Sequence[str]) -> np.ndarray:
    """The flat indices of the parameters named in ``subset`` (keys of the parameter pytree, e.g.
    ``["Q1", "K1"]``), sorted."""
    if isinstance(subset, str):
        subset = [subset]
    keys = np.array([name.split("[")[0] for name in arch.param_names])
    available = list(dict.fromkeys(keys))
    unknown = [s for s in subset if s not in available]
    if not subset or unknown:
        raise InvalidArgumentError(
            "subset",
            f"names parameters the model does not have ({unknown or 'none given'})",
            f"pass some of {available}",
        )
    index = np.flatnonzero(np.isin(keys, list(subset)))
    if index.size == arch.dimension:
        raise InvalidArgumentError(
            "subset",
            "holds every parameter of the model",
            "use count_laws for the whole model, or name fewer parameters",
        )
    return index


def subset_fields(family: FieldFamily, index: np.ndarray) -> FieldFamily:
    """The generators of ``family`` seen from the parameters ``index``: ``h_S(θ_S; ξ, θ_C) =
    h(θ_S ⊕ θ_C; ξ)``, the other parameters ``θ_C`` drawn with each ``ξ`` from the family's
    distribution of points (module docstring)."""
    if family.field is not None:
        raise InvalidArgumentError(
            "flow",
            "laws of a parameter subset are counted for the gradient flow only",
            'use flow="gradient"',
        )
    D = family.dimension
    S = jnp.asarray(index)
    C = jnp.asarray(np.setdiff1d(np.arange(D), index))

    def embed(theta_s: Array, theta_c: Array) -> Array:
        return jnp.zeros(D, dtype=theta_s.dtype).at[S].set(theta_s).at[C].set(theta_c)

    def h(theta_s: Array, xi: tuple[Any, Array]) -> Array:
        inner, theta_c = xi
        return family.h(embed(theta_s, theta_c), inner)

    def sample(key: Array, n: int) -> tuple[Any, Array]:
        k_xi, k_c = jax.random.split(key)
        return family.sample(k_xi, n), family.random_points(k_c, n)[:, C]

    def points(key: Array, n: int) -> Array:
        return family.random_points(key, n)[:, S]

    return FieldFamily(
        h,
        sample,
        int(index.size),
        f"{family.description}; laws of {index.size} of its {D} parameters only",
        points=points,
    )


def _laws_within(
    arch: Architecture, laws: list[KnownLaw], index: np.ndarray, key: Array
) -> list[KnownLaw]:
    """The known laws that do not depend on the parameters outside ``index``: their derivative
    along a random direction off ``index`` vanishes (two forward-mode derivatives of all the laws
    at a random point, one off and one on ``index`` for scale — not their Jacobian, which for a
    large model's thousands of laws would be ``K × D``)."""
    if not laws:
        return []
    k_point, k_tangent = jax.random.split(key)
    theta = arch.random_params(k_point, 0.7)
    tangent = jax.random.normal(k_tangent, (arch.dimension,))
    on = jnp.zeros(arch.dimension).at[jnp.asarray(index)].set(1.0)
    values = stacked_laws(laws)
    _, off_s = jax.jvp(values, (theta,), (tangent * (1.0 - on),))
    _, on_s = jax.jvp(values, (theta,), (tangent * on,))
    off_s, on_s = np.abs(np.asarray(off_s)), np.abs(np.asarray(on_s))
    return [law for law, o, s in zip(laws, off_s, on_s, strict=True) if s > 0 and o <= 1e-12 * s]


def count_subset_laws(
    arch: Architecture,
    subset: Sequence[str],
    *,
    loss: str | Loss | None = None,
    known: bool = True,
    seed: int = 0,
    n_points: int | None = None,
    max_level: int = 8,
    min_gap: float = 1e4,
    progress: Callable[[str], None] | None = None,
) -> LawCount:
    """Count the independent conservation laws of gradient-flow training that depend only on the
    parameters named in ``subset`` (module docstring).

    Args:
        subset: keys of the parameter pytree (``arch.param_names`` without the index), e.g.
            ``["Q1", "K1", "V1", "O1"]`` for the attention of a transformer's first layer.
        loss: ``None`` (every loss and data set) or a loss, as for
            :func:`~noetherlab.training.lie.count_laws`.
        known: bound the count by the known laws that involve these parameters only, and say how
            many of the laws they explain.

    Returns:
        A :class:`~noetherlab.training.lie.LawCount` whose ``dimension`` is ``|S|``.
    """
    if not isinstance(arch, Architecture):
        raise InvalidArgumentError(
            "arch", f"must be an Architecture, got {type(arch).__name__}", "build one"
        )
    index = subset_index(arch, subset)
    base = architecture_fields(arch) if loss is None else loss_fields(arch, loss)
    family = subset_fields(base, index)
    within = _laws_within(arch, known_laws(arch, loss), index, jax.random.PRNGKey(seed + 17))
    ceiling = None
    if known and within:
        D = arch.dimension

        def ceiling(points: Array) -> np.ndarray | None:
            """``|S| − k_S`` at each point (the other parameters do not enter these laws)."""
            full = jnp.zeros((points.shape[0], D)).at[:, jnp.asarray(index)].set(points)
            grads = law_gradients(within, full)[:, :, index]
            ranks = [np.linalg.matrix_rank(g, tol=1e-9 * np.abs(g).max()) for g in grads]
            if len(set(ranks)) != 1 or ranks[0] != len(within):
                return None  # dependent at these points: no trustworthy bound
            return np.full(points.shape[0], index.size - ranks[0])

    result = count_family_laws(
        family,
        n_points=n_points,
        seed=seed,
        max_level=max_level,
        min_gap=min_gap,
        progress=progress,
        ceiling=ceiling,
    )
    if not (known and within):
        return result
    full = jnp.zeros(arch.dimension).at[jnp.asarray(index)].set(jnp.asarray(result.points[0]))
    grads = law_gradients(within, full[None])[0][:, index]
    explained = int(np.linalg.matrix_rank(grads, tol=1e-9 * np.abs(grads).max()))
    message = result.message
    if result.laws is not None:
        message += f"; {explained} of them explained by known laws of these parameters"
    return replace(
        result,
        explained=explained,
        known=[f"{law.name}  ({law.symmetry})" for law in within],
        message=message,
    )
