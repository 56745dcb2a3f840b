"""Users' recurrent networks imported as SDEs (noetherlab.models.recurrent), and the 3-bit flip-flop
GRU (Sussillo & Barak 2013) trained in PyTorch by ``data/make_flipflop_gru.py``.

References: each cell's update is checked against the library's own forward pass (PyTorch in a
float64 copy, tolerance 1e-10 relative); the flip-flop network must have 2³ = 8 stable memories
(one per corner of the readout cube) and index-1 saddles on the 12 edges between neighbouring
memories (Sussillo & Barak 2013, Fig. 3)."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import noetherlab as nl
from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError

torch = pytest.importorskip("torch")
DATA = Path(__file__).with_name("data") / "flipflop_gru.npz"


@pytest.mark.parametrize(
    "make",
    [
        lambda: torch.nn.RNNCell(3, 5),
        lambda: torch.nn.RNNCell(3, 5, nonlinearity="relu"),
        lambda: torch.nn.GRUCell(3, 5),
        lambda: torch.nn.LSTMCell(3, 5),
        lambda: torch.nn.RNN(3, 5),
        lambda: torch.nn.GRU(3, 5, batch_first=True),
        lambda: torch.nn.LSTM(3, 5),
        lambda: torch.nn.GRU(3, 5, bias=False),
    ],
)
def test_torch_cells_match_their_forward_pass(make):
    torch.manual_seed(0)
    net = make()
    cell = nl.rnn_cell(net)
    assert cell.forward_error <= 1e-12
    assert cell.dim == (10 if "LSTM" in type(net).__name__ else 5)
    # the drift convention: one Euler step of length dt is one step of the network
    rng = np.random.default_rng(1)
    h, u = rng.standard_normal(cell.dim), rng.standard_normal(3)
    sde = cell.sde(u, diffusion=0.01, dt=0.1)
    np.testing.assert_allclose(
        h + 0.1 * sde.drift_at(h)[0],
        np.asarray(cell.step(jnp.asarray(h), jnp.asarray(u))),
        atol=1e-13,
    )


def test_lstm_state_is_h_then_c():
    torch.manual_seed(0)
    net = torch.nn.LSTMCell(2, 4).double()
    cell = nl.rnn_cell(net)
    h, c, u = torch.randn(1, 4).double(), torch.randn(1, 4).double(), torch.randn(1, 2).double()
    h1, c1 = net(u, (h, c))
    x1 = cell.step(jnp.asarray(np.concatenate([h[0], c[0]])), jnp.asarray(u[0].numpy()))
    np.testing.assert_allclose(
        np.asarray(x1), np.concatenate([h1[0].detach(), c1[0].detach()]), atol=1e-14
    )


def test_equinox_and_flax_cells():
    eqx = pytest.importorskip("equinox")
    key = jax.random.PRNGKey(0)
    for net in [eqx.nn.GRUCell(3, 5, key=key), eqx.nn.LSTMCell(3, 5, key=key)]:
        cell = nl.rnn_cell(net)
        assert cell.forward_error == 0.0 and cell.input_size == 3
    flax = pytest.importorskip("flax")
    from flax import linen, nnx

    for net in [nnx.GRUCell(3, 5, rngs=nnx.Rngs(0)), nnx.LSTMCell(3, 5, rngs=nnx.Rngs(0))]:
        cell = nl.rnn_cell(net)  # nnx cells hold float32 weights: compared at float32 precision
        assert cell.forward_error <= 1e-5 and cell.source.startswith("flax.nnx")
    m = linen.SimpleCell(features=5)
    variables = m.init(key, m.initialize_carry(key, (3,)), jnp.ones(3))
    cell = nl.rnn_cell(m, params=variables)
    assert cell.kind == "rnn" and cell.input_size == 3 and cell.forward_error <= 1e-5
    with pytest.raises(InvalidArgumentError, match="params"):
        nl.rnn_cell(m)
    del flax


def test_weights_are_data_and_inputs():
    torch.manual_seed(0)
    a = nl.rnn_sde(torch.nn.GRUCell(3, 5), np.ones(3), diffusion=0.1)
    b = nl.rnn_sde(torch.nn.GRUCell(3, 5), np.zeros(3), diffusion=0.2)
    assert a.drift.shares_compiled_code and a.drift.program == b.drift.program
    timed = nl.rnn_sde(
        torch.nn.GRUCell(3, 5), lambda t: jnp.array([jnp.sin(t), 0.0, 0.0]), diffusion=0.1
    )
    assert timed.time_dependent and not a.time_dependent
    cont = nl.rnn_sde(
        lambda x, u: -x + jnp.tanh(x) + u,
        continuous=True,
        hidden_size=2,
        input_size=2,
        diffusion=0.1,
    )
    np.testing.assert_allclose(cont.drift_at(np.zeros(2)), 0.0)


def test_bad_networks_and_inputs_are_refused():
    torch.manual_seed(0)
    with pytest.raises(UnsupportedModelError, match="Linear"):
        nl.rnn_cell(torch.nn.Linear(3, 5))
    with pytest.raises(UnsupportedModelError, match="num_layers=2"):
        nl.rnn_cell(torch.nn.GRU(3, 5, num_layers=2))
    with pytest.raises(UnsupportedModelError, match="bidirectional"):
        nl.rnn_cell(torch.nn.LSTM(3, 5, bidirectional=True))
    with pytest.raises(UnsupportedModelError, match="str"):
        nl.rnn_cell("gru")

    class Louder(torch.nn.GRUCell):
        def forward(self, u, h=None):
            return 1.01 * super().forward(u, h)

    with pytest.raises(InvalidArgumentError, match="differs from the module's own forward pass by"):
        nl.rnn_cell(Louder(3, 5))
    with pytest.raises(ShapeError, match=r"shape \(3,\)"):
        nl.rnn_sde(torch.nn.GRUCell(3, 5), np.ones(4), diffusion=0.1)
    with pytest.raises(ShapeError, match="u\\(t\\)"):
        nl.rnn_sde(torch.nn.GRUCell(3, 5), lambda t: jnp.ones(2), diffusion=0.1)
    with pytest.raises(InvalidArgumentError, match="noise"):
        nl.rnn_sde(torch.nn.GRUCell(3, 5))
    with pytest.raises(InvalidArgumentError, match="hidden_size"):
        nl.rnn_cell(lambda x, u: -x, continuous=True)


# ------------------------------------------------------------------ the 3-bit flip-flop GRU
def _flipflop():
    d = np.load(DATA)
    gru = torch.nn.GRU(3, 16, batch_first=True).double()  # the weights were trained in float64
    gru.load_state_dict(
        {
            k: torch.tensor(d[k])
            for k in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        }
    )
    return d, gru


def _visited_states(cell, trials=32, steps=300):
    """Hidden states of the network driven by the task's random pulses (the slow-point seeds)."""
    rng = np.random.default_rng(1)
    u = (rng.random((steps, trials, 3)) < 0.04) * rng.choice([-1.0, 1.0], (steps, trials, 3))
    u[0] = rng.choice([-1.0, 1.0], (trials, 3))
    step = jax.jit(jax.vmap(cell.step))
    h, out = jnp.zeros((trials, cell.dim)), []
    for t in range(steps):
        h = step(h, jnp.asarray(u[t]))
        out.append(np.asarray(h))
    return np.concatenate(out)


