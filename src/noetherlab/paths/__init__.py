"""Most likely paths between two states: one problem type, one solver interface, one result type.

* :class:`PathProblem` — the boundary-value problem (fixed time or fixed energy);
* :mod:`noetherlab.paths.solvers` — the solvers (block Newton, Newton–Krylov, L-BFGS, geometric,
  time via energy, shooting, Hamiltonian), subclasses of :class:`AbstractPathSolver`;
* :class:`PathResult` with its status (a :class:`~noetherlab._core.status.PathStatus`) and
  diagnostics; :class:`ResolutionControl`;
* :func:`most_likely_path` — the one-call convenience; :func:`most_likely_paths` — a batch of
  fixed-time problems of one model in one compiled call;
* :func:`geometric_action` — the Maupertuis action of a given curve.
"""

from noetherlab.paths.api import most_likely_path
from noetherlab.paths.batch import most_likely_paths
from noetherlab.paths.maupertuis import geometric_action
from noetherlab.paths.problem import PathProblem
from noetherlab.paths.resolution import ResolutionControl
from noetherlab.paths.result import PathResult, ResolutionReport, load_path
from noetherlab.paths.solvers import SOLVERS, AbstractPathSolver

__all__ = [
    "SOLVERS",
    "AbstractPathSolver",
    "PathProblem",
    "PathResult",
    "ResolutionControl",
    "ResolutionReport",
    "geometric_action",
    "load_path",
    "most_likely_path",
    "most_likely_paths",
]
