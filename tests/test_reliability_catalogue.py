"""The reliability catalogue (issue 17): every case of the audit, with the class it must land in.

Classes:

* ``error`` — a noetherlab exception naming the argument and the fix (CLI: exit code 2, one line
  ``error: argument `...`: ... Fix: ...``), raised before any long computation;
* ``refused`` — a resource guard (``ResourceLimitError``) before anything is allocated;
* ``valid`` — a result that is correct, whose status or certificate tells the truth (the check in
  each case says what "true" means).

``docs/reliability.md`` lists the same catalogue.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import (
    InvalidArgumentError,
    NoetherlabError,
    NonFiniteError,
    ResourceLimitError,
)
from noetherlab.cli import app
from noetherlab.ensembles import interval, simulate

runner = CliRunner()


def _cli(args: list[str]) -> tuple[int, str]:
    res = runner.invoke(app, args)
    return res.exit_code, res.output


def _cli_error(args: list[str], argument: str) -> None:
    start = time.perf_counter()
    code, out = _cli(args)
    assert code == 2, out
    assert f"argument `{argument}`" in out and "Fix:" in out, out
    assert "Traceback" not in out
    assert time.perf_counter() - start < 30  # refused up front, not after the computation


# ------------------------------------------------------------------ false stamps (must not certify)
def test_stamp_1_degenerate_symmetry_probes_refused_or_not_certified():
    ta = models.three_attractor()
    with pytest.raises(InvalidArgumentError) as info:  # class: error
        nl.find_symmetries(ta, n_points=1)
    assert info.value.argument == "n_points"
    with pytest.raises(InvalidArgumentError) as info:  # class: error
        nl.find_symmetries(ta, scale=0.0)
    assert info.value.argument == "scale"
    # class: valid — the local rotation about (2.35, 2.35) of the saturated sigmoids fails the
    # independent check (violation 0.45 on a region covering the origin): rejected, not certified
    rep = nl.find_symmetries(ta, center=[5.0, 5.0], scale=1e-6)
    assert not any(s.kind == "rotation" for s in rep) and not rep.certified
    assert rep.rejected and rep.rejected[0][1] > 0.1
    _cli_error(["symmetries", "three-attractor", "--scale", "0"], "--scale")
    _cli_error(["symmetries", "three-attractor", "--scale", "-1"], "--scale")
    _cli_error(["symmetries", "ou", "--center", "1,2,3"], "--center")


def test_stamp_2_augmentation_groups_validated(tmp_path):
    nan = tmp_path / "g.npy"
    np.save(nan, np.full((2, 3, 3), np.nan))
    _cli_error(["laws", "linear", "--sizes", "3,1", "--augment", str(nan), "--json"], "--augment")
    not_group = tmp_path / "h.npy"
    np.save(not_group, np.stack([np.eye(3), 2 * np.eye(3)]))
    _cli_error(["laws", "linear", "--sizes", "3,1", "--augment", str(not_group)], "--augment")
    wrong = tmp_path / "w.npy"
    np.save(wrong, np.stack([np.eye(2)]))
    _cli_error(["laws", "linear", "--sizes", "3,1", "--augment", str(wrong)], "--augment")
    text = tmp_path / "g.txt"
    text.write_text("1 0 0")
    _cli_error(["laws", "linear", "--sizes", "3,1", "--augment", str(text)], "--augment")
    from noetherlab.training import linear_net

    with pytest.raises(InvalidArgumentError) as info:  # the Python API validates groups too
        nl.count_laws(linear_net([3, 1]), loss="mse", group=np.stack([np.eye(3), 2 * np.eye(3)]))
    assert info.value.argument == "group"


def test_stamp_3_converged_only_at_a_stationary_path():
    """f = x⁵, (0, 0) → (30, 30), T = 1: was 'converged' with EL residual 18.9 (action 0.728)."""
    res = nl.most_likely_path(
        nl.SDE(lambda x: x**5, diffusion=1.0, dim=2),
        [0.0, 0.0],
        [30.0, 30.0],
        T=1.0,
        n=200,
        resolution=nl.ResolutionControl(check=False),
    )
    assert res.converged == (res.el_residual <= res.el_tol)
    assert res.converged and res.action < 0.6


def test_stamp_4_diverged_training_is_not_reported_as_conserving(tmp_path):
    from noetherlab.training import linear_net
    from noetherlab.training.check import train_check

    rep = train_check(linear_net([2, 2, 1]), "mse", None, lr=3.0, steps=40)
    assert rep.diverged
    for name in rep.diverged:
        row = rep.final_drift[name]
        assert row.known_laws is None and row.diverged
    code, out = _cli(
        [
            "train-check",
            "linear",
            "--sizes",
            "2,2,1",
            "--lr",
            "3",
            "--steps",
            "40",
            "--out",
            str(tmp_path / "tc"),
        ]
    )
    assert code == 1 and "diverged" in out


def test_stamp_5_misc():
    with pytest.raises(InvalidArgumentError) as info:  # time-first drift: was a wrong action
        nl.SDE(lambda t, x: -x, diffusion=1.0, dim=1)
    assert info.value.argument == "drift"
    ddm = models.drift_diffusion()
    with pytest.raises(InvalidArgumentError) as info:  # was: every path absorbed at step 1
        simulate(ddm, 2.0, 1.0, 0.025, 100, boundary=interval(-1.0, 1.0))
    assert info.value.argument == "x0"
    _cli_error(
        ["path", "ou", "--x0", "1,0", "--x1", "0,1", "--T", "1", "--energy", "0.5"], "--T/--energy"
    )
    tiny = nl.most_likely_path(
        models.ornstein_uhlenbeck(),
        [-2.0, 2.0],
        [2.0, 2.0],
        T=1e-12,
        n=50,
        resolution=nl.ResolutionControl(check=False),
    )
    assert tiny.converged and tiny.el_residual < 1e-10  # normalised, not 2.4e12
    with pytest.raises(NonFiniteError):  # NaN derivative: was "Hessian factorisation failed at nan"
        nl.most_likely_path(
            nl.SDE(lambda x: jnp.sqrt(jnp.abs(x - 0.25)), diffusion=1.0, dim=1),
            0.0,
            1.0,
            T=1.0,
            n=2,
        )


# ------------------------------------------------------------------ raw tracebacks / silent input
@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda e: e.exit_fraction(99), "exit"),
        (lambda e: e.histogram(bins=0), "bins"),
        (lambda e: e.condition(exit="lower", window=(5.0, 6.0)).histogram(), "ensemble"),
        (lambda e: e.condition(window=(1.0, 0.0)), "window"),
    ],
    ids=["exit_fraction(99)", "histogram(bins=0)", "empty condition", "reversed window"],
)
def test_ensemble_input(call, argument):
    ens = simulate(models.drift_diffusion(), 0.5, 1.0, 0.025, 200, boundary=interval(-1.0, 1.0))
    with pytest.raises(InvalidArgumentError) as info:
        call(ens)
    assert info.value.argument == argument


def test_silently_accepted_input_is_refused(tmp_path):
    ddm = models.drift_diffusion()
    with pytest.raises(InvalidArgumentError) as info:
        simulate(ddm, 0.5, 1.0, 0.025, 100, save="paths", save_every=0)
    assert info.value.argument == "save_every"
    with pytest.raises(nl.errors.ShapeError) as info:
        nl.most_likely_path(
            models.ornstein_uhlenbeck(), [1.0, 1.0], [0.0, 1.0], T=1.0, n=10, init=np.zeros((5, 2))
        )
    assert info.value.argument == "init"
    _cli_error(["laws", "relu", "--sizes", "3,2.5,2"], "--sizes")
    _cli_error(["laws", "linear", "--sizes", "3,1", "--explain"], "--explain")
    _cli_error(
        ["path", "ou", "--x0", "1,0", "--x1", "0,1", "--T", "1", "--out", str(tmp_path / "s.json")],
        "--out",
    )
    with pytest.raises(InvalidArgumentError):
        nl.io.save_dataset(tmp_path / "s.json", __import__("xarray").Dataset())


def test_output_destinations_checked_before_computing(tmp_path):
    """An unwritable destination (here: inside a regular file, which no user can write into) is
    refused before the solve, naming --out — not a raw error about a temporary file afterwards."""
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("x")
    _cli_error(
        ["path", "ou", "--x0", "1,0", "--x1", "0,1", "--T", "1", "--out", str(blocker / "p.nc")],
        "--out",
    )
    _cli_error(["train-check", "linear", "--sizes", "3,1", "--out", str(blocker / "tc")], "--out")


def test_output_directory_and_existing_file(tmp_path):
    d = tmp_path / "adir.nc"
    d.mkdir()
    _cli_error(["path", "ou", "--x0", "1,0", "--x1", "0,1", "--T", "1", "--out", str(d)], "--out")
    f = tmp_path / "afile"
    f.write_text("x")
    _cli_error(["train-check", "linear", "--sizes", "3,1", "--out", str(f)], "--out")
    _cli_error(["reproduce", "--quick", "--only", "fig1a", "--out", str(f)], "--out")


# ------------------------------------------------------------------ resource guards
def test_resource_guards_refuse_before_running():
    start = time.perf_counter()
    _cli_error(["laws", "relu", "--sizes", "1000,1000,1000"], "--sizes")  # errors speak CLI
    _cli_error(["laws", "relu", "--sizes", "3,3,3", "--degree", "12"], "--degree")
    with pytest.raises(ResourceLimitError) as info:
        simulate(models.drift_diffusion(), 0.5, 1.0, 0.025, 10**9)
    assert info.value.argument == "n_paths"
    with pytest.raises(ResourceLimitError) as info:
        nl.most_likely_path(
            models.ornstein_uhlenbeck(), [1.0, 1.0], [0.0, 1.0], energy=1.0, n=10**9
        )
    assert info.value.argument == "n"
    assert time.perf_counter() - start < 60


# ------------------------------------------------------------------ results on disk
def test_interrupted_run_leaves_previous_results_untouched(tmp_path):
    out = tmp_path / "R"
    out.mkdir()
    (out / "report.md").write_text("previous run")
    with pytest.raises(KeyboardInterrupt), nl.io.run_directory(out) as fresh:
        (fresh / "report.md").write_text("half of a new run")
        raise KeyboardInterrupt
    assert (out / "report.md").read_text() == "previous run"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".R.new")] == []
    with nl.io.run_directory(out) as fresh:
        (fresh / "report.md").write_text("new run")
    assert (out / "report.md").read_text() == "new run"


def test_concurrent_runs_into_one_directory_are_refused(tmp_path):
    out = tmp_path / "R"
    with (
        nl.io.run_directory(out),
        pytest.raises(InvalidArgumentError, match="another noetherlab run"),
        nl.io.run_directory(out),
    ):
        pass


def test_written_files_keep_the_umask_mode(tmp_path):
    target = tmp_path / "r.json"
    target.write_text("{}")
    os.chmod(target, 0o664)
    nl.io.save_json(target, {"a": 1})
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o664
    fresh = tmp_path / "new.json"
    old = os.umask(0o022)
    try:
        nl.io.save_json(fresh, {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o644


def test_loaders_rebuild_results(tmp_path):
    res = nl.most_likely_path(models.ornstein_uhlenbeck(), [-2.0, 2.0], [2.0, 2.0], T=1.0, n=100)
    nl.io.save_dataset(tmp_path / "p.nc", res.to_dataset())
    back = nl.load_path(tmp_path / "p.nc")
    assert back.converged is True and back.action == res.action
    ens = simulate(
        models.drift_diffusion(), 0.5, 1.0, 0.025, 300, boundary=interval(-1.0, 1.0), key=3
    )
    nl.io.save_dataset(tmp_path / "e.nc", ens.to_dataset())
    e2 = nl.load_ensemble(tmp_path / "e.nc")
    np.testing.assert_array_equal(e2.final, ens.final)
    assert e2.exit_fraction("lower") == ens.exit_fraction("lower") and e2.labels == (
        "lower",
        "upper",
    )
    from noetherlab.training import linear_net

    lc = nl.count_laws(linear_net([2, 2, 1]))
    lc.save(tmp_path / "l.json")
    lc2 = nl.load_law_count(tmp_path / "l.json")
    assert lc2.laws == lc.laws and lc2.certified is True and isinstance(lc2.certified, bool)
    assert json.loads(Path(tmp_path / "l.json").read_text())["certified"] is True
    with pytest.raises(NoetherlabError):
        nl.load_path(tmp_path / "e.nc")  # an ensemble is not a path
