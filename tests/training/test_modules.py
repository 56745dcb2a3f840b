"""Models as users hold them: Equinox, Flax (nnx, linen) and PyTorch modules (issue 15, item 2).

The same two-layer ReLU MLP with biases, [2, 3, 1], written in each framework must give the same
count (3: one rescaling balance per hidden unit, Marcotte et al. 2023) and the same laws
``|in_j|² + b_j² - |out_j|²``, printed in each model's own parameter names."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pytest
import sympy

from noetherlab import training as tr
from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError

eqx = pytest.importorskip("equinox")
flax = pytest.importorskip(
    "flax", reason="the flax extra (pip install noetherlab[flax]) is missing"
)
from flax import linen, nnx  # noqa: E402

try:
    import torch
except ImportError:  # the torch extra (pip install noetherlab[torch]) is missing
    torch = None
needs_torch = pytest.mark.skipif(
    torch is None, reason="the torch extra (pip install noetherlab[torch]) is missing"
)


def _torch_mlp():
    class TorchMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)
            )

        def forward(self, x):
            return self.net(x)

    return TorchMLP()


class NnxMLP(nnx.Module):
    def __init__(self, rngs: nnx.Rngs) -> None:
        self.l1 = nnx.Linear(2, 3, rngs=rngs)
        self.l2 = nnx.Linear(3, 1, rngs=rngs)

    def __call__(self, x):
        return self.l2(jax.nn.relu(self.l1(x)))


class LinenMLP(linen.Module):
    @linen.compact
    def __call__(self, x):
        h = jax.nn.relu(linen.Dense(3, name="hidden")(x))
        return linen.Dense(1, name="out")(h)


def _models():
    eq = eqx.nn.MLP(2, 1, 3, 1, activation=jax.nn.relu, key=jax.random.PRNGKey(0))
    ln = LinenMLP()
    variables = ln.init(jax.random.PRNGKey(0), jnp.ones(2))
    # (architecture, incoming weight name of unit j from input i, bias of j, outgoing weight of j)
    models = {
        "equinox": (
            tr.from_module(eq, (2,)),
            lambda j, i: f"layers[0].weight[{j},{i}]",
            lambda j: f"layers[0].bias[{j}]",
            lambda j: f"layers[1].weight[0,{j}]",
        ),
        "nnx": (
            tr.from_module(NnxMLP(nnx.Rngs(0)), (2,)),
            lambda j, i: f"l1.kernel[{i},{j}]",
            lambda j: f"l1.bias[{j}]",
            lambda j: f"l2.kernel[{j},0]",
        ),
        "linen": (
            tr.from_module(ln, (2,), variables=variables),
            lambda j, i: f"hidden.kernel[{i},{j}]",
            lambda j: f"hidden.bias[{j}]",
            lambda j: f"out.kernel[{j},0]",
        ),
    }
    if torch is not None:
        models["torch"] = (
            tr.from_module(_torch_mlp(), (2,)),
            lambda j, i: f"net.0.weight[{j},{i}]",
            lambda j: f"net.0.bias[{j}]",
            lambda j: f"net.2.weight[0,{j}]",
        )
    return models


@pytest.mark.parametrize(
    "framework", ["equinox", "nnx", "linen", pytest.param("torch", marks=needs_torch)]
)
def test_same_mlp_same_count_and_laws_in_its_own_names(framework):
    arch, w_in, b, w_out = _models()[framework]
    assert arch.dimension == 13 and arch.output_dim == 1
    res = tr.count_laws(arch)
    assert res.certified and res.laws == 3
    found = tr.find_polynomial_laws(arch, 2)
    assert found.null_dimension == 3 and found.verified and found.functionally_independent == 3
    s = {n: sympy.Symbol(n) for n in arch.param_names}
    expected = [
        s[w_in(j, 0)] ** 2 + s[w_in(j, 1)] ** 2 + s[b(j)] ** 2 - s[w_out(j)] ** 2 for j in range(3)
    ]
    # the found laws and the expected balances span the same space
    monos = sorted(
        {m for e in [*found.laws, *expected] for m in sympy.Poly(e, *s.values()).monoms()}
    )

    def row(e):
        p = sympy.Poly(e, *s.values())
        return [p.coeff_monomial(m) for m in monos]

    F = sympy.Matrix([row(e) for e in found.laws])
    assert F.rank() == 3 and F.col_join(sympy.Matrix([row(e) for e in expected])).rank() == 3
    # layer-wise: each law is a rescaling balance between the model's two layers
    layers = {
        "equinox": ["layers[0]", "layers[1]"],
        "nnx": ["l1", "l2"],
        "linen": ["hidden", "out"],
        "torch": ["net.0", "net.2"],
    }
    assert all(
        r["kind"] == "balance" and r["blocks"] == layers[framework] for r in found.by_block()
    )


def test_module_bad_input():
    class IntParam(eqx.Module):
        w: jax.Array
        n: jax.Array

        def __call__(self, x):
            return self.w @ x * self.n

    with pytest.raises(InvalidArgumentError, match=r"\.n has dtype int"):
        tr.from_module(IntParam(jnp.ones((1, 2)), jnp.asarray(3)), (2,))
    mlp = eqx.nn.MLP(2, 2, 3, 1, key=jax.random.PRNGKey(0))
    with pytest.raises(ShapeError, match=r"output_dim.*returns 2 values"):
        tr.from_module(mlp, (2,), output_dim=1)
    with pytest.raises(ShapeError, match="input_shape"):
        tr.from_module(mlp, (5,))
    with pytest.raises(
        InvalidArgumentError, match="not an Equinox module, a Flax model or a PyTorch module"
    ):
        tr.from_module(lambda x: x, (2,))
    with pytest.raises(InvalidArgumentError, match="variables"):
        tr.from_module(LinenMLP(), (2,))
    # a bare function (training.custom) is checked by the same shape probe
    with pytest.raises(ShapeError, match=r"apply.*shape \(4,\)"):
        tr.custom(lambda p, x: p["w"] @ x, {"w": jnp.ones((2, 3))}, (4,))


@needs_torch
def test_pytorch_translation_matches_the_module_and_counts_channel_laws():
    # a 1-D convolution (3 channels, ReLU) read out linearly: one rescaling law per channel
    class Conv(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 3, 3, padding=1)
            self.read = torch.nn.Linear(3 * 8, 1)

        def forward(self, x):
            return self.read(torch.relu(self.conv(x)).flatten(1))

    model = Conv()
    arch = tr.from_module(model, (2, 8))
    assert arch.dimension == sum(p.numel() for p in model.parameters()) == 46
    x = torch.randn(2, 8, dtype=torch.float64)
    with torch.no_grad():
        ref = model.double()(x[None]).numpy().ravel()
    theta = jnp.concatenate([jnp.ravel(v) for _, v in sorted(arch.template.items())])
    assert abs(float(arch.flat(theta, jnp.asarray(x.numpy()))[0]) - ref[0]) < 1e-12
    res = tr.count_laws(arch)
    assert res.certified and res.laws == 3


@needs_torch
def test_pytorch_bad_input_is_refused_with_the_reason():
    with pytest.raises(UnsupportedModelError, match=r"'1' \(LSTMCell\).*port the model to Equinox"):
        tr.from_module(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LSTMCell(2, 1)), (2,))

    class Branchy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)

        def forward(self, x):
            return self.lin(x) if x.sum() > 0 else -self.lin(x)

    with pytest.raises(UnsupportedModelError, match="control flow"):
        tr.from_module(Branchy(), (2,))

    class IntParam(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(2, 1)
            self.n = torch.nn.Parameter(torch.ones(1, dtype=torch.int64), requires_grad=False)

        def forward(self, x):
            return self.lin(x) * self.n

    with pytest.raises(InvalidArgumentError, match=r"parameter n has dtype torch.int64"):
        tr.from_module(IntParam(), (2,))
    with pytest.raises(ShapeError, match=r"output_dim.*returns 1 values"):
        tr.from_module(_torch_mlp(), (2,), output_dim=2)


def _torch_layernorm_mlp():
    class LayerNormMLP(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = torch.nn.Linear(3, 3, bias=False)
            self.norm = torch.nn.LayerNorm(3, elementwise_affine=False)
            self.out = torch.nn.Linear(3, 2, bias=False)

        def forward(self, x):
            return self.out(torch.relu(self.norm(self.inp(x))))

    return LayerNormMLP()


@needs_torch
def test_pytorch_layernorm_counts_its_laws_and_its_eps_breaks_the_scale_law():
    # closed form (training.blocks): |W1|² and the 3 column sums of W1 are conserved; PyTorch's
    # ε = 1e-5 breaks the scale invariance by O(ε/σ²), which the certified count resolves
    model = _torch_layernorm_mlp()
    exact = tr.count_laws(tr.from_module(model, (3,), exact_normalisation=True))
    assert exact.certified and exact.laws == 4
    with_eps = tr.count_laws(tr.from_module(model, (3,)))
    assert with_eps.certified and with_eps.laws == 3
    # the same count as the built-in family of that shape
    assert tr.count_laws(tr.normalised_net([3, 3, 2], "layer")).laws == 4


@needs_torch
def test_pytorch_normalisation_attention_and_conv2d_layers_match_the_module():
    torch.manual_seed(1)
    norms = torch.nn.Sequential(
        torch.nn.Linear(3, 4),
        torch.nn.RMSNorm(4),
        torch.nn.BatchNorm1d(4),
        torch.nn.GELU(),
        torch.nn.LayerNorm(4),
        torch.nn.Linear(4, 1),
    ).eval()
    norms[2].running_mean.normal_()
    norms[2].running_var.uniform_(0.5, 2.0)
    conv = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1, stride=2, groups=2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 1),
    )
    encoder = torch.nn.TransformerEncoderLayer(
        4, 2, dim_feedforward=6, dropout=0.0, batch_first=True, norm_first=True
    )
    post_norm = torch.nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0).eval()

    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            y, _ = self.attn(x, x, x, need_weights=False)
            return y[:, 0]

    for model, shape in (
        (norms, (3,)),
        (conv, (2, 5, 5)),
        (Attention(), (3, 4)),
        (encoder.eval(), (3, 4)),
        (post_norm, (3, 4)),
    ):
        # from_module checks the JAX replay against the module's own forward pass (1e-10) and
        # refuses a mismatch; here once more, on a fresh input
        arch = tr.from_module(model, shape)
        x = torch.randn(*shape, dtype=torch.float64)
        with torch.no_grad():
            ref = model.double()(x[None]).numpy().ravel()
        got = arch.apply(arch.template, jnp.asarray(x.numpy()))
        assert float(jnp.max(jnp.abs(got - ref))) < 1e-10, type(model).__name__
    # a convolution with ReLU: one rescaling law per output channel (4)
    res = tr.count_laws(tr.from_module(conv, (2, 5, 5)))
    assert res.certified and res.laws == 4


@needs_torch
def test_pytorch_multihead_attention_laws():
    # closed form: per head GL(d_h) of q·k and of v·(out_proj columns), d_h(d_h+1)/2 each, and the
    # key bias b_k, which adds the same logit to every key of a query (softmax invariant): E laws.
    # E = 2, H = 2, d_h = 1: 2·(1 + 1) + 2 = 6
    torch.manual_seed(0)

    class Attention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = torch.nn.MultiheadAttention(2, 2, batch_first=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0][:, 0]

    res = tr.count_laws(tr.from_module(Attention(), (3, 2)))
    assert res.certified and res.laws == 6


@needs_torch
def test_pytorch_batchnorm_in_training_mode_is_refused_with_what_survives():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
    with pytest.raises(InvalidArgumentError, match=r"'1' \(BatchNorm1d\) is in training mode.*"):
        tr.from_module(model, (3,))
    with pytest.raises(InvalidArgumentError, match=r"exact_normalisation.*PyTorch"):
        tr.from_module(
            eqx.nn.Linear(2, 1, key=jax.random.PRNGKey(0)), (2,), exact_normalisation=True
        )
    with pytest.raises(UnsupportedModelError, match=r"attention mask"):

        class Masked(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.attn = torch.nn.MultiheadAttention(2, 1, batch_first=True)
                self.register_buffer("mask", torch.zeros(3, 3))

            def forward(self, x):
                return self.attn(x, x, x, attn_mask=self.mask)[0][:, 0]

        tr.from_module(Masked(), (3, 2))


def test_equinox_and_flax_layernorm_models_count_the_closed_form():
    # the same LayerNorm MLP [3, 3, 2] as training.normalised_net: |W1|² and 3 column sums (4);
    # Equinox and Flax are JAX already, so a LayerNorm built with eps = 0 is exact as it is
    key = jax.random.PRNGKey(0)
    k1, k2 = jax.random.split(key)

    class EqxLayerNormMLP(eqx.Module):
        inp: eqx.nn.Linear
        norm: eqx.nn.LayerNorm
        out: eqx.nn.Linear

        def __call__(self, x):
            return self.out(jax.nn.relu(self.norm(self.inp(x))))

    eqx_model = EqxLayerNormMLP(
        eqx.nn.Linear(3, 3, use_bias=False, key=k1),
        eqx.nn.LayerNorm(3, eps=0.0, use_weight=False, use_bias=False),
        eqx.nn.Linear(3, 2, use_bias=False, key=k2),
    )

    class NnxLayerNormMLP(nnx.Module):
        def __init__(self, rngs):
            self.inp = nnx.Linear(3, 3, use_bias=False, rngs=rngs)
            self.norm = nnx.LayerNorm(3, epsilon=0.0, use_scale=False, use_bias=False, rngs=rngs)
            self.out = nnx.Linear(3, 2, use_bias=False, rngs=rngs)

        def __call__(self, x):
            return self.out(jax.nn.relu(self.norm(self.inp(x))))

    for model in (eqx_model, NnxLayerNormMLP(nnx.Rngs(0))):
        res = tr.count_laws(tr.from_module(model, (3,)))
        assert res.certified and res.laws == 4, type(model).__name__
