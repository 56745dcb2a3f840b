"""Training-run verification (train-check): which laws hold, which drift, and how."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy

from noetherlab._core.errors import UnsupportedModelError
from noetherlab.training import lightning_attention, linear_net, relu_net
from noetherlab.training.check import train_check
from noetherlab.training.flows import make_data, train
from noetherlab.training.groups import cyclic, orthogonal
from noetherlab.training.lie import loss_fields
from noetherlab.training.subspace import subspace_laws


def test_c3_subspace_law_has_an_exact_formula_conserved_by_gd():
    arch = linear_net([3, 1])
    G = cyclic(3).matrices
    laws, _ = subspace_laws(arch, loss_fields(arch, "mse", G), G, False)
    assert len(laws) == 1 and laws[0].count == 1
    (expr,) = laws[0].formulas(arch)
    w0, w1, w2 = (sympy.Symbol(f"W1[0,{i}]") for i in range(3))
    assert sympy.simplify(expr - (w1 - w2) / (w0 - w2)) == 0
    X, Y = make_data(arch, "mse", 8, seed=2, group=G)
    tr = train(arch, "mse", X, Y, np.array([0.4, -1.0, 0.7]), lr=0.01, steps=200)
    f = sympy.lambdify(list(expr.free_symbols), expr)
    order = list(expr.free_symbols)
    idx = [arch.param_names.index(str(s)) for s in order]
    vals = np.array([f(*th[idx]) for th in tr.theta])
    assert np.max(np.abs(vals - vals[0])) < 1e-10 * abs(vals[0])


def test_train_check_report_numbers(tmp_path):
    # linear [3, 2, 1], no augmentation: the GL(2) laws W1W1ᵀ − W2ᵀW2 (3 of them)
    rep = train_check(linear_net([3, 2, 1]), "mse", None, steps=100, out=tmp_path)
    final = rep.final_drift
    assert final["gradient flow"].known_laws < 1e-10
    assert 1e-8 < final["gd"].known_laws < 1e-2
    assert final["adam"].known_laws > 10 * final["gd"].known_laws
    sc = rep.step_size_scaling
    for m in ("gd", "sgd"):
        assert abs(sc[m]["slope_fixed_steps"] - 2.0) < 0.2  # O(η²) per step
        assert abs(sc[m]["slope_fixed_time"] - 1.0) < 0.15  # O(η) at fixed time
    wd = rep.weight_decay_fit
    assert abs(wd["fitted_rate"] - wd["predicted_gd_rate"]) < 0.02 * wd["predicted_gd_rate"]
    # predicted against measured (training.broken): GD + weight decay and minibatches follow the
    # closed form to a small part of the law's size; Adam is measured only
    broken = {row["method"]: row for row in rep.broken_laws}
    assert set(broken) == {"gd + weight decay", "momentum", "sgd", "adam"}
    assert broken["gd + weight decay"]["max_error"] < 1e-3
    assert "predicted" not in broken["adam"]
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["noetherlab_version"] and saved["parameters"]["steps"] == 100
    assert "## Broken laws" in (tmp_path / "report.md").read_text()
    for name in (
        "law_drift.png",
        "step_size_scaling.png",
        "weight_decay.png",
        "broken_laws.png",
        "report.md",
    ):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.slow
def test_train_check_lightning_o4_rows_span_is_conserved_except_by_adam():
    rep = train_check(lightning_attention(2, 4, 1, 1), "mse", orthogonal(4), steps=60)
    (law,) = rep.augmentation_laws
    assert law["scalar_laws"] == 3 and len(law["formulas"]) == 3
    final = rep.final_drift
    for m in ("gradient flow", "gd", "sgd", "momentum", "nesterov", "gd + weight decay"):
        assert final[m].augmentation_laws < 1e-10, m
    assert final["adam"].augmentation_laws > 1e-3


def test_train_check_refuses_an_inexact_continuous_average():
    with pytest.raises(UnsupportedModelError, match="exact group average"):
        train_check(relu_net([3, 2, 1]), "mse", orthogonal(3), steps=20)
