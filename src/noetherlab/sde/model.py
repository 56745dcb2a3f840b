r"""Itô stochastic differential equations ``dx = f(x, t) dt + G(x, t) dW``.

The model object every other part of noetherlab works with. The noise enters only through the
diffusion tensor

.. math::  D(x, t) = \tfrac12\, G(x, t)\, G(x, t)^T  \qquad (N \times N,\ \text{symmetric positive definite}),

which the user gives either directly (``diffusion=``: a scalar ``d`` meaning ``d I``, a diagonal
vector, a full matrix, or a function ``D(x, t)``) or through the noise matrix (``noise=``: a
constant ``N x M`` matrix or a function ``G(x, t)``).

Drifts and diffusion functions are plain JAX-traceable Python functions of ``x`` (shape ``(N,)``)
and optionally ``t`` (a scalar). Time-independent functions may take ``x`` only. Everything is
float64.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import (
    InvalidArgumentError,
    NonFiniteError,
    NotPositiveDefiniteError,
    ShapeError,
)
from noetherlab._core.linalg import spd_inverse
from noetherlab._core.resources import check_memory
from noetherlab._core.traced import TracedFunction, trace_function
from noetherlab._core.validation import as_float_array, positive_int

__all__ = ["SDE", "require_sde"]

Array = jax.Array

_TIME_NAMES = ("t", "time", "s", "tau")
_SYMMETRY_RTOL = 1e-10
_PD_RTOL = 1e-13


def _takes_time(fn: Callable[..., Any], name: str) -> bool:
    """True if ``fn`` accepts ``(x, t)``, False if it accepts ``(x)`` only."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True  # builtins / ufuncs: try (x, t) and fall back in the shape probe
    positional = [
        p
        for p in sig.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    required = [p for p in positional if p.default is inspect.Parameter.empty]
    if any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values()):
        return True
    names = [p.name for p in positional]
    if len(names) >= 2 and names[0] in _TIME_NAMES and names[1] not in _TIME_NAMES:
        raise InvalidArgumentError(
            name,
            f"takes ({names[0]}, {names[1]}), i.e. time first; noetherlab calls it as {name}(x, t)",
            f"write it as `def {name}({names[1]}, {names[0]}): ...` (state first, then time)",
        )
    if len(required) > 2 or not positional:
        raise InvalidArgumentError(
            name,
            f"must be a function of x or of (x, t); its signature is {sig}",
            "write it as `def f(x, t): ...` or `def f(x): ...`",
        )
    return len(positional) >= 2


def _with_time(fn: Callable[..., Any], takes_time: bool) -> Callable[[Array, Array], Array]:
    if takes_time:
        return fn
    return lambda x, t: fn(x)


def _trace(fn: Callable[..., Any], dim: int, name: str) -> tuple[TracedFunction, tuple[int, ...]]:
    """Trace ``fn(x, t)`` at ``x: (dim,)``, ``t: ()`` (float64): parameters become data."""
    x = jax.ShapeDtypeStruct((dim,), jnp.float64)
    t = jax.ShapeDtypeStruct((), jnp.float64)
    try:
        traced, out = trace_function(fn, x, t)
    except Exception as exc:  # user code: report whatever went wrong, with the call made
        raise InvalidArgumentError(
            name,
            f"raised {type(exc).__name__} when called with x of shape ({dim},) and a scalar t: {exc}",
            "make the function JAX-traceable (use jax.numpy, no Python branching on array values) "
            "and return one array",
        ) from exc
    return traced, tuple(out.shape)


