"""noetherlab: symmetries → conservation laws, for noisy dynamical systems and gradient-flow training.

Importing noetherlab switches JAX to float64 (``jax_enable_x64``): every number we report is
computed in double precision.

The public API below is re-exported here and resolved on first use (PEP 562): ``import noetherlab``
loads JAX and the model class only, so the command line and scripts that need one part do not pay
for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from noetherlab import (
    _config,  # float64 before anything else
    errors,
)
from noetherlab.lagrangian import (  # eager: the function `lagrangian` shares its module's name
    action,
    euler_lagrange_residual,
    hamilton_vector_field,
    hamiltonian,
    lagrangian,
)
from noetherlab.sde import SDE

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY = {
    "io": "noetherlab.io",
    "models": "noetherlab.models",
    # charges and Lagrangians
    "ChargeTrace": "noetherlab.charges",
    "Charges": "noetherlab.charges",
    "noether_charge": "noetherlab.charges",
    "noether_charges": "noetherlab.charges",
    "trajectory_charges": "noetherlab.charges",
    # paths
    "PathProblem": "noetherlab.paths",
    "PathResult": "noetherlab.paths",
    "ResolutionControl": "noetherlab.paths",
    "ResolutionReport": "noetherlab.paths",
    "Status": "noetherlab.paths",
    "load_path": "noetherlab.paths",
    "geometric_action": "noetherlab.paths",
    "most_likely_path": "noetherlab.paths",
    "AbstractPathSolver": "noetherlab.paths.solvers",
    "BlockNewton": "noetherlab.paths.solvers",
    "Geometric": "noetherlab.paths.solvers",
    "Hamiltonian": "noetherlab.paths.solvers",
    "LBFGS": "noetherlab.paths.solvers",
    "NewtonKrylov": "noetherlab.paths.solvers",
    "Shooting": "noetherlab.paths.solvers",
    "TimeViaEnergy": "noetherlab.paths.solvers",
    "HamiltonianTrajectory": "noetherlab.paths.solvers.shooting",
    "shoot": "noetherlab.paths.solvers.shooting",
    "shooting_path": "noetherlab.paths.solvers.shooting",
    "path_family": "noetherlab.paths.continuation",
    # landscape
    "FixedPoint": "noetherlab.fixed_points",
    "FixedPointSearch": "noetherlab.fixed_points",
    "find_fixed_points": "noetherlab.fixed_points",
    "Landscape": "noetherlab.attractor_landscape",
    "Transition": "noetherlab.attractor_landscape",
    "landscape": "noetherlab.attractor_landscape",
    "Basins": "noetherlab.attraction_basins",
    "basins": "noetherlab.attraction_basins",
    "EscapeTime": "noetherlab.escape_rates",
    "FokkerPlanck": "noetherlab.grid_generator",
    "ReactiveFlux": "noetherlab.grid_generator",
    "fokker_planck": "noetherlab.grid_generator",
    "StringResult": "noetherlab.minimum_energy_path",
    "QuasiPotential": "noetherlab.quasi_potential_field",
    "quasi_potential": "noetherlab.quasi_potential_field",
    "string_method": "noetherlab.minimum_energy_path",
    # ensembles
    "Ensemble": "noetherlab.sampling",
    "load_ensemble": "noetherlab.sampling",
    "simulate": "noetherlab.sampling",
    # beyond one machine
    "EnsembleStatistics": "noetherlab.distributed",
    "SweepResult": "noetherlab.distributed",
    "SweepSpec": "noetherlab.distributed",
    "ensemble_statistics": "noetherlab.distributed",
    "sweep": "noetherlab.distributed",
    # symmetries
    "Generator": "noetherlab.symmetries",
    "Symmetry": "noetherlab.symmetries",
    "SymmetryCheck": "noetherlab.symmetries",
    "SymmetryReport": "noetherlab.symmetries",
    "check_symmetry": "noetherlab.symmetries",
    "find_symmetries": "noetherlab.symmetries",
    "ApproximateSymmetries": "noetherlab.symmetry_defects",
    "ApproximateSymmetry": "noetherlab.symmetry_defects",
    "approximate_symmetries": "noetherlab.symmetry_defects",
    "symmetry_defect": "noetherlab.symmetry_defects",
    "LearnedSymmetries": "noetherlab.symmetry_learning",
    "LearnedSymmetry": "noetherlab.symmetry_learning",
    "learn_symmetries": "noetherlab.symmetry_learning",
    # trained networks
    "TrainedRNN": "noetherlab.trained_rnn",
    "load_rnn": "noetherlab.trained_rnn",
    "train_rnn": "noetherlab.trained_rnn",
    # conservation laws of training
    "LawCount": "noetherlab.training.lie",
    "count_laws": "noetherlab.training.lie",
    "load_law_count": "noetherlab.training.lie",
}

_MODULES = {"io", "models"}

__all__ = [
    "SDE",
    "__version__",
    "action",
    "errors",
    "euler_lagrange_residual",
    "hamilton_vector_field",
    "hamiltonian",
    "lagrangian",
    *sorted(_LAZY),
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'noetherlab' has no attribute {name!r}")
    mod = importlib.import_module(module)
    value = mod if name in _MODULES else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # static names for type checkers and IDEs
    from noetherlab import io, models
    from noetherlab.attraction_basins import Basins, basins
    from noetherlab.attractor_landscape import Landscape, Transition, landscape
    from noetherlab.charges import (
        Charges,
        ChargeTrace,
        noether_charge,
        noether_charges,
        trajectory_charges,
    )
    from noetherlab.distributed import (
        EnsembleStatistics,
        SweepResult,
        SweepSpec,
        ensemble_statistics,
        sweep,
    )
    from noetherlab.escape_rates import EscapeTime
    from noetherlab.fixed_points import FixedPoint, FixedPointSearch, find_fixed_points
    from noetherlab.grid_generator import FokkerPlanck, ReactiveFlux, fokker_planck
    from noetherlab.minimum_energy_path import StringResult, string_method
    from noetherlab.paths import (
        PathProblem,
        PathResult,
        ResolutionControl,
        ResolutionReport,
        Status,
        geometric_action,
        load_path,
        most_likely_path,
    )
    from noetherlab.paths.continuation import path_family
    from noetherlab.paths.solvers import (
        LBFGS,
        AbstractPathSolver,
        BlockNewton,
        Geometric,
        Hamiltonian,
        NewtonKrylov,
        Shooting,
        TimeViaEnergy,
    )
    from noetherlab.paths.solvers.shooting import HamiltonianTrajectory, shoot, shooting_path
    from noetherlab.quasi_potential_field import QuasiPotential, quasi_potential
    from noetherlab.sampling import Ensemble, load_ensemble, simulate
    from noetherlab.symmetries import (
        Generator,
        Symmetry,
        SymmetryCheck,
        SymmetryReport,
        check_symmetry,
        find_symmetries,
    )
    from noetherlab.symmetry_defects import (
        ApproximateSymmetries,
        ApproximateSymmetry,
        approximate_symmetries,
        symmetry_defect,
    )
    from noetherlab.symmetry_learning import LearnedSymmetries, LearnedSymmetry, learn_symmetries
    from noetherlab.trained_rnn import TrainedRNN, load_rnn, train_rnn
    from noetherlab.training.lie import LawCount, count_laws, load_law_count
