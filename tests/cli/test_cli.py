"""Command-line interface: JSON output, saved files with parameters and version, clear errors."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr
from typer.testing import CliRunner

import noetherlab
from noetherlab.cli import app

runner = CliRunner()


def test_path_json_reports_charges_and_convergence():
    res = runner.invoke(
        app, ["path", "ou", "--x0", "-2,2", "--x1", "2,2", "--T", "1", "--n", "200", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["converged"] is True and data["charge_drift"]["energy"] < 1e-8
    assert abs(data["angular_momentum_start"][0][1] - (-6.8073450259145725 / 2)) < 1e-3


def test_symmetries_json_of_isotropic_ou():
    res = runner.invoke(app, ["symmetries", "ou", "--json"])
    assert res.exit_code == 0, res.output
    kinds = sorted(s["kind"] for s in json.loads(res.output)["symmetries"])
    assert kinds == ["rotation", "time"]


def test_simulate_writes_netcdf_with_parameters(tmp_path):
    out = tmp_path / "ens.nc"
    args = [
        "simulate",
        "ddm",
        "--x0",
        "0.5",
        "--T",
        "1",
        "--dt",
        "0.025",
        "--paths",
        "500",
        "--lower",
        "-1",
        "--upper",
        "1",
        "--out",
        str(out),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(out, engine="h5netcdf")
    assert ds.attrs["noetherlab_version"] == noetherlab.__version__
    assert ds["final"].shape == (500, 1) and np.all(np.abs(ds["final"].values) <= 1.0)
    assert "n_paths" in ds.attrs["parameters"]


def test_bad_input_gives_one_line_error_and_exit_code_2():
    res = runner.invoke(app, ["path", "ou", "--x0", "0,0", "--x1", "1,a", "--T", "1"])
    assert res.exit_code == 2 and "--x1" in res.output
    res = runner.invoke(app, ["path", "nonexistent-model", "--x0", "0", "--x1", "1", "--T", "1"])
    assert res.exit_code == 2 and "Fix" in res.output
    res = runner.invoke(app, ["simulate", "ddm", "--x0", "0", "--T", "1", "--dt", "-0.1"])
    assert res.exit_code == 2 and "dt" in res.output
    res = runner.invoke(app, ["reproduce", "--quick", "--workers", "0", "--out", "unused"])
    assert res.exit_code == 2 and "`--workers`" in res.output and "pass --workers 1" in res.output


def test_laws_momentum_flow_json_with_formula():
    args = ["laws", "linear", "--sizes", "2,2,1", "--flow", "momentum", "--friction", "0.5"]
    res = runner.invoke(app, [*args, "--degree", "2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    # peer (Marcotte et al. 2024): 1 law; state (t, θ, θ') of dimension 2·6 + 1
    assert (data["flow"], data["laws"], data["dimension"]) == ("momentum", 1, 13)
    (law,) = data["polynomial_laws"]
    assert law.endswith("*exp(t/2)") and "W1[0,0]'" in law
    bad = runner.invoke(app, ["laws", "linear", "--sizes", "2,2,1", "--flow", "adam"])
    assert bad.exit_code == 2 and "--flow" in bad.output and "Fix:" in bad.output
    bad = runner.invoke(app, [*args[:4], "--flow", "nmf", "--augment", "cyclic"])
    assert bad.exit_code == 2 and "--flow" in bad.output


def test_laws_of_the_built_in_blocks():
    # closed forms (training.blocks): LayerNorm [3,3,2] 1 + 3, residual 2 blocks × 2 neurons,
    # multi-head attention 2 heads × (1 + 1), a pre-norm transformer encoder layer with one head
    # of width 1 and two feed-forward neurons 1 + (1 + 1 + 1 + 3) + 3·2 + 1 (training.transformer)
    for args, laws in (
        (["layernorm", "--sizes", "3,3,2"], 4),
        (["residual", "--sizes", "3,2,2"], 4),
        (["mha", "--sizes", "3,2,2,1,1"], 4),
        (["transformer-pre", "--sizes", "2,3,1,1,1,2"], 14),
    ):
        res = runner.invoke(app, ["laws", *args, "--json"])
        assert res.exit_code == 0, res.output
        data = json.loads(res.output)
        assert data["laws"] == laws and data["explained_by_known_laws"] == laws, args
    bad = runner.invoke(app, ["laws", "mha", "--sizes", "3,2"])
    assert bad.exit_code == 2 and "tokens,d,heads,dk,dv" in bad.output
    bad = runner.invoke(app, ["laws", "transformer", "--sizes", "2,3,1,1,1,2,1,1,5"])
    assert bad.exit_code == 2 and "ff[,layers[,out]]" in bad.output


def test_laws_augment_json_with_lifted_explanation():
    res = runner.invoke(
        app, ["laws", "linear", "--sizes", "3,1", "--augment", "cyclic", "--explain", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert (data["laws_without"], data["laws_with"], data["extra_laws"]) == (0, 1, 1)
    assert data["lifted"]["accounted"] and data["lifted"]["symmetry_algebra_dimension"] == 1


def test_train_check_writes_report_and_figures(tmp_path):
    out = tmp_path / "tc"
    args = ["train-check", "linear", "--sizes", "3,1", "--augment", "cyclic", "--steps", "40"]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = (out / "report.md").read_text()
    assert "(W1[0,1] - W1[0,2])/(W1[0,0] - W1[0,2])" in text
    assert (out / "law_drift.png").exists() and (out / "report.json").exists()
    bad = runner.invoke(app, ["train-check", "linear", "--sizes", "3,1", "--augment", "dihedral"])
    assert bad.exit_code == 2 and "unknown group" in bad.output


def test_landscape_json_and_empty_region():
    res = runner.invoke(app, ["landscape", "ou", "--box", "-2,2", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert len(data["attractors"]) == 1 and data["saddles"] == [] and data["transitions"] == []
    assert data["attractors"][0]["kind"] == "stable node"
    assert max(abs(v) for v in data["attractors"][0]["x"]) < 1e-12  # OU: f = −x, fixed point 0
    res = runner.invoke(app, ["landscape", "ddm", "--box", "-1,1"])
    assert res.exit_code == 2 and "`--box`" in res.output and "no attractor" in res.output
    res = runner.invoke(app, ["landscape", "ou", "--box", "1"])
    assert res.exit_code == 2 and "`--box`" in res.output


def test_landscape_out_writes_the_graph_and_refuses_a_bad_suffix(tmp_path):
    res = runner.invoke(
        app, ["landscape", "ou", "--box", "-2,2", "--out", str(tmp_path / "l.json")]
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "l.json").read_text())["parameters"]["model"] == "ou"
    res = runner.invoke(app, ["landscape", "ou", "--out", str(tmp_path / "l.txt")])
    assert res.exit_code == 2 and "`--out`" in res.output


def test_landscape_noise_sets_the_noise_and_scales_the_barrier():
    # Maier–Stein (β = 10, D = 1 by default): the barrier is ΔΦ/D
    one = runner.invoke(app, ["landscape", "maier-stein", "--box", "-2,2", "--json"])
    tenth = runner.invoke(
        app, ["landscape", "maier-stein", "--box", "-2,2", "--noise", "0.1", "--json"]
    )
    assert one.exit_code == 0 and tenth.exit_code == 0, tenth.output
    b1 = json.loads(one.output)["transitions"][0]["barrier"]
    b10 = json.loads(tenth.output)["transitions"][0]["barrier"]
    assert abs(b10 - 10 * b1) <= 1e-6 * b10  # S = ΔΦ/D, 0.1700207/D
    res = runner.invoke(app, ["landscape", "maier-stein", "--noise", "-1"])
    assert res.exit_code == 2 and "`--noise`" in res.output


def test_sweep_command_runs_a_toml_spec_and_resumes(tmp_path):
    # OU bridge x0 = (1, 1) -> (0, 1) at T = 1: S scales as 1/D (the action halves when D doubles)
    spec = tmp_path / "s.toml"
    spec.write_text(
        'computation = "path"\n[parameters]\nmodel = "ou"\nx0 = [1.0, 1.0]\nx1 = [0.0, 1.0]\n'
        "n = 100\n[grid]\nT = [1.0]\nmodel.D = [0.5, 1.0]\n"
    )
    out = tmp_path / "s.zarr"
    args = ["sweep", str(spec), "--out", str(out), "--workers", "0", "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["done"] == 2
    with xr.open_zarr(out) as ds:
        a = ds["action"].values[0]
    np.testing.assert_allclose(a[0], 2 * a[1], rtol=1e-10)
    again = runner.invoke(app, args)
    assert json.loads(again.output)["skipped"] == 2 and json.loads(again.output)["ran"] == 0


def test_simulate_with_workers_writes_statistics_to_zarr(tmp_path):
    base = ["simulate", "ddm", "--x0", "0", "--T", "1", "--dt", "0.01", "--paths", "20000"]
    base += ["--lower", "-1", "--upper", "1", "--workers", "0", "--chunk-size", "5000"]
    res = runner.invoke(app, [*base, "--out", str(tmp_path / "e.zarr"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["chunks"] == 4 and 0 < data["exit_fraction"]["upper"] < 1
    bad = runner.invoke(app, [*base, "--out", str(tmp_path / "e.nc")])
    assert bad.exit_code == 2 and "--out" in bad.output and ".zarr" in bad.output


def test_rare_tams_json_saves_the_run_and_refuses_overlapping_sets(tmp_path):
    out = tmp_path / "run.nc"
    args = ["rare", "ou", "--from", "0,0", "--to", "1.5,0", "--radius", "0.2", "--horizon", "1",
            "--replicas", "10", "--repetitions", "2", "--dt", "0.01", "--json", "--out", str(out)]  # fmt: skip
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["method"] == "TAMS" and data["status"] == "estimated"
    assert 0 < data["probability"] < 1 and data["coordinate"] == "chord"
    import xarray as xr

    with xr.open_dataset(out) as ds:
        assert ds.attrs["kind"] == "SplittingResult" and ds.sizes["repetition"] == 2
    bad = runner.invoke(app, ["rare", "ou", "--from", "0,0", "--to", "0.1,0", "--radius", "0.2"])
    assert bad.exit_code == 2 and "overlap" in bad.output
    # without a horizon at this noise (D = 1, τ ≈ 7) the exit time is simulated directly, and saved
    direct = tmp_path / "direct.nc"
    res = runner.invoke(app, ["rare", "ou", "--from", "0,0", "--to", "1.5,0", "--radius", "0.2",
                              "--dt", "0.01", "--json", "--out", str(direct)])  # fmt: skip
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["method"] == "direct simulation" and data["status"] == "estimated"
    assert data["surface"] is None and data["passages"] >= 2000
    lo, hi = data["interval"]
    assert 0 < lo < data["mean_exit_time"] < hi
    with xr.open_dataset(direct) as ds:
        assert ds.attrs["kind"] == "SampledExitTime" and ds.sizes["passage"] == data["passages"]
        assert abs(ds.attrs["mean_exit_time"] - data["mean_exit_time"]) < 1e-12 * hi
