r"""Fixed-time paths from the discrete Hamiltonian action — no ``D^{-1}``, so degenerate noise works
(``method="hamiltonian"``).

With the Hamiltonian ``H(x, p, t) = p^T D p + p^T f [- ½∇·f]`` the midpoint Lagrangian of an
interval is a Legendre transform, ``h L(m, Δx/h) = \sup_p [p·Δx - h H(m, p)]``, so the fixed-time
minimum-action problem is the saddle-point problem of

.. math:: S_H(x, p) = \sum_{k=0}^{n-1} \Big[ p_{k+½}\cdot(x_{k+1} - x_k) - h_k H\big(\tfrac{x_k + x_{k+1}}2,
          p_{k+½}, t_{k+½}\big) \Big]

over the interior nodes ``x_1..x_{n-1}`` and the interval momenta ``p_{1/2}..p_{n-1/2}``. Its
stationarity conditions are the discrete Hamilton equations

.. math:: \frac{x_{k+1} - x_k}{h_k} = \partial_p H(m_k, p_{k+½}) = f(m_k) + 2 D(m_k) p_{k+½},\qquad
          p_{k-½} - p_{k+½} = \tfrac{h_{k-1}}2 \partial_x H(m_{k-1}, p_{k-½}) + \tfrac{h_k}2 \partial_x H(m_k, p_{k+½}),

which need only ``D``, never ``D^{-1}``: with noise on a subspace (hypoelliptic systems, e.g.
Langevin ``dq = v dt, dv = (-V'(q) - γv) dt + σ dW``) the first equation forces ``Δx/h - f`` into the
range of ``D`` (``q̇ = v`` exactly) while ``p`` keeps all its components. For a non-degenerate ``D``
the solution is exactly the midpoint Lagrangian minimiser of the other fixed-time solvers
(eliminating ``p`` gives back ``S_d``) — a cross-check the tests use.

Newton's method on ``∇S_H = 0``: the Hessian is sparse (each interval couples ``x_k, x_{k+1},
p_{k+½}``), assembled from per-interval blocks (JAX) and factorised by SuperLU (SciPy); steps are
globalised by backtracking on ``|∇S_H|²``. Node momenta are ``p_k = p_{k-½} - ½h_{k-1}∂_x H`` (the
discrete Legendre transform, so momentum maps of symmetries are conserved exactly), interval
energies ``H(m_k, p_{k+½})``. The independent check is the Lagrangian Euler–Lagrange residual when
``D`` is invertible, otherwise the normalised residual of the discrete Hamilton equations.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from noetherlab._core.status import PathStatus
from noetherlab.noether.charges import ChargeTrace, charges_from
from noetherlab.paths.diagnostics import finish
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.result import PathResult
from noetherlab.paths.solvers.base import AbstractPathSolver, start
from noetherlab.paths.solvers.newton import BlockNewton
from noetherlab.sde.lagrangian import hamiltonian
from noetherlab.sde.model import SDE

__all__ = ["Hamiltonian"]

Array = jax.Array


class _Model(eqx.Module):
    sde: SDE
    kind: str = eqx.field(static=True)


def _term(z: Array, ta: Array, tb: Array, model: _Model) -> Array:
    """``φ_k = p·(x_b - x_a) - h H(m, p, t_mid)`` with ``z = (x_a, x_b, p)``."""
    N = model.sde.dim
    xa, xb, p = z[:N], z[N : 2 * N], z[2 * N :]
    h = tb - ta
    return p @ (xb - xa) - h * hamiltonian(
        model.sde, 0.5 * (xa + xb), p, 0.5 * (ta + tb), model.kind
    )


def _term_scale(z: Array, ta: Array, tb: Array, model: _Model) -> tuple[Array, Array]:
    """Sizes of the terms of the node equation (momentum-like) and the interval equation (length-like)."""
    sde, N = model.sde, model.sde.dim
    xa, xb, p = z[:N], z[N : 2 * N], z[2 * N :]
    h, m, tm = tb - ta, 0.5 * (xa + xb), 0.5 * (ta + tb)
    dHdx = jax.grad(hamiltonian, argnums=1)(sde, m, p, tm, model.kind)
    node = jnp.max(jnp.abs(p)) + h * jnp.max(jnp.abs(dHdx))
    interval = jnp.max(jnp.abs(xb - xa)) + h * (
        jnp.max(jnp.abs(sde.f(m, tm))) + 2.0 * jnp.max(jnp.abs(sde.D(m, tm) @ p))
    )
    return node, interval


@eqx.filter_jit
def _terms(
    model: _Model, z: Array, ta: Array, tb: Array
) -> tuple[Array, Array, Array, Array, Array]:
    val = jax.vmap(_term, in_axes=(0, 0, 0, None))(z, ta, tb, model)
    grad = jax.vmap(jax.grad(_term), in_axes=(0, 0, 0, None))(z, ta, tb, model)
    hess = jax.vmap(jax.hessian(_term), in_axes=(0, 0, 0, None))(z, ta, tb, model)
    node, interval = jax.vmap(_term_scale, in_axes=(0, 0, 0, None))(z, ta, tb, model)
    return val, grad, hess, node, interval


@eqx.filter_jit
def _energies(model: _Model, x: Array, p: Array, t: Array) -> tuple[Array, Array]:
    m = 0.5 * (x[:-1] + x[1:])
    tm = 0.5 * (t[:-1] + t[1:])
    H = jax.vmap(lambda mi, pi, ti: hamiltonian(model.sde, mi, pi, ti, model.kind))(m, p, tm)
    dHdx = jax.vmap(
        lambda mi, pi, ti: jax.grad(hamiltonian, argnums=1)(model.sde, mi, pi, ti, model.kind)
    )(m, p, tm)
    return H, dHdx


class _Layout:
    """Global unknowns ``u = (x_1..x_{n-1}, p_{1/2}..p_{n-1/2})`` and each interval's slots."""

    def __init__(self, n: int, N: int) -> None:
        self.n, self.N = n, N
        self.nx = (n - 1) * N
        self.size = self.nx + n * N
        idx = np.full((n, 3 * N), -1, dtype=np.int64)
        for k in range(n):
            if k >= 1:
                idx[k, :N] = (k - 1) * N + np.arange(N)
            if k + 1 <= n - 1:
                idx[k, N : 2 * N] = k * N + np.arange(N)
            idx[k, 2 * N :] = self.nx + k * N + np.arange(N)
        self.idx = idx
        rows = np.repeat(idx[:, :, None], 3 * N, axis=2)
        cols = np.repeat(idx[:, None, :], 3 * N, axis=1)
        keep = (rows >= 0) & (cols >= 0)
        self.keep = keep
        self.rows, self.cols = rows[keep], cols[keep]

    def interval_vars(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.concatenate([x[:-1], x[1:], p], axis=1)

    def unpack(self, u: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = x.copy()
        x[1:-1] = u[: self.nx].reshape(self.n - 1, self.N)
        return x, u[self.nx :].reshape(self.n, self.N)

    def pack(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.concatenate([x[1:-1].reshape(-1), p.reshape(-1)])

    def gradient(self, grad: np.ndarray) -> np.ndarray:
        g = np.zeros(self.size)
        mask = self.idx >= 0
        np.add.at(g, self.idx[mask], grad[mask])
        return g

    def hessian(self, hess: np.ndarray) -> scipy.sparse.csc_matrix:
        return scipy.sparse.coo_matrix(
            (hess[self.keep], (self.rows, self.cols)), shape=(self.size, self.size)
        ).tocsc()


class Hamiltonian(AbstractPathSolver):
    """Newton on the discrete Hamilton equations (fixed time; any positive semi-definite ``D``).

    Attributes:
        gtol: tolerance of the normalised residual of the discrete Hamilton equations.
        max_steps: Newton iteration cap.
        regularise: for degenerate noise, start from the limit of regularised problems ``D + εP``
            (``P`` the projector on the null space of ``D``, ``ε = 1, 0.1, …, 1e-8``, each solved by
            block Newton from the previous): an initial path that already (almost) satisfies the
            constraint ``ẋ - f ∈ range(D)``, with its adjoint momenta.
        regularised_solver: the solver of each regularised problem.
        el_tol: tolerance of the independent check.
    """

    gtol: float = 1e-10
    max_steps: int = 100
    regularise: bool = True
    regularised_solver: BlockNewton = BlockNewton(max_steps=100)
    el_tol: float | None = None
    name: ClassVar[str] = "hamiltonian"
    problems: ClassVar[tuple[str, ...]] = ("time",)
    needs_inverse_diffusion: ClassVar[bool] = False

    def solve(self, problem: PathProblem, init: np.ndarray | None = None) -> PathResult:
        self.check(problem)
        assert problem.t is not None
        sde, kind, t = problem.sde, problem.lagrangian, problem.t
        n, N = problem.n, problem.dim
        model = _Model(sde, kind)
        lay = _Layout(n, N)
        ta, tb = jnp.asarray(t[:-1]), jnp.asarray(t[1:])
        if sde.degenerate and self.regularise:
            x, p = _regularised_start(problem, init, self.regularised_solver)
        else:
            x = start(problem, init)
            p = self._initial_momenta(sde, x, t)
        begin = time.perf_counter()

        def evaluate(x: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, ...]:
            val, grad, hess, node, interval = (
                np.asarray(a) for a in _terms(model, jnp.asarray(lay.interval_vars(x, p)), ta, tb)
            )
            g = lay.gradient(grad)
            scale = np.concatenate(
                [np.repeat(np.maximum(node[:-1], node[1:]), N), np.repeat(interval, N)]
            )
            scale = np.maximum(scale, 1e-14 * np.max(scale) + 1e-300)
            return val, g, hess, scale

        val, g, hess, scale = evaluate(x, p)
        status, it, mu = PathStatus.max_iterations, 0, 1e-6
        residual = float(np.max(np.abs(g) / scale))
        while True:
            if not np.isfinite(residual):
                status = PathStatus.nonfinite
                break
            if residual <= self.gtol:
                status = PathStatus.successful
                break
            if it >= self.max_steps:
                break
            H = lay.hessian(hess)
            u = lay.pack(x, p)
            merit = float(np.sum((g / scale) ** 2))
            accepted = False
            for step in self._steps(H, g, scale, mu):
                if step is None:
                    continue
                x_try, p_try = lay.unpack(u + step, x)
                val_t, g_t, hess_t, scale_t = evaluate(x_try, p_try)
                merit_t = float(np.sum((g_t / scale) ** 2))
                if np.isfinite(merit_t) and merit_t < merit:
                    accepted = True
                    break
            if not accepted:
                status = PathStatus.line_search_failed
                break

            x, p, val, g, hess, scale = x_try, p_try, val_t, g_t, hess_t, scale_t
            residual = float(np.max(np.abs(g) / scale))
            it += 1
        seconds = time.perf_counter() - begin
        message = {
            PathStatus.successful: f"normalised residual {residual:.2e} <= gtol {self.gtol:.0e} after {it} Newton steps",
            PathStatus.max_iterations: f"iteration cap reached after {it} steps (normalised residual {residual:.2e})",
            PathStatus.line_search_failed: f"no step reduces the residual of the discrete Hamilton equations ({residual:.2e})",
            PathStatus.factorisation_failed: "the Hessian of the Hamiltonian action is singular",
            PathStatus.nonfinite: "non-finite values in the Hamiltonian action",
        }[status]
        stats = {
            "hamiltonian_residual": residual,
            "discrete_hamiltonian_action": float(np.sum(val)),
        }
        common: dict[str, Any] = {
            "method": self.name,
            "status": status,
            "message": message,
            "iterations": it,
            "seconds": seconds,
            "el_tol": self.tolerance(),
            "grad": (float(np.linalg.norm(g)), float(np.max(np.abs(g)))),
            "stats": stats,
        }
        if not sde.degenerate:
            return finish(problem, x, t, **common)  # independent Lagrangian check
        H, dHdx = (
            np.asarray(a) for a in _energies(model, jnp.asarray(x), jnp.asarray(p), jnp.asarray(t))
        )
        h = np.diff(t)
        p_nodes = np.concatenate(
            [
                [p[0] + 0.5 * h[0] * dHdx[0]],
                p[:-1] - 0.5 * h[:-1, None] * dHdx[:-1],
                [p[-1] - 0.5 * h[-1] * dHdx[-1]],
            ]
        )
        e_scale = float(np.max(np.abs(H))) + float(np.max(np.abs(p))) * float(
            np.max(np.abs(np.diff(x, axis=0)) / h[:, None])
        )
        energy = ChargeTrace("energy", 0.5 * (t[:-1] + t[1:]), H, e_scale)
        charges = charges_from(x, t, p_nodes, energy)
        return finish(
            problem, x, t, continuous=(float(np.sum(val)), p_nodes, charges, residual), **common
        )

    @staticmethod
    def _steps(H: scipy.sparse.csc_matrix, g: np.ndarray, scale: np.ndarray, mu: float) -> Any:
        """Candidate steps: the Newton step with backtracking, then Levenberg–Marquardt steps on the
        scaled residual ``g/s`` (``(JᵀJ + μ diag(JᵀJ)) s = -Jᵀ r`` with ``J = S⁻¹H``, ``μ`` growing):
        descent directions of ``|g/s|²`` however indefinite ``H`` is (saddle-point systems)."""
        try:
            newton = scipy.sparse.linalg.splu(H).solve(-g)
        except RuntimeError:
            newton = None
        if newton is not None and np.all(np.isfinite(newton)):
            alpha = 1.0
            for _ in range(12):
                yield alpha * newton
                alpha *= 0.5
        J = scipy.sparse.diags(1.0 / scale) @ H
        JtJ = (J.T @ J).tocsc()
        d = scipy.sparse.diags(np.maximum(JtJ.diagonal(), 1e-300))
        rhs = -(J.T @ (g / scale))
        lam = mu
        for _ in range(30):
            try:
                yield scipy.sparse.linalg.splu((JtJ + lam * d).tocsc()).solve(rhs)
            except RuntimeError:
                yield None
            lam *= 10.0

    @staticmethod
    def _initial_momenta(sde: SDE, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``p_{k+½} = ½ D⁺(Δx/h - f(m))`` (pseudo-inverse: zero off the noise subspace)."""
        h = np.diff(t)
        out = np.empty((x.shape[0] - 1, x.shape[1]))
        for k in range(out.shape[0]):
            m = jnp.asarray(0.5 * (x[k] + x[k + 1]))
            tm = 0.5 * (t[k] + t[k + 1])
            v = (x[k + 1] - x[k]) / h[k] - np.asarray(sde.f(m, tm))
            out[k] = 0.5 * np.linalg.lstsq(np.asarray(sde.D(m, tm)), v, rcond=1e-12)[0]
        return out


def _regularised_start(
    problem: PathProblem, init: np.ndarray | None, solver: BlockNewton
) -> tuple[np.ndarray, np.ndarray]:
    """Continuation ``ε → 0`` through non-degenerate ``D + εP`` (see :class:`Hamiltonian`); returns
    the nodes and the interval momenta ``p_{k+½} = ½ (D+εP)^{-1}(Δx/h - f(m))`` of the last one."""
    sde = problem.sde
    assert sde.diffusion_matrix is not None and problem.t is not None
    D = np.asarray(sde.diffusion_matrix)
    w, V = np.linalg.eigh(D)
    null = V[:, w <= 1e-13 * np.max(w)]
    P = null @ null.T
    scale = float(np.max(w))
    x = start(problem, init)
    D_eps = D
    for k in range(0, 9):
        D_eps = D + scale * 10.0**-k * P
        reg = SDE(lambda z, t: sde.f(z, t), diffusion=D_eps, name=f"{sde.name} (regularised)")
        sub = PathProblem(
            reg, problem.x0, problem.x1, problem.t, None, problem.n, problem.lagrangian
        )
        res = solver.solve(sub, x)
        if np.all(np.isfinite(res.x)):
            x = res.x
    t, h = problem.t, np.diff(problem.t)
    m = 0.5 * (x[:-1] + x[1:])
    f = np.asarray(
        jax.vmap(lambda z, s: sde.f(z, s))(jnp.asarray(m), jnp.asarray(0.5 * (t[:-1] + t[1:])))
    )
    p = 0.5 * np.linalg.solve(D_eps, ((x[1:] - x[:-1]) / h[:, None] - f).T).T
    return x, p
