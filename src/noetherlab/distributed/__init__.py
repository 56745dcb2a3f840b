"""Beyond one machine: parameter sweeps and large ensembles as Dask tasks, results in Zarr.

* :func:`sweep` — every point of a parameter grid (:class:`SweepSpec`, a TOML file) as one task on
  Dask distributed; results land in one chunked Zarr store with per-point status, error and wall
  time; resuming redoes only what is missing.
* :func:`ensemble_statistics` — an ensemble split into chunk tasks with independent keys
  (``fold_in(key, chunk)``), reduced to exit counts, moments and histograms in chunk order: the same
  numbers bit for bit whatever the number of workers.
"""

from noetherlab.distributed.cluster import dask_client
from noetherlab.distributed.ensemble import (
    EnsembleStatistics,
    ensemble_statistics,
    load_ensemble_statistics,
)
from noetherlab.distributed.spec import SweepSpec, load_spec
from noetherlab.distributed.sweeps import SweepProgress, SweepResult, sweep

__all__ = [
    "EnsembleStatistics",
    "SweepProgress",
    "SweepResult",
    "SweepSpec",
    "dask_client",
    "ensemble_statistics",
    "load_ensemble_statistics",
    "load_spec",
    "sweep",
]
