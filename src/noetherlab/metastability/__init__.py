"""Metastability, on top of the path solvers: the attractor landscape — what the noise moves
between, over which barriers, and how often.

(The package is not called ``landscape``: that is the public function ``nl.landscape``.)

* :mod:`~noetherlab.metastability.fixed_points` — every fixed point in a region, classified;
* :mod:`~noetherlab.metastability.basins` — basins of attraction on a grid, and sampled basin
  fractions in any dimension (:func:`basin_fractions`);
* :mod:`~noetherlab.metastability.escapes` — the least-action escape from an extended attractor
  (limit cycle, ring or line of fixed points) to a saddle (:func:`escape_path`);
* :mod:`~noetherlab.metastability.landscape` — the transition graph (:func:`landscape`): instantons,
  barriers and mean exit times;
* :mod:`~noetherlab.metastability.escape_rates` — Eyring–Kramers and Bouchet–Reygner prefactors;
* :mod:`~noetherlab.metastability.quasi_potential` — the quasi-potential of a 2-D model as a field;
* :mod:`~noetherlab.metastability.fokker_planck` — the Fokker–Planck grid generator (densities, mean
  first passage times, committors, reactive fluxes);
* :mod:`~noetherlab.metastability.string_method` — minimum energy paths and heteroclinic orbits;
* :mod:`~noetherlab.metastability.reaction_coordinates` — coordinates for rare-event sampling from
  the instanton or the grid committor;
* :mod:`~noetherlab.metastability.sampled_rates` — non-asymptotic rates of a landscape
  (``landscape(rates=...)``: AMS or the grid generator);
* :mod:`~noetherlab.metastability.reactive` — Noether charges of sampled reactive trajectories.
"""
