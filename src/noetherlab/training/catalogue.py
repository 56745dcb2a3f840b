"""The architectures by their command-line names (``noetherlab laws ARCH --sizes …``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.training.architectures import (
    Architecture,
    attention,
    conv1d_net,
    lightning_attention,
    linear_net,
    polynomial_net,
    polynomial_unit,
    relu_net,
    softmax_layer,
)
from noetherlab.training.blocks import multihead_attention, normalised_net, residual_net
from noetherlab.training.resnet import resnet
from noetherlab.training.transformer import transformer_encoder

__all__ = ["ARCHITECTURES", "build_architecture"]

#: command-line architecture names -> (builder(sizes, bias, kernel), what --sizes means); the
#: command line's default kernel width 2 (conv) means 3 × 3 for resnet, whose kernels are odd
ARCHITECTURES: dict[str, tuple[Callable[[list[int], bool, int], Architecture], str]] = {
    "linear": (lambda s, b, k: linear_net(s), "in,...,out"),
    "relu": (lambda s, b, k: relu_net(s, bias=b), "in,...,out"),
    "polynomial": (lambda s, b, k: polynomial_net(s, degree=2, bias=b), "in,...,out"),
    "conv": (lambda s, b, k: conv1d_net(s[0], s[1:], kernel=k, bias=b), "length,c_in,c1,..."),
    "attention": (lambda s, b, k: attention(*s), "tokens,d,dk,dv[,dout]"),
    "lightning-attention": (lambda s, b, k: lightning_attention(*s), "tokens,d,dk,dout"),
    "softmax": (lambda s, b, k: softmax_layer(*s), "n_in,n_classes"),
    "polynomial-unit": (lambda s, b, k: polynomial_unit(s[0], s[1]), "d,degree"),
    "layernorm": (lambda s, b, k: normalised_net(s, "layer", bias=b), "in,...,out"),
    "rmsnorm": (lambda s, b, k: normalised_net(s, "rms", bias=b), "in,...,out"),
    "batchnorm": (lambda s, b, k: normalised_net(s, "batch", bias=b), "in,...,out"),
    "residual": (lambda s, b, k: residual_net(*s, bias=b), "d,hidden[,blocks[,out]]"),
    "mha": (lambda s, b, k: multihead_attention(*s), "tokens,d,heads,dk,dv[,dout]"),
    "resnet": (
        lambda s, b, k: resnet(s[0], *s[1:5], bias=b, kernel=3 if k == 2 else k),
        "image,c_in,channels[,blocks[,classes]]",
    ),
    "transformer": (
        lambda s, b, k: _encoder(s, "post"),
        "tokens,d,heads,dk,dv,ff[,layers[,out]]",
    ),
    "transformer-pre": (
        lambda s, b, k: _encoder(s, "pre"),
        "tokens,d,heads,dk,dv,ff[,layers[,out]]",
    ),
}


def _encoder(sizes: list[int], norm: str) -> Architecture:
    """``tokens,d,heads,dk,dv,ff[,layers[,out]]`` -> :func:`transformer_encoder`."""
    first, rest = sizes[:6], sizes[6:]
    if len(first) < 6 or len(rest) > 2:
        raise TypeError(sizes)
    layers, outputs = ([*rest, 1, 1])[:2]
    return transformer_encoder(*first, layers=layers, norm=norm, outputs=outputs)


def build_architecture(
    name: str, sizes: Sequence[int], *, bias: bool = False, kernel: int = 2
) -> Architecture:
    """An architecture by its command-line name (:data:`ARCHITECTURES`) or ``package.module:function``
    (called without arguments, returning an :class:`Architecture`)."""
    import importlib
    import os
    import sys

    if name in ARCHITECTURES:
        builder, meaning = ARCHITECTURES[name]
        try:
            return builder(list(sizes), bias, kernel)
        except (TypeError, IndexError):
            raise InvalidArgumentError(
                "sizes", f"{list(sizes)} is not a valid size list for {name}", f"pass {meaning}"
            ) from None
    if ":" in name:
        module, _, attr = name.partition(":")
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            arch = getattr(importlib.import_module(module), attr)()
        except (ImportError, AttributeError) as exc:
            raise InvalidArgumentError(
                "ARCH",
                f"cannot load {name!r}: {exc}",
                "pass package.module:function importable from here",
            ) from None
        if not isinstance(arch, Architecture):
            raise InvalidArgumentError(
                "ARCH",
                f"{name!r} returned {type(arch).__name__}, not an Architecture",
                "return one",
            )
        return arch
    raise InvalidArgumentError(
        "ARCH",
        f"unknown architecture {name!r}",
        f"use one of {sorted(ARCHITECTURES)} or package.module:function",
    )
