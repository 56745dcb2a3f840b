"""The model layer: the SDE ``dx = f dt + G dW``, its Lagrangians and Hamiltonian, and the zeros of
its drift.

* :mod:`~noetherlab.sde.model` — :class:`SDE` (drift, diffusion tensor ``D = G Gᵀ/2``, checks);
* :mod:`~noetherlab.sde.lagrangian` — ``L``, ``H``, the discrete action and Euler–Lagrange residual;
* :mod:`~noetherlab.sde.stationary` — a zero of the drift near a guess (Newton);
* :mod:`~noetherlab.sde.divergence` — Hutchinson's estimate of ``∇·f`` in high dimension.
"""

from noetherlab.sde.lagrangian import (
    action,
    euler_lagrange_residual,
    hamilton_vector_field,
    hamiltonian,
    lagrangian,
)
from noetherlab.sde.model import SDE

__all__ = [
    "SDE",
    "action",
    "euler_lagrange_residual",
    "hamilton_vector_field",
    "hamiltonian",
    "lagrangian",
]
