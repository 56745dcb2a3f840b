r"""The blocks of today's networks as :class:`Architecture` families, each with its known laws.

* :func:`normalised_net` — an MLP whose hidden pre-activations pass through a normalisation layer
  before the ReLU: ``h ← relu(N(W_i h + b_i))``, read out linearly. ``N`` is

  - **LayerNorm** ``N(z) = (z − z̄ 1)/σ(z)`` (over the ``h_i`` features of one sample): the loss is
    invariant under ``W_i → λW_i`` (λ > 0, and ``b_i → λb_i``) and ``W_i → W_i + 1vᵀ``
    (``b_i → b_i + c1``), so ``|W_i|² + |b_i|²`` and the column sums ``Σ_j W_i[j, k]`` (and
    ``Σ_j b_i[j]``) are conserved: ``1 + h_{i−1} (+1)`` laws per normalised layer;
  - **RMSNorm** ``N(z) = z / rms(z)``: the scale invariance only, one law per layer. Stacked
    after a ReLU layer it divides ``0/0`` wherever every unit of that layer is off (an open set
    of inputs when the layer is narrow: ``normalised_net([3, 4, 4, 2], "rms")`` cannot be
    counted), and on ``[8, 16, 16, 4]`` the certified count is 17, of which the two scale laws are
    known — the other 15 are not explained yet. LayerNorm's centred output is never all off;
  - **BatchNorm** in training mode ``N(z)_j = (z_j − mean_batch z_j)/std_batch(z_j)``: the output of
    one sample depends on the whole batch, so one *input* of this architecture is a batch
    ``(B, d)`` and its output the ``B × out`` predictions. Each neuron's incoming weights are
    scale invariant and its bias is removed by the centring: ``|W_i[j]|² + b_i[j]²`` and
    ``b_i[j]`` per neuron (``2 h_i`` laws with biases, ``h_i`` without). In evaluation mode the
    statistics are fixed numbers and none of these symmetries survives.

  With ``affine=True`` the normalisation has a gain and shift ``γ ⊙ N(z) + β`` and, with the ReLU
  (the default activation; ``tanh``, ``gelu`` and ``silu`` keep only the normalisation's laws),
  each neuron rescales through it: ``γ_i[j]² + β_i[j]² − |W_{i+1}[:, j]|²`` (one more law per neuron).
  The normalisation is exact (no ``ε``): an ``ε`` in the denominator breaks the scale invariance
  by a relative ``O(ε / σ²)``.
* :func:`residual_net` — ``h ← h + V_b relu(U_b h + c_b)`` for ``blocks`` blocks, then ``R h``: the
  skip connection leaves the branch's neuron rescalings ``|U_b[j]|² + c_b[j]² − |V_b[:, j]|²``
  (Marcotte, Peyré & Gribonval 2025: a residual block has its branch's laws).
* :func:`multihead_attention` — ``Σ_h softmax(X Q_h K_hᵀ Xᵀ/√d_k) X V_h O_h`` read at the first
  token: per head ``GL(d_k)`` of the query–key product and ``GL(d_v)`` of the value–output
  product, ``Q_hᵀQ_h − K_hᵀK_h`` and ``V_hᵀV_h − O_h O_hᵀ``:
  ``H (d_k(d_k+1)/2 + d_v(d_v+1)/2)`` laws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import positive_int
from noetherlab.training.architectures import Architecture, layer_sizes, parameter_names
from noetherlab.training.known import KnownLaw, KnownLaws, symmetric_entries
from noetherlab.training.losses import Loss

__all__ = [
    "ACTIVATIONS",
    "NORMALISATIONS",
    "batch_norm",
    "layer_norm",
    "multihead_attention",
    "normalised_net",
    "residual_net",
]

Array = jax.Array

#: the normalisation layers of :func:`normalised_net`
NORMALISATIONS = ("layer", "rms", "batch")


def layer_norm(z: Array) -> Array:
    """``(z − z̄)/σ(z)`` over the last axis (no ε: exactly scale and shift invariant)."""
    c = z - jnp.mean(z, axis=-1, keepdims=True)
    return c / jnp.sqrt(jnp.mean(c**2, axis=-1, keepdims=True))


def _rms_norm(z: Array) -> Array:
    """``z / rms(z)`` over the last axis."""
    return z / jnp.sqrt(jnp.mean(z**2, axis=-1, keepdims=True))


def batch_norm(z: Array, axes: tuple[int, ...] = (0,)) -> Array:
    """Training-mode BatchNorm without ε: each feature standardised over ``axes`` (the batch, and
    for images ``(B, C, H, W)`` the pixels too: ``axes=(0, 2, 3)``)."""
    c = z - jnp.mean(z, axis=axes, keepdims=True)
    return c / jnp.sqrt(jnp.mean(c**2, axis=axes, keepdims=True))


#: the activations of the built-in blocks, by name
ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "gelu": jax.nn.gelu,
    "silu": jax.nn.silu,
}

_NORMS: dict[str, Callable[[Array], Array]] = {
    "layer": layer_norm,
    "rms": _rms_norm,
    "batch": batch_norm,
}


def normalised_net(
    sizes: list[int] | tuple[int, ...],
    norm: str = "layer",
    *,
    bias: bool = False,
    affine: bool = False,
    batch: int = 4,
    activation: str = "relu",
) -> Architecture:
    """MLP ``W_L relu(N(⋯ relu(N(W_1 x + b_1)) ⋯))`` with the normalisation ``N`` of ``norm``
    (``"layer"``, ``"rms"`` or ``"batch"``) on every hidden layer (module docstring: the laws).

    Args:
        sizes: widths input → output (at least one hidden layer; ``"layer"`` needs hidden widths
            ≥ 2, as a LayerNorm of one feature is constant).
        bias: biases ``b_i`` before each normalisation; ``affine``: gains ``γ_i`` and shifts
            ``β_i`` after it.
        batch: for ``norm="batch"``, the batch size ``B`` of one input ``(B, sizes[0])`` (≥ 2).
        activation: ``"relu"`` (default), ``"tanh"``, ``"gelu"`` or ``"silu"``; the smooth ones
            keep the normalisation's laws but not the rescaling through the activation (which
            needs a positively homogeneous one), and their gradient flow has no kinks (an ODE
            solver integrates it to any tolerance).
    """
    s = layer_sizes(sizes, 3)
    if norm not in _NORMS:
        raise InvalidArgumentError(
            "norm", f"must be one of {list(NORMALISATIONS)}, got {norm!r}", 'e.g. norm="layer"'
        )
    if norm == "layer" and min(s[1:-1]) < 2:
        raise InvalidArgumentError(
            "sizes", f"a LayerNorm of width 1 is constant (hidden widths {s[1:-1]})", "widen it"
        )
    if activation not in ACTIVATIONS:
        raise InvalidArgumentError(
            "activation",
            f"must be one of {sorted(ACTIVATIONS)}, got {activation!r}",
            'e.g. activation="tanh"',
        )
    act = ACTIVATIONS[activation]
    B = positive_int(batch, "batch", 2) if norm == "batch" else 1
    L = len(s) - 1
    p: dict[str, Array] = {}
    for i in range(1, L + 1):
        p[f"W{i}"] = jnp.zeros((s[i], s[i - 1]))
        if i < L and bias:
            p[f"b{i}"] = jnp.zeros((s[i],))
        if i < L and affine:
            p[f"gamma{i}"] = jnp.zeros((s[i],))
            p[f"beta{i}"] = jnp.zeros((s[i],))
    N = _NORMS[norm]

    def apply(q: dict[str, Array], x: Array) -> Array:
        h = x if norm == "batch" else x[None]  # (B, features)
        for i in range(1, L + 1):
            h = h @ q[f"W{i}"].T
            if i < L:
                z = N(h + q[f"b{i}"] if bias else h)
                if affine:
                    z = q[f"gamma{i}"] * z + q[f"beta{i}"]
                h = act(z)
        return h.reshape(-1)

    layers = {
        "sizes": s,
        "bias": bias,
        "affine": affine,
        "norm": norm,
        "batch": B,
        "activation": activation,
    }
    names = parameter_names(p)
    # shifts β small next to the gains γ: every ReLU then switches on the bounded normalised
    # outputs (Architecture.point_scale)
    scales = tuple(0.1 if n.startswith("beta") else 1.0 for n in names)
    return Architecture(
        f"{norm}norm{s}{'+bias' if bias else ''}{'+affine' if affine else ''}"
        + ("" if activation == "relu" else f"({activation})"),
        apply,
        p,
        (B, s[0]) if norm == "batch" else (s[0],),
        B * s[-1],
        names,
        known=KnownLaws(_normalisation_laws),
        layers=layers,
        point_scale=scales if affine else 1.0,
    )


def _normalisation_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """The laws of :func:`normalised_net` (module docstring)."""
    s, bias, affine, norm = (arch.layers[k] for k in ("sizes", "bias", "affine", "norm"))
    label = {"layer": "LayerNorm", "rms": "RMSNorm", "batch": "BatchNorm"}[norm]
    laws: list[KnownLaw] = []
    for i in range(1, len(s) - 1):

        def incoming(th: Array, i: int = i) -> Array:
            """``(h_i, h_{i−1}+1)``: the rows of ``[W_i | b_i]``."""
            q = arch.unravel(th)
            w = q[f"W{i}"]
            return jnp.concatenate([w, q[f"b{i}"][:, None]], axis=1) if bias else w

        if norm == "batch":
            rows = lambda th, f=incoming: jnp.sum(f(th) ** 2, axis=1)
            for j in range(s[i]):
                laws.append(
                    KnownLaw(
                        f"|in(L{i},n{j})|²",
                        lambda th, j=j, r=rows: r(th)[j],
                        f"{label} scale invariance of neuron {j} of layer {i}",
                        rows,
                        (j,),
                    )
                )
                if bias:
                    laws.append(
                        KnownLaw(
                            f"b{i}[{j}]",
                            lambda th, i=i, j=j: arch.unravel(th)[f"b{i}"][j],
                            f"{label} centring removes the bias of neuron {j} of layer {i}",
                        )
                    )
        else:
            laws.append(
                KnownLaw(
                    f"|W{i}|²" + (f" + |b{i}|²" if bias else ""),
                    lambda th, f=incoming: jnp.sum(f(th) ** 2),
                    f"{label} scale invariance of layer {i} (W{i} -> λ W{i})",
                )
            )
        if norm == "layer":
            sums = lambda th, f=incoming: jnp.sum(f(th), axis=0)
            for k in range(s[i - 1] + (1 if bias else 0)):
                what = f"b{i}" if k == s[i - 1] else f"W{i}[:,{k}]"
                laws.append(
                    KnownLaw(
                        f"sum {what}",
                        lambda th, k=k, f=sums: f(th)[k],
                        f"LayerNorm shift invariance of layer {i} (W{i} -> W{i} + 1 vᵀ)",
                        sums,
                        (k,),
                    )
                )
        if affine and arch.layers["activation"] == "relu":

            def through_relu(th: Array, i: int = i) -> Array:
                q = arch.unravel(th)
                return (
                    q[f"gamma{i}"] ** 2 + q[f"beta{i}"] ** 2 - jnp.sum(q[f"W{i + 1}"] ** 2, axis=0)
                )

            for j in range(s[i]):
                laws.append(
                    KnownLaw(
                        f"γ{i}[{j}]² + β{i}[{j}]² - |W{i + 1}[:,{j}]|²",
                        lambda th, j=j, f=through_relu: f(th)[j],
                        f"rescaling of neuron {j} of layer {i} through the ReLU",
                        through_relu,
                        (j,),
                    )
                )
    return laws


def residual_net(
    d: int, hidden: int, blocks: int = 1, outputs: int = 1, *, bias: bool = False
) -> Architecture:
    """``R (h + V_b relu(U_b h + c_b))`` composed over ``blocks`` residual blocks from ``h = x``
    (``x, h ∈ R^d``; ``U_b: (hidden, d)``, ``V_b: (d, hidden)``, ``R: (outputs, d)``)."""
    for name, v in (("d", d), ("hidden", hidden), ("blocks", blocks), ("outputs", outputs)):
        positive_int(v, name)
    p: dict[str, Array] = {"R": jnp.zeros((outputs, d))}
    for b in range(1, blocks + 1):
        p[f"U{b}"] = jnp.zeros((hidden, d))
        p[f"V{b}"] = jnp.zeros((d, hidden))
        if bias:
            p[f"c{b}"] = jnp.zeros((hidden,))

    def apply(q: dict[str, Array], x: Array) -> Array:
        h = x
        for b in range(1, blocks + 1):
            z = q[f"U{b}"] @ h + (q[f"c{b}"] if bias else 0.0)
            h = h + q[f"V{b}"] @ jax.nn.relu(z)
        return q["R"] @ h

    return Architecture(
        f"residual(d={d}, hidden={hidden}, blocks={blocks}){'+bias' if bias else ''}",
        apply,
        p,
        (d,),
        outputs,
        parameter_names(p),
        known=KnownLaws(_residual_laws),
        layers={"d": d, "hidden": hidden, "blocks": blocks, "bias": bias},
    )


def _residual_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """``|U_b[j]|² + c_b[j]² − |V_b[:, j]|²`` per neuron of every residual branch."""
    laws: list[KnownLaw] = []
    bias = arch.layers["bias"]
    for b in range(1, arch.layers["blocks"] + 1):

        def balances(th: Array, b: int = b) -> Array:
            q = arch.unravel(th)
            inc = jnp.sum(q[f"U{b}"] ** 2, axis=1) + (q[f"c{b}"] ** 2 if bias else 0.0)
            return inc - jnp.sum(q[f"V{b}"] ** 2, axis=0)

        for j in range(arch.layers["hidden"]):
            laws.append(
                KnownLaw(
                    f"|U{b}[{j}]|² - |V{b}[:,{j}]|²",
                    lambda th, j=j, f=balances: f(th)[j],
                    f"rescaling of neuron {j} of residual branch {b}",
                    balances,
                    (j,),
                )
            )
    return laws


def multihead_attention(
    tokens: int, d: int, heads: int, d_k: int, d_v: int, d_out: int = 1
) -> Architecture:
    """``Σ_h softmax(X Q_h K_hᵀ Xᵀ / √d_k) X V_h O_h`` at the first token (``X: (tokens, d)``;
    ``Q, K: (heads, d, d_k)``, ``V: (heads, d, d_v)``, ``O: (heads, d_v, d_out)``)."""
    for name, v in (
        ("tokens", tokens),
        ("d", d),
        ("heads", heads),
        ("d_k", d_k),
        ("d_v", d_v),
        ("d_out", d_out),
    ):
        positive_int(v, name)
    p = {
        "Q": jnp.zeros((heads, d, d_k)),
        "K": jnp.zeros((heads, d, d_k)),
        "V": jnp.zeros((heads, d, d_v)),
        "O": jnp.zeros((heads, d_v, d_out)),
    }
    scale = 1.0 / float(np.sqrt(d_k))

    def apply(q: dict[str, Array], X: Array) -> Array:
        logits = jnp.einsum("id,hdk,hek,je->hij", X, q["Q"], q["K"], X) * scale
        A = jax.nn.softmax(logits, axis=-1)  # (heads, tokens, tokens)
        return jnp.einsum("hj,jd,hdv,hvo->o", A[:, 0], X, q["V"], q["O"])

    return Architecture(
        f"mha(L={tokens}, d={d}, heads={heads}, dk={d_k}, dv={d_v})",
        apply,
        p,
        (tokens, d),
        d_out,
        parameter_names(p),
        known=KnownLaws(_multihead_laws),
        layers={"heads": heads, "d_k": d_k, "d_v": d_v},
        point_scale=float(d**-0.5),  # logits X Q Kᵀ Xᵀ/√d_k of order one
    )


def _multihead_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """``Q_hᵀQ_h − K_hᵀK_h`` and ``V_hᵀV_h − O_h O_hᵀ`` for every head ``h``."""
    laws: list[KnownLaw] = []
    dk, dv = arch.layers["d_k"], arch.layers["d_v"]
    for h in range(arch.layers["heads"]):

        def query_key(q: Any, h: int = h) -> Array:
            return q["Q"][h].T @ q["Q"][h] - q["K"][h].T @ q["K"][h]

        def value_output(q: Any, h: int = h) -> Array:
            return q["V"][h].T @ q["V"][h] - q["O"][h] @ q["O"][h].T

        pair: list[tuple[str, Callable[[Any], Array], int, str]] = [
            (
                f"Q{h}^TQ{h} - K{h}^TK{h}",
                query_key,
                dk,
                f"GL({dk}) of the query-key product of head {h}",
            ),
            (
                f"V{h}^TV{h} - O{h}O{h}^T",
                value_output,
                dv,
                f"GL({dv}) of the value-output product of head {h}",
            ),
        ]
        for name, matrix, n, symmetry in pair:
            laws += symmetric_entries(name, matrix, n, arch, symmetry)
    return laws
