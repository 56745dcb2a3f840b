"""Smoke test of the main job: `reproduce --quick` writes every figure and report and matches the
published numbers (the same checks as the full run; coarser grids, fewer samples)."""

from __future__ import annotations

import json

import pytest

from noetherlab.reproduce import FIGURES, reproduce


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    return out, reproduce(out, mode="both", quick=True)


def test_quick_reproduction_writes_figures_and_reports(quick_report):
    out, _ = quick_report
    for name in (
        "fig1a_ddm",
        "fig1b_ou",
        "fig1c_three_attractor",
        "fig2_reverse_diffusion",
        "fig2_fixed_start_family",
    ):
        assert (out / f"{name}.png").stat().st_size > 10_000
        assert (out / f"{name}.svg").exists()
    saved = json.loads((out / "report.json").read_text())
    assert saved["noetherlab_version"] and saved["parameters"]["quick"] is True
    assert set(saved["figures"]) == set(FIGURES)
    md = (out / "report.md").read_text()
    assert "| Fig. 1a kept wrong-decision paths n | 981 | 981 |" in md


def test_quick_reproduction_matches_the_published_numbers(quick_report):
    _, rep = quick_report
    checks = {c["name"]: c for r in rep["figures"].values() for c in r["checks"]}
    assert rep["all_checks_match"], [c for c in checks.values() if not c["match"]]
    assert checks["Fig. 1a kept wrong-decision paths n"]["ours"] == 981
    assert checks["Fig. 1c notebook action (T = 40, step 59536)"]["ours"] == pytest.approx(
        3.3906e-2, rel=5e-5
    )
    assert checks["Fig. 1c notebook action (T = 1, step 59536)"]["ours"] == pytest.approx(
        9.0175, rel=5e-5
    )
    assert checks["Fig. 2 notebook action after the first GD step (θ0 = π/4)"][
        "ours"
    ] == pytest.approx(0.86046, rel=1e-5)
    c = rep["figures"]["fig1c"]["numbers"]
    # converged answers differ from the published picture, and the report says by how much
    assert c["converged T = 1"]["action"] == pytest.approx(27.9534, rel=1e-4)
    assert c["converged T = 40"]["action"] == pytest.approx(6.611, rel=1e-3)
    assert c["converged T = 40"]["min_distance_to_intermediate_attractor"] < 0.05
    fam = rep["figures"]["fig2"]["numbers"]["endpoint_family"]
    for entry in fam.values():
        assert entry["exact"]["converged"] and entry["exact"]["ell_drift"] < 1e-6
        assert entry["notebook_gd"]["ell_drift"] > 0.1  # the published paths are not minimisers


def test_bad_mode_is_rejected(tmp_path):
    from noetherlab.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="mode"):
        reproduce(tmp_path, mode="fast")
    with pytest.raises(InvalidArgumentError, match="only"):
        reproduce(tmp_path, only=("fig3",))
