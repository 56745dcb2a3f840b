r"""PyTorch layers in ``jax.numpy``: the ``call_module`` nodes of a replayed ``torch.fx`` graph
(:mod:`noetherlab._core.torch_fx`).

Every layer is evaluated on the module's own parameters ``p[f"{name}.weight"]`` and buffers, with
PyTorch's batch-first layout (a batch of one is prepended by the replay). Translated:

* ``Linear``, ``Conv1d``, ``Conv2d`` (stride, zero padding, dilation, groups), ``Flatten``;
* the activations (``ReLU, LeakyReLU, ELU, GELU, SiLU, Tanh, Sigmoid, Softplus, Identity``,
  ``Dropout`` in evaluation mode);
* ``LayerNorm`` ``(x − mean)/√(var + ε)·γ + β`` over the last ``len(normalized_shape)`` axes,
  ``RMSNorm`` ``x/√(mean x² + ε)·γ`` (``ε = None``: the dtype's machine epsilon, as PyTorch),
  ``BatchNorm1d/2d`` in evaluation mode ``(x − μ_run)/√(σ²_run + ε)·γ + β`` (per channel, axis 1);
* ``MultiheadAttention`` (batch first or not, with or without in/out biases; no masks, no
  ``add_bias_kv``), returning ``(output, None)``;
* ``TransformerEncoderLayer`` (pre- or post-norm, ReLU or GELU), composed of the above.

``exact=True`` sets every normalisation's ``ε`` to zero: the model is then exactly invariant under
the scalings that the normalisation removes (``ε > 0`` breaks the invariance by a relative
``O(ε/σ²)``), which is what the conservation laws of the normalised network are laws of.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from noetherlab._core.errors import UnsupportedModelError

__all__ = ["activation", "call_layer", "is_supported_layer", "unsupported"]

Array = jax.Array


def unsupported(what: str, argument: str = "module") -> UnsupportedModelError:
    return UnsupportedModelError(
        f"argument `{argument}`: the PyTorch graph uses {what}, which noetherlab does not translate to "
        "JAX. Fix: port the model to Equinox (eqx.nn.Linear/eqx.nn.Conv1d take the same weight and "
        "bias arrays) and pass that"
    )


def activation(module: Any) -> Callable[[Array], Array] | None:
    """The JAX function of an activation module (``None``: not an activation)."""
    import torch.nn as nn

    if isinstance(module, nn.ReLU):
        return jax.nn.relu
    if isinstance(module, nn.LeakyReLU):
        slope = float(module.negative_slope)
        return lambda x: jax.nn.leaky_relu(x, slope)
    if isinstance(module, nn.ELU):
        alpha = float(module.alpha)
        return lambda x: jax.nn.elu(x, alpha)
    if isinstance(module, nn.GELU):
        approximate = module.approximate == "tanh"
        return lambda x: jax.nn.gelu(x, approximate=approximate)
    if isinstance(module, nn.SiLU):
        return jax.nn.silu
    if isinstance(module, nn.Tanh):
        return jnp.tanh
    if isinstance(module, nn.Sigmoid):
        return jax.nn.sigmoid
    if isinstance(module, nn.Softplus):
        beta, threshold = float(module.beta), float(module.threshold)
        return lambda x: jnp.where(beta * x > threshold, x, jnp.log1p(jnp.exp(beta * x)) / beta)
    if isinstance(module, (nn.Identity, nn.Dropout)):
        return lambda x: x
    return None


def _layer_types() -> tuple[type, ...]:
    import torch.nn as nn

    return (
        nn.Linear,
        nn.Conv1d,
        nn.Conv2d,
        nn.Flatten,
        nn.LayerNorm,
        nn.RMSNorm,
        nn.BatchNorm1d,
        nn.BatchNorm2d,
        nn.MultiheadAttention,
        nn.TransformerEncoderLayer,
    )


def is_supported_layer(module: Any) -> bool:
    return activation(module) is not None or isinstance(module, _layer_types())


def _param(p: dict[str, Array], buffers: dict[str, Array], key: str) -> Array | None:
    return p.get(key, buffers.get(key))


def call_layer(
    module: Any,
    name: str,
    p: dict[str, Array],
    buffers: dict[str, Array],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exact: bool = False,
) -> Any:
    """The output of layer ``module`` (called ``name`` in the model) on ``args``."""
    import torch.nn as nn

    act = activation(module)
    x = args[0]
    if act is not None:
        return act(x)
    w, b = _param(p, buffers, f"{name}.weight"), _param(p, buffers, f"{name}.bias")
    if isinstance(module, nn.Linear):
        assert w is not None
        return x @ w.T + (0.0 if b is None else b)
    if isinstance(module, (nn.Conv1d, nn.Conv2d)):
        assert w is not None
        return _conv(module, x, w, b)
    if isinstance(module, nn.Flatten):
        return flatten(x, module.start_dim, module.end_dim)
    if isinstance(module, nn.LayerNorm):
        axes = tuple(range(-len(module.normalized_shape), 0))
        c = x - jnp.mean(x, axis=axes, keepdims=True)
        eps = 0.0 if exact else float(module.eps)
        y = c / jnp.sqrt(jnp.mean(c**2, axis=axes, keepdims=True) + eps)
        return y * (1.0 if w is None else w) + (0.0 if b is None else b)
    if isinstance(module, nn.RMSNorm):
        axes = tuple(range(-len(module.normalized_shape), 0))
        eps = module.eps if module.eps is not None else float(jnp.finfo(x.dtype).eps)
        y = x / jnp.sqrt(jnp.mean(x**2, axis=axes, keepdims=True) + (0.0 if exact else eps))
        return y * (1.0 if w is None else w)
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _batch_norm_eval(module, name, x, w, b, buffers, exact)
    if isinstance(module, nn.MultiheadAttention):
        return _multihead(module, name, p, args, kwargs), None
    if isinstance(module, nn.TransformerEncoderLayer):
        return _encoder_layer(module, name, p, buffers, x, kwargs, exact)
    raise unsupported(f"the layer {name!r} ({type(module).__name__})")


def flatten(x: Array, start: int = 0, end: int = -1) -> Array:
    start, end = start % x.ndim, end % x.ndim
    return x.reshape(*x.shape[:start], -1, *x.shape[end + 1 :])


def _conv(module: Any, x: Array, w: Array, b: Array | None) -> Array:
    n = w.ndim - 2
    if module.padding_mode != "zeros":
        raise unsupported(f"{type(module).__name__} with padding_mode={module.padding_mode!r}")
    if isinstance(module.padding, str):
        padding: Any = module.padding.upper()
    else:
        padding = [(int(q), int(q)) for q in module.padding]
    spatial = "HW"[:n] if n == 2 else "H"
    y = jax.lax.conv_general_dilated(
        x,
        w,
        window_strides=tuple(int(s) for s in module.stride),
        padding=padding,
        rhs_dilation=tuple(int(d) for d in module.dilation),
        feature_group_count=int(module.groups),
        dimension_numbers=(f"NC{spatial}", f"OI{spatial}", f"NC{spatial}"),
    )
    return y if b is None else y + b.reshape(1, -1, *([1] * n))


def _batch_norm_eval(
    module: Any,
    name: str,
    x: Array,
    w: Array | None,
    b: Array | None,
    buffers: dict[str, Array],
    exact: bool,
) -> Array:
    """Evaluation mode: the running statistics are fixed numbers (``track_running_stats``)."""
    mean, var = buffers.get(f"{name}.running_mean"), buffers.get(f"{name}.running_var")
    if mean is None or var is None:
        raise unsupported(
            f"{type(module).__name__} {name!r} without running statistics (track_running_stats="
            "False normalises by the batch even in evaluation mode)"
        )
    shape = (1, -1, *([1] * (x.ndim - 2)))
    eps = 0.0 if exact else float(module.eps)
    y = (x - mean.reshape(shape)) / jnp.sqrt(var.reshape(shape) + eps)
    return y * (1.0 if w is None else w.reshape(shape)) + (0.0 if b is None else b.reshape(shape))


def _multihead(
    module: Any, name: str, p: dict[str, Array], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Array:
    """``softmax(q kᵀ/√d_h) v`` per head, heads concatenated, then the output projection."""
    query, key, value = (list(args) + [kwargs.get(k) for k in ("key", "value")])[:3]
    for mask in ("key_padding_mask", "attn_mask"):
        if kwargs.get(mask) is not None or kwargs.get("is_causal"):
            raise unsupported(f"MultiheadAttention {name!r} with an attention mask")
    if module.bias_k is not None or module.add_zero_attn:
        raise unsupported(f"MultiheadAttention {name!r} with add_bias_kv or add_zero_attn")
    E, H = int(module.embed_dim), int(module.num_heads)
    if module._qkv_same_embed_dim:
        Wq, Wk, Wv = jnp.split(p[f"{name}.in_proj_weight"], 3)
    else:
        Wq, Wk, Wv = (p[f"{name}.{k}_proj_weight"] for k in "qkv")
    bias = p.get(f"{name}.in_proj_bias")
    bq, bk, bv = (0.0, 0.0, 0.0) if bias is None else jnp.split(bias, 3)
    if not module.batch_first:  # (L, N, E) -> (N, L, E)
        query, key, value = (jnp.swapaxes(a, 0, 1) for a in (query, key, value))

    def heads(a: Array) -> Array:  # (N, L, E) -> (N, H, L, E/H)
        return jnp.swapaxes(a.reshape(a.shape[0], a.shape[1], H, E // H), 1, 2)

    q, k, v = heads(query @ Wq.T + bq), heads(key @ Wk.T + bk), heads(value @ Wv.T + bv)
    A = jax.nn.softmax(q @ jnp.swapaxes(k, -1, -2) / math.sqrt(E // H), axis=-1)
    o = jnp.swapaxes(A @ v, 1, 2).reshape(query.shape[0], query.shape[1], E)
    out_b = p.get(f"{name}.out_proj.bias")
    y = o @ p[f"{name}.out_proj.weight"].T + (0.0 if out_b is None else out_b)
    return y if module.batch_first else jnp.swapaxes(y, 0, 1)


def _encoder_layer(
    module: Any,
    name: str,
    p: dict[str, Array],
    buffers: dict[str, Array],
    x: Array,
    kwargs: dict[str, Any],
    exact: bool,
) -> Array:
    """``x + SA(N1 x)``, ``x + FF(N2 x)`` (``norm_first``) or ``N1(x + SA x)``, ``N2(x + FF x)``."""
    import torch.nn.functional as F

    if kwargs.get("src_mask") is not None or kwargs.get("src_key_padding_mask") is not None:
        raise unsupported(f"TransformerEncoderLayer {name!r} with a mask")
    act = module.activation
    if act is F.relu or isinstance(act, type(None)):
        fn: Callable[[Array], Array] = jax.nn.relu
    elif act is F.gelu:
        fn = lambda z: jax.nn.gelu(z, approximate=False)
    elif activation(act) is not None:
        fn = activation(act)  # type: ignore[assignment]
    else:
        raise unsupported(f"TransformerEncoderLayer {name!r} with activation {act!r}")

    def sub(part: str, *a: Any) -> Any:
        return call_layer(getattr(module, part), f"{name}.{part}", p, buffers, a, {}, exact)

    def attend(h: Array) -> Array:
        return sub("self_attn", h, h, h)[0]

    def feed(h: Array) -> Array:
        return sub("linear2", fn(sub("linear1", h)))

    if module.norm_first:
        x = x + attend(sub("norm1", x))
        return x + feed(sub("norm2", x))
    x = sub("norm1", x + attend(x))
    return sub("norm2", x + feed(x))
