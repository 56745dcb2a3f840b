"""Ensembles of sample paths, on top of the model layer.

* :mod:`~noetherlab.ensembles.boundaries` — absorbing boundaries (intervals, balls, half-spaces,
  predicates);
* :mod:`~noetherlab.ensembles.simulation` — vectorised Euler–Maruyama (:func:`simulate`);
* :mod:`~noetherlab.ensembles.ensemble` — the result (:class:`Ensemble`): exits, conditioning,
  densities, comparison with a path;
* :mod:`~noetherlab.ensembles.reaction` — reaction coordinates and the sets A, B of rare events;
* :mod:`~noetherlab.ensembles.splitting` — adaptive multilevel splitting (:func:`ams`,
  :func:`tams`) on the private vectorised engine ``_ams_engine``;
* :mod:`~noetherlab.ensembles.transition_time` — mean exit times at the model's noise
  (:func:`sampled_exit_time`, the loop decomposition).
"""

from noetherlab.ensembles.boundaries import Boundary, ball, balls, half_space, interval, predicate
from noetherlab.ensembles.ensemble import Ensemble, density, load_ensemble
from noetherlab.ensembles.reaction import ReactionCoordinate, Region, chord_coordinate, coordinate
from noetherlab.ensembles.simulation import simulate
from noetherlab.ensembles.splitting import SplittingResult, ams, tams
from noetherlab.ensembles.transition_time import SampledExitTime, sampled_exit_time

__all__ = [
    "Boundary",
    "Ensemble",
    "ReactionCoordinate",
    "Region",
    "SampledExitTime",
    "SplittingResult",
    "ams",
    "ball",
    "balls",
    "chord_coordinate",
    "coordinate",
    "density",
    "half_space",
    "interval",
    "load_ensemble",
    "predicate",
    "sampled_exit_time",
    "simulate",
    "tams",
]
