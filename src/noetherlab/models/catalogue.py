r"""Case-study models of the paper (Section 5) and the extra ones users ask for.

Each constructor returns an :class:`~noetherlab.sde.model.SDE` (float64, JAX-traceable) with the paper's
parameters as defaults (the values of the authors' notebooks, `john-vastola/noether-neurreps24`;
the reproduction report states each one):

* :func:`drift_diffusion` — ``dx = v dt + σ dW`` (decision bounds are handled by the sampler).
* :func:`ornstein_uhlenbeck` — ``dx = -K (x - μ) dt + G dW``, any drift matrix and ``D``.
* :func:`three_attractor` — the decision-memory network of Fig. 1c (Piet et al. 2017, modified).
* :func:`maier_stein` — ``u̇ = u - u³ - β u v²``, ``v̇ = -(1 + u²) v``.
* :func:`gaussian_ring_reverse` — reverse diffusion for a Gaussian ring with its exact score (Fig. 2),
  plus :func:`ring_score`, :func:`ring_log_density` and :func:`pf_ode_velocity`.
* :func:`noisy_rnn` / :func:`equivariant_rnn` — ``ẋ = -x + W φ(x) + b + noise``.
* :func:`memory_rnn` — a rate RNN with a rank-one memory and random coupling (two stable states):
  the high-dimensional benchmark family of the path solvers; :func:`memory_rnn_attractors`.
* :func:`kerr_parametric_oscillator` — the underdamped KPO of CriticalTransitions.jl's examples.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.validation import as_float_array, positive_float, positive_int
from noetherlab.sde.model import SDE
from noetherlab.sde.stationary import fixed_point_near

__all__ = [
    "drift_diffusion",
    "equivariant_rnn",
    "gaussian_ring_reverse",
    "kerr_parametric_oscillator",
    "maier_stein",
    "memory_rnn",
    "memory_rnn_attractors",
    "noisy_rnn",
    "ornstein_uhlenbeck",
    "pf_ode_velocity",
    "ring_log_density",
    "ring_score",
    "three_attractor",
]

Array = jax.Array


def drift_diffusion(v: float = 0.1, sigma: float = 1.0) -> SDE:
    """Drift–diffusion model ``dx = v dt + σ dW`` (1-D, ``D = σ²/2``). Fig. 1a: ``v = 0.1, σ = 1``."""
    sigma = positive_float(sigma, "sigma", "noise amplitude")
    v = float(v)
    return SDE(
        lambda x: jnp.full((1,), v),
        diffusion=0.5 * sigma**2,
        dim=1,
        name=f"drift_diffusion(v={v}, sigma={sigma})",
    )


def ornstein_uhlenbeck(K: Any = 1.0, D: Any = 1.0, mean: Any = None, dim: int | None = None) -> SDE:
    """``dx = -K (x - mean) dt + ...`` with drift matrix ``K`` (scalar, ``(N,)`` diagonal or ``(N, N)``)
    and diffusion tensor ``D`` (same forms). Fig. 1b: ``K = 1, D = I`` in 2-D."""
    K_arr = as_float_array(K, "K")
    D_arr = as_float_array(D, "D")
    if dim is None:
        dims = {a.shape[0] for a in (K_arr, D_arr) if a.ndim >= 1}
        if mean is not None:
            dims.add(as_float_array(mean, "mean").reshape(-1).size)
        if len(dims) > 1:
            raise ShapeError(
                "K/D/mean",
                f"have inconsistent dimensions {sorted(dims)}",
                "make them the same size",
            )
        dim = dims.pop() if dims else 2
    dim = positive_int(dim, "dim")
    Kmat = (
        K_arr * np.eye(dim) if K_arr.ndim == 0 else (np.diag(K_arr) if K_arr.ndim == 1 else K_arr)
    )
    if Kmat.shape != (dim, dim):
        raise ShapeError(
            "K",
            f"must be a scalar, ({dim},) or ({dim}, {dim}), got {K_arr.shape}",
            "pass a matching drift matrix",
        )
    mu = np.zeros(dim) if mean is None else as_float_array(mean, "mean").reshape(dim)
    Kj, muj = jnp.asarray(Kmat), jnp.asarray(mu)
    return SDE(
        lambda x: -Kj @ (x - muj),
        diffusion=D_arr if D_arr.ndim else float(D_arr),
        dim=dim,
        name="ornstein_uhlenbeck",
    )


def three_attractor(
    tau: float = 1.0,
    mu0: float = 1.25,
    A: float = 2.0,
    I: float = 0.9,  # noqa: E741
    c: float = 1.5,
    n: float = 0.01,
    sigma: float = 0.4,
) -> SDE:
    r"""Three-attractor decision network (Fig. 1c; Piet et al. 2017, modified), logistic sigmoid ``σ``:

    .. math:: τ\dot x = μ_0 + A σ\big(\tfrac{x-c}{n}\big) - I σ\big(\tfrac{y-c}{n}\big) - x,\quad
              τ\dot y = μ_0 + A σ\big(\tfrac{y-c}{n}\big) - I σ\big(\tfrac{x-c}{n}\big) - y,

    with noise ``sqrt(2/τ) σ_noise dW`` so ``D = σ_noise²/τ · I``. (``σ(z) = ½[tanh(z/2) + 1]``: the
    paper's tanh form with ``n' = 2n``.) Defaults are the paper's values."""
    for name, val in (("tau", tau), ("n", n), ("sigma", sigma)):
        positive_float(val, name)

    def drift(z: Array) -> Array:
        sx, sy = jax.nn.sigmoid((z[0] - c) / n), jax.nn.sigmoid((z[1] - c) / n)
        return jnp.stack(
            [(mu0 + A * sx - I * sy - z[0]) / tau, (mu0 + A * sy - I * sx - z[1]) / tau]
        )

    return SDE(drift, diffusion=sigma**2 / tau, dim=2, name="three_attractor")


