r"""Noether charges of the reactive trajectories of a splitting run, against the instanton's.

The seed paper's claim at finite noise: as ``D = ε D₀`` decreases, the reactive trajectories
``A → B`` concentrate on the most likely path, and so do their charges. A sampled trajectory is
rough (its velocity is white noise), so its charges are evaluated on the trajectory coarse-grained
to a time step ``Δt`` (``window``), with the discrete charges of :mod:`noetherlab.noether.charges`,
averaged over each trajectory and reported in noise-free units (``ε × charge``, the charges of the
Lagrangian with ``D₀``; the instanton's are independent of ``ε`` in these units). The energy
``E = ¼ ẋᵀD⁻¹ẋ − ¼ fᵀD⁻¹f`` of a coarse-grained diffusion carries the quadratic variation of the
noise, ``E[¼ ΔxᵀD⁻¹Δx]/Δt² = N/(2Δt)``, which is subtracted:

.. math:: \bar E = ε\Bigl(\langle E_k\rangle - \frac{N}{2Δt}\Bigr), \qquad
          \bar L_{ij} = ε\,\langle x_i p_j - p_i x_j\rangle .

Their weighted distribution (the AMS weights) is compared with the instanton's values. The spread
shrinks at least like ``√ε`` (the paths' scatter about the instanton); at a short window the
quadratic variation's own fluctuation, of order ``ε/(Δt√m)`` over ``m`` intervals, dominates and
the spread shrinks like ``ε`` (Maier–Stein, ``benchmarks/reactive_charges.py``: 0.217, 0.097, 0.045
at ``D`` = 0.1, 0.05, 0.025).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import positive_float
from noetherlab.ensembles.splitting import SplittingResult
from noetherlab.noether.charges import noether_charges
from noetherlab.sde.model import SDE, require_sde

__all__ = ["ReactiveCharges", "reactive_charges"]


@dataclass(frozen=True)
class ReactiveCharges:
    """Per reactive trajectory: ``energy (m,)`` and ``angular_momentum (m,)`` (plane ``(0, 1)``,
    NaN in 1-D), in noise-free units; ``weights (m,)`` (sum 1); ``noise`` ε; ``window`` Δt."""

    energy: np.ndarray
    angular_momentum: np.ndarray
    weights: np.ndarray
    noise: float
    window: float

    def mean(self, name: str) -> float:
        v = getattr(self, name)
        return float(np.sum(self.weights * v))

    def spread(self, name: str) -> float:
        """Weighted standard deviation of ``name`` about its weighted mean."""
        v = getattr(self, name)
        return float(np.sqrt(np.sum(self.weights * (v - self.mean(name)) ** 2)))


def _noise_scale(sde: SDE) -> float:
    if not sde.constant_diffusion or sde.degenerate:
        raise InvalidArgumentError(
            "sde",
            "needs constant, non-degenerate noise for the noise-free units of the charges",
            "use a model with constant D",
        )
    return float(np.mean(np.diag(np.asarray(sde.D(jnp.zeros(sde.dim))))))


def path_charges(
    sde: SDE, x: np.ndarray, t: np.ndarray, lagrangian: str = "fw"
) -> tuple[float, float]:
    """``(ε⟨E⟩, ε⟨L₀₁⟩)`` of a smooth path (no noise correction), e.g. the instanton."""
    eps = _noise_scale(sde)
    ch = noether_charges(sde, x, t, lagrangian)
    ang = ch.angular_momentum.values
    L = float(np.mean(ang[:, 0, 1])) if sde.dim >= 2 and ang is not None else float("nan")
    return eps * float(np.mean(ch.energy.values)), eps * L


def reactive_charges(
    sde: SDE, result: SplittingResult, window: float | None = None, lagrangian: str = "fw"
) -> ReactiveCharges:
    """Charges of the reactive trajectories of ``result`` (see the module text), coarse-grained
    to ``window`` (default: 20 Euler–Maruyama steps, at least the stored spacing)."""
    sde = require_sde(sde)
    eps = _noise_scale(sde)
    rt = result.reactive
    if len(rt) == 0:
        raise InvalidArgumentError(
            "result", "has no reactive trajectories (no replica reached B)", "run a splitting "
            "that ends with status estimated"
        )  # fmt: skip
    stored = float(rt.times[0, 1] - rt.times[0, 0]) if rt.times.shape[1] > 1 else result.dt
    dt_w = max(stored, 20 * result.dt) if window is None else positive_float(window, "window")
    stride = max(1, round(dt_w / stored))
    dt_w = stride * stored
    energy, ang, keep = [], [], []
    # the last stored state is the entry into B, off the grid: left out. Every coarse path is
    # padded to one length (its last state repeated, so one compiled charge function serves all)
    # and the padded intervals are left out of the means.
    coarse = [rt.paths[j, : int(rt.lengths[j]) - 1 : stride] for j in range(len(rt))]
    L = max(c.shape[0] for c in coarse)
    for j, x in enumerate(coarse):
        m = x.shape[0]
        if m < 3:
            continue
        t = rt.times[j, 0] + dt_w * np.arange(L)
        xp = np.concatenate([x, np.repeat(x[-1:], L - m, axis=0)])
        ch = noether_charges(sde, xp, t, lagrangian)
        energy.append(eps * (float(np.mean(ch.energy.values[: m - 1])) - sde.dim / (2 * dt_w)))
        a = ch.angular_momentum.values
        ang.append(
            eps * float(np.mean(a[: m - 1, 0, 1])) if sde.dim >= 2 and a is not None else np.nan
        )
        keep.append(j)
    if not keep:
        raise InvalidArgumentError(
            "window",
            f"= {dt_w:g} leaves fewer than 3 states on every trajectory",
            "pass a shorter one",
        )
    w = rt.weights[keep]
    return ReactiveCharges(np.asarray(energy), np.asarray(ang), w / w.sum(), eps, dt_w)
