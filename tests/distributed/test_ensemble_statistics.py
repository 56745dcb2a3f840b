"""Ensemble statistics by chunk tasks, in this process (the cluster runs: ``test_on_cluster.py``).

Reference values: the Euler–Maruyama recursion of 1-D OU, ``x_{k+1} = a x_k + √(2DΔt) ξ_k`` with
``a = 1 − KΔt``, has the exact moments ``E x_n = aⁿ x_0`` and
``Var x_n = 2DΔt (1 − a^{2n}) / (1 − a²)`` (no discretisation error to allow for); and
:func:`noetherlab.simulate` with the same key and chunk size (the same paths)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab.distributed import ensemble_statistics
from noetherlab.ensembles import interval, simulate
from noetherlab.models import drift_diffusion, ornstein_uhlenbeck
from noetherlab.sde.model import SDE


def test_ou_moments_match_the_exact_moments_of_the_scheme():
    K, D, dt, n_steps, x0, n = 1.0, 0.5, 0.05, 20, 1.0, 400_000
    stats = ensemble_statistics(
        ornstein_uhlenbeck(K=K, D=D, dim=1), [x0], n_steps * dt, dt, n, key=7, chunk_size=50_000
    )
    a = 1 - K * dt
    mean = a**n_steps * x0
    var = 2 * D * dt * (1 - a ** (2 * n_steps)) / (1 - a**2)
    assert stats.chunks == 8 and stats.n_paths == n
    assert abs(stats.final_mean[0] - mean) < 5 * np.sqrt(var / n)
    assert abs(stats.final_var[0] - var) < 5 * var * np.sqrt(2 / n)
    assert stats.histogram.sum() + stats.underflow.sum() + stats.overflow.sum() == n


def test_same_paths_as_simulate_and_final_states_in_the_store(tmp_path):
    sde, b = drift_diffusion(v=0.5), interval(-1.0, 1.0)
    kw = {"key": 3, "boundary": b, "chunk_size": 30_000}
    ens = simulate(sde, [0.0], 1.0, 0.01, 100_000, **kw)
    stats = ensemble_statistics(
        sde, [0.0], 1.0, 0.01, 100_000, **kw, store=tmp_path / "e.zarr", keep_final=True
    )
    counts = [int(np.sum(ens.exit_label == k)) for k in (1, 2)]
    assert stats.exit_counts.tolist() == counts and stats.chunks == 4
    assert stats.exit_fraction("upper") == ens.exit_fraction("upper")
    np.testing.assert_allclose(stats.final_mean, ens.final.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.final_var, ens.final.var(0), rtol=1e-10)
    upper = ens.exit_time[ens.exit_label == 2]
    np.testing.assert_allclose(stats.exit_time_mean[1], upper.mean(), rtol=1e-12)
    np.testing.assert_allclose(stats.exit_time_var[1], upper.var(), rtol=1e-10)
    with xr.open_zarr(tmp_path / "e.zarr") as ds:
        np.testing.assert_array_equal(ds["final"].values, ens.final)  # bit for bit
        assert ds.attrs["kind"] == "EnsembleStatistics" and ds.attrs["noetherlab_version"]
        assert ds["exit_counts"].values.tolist() == counts


def test_fixed_histogram_range_counts_outside_values():
    stats = ensemble_statistics(
        ornstein_uhlenbeck(dim=1), [0.0], 1.0, 0.1, 20_000, bins=10, hist_range=(-0.5, 0.5)
    )
    np.testing.assert_allclose(stats.histogram_edges[0], np.linspace(-0.5, 0.5, 11))
    assert stats.underflow[0] > 1000 and stats.overflow[0] > 1000
    assert stats.histogram.sum() + stats.underflow[0] + stats.overflow[0] == 20_000


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"keep_final": True}, "keep_final"),
        ({"hist_range": (1.0, -1.0)}, "hist_range"),
        ({"key": 1.5}, "key"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"dt": 0.3}, "dt"),
    ],
)
def test_bad_input_is_refused(kwargs, argument):
    args = {"T": 1.0, "dt": 0.1, "n_paths": 100, **kwargs}
    with pytest.raises(InvalidArgumentError) as info:
        ensemble_statistics(ornstein_uhlenbeck(dim=1), [0.0], **args)
    assert info.value.argument == argument


def test_an_existing_store_is_refused_and_kept(tmp_path):
    (tmp_path / "e.zarr").mkdir()
    (tmp_path / "e.zarr" / "mine.txt").write_text("keep")
    with pytest.raises(InvalidArgumentError, match="exists"):
        ensemble_statistics(
            ornstein_uhlenbeck(dim=1), [0.0], 1.0, 0.1, 100, store=tmp_path / "e.zarr"
        )
    assert (tmp_path / "e.zarr" / "mine.txt").read_text() == "keep"


def test_a_path_that_blows_up_is_named():
    sde = SDE(lambda x: x**3, diffusion=0.01, dim=1, name="cubic")
    with pytest.raises(NonFiniteError, match=r"path \d+ became non-finite"):
        ensemble_statistics(sde, [2.0], 2.0, 0.1, 1000, chunk_size=300)
