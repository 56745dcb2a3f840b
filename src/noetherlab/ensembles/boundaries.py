r"""Absorbing boundaries of an ensemble: :func:`interval`, :func:`ball` and :func:`predicate`.

A :class:`Boundary` absorbs a path at the first step whose new state lies outside the domain: the
path is frozen there (projected onto the boundary for :func:`interval`, like the notebooks' clip),
its exit label, exit step and exit state are recorded by the simulation.
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

__all__ = ["Boundary", "ball", "balls", "half_space", "interval", "predicate", "require_inside"]

Array = jax.Array


class Boundary(eqx.Module):
    """An absorbing boundary: ``check(x) -> (label, x_on_boundary)`` for one state ``x`` (traceable).

    ``label`` is an int: 0 inside the domain, ``k >= 1`` for having left through boundary part ``k``
    (``labels[k - 1]`` names it). ``x_on_boundary`` is the state the absorbed path is frozen at.
    The rule is code (``rule(params, x)``, compiled once) and the bounds are data (``params``), so
    a new boundary with other bounds reuses the compiled simulation.
    """

    rule: Callable[[Any, Array], tuple[Array, Array]] = eqx.field(static=True)
    params: Any
    labels: tuple[str, ...] = eqx.field(static=True)

    def check(self, x: Array) -> tuple[Array, Array]:
        return self.rule(self.params, x)


def _interval_rule(params: Array, x: Array) -> tuple[Array, Array]:
    lower, upper, axis = params[0], params[1], params[2].astype(jnp.int32)
    v = x[axis]
    label = jnp.where(v <= lower, 1, jnp.where(v >= upper, 2, 0))
    return label, x.at[axis].set(jnp.clip(v, lower, upper))


def interval(lower: float, upper: float, axis: int = 0) -> Boundary:
    """Absorbing bounds ``lower < x[axis] < upper`` (labels 1 = ``"lower"``, 2 = ``"upper"``); an
    absorbed path is clipped onto the bound it crossed (decision bounds of a drift–diffusion model)."""
    if np.isnan(lower) or np.isnan(upper) or not lower < upper:
        raise InvalidArgumentError(
            "lower/upper",
            f"need lower < upper (±inf allowed), got {lower}, {upper}",
            "swap or fix them",
        )
    params = jnp.asarray([lower, upper, axis], dtype=jnp.float64)
    return Boundary(_interval_rule, params, ("lower", "upper"))


def _ball_rule(params: tuple[Array, Array], x: Array) -> tuple[Array, Array]:
    center, radius = params
    return jnp.where(jnp.linalg.norm(x - center) <= radius, 1, 0), x


def ball(center: Any, radius: float) -> Boundary:
    """Absorb on entering the closed ball ``|x − center| <= radius`` (label 1 = ``"ball"``)."""
    c = jnp.asarray(np.asarray(center, dtype=float))
    if not radius > 0:
        raise InvalidArgumentError("radius", f"must be positive, got {radius}", "pass radius > 0")
    return Boundary(_ball_rule, (c, jnp.asarray(float(radius))), ("ball",))


def _balls_rule(params: tuple[Array, Array], x: Array) -> tuple[Array, Array]:
    centers, radii = params
    inside = jnp.any(jnp.linalg.norm(x - centers, axis=1) <= radii)
    return inside.astype(jnp.int32), x


def balls(centers: Any, radii: Any) -> Boundary:
    """Absorb on entering any of the closed balls ``|x − centers[i]| <= radii[i]`` (label 1 =
    ``"balls"``): e.g. every attractor but a transition's target, as the set a splitting replica
    fails into."""
    c = np.atleast_2d(np.asarray(centers, dtype=float))
    r = np.broadcast_to(np.asarray(radii, dtype=float), (c.shape[0],)).copy()
    if not np.all(r > 0):
        raise InvalidArgumentError("radii", f"must be positive, got {r.tolist()}", "pass radii > 0")
    return Boundary(_balls_rule, (jnp.asarray(c), jnp.asarray(r)), ("balls",))


def _half_space_rule(params: tuple[Array, Array, Array], x: Array) -> tuple[Array, Array]:
    a, e, level = params  # level > 0: {ξ >= level}; < 0: {ξ <= -level}, ξ = (x − a)·e/|e|²
    xi = jnp.dot(x - a, e) / jnp.dot(e, e)
    inside = jnp.where(level > 0, xi >= level, xi <= -level)
    return inside.astype(jnp.int32), x


def half_space(a: Any, b: Any, level: float, side: str) -> Boundary:
    """The half-space ``{ξ <= level}`` (``side="below"``) or ``{ξ >= level}`` (``"above"``) of the
    chord coordinate ``ξ(x) = (x − a)·(b − a)/|b − a|²`` (0 at ``a``, 1 at ``b``), label 1 inside.

    In many dimensions the noise spreads a state over a ball of radius ``~√(N D)`` about its
    attractor, so a small ball around an attractor is almost never entered; a half-space through
    the chord is entered as often as in one dimension (only the fluctuation along ``b − a``
    matters)."""
    a_ = np.asarray(a, dtype=float).ravel()
    e = np.asarray(b, dtype=float).ravel() - a_
    if not np.dot(e, e) > 0:
        raise InvalidArgumentError("a/b", "the two states coincide", "pass distinct states")
    if side not in ("below", "above") or not 0 < level < 1:
        raise InvalidArgumentError(
            "level/side",
            f"need 0 < level < 1 and side 'below' or 'above', got {level!r}, {side!r}",
            "e.g. half_space(a, b, 0.1, 'below') for A",
        )
    signed = level if side == "above" else -level
    params = (jnp.asarray(a_), jnp.asarray(e), jnp.asarray(float(signed)))
    return Boundary(_half_space_rule, params, ("half-space",))


@dataclass(frozen=True)
class _PredicateRule:
    """A user predicate as a boundary rule (equal, and compiled once, for the same ``fn``)."""

    fn: Callable[[Array], Any]

    def __call__(self, params: Any, x: Array) -> tuple[Array, Array]:
        return jnp.asarray(self.fn(x)).astype(jnp.int32), x


def predicate(fn: Callable[[Array], Any], labels: tuple[str, ...] = ("exit",)) -> Boundary:
    """A user boundary: ``fn(x)`` returns an int label (0 = inside, ``k`` = left through part ``k``)
    or a bool (True = left); the path is frozen at the first state outside."""
    return Boundary(_PredicateRule(fn), None, tuple(labels))


def require_boundary(boundary: Any) -> None:
    """Refuse what is not a :class:`Boundary` (naming the constructors)."""
    if not isinstance(boundary, Boundary):
        raise InvalidArgumentError(
            "boundary",
            f"must be a Boundary, got {type(boundary).__name__} {boundary!r}",
            "build one with noetherlab.ensembles.interval(lo, hi), ball(center, radius) or "
            "predicate(fn)",
        )


def require_inside(boundary: Boundary, states: Any, argument: str) -> None:
    """Refuse start ``states`` (``(m, N)``) that lie outside ``boundary`` (every path from them
    would be absorbed at its first step), naming the first one and the part it lies beyond."""
    labels = np.asarray(jax.vmap(lambda x: boundary.check(x)[0])(jnp.asarray(states)))
    if np.any(labels > 0):
        k = int(np.argmax(labels > 0))
        code = int(labels[k])
        part = boundary.labels[code - 1] if code <= len(boundary.labels) else code
        raise InvalidArgumentError(
            argument,
            f"start state {np.asarray(states)[k].tolist()} lies outside the absorbing boundary "
            f"(part {part!r}): every path would be absorbed at its first step",
            "start inside the domain",
        )