def _check_spd(D: np.ndarray, name: str, where: str = "", allow_singular: bool = False) -> int:
    """Check that ``D`` is symmetric positive definite (or, with ``allow_singular``, positive
    semi-definite); return its numerical rank."""
    scale = float(np.max(np.abs(D))) if D.size else 0.0
    if not np.all(np.isfinite(D)):
        raise NonFiniteError(
            f"argument `{name}`: the diffusion tensor is not finite{where}. Fix: check the diffusion/noise values."
        )
    asym = float(np.max(np.abs(D - D.T))) if D.size else 0.0
    if asym > _SYMMETRY_RTOL * max(scale, 1e-300):
        raise NotPositiveDefiniteError(
            name,
            f"the diffusion tensor must be symmetric{where}, but max|D - D^T| = {asym:.3g}",
            "pass a symmetric matrix, or give the noise matrix G instead (D = G G^T / 2)",
        )
    eig, vec = np.linalg.eigh(0.5 * (D + D.T))
    tol = _PD_RTOL * max(abs(eig[-1]), 1e-300)
    if eig[-1] <= 0.0:
        raise NotPositiveDefiniteError(
            name,
            f"the diffusion tensor is zero or negative{where}",
            "give the noise a positive size",
        )
    if eig[0] < -tol or (eig[0] <= tol and not allow_singular):
        raise NotPositiveDefiniteError(
            name,
            f"the diffusion tensor must be positive {'semi-' if allow_singular else ''}definite{where}, "
            f"but its smallest eigenvalue is {eig[0]:.6g} (eigenvector {np.round(vec[:, 0], 6).tolist()})",
            "make every noise direction positive; noise on a subspace only (e.g. Langevin dynamics) "
            "is supported for a constant D or G: the Hamiltonian path solvers need no D^{-1}",
        )
    return int(np.sum(eig > tol))


