r"""A transformer encoder as an :class:`Architecture`, with its conservation laws in closed form.

:func:`transformer_encoder` stacks ``layers`` encoder layers on a sequence ``X`` of ``tokens``
rows of width ``d`` and reads the first token out linearly, ``R y_0``. Each layer ``l`` is
multi-head softmax attention (heads ``h``: ``Q_h, K_h: (d, d_k)``, ``V_h: (d, d_v)``,
``O_h: (d_v, d)``)

.. math:: \mathrm{MHA}(X) = \sum_h \operatorname{softmax}(X Q_h K_h^T X^T/\sqrt{d_k})\, X V_h O_h

and a ReLU feed-forward network ``FFN(H) = relu(H Uᵀ + u) Wᵀ + w`` (``U: (ff, d)``,
``W: (d, ff)``), joined by residual connections and LayerNorms ``N(z) = (z − z̄1)/σ(z)`` over the
``d`` features of each token (exact: no ``ε``, no gain or shift):

* post-norm (``norm="post"``, PyTorch's default): ``H ← N(H + MHA(H))``, ``H ← N(H + FFN(H))``;
* pre-norm (``norm="pre"``): ``H ← H + MHA(N(H))``, ``H ← H + FFN(N(H))``, and ``N`` once more
  before the read-out.

Its conservation laws (Marcotte, Peyré & Gribonval, ICML 2025, give those of attention and
residual blocks; the LayerNorm translations are the shift invariance of
:mod:`~noetherlab.training.blocks` carried through the residual stream). For every layer:

* per head, ``GL(d_k)`` of ``Q_h K_hᵀ`` and ``GL(d_v)`` of ``V_h O_h``: ``Q_hᵀQ_h − K_hᵀK_h``
  and ``V_hᵀV_h − O_h O_hᵀ`` — ``d_k(d_k+1)/2 + d_v(d_v+1)/2`` laws;
* per head, the row sums ``O_h 1`` (``d_v`` laws): ``O_h → O_h + v1ᵀ`` adds the same number to
  every feature of a token, which the next LayerNorm removes (post-norm: the one after the
  residual sum; pre-norm: every later LayerNorm reads the residual stream, and the final one);
* per feed-forward neuron ``j``, the ReLU rescaling ``|U[j]|² + u_j² − |W[:, j]|²`` (ReLU only: a
  GELU, SiLU or tanh is not positively homogeneous), the row sum
  ``Σ_k U[j, k]`` (``U → U + v1ᵀ``: the FFN reads a LayerNorm output, whose features sum to zero)
  and the column sum ``Σ_k W[k, j]`` (``W → W + 1vᵀ``, removed like ``O_h``'s): ``3 ff`` laws, and
  ``Σ_k w_k`` for the output bias;
* where the attention reads a LayerNorm output (pre-norm, or post-norm after the first layer),
  the column sums ``1ᵀQ_h``, ``1ᵀK_h`` and ``1ᵀV_h``: ``2d_k + d_v`` laws per head;

and the read-out's row sums ``R 1`` (``outputs`` laws: ``R`` reads a LayerNorm output). In all,

.. math:: \#\text{laws} = \text{outputs} + \sum_l \Big[ H\big(\tfrac{d_k(d_k+1)}{2}
   + \tfrac{d_v(d_v+1)}{2} + d_v + [\text{reads } N]\,(2d_k + d_v)\big)
   + (2 + [\text{ReLU}])\,ff + 1 \Big] .

Certified counts, counted blind (no known-laws bound: ``tests/training/test_transformer.py``)
equal this: 11 (post-norm, 1 layer, ``tokens = d = 3``, 1 head of ``d_k = d_v = 1``, ``ff = 2``),
14 (the same, pre-norm), 27 (``d = 4``, 2 heads of width 2, ``ff = 3``), 24 and 27 (two layers
post- and pre-norm), with singular-value gaps above ``10⁹``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import positive_int
from noetherlab.training.architectures import Architecture, parameter_names
from noetherlab.training.blocks import ACTIVATIONS, layer_norm
from noetherlab.training.known import KnownLaw, KnownLaws, array_entries, symmetric_entries
from noetherlab.training.losses import Loss

__all__ = ["NORM_PLACEMENTS", "transformer_encoder", "transformer_law_count"]

Array = jax.Array

#: where :func:`transformer_encoder` puts its LayerNorms
NORM_PLACEMENTS = ("post", "pre")


def transformer_encoder(
    tokens: int,
    d: int,
    heads: int,
    d_k: int,
    d_v: int,
    ff: int,
    *,
    layers: int = 1,
    norm: str = "post",
    outputs: int = 1,
    activation: str = "relu",
) -> Architecture:
    """``layers`` transformer encoder layers on ``X: (tokens, d)``, read out at the first token
    (module docstring: the model and its laws).

    Parameters (per layer ``l``): ``Q{l}``, ``K{l}`` ``(heads, d, d_k)``, ``V{l}``
    ``(heads, d, d_v)``, ``O{l}`` ``(heads, d_v, d)``; the feed-forward ``U{l}`` ``(ff, d)``,
    ``u{l}`` ``(ff,)``, ``W{l}`` ``(d, ff)``, ``w{l}`` ``(d,)``; the read-out ``R``
    ``(outputs, d)``.

    Args:
        norm: ``"post"`` (LayerNorm after each residual sum, PyTorch's default) or ``"pre"``
            (LayerNorm on each sub-layer's input, and once before the read-out).
        activation: the feed-forward's ``"relu"`` (default), ``"gelu"``, ``"silu"`` or ``"tanh"``;
            only the ReLU is positively homogeneous, so the others lose the ``ff`` neuron
            rescalings per layer (and keep every other law); their gradient flow has no kinks,
            so an ODE solver integrates it to any tolerance.
    """
    for name, v in (
        ("tokens", tokens),
        ("d", d),
        ("heads", heads),
        ("d_k", d_k),
        ("d_v", d_v),
        ("ff", ff),
        ("layers", layers),
        ("outputs", outputs),
    ):
        positive_int(v, name)
    if d < 2:
        raise InvalidArgumentError(
            "d", f"a LayerNorm of width {d} is constant", "use a model width d >= 2"
        )
    if activation not in ACTIVATIONS:
        raise InvalidArgumentError(
            "activation",
            f"must be one of {sorted(ACTIVATIONS)}, got {activation!r}",
            'e.g. activation="gelu"',
        )
    act = ACTIVATIONS[activation]
    if norm not in NORM_PLACEMENTS:
        raise InvalidArgumentError(
            "norm", f"must be one of {list(NORM_PLACEMENTS)}, got {norm!r}", 'e.g. norm="pre"'
        )
    p: dict[str, Array] = {"R": jnp.zeros((outputs, d))}
    for layer in range(1, layers + 1):
        p[f"Q{layer}"] = jnp.zeros((heads, d, d_k))
        p[f"K{layer}"] = jnp.zeros((heads, d, d_k))
        p[f"V{layer}"] = jnp.zeros((heads, d, d_v))
        p[f"O{layer}"] = jnp.zeros((heads, d_v, d))
        p[f"U{layer}"] = jnp.zeros((ff, d))
        p[f"u{layer}"] = jnp.zeros((ff,))
        p[f"W{layer}"] = jnp.zeros((d, ff))
        p[f"w{layer}"] = jnp.zeros((d,))
    scale = 1.0 / float(np.sqrt(d_k))

    def attend(q: dict[str, Array], layer: int, X: Array) -> Array:
        logits = jnp.einsum("id,hdk,hek,je->hij", X, q[f"Q{layer}"], q[f"K{layer}"], X) * scale
        A = jax.nn.softmax(logits, axis=-1)  # (heads, tokens, tokens)
        return jnp.einsum("hij,jd,hdv,hve->ie", A, X, q[f"V{layer}"], q[f"O{layer}"])

    def feed_forward(q: dict[str, Array], layer: int, H: Array) -> Array:
        hidden = act(H @ q[f"U{layer}"].T + q[f"u{layer}"])
        return hidden @ q[f"W{layer}"].T + q[f"w{layer}"]

    def apply(q: dict[str, Array], X: Array) -> Array:
        H = X
        for layer in range(1, layers + 1):
            if norm == "post":
                H = layer_norm(H + attend(q, layer, H))
                H = layer_norm(H + feed_forward(q, layer, H))
            else:
                H = H + attend(q, layer, layer_norm(H))
                H = H + feed_forward(q, layer, layer_norm(H))
        if norm == "pre":
            H = layer_norm(H)
        return q["R"] @ H[0]

    return Architecture(
        f"transformer(L={tokens}, d={d}, heads={heads}, dk={d_k}, dv={d_v}, ff={ff}, "
        f"layers={layers}, {norm}-norm" + ("" if activation == "relu" else f", {activation}") + ")",
        apply,
        p,
        (tokens, d),
        outputs,
        parameter_names(p),
        known=KnownLaws(_transformer_laws),
        layers={
            "heads": heads,
            "d_k": d_k,
            "d_v": d_v,
            "ff": ff,
            "layers": layers,
            "norm": norm,
            "outputs": outputs,
            "activation": activation,
        },
        point_scale=float(d**-0.5),  # logits of order one: the softmax is not saturated
    )


def _reads_layer_norm(norm: str, layer: int) -> bool:
    """Whether the attention of ``layer`` reads a LayerNorm output (zero-mean features)."""
    return norm == "pre" or layer > 1


def transformer_law_count(
    heads: int,
    d_k: int,
    d_v: int,
    ff: int,
    *,
    layers: int = 1,
    norm: str = "post",
    outputs: int = 1,
    activation: str = "relu",
) -> int:
    """The number of independent known laws of :func:`transformer_encoder` (module docstring's
    formula; it does not depend on ``tokens`` or ``d``)."""
    n = outputs
    for layer in range(1, layers + 1):
        per_head = d_k * (d_k + 1) // 2 + d_v * (d_v + 1) // 2 + d_v
        if _reads_layer_norm(norm, layer):
            per_head += 2 * d_k + d_v
        n += heads * per_head + (3 if activation == "relu" else 2) * ff + 1
    return n


def _sums(arch: Architecture, key: str, axis: int | None) -> Callable[[Array], Array]:
    """``θ ↦`` the sums of the parameter ``key`` over ``axis``."""
    return lambda th: jnp.sum(arch.unravel(th)[key], axis=axis)


def _neuron_balances(arch: Architecture, layer: int) -> Callable[[Array], Array]:
    """``θ ↦ |U[j]|² + u_j² − |W[:, j]|²`` for every feed-forward neuron ``j`` of ``layer``."""

    def balances(th: Array) -> Array:
        q = arch.unravel(th)
        inc = jnp.sum(q[f"U{layer}"] ** 2, axis=1) + q[f"u{layer}"] ** 2
        return inc - jnp.sum(q[f"W{layer}"] ** 2, axis=0)

    return balances


def _transformer_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """The laws of :func:`transformer_encoder` (module docstring)."""
    c = arch.layers
    H, dk, dv, ff = c["heads"], c["d_k"], c["d_v"], c["ff"]
    laws: list[KnownLaw] = []
    for layer in range(1, c["layers"] + 1):
        for h in range(H):
            laws += symmetric_entries(
                f"Q{layer}[{h}]^TQ{layer}[{h}] - K{layer}[{h}]^TK{layer}[{h}]",
                lambda q, h=h, layer=layer: (
                    q[f"Q{layer}"][h].T @ q[f"Q{layer}"][h]
                    - q[f"K{layer}"][h].T @ q[f"K{layer}"][h]
                ),
                dk,
                arch,
                f"GL({dk}) of the query-key product of head {h}, layer {layer}",
            )
            laws += symmetric_entries(
                f"V{layer}[{h}]^TV{layer}[{h}] - O{layer}[{h}]O{layer}[{h}]^T",
                lambda q, h=h, layer=layer: (
                    q[f"V{layer}"][h].T @ q[f"V{layer}"][h]
                    - q[f"O{layer}"][h] @ q[f"O{layer}"][h].T
                ),
                dv,
                arch,
                f"GL({dv}) of the value-output product of head {h}, layer {layer}",
            )
        laws += array_entries(
            f"sum O{layer}[{{0}}][{{1}}, :]",
            _sums(arch, f"O{layer}", 2),
            (H, dv),
            f"O → O + v1ᵀ is removed by the LayerNorm after attention layer {layer}",
        )
        if _reads_layer_norm(c["norm"], layer):
            for name, width in (("Q", dk), ("K", dk), ("V", dv)):
                laws += array_entries(
                    f"sum {name}{layer}[{{0}}][:, {{1}}]",
                    _sums(arch, f"{name}{layer}", 1),
                    (H, width),
                    f"{name} → {name} + 1vᵀ: attention layer {layer} reads zero-mean "
                    "LayerNorm outputs",
                )
        if c["activation"] == "relu":
            laws += array_entries(
                f"|U{layer}[{{0}}]|² + u{layer}[{{0}}]² - |W{layer}[:,{{0}}]|²",
                _neuron_balances(arch, layer),
                (ff,),
                f"rescaling of a feed-forward neuron of layer {layer} through the ReLU",
            )
        laws += array_entries(
            f"sum U{layer}[{{0}}, :]",
            _sums(arch, f"U{layer}", 1),
            (ff,),
            f"U → U + v1ᵀ: the feed-forward of layer {layer} reads zero-mean LayerNorm outputs",
        )
        laws += array_entries(
            f"sum W{layer}[:, {{0}}]",
            _sums(arch, f"W{layer}", 0),
            (ff,),
            f"W → W + 1vᵀ is removed by the LayerNorm after feed-forward layer {layer}",
        )
        laws.append(
            KnownLaw(
                f"sum w{layer}",
                _sums(arch, f"w{layer}", None),
                f"w → w + c1 is removed by the LayerNorm after feed-forward layer {layer}",
            )
        )
    laws += array_entries(
        "sum R[{0}, :]",
        _sums(arch, "R", 1),
        (c["outputs"],),
        "R → R + v1ᵀ: the read-out reads a zero-mean LayerNorm output",
    )
    return laws
