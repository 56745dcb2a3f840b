r"""Matrix-free trust-region Newton–Krylov minimisation of a chain objective (private engine).

Shared by the fixed-time :class:`~noetherlab.paths.solvers.newton_krylov.NewtonKrylov` solver and
the geometric solver's inner steps in high dimension. See the solver's module docstring for the
method: Hessian–vector products by ``jax.linearize`` of the gradient, the kinetic preconditioner
``M``, Steihaug–Toint truncated CG in the ``M``-norm with a ratio-test trust region, and the Lanczos
certification of a minimiser (with escapes from saddles of the action).

The iterations run in one compiled ``while_loop`` (per chain structure and shape; model
parameters are data), so a batch of problems runs as one vectorised loop
(:func:`krylov_minimise_batch`); the host certifies the minimum at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.linalg import spd_inverse
from noetherlab._core.status import PathStatus
from noetherlab.paths._chain import Chain, chain_gradient, chain_value, normalised_residual
from noetherlab.paths._newton import stack_chains

__all__ = ["KrylovOutput", "describe_krylov", "krylov_minimise", "krylov_minimise_batch"]

Array = jax.Array


class _Precond(eqx.Module):
    """``M = (K + diag(c_k h̄_k)) ⊗ D̄^{-1}`` on the interior nodes, with its inverse."""

    lower: Array  # (m,) sub-diagonal of K + c diag(h̄) (first entry 0)
    diag: Array  # (m,)
    upper: Array  # (m,) super-diagonal (last entry 0)
    D: Array  # (N, N)
    Dinv: Array  # (N, N)

    def apply(self, v: Array) -> Array:
        kv = self.diag[:, None] * v
        kv = kv.at[1:].add(self.lower[1:, None] * v[:-1])
        kv = kv.at[:-1].add(self.upper[:-1, None] * v[1:])
        return kv @ self.Dinv.T

    def solve(self, r: Array) -> Array:
        z = jax.lax.linalg.tridiagonal_solve(self.lower, self.diag, self.upper, r)
        return z @ self.D.T


def _kinetic(h: Array, w: Array) -> tuple[Array, Array, Array, Array]:
    """Tridiagonal ``K`` (interior nodes) of the second derivatives of ``Σ |Δx_k|²/(4 h_k w_k)``
    (the kinetic term with ``D_k = w_k D̄``), and ``h̄``."""
    inv = 0.5 / (h * w)
    diag = inv[:-1] + inv[1:]
    off = -inv[1:-1]
    lower = jnp.concatenate([jnp.zeros(1, h.dtype), off])
    upper = jnp.concatenate([off, jnp.zeros(1, h.dtype)])
    hbar = 0.5 * (h[:-1] + h[1:])
    return lower, diag, upper, hbar


def _interior(chain: Chain, y: Array) -> Array:
    return y[1:-1]


def _full(y: Array, inner: Array) -> Array:
    return y.at[1:-1].set(inner)


@eqx.filter_jit
def _state(chain: Chain, y: Array) -> tuple[Array, Array, Array]:
    g, scale = chain_gradient(chain, y)
    return chain_value(chain, y), g, normalised_residual(g, scale)


def _preconditioner(chain: Chain, y: Array, hvp: Any, h: Array, w: Array, D: Array) -> _Precond:
    """The kinetic part exactly (for ``D(t) = w(t) D̄``) plus the potential part's curvature
    estimated node by node: with a smooth probe ``v``, ``c_k = (v_k·(Hv)_k − v_k·(Kv)_k) /
    (h̄_k v_k·D̄^{-1} v_k)`` clipped to ``[0, 1e12]`` (a per-node scale, so a drift that is stiff
    only near one end, like a score near ``t_min``, does not stall CG)."""
    lower, diag, upper, hbar = _kinetic(h, w)
    Dinv = spd_inverse(D)
    m, N = y.shape[0] - 2, y.shape[1]
    s = jnp.sin(jnp.pi * jnp.arange(1, m + 1, dtype=y.dtype) / (m + 1))
    xi = jnp.cos(1.7 * jnp.arange(N, dtype=y.dtype) + 0.3)
    v = s[:, None] * xi[None, :]
    base = _Precond(lower, diag, upper, D, Dinv)
    excess = jnp.sum(v * (hvp(v) - base.apply(v)), axis=1)
    weight = hbar * jnp.sum(v * (v @ Dinv.T), axis=1)
    c = jnp.clip(excess / jnp.maximum(weight, 1e-300), 0.0, 1e12)
    return _Precond(lower, diag + c * hbar, upper, D, Dinv)


def _steihaug(
    hvp: Any, g: Array, P: _Precond, radius: Array, eta: Array, max_iter: int
) -> tuple[Array, Array, Array, Array, Array]:
    """Truncated preconditioned CG for ``min g·s + ½ s·Hs`` with ``|s|_M <= radius``.

    Returns ``(s, Hs, iterations, hit_boundary, negative_curvature)``."""
    r0 = -g
    z0 = P.solve(r0)
    rz0 = jnp.sum(r0 * z0)
    zero = jnp.zeros_like(g)
    f0 = jnp.zeros((), g.dtype)

    def to_boundary(sMs: Array, sMd: Array, dMd: Array) -> Array:
        disc = jnp.maximum(sMd * sMd + dMd * (radius * radius - sMs), 0.0)
        return (-sMd + jnp.sqrt(disc)) / jnp.maximum(dMd, 1e-300)

    def cond(c: tuple[Any, ...]) -> Array:
        j, done = c[0], c[1]
        return (~done) & (j < max_iter)

    def body(c: tuple[Any, ...]) -> tuple[Any, ...]:
        j, _, s, Hs, r, d, rz, sMs, sMd, dMd, hit, neg = c
        Hd = hvp(d)
        dHd = jnp.sum(d * Hd)
        alpha = rz / jnp.where(dHd > 0, dHd, 1.0)
        new_sMs = sMs + 2 * alpha * sMd + alpha * alpha * dMd
        negative = dHd <= 0
        outside = (~negative) & (new_sMs >= radius * radius)
        tau = to_boundary(sMs, sMd, dMd)
        step = jnp.where(negative | outside, tau, alpha)
        s = s + step * d
        Hs = Hs + step * Hd
        r = r - alpha * Hd
        z = P.solve(r)
        rz_new = jnp.sum(r * z)
        small = jnp.sqrt(jnp.maximum(rz_new, 0.0)) <= eta * jnp.sqrt(jnp.maximum(rz0, 0.0))
        beta = rz_new / jnp.maximum(rz, 1e-300)
        sMd_new = beta * (sMd + alpha * dMd)
        dMd_new = rz_new + beta * beta * dMd
        done = negative | outside | small
        return (
            j + 1,
            done,
            s,
            Hs,
            r,
            z + beta * d,
            rz_new,
            new_sMs,
            sMd_new,
            dMd_new,
            hit | outside | negative,
            neg | negative,
        )

    false = jnp.zeros((), bool)
    init = (jnp.zeros((), jnp.int32), rz0 <= 0, zero, zero, r0, z0, rz0, f0, f0, rz0, false, false)
    j, _, s, Hs, _, _, _, _, _, _, hit, neg = jax.lax.while_loop(cond, body, init)
    return s, Hs, j, hit, neg


def _lanczos(
    hvp: Any, P: _Precond, shape: tuple[int, int], steps: int, dtype: Any
) -> tuple[Array, Array, Array]:
    """Smallest and largest eigenvalues of ``M^{-1}H`` and the eigenvector of the smallest
    (preconditioned Lanczos in the ``M`` inner product, no reorthogonalisation)."""
    m, N = shape
    q0 = jnp.sin(0.37 * jnp.arange(m * N, dtype=dtype) + 1.1).reshape(m, N)
    Mq0 = P.apply(q0)
    nrm = jnp.sqrt(jnp.sum(q0 * Mq0))
    q0, Mq0 = q0 / nrm, Mq0 / nrm

    def body(c: tuple[Any, ...], _: Any) -> tuple[tuple[Any, ...], tuple[Array, Array, Array]]:
        q, Mq, _q_prev, Mq_prev, beta_prev = c
        Hq = hvp(q)
        alpha = jnp.sum(q * Hq)
        Mw = Hq - alpha * Mq - beta_prev * Mq_prev
        w = P.solve(Mw)
        beta = jnp.sqrt(jnp.maximum(jnp.sum(w * Mw), 1e-300))
        return (w / beta, Mw / beta, q, Mq, beta), (alpha, beta, q)

    zero = jnp.zeros((), dtype)
    _, (alphas, betas, qs) = jax.lax.scan(
        body, (q0, Mq0, jnp.zeros_like(q0), jnp.zeros_like(q0), zero), None, length=steps
    )
    T = jnp.diag(alphas) + jnp.diag(betas[:-1], 1) + jnp.diag(betas[:-1], -1)
    evals, evecs = jnp.linalg.eigh(T)
    v = jnp.einsum("k,kij->ij", evecs[:, 0], qs)
    return evals[0], evals[-1], v


class _Iteration(eqx.Module):
    """Outcome of one trust-region Newton–Krylov iteration."""

    y: Array
    value: Array
    radius: Array
    accepted: Array
    cg_iterations: Array
    negative_curvature: Array
    rho: Array
    clipped: Array


@eqx.filter_jit
def _iterate(
    chain: Chain,
    y: Array,
    radius: Array,
    residual: Array,
    h: Array,
    w: Array,
    D: Array,
    max_cg: int,
    max_step: Array,
) -> _Iteration:
    value = chain_value(chain, y)
    grad_inner = lambda inner: chain_gradient(chain, _full(y, inner))[0]
    g, hvp = jax.linearize(grad_inner, _interior(chain, y))
    P = _preconditioner(chain, y, hvp, h, w, D)
    radius = jnp.where(radius > 0, radius, jnp.sqrt(jnp.maximum(jnp.sum(g * P.solve(g)), 1e-300)))
    eta = jnp.minimum(0.5, jnp.sqrt(residual))
    s, Hs, j, hit, neg = _steihaug(hvp, g, P, radius, eta, max_cg)
    clip = jnp.minimum(1.0, max_step / jnp.maximum(jnp.max(jnp.abs(s)), 1e-300))
    s, Hs = clip * s, clip * Hs
    hit = hit | (clip < 1.0)
    model = jnp.sum(g * s) + 0.5 * jnp.sum(s * Hs)
    y_try = _full(y, _interior(chain, y) + s)
    v_try = chain_value(chain, y_try)
    rho = jnp.where(model < 0, (v_try - value) / model, -1.0)
    s_norm = jnp.sqrt(jnp.maximum(jnp.sum(s * P.apply(s)), 0.0))
    accepted = jnp.isfinite(v_try) & (rho > 1e-4) & (v_try < value)
    radius_new = jnp.where(
        ~jnp.isfinite(v_try) | (rho < 0.25),
        0.25 * jnp.minimum(s_norm, radius),
        jnp.where((rho > 0.75) & hit, 2.0 * radius, radius),
    )
    return _Iteration(
        y=jnp.where(accepted, y_try, y),
        value=jnp.where(accepted, v_try, value),
        radius=radius_new,
        accepted=accepted,
        cg_iterations=j,
        negative_curvature=neg,
        rho=rho,
        clipped=clip < 1.0,
    )


@eqx.filter_jit
def _certify(
    chain: Chain, y: Array, h: Array, w: Array, D: Array, steps: int
) -> tuple[Array, Array, Array]:
    grad_inner = lambda inner: chain_gradient(chain, _full(y, inner))[0]
    _, hvp = jax.linearize(grad_inner, _interior(chain, y))
    P = _preconditioner(chain, y, hvp, h, w, D)
    lo, hi, v = _lanczos(hvp, P, (y.shape[0] - 2, y.shape[1]), steps, y.dtype)
    return lo, hi, v


@eqx.filter_jit
def _escape(chain: Chain, y: Array, v: Array) -> tuple[Array, Array]:
    """Backtracking along ``±v`` (the Lanczos vector of negative curvature)."""
    value = chain_value(chain, y)
    g, _ = chain_gradient(chain, y)
    v = jnp.where(jnp.sum(g * v) > 0, -v, v)
    v = v / jnp.maximum(jnp.max(jnp.abs(v)), 1e-300)
    tau0 = 0.25 * jnp.maximum(jnp.max(jnp.ptp(y, axis=0)), 1e-12)

    def body(c: tuple[Any, ...], _: Any) -> tuple[tuple[Any, ...], None]:
        tau, best_y, best_v = c
        y_try = _full(y, _interior(chain, y) + tau * v)
        val = chain_value(chain, y_try)
        better = jnp.isfinite(val) & (val < best_v)
        return (0.5 * tau, jnp.where(better, y_try, best_y), jnp.where(better, val, best_v)), None

    (_, y_new, v_new), _ = jax.lax.scan(body, (tau0, y, value), None, length=30)
    return y_new, v_new


@dataclass(frozen=True)
class KrylovOutput:
    """What :func:`krylov_minimise` returns (NumPy values)."""

    y: np.ndarray
    status: PathStatus
    iterations: int
    cg_iterations: int
    residual: float
    grad: np.ndarray
    lambda_min: float
    lambda_max: float
    saddle_escapes: int
    clipped_steps: int
    history: list[dict[str, float]]


#: outcome codes of the compiled loop (``_Loop.code``)
_RUNNING, _CONVERGED, _NONFINITE, _STALLED, _COLLAPSED, _CAPPED = range(6)
_CODE_STATUS = {
    _NONFINITE: PathStatus.nonfinite,
    _STALLED: PathStatus.stalled,
    _COLLAPSED: PathStatus.line_search_failed,
    _CAPPED: PathStatus.max_iterations,
}
_HISTORY = ("value", "residual", "radius", "rho", "cg_iterations", "negative_curvature")


class _Loop(eqx.Module):
    """The state of the compiled trust-region loop (one member)."""

    y: Array
    value: Array
    g: Array
    r: Array
    radius: Array
    it: Array
    cg: Array
    clipped: Array
    stalled: Array
    code: Array
    history: Array  # (max_steps, len(_HISTORY)); rows past ``it`` are zero


@eqx.filter_jit
def _newton_krylov_loop(
    chain: Chain,
    y: Array,
    radius: Array,
    h: Array,
    w: Array,
    D: Array,
    gtol: Array,
    budget: Array,
    max_step: Array,
    max_steps: int,
    max_cg: int,
) -> _Loop:
    """Trust-region Newton–Krylov steps in one ``while_loop`` until the normalised residual is
    ``<= gtol`` (``_CONVERGED``: the caller certifies the minimum), the action is non-finite, the
    action stalls at float64 resolution for 5 accepted steps, the trust region collapses, or
    ``budget`` steps are spent. No host round trip per step, so it can be vmapped (a batch runs
    until its last member stops; a stopped member is frozen by ``while_loop``'s batching)."""
    value, g, r = _state(chain, y)

    def status(value: Array, r: Array) -> Array:
        bad = ~(jnp.isfinite(value) & jnp.isfinite(r))
        return jnp.where(bad, _NONFINITE, jnp.where(r <= gtol, _CONVERGED, _RUNNING))

    code = status(value, r)
    code = jnp.where((code == _RUNNING) & (budget <= 0), _CAPPED, code)
    zero = jnp.zeros((), jnp.int32)
    init = _Loop(
        y, value, g, r, radius, zero, zero, zero, zero, code,
        jnp.zeros((max_steps, len(_HISTORY)), y.dtype),
    )  # fmt: skip

    def body(s: _Loop) -> _Loop:
        out = _iterate(chain, s.y, s.radius, s.r, h, w, D, max_cg, max_step)
        it = s.it + 1
        row = jnp.stack(
            [out.value, s.r, out.radius, out.rho, out.cg_iterations, out.negative_curvature]
        ).astype(s.y.dtype)
        value, g, r = jax.lax.cond(
            out.accepted, lambda: _state(chain, out.y), lambda: (s.value, s.g, s.r)
        )
        tiny = s.value - out.value <= 1e-14 * jnp.maximum(jnp.abs(s.value), 1e-300)
        stalled = jnp.where(out.accepted, jnp.where(tiny, s.stalled + 1, 0), s.stalled)
        collapsed = (~out.accepted) & (out.radius < 1e-14 * jnp.maximum(jnp.max(jnp.abs(s.y)), 1.0))
        code = jnp.where(
            out.accepted & (stalled >= 5),
            _STALLED,
            jnp.where(
                collapsed,
                _COLLAPSED,
                jnp.where(
                    status(value, r) != _RUNNING,
                    status(value, r),
                    jnp.where(it >= budget, _CAPPED, _RUNNING),
                ),
            ),
        )
        return _Loop(
            out.y, value, g, r, out.radius, it,
            s.cg + out.cg_iterations, s.clipped + out.clipped.astype(jnp.int32), stalled,
            code, s.history.at[s.it].set(row),
        )  # fmt: skip

    return jax.lax.while_loop(lambda s: s.code == _RUNNING, body, init)


@eqx.filter_jit
def _newton_krylov_loop_batch(
    chain: Chain,
    y: Array,
    h: Array,
    w: Array,
    D: Array,
    gtol: Array,
    budget: Array,
    max_step: Array,
    max_steps: int,
    max_cg: int,
) -> _Loop:
    """:func:`_newton_krylov_loop` of ``B`` stacked chains (``base``, ``frame``, ``data``,
    ``weight`` with a leading axis ``B``; ``y`` ``(B, n+1, b)``, ``h``/``w`` ``(B, n)``, ``D``
    ``(B, b, b)``) from a zero trust radius, vectorised."""

    def one(base: Array, frame: Array, data: Any, weight: Array, *rest: Array) -> _Loop:
        member = Chain(chain.cost, chain.scale, chain.params, base, frame, data, weight)
        yb, hb, wb, Db = rest
        radius = jnp.zeros((), yb.dtype)
        return _newton_krylov_loop(
            member, yb, radius, hb, wb, Db, gtol, budget, max_step, max_steps, max_cg
        )

    return jax.vmap(one)(chain.base, chain.frame, chain.data, chain.weight, y, h, w, D)


def krylov_minimise(
    chain: Chain,
    y0: Any,
    h: Any,
    D: Any,
    *,
    gtol: float = 1e-8,
    max_steps: int = 200,
    max_cg: int = 200,
    lanczos_steps: int = 40,
    max_step: float = np.inf,
    weight: Any = None,
) -> KrylovOutput:
    """Trust-region Newton–Krylov on any chain objective (see module docstring): ``h`` ``(n,)`` and
    ``D`` ``(b, b)`` define the kinetic preconditioner, with ``weight`` ``(n,)`` the diffusion
    tensor's scale on each interval relative to ``D`` (default 1: ``D`` constant); ``max_step``
    caps ``max|Δy|`` per step. The steps run in one compiled loop; the host only certifies the
    minimum at the end (Lanczos) and, at a saddle, escapes along its negative curvature and
    restarts the loop (at most 3 times)."""
    h, D = jnp.asarray(h), jnp.asarray(D)
    w = jnp.ones_like(h) if weight is None else jnp.asarray(weight, dtype=h.dtype)
    return _drive(chain, jnp.asarray(y0), h, w, D, gtol, max_steps, max_cg, lanczos_steps, max_step)


def krylov_minimise_batch(
    chains: list[Chain],
    y0: list[Any],
    h: list[Any],
    D: list[Any],
    weight: list[Any],
    *,
    gtol: float = 1e-8,
    max_steps: int = 200,
    max_cg: int = 200,
    lanczos_steps: int = 40,
    max_step: float = np.inf,
) -> list[KrylovOutput]:
    """:func:`krylov_minimise` of several chains of one structure and size: the trust-region
    loops of all members run as one vectorised compiled loop; each member is then certified on
    its own (and, the rare member that stopped at a saddle, escapes and finishes alone)."""
    stacked = stack_chains(chains)
    ys, hs, ws, Ds = (jnp.asarray(np.stack([np.asarray(a) for a in v])) for v in (y0, h, weight, D))
    loops = _newton_krylov_loop_batch(
        stacked, ys, hs, ws, Ds, jnp.asarray(gtol), jnp.asarray(max_steps),
        jnp.asarray(max_step), max_steps, max_cg,
    )  # fmt: skip
    outs = []
    for b, chain in enumerate(chains):
        first = jax.tree_util.tree_map(lambda a, b=b: a[b], loops)
        outs.append(
            _drive(
                chain, first.y, hs[b], ws[b], Ds[b], gtol, max_steps, max_cg, lanczos_steps,
                max_step, first=first,
            )
        )  # fmt: skip
    return outs


def _drive(
    chain: Chain,
    y: Array,
    h: Array,
    w: Array,
    D: Array,
    gtol: float,
    max_steps: int,
    max_cg: int,
    lanczos_steps: int,
    max_step: float,
    first: _Loop | None = None,
) -> KrylovOutput:
    """Run the compiled loop (or take its result ``first``), certify, escape saddles, restart."""
    radius = jnp.zeros((), y.dtype)
    history: list[dict[str, float]] = []
    it = cg_total = escapes = clipped = 0
    lam_min, lam_max = float("nan"), float("nan")
    while True:
        s = first if first is not None else _newton_krylov_loop(
            chain, y, radius, h, w, D, jnp.asarray(gtol), jnp.asarray(max_steps - it),
            jnp.asarray(max_step), max_steps, max_cg,
        )  # fmt: skip
        first = None
        steps = int(s.it)
        rows = np.asarray(s.history)[:steps]
        history += [
            {"iteration": float(it + k + 1), **dict(zip(_HISTORY, map(float, row), strict=True))}
            for k, row in enumerate(rows)
        ]
        it, cg_total, clipped = it + steps, cg_total + int(s.cg), clipped + int(s.clipped)
        y, code = s.y, int(s.code)
        if code != _CONVERGED:
            status = _CODE_STATUS[code]
            break
        if lanczos_steps <= 0 or y.shape[0] < 4:
            status = PathStatus.successful
            break
        lo, hi, v = _certify(chain, y, h, w, D, lanczos_steps)
        lam_min, lam_max = float(lo), float(hi)
        if lam_min >= -1e-8 * max(abs(lam_max), 1e-300):
            status = PathStatus.successful
            break
        if escapes >= 3:
            status = PathStatus.saddle
            break
        escapes += 1
        y_new, v_new = _escape(chain, y, v)
        if not float(v_new) < float(s.value):
            status = PathStatus.saddle
            break
        y, radius = y_new, jnp.zeros((), y.dtype)
    return KrylovOutput(
        y=np.asarray(y),
        status=status,
        iterations=it,
        cg_iterations=cg_total,
        residual=float(s.r),
        grad=np.asarray(s.g),
        lambda_min=lam_min,
        lambda_max=lam_max,
        saddle_escapes=escapes,
        clipped_steps=clipped,
        history=history,
    )


def describe_krylov(out: KrylovOutput, gtol: float) -> str:
    """A sentence with the numbers for the outcome of :func:`krylov_minimise`."""
    r, it, cg, lam = out.residual, out.iterations, out.cg_iterations, out.lambda_min
    return {
        PathStatus.successful: f"normalised residual {r:.2e} <= gtol {gtol:.0e} after {it} Newton–Krylov steps "
        f"({cg} CG iterations)"
        + ("" if np.isnan(lam) else f"; smallest eigenvalue of M⁻¹H {lam:.3g} >= 0: a minimiser"),
        PathStatus.max_iterations: f"iteration cap reached after {it} steps (normalised residual {r:.2e})",
        PathStatus.saddle: f"stationary point with negative curvature (λ_min(M⁻¹H) = {lam:.3g}): a saddle of the action",
        PathStatus.stalled: f"stalled at the float64 resolution of the action with normalised residual {r:.2e}",
        PathStatus.line_search_failed: f"trust region collapsed at normalised residual {r:.2e}",
        PathStatus.nonfinite: "the action became non-finite",
    }[out.status]
