"""Sweeps and ensembles on a Dask ``LocalCluster`` of 2 worker processes (one cluster for the
module). Reference values: serial calls in this process (the same numbers), the closed-form OU
bridge action, and the peer's law counts (issue 15: momentum linear [2,2,1] has 1 law; the
gradient flow of linear [n, h, 1] has h(h+1)/2, the entries of W1W1ᵀ − W2ᵀW2)."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import noetherlab as nl
from noetherlab.distributed import SweepSpec, dask_client, ensemble_statistics, sweep
from noetherlab.ensembles import interval
from noetherlab.models import drift_diffusion, ornstein_uhlenbeck
from noetherlab.training import count_laws, linear_net
from noetherlab.training.dynamics import parse_flow

K, X0, X1 = 1.3, -0.8, 1.5


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def _path_spec(T: list[float]) -> SweepSpec:
    return SweepSpec(
        "path",
        {"model": "ou", "model.K": K, "model.dim": 1, "x0": [X0], "x1": [X1], "n": 400},
        {"T": T, "model.D": [0.7, 1.4]},
    )


def test_path_sweep_on_two_workers_gives_the_serial_numbers(client, tmp_path):
    res = sweep(_path_spec([0.5, 1.0, 2.0]), tmp_path / "p.zarr", client=client)
    assert res.complete and res.points == 6 and res.workers == 2
    for T in (0.5, 1.0, 2.0):
        for D in (0.7, 1.4):
            serial = nl.most_likely_path(
                ornstein_uhlenbeck(K=K, D=D, dim=1), [X0], [X1], T=T, n=400
            )
            got = res.dataset.sel(T=T, **{"model.D": D})
            np.testing.assert_allclose(float(got["action"]), serial.action, rtol=1e-12)
            assert int(got["converged"]) == 1 and int(got["n_final"]) == 400
            closed = K * (X1 - X0 * np.exp(-K * T)) ** 2 / (2 * D * (1 - np.exp(-2 * K * T)))
            assert abs(float(got["action"]) / closed - 1) < 1e-5


def test_law_count_sweep_on_two_workers_gives_the_serial_counts(client, tmp_path):
    spec = SweepSpec(
        "laws",
        {"arch": "linear"},
        {"sizes": [[2, 2, 1], [3, 3, 1]], "flow": ["gradient", "momentum"]},
    )
    res = sweep(spec, tmp_path / "l.zarr", client=client)
    assert res.complete
    laws = res.dataset["laws"].values
    assert laws[0, 0] == 3 and laws[1, 0] == 6 and laws[0, 1] == 1  # h(h+1)/2; peer: 1
    for i, sizes in enumerate(([2, 2, 1], [3, 3, 1])):
        for j, flow in enumerate(("gradient", "momentum")):
            serial = count_laws(linear_net(sizes), flow=parse_flow(flow))
            assert laws[i, j] == serial.laws and res.dataset["certified"].values[i, j] == 1


def test_ten_million_paths_on_two_workers_are_bit_identical_to_one_process(client):
    kw = {"key": 11, "boundary": interval(-1.0, 1.0), "chunk_size": 1_000_000}
    sde = drift_diffusion(v=0.5)
    here = ensemble_statistics(sde, [0.0], 1.0, 0.1, 10_000_000, **kw)
    there = ensemble_statistics(sde, [0.0], 1.0, 0.1, 10_000_000, **kw, client=client)
    assert there.workers == 2 and here.workers == 0 and here.chunks == 10
    for name in ("exit_counts", "exit_time_mean", "exit_time_var", "final_mean", "final_var"):
        np.testing.assert_array_equal(getattr(there, name), getattr(here, name), err_msg=name)
    np.testing.assert_array_equal(there.histogram, here.histogram)
    np.testing.assert_array_equal(there.histogram_edges, here.histogram_edges)


def test_killing_a_worker_mid_sweep_loses_no_finished_point(client, tmp_path):
    store = tmp_path / "k.zarr"
    killed: list[int] = []
    written: dict[str, np.ndarray] = {}

    def kill_one(p):
        if killed:
            return
        import zarr

        group = zarr.open_group(store, mode="r")
        written["status"] = np.asarray(group["status"][...])
        written["finished_at"] = np.asarray(group["finished_at"][...])
        pid = sorted(client.run(os.getpid).values())[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    res = sweep(_path_spec([0.4, 0.6, 0.8, 1.2, 1.6, 2.4]), store, client=client, progress=kill_one)
    assert killed and res.complete and res.done == 12
    before = written["status"] == 1
    assert before.sum() >= 1
    np.testing.assert_array_equal(
        res.dataset["finished_at"].values[before], written["finished_at"][before]
    )