def test_flipflop_gru_memories_saddles_and_a_transition():
    d, gru = _flipflop()
    cell = nl.rnn_cell(gru)
    sde = cell.sde(diffusion=1e-3)
    states = _visited_states(cell)
    found = nl.find_slow_points(sde, states, n_seeds=1024, perturbation=0.05, q_tol=1e-10)
    stable = found.states("stable")
    assert len(stable) == 8 and all(p.exact for p in found.attractors)
    bits = np.sign(stable @ d["readout_weight"].T + d["readout_bias"])
    assert len({tuple(b) for b in bits}) == 8  # one memory per corner of the cube
    index1 = [p for p in found.saddles if p.index == 1]
    assert len(index1) == 12  # one on each edge of the cube
    # a most likely transition between two neighbouring memories (one bit flipped) passes by the
    # index-1 saddle on their edge: the saddle whose readout keeps the two shared bits and sits
    # between the memories on the flipped one. At T = 60 it passes within a fifth of the distance
    # between the memories (measured: 0.15 of it), and farther from every saddle on an edge that touches
    # neither memory. (The saddles on the other edges at a or c can lie as close to the path as
    # the memory itself: the path starts and ends there.)
    a = stable[0]
    k = next(i for i, b in enumerate(bits) if np.sum(b != bits[0]) == 1)
    c, flipped = stable[k], int(np.argmax(bits[k] != bits[0]))
    readout = np.array([s.x @ d["readout_weight"].T + d["readout_bias"] for s in index1])
    shared = np.delete(np.arange(3), flipped)
    on_edge = np.all(np.sign(readout[:, shared]) == bits[0][shared], axis=1)
    edge = int(np.argmin(np.where(on_edge, np.abs(readout[:, flipped]), np.inf)))
    path = nl.most_likely_path(sde, a, c, T=60.0, n=400)
    assert path.converged
    near = np.array([np.min(np.linalg.norm(path.x - s.x, axis=1)) for s in index1])
    assert near[edge] < 0.2 * np.linalg.norm(a - c)
    away = np.sum(np.sign(readout[:, shared]) != bits[0][shared], axis=1) == 2
    assert np.all(near[away] > near[edge])


def test_flipflop_in_equinox_gives_the_same_points():
    eqx = pytest.importorskip("equinox")
    d, gru = _flipflop()
    H = 16
    bih, bhh = d["bias_ih_l0"], d["bias_hh_l0"]
    e = eqx.nn.GRUCell(3, H, key=jax.random.PRNGKey(0))
    e = eqx.tree_at(  # Equinox folds b_hr, b_hz into its bias and keeps b_hn apart
        lambda m: (m.weight_ih, m.weight_hh, m.bias, m.bias_n),
        e,
        tuple(
            map(
                jnp.asarray,
                (
                    d["weight_ih_l0"],
                    d["weight_hh_l0"],
                    bih + np.r_[bhh[: 2 * H], np.zeros(H)],
                    bhh[2 * H :],
                ),
            )
        ),
    )
    torch_cell, eqx_cell = nl.rnn_cell(gru), nl.rnn_cell(e)
    states = _visited_states(torch_cell)
    a = nl.find_slow_points(torch_cell.sde(diffusion=1e-3), states, n_seeds=256).states("stable")
    b = nl.find_slow_points(eqx_cell.sde(diffusion=1e-3), states, n_seeds=256).states("stable")
    assert len(a) == len(b) == 8
    gap = max(np.min(np.linalg.norm(b - x, axis=1)) for x in a)
    assert gap < 1e-10