class _Label:
    """A model's name. Labels never enter compiled code, so all labels compare equal: renaming a
    model (or building the same model twice under different names) does not recompile."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Label)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return repr(self.text)


class SDE(eqx.Module):
    r"""An Itô SDE ``dx = f(x, t) dt + G(x, t) dW`` with diffusion tensor ``D = G G^T / 2``.

    Args:
        drift: ``f(x, t) -> (N,)`` or ``f(x) -> (N,)`` (JAX-traceable; state first, then time).
            A 1-D model's drift may return a scalar.
        diffusion: ``D`` as a scalar (``d I``), a diagonal vector ``(N,)``, a full ``(N, N)``
            symmetric positive (semi-)definite matrix, or a function ``D(x, t)`` / ``D(x)``
            returning any of these. Give exactly one of ``diffusion`` and ``noise``.
        noise: the noise matrix ``G``: a scalar (``g I``), a constant ``(N, M)`` matrix, or a
            function ``G(x, t)`` / ``G(x)``; then ``D = G G^T / 2``.
        dim: the state dimension ``N``. Needed only when it cannot be read off a matrix or
            vector argument.
        name: a label used in reports and saved files.

    **Compiled once.** The drift and diffusion functions are traced at construction; their code is
    the compilation key and every array or scalar they close over is data (see
    :mod:`noetherlab._core.traced`), so a new instance of the same model — e.g. each value of a
    parameter sweep — reuses the compiled solvers.

    **Degenerate noise.** A constant ``D`` that is only positive *semi*-definite (noise on a
    subspace, e.g. Langevin dynamics ``dq = v dt, dv = (-V'(q) - γ v) dt + σ dW``) is accepted:
    ``degenerate`` is then True, the Lagrangian ``¼ (ẋ-f)^T D^{-1} (ẋ-f)`` does not exist and the
    Hamiltonian solvers (``H = p^T D p + p^T f``, no ``D^{-1}``) compute the paths.

    Raises:
        InvalidArgumentError / ShapeError: wrong signatures (including time-first ``f(t, x)``) or
            shapes, with the fix.
        NotPositiveDefiniteError: a ``D`` that is not symmetric positive semi-definite (the message
            names the smallest eigenvalue and its eigenvector).

    Example:
        >>> import jax.numpy as jnp
        >>> ou = SDE(lambda x: -x, diffusion=1.0, dim=2)   # 2D Ornstein-Uhlenbeck, D = I
        >>> ou.dim
        2
    """

    dim: int = eqx.field(static=True)
    time_dependent: bool = eqx.field(static=True)
    degenerate: bool = eqx.field(static=True)
    label: _Label = eqx.field(static=True)
    drift: TracedFunction
    diffusion_function: TracedFunction | None
    noise_function: TracedFunction | None
    diffusion_matrix: Array | None
    diffusion_inverse: Array | None
    noise_matrix: Array | None
    divergence_probes: Array | None

    def __init__(
        self,
        drift: Callable[..., Any],
        diffusion: Any = None,
        *,
        noise: Any = None,
        dim: int | None = None,
        name: str | None = None,
    ) -> None:
        if not callable(drift):
            raise InvalidArgumentError(
                "drift",
                f"must be a function f(x, t) or f(x), got {type(drift).__name__}",
                "pass a Python function",
            )
        if (diffusion is None) == (noise is None):
            raise InvalidArgumentError(
                "diffusion/noise",
                "give exactly one of `diffusion` (the tensor D) and `noise` (the matrix G, D = G G^T/2)",
                "e.g. SDE(f, diffusion=0.5, dim=2) or SDE(f, noise=jnp.eye(2))",
            )
        if dim is not None:
            dim = positive_int(dim, "dim")
            check_memory(
                8.0 * dim * 16,
                "dim",
                f"a {dim}-dimensional model (its probe states alone)",
                "pass the dimension of the model's state",
            )
        kind = "diffusion" if diffusion is not None else "noise"
        spec = diffusion if diffusion is not None else noise
        given = _noise_functions if callable(spec) else _noise_constants
        noise_model = given(spec, kind, dim)
        dim = noise_model.dim
        drift_takes_t = _takes_time(drift, "drift")
        drift_fn = _drift_function(_with_time(drift, drift_takes_t), dim)
        D = noise_model.D
        self.dim = dim
        self.label = _Label(str(name or getattr(drift, "__name__", "sde")))
        self.time_dependent = bool(drift_takes_t or noise_model.takes_time)
        self.degenerate = noise_model.rank is not None and noise_model.rank < dim
        self.drift, _ = _trace(drift_fn, dim, "drift")
        self.diffusion_function = noise_model.diffusion_function
        self.noise_function = noise_model.noise_function
        self.diffusion_matrix = None if D is None else jnp.asarray(D)
        self.diffusion_inverse = (
            None if D is None or self.degenerate else jnp.asarray(np.linalg.inv(D))
        )
        self.noise_matrix = None if noise_model.G is None else jnp.asarray(noise_model.G)
        self.divergence_probes = None

    # ------------------------------------------------------------------ evaluation (traceable)
    @property
    def name(self) -> str:
        """The model's label (reports and saved files)."""
        return self.label.text

    @property
    def constant_diffusion(self) -> bool:
        """True when ``D`` is a constant matrix (neither state- nor time-dependent)."""
        return self.diffusion_matrix is not None

    def f(self, x: Array, t: Array | float = 0.0) -> Array:
        """Drift ``f(x, t)``, shape ``(N,)``."""
        return self.drift(x, jnp.asarray(t, dtype=jnp.float64))

    def D(self, x: Array, t: Array | float = 0.0) -> Array:
        """Diffusion tensor ``D(x, t) = G G^T / 2``, shape ``(N, N)``."""
        if self.diffusion_matrix is not None:
            return self.diffusion_matrix
        assert self.diffusion_function is not None
        return self.diffusion_function(x, jnp.asarray(t, dtype=jnp.float64))

    def D_inv(self, x: Array, t: Array | float = 0.0) -> Array:
        """``D(x, t)^{-1}``, shape ``(N, N)`` (not defined for degenerate noise)."""
        if self.diffusion_inverse is not None:
            return self.diffusion_inverse
        return spd_inverse(self.D(x, t))

    def G(self, x: Array, t: Array | float = 0.0) -> Array:
        """A noise matrix with ``G G^T / 2 = D`` (the user's ``G`` if given, else ``sqrt(2) chol(D)``,
        or the symmetric square root ``sqrt(2 D)`` for degenerate ``D``)."""
        if self.noise_matrix is not None:
            return self.noise_matrix
        if self.noise_function is not None:
            return self.noise_function(x, jnp.asarray(t, dtype=jnp.float64))
        D = self.D(x, t)
        if self.degenerate:
            w, V = jnp.linalg.eigh(D)
            return (V * jnp.sqrt(2.0 * jnp.maximum(w, 0.0))) @ V.T
        return jnp.sqrt(2.0) * jnp.linalg.cholesky(D)

    def divergence(self, x: Array, t: Array | float = 0.0) -> Array:
        r"""``\nabla \cdot f(x, t)``, a scalar: the trace of the drift Jacobian (``N``
        Jacobian–vector products), or, on a model from :meth:`with_hutchinson_divergence`, the
        mean of ``zᵀ J z`` over its fixed probes."""
        t = jnp.asarray(t, dtype=jnp.float64)
        if self.divergence_probes is not None:
            return jnp.mean(
                probe_quadratic_forms(lambda y: self.drift(y, t), x, self.divergence_probes)
            )
        return jnp.trace(jax.jacfwd(self.drift)(x, t))

    def with_hutchinson_divergence(self, probes: int = 16, key: int = 0) -> SDE:
        r"""This model with ``∇·f`` replaced by Hutchinson's estimator over ``probes`` Rademacher
        vectors ``z_j`` drawn once (seed ``key``) and used at every state and time:

        .. math:: \widehat{∇·f}(x, t) = \frac1k \sum_j z_jᵀ J(x, t) z_j .

        ``k`` Jacobian–vector products instead of ``N`` per evaluation. Fixed probes keep the
        Onsager–Machlup action a smooth deterministic function of the path (its minimiser is
        what the path solvers compute), unbiased over the draw of the probes, with variance
        ``(1/k) Σ_{i≠l} (J_il² + J_il J_li)`` at each state (zero for a diagonal ``J``);
        :func:`~noetherlab.sde.divergence.hutchinson_divergence` measures the standard error
        at given states. Everything else (drift, noise, compiled structure apart from the
        probes) is unchanged; a new ``key`` or a new model of the same shape does not recompile.
        """
        k = positive_int(probes, "probes")
        seed = positive_int(key, "key", 0)
        z = jax.random.rademacher(jax.random.PRNGKey(seed), (k, self.dim)).astype(jnp.float64)
        out = eqx.tree_at(lambda s: s.divergence_probes, self, z, is_leaf=lambda v: v is None)
        # the label is a static field (tree_at cannot reach it) and never enters compiled code
        object.__setattr__(out, "label", _Label(f"{self.name} (Hutchinson ∇·f, {k} probes)"))
        return out

    def drift_at(self, x: Any, t: Any = 0.0) -> np.ndarray:
        """``f`` at many states: ``x (m, N)``, times ``t`` (scalar or ``(m,)``) -> ``(m, N)``
        (one compiled, vectorised evaluation)."""
        x = jnp.asarray(x, dtype=jnp.float64).reshape(-1, self.dim)
        t = jnp.broadcast_to(jnp.asarray(t, dtype=jnp.float64), (x.shape[0],))
        return np.asarray(_batched_drift(self, x, t))

    # ------------------------------------------------------------------ checks (eager)
    def check_states(self, x: Any, t: Any, what: str = "path") -> None:
        """Validate the model *at use*: finite drift and SPD ``D`` at the states ``x`` (shape ``(m, N)``)
        and times ``t`` (shape ``(m,)``). Raises with the first offending point named."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.dim)
        t = np.broadcast_to(np.asarray(t, dtype=np.float64), (x.shape[0],))
        fx = np.asarray(_batched_drift(self, jnp.asarray(x), jnp.asarray(t)))
        bad = ~np.all(np.isfinite(fx), axis=1)
        if np.any(bad):
            k = int(np.argmax(bad))
            raise NonFiniteError(
                f"model `{self.name}`: the drift is not finite at {what} point {k}: x = "
                f"{x[k].tolist()}, t = {t[k]!r} (f = {fx[k].tolist()}). Fix: keep the {what} away "
                "from singularities of the drift, or regularise it."
            )
        if self.diffusion_matrix is None:
            Ds = np.asarray(_batched_D(self, jnp.asarray(x), jnp.asarray(t)))
            for k in range(Ds.shape[0]):
                _check_spd(
                    Ds[k],
                    "diffusion",
                    where=f" at {what} point {k} (x = {x[k].tolist()}, t = {t[k]!r})",
                )

    def diffusion_is_state_independent(self, n_probes: int = 5, seed: int = 0) -> bool:
        """True if ``D`` does not depend on ``x`` (exactly for constant ``D``; by probing ``∂D/∂x``
        at random states otherwise)."""
        if self.diffusion_matrix is not None:
            return True
        rng = np.random.default_rng(seed)
        xs = jnp.asarray(rng.standard_normal((n_probes, self.dim)))
        ts = jnp.asarray(rng.uniform(0.1, 1.0, n_probes))
        jac = jax.vmap(jax.jacfwd(lambda x, t: self.D(x, t)))(xs, ts)
        return bool(np.max(np.abs(np.asarray(jac))) == 0.0)

    def with_diffusion(self, diffusion: Any) -> SDE:
        """The same drift with another diffusion tensor ``D`` (any form ``SDE`` accepts, e.g. a
        scalar ``d`` for ``d I``): the model at another noise level."""
        drift = (lambda x, t: self.f(x, t)) if self.time_dependent else (lambda x: self.f(x))
        return SDE(drift, diffusion=diffusion, dim=self.dim, name=self.name)

    def __repr__(self) -> str:
        kind = "constant D" if self.constant_diffusion else "D(x, t)"
        if self.degenerate:
            kind += " (degenerate)"
        return (
            f"SDE(name={self.name!r}, dim={self.dim}, {kind}, time_dependent={self.time_dependent})"
        )


class _Noise(NamedTuple):
    """The noise of a model as given: constant matrices ``D`` (and ``G``) with the rank of ``D``,
    or traced functions ``D(x, t)`` (and ``G(x, t)``)."""

    dim: int
    D: np.ndarray | None = None
    G: np.ndarray | None = None
    rank: int | None = None
    diffusion_function: TracedFunction | None = None
    noise_function: TracedFunction | None = None
    takes_time: bool = False


def _noise_functions(spec: Callable[..., Any], kind: str, dim: int | None) -> _Noise:
    """``diffusion=D(x[, t])`` or ``noise=G(x[, t])``: traced, with their output shapes checked."""
    takes_t = _takes_time(spec, kind)
    if dim is None:
        raise InvalidArgumentError(
            "dim", f"cannot infer the state dimension when `{kind}` is a function", "pass dim=N"
        )
    wrapped = _with_time(spec, takes_t)
    _, out_shape = _trace(wrapped, dim, kind)
    if kind == "diffusion":
        if out_shape not in ((), (dim,), (dim, dim)):
            raise ShapeError(
                "diffusion",
                f"D(x, t) must return a scalar, a ({dim},) diagonal or a ({dim}, {dim}) matrix; got shape {out_shape}",
                "return the diffusion tensor of the state passed in",
            )
        diffusion_fn, _ = _trace(_normalise_D(wrapped, dim), dim, kind)
        return _Noise(dim, diffusion_function=diffusion_fn, takes_time=takes_t)
    if (len(out_shape) != 2 or out_shape[0] != dim) and out_shape != ():
        raise ShapeError(
            "noise",
            f"G(x, t) must return a ({dim}, M) matrix or a scalar; got shape {out_shape}",
            "return the noise matrix of the state passed in",
        )
    noise_fn, _ = _trace(_normalise_G(wrapped, dim), dim, kind)
    diffusion_fn, _ = _trace(_D_from_G(_normalise_G(wrapped, dim)), dim, kind)
    return _Noise(dim, diffusion_function=diffusion_fn, noise_function=noise_fn, takes_time=takes_t)


def _noise_constants(spec: Any, kind: str, dim: int | None) -> _Noise:
    """A constant ``D`` (scalar, diagonal or matrix) or ``G`` (scalar or matrix), checked
    symmetric positive semi-definite; the state dimension read off it where ``dim`` is not given."""
    arr = as_float_array(spec, kind)
    if arr.ndim == 0:
        if dim is None:
            raise InvalidArgumentError(
                "dim",
                f"cannot infer the state dimension from a scalar `{kind}`",
                f"pass dim=N (e.g. SDE(f, {kind}={float(arr)}, dim=1))",
            )
        mat = float(arr) * np.eye(dim)
    elif arr.ndim == 1:
        if kind == "noise":
            raise ShapeError(
                "noise",
                f"a noise vector of shape {arr.shape} is ambiguous",
                "pass a (N, M) matrix, e.g. jnp.diag(g)",
            )
        mat = np.diag(arr)
    elif arr.ndim == 2:
        mat = arr
    else:
        raise ShapeError(
            kind, f"must be a scalar, vector or matrix, got shape {arr.shape}", "pass a 2-D matrix"
        )
    if dim is not None and mat.shape[0] != dim:
        raise ShapeError(
            kind, f"has {mat.shape[0]} rows but dim={dim}", "make dim match the matrix"
        )
    dim = mat.shape[0]
    if kind == "diffusion" and mat.shape != (dim, dim):
        raise ShapeError(
            "diffusion", f"must be square, got shape {mat.shape}", "pass an (N, N) matrix"
        )
    G = None if kind == "diffusion" else mat
    D = mat if G is None else 0.5 * G @ G.T
    return _Noise(dim, D=D, G=G, rank=_check_spd(D, kind, allow_singular=True))


def _drift_function(
    drift: Callable[[Array, Array], Array], dim: int
) -> Callable[[Array, Array], Array]:
    """``f(x, t)`` checked to return ``(dim,)`` (a 1-D model may return a scalar or ``(1,)``)."""
    _, out_shape = _trace(drift, dim, "drift")
    if out_shape not in ((dim,),) and not (dim == 1 and out_shape in ((), (1,))):
        raise ShapeError(
            "drift",
            f"must return an array of shape ({dim},) for a {dim}-dimensional state, got shape {out_shape}",
            "return f(x) with the same shape as x",
        )
    if out_shape == (dim,):
        return drift
    return lambda x, t: jnp.reshape(drift(x, t), (1,))


def _normalise_D(fn: Callable[[Array, Array], Array], dim: int) -> Callable[[Array, Array], Array]:
    def D(x: Array, t: Array) -> Array:
        out = jnp.asarray(fn(x, t), dtype=jnp.float64)
        if out.ndim == 0:
            return out * jnp.eye(dim)
        if out.ndim == 1:
            return jnp.diag(out)
        return out

    return D


def _normalise_G(fn: Callable[[Array, Array], Array], dim: int) -> Callable[[Array, Array], Array]:
    def G(x: Array, t: Array) -> Array:
        out = jnp.asarray(fn(x, t), dtype=jnp.float64)
        if out.ndim == 0:
            return out * jnp.eye(dim)
        return out

    return G


def _D_from_G(G: Callable[[Array, Array], Array]) -> Callable[[Array, Array], Array]:
    def D(x: Array, t: Array) -> Array:
        g = G(x, t)
        return 0.5 * g @ g.T

    return D


@eqx.filter_jit
def _batched_drift(sde: SDE, x: Array, t: Array) -> Array:
    return jax.vmap(sde.f)(x, t)


@eqx.filter_jit
def _batched_D(sde: SDE, x: Array, t: Array) -> Array:
    return jax.vmap(sde.D)(x, t)


def require_sde(sde: Any, name: str = "sde") -> SDE:
    """``sde`` itself when it is an :class:`SDE`, else a clear error naming ``name``."""
    if not isinstance(sde, SDE):
        raise InvalidArgumentError(
            name,
            f"must be a model (an SDE), got {type(sde).__name__}",
            "build one with noetherlab.SDE(drift, diffusion=..., dim=...) or take one from "
            "noetherlab.models",
        )
    return sde


def probe_quadratic_forms(fn: Callable[[Array], Array], x: Array, z: Array) -> Array:
    """``z_j ᵀ J z_j`` for each row ``z_j`` of ``z`` (``(k, N)``), ``J`` the Jacobian of ``fn`` at
    ``x``: one linearisation, ``k`` Jacobian–vector products (Hutchinson's samples)."""
    _, jvp = jax.linearize(fn, x)
    return jax.vmap(lambda v: jnp.dot(v, jvp(v)))(z)