def maier_stein(beta: float = 10.0, mu: float = 1.0, D: float = 1.0) -> SDE:
    """Maier–Stein system ``u̇ = u - u³ - β u v²``, ``v̇ = -μ (1 + u²) v`` with isotropic ``D``."""
    beta, mu = float(beta), float(mu)

    def drift(z: Array) -> Array:
        u, v = z[0], z[1]
        return jnp.stack([u - u**3 - beta * u * v**2, -mu * (1.0 + u**2) * v])

    return SDE(
        drift,
        diffusion=positive_float(D, "D", "diffusion"),
        dim=2,
        name=f"maier_stein(beta={beta})",
    )


# ---------------------------------------------------------------------------- Gaussian ring (Fig. 2)
def ring_log_density(x: Array, t: Array, R: float = 5.0, sigma0: float = 0.55) -> Array:
    r"""``log p(x, t)`` of a ring of radius ``R`` blurred by ``σ0`` and noised by ``dx = sqrt(2t) dW``:
    with ``s2 = σ0² + t²``, ``p = exp(-(|x|² + R²)/(2 s2)) I0(R|x|/s2) / (2π s2)`` (computed with the
    exponentially scaled ``i0e`` to avoid overflow)."""
    s2 = sigma0**2 + t**2
    r = jnp.sqrt(jnp.sum(x * x))
    a = R * r / s2
    return (
        -(r * r + R * R) / (2 * s2)
        + jnp.log(jax.scipy.special.i0e(a))
        + a
        - jnp.log(2 * jnp.pi * s2)
    )


@jax.custom_jvp
def bessel_ratio(a: Array) -> Array:
    r"""``h(a) = I1(a)/I0(a)`` for ``a ≥ 0`` (as ``i1e/i0e``, no overflow), with the derivative rule
    ``h' = 1 − h/a − h²`` (from ``I0' = I1``, ``I1' = I0 − I1/a``; ``h' → 1/2`` as ``a → 0``), so that
    every derivative is a polynomial in ``h`` and ``1/a`` instead of new Bessel series: the path
    solvers' second and third derivatives of the ring score stay small (compile in seconds)."""
    return jax.scipy.special.i1e(a) / jax.scipy.special.i0e(a)


@bessel_ratio.defjvp
def _bessel_ratio_jvp(primals: tuple[Array], tangents: tuple[Array]) -> tuple[Array, Array]:
    (a,), (da,) = primals, tangents
    h = bessel_ratio(a)
    small = jnp.abs(a) < 1e-4
    safe_a = jnp.where(small, 1.0, a)
    dh = jnp.where(small, 0.5 - 3.0 * a * a / 16.0, 1.0 - h / safe_a - h * h)
    return h, dh * da


def ring_score(x: Array, t: Array, R: float = 5.0, sigma0: float = 0.55) -> Array:
    r"""Exact score ``∇ log p = [(R h(a) - r)/s2] x/r`` with ``a = R r/s2``, ``h = I1/I0 = i1e/i0e``.
    At ``x = 0`` the score is 0 (its limit)."""
    s2 = sigma0**2 + t**2
    r2 = jnp.sum(x * x)
    safe_r = jnp.sqrt(jnp.where(r2 > 0, r2, 1.0))
    a = R * safe_r / s2
    h = bessel_ratio(a)
    return jnp.where(r2 > 0, (R * h - safe_r) / s2 / safe_r, 0.0) * x


