"""noetherlab: symmetries → conservation laws, for noisy dynamical systems and gradient-flow training.

Importing noetherlab switches JAX to float64 (``jax_enable_x64``): every number we report is
computed in double precision.
"""

from __future__ import annotations

from noetherlab import (
    _config,  # noqa: F401  (float64 before anything else)
    errors,
)
from noetherlab.charges import (
    Charges,
    ChargeTrace,
    noether_charge,
    noether_charges,
    trajectory_charges,
)
from noetherlab.lagrangian import (
    action,
    euler_lagrange_residual,
    hamilton_vector_field,
    hamiltonian,
    lagrangian,
)
from noetherlab.paths import PathResult, ResolutionReport, most_likely_path
from noetherlab.sde import SDE
from noetherlab.symmetries import (
    Generator,
    Symmetry,
    SymmetryCheck,
    SymmetryReport,
    check_symmetry,
    find_symmetries,
)

__version__ = "0.1.0"

__all__ = [
    "SDE",
    "ChargeTrace",
    "Charges",
    "Generator",
    "PathResult",
    "ResolutionReport",
    "Symmetry",
    "SymmetryCheck",
    "SymmetryReport",
    "__version__",
    "action",
    "check_symmetry",
    "errors",
    "euler_lagrange_residual",
    "find_symmetries",
    "hamilton_vector_field",
    "hamiltonian",
    "lagrangian",
    "most_likely_path",
    "noether_charge",
    "noether_charges",
    "trajectory_charges",
]
