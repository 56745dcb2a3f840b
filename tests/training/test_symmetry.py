"""Data symmetry: extra conservation laws from augmentation (counts derived in
`noetherlab.training.symmetry`'s docstring), verified on a gradient-descent run."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab.training import linear_net
from noetherlab.training.flows import law_drift, make_data, train
from noetherlab.training.groups import cyclic, orthogonal, parse_group, rotation
from noetherlab.training.symmetry import augmentation_report

REGRESSION = linear_net([3, 1])  # g = w·x, w in R^3


def test_cyclic_augmentation_of_linear_regression_adds_one_law():
    rep = augmentation_report(REGRESSION, cyclic(3), "mse")
    assert (rep.laws_without, rep.laws_with, rep.extra_laws) == (0, 1, 1)
    assert rep.certified and rep.gap > 1e8


def test_orthogonal_augmentation_conserves_the_direction_of_w():
    rep = augmentation_report(REGRESSION, orthogonal(3), "mse")
    assert (rep.laws_without, rep.laws_with) == (0, 2) and rep.certified


def test_logistic_loss_gets_no_extra_law():
    rep = augmentation_report(REGRESSION, cyclic(3), "logistic")
    assert (rep.laws_without, rep.laws_with) == (0, 0) and rep.certified


def test_the_extra_c3_law_is_conserved_by_gradient_descent():
    # the C3 law: the direction of w's component in the plane orthogonal to (1, 1, 1)
    X, Y = make_data(REGRESSION, "mse", 8, seed=1, group=cyclic(3).matrices)
    Xp, Yp = make_data(REGRESSION, "mse", 8, seed=1)  # the same base data, not augmented
    theta0 = jnp.asarray([0.3, -1.2, 0.8])
    law = [lambda w: (w[0] - w[1]) / (w[0] + w[1] - 2 * w[2])]
    aug = train(REGRESSION, "mse", X, Y, theta0, method="gd", lr=0.01, steps=300)
    plain = train(REGRESSION, "mse", Xp, Yp, theta0, method="gd", lr=0.01, steps=300)
    assert np.max(law_drift(law, aug)) < 1e-10  # exact for GD too: it rescales w_perp
    assert np.max(law_drift(law, plain)) > 1e-2


def test_continuous_stand_in_refuses_where_it_is_not_exact():
    with pytest.raises(UnsupportedModelError, match="degree"):
        augmentation_report(REGRESSION, orthogonal(3), "logistic")


def test_parse_group_specs(tmp_path):
    assert len(parse_group("cyclic", REGRESSION)) == 3
    assert len(parse_group("permutation", REGRESSION)) == 6
    assert len(parse_group("rotation:4", REGRESSION)) == 4
    mats = rotation(4, 3).matrices
    assert np.allclose(mats[1] @ mats[1] @ mats[1] @ mats[1], np.eye(3))
    np.save(tmp_path / "g.npy", mats)
    assert len(parse_group(str(tmp_path / "g.npy"), REGRESSION)) == 4
    with pytest.raises(InvalidArgumentError, match="unknown group"):
        parse_group("dihedral", REGRESSION)


def test_stand_in_exactness_decides_where_a_finite_sum_is_the_haar_average():
    from noetherlab.training import lightning_attention
    from noetherlab.training.symmetry import stand_in_exact

    assert stand_in_exact(REGRESSION, orthogonal(3), "mse")  # degree 2 <= 3
    assert not stand_in_exact(REGRESSION, orthogonal(3), "logistic")  # not polynomial
    assert not stand_in_exact(lightning_attention(2, 3, 1, 1), orthogonal(3), "mse")  # degree 6
    assert stand_in_exact(lightning_attention(2, 2, 1, 1), orthogonal(2), "mse")  # D24: <= 23
    assert stand_in_exact(REGRESSION, cyclic(3), "logistic")  # finite groups are exact


def test_augmentation_report_is_a_frozen_record_with_its_json_form():
    import dataclasses
    import json

    rep = augmentation_report(REGRESSION, cyclic(3), "mse")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rep.laws_with = 5  # type: ignore[misc]
    data = json.loads(json.dumps(rep.as_dict()))
    assert data["kind"] == "AugmentationReport" and data["lifted"] is None
    assert (data["laws_without"], data["laws_with"], data["extra_laws"]) == (0, 1, 1)
    assert rep.laws == rep.laws_with == 1