def circle_mixture_score(
    x: Array, t: Array, modes: int = 8, R: float = 5.0, sigma0: float = 0.3
) -> Array:
    r"""Exact score of ``modes`` equal Gaussians at ``μ_j = R (cos 2πj/modes, sin 2πj/modes)``
    with variance ``σ0²`` under ``σ(t) = t``: with ``s2 = σ0² + t²`` and ``w = softmax_j(−|x −
    μ_j|²/(2 s2))``, ``∇ log p_t(x) = Σ_j w_j (μ_j − x)/s2`` (the data of
    :func:`~noetherlab.models.score_training.circle_mixture_data`)."""
    s2 = sigma0**2 + t**2
    angle = 2.0 * jnp.pi * jnp.arange(modes) / modes
    mu = R * jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    w = jax.nn.softmax(-jnp.sum((x - mu) ** 2, axis=1) / (2.0 * s2))
    return (w @ mu - x) / s2


def pf_ode_velocity(x: Array, t: Array, R: float = 5.0, sigma0: float = 0.55) -> Array:
    """Probability-flow ODE ``ẋ = -t s(x, t)`` (run from large to small ``t``)."""
    return -t * ring_score(x, t, R, sigma0)


def gaussian_ring_reverse(R: float = 5.0, sigma0: float = 0.55) -> SDE:
    r"""Reverse-time SDE of the ring diffusion, in the **reversed clock** ``u = -t`` (so that time
    increases along the generative direction, from noise at ``t = t_max`` to data at ``t = t_min``):

    .. math:: dx = 2t\, s(x, t)\, du + \sqrt{2t}\, dW_u, \qquad t = -u,\qquad D(u) = t = -u .

    Its Freidlin–Wentzell Lagrangian, rewritten in the forward clock ``t`` along a path
    ``x(t)`` (``dx/du = -ẋ``), is the *exact* reverse-diffusion Lagrangian

    .. math:: L = \frac{|\dot x + 2 t s|^2}{4t} = \frac{|\dot x|^2}{4t} + \dot x\cdot s + t|s|^2 ,

    whose cross term ``ẋ·s = d/dt log p - ∂_t log p`` the notebook drops (legitimate only if ``s``
    did not depend on ``t``). Use ``u`` grids in ``[-t_max, -t_min]`` with this model."""
    R, sigma0 = positive_float(R, "R", "radius"), positive_float(sigma0, "sigma0", "width")

    def drift(x: Array, u: Array) -> Array:
        t = -u
        return 2.0 * t * ring_score(x, t, R, sigma0)

    def diffusion(x: Array, u: Array) -> Array:
        return -u * jnp.ones(2)

    return SDE(
        drift, diffusion=diffusion, dim=2, name=f"gaussian_ring_reverse(R={R}, sigma0={sigma0})"
    )


