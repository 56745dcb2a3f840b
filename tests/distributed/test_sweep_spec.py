"""Sweep specs, stores and resuming, run in this process (``workers=0``); the Dask cluster tests
are in ``test_on_cluster.py``. Reference values: the closed-form OU bridge action
``S = k (x_T − x_0 e^{−kT})² / (2D (1 − e^{−2kT}))`` (``tests/conftest.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from noetherlab._core.errors import InvalidArgumentError, SchedulerUnreachableError
from noetherlab.distributed import SweepSpec, load_spec, sweep

K, X0, X1 = 1.3, -0.8, 1.5


def _ou_action(T: float, D: float) -> float:
    return K * (X1 - X0 * np.exp(-K * T)) ** 2 / (2 * D * (1 - np.exp(-2 * K * T)))


def _spec(T: list[float], D: list[float]) -> SweepSpec:
    return SweepSpec(
        "path",
        {"model": "ou", "model.K": K, "model.dim": 1, "x0": [X0], "x1": [X1], "n": 400},
        {"T": T, "model.D": D},
    )


def _files(store: Path) -> dict[str, bytes]:
    return {str(p.relative_to(store)): p.read_bytes() for p in store.rglob("*") if p.is_file()}


def test_toml_spec_with_dotted_model_keys(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        'computation = "path"\n[parameters]\nmodel = "ou"\nx0 = [1.0, 1.0]\nx1 = [0.0, 1.0]\n'
        "[grid]\nT = [0.5, 1.0, 2.0]\nmodel.D = [0.5, 1.0]\n"
    )
    spec = load_spec(f)
    assert spec.grid == {"T": [0.5, 1.0, 2.0], "model.D": [0.5, 1.0]}
    assert spec.shape == (3, 2) and spec.size == 6
    points = [p for _, p in spec.points()]
    assert points[1] == {
        "model": "ou",
        "x0": [1.0, 1.0],
        "x1": [0.0, 1.0],
        "T": 0.5,
        "model.D": 1.0,
    }


@pytest.mark.parametrize(
    ("computation", "parameters", "grid", "argument", "words"),
    [
        (
            "path",
            {"model": "ou", "x0": [0], "x1": [1], "steps": 4},
            {"T": [1]},
            "parameters",
            "steps",
        ),
        ("path", {"model": "ou", "x0": [0], "x1": [1]}, {"T": []}, "grid.T", "zero points"),
        ("path", {"model": "ou", "x0": [0], "x1": [1], "T": 1.0}, {}, "grid", "empty"),
        ("paths", {}, {"T": [1]}, "computation", "unknown"),
        ("laws", {"sizes": [2, 1]}, {"seed": [0]}, "parameters", "arch"),
        ("path", {"model": "ou", "x0": [0], "x1": [1], "T": 1}, {"T": [1]}, "grid", "both"),
    ],
)
def test_bad_specs_are_refused_naming_the_parameter(computation, parameters, grid, argument, words):
    with pytest.raises(InvalidArgumentError) as info:
        SweepSpec(computation, parameters, grid)
    assert info.value.argument == argument and words in str(info.value)


def test_a_bad_grid_point_is_named_before_anything_runs(tmp_path):
    spec = SweepSpec(
        "path", {"model": "ou", "x1": [0.0, 1.0], "T": 1.0}, {"x0": [[1.0, 1.0], [1.0, 1.0, 1.0]]}
    )
    with pytest.raises(InvalidArgumentError, match=r"grid point \{'x0': \[1.0, 1.0, 1.0\]\}"):
        sweep(spec, tmp_path / "s.zarr", workers=0)
    assert not (tmp_path / "s.zarr").exists()


def test_unreachable_scheduler_fails_within_seconds(tmp_path):
    start = time.perf_counter()
    with pytest.raises(SchedulerUnreachableError, match=r"tcp://127\.0\.0\.1:9"):
        sweep(_spec([1.0], [0.7]), tmp_path / "s.zarr", scheduler="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 15.0
    assert not (tmp_path / "s.zarr").exists()  # nothing written


def test_sweep_here_matches_the_closed_form_and_records_a_failed_point(tmp_path):
    res = sweep(_spec([1.0, -2.0], [0.7, 1.4]), tmp_path / "s.zarr", workers=0)
    assert (res.points, res.done, res.failed, res.ran) == (4, 2, 2, 4)
    ds = res.dataset
    for D in (0.7, 1.4):
        got = float(ds["action"].sel(T=1.0, **{"model.D": D}))
        assert abs(got / _ou_action(1.0, D) - 1) < 1e-5  # n = 400: O(h²) ≈ 1e-6
        assert int(ds["status"].sel(T=-2.0, **{"model.D": D})) == 2
    assert "must be a positive transit time" in str(
        ds["error"].sel(T=-2.0, **{"model.D": 0.7}).item()
    )
    assert res.summary()["errors"] and ds.attrs["noetherlab_version"]
    again = sweep(
        _spec([1.0, -2.0], [0.7, 1.4]), tmp_path / "s.zarr", workers=0, retry_failed=False
    )
    assert (again.ran, again.skipped, again.failed) == (0, 2, 2)


def test_an_interrupted_sweep_resumes_only_what_is_missing(tmp_path):
    spec, store = _spec([0.5, 1.0, 2.0], [0.7, 1.4]), tmp_path / "s.zarr"

    class Interrupted(Exception):
        """Stands for Ctrl-C or a killed client: the sweep stops after two points."""

    def interrupt(p):
        if p.done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        sweep(spec, store, workers=0, progress=interrupt)
    import xarray as xr

    with xr.open_zarr(store) as ds:
        status, finished = ds["status"].values.copy(), ds["finished_at"].values.copy()
    assert int(np.sum(status == 1)) == 2
    res = sweep(spec, store, workers=0)
    assert (res.ran, res.skipped, res.done) == (4, 2, 6)
    kept = status == 1
    np.testing.assert_array_equal(res.dataset["finished_at"].values[kept], finished[kept])
    for (i, j), T in np.ndenumerate(np.array([[0.5] * 2, [1.0] * 2, [2.0] * 2])):
        D = (0.7, 1.4)[j]
        assert abs(float(res.dataset["action"].values[i, j]) / _ou_action(T, D) - 1) < 1e-4


def test_a_store_from_another_spec_is_refused_and_left_untouched(tmp_path):
    store = tmp_path / "s.zarr"
    sweep(_spec([1.0], [0.7]), store, workers=0)
    before = _files(store)
    with pytest.raises(InvalidArgumentError, match="another spec") as info:
        sweep(_spec([1.0, 2.0], [0.7]), store, workers=0)
    assert info.value.argument == "store"
    assert _files(store) == before


def test_rare_sweep_points_are_the_direct_splitting_runs(tmp_path):
    """Independent TAMS repetitions as sweep points (``grid.key``): each point is the direct
    ``tams`` call with that key (reference: the same call here, bit for bit), with a 95 % interval
    around its probability; a bad parameter is refused before anything runs."""
    from noetherlab import models
    from noetherlab.ensembles import tams

    params = {"model": "ou", "model.K": K, "model.D": 0.3, "model.dim": 1, "x0": [0.0],
              "x1": [1.2], "radius": 0.1, "horizon": 1.0, "replicas": 20, "repetitions": 2,
              "dt": 0.01}  # fmt: skip
    res = sweep(SweepSpec("rare", params, {"key": [0, 1]}), tmp_path / "r.zarr", workers=0)
    assert res.done == 2
    sde = models.ornstein_uhlenbeck(K=K, D=0.3, dim=1)
    for key in (0, 1):
        ref = tams(sde, [0.0], [1.2], 1.0, A=[0.0], radius=0.1, replicas=20, repetitions=2,
                   dt=0.01, key=key)  # fmt: skip
        point = res.dataset.sel(key=key)
        assert float(point["probability"]) == ref.probability
        assert (
            float(point["probability_low"]) <= ref.probability <= float(point["probability_high"])
        )
        assert np.isnan(float(point["mean_exit_time"]))
    with pytest.raises(InvalidArgumentError, match="replicas"):
        sweep(SweepSpec("rare", {**params, "replicas": 2.5}, {"key": [0]}), tmp_path / "b.zarr")
