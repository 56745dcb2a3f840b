"""Trained rate RNNs: training lowers the loss, is reproducible from its seed, and the weights
survive a save/load round trip; bad arguments are named."""

from __future__ import annotations

import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def ring():
    return nl.train_rnn("ring", 16, steps=60, seed=3)


def test_training_lowers_the_loss_and_is_seeded(ring):
    assert ring.loss_history.shape == (60,)
    assert ring.final_loss < 0.5 * ring.loss_history[0]
    again = nl.train_rnn("ring", 16, steps=60, seed=3)
    np.testing.assert_array_equal(again.W, ring.W)


def test_the_sde_is_the_autonomous_network(ring):
    sde = ring.sde(0.02)
    x = np.linspace(-1.0, 1.0, 16)
    np.testing.assert_allclose(np.asarray(sde.f(x)), -x + ring.W @ np.tanh(x) + ring.b, rtol=1e-13)
    assert float(sde.D(x)[0, 0]) == 0.02


def test_save_load_round_trip(ring, tmp_path):
    ring.save(tmp_path / "ring.nc")
    back = nl.load_rnn(tmp_path / "ring.nc")
    np.testing.assert_array_equal(back.W, ring.W)
    np.testing.assert_array_equal(back.loss_history, ring.loss_history)
    assert back.task == "ring" and back.seed == 3


def test_bad_arguments_are_named():
    with pytest.raises(InvalidArgumentError, match="task"):
        nl.train_rnn("spiral", 8)
    with pytest.raises(InvalidArgumentError, match="n_memories"):
        nl.train_rnn("memory", 8, n_memories=1)
    with pytest.raises(InvalidArgumentError, match="training_noise"):
        nl.train_rnn("ring", 8, training_noise=-1.0)
