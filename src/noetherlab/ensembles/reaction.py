r"""Reaction coordinates and the sets ``A``, ``B`` of a rare-event problem.

A :class:`ReactionCoordinate` is a traceable score ``ξ(x)`` that increases from the start set
``A`` to the target set ``B`` (adaptive multilevel splitting, :mod:`noetherlab.ensembles.splitting`,
kills the replicas whose largest ``ξ`` is lowest). Its rule is code (``rule(params, x)``, compiled
once) and its parameters are data, so a coordinate built on a new path or a new grid reuses the
compiled sampler. This module holds the coordinates that need only the model's states:

* :func:`chord_coordinate` — the projection on the segment ``a → b``:
  ``ξ(x) = (x − a)·(b − a) / |b − a|²`` (0 at ``a``, 1 at ``b``);
* :func:`coordinate` — a user's function ``ξ(x)`` (any scale: the sampler normalises it so that
  ``ξ = 0`` at ``A``'s reference state and 1 at ``B``'s).

The coordinates built on the landscape — the committor of the Fokker–Planck grid, the progress
along the instanton — are in :mod:`noetherlab.metastability.reaction_coordinates`.

Sets are :class:`~noetherlab.ensembles.boundaries.Boundary` objects whose label is positive *inside*
the set (:func:`~noetherlab.ensembles.boundaries.ball`, or :func:`~noetherlab.ensembles.boundaries.predicate`
with a function that is True in the set), or a state with a radius (a ball), see :func:`region`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import as_state, positive_float
from noetherlab.ensembles.boundaries import Boundary, ball

__all__ = ["ReactionCoordinate", "Region", "chord_coordinate", "coordinate", "region"]

Array = jax.Array


class ReactionCoordinate(eqx.Module):
    """A score ``ξ(x)`` for one state ``x (N,)`` (traceable): ``rule(params, x)``.

    ``name`` says which coordinate it is (reported in every result that used it)."""

    rule: Callable[[Any, Array], Array] = eqx.field(static=True)
    params: Any
    name: str = eqx.field(static=True)

    def __call__(self, x: Array) -> Array:
        return jnp.asarray(self.rule(self.params, x), dtype=x.dtype).reshape(())


def _chord_rule(params: tuple[Array, Array], x: Array) -> Array:
    a, b = params
    e = b - a
    return jnp.dot(x - a, e) / jnp.dot(e, e)


def chord_coordinate(a: Any, b: Any) -> ReactionCoordinate:
    """``ξ(x) = (x − a)·(b − a)/|b − a|²``: the progress along the straight segment ``a → b``."""
    a_ = np.asarray(a, dtype=float).ravel()
    b_ = np.asarray(b, dtype=float).ravel()
    if a_.shape != b_.shape or not np.all(np.isfinite(a_)) or not np.all(np.isfinite(b_)):
        raise InvalidArgumentError(
            "a/b",
            f"need two finite states of one shape, got {a_.shape} and {b_.shape}",
            "pass them",
        )
    if np.linalg.norm(b_ - a_) == 0:
        raise InvalidArgumentError("a/b", "the two states coincide", "pass distinct states")
    return ReactionCoordinate(_chord_rule, (jnp.asarray(a_), jnp.asarray(b_)), "chord")


@dataclass(frozen=True)
class _UserRule:
    """A user's ``ξ(x)`` as a coordinate rule (equal, and compiled once, for the same ``fn``)."""

    fn: Callable[[Array], Any]

    def __call__(self, params: Any, x: Array) -> Array:
        return jnp.asarray(self.fn(x))


def coordinate(fn: Callable[[Array], Any], name: str = "user") -> ReactionCoordinate:
    """A user's reaction coordinate ``fn(x) -> scalar`` (traceable, increasing from A to B)."""
    if isinstance(fn, ReactionCoordinate):
        return fn
    if not callable(fn):
        raise InvalidArgumentError(
            "score",
            f"must be a function xi(x) -> scalar or a ReactionCoordinate, got {type(fn).__name__}",
            "pass e.g. score=lambda x: x[0]",
        )
    return ReactionCoordinate(_UserRule(fn), None, name)


@dataclass(frozen=True)
class Region:
    """A set of states: its membership test (``boundary.check(x)[0] > 0`` inside) and a reference
    state ``center`` (where the reaction coordinate is normalised). Pass one as ``A`` or ``B`` of
    :func:`~noetherlab.ensembles.ams` for a set that is not a ball, e.g.
    ``Region(predicate(lambda x: x[0] >= 0.9), center=[1.0, 0.0])``."""

    boundary: Boundary
    center: np.ndarray

    def contains(self, x: Any) -> np.ndarray:
        """Membership of states ``x (m, N)`` (a bool per state)."""
        xs = jnp.atleast_2d(jnp.asarray(x, dtype=jnp.float64))
        return np.asarray(jax.vmap(lambda y: self.boundary.check(y)[0] > 0)(xs))


def region(
    spec: Any, name: str, dim: int, radius: float | None = None, center: Any = None
) -> Region:
    """A :class:`Region` from a state (the ball of ``radius`` around it) or a ``Boundary`` whose
    label is positive inside the set (its ``center`` given, or read off a :func:`ball`)."""
    if isinstance(spec, Region):
        return Region(spec.boundary, as_state(spec.center, f"{name}.center", dim))
    if isinstance(spec, Boundary):
        c = center
        if c is None and spec.labels == ("ball",):
            c = spec.params[0]  # a ball: (center, radius)
        if c is None:
            raise InvalidArgumentError(
                name,
                "is a boundary without a reference state (the reaction coordinate is normalised "
                "there)",
                f"pass a state with a radius, a ball(center, radius), or "
                f"noetherlab.ensembles.Region(boundary, center) as {name}",
            )
        return Region(spec, as_state(c, f"{name}_center", dim))
    x = as_state(spec, name, dim)
    if radius is None:
        raise InvalidArgumentError(
            "radius",
            f"{name} is a state, so the set is a ball around it and needs a radius",
            "pass radius=... (e.g. a few noise standard deviations), or a Boundary",
        )
    r = positive_float(radius, "radius", "ball radius")
    return Region(ball(x, r), x)