# ---------------------------------------------------------------------------- noisy RNNs
def noisy_rnn(W: Any, b: Any = None, noise: float = 0.1, activation: str = "tanh") -> SDE:
    r"""Noisy rate RNN ``ẋ = -x + W φ(x) + b + sqrt(2D) η`` with ``D = noise·I`` and ``φ`` one of
    ``"tanh"``, ``"relu"``, ``"sigmoid"``, ``"linear"``."""
    W_arr = as_float_array(W, "W")
    if W_arr.ndim != 2 or W_arr.shape[0] != W_arr.shape[1]:
        raise ShapeError(
            "W", f"must be a square weight matrix, got shape {W_arr.shape}", "pass an (N, N) array"
        )
    N = W_arr.shape[0]
    b_arr = np.zeros(N) if b is None else as_float_array(b, "b").reshape(N)
    acts = {"tanh": jnp.tanh, "relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "linear": lambda z: z}
    if activation not in acts:
        raise InvalidArgumentError(
            "activation",
            f"must be one of {sorted(acts)}, got {activation!r}",
            "pick a supported activation",
        )
    phi = acts[activation]
    Wj, bj = jnp.asarray(W_arr), jnp.asarray(b_arr)
    return SDE(
        lambda x: -x + Wj @ phi(x) + bj,
        diffusion=positive_float(noise, "noise", "diffusion"),
        dim=N,
        name=f"noisy_rnn({activation}, N={N})",
    )


def equivariant_rnn(
    N: int = 2, kind: str = "rotation", gain: float = 2.0, rotation: float = 0.5, noise: float = 0.1
) -> SDE:
    r"""A noisy RNN whose weights make it equivariant, hence with a conserved Noether charge.

    ``kind="rotation"`` (``N = 2``): ``ẋ = -x + W φ(x)`` with ``W = gain·I + rotation·J`` and the
    radial activation ``φ(x) = tanh(|x|) x/|x|``; the drift commutes with every rotation, so the
    angular momentum is conserved (ring attractor at the radius where ``gain·tanh(r) = r``).
    ``kind="permutation"``: ``W = gain·(11^T/N)`` with ``φ = tanh`` elementwise — equivariant under
    every permutation of the units (whose generators are not continuous, so no extra charge: a
    useful contrast). Build the *broken* version with :func:`noisy_rnn` and a generic ``W``."""
    N = positive_int(N, "N", 2)
    if kind == "rotation":
        if N != 2:
            raise InvalidArgumentError(
                "N", "the rotation-equivariant RNN is two-dimensional", "pass N=2"
            )
        g, w = float(gain), float(rotation)
        Wm = jnp.array([[g, -w], [w, g]])

        def drift(x: Array) -> Array:
            r2 = jnp.sum(x * x)
            r = jnp.sqrt(jnp.where(r2 > 0, r2, 1.0))
            phi = jnp.where(r2 > 0, jnp.tanh(r) / r, 1.0) * x
            return -x + Wm @ phi

        return SDE(
            drift,
            diffusion=positive_float(noise, "noise", "diffusion"),
            dim=2,
            name="equivariant_rnn(rotation)",
        )
    if kind == "permutation":
        return noisy_rnn(float(gain) * np.ones((N, N)) / N, noise=noise, activation="tanh")
    raise InvalidArgumentError(
        "kind", f"must be 'rotation' or 'permutation', got {kind!r}", "pick one of them"
    )


def _memory_weights(
    N: int, gain: float, coupling: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = np.where(rng.random(N) < 0.5, -1.0, 1.0)
    W = gain * np.outer(u, u) / N + coupling * rng.standard_normal((N, N)) / np.sqrt(N)
    return W, u


def memory_rnn(
    N: int = 100, gain: float = 2.0, coupling: float = 0.5, noise: float = 0.05, seed: int = 0
) -> SDE:
    r"""Noisy rate RNN with a stored pattern: ``dx = (-x + W tanh x) dt + \sqrt{2D} dW``,

    .. math:: W = \frac{g}{N} u u^T + \frac{c}{\sqrt N} R,\qquad u_i = \pm 1,\ R_{ij} \sim N(0, 1),

    ``D = noise·I`` (seeded). For ``g = 2`` and weak coupling it has two stable states near
    ``±a u`` with ``a = g tanh a`` (``a ≈ 1.915``) — :func:`memory_rnn_attractors` — and a saddle
    near 0: the family of ``benchmarks/paths.py`` (``N = 10 … 1000``)."""
    N = positive_int(N, "N")
    W, _ = _memory_weights(N, float(gain), float(coupling), int(seed))
    Wj = jnp.asarray(W)
    return SDE(
        lambda x: -x + Wj @ jnp.tanh(x),
        diffusion=positive_float(noise, "noise", "diffusion"),
        dim=N,
        name=f"memory_rnn(N={N}, seed={seed})",
    )


def memory_rnn_attractors(
    N: int = 100, gain: float = 2.0, coupling: float = 0.5, noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The two stable states ``(x_-, x_+)`` of :func:`memory_rnn` (Newton from ``∓a u``)."""
    sde = memory_rnn(N, gain, coupling, noise, seed)
    _, u = _memory_weights(N, float(gain), float(coupling), int(seed))
    a = 1.0
    for _ in range(100):  # a = g tanh a
        a = float(gain) * np.tanh(a)
    lo, ok_lo = fixed_point_near(sde, -a * u)
    hi, ok_hi = fixed_point_near(sde, a * u)
    if not (ok_lo and ok_hi):
        raise InvalidArgumentError(
            "gain/coupling",
            "Newton did not find the two memory states from ±a u",
            "use a larger gain or a weaker coupling",
        )
    return lo, hi


def kerr_parametric_oscillator(
    gamma: float = 1 / 295,
    omega: float = 1.0,
    omega0: float = 1.0,
    alpha: float = -1.0,
    D: float = 0.5,
) -> SDE:
    r"""The Kerr parametric oscillator of CriticalTransitions.jl's sgMAM examples (drift in the
    rotating frame ``(u, v)``, ``λ = (3/1.21)·2/295``): an underdamped 2-D system (damping ``γ``)
    whose stable foci at about ``±(0.0209, -0.0991)`` are joined through a saddle at 0 by instantons
    that spiral. ``D = 1/2`` matches the peer's normalisation (``H = ½|p|² + p·f``)."""
    lam = 3 / 1.21 * 2 / 295
    g, w, w0, a = float(gamma), float(omega), float(omega0), float(alpha)

    def drift(z: Array) -> Array:
        u, v = z[0], z[1]
        r2 = u**2 + v**2
        fu = (-4 * g * w * u - 2 * lam * v - 4 * (w0 - w**2) * v - 3 * a * v * r2) / (8 * w)
        fv = (-4 * g * w * v - 2 * lam * u + 4 * (w0 - w**2) * u + 3 * a * u * r2) / (8 * w)
        return jnp.stack([fu, fv])

    return SDE(
        drift,
        diffusion=positive_float(D, "D", "diffusion"),
        dim=2,
        name="kerr_parametric_oscillator",
    )
