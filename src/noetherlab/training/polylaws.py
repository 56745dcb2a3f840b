r"""Find the polynomial conservation laws of gradient flow explicitly, as exact formulas.

A polynomial ``h(θ) = Σ_α c_α θ^α`` (degrees ``1..k``, no constant) is conserved by every flow of the
family iff ``⟨∇h(θ), X(θ)⟩ = 0`` for every generator ``X`` (then also for the Lie algebra they
generate). These conditions are *linear* in the coefficients ``c``: we sample random points
``θ_p`` and random generators ``X_j`` (no symbolic expansion), stack the rows
``(∇θ^α(θ_p) · X_j(θ_p))_α`` and take the numerical null space by SVD (gap reported). The basis is
brought to reduced row-echelon form, snapped to exact rationals (small denominators), printed as
sympy expressions in the parameter names, and verified independently at fresh points.

For a momentum flow (:mod:`noetherlab.training.dynamics`) the laws depend on time explicitly: the
ansatz is ``h(t, θ, θ̇) = Σ_c w_c(t) P_c(θ, θ̇)`` with polynomials ``P_c`` and the weights
``w_c(t) = e^{cτt}`` (heavy ball) or ``t^{3c}`` (Nesterov), ``c = 0..degree`` — the factors by which
friction shrinks a term of degree ``c`` in the velocity. It is still linear in the coefficients.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import sympy

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.exact import rref, snap_rational
from noetherlab._core.status import Certified, CountStatus
from noetherlab._core.validation import positive_int
from noetherlab.training.architectures import Architecture
from noetherlab.training.dynamics import Flow, parse_flow
from noetherlab.training.lie import (
    FieldFamily,
    architecture_fields,
    bracket_field,
    loss_fields,
    on_flow,
)
from noetherlab.training.losses import MSE, Loss

__all__ = ["PolynomialLaws", "find_polynomial_laws"]

Array = jax.Array


@dataclass(frozen=True)
class PolynomialLaws(Certified):
    """Result of :func:`find_polynomial_laws`.

    Attributes:
        laws: sympy expressions, one per basis element of the space of conserved polynomials.
        coefficients: ``(k, M)`` rational-snapped coefficients on ``monomials`` (exponent tuples
            over the flow's state: ``θ``, or ``(θ, θ̇)`` with momentum, each with its time weight
            ``weights[m]``: the ``c`` of ``w_c(t)``, 0 for first-order flows).
        null_dimension: dimension of the space of conserved polynomials of degree ``<= degree``.
        functionally_independent: rank of the laws' gradients at a random point (products of laws
            count in ``null_dimension`` but not here).
        gap: singular-value gap of the null-space decision.
        status: ``CountStatus.certified`` when the gap is at least ``min_gap`` and every law is
            verified; ``rejected`` when a law fails at the fresh points, ``ambiguous`` when the gap
            is too small.
        verified: every law satisfies the conditions at fresh points to ``max_residual``.
    """

    laws: list[Any]
    coefficients: np.ndarray
    monomials: list[tuple[int, ...]]
    null_dimension: int
    functionally_independent: int
    gap: float
    status: CountStatus
    verified: bool
    max_residual: float
    seconds: float
    degree: int
    names: tuple[str, ...] = field(repr=False, default=())
    weights: list[int] = field(default_factory=list)
    flow: Flow = field(default_factory=Flow)

    def as_strings(self) -> list[str]:
        return [str(expr) for expr in self.laws]

    def by_block(self) -> list[dict[str, Any]]:
        """One entry per law: the parameter blocks it couples (the module path of a parameter,
        ``layers[0]``, or its array, ``W1``), what kind of law it is, and the formula.

        Kinds: ``"linear"`` (a conserved linear combination: a translation symmetry),
        ``"balance"`` (squares only: a rescaling symmetry, e.g. a neuron's ``|in|² - |out|²``),
        ``"quadratic"`` (cross terms too: a ``GL``/rotation symmetry), ``"time-dependent"`` (a
        momentum-flow law, ``exp(τt)·…`` or ``t³·…``), or ``"degree k"``."""
        return [
            {"law": str(law), "blocks": _blocks(law), "kind": _law_kind(law)} for law in self.laws
        ]

    def evaluate(self, state: Any) -> np.ndarray:
        """Values of the laws at a state ``(S,)`` or states ``(n, S)``: the parameters ``θ``, or
        ``(t, θ, θ̇)`` for a momentum flow."""
        z = jnp.atleast_2d(jnp.asarray(state, dtype=jnp.float64))
        feats = jax.vmap(_features(self.flow, self.monomials, self.weights))(z)
        out = np.asarray(feats) @ self.coefficients.T
        return out[0] if np.ndim(state) == 1 else out


def _monomials(D: int, degree: int) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for d in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(D), d):
            e = [0] * D
            for i in combo:
                e[i] += 1
            out.append(tuple(e))
    return out


def _features(
    flow: Flow, monomials: list[tuple[int, ...]], weights: list[int]
) -> Callable[[Array], Array]:
    """``z -> (w_{c_m}(t) z^{α_m})_m``: the monomials of the state (of ``(θ, θ̇)`` with momentum,
    times the time weight ``w_c``)."""
    E = jnp.asarray(np.asarray(monomials, dtype=np.float64))
    c = jnp.asarray(np.asarray(weights, dtype=np.float64))
    if not flow.second_order:
        return lambda z: jnp.prod(z[None, :] ** E, axis=1)
    heavy = flow.momentum == "heavy-ball"

    def feats(z: Array) -> Array:
        w = jnp.exp(c * flow.friction * z[0]) if heavy else z[0] ** (3.0 * c)
        return w * jnp.prod(z[None, 1:] ** E, axis=1)

    return feats


def _generator_values(family: FieldFamily, points: Array, key: Array, per_point: int) -> Array:
    """``per_point`` random generators (bundles of 4 samples) at every point: ``(F, P, S)``."""
    field_fn = bracket_field(family.vector_field, 1)
    xis = family.sample_bundles(key, per_point, 4)
    X, _ = jax.jit(jax.vmap(jax.vmap(field_fn, in_axes=(0, None)), in_axes=(None, 0)))(
        points, (xis,)
    )
    return X


def _rows(
    family: FieldFamily,
    features: Callable[[Array], Array],
    points: Array,
    key: Array,
    per_point: int,
) -> np.ndarray:
    """The conditions ``∇(feature_m)(z_p) · X_f(z_p)``, one row per (point, generator)."""
    jac = jax.jit(jax.vmap(jax.jacfwd(features)))(points)  # (P, M, S)
    X = _generator_values(family, points, key, per_point)
    rows = jnp.einsum("pmd,fpd->pfm", jac, X).reshape(-1, jac.shape[1])
    return np.asarray(rows)


def _span_rank(family: FieldFamily, points: Array, key: Array, per_point: int) -> int:
    """The smallest rank, over ``points``, of ``per_point`` random generators' values (``>= 1``)."""
    X = np.asarray(_generator_values(family, points, key, per_point))
    ranks = [np.linalg.matrix_rank(X[:, p]) for p in range(points.shape[0])]
    return max(1, int(min(ranks)))


def find_polynomial_laws(
    arch: Architecture,
    degree: int = 2,
    *,
    loss: str | Loss | None = None,
    group: np.ndarray | None = None,
    seed: int = 0,
    rtol: float = 1e-9,
    min_gap: float = 1e4,
    max_monomials: int = 6000,
    flow: str | Flow = "gradient",
) -> PolynomialLaws:
    """Polynomial conservation laws of degree ``<= degree`` (see module docstring).

    The family of flows is the architecture level (``loss=None``), a loss, or an augmented loss
    (``group``), under the training dynamics ``flow``, exactly as in
    :func:`~noetherlab.training.count_laws`. For momentum flows the laws are polynomials in
    ``(θ, θ̇)`` with time weights (``exp(τ t)``, ``t³``, ...)."""
    start = time.perf_counter()
    degree = positive_int(degree, "degree")
    the_flow = parse_flow(flow)
    D = arch.dimension
    n_vars = 2 * D if the_flow.second_order else D
    n_weights = degree + 1 if the_flow.second_order else 1
    # monomials of degree 1..degree (times each time weight), counted before listing
    M = n_weights * (math.comb(n_vars + degree, degree) - 1)
    if M > max_monomials:
        raise InvalidArgumentError(
            "degree",
            f"{M} monomials of degree <= {degree} in {n_vars} variables exceed max_monomials = {max_monomials}",
            "lower the degree (or raise max_monomials)",
        )
    base = _monomials(n_vars, degree)
    monomials = base * n_weights
    weights = [c for c in range(n_weights) for _ in base]
    if group is not None and loss is None:
        loss = MSE
    family = architecture_fields(arch) if loss is None else loss_fields(arch, loss, group)
    family = on_flow(family, the_flow, arch.param_names)
    features = _features(the_flow, monomials, weights)
    key = jax.random.PRNGKey(seed)
    kp, kf, kv = jax.random.split(key, 3)
    per_point = min(family.dimension, 64)
    # each point contributes as many independent rows as the generators span there (at most
    # ``per_point``, often fewer): enough points for twice as many rows as unknowns
    per_rank = _span_rank(family, family.random_points(jax.random.fold_in(kp, 1), 2), kf, per_point)
    n_points = int(np.ceil(2.0 * M / per_rank)) + 4
    points = family.random_points(kp, n_points)
    A = _rows(family, features, points, kf, per_point)
    A = A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)
    s, vt = np.linalg.svd(A, full_matrices=True)[1:]
    s_full = np.zeros(M)
    s_full[: s.size] = s
    zero = s_full <= rtol * s_full[0]
    k = int(np.sum(zero))
    kept = s_full[~zero]
    dropped = s_full[zero][0] if k else 0.0
    gap = float(kept[-1] / max(dropped, 1e-15 * s_full[0])) if kept.size else float("inf")
    null = vt[M - k :] if k else np.zeros((0, M))
    C = snap_rational(rref(null, 1e-10)) if k else null
    # verify the (snapped) laws on fresh points
    B = _rows(family, features, family.random_points(kv, 4), jax.random.fold_in(kv, 1), per_point)
    scale = (
        np.linalg.norm(B, axis=1, keepdims=True)
        * np.maximum(np.linalg.norm(C, axis=1), 1e-300)[None, :]
    )
    resid = float(np.max(np.abs(B @ C.T) / np.maximum(scale, 1e-300))) if k else 0.0
    names = the_flow.state_names(arch.param_names)
    laws = [_formula(row, monomials, weights, names, the_flow) for row in C]
    independent = 0
    if k:
        z = family.random_points(jax.random.fold_in(kv, 2), 1)[0]
        G = C @ np.asarray(jax.jacfwd(features)(z))
        independent = int(np.linalg.matrix_rank(G, tol=1e-9 * max(np.max(np.abs(G)), 1e-300)))
    verified = resid <= 1e-8
    if not verified:
        status = CountStatus.rejected
    else:
        status = CountStatus.certified if gap >= min_gap else CountStatus.ambiguous
    return PolynomialLaws(
        laws=laws,
        coefficients=C,
        monomials=monomials,
        null_dimension=k,
        functionally_independent=independent,
        gap=gap,
        status=status,
        verified=verified,
        max_residual=resid,
        seconds=time.perf_counter() - start,
        degree=degree,
        names=names,
        weights=weights,
        flow=the_flow,
    )


