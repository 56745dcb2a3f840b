"""Laws of a parameter subset (:mod:`noetherlab.training.subsets`, issue 30): counted blind on
``|S|`` dimensions, they equal the known laws that involve those parameters only."""

from __future__ import annotations

import json

import pytest

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError
from noetherlab.cli import app
from noetherlab.training.subsets import count_subset_laws, subset_index

ENCODER = tr.transformer_encoder(3, 3, 1, 1, 1, 2, norm="pre")


@pytest.mark.parametrize(
    ("subset", "expected"),
    [
        # one head of width 1 reading a LayerNorm output: GL(1) of QK and of VO, the row sum of O,
        # the column sums of Q, K and V (measured blind: 6, gap 2.7e13)
        (["Q1", "K1", "V1", "O1"], 6),
        # the feed-forward: 2 ReLU rescalings, 2 row sums of U, 2 column sums of W, Σ w (7)
        (["U1", "u1", "W1", "w1"], 7),
        # Q alone: its column sum only (GL(1) of QK needs K)
        (["Q1"], 1),
    ],
)
def test_blind_subset_counts_equal_the_known_laws_of_the_subset(subset, expected):
    blind = count_subset_laws(ENCODER, subset, known=False)
    assert blind.certified and blind.gap > 1e8 and blind.laws == expected
    assert blind.dimension == len(subset_index(ENCODER, subset))
    bounded = count_subset_laws(ENCODER, subset)
    assert bounded.laws == expected and bounded.explained == expected


def test_a_subset_without_known_laws_is_counted_blind():
    # post-norm, first layer: no law involves Q alone (it reads the raw input)
    res = count_subset_laws(tr.transformer_encoder(3, 3, 1, 1, 1, 2), ["Q1"])
    assert res.certified and res.laws == 0 and res.explained is None


def test_command_line_and_bad_input():
    from typer.testing import CliRunner

    runner = CliRunner()
    args = ["laws", "transformer-pre", "--sizes", "3,3,1,1,1,2", "--subset", "U1,u1,W1,w1"]
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["laws"] == 7 and data["dimension"] == 17 and data["subset"] == args[-1].split(",")
    bad = runner.invoke(app, ["laws", "transformer", "--sizes", "3,3,1,1,1,2", "--subset", "Z"])
    assert bad.exit_code == 2 and "--subset" in bad.output and "Q1" in bad.output
    with pytest.raises(InvalidArgumentError, match="every parameter"):
        subset_index(ENCODER, sorted({n.split("[")[0] for n in ENCODER.param_names}))
    with pytest.raises(InvalidArgumentError, match="gradient flow only"):
        from noetherlab.training.dynamics import parse_flow
        from noetherlab.training.lie import architecture_fields, on_flow
        from noetherlab.training.subsets import subset_fields

        relu = tr.relu_net([2, 3, 1])
        momentum = on_flow(architecture_fields(relu), parse_flow("momentum"), relu.param_names)
        subset_fields(momentum, subset_index(relu, ["W1"]))
