"""Ensembles of sample paths, on top of the model layer.

* :mod:`~noetherlab.ensembles.boundaries` — absorbing boundaries (intervals, balls, predicates);
* :mod:`~noetherlab.ensembles.simulation` — vectorised Euler–Maruyama (:func:`simulate`);
* :mod:`~noetherlab.ensembles.ensemble` — the result (:class:`Ensemble`): exits, conditioning,
  densities, comparison with a path.
"""

from noetherlab.ensembles.boundaries import Boundary, ball, interval, predicate
from noetherlab.ensembles.ensemble import Ensemble, density, load_ensemble
from noetherlab.ensembles.simulation import simulate

__all__ = [
    "Boundary",
    "Ensemble",
    "ball",
    "density",
    "interval",
    "load_ensemble",
    "predicate",
    "simulate",
]