def _formula(
    row: np.ndarray,
    monomials: list[tuple[int, ...]],
    weights: list[int],
    names: tuple[str, ...],
    flow: Flow,
) -> Any:
    """The sympy expression ``Σ_m row_m w_{c_m}(t) z^{α_m}`` (exact rationals where they are)."""
    syms = [sympy.Symbol(n) for n in names]
    variables = syms[1:] if flow.second_order else syms
    t = syms[0] if flow.second_order else None
    tau = sympy.nsimplify(flow.friction, rational=True)
    expr = sympy.Integer(0)
    for c, e, w in zip(row, monomials, weights, strict=True):
        if c == 0.0:
            continue
        term = (
            sympy.nsimplify(c, rational=True)
            if float(Fraction(c).limit_denominator(100)) == c
            else sympy.Float(c, 12)
        )
        if t is not None and w:
            term *= sympy.exp(w * tau * t) if flow.momentum == "heavy-ball" else t ** (3 * w)
        expr += term * sympy.Mul(*[variables[i] ** p for i, p in enumerate(e) if p])
    expr = sympy.expand(expr)
    return sympy.factor_terms(expr) if flow.second_order else expr


def _block(name: str) -> str:
    """``layers[0].weight[2,1]`` -> ``layers[0]``; ``W1[0,1]`` -> ``W1``; velocities ``W1[0,1]'`` as
    their parameter."""
    base = name.rstrip("'")
    head, dot, _ = base.rpartition(".")
    return head if dot else base.split("[", 1)[0]


def _blocks(law: Any) -> list[str]:
    names = {str(sym) for sym in law.free_symbols} - {"t"}
    return sorted({_block(n) for n in names})


def _law_kind(law: Any) -> str:
    syms = sorted(law.free_symbols, key=str)
    if any(str(sym) == "t" for sym in syms):
        return "time-dependent"
    poly = sympy.Poly(law, *syms)
    degree = poly.total_degree()
    if degree == 1:
        return "linear"
    if degree == 2:
        squares_only = all(sum(1 for e in m if e) == 1 for m in poly.monoms() if sum(m) == 2)
        return "balance" if squares_only else "quadratic"
    return f"degree {degree}"
