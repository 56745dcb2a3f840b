"""The path solvers, one file each, all subclasses of :class:`AbstractPathSolver`.

``SOLVERS`` maps the ``method=`` names of :func:`~noetherlab.paths.most_likely_path` to the classes.
"""

from collections.abc import Callable

from noetherlab.paths.solvers.base import AbstractPathSolver
from noetherlab.paths.solvers.geometric import Geometric
from noetherlab.paths.solvers.hamiltonian import Hamiltonian
from noetherlab.paths.solvers.lbfgs import LBFGS
from noetherlab.paths.solvers.newton import BlockNewton
from noetherlab.paths.solvers.newton_krylov import NewtonKrylov
from noetherlab.paths.solvers.shooting import Shooting
from noetherlab.paths.solvers.time_via_energy import TimeViaEnergy

__all__ = [
    "LBFGS",
    "SOLVERS",
    "AbstractPathSolver",
    "BlockNewton",
    "Geometric",
    "Hamiltonian",
    "NewtonKrylov",
    "Shooting",
    "TimeViaEnergy",
]

#: method name -> solver class (each constructible with its defaults)
SOLVERS: dict[str, Callable[[], AbstractPathSolver]] = {
    cls.name: cls
    for cls in (BlockNewton, NewtonKrylov, LBFGS, Geometric, TimeViaEnergy, Shooting, Hamiltonian)
}
