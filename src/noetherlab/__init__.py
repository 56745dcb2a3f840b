"""noetherlab: symmetries → conservation laws, for noisy dynamical systems and gradient-flow training.

Importing noetherlab switches JAX to float64 (``jax_enable_x64``): every number we report is
computed in double precision.

The public API below is re-exported here and resolved on first use (PEP 562): ``import noetherlab``
does not import JAX (float64 and the compilation cache are set through JAX's environment variables
until it is, see :mod:`noetherlab._core.config`), so ``noetherlab --help`` and scripts that need one
part do not pay for the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from noetherlab._core import config as _config  # float64 before anything else
from noetherlab._core import errors
from noetherlab._core.version import VERSION as __version__

#: public name -> module that defines it
_LAZY = {
    # the model and its Lagrangian (``lagrangian`` is the function: ``noetherlab.sde`` binds it
    # over its submodule of the same name)
    "SDE": "noetherlab.sde",
    "action": "noetherlab.sde",
    "euler_lagrange_residual": "noetherlab.sde",
    "hamilton_vector_field": "noetherlab.sde",
    "hamiltonian": "noetherlab.sde",
    "hutchinson_divergence": "noetherlab.sde.divergence",
    "lagrangian": "noetherlab.sde",
    # statuses: how every result ended
    "Status": "noetherlab._core.status",
    "PathStatus": "noetherlab._core.status",
    "CountStatus": "noetherlab._core.status",
    "RateStatus": "noetherlab._core.status",
    "SearchStatus": "noetherlab._core.status",
    "FlowStatus": "noetherlab._core.status",
    "SweepStatus": "noetherlab._core.status",
    "SplittingStatus": "noetherlab._core.status",
    "io": "noetherlab._core.io",
    "plotting": "noetherlab.plotting",
    "models": "noetherlab.models",
    # charges and Lagrangians
    "ChargeTrace": "noetherlab.noether.charges",
    "Charges": "noetherlab.noether.charges",
    "noether_charge": "noetherlab.noether.charges",
    "noether_charges": "noetherlab.noether.charges",
    "trajectory_charges": "noetherlab.noether.charges",
    # paths
    "PathProblem": "noetherlab.paths",
    "PathResult": "noetherlab.paths",
    "ResolutionControl": "noetherlab.paths",
    "ResolutionReport": "noetherlab.paths",
    "load_path": "noetherlab.paths",
    "geometric_action": "noetherlab.paths",
    "most_likely_path": "noetherlab.paths",
    "most_likely_paths": "noetherlab.paths",
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
    "FixedPoint": "noetherlab.metastability.fixed_points",
    "FixedPointSearch": "noetherlab.metastability.fixed_points",
    "find_fixed_points": "noetherlab.metastability.fixed_points",
    "Landscape": "noetherlab.metastability.landscape",
    "Transition": "noetherlab.metastability.landscape",
    "landscape": "noetherlab.metastability.landscape",
    "Basins": "noetherlab.metastability.basins",
    "basins": "noetherlab.metastability.basins",
    "BasinFractions": "noetherlab.metastability.basins",
    "basin_fractions": "noetherlab.metastability.basins",
    "Escape": "noetherlab.metastability.escapes",
    "escape_path": "noetherlab.metastability.escapes",
    "EscapeTime": "noetherlab.metastability.escape_rates",
    "SlowPoint": "noetherlab.metastability.slow_points",
    "SlowPointSearch": "noetherlab.metastability.slow_points",
    "find_slow_points": "noetherlab.metastability.slow_points",
    "Branch": "noetherlab.metastability.bifurcations",
    "Fold": "noetherlab.metastability.bifurcations",
    "fixed_point_branch": "noetherlab.metastability.bifurcations",
    "LimitCycle": "noetherlab.metastability.limit_cycles",
    "find_limit_cycle": "noetherlab.metastability.limit_cycles",
    "AttractorManifold": "noetherlab.metastability.manifolds",
    "attractor_manifold": "noetherlab.metastability.manifolds",
    "FokkerPlanck": "noetherlab.metastability.fokker_planck",
    "ReactiveFlux": "noetherlab.metastability.fokker_planck",
    "fokker_planck": "noetherlab.metastability.fokker_planck",
    "StringResult": "noetherlab.metastability.string_method",
    "QuasiPotential": "noetherlab.metastability.quasi_potential",
    "quasi_potential": "noetherlab.metastability.quasi_potential",
    "string_method": "noetherlab.metastability.string_method",
    # ensembles
    "Ensemble": "noetherlab.ensembles.ensemble",
    "load_ensemble": "noetherlab.ensembles.ensemble",
    "simulate": "noetherlab.ensembles.simulation",
    # rare events at the model's noise
    "ReactionCoordinate": "noetherlab.ensembles.reaction",
    "chord_coordinate": "noetherlab.ensembles.reaction",
    "SplittingResult": "noetherlab.ensembles.splitting_result",
    "ReactiveTrajectories": "noetherlab.ensembles.splitting_result",
    "ams": "noetherlab.ensembles.splitting",
    "tams": "noetherlab.ensembles.splitting",
    "SampledExitTime": "noetherlab.ensembles.transition_time",
    "sampled_exit_time": "noetherlab.ensembles.transition_time",
    "committor_coordinate": "noetherlab.metastability.reaction_coordinates",
    "quasi_potential_coordinate": "noetherlab.metastability.reaction_coordinates",
    "instanton_coordinate": "noetherlab.metastability.reaction_coordinates",
    "transition_coordinate": "noetherlab.metastability.reaction_coordinates",
    "SampledRates": "noetherlab.metastability.sampled_rates",
    "GridRates": "noetherlab.metastability.sampled_rates",
    "SampledRate": "noetherlab.metastability.sampled_rates",
    "ReactiveCharges": "noetherlab.metastability.reactive",
    "reactive_charges": "noetherlab.metastability.reactive",
    # beyond one machine
    "EnsembleStatistics": "noetherlab.distributed",
    "SweepResult": "noetherlab.distributed",
    "SweepSpec": "noetherlab.distributed",
    "ensemble_statistics": "noetherlab.distributed",
    "load_ensemble_statistics": "noetherlab.distributed",
    "sweep": "noetherlab.distributed",
    # symmetries
    "Generator": "noetherlab.noether.symmetries",
    "Symmetry": "noetherlab.noether.symmetries",
    "SymmetryCheck": "noetherlab.noether.symmetries",
    "SymmetryReport": "noetherlab.noether.symmetries",
    "check_symmetry": "noetherlab.noether.symmetries",
    "find_symmetries": "noetherlab.noether.symmetries",
    "ApproximateSymmetries": "noetherlab.noether.approximate",
    "ApproximateSymmetry": "noetherlab.noether.approximate",
    "approximate_symmetries": "noetherlab.noether.approximate",
    "symmetry_defect": "noetherlab.noether.approximate",
    "ChargeBalance": "noetherlab.noether.balance",
    "charge_balance": "noetherlab.noether.balance",
    "LearnedSymmetries": "noetherlab.noether.learning",
    "LearnedSymmetry": "noetherlab.noether.learning",
    "learn_symmetries": "noetherlab.noether.learning",
    # trained networks
    "RecurrentCell": "noetherlab.models.recurrent",
    "rnn_cell": "noetherlab.models.recurrent",
    "rnn_sde": "noetherlab.models.recurrent",
    "DiffusionModel": "noetherlab.models.diffusion",
    "VarianceExploding": "noetherlab.models.diffusion",
    "VariancePreserving": "noetherlab.models.diffusion",
    "diffusion_model": "noetherlab.models.diffusion",
    "TrainedScore": "noetherlab.models.score_training",
    "train_score": "noetherlab.models.score_training",
    "save_score": "noetherlab.models.score_training",
    "load_score": "noetherlab.models.score_training",
    "TrainedRNN": "noetherlab.models.trained_rnn",
    "load_rnn": "noetherlab.models.trained_rnn",
    "train_rnn": "noetherlab.models.trained_rnn",
    # conservation laws of training
    "LawCount": "noetherlab.training.lie",
    "count_laws": "noetherlab.training.lie",
    "load_law_count": "noetherlab.training.lie",
}

_MODULES = {"io", "models", "plotting"}

__all__ = ["__version__", "errors", *sorted(_LAZY)]


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
    from noetherlab import models, plotting
    from noetherlab._core import io
    from noetherlab._core.status import (
        CountStatus,
        FlowStatus,
        PathStatus,
        RateStatus,
        SearchStatus,
        SplittingStatus,
        Status,
        SweepStatus,
    )
    from noetherlab.distributed import (
        EnsembleStatistics,
        SweepResult,
        SweepSpec,
        ensemble_statistics,
        load_ensemble_statistics,
        sweep,
    )
    from noetherlab.ensembles.ensemble import Ensemble, load_ensemble
    from noetherlab.ensembles.reaction import ReactionCoordinate, chord_coordinate
    from noetherlab.ensembles.simulation import simulate
    from noetherlab.ensembles.splitting import ams, tams
    from noetherlab.ensembles.splitting_result import ReactiveTrajectories, SplittingResult
    from noetherlab.ensembles.transition_time import SampledExitTime, sampled_exit_time
    from noetherlab.metastability.basins import BasinFractions, Basins, basin_fractions, basins
    from noetherlab.metastability.bifurcations import Branch, Fold, fixed_point_branch
    from noetherlab.metastability.escape_rates import EscapeTime
    from noetherlab.metastability.escapes import Escape, escape_path
    from noetherlab.metastability.fixed_points import (
        FixedPoint,
        FixedPointSearch,
        find_fixed_points,
    )
    from noetherlab.metastability.fokker_planck import FokkerPlanck, ReactiveFlux, fokker_planck
    from noetherlab.metastability.landscape import Landscape, Transition, landscape
    from noetherlab.metastability.limit_cycles import LimitCycle, find_limit_cycle
    from noetherlab.metastability.manifolds import AttractorManifold, attractor_manifold
    from noetherlab.metastability.quasi_potential import QuasiPotential, quasi_potential
    from noetherlab.metastability.reaction_coordinates import (
        committor_coordinate,
        instanton_coordinate,
        quasi_potential_coordinate,
        transition_coordinate,
    )
    from noetherlab.metastability.reactive import ReactiveCharges, reactive_charges
    from noetherlab.metastability.sampled_rates import GridRates, SampledRate, SampledRates
    from noetherlab.metastability.slow_points import SlowPoint, SlowPointSearch, find_slow_points
    from noetherlab.metastability.string_method import StringResult, string_method
    from noetherlab.models.diffusion import (
        DiffusionModel,
        VarianceExploding,
        VariancePreserving,
        diffusion_model,
    )
    from noetherlab.models.recurrent import RecurrentCell, rnn_cell, rnn_sde
    from noetherlab.models.score_training import TrainedScore, load_score, save_score, train_score
    from noetherlab.models.trained_rnn import TrainedRNN, load_rnn, train_rnn
    from noetherlab.noether.approximate import (
        ApproximateSymmetries,
        ApproximateSymmetry,
        approximate_symmetries,
        symmetry_defect,
    )
    from noetherlab.noether.balance import ChargeBalance, charge_balance
    from noetherlab.noether.charges import (
        Charges,
        ChargeTrace,
        noether_charge,
        noether_charges,
        trajectory_charges,
    )
    from noetherlab.noether.learning import LearnedSymmetries, LearnedSymmetry, learn_symmetries
    from noetherlab.noether.symmetries import (
        Generator,
        Symmetry,
        SymmetryCheck,
        SymmetryReport,
        check_symmetry,
        find_symmetries,
    )
    from noetherlab.paths import (
        PathProblem,
        PathResult,
        ResolutionControl,
        ResolutionReport,
        geometric_action,
        load_path,
        most_likely_path,
        most_likely_paths,
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
    from noetherlab.sde import (
        SDE,
        action,
        euler_lagrange_residual,
        hamilton_vector_field,
        hamiltonian,
        lagrangian,
    )
    from noetherlab.sde.divergence import hutchinson_divergence
    from noetherlab.training.lie import LawCount, count_laws, load_law_count
