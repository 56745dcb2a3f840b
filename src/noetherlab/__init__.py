"""noetherlab: symmetries → conservation laws, for noisy dynamical systems and gradient-flow training.

Importing noetherlab switches JAX to float64 (``jax_enable_x64``): every number we report is
computed in double precision.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

from noetherlab import errors  # noqa: E402
from noetherlab.charges import ChargeTrace, Charges, noether_charge, noether_charges, trajectory_charges  # noqa: E402
from noetherlab.lagrangian import (  # noqa: E402
    action,
    euler_lagrange_residual,
    hamilton_vector_field,
    hamiltonian,
    lagrangian,
)
from noetherlab.paths import PathResult, ResolutionReport, most_likely_path  # noqa: E402
from noetherlab.sde import SDE  # noqa: E402
from noetherlab.symmetries import (  # noqa: E402
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
