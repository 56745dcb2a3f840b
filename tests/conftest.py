"""Shared fixtures: the closed-form 1-D Ornstein–Uhlenbeck bridge of the foundation issue, and the
release of compiled code in long-lived test workers."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


# Every XLA:CPU executable holds about six memory mappings, and a test worker that compiles for
# half an hour reaches Linux's default limit of 65 530 mappings per process (vm.max_map_count):
# the next allocation fails and the worker dies with a segmentation fault (measured: 15 000
# mappings per worker at 40 % of the suite). Past this many, the compiled code is released.
_MAX_MAPPINGS = 30_000
_MAPS = Path("/proc/self/maps")


def _mappings() -> int:
    try:
        with _MAPS.open("rb") as maps:
            return sum(1 for _ in maps)
    except OSError:  # not Linux: no such limit to watch
        return 0


@pytest.fixture(autouse=True)
def _release_compiled_code() -> Iterator[None]:
    yield
    if _mappings() > _MAX_MAPPINGS:
        import jax

        jax.clear_caches()
        gc.collect()
