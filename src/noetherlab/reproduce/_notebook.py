r"""The authors' notebook computations, re-implemented exactly (paper mode), in float32 like torch.

Fig. 1c (``fig1-decisions.ipynb``): ``t = linspace(0, T, 50)``, straight-line initial path, the
"action" is the *mean* over the 49 intervals of ``|ż_k − f(z_k)|²/2`` with the forward difference
``ż_k = (z_{k+1} − z_k)/Δt`` (left-point rule), minimised by plain gradient descent with the endpoint
gradients zeroed: 60 000 steps of size 1e−2 (T = 40) or 1e−3 (T = 1). The notebook prints the action
at steps ``0, 1156, 4761, …, 59536``.

Fig. 2 (``fig2-diffusion.ipynb``): ``t = logspace(−0.4, 1.5, 50)``; a path in polar coordinates
``(r, θ)``, linear in ``t`` from ``(R, θ0)`` to ``(2R, π/2)``; action
``Σ_k L(z_k, ż_k, t_k) Δt_k`` with the notebook Lagrangian

.. math:: L = \frac{\dot r^2 + r^2\dot θ^2}{4(t+q)}
          + t\Big(\frac{R\, I_1(a)/(I_0(a) + q) − r}{σ_0^2 + t^2}\Big)^2,\quad a = \frac{R r}{σ_0^2 + t^2 + q},

``q = 10^{-3}``, unscaled Bessel functions; gradient descent with step 2e−4 for 60 000 steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
F32 = jnp.float32

FIG1C_PRINT_STEPS = (0, 1156, 4761, 10816, 19321, 30276, 43681, 59536)


def _gradient_descent(
    action: Callable[[Array], Array], x0: Array, step: float, n_steps: int
) -> tuple[Array, Array]:
    """``x ← x − step ∇S(x)`` with the endpoint rows frozen; returns the final path and the action
    evaluated *before* each update (what the notebooks print)."""
    mask = jnp.ones_like(x0).at[0].set(0).at[-1].set(0)
    vg = jax.value_and_grad(action)

    def body(x: Array, _: None) -> tuple[Array, Array]:
        s, g = vg(x)
        return x - jnp.asarray(step, x.dtype) * g * mask, s

    return jax.lax.scan(body, x0, None, length=n_steps)


def fig1c_action(drift: Callable[[Array], Array], t: Array) -> Callable[[Array], Array]:
    """The notebook's Fig. 1c "action": mean over intervals of ``|ż − f(z)|²/2`` (left point)."""
    dt = t[1:] - t[:-1]

    def action(x: Array) -> Array:
        xdot = (x[1:] - x[:-1]) / dt[:, None]
        return jnp.mean(jnp.sum((xdot - jax.vmap(drift)(x[:-1])) ** 2, axis=1) / 2)

    return action


def three_attractor_drift_f32(z: Array) -> Array:
    """The Fig. 1c drift in float32 (tau = 1, mu0 = 1.25, c = 1.5, A = 2, I = 0.9, n = 0.01)."""
    sx, sy = jax.nn.sigmoid((z[0] - 1.5) / 0.01), jax.nn.sigmoid((z[1] - 1.5) / 0.01)
    return jnp.stack([1.25 + 2.0 * sx - 0.9 * sy - z[0], 1.25 + 2.0 * sy - 0.9 * sx - z[1]])


def fig1c_paths(T: float, n_steps: int = 60_000, points: int = 50) -> dict[str, np.ndarray]:
    """Run the notebook's Fig. 1c optimisation for transit time ``T`` (step 1e−2 if T > 10 else 1e−3)."""
    step = 1e-2 if T > 10 else 1e-3
    t = jnp.linspace(0.0, T, points, dtype=F32)
    s = jnp.linspace(0.0, 1.0, points, dtype=F32)[:, None]
    x0 = (1 - s) * jnp.asarray([3.0, 0.1], F32) + s * jnp.asarray([0.1, 3.0], F32)
    x, hist = jax.jit(_gradient_descent, static_argnums=(0, 3))(
        fig1c_action(three_attractor_drift_f32, t), x0, step, n_steps
    )
    return {
        "t": np.asarray(t, float),
        "x": np.asarray(x, float),
        "history": np.asarray(hist, float),
    }


def ring_notebook_lagrangian(
    R: float = 5.0, sigma0: float = 0.55, q: float = 1e-3
) -> Callable[..., Array]:
    """``L(z, ż, t)`` of the Fig. 2 notebook for ``z = (r, θ)`` (see module docstring)."""

    def L(z: Array, zdot: Array, t: Array) -> Array:
        r, rdot, thdot = z[0], zdot[0], zdot[1]
        s2 = sigma0**2 + t**2
        a = R * r / (s2 + q)
        i0, i1 = jax.scipy.special.i0(a), jax.scipy.special.i1(a)
        kinetic = (rdot**2 + (r * thdot) ** 2) / (4 * (t + q))
        return kinetic + t * ((i1 * R / (i0 + q) - r) / s2) ** 2

    return L


def fig2_action(
    t: Array, R: float = 5.0, sigma0: float = 0.55, q: float = 1e-3
) -> Callable[[Array], Array]:
    """Notebook Fig. 2 action ``Σ L(z_k, (z_{k+1} − z_k)/Δt_k, t_k) Δt_k`` of a polar path ``(K+1, 2)``."""
    L = jax.vmap(ring_notebook_lagrangian(R, sigma0, q))
    dt = t[1:] - t[:-1]

    def action(z: Array) -> Array:
        zdot = (z[1:] - z[:-1]) / dt[:, None]
        return jnp.sum(L(z[:-1], zdot, t[:-1]) * dt)

    return action


def fig2_grid(points: int = 50, dtype: type = F32) -> Array:
    return jnp.logspace(-0.4, 1.5, points, dtype=dtype)


def fig2_initial_path(theta0: float, t: Array, R: float = 5.0) -> Array:
    """Straight line in ``(r, θ)``, linear in ``t``, from ``(R, θ0)`` at ``t[0]`` to ``(2R, π/2)``."""
    dtype = t.dtype
    s = ((t - t[0]) / (t[-1] - t[0]))[:, None]
    return (1 - s) * jnp.asarray([R, theta0], dtype) + s * jnp.asarray([2 * R, np.pi / 2], dtype)


def fig2_paths(theta0: float, n_steps: int = 60_000, step: float = 2e-4) -> dict[str, Any]:
    """Run the notebook's Fig. 2 optimisation from the straight polar line starting at angle ``θ0``."""
    t = fig2_grid()
    x, hist = jax.jit(_gradient_descent, static_argnums=(0, 3))(
        fig2_action(t), fig2_initial_path(theta0, t), step, n_steps
    )
    S = fig2_action(t)
    return {
        "t": np.asarray(t, float),
        "z": np.asarray(x, float),
        "history": np.asarray(hist, float),
        "printed_step0": float(S(_gradient_descent(S, fig2_initial_path(theta0, t), step, 1)[0])),
    }
