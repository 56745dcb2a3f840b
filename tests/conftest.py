"""Shared fixtures: the closed-form 1-D Ornstein–Uhlenbeck bridge of the foundation issue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import noetherlab as nl


@dataclass(frozen=True)
class OUBridge:
    """``f = -k x``, ``D``, from ``x0`` to ``xT`` in time ``T`` (closed forms)."""

    k: float = 1.3
    D: float = 0.7
    x0: float = -0.8
    xT: float = 1.5
    T: float = 2.0

    def path(self, t: np.ndarray) -> np.ndarray:
        k, T = self.k, self.T
        return (self.x0 * np.sinh(k * (T - t)) + self.xT * np.sinh(k * t)) / np.sinh(k * T)

    def velocity(self, t: np.ndarray) -> np.ndarray:
        k, T = self.k, self.T
        return k * (-self.x0 * np.cosh(k * (T - t)) + self.xT * np.cosh(k * t)) / np.sinh(k * T)

    @property
    def action(self) -> float:
        k, D, T = self.k, self.D, self.T
        return k * (self.xT - self.x0 * np.exp(-k * T)) ** 2 / (2 * D * (1 - np.exp(-2 * k * T)))

    @property
    def energy(self) -> float:
        v0 = self.velocity(np.array(0.0))
        return float((v0**2 - (self.k * self.x0) ** 2) / (4 * self.D))

    def sde(self) -> nl.SDE:
        k = self.k
        return nl.SDE(lambda x: -k * x, diffusion=self.D, dim=1, name="ou1d")


@pytest.fixture(scope="session")
def ou() -> OUBridge:
    return OUBridge()
