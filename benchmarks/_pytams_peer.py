"""pyTAMS 1.0 (the Python peer) on the benchmark problems, for ``benchmarks/rare_events.py`` only.

Installed by ``sh scripts/_env.sh --group dev --group bench`` (never a runtime or test dependency).
pyTAMS advances one trajectory at a time in Python through a user ``ForwardModelBaseClass``; the
models below are the same SDEs as noetherlab's, stepped by the same Euler–Maruyama rule
``x ← x + f(x) dt + sqrt(2 D dt) ξ`` with the same ``dt``, and the same event: the chord score
``s = (x₀ + 1)/2`` (first coordinate) reaches ``0.95``, i.e. ``x₀ ≥ 0.9``, before ``T``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pytams.fmodel import ForwardModelBaseClass

#: one generator per process (seeded by the run's seed and the process). A generator held by the
#: model object is copied with it when pyTAMS clones a trajectory at a branching point, so the clone replays its
#: parent's noise: the clones never diversify and the level creeps up (the first run of this
#: harness: level 0.55 after 1268 iterations, p = 1.4e-6 against 2.2e-3).
_RNG: dict[int, np.random.Generator] = {}


def _noise(seed: int, size: int) -> np.ndarray:
    if seed not in _RNG:
        _RNG[seed] = np.random.default_rng(7919 * seed + os.getpid())
    return _RNG[seed].standard_normal(size)


class DoubleWell(ForwardModelBaseClass):
    """``dx = (x − x³) dt + sqrt(2ε) dW`` from ``x = −1``."""

    def _init_model(self, m_id: int, params: dict[Any, Any]) -> None:
        self._eps = float(params["model"]["eps"])
        self._x = np.array([-1.0])
        self._seed = int(params["model"]["seed"])

    def _advance(self, step: int, time: float, dt: float, noise: Any, need: bool) -> float:
        x = self._x
        self._x = x + (x - x**3) * dt + np.sqrt(2.0 * self._eps * dt) * noise
        return dt

    def get_current_state(self) -> Any:
        return self._x.copy()

    def set_current_state(self, state: Any) -> None:
        self._x = np.array(state, dtype=float)

    def score(self) -> float:
        return float(np.clip((self._x[0] + 1.0) / 2.0, 0.0, 1.0))

    def make_noise(self) -> Any:
        return _noise(self._seed, 1)

    @classmethod
    def name(cls) -> str:
        return "DoubleWell1D"


class MaierStein(DoubleWell):
    """``u̇ = u − u³ − β u v²``, ``v̇ = −(1 + u²) v`` (β = 10, μ = 1), noise ``sqrt(2D)``, from
    ``(−1, 0)``."""

    def _init_model(self, m_id: int, params: dict[Any, Any]) -> None:
        super()._init_model(m_id, params)
        self._x = np.array([-1.0, 0.0])

    def _advance(self, step: int, time: float, dt: float, noise: Any, need: bool) -> float:
        u, v = self._x
        f = np.array([u - u**3 - 10.0 * u * v**2, -(1.0 + u**2) * v])
        self._x = self._x + f * dt + np.sqrt(2.0 * self._eps * dt) * noise
        return dt

    def make_noise(self) -> Any:
        return _noise(self._seed, 2)

    @classmethod
    def name(cls) -> str:
        return "MaierStein"


def run(problem: str, noise: float, T: float, dt: float, n: int, seed: int, workers: int) -> dict:
    """One pyTAMS run: probability and wall time (its SQLite pool lives in a temporary folder)."""
    import toml
    from pytams.tams import TAMS

    model = {"double_well": DoubleWell, "maier_stein": MaierStein}[problem]
    params = {
        "tams": {"ntrajectories": n, "nsplititer": 100_000, "loglevel": "WARNING"},
        "trajectory": {"end_time": T, "step_size": dt, "targetscore": 0.95},
        "runner": {"type": "asyncio", "nworker_init": workers, "nworker_iter": workers},
        "model": {"eps": noise, "seed": seed},
    }
    here = Path.cwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            Path("input.toml").write_text(toml.dumps(params))
            logging.getLogger("pytams").setLevel(logging.WARNING)
            clock = time.perf_counter()
            p = TAMS(fmodel_t=model, a_args=["-i", "input.toml"]).compute_probability()
            wall = time.perf_counter() - clock
        finally:
            os.chdir(here)
    return {"p": float(p), "wall": wall}
