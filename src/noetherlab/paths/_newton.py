r"""Globalised Newton minimisation of a chain objective, compiled as one loop (private engine).

Each iteration, for the objective ``F`` of :mod:`noetherlab.paths._chain` with exact gradient ``g``
and block-tridiagonal Hessian ``H``:

1. **Convergence test.** Stop as *successful* when the normalised residual ``max_k |g_k|_∞/s_k``
   is ``<= gtol`` **and** ``H`` is positive definite (a certified strict local minimiser). A small
   residual with an indefinite ``H`` is a saddle of the action: up to three escapes along negative
   curvature are tried before stopping with status *saddle*.
2. **Direction.** Cholesky solve of ``(H + λI) s = -g`` (:mod:`noetherlab.paths._blocktridiag`),
   ``λ = 0`` whenever ``H`` is positive definite, otherwise increased geometrically from the last
   successful shift (Nocedal & Wright, Alg. 3.3). ``max_step`` optionally clips ``max|s|`` (a trust
   region in ``y``).
3. **Step.** Backtracking Armijo line search on ``F``. When ``H`` is indefinite the direction of
   most negative curvature (bisection of the Cholesky-success shift, then inverse iteration) is
   tried too, and the better of the two steps is taken — this is what escapes symmetric saddles.
   Where the predicted decrease is below the float64 resolution of ``F`` (``1e-13 Σ|c_k|``) the
   Armijo test is noise; a full Newton step on a positive definite ``H`` is then accepted if it
   halves the normalised residual (small actions, e.g. paths that leave a fixed point at ``E = 0``).
4. **Failure modes** reported as statuses: no decrease possible (*line search failed*), the Newton
   decrement at the float64 resolution of ``F`` for three iterations while the residual is above
   tolerance (*stalled*), a non-finite ``F``, an unfactorisable shifted Hessian, the cap.

Everything runs inside one ``jax.lax.while_loop``: one compilation per chain structure and shape
(model parameters are data), no host round trips per iteration, the same code on CPU and GPU.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InternalError
from noetherlab._core.status import PathStatus
from noetherlab.paths import _blocktridiag
from noetherlab.paths._chain import (
    Chain,
    chain_abs_value,
    chain_derivatives,
    chain_gradient,
    chain_value,
    fixed_rows,
    normalised_residual,
)
from noetherlab.paths.problem import PathProblem

Array = jax.Array

RUNNING, SUCCESSFUL, MAX_STEPS, SADDLE, LINE_SEARCH, STALLED, NONFINITE, FACTOR = range(8)
#: the engine's int codes (the loop runs while ``RUNNING``) and the statuses they stand for
ENGINE_STATUS = {
    SUCCESSFUL: PathStatus.successful,
    MAX_STEPS: PathStatus.max_iterations,
    SADDLE: PathStatus.saddle,
    LINE_SEARCH: PathStatus.line_search_failed,
    STALLED: PathStatus.stalled,
    NONFINITE: PathStatus.nonfinite,
    FACTOR: PathStatus.factorisation_failed,
}
HISTORY_FIELDS = ("value", "residual", "alpha", "shift", "negative_curvature_step", "clipped")


class NewtonOutput(eqx.Module):
    y: Array
    value: Array
    status: Array
    iterations: Array
    residual: Array
    grad_norm: Array
    grad_inf: Array
    clipped_steps: Array
    curvature_steps: Array
    max_shift: Array
    history: Array  # (max_steps, len(HISTORY_FIELDS))


def _shifted(diag: Array, lam: Array) -> Array:
    return diag + lam * jnp.eye(diag.shape[1], dtype=diag.dtype)


def _hess_vec(diag: Array, upper: Array, v: Array) -> Array:
    out = jnp.einsum("kij,kj->ki", diag, v)
    out = out.at[:-1].add(jnp.einsum("kij,kj->ki", upper, v[1:]))
    return out.at[1:].add(jnp.einsum("kji,kj->ki", upper, v[:-1]))


def _trial(chain: Chain, y: Array, s: Array, alpha: Array) -> tuple[Array, Array]:
    y_new = y.at[1:-1].add(alpha * s)
    return y_new, chain_value(chain, y_new)


def _directions(
    diag: Array, upper: Array, g: Array, lam0: Array, floor: Array, free: Array
) -> tuple[Array, Array, Array, Array, Array]:
    """Newton direction and, when ``H`` is indefinite, the direction of most negative curvature.

    One loop around a single block-tridiagonal solve (so that it is compiled once), in phases:

    0. ``λ = 0``, then ``max(λ0, floor)·4^k`` until ``H + λI`` factorises: the direction ``s``;
    1. (``λ > 0`` only) ``H + λI/4`` failed and ``H + λI`` succeeded, so ``-μ_min ∈ (λ/4, λ]``:
       8 bisections on factorisation success narrow it to ``σ ≈ -μ_min``;
    2. 6 steps of inverse iteration with ``H + σI`` give the lowest eigenvector ``w`` (rate
       ``(μ_min + σ)/(μ_2 + σ) ≈ 0``) and its Rayleigh quotient.

    ``free`` ``(m,)`` is 0 at padding rows (decoupled identity blocks): the inverse iteration
    starts, and so stays, at zero there.

    Returns ``(λ, s, ok, w, curvature)`` (``curvature = 0`` when ``λ = 0``)."""
    m, b = diag.shape[0], diag.shape[1]
    w0 = free[:, None] * jnp.cos(jnp.arange(m * b, dtype=diag.dtype) * 1.618).reshape(m, b)
    zero_i = jnp.zeros((), jnp.int32)

    def cond(c: Any) -> Any:
        phase, k = c[0], c[1]
        return (phase < 3) & (k < 120)

    def body(c: Any) -> Any:
        phase, k, lam, s, ok, lo, hi, w, j = c
        shift = jnp.select(
            [phase == 0, phase == 1, phase == 2],
            [
                jnp.where(k == 0, 0.0, jnp.where(lam == 0.0, jnp.maximum(lam0, floor), 4.0 * lam)),
                jnp.where(lo > 0, jnp.sqrt(lo * hi), 0.5 * hi),
                hi,
            ],
        )
        rhs = jnp.where(phase == 0, -g, w)
        z, good = _blocktridiag.solve(_shifted(diag, shift), upper, rhs)
        # phase 0: keep the first successful factorisation
        lam = jnp.where(phase == 0, shift, lam)
        s = jnp.where((phase == 0) & good, z, s)
        ok = jnp.where(phase == 0, good, ok)
        next0 = jnp.where(good, jnp.where(shift > 0, 1, 3), 0)
        lo0, hi0 = 0.25 * shift, shift
        # phase 1: bisection of the factorisation threshold
        lo1 = jnp.where(good, lo, shift)
        hi1 = jnp.where(good, shift, hi)
        # phase 2: inverse iteration
        w2 = z / jnp.maximum(jnp.max(jnp.abs(z)), 1e-300)
        phase_new = jnp.select(
            [phase == 0, phase == 1, phase == 2],
            [next0, jnp.where(j + 1 >= 8, 2, 1), jnp.where(j + 1 >= 6, 3, 2)],
        ).astype(jnp.int32)
        j_new = jnp.where(phase_new == phase, j + 1, 0).astype(jnp.int32)
        lo = jnp.select([phase == 0, phase == 1], [lo0, lo1], lo)
        hi = jnp.select([phase == 0, phase == 1], [hi0, hi1], hi)
        w = jnp.where(phase == 2, w2, w)
        return phase_new, k + 1, lam, s, ok, lo, hi, w, j_new

    zero = jnp.zeros((), diag.dtype)
    init = (zero_i, zero_i, zero, jnp.zeros_like(g), jnp.zeros((), bool), zero, zero, w0, zero_i)
    _, _, lam, s, ok, _, _, w, _ = jax.lax.while_loop(cond, body, init)
    curvature = jnp.where(lam > 0, jnp.sum(w * _hess_vec(diag, upper, w)) / jnp.sum(w * w), 0.0)
    return lam, s, ok, w, curvature


def _armijo(
    chain: Chain, y: Array, value: Array, s: Array, slope: Array
) -> tuple[Array, Array, Array]:
    """Largest ``α = 2^{-k}`` with ``F(y + αs) <= F(y) + 1e-4 α g·s`` (``α = 0`` if none in 60 halvings)."""

    def ok(alpha: Array) -> tuple[Array, Array, Array]:
        y_try, val = _trial(chain, y, s, alpha)
        good = jnp.isfinite(val) & (val <= value + 1e-4 * alpha * slope) & (slope < 0)
        return good, y_try, val

    def cond(c: Any) -> Any:
        _alpha, good, _, _, k = c
        return (~good) & (k < 60)

    def body(c: Any) -> Any:
        alpha, _, _, _, k = c
        alpha = jnp.where(k == 0, alpha, 0.5 * alpha)
        good, y_try, val = ok(alpha)
        return alpha, good, y_try, val, k + 1

    init = (jnp.ones((), y.dtype), jnp.zeros((), bool), y, value, jnp.zeros((), jnp.int32))
    alpha, good, y_new, val, _ = jax.lax.while_loop(cond, body, init)
    return jnp.where(good, alpha, 0.0), jnp.where(good, val, value), jnp.where(good, y_new, y)


def _curvature_step(
    chain: Chain, y: Array, value: Array, g: Array, w: Array, curv: Array, max_step: Array
) -> tuple[Array, Array]:
    """Backtracking along the negative-curvature direction ``w`` (value unchanged if it does not help)."""
    gw = jnp.sum(g * w)
    w = jnp.where(gw > 0, -w, w)
    gw = -jnp.abs(gw)
    ww = jnp.sum(w * w)
    nodes = chain.nodes(y)
    tau0 = jnp.minimum(0.25 * jnp.maximum(jnp.max(jnp.ptp(nodes, axis=0)), 1e-12), max_step)

    def cond(c: Any) -> Any:
        _, good, _, _, k = c
        return (~good) & (k < 40) & (curv < 0)

    def body(c: Any) -> Any:
        tau, _, _, _, k = c
        tau = jnp.where(k == 0, tau, 0.5 * tau)
        y_try, val = _trial(chain, y, w, tau)
        good = jnp.isfinite(val) & (val <= value + tau * gw + 0.25 * curv * ww * tau * tau)
        return tau, good, y_try, val, k + 1

    init = (tau0, jnp.zeros((), bool), y, value, jnp.zeros((), jnp.int32))
    _, good, y_new, val, _ = jax.lax.while_loop(cond, body, init)
    better = good & (val < value)
    return jnp.where(better, y_new, y), jnp.where(better, val, value)


def _step(
    chain: Chain,
    y: Array,
    value: Array,
    g: Array,
    s: Array,
    w: Array,
    curv: Array,
    lam: Array,
    max_step: Array,
    r_now: Array,
) -> tuple[Array, ...]:
    """One globalised step from ``y`` along the (shifted) Newton direction ``s`` — clipped to
    ``max|Δy| <= max_step``, Armijo backtracking — or along the negative-curvature direction
    ``w`` when that decreases ``F`` more; at the float64 resolution of ``F`` a full Newton step on a
    positive definite ``H`` that halves the residual ``r_now``. Returns ``(y_new, F(y_new), α,
    Newton decrement, clipped, curvature step taken, accepted by residual)``."""
    s_inf = jnp.max(jnp.abs(s))
    factor = jnp.minimum(1.0, max_step / jnp.maximum(s_inf, 1e-300))
    sc = s * factor
    slope = jnp.sum(g * sc)
    alpha, val, y_new = _armijo(chain, y, value, sc, slope)
    y_c, val_c = _curvature_step(chain, y, value, g, w, curv, max_step)
    use_curv = val_c < val
    y_new = jnp.where(use_curv, y_c, y_new)
    val = jnp.where(use_curv, val_c, val)
    # At the float64 resolution of F (predicted decrease below its roundoff) the Armijo test is
    # noise: a full Newton step on a positive definite H is then accepted when it halves the
    # normalised residual instead.
    at_roundoff = jax.lax.cond(
        (val >= value) & (lam == 0.0),
        lambda _: -slope <= 1e-13 * chain_abs_value(chain, y),
        lambda _: jnp.zeros((), bool),
        None,
    )

    def by_residual(_: None) -> tuple[Array, Array, Array]:
        y_try = y.at[1:-1].add(sc)
        g_t, s_t = chain_gradient(chain, y_try)
        better = normalised_residual(g_t, s_t) <= 0.5 * r_now
        return (
            jnp.where(better, y_try, y_new),
            jnp.where(better, chain_value(chain, y_try), val),
            better,
        )

    y_new, val, by_r = jax.lax.cond(
        at_roundoff, by_residual, lambda _: (y_new, val, jnp.zeros((), bool)), None
    )
    return y_new, val, jnp.where(by_r, 1.0, alpha), -jnp.sum(g * s), factor < 1.0, use_curv, by_r


@eqx.filter_jit
def newton_minimise(
    chain: Chain, y0: Array, gtol: Array, max_steps: int, max_step: Array
) -> NewtonOutput:
    """Minimise the chain objective from ``y0`` (``(n+1, b)``; boundary rows ignored). See the module
    docstring. ``max_steps`` is static (it sizes the history); ``gtol`` and ``max_step`` (``inf``
    for no clipping) are data."""
    dtype = y0.dtype
    value0 = chain_value(chain, y0)
    n_hist = max(int(max_steps), 1)
    free = 1.0 - fixed_rows(chain)

    def stop_status(
        g: Array, scale: Array, pd: Array, escapes: Array, it: Array, value: Array
    ) -> Array:
        r = normalised_residual(g, scale)
        small = r <= gtol
        return jnp.select(
            [
                ~jnp.isfinite(value) | ~jnp.isfinite(r),
                small & pd,
                small & (escapes >= 3),
                it >= max_steps,
            ],
            [jnp.int32(c) for c in (NONFINITE, SUCCESSFUL, SADDLE, MAX_STEPS)],
            jnp.int32(RUNNING),
        )

    def cond(state: tuple[Any, ...]) -> Any:
        return state[3] == RUNNING

    def body(state: tuple[Any, ...]) -> tuple[Any, ...]:
        y, value, it, _, shift, stalled, escapes, clipped, ncurv, max_shift, hist = state
        g, scale, diag, upper = chain_derivatives(chain, y)
        # the mean |H_ii| of the free nodes (padding rows hold the identity)
        dscale = jnp.sum(free[:, None] * jnp.abs(jnp.diagonal(diag, axis1=1, axis2=2))) / (
            jnp.maximum(jnp.sum(free), 1.0) * diag.shape[-1]
        )
        lam, s, ok, w, curv = _directions(diag, upper, g, shift, 1e-10 * dscale, free)
        pd = ok & (lam == 0.0)
        status = stop_status(g, scale, pd, escapes, it, value)
        escapes = escapes + ((status == RUNNING) & (normalised_residual(g, scale) <= gtol)).astype(
            jnp.int32
        )

        r_now = normalised_residual(g, scale)

        def step(_: None) -> tuple[Any, ...]:
            return _step(chain, y, value, g, s, w, curv, lam, max_step, r_now)

        def no_step(_: None) -> tuple[Any, ...]:
            z = jnp.zeros((), dtype)
            false = jnp.zeros((), bool)
            return y, value, z, z, false, false, false

        y_new, val, alpha, decrement, was_clipped, used_curv, by_r = jax.lax.cond(
            (status == RUNNING) & ok, step, no_step, None
        )
        moved = (val < value) | by_r
        status = jnp.where((status == RUNNING) & ~ok, jnp.int32(FACTOR), status)
        status = jnp.where((status == RUNNING) & ~moved, jnp.int32(LINE_SEARCH), status)
        flat = moved & (decrement <= 1e-11 * jnp.maximum(jnp.abs(value), 1e-300)) & ~by_r
        stalled = jnp.where(flat, stalled + 1, jnp.int32(0))
        status = jnp.where((status == RUNNING) & (stalled >= 3), jnp.int32(STALLED), status)
        rec = jnp.stack(
            [
                val,
                normalised_residual(g, scale),
                alpha,
                lam,
                used_curv.astype(dtype),
                was_clipped.astype(dtype),
            ]
        )
        hist = jnp.where(moved & (it < n_hist), hist.at[jnp.minimum(it, n_hist - 1)].set(rec), hist)
        it = it + moved.astype(jnp.int32)
        return (
            jnp.where(moved, y_new, y),
            jnp.where(moved, val, value),
            it,
            status,
            jnp.where(lam > 0, lam / 16.0, 0.0),
            stalled,
            escapes,
            clipped + was_clipped.astype(jnp.int32),
            ncurv + used_curv.astype(jnp.int32),
            jnp.maximum(max_shift, lam),
            hist,
        )

    zero_i = jnp.zeros((), jnp.int32)
    zero = jnp.zeros((), dtype)
    init = (
        y0,
        value0,
        zero_i,
        jnp.where(jnp.isfinite(value0), RUNNING, NONFINITE).astype(jnp.int32),
        zero,
        zero_i,
        zero_i,
        zero_i,
        zero_i,
        zero,
        jnp.full((n_hist, len(HISTORY_FIELDS)), jnp.nan, dtype),
    )
    y, value, it, status, _, _, _, clipped, ncurv, max_shift, hist = jax.lax.while_loop(
        cond, body, init
    )
    g, scale = chain_gradient(chain, y)
    return NewtonOutput(
        y=y,
        value=value,
        status=status,
        iterations=it,
        residual=normalised_residual(g, scale),
        grad_norm=jnp.linalg.norm(g),
        grad_inf=jnp.max(jnp.abs(g)) if g.size else jnp.zeros((), dtype),
        clipped_steps=clipped,
        curvature_steps=ncurv,
        max_shift=max_shift,
        history=hist,
    )


@eqx.filter_jit
def newton_minimise_batch(
    chain: Chain, y0: Array, gtol: Array, max_steps: int, max_step: Array
) -> NewtonOutput:
    """:func:`newton_minimise` of ``B`` chains at once, vectorised (``jax.vmap``) in one compiled
    loop: ``chain`` holds the members' ``base``, ``frame``, ``data`` and ``weight`` stacked on a
    leading axis ``B`` and one shared ``params``; ``y0`` is ``(B, n+1, b)``. The loop runs until
    every member has stopped, and a member that has stopped is frozen (``while_loop``'s batching
    selects its old state), so each member ends with its own iterates, iteration count and status.
    Every field of the output has the leading axis ``B``."""

    def one(base: Array, frame: Array, data: Any, weight: Array, y: Array) -> NewtonOutput:
        member = Chain(chain.cost, chain.scale, chain.params, base, frame, data, weight)
        return newton_minimise(member, y, gtol, max_steps, max_step)

    return jax.vmap(one)(chain.base, chain.frame, chain.data, chain.weight, y0)


def stack_chains(chains: list[Chain]) -> Chain:
    """Members of the same structure and size (same ``cost``, ``scale``, ``params``) stacked for
    :func:`newton_minimise_batch`."""
    first = chains[0]
    stack = lambda *a: jnp.asarray(np.stack([np.asarray(x) for x in a]))
    return Chain(
        first.cost,
        first.scale,
        first.params,
        stack(*(c.base for c in chains)),
        stack(*(c.frame for c in chains)),
        jax.tree_util.tree_map(stack, *(c.data for c in chains)),
        stack(*(c.weight for c in chains)),
    )


def member_output(out: NewtonOutput, b: int) -> NewtonOutput:
    """Member ``b`` of a batched output (host arrays)."""
    return jax.tree_util.tree_map(lambda a: a[b], out)


# ------------------------------------------------------------------------------ reading the output
def engine_status(code: int) -> PathStatus:
    """The :class:`~noetherlab._core.status.PathStatus` of an engine code (an unknown code is a
    bug of the engine, never read as some status)."""
    try:
        return ENGINE_STATUS[code]
    except KeyError:
        raise InternalError(
            f"the Newton engine ended with the unknown status code {code}"
        ) from None


def describe(
    out: NewtonOutput, gtol: float, problem: PathProblem | None = None
) -> tuple[PathStatus, str]:
    """The engine's status as a :class:`~noetherlab._core.status.PathStatus` and a sentence with
    the numbers."""
    status = engine_status(int(out.status))
    r, k = float(out.residual), int(out.iterations)
    texts = {
        PathStatus.successful: f"normalised residual {r:.2e} <= gtol {gtol:.0e} after {k} Newton steps, "
        "Hessian positive definite",
        PathStatus.max_iterations: f"iteration cap reached after {k} steps (normalised residual {r:.2e} > "
        f"gtol {gtol:.0e})",
        PathStatus.saddle: f"stationary point with an indefinite Hessian (a saddle of the action) at "
        f"normalised residual {r:.2e}; no descent direction of negative curvature was found",
        PathStatus.line_search_failed: f"no step decreases the action at normalised residual {r:.2e} > gtol "
        f"{gtol:.0e} (after {k} steps)",
        PathStatus.stalled: f"stalled at the float64 resolution of the action with normalised residual "
        f"{r:.2e} > gtol {gtol:.0e}: an almost flat direction (e.g. the timing of a transition over "
        "a long T) is not resolved",
        PathStatus.nonfinite: "the action became non-finite (at the initial path or along a step)",
        PathStatus.factorisation_failed: "the shifted Hessian could not be factorised",
    }
    message = texts[status]
    if (
        status in (PathStatus.stalled, PathStatus.line_search_failed)
        and problem is not None
        and problem.t is not None
    ) and not problem.sde.time_dependent:
        message += "; for long transit times try method='time-via-energy' (T(E) = T on the geometric solver)"
    return status, message


def engine_stats(out: NewtonOutput) -> dict[str, Any]:
    """The engine's diagnostics; ``hessian_positive_definite``: the last step needed no shift
    (its Hessian factorised as it is), which makes a ``stalled`` end a minimum."""
    k = int(out.iterations)
    last_shift = float(np.asarray(out.history)[k - 1, HISTORY_FIELDS.index("shift")]) if k else 0.0
    return {
        "final_residual": float(out.residual),
        "clipped_steps": int(out.clipped_steps),
        "negative_curvature_steps": int(out.curvature_steps),
        "max_shift": float(out.max_shift),
        "hessian_positive_definite": bool(k > 0 and last_shift == 0.0),
    }


def engine_history(out: NewtonOutput) -> list[dict[str, float]]:
    hist = np.asarray(out.history)
    rows = hist[: int(out.iterations)]
    return [
        {
            "iteration": float(i + 1),
            **{f: float(v) for f, v in zip(HISTORY_FIELDS, row, strict=True)},
        }
        for i, row in enumerate(rows)
    ]
