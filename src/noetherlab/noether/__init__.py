"""Noether's theorem both ways, on top of the model layer.

* :mod:`~noetherlab.noether.charges` — energy, momentum, angular momentum and the general charge
  along discrete paths and Hamiltonian trajectories;
* :mod:`~noetherlab.noether.symmetries` — test a generator, or find every affine symmetry of ``L``;
* :mod:`~noetherlab.noether.approximate` — the defect of a near-symmetry, and the best ones;
* :mod:`~noetherlab.noether.balance` — how far a near-symmetry moves its charge along a path
  (Noether's identity, exact on the discrete path, and its bound by the defect);
* :mod:`~noetherlab.noether.learning` — symmetries learned from charges conserved along paths.
"""
