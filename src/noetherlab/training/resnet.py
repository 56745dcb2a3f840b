r"""A small residual convolutional network with BatchNorm, as an :class:`Architecture`, with its
conservation laws in closed form.

:func:`resnet` maps a batch of images ``x: (B, c_in, H, W)`` (BatchNorm in training mode makes
each image's output depend on the whole batch, so one *input* is a batch, as in
:func:`~noetherlab.training.blocks.normalised_net`) to ``B × classes`` outputs:

* stem: ``h = σ(N₀(K₀ ⋆ x))``;
* ``blocks`` basic blocks: ``z = σ(N_A(K_A ⋆ h))``, ``h ← σ(h + N_B(K_B ⋆ z))``;
* head: the average of ``h`` over the pixels, read out by ``R: (classes, c)``.

``⋆`` is a 2-D convolution (``kernel × kernel``, stride 1, zero padding that keeps ``H × W``,
optional bias ``c``), and ``N`` a training-mode BatchNorm: each channel standardised over the
batch and the pixels (exact, no ``ε``), optionally followed by a gain and shift ``γ N + β``;
``σ`` is the ReLU (default) or a smooth activation.

Laws (the normalisation and rescaling symmetries of :mod:`~noetherlab.training.blocks`, per
channel; a residual block keeps its branch's laws, Marcotte, Peyré & Gribonval, ICML 2025):

* every convolution feeds a BatchNorm, which removes the scale of each of its output channels
  ``o``: ``|K[o]|² + c_o²`` (``W → λW``), and, with a bias, the centring removes ``c_o`` itself:
  ``1`` (``2`` with biases) law per output channel of each of the ``1 + 2·blocks`` convolutions;
* with the gain and shift and ``σ`` the ReLU (a GELU, SiLU or tanh is not positively
  homogeneous, and these laws go), the ReLU after ``N_A`` lets each channel ``j`` of the block
  rescale against the next convolution's input channel: ``γ_A[j]² + β_A[j]² − |K_B[:, j]|²``;
* with the gain and shift and the ReLU, channel ``j`` of the residual stream rescales as a whole — the stem's
  ``(γ₀, β₀)[j]`` and every block's ``(γ_B, β_B)[j]`` by ``λ``, every ``K_A[:, j]`` and ``R[:, j]`` by
  ``1/λ`` (the skip connection carries the scaled channel, so all of them move together):
  ``γ₀[j]² + β₀[j]² + Σ_b (γ_B[j]² + β_B[j]²) − Σ_b |K_A[:, j]|² − |R[:, j]|²``.

.. math:: \#\text{laws} = (1 + 2\,\text{blocks})\,c\,(1 + [\text{bias}])
   + [\text{affine and ReLU}]\,c\,(\text{blocks} + 1) .
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.validation import positive_int
from noetherlab.training.architectures import Architecture, parameter_names
from noetherlab.training.blocks import ACTIVATIONS, batch_norm
from noetherlab.training.known import KnownLaw, KnownLaws, array_entries
from noetherlab.training.losses import Loss

__all__ = ["resnet", "resnet_law_count"]

Array = jax.Array


def resnet(
    image: tuple[int, int] | int = 4,
    c_in: int = 1,
    channels: int = 2,
    blocks: int = 1,
    classes: int = 2,
    *,
    batch: int = 4,
    kernel: int = 3,
    bias: bool = False,
    affine: bool = False,
    activation: str = "relu",
) -> Architecture:
    """A residual network of ``blocks`` basic blocks with BatchNorm (module docstring: the model
    and its laws). One input is a batch ``(batch, c_in, H, W)``; the output is the
    ``batch × classes`` predictions.

    Parameters: the convolutions ``K0`` ``(c, c_in, k, k)``, ``KA{b}``, ``KB{b}`` ``(c, c, k, k)``
    (biases ``c0``, ``cA{b}``, ``cB{b}``), the BatchNorm gains and shifts ``gamma0``, ``beta0``,
    ``gammaA{b}``, …, and the read-out ``R`` ``(classes, c)``.

    Args:
        image: ``(H, W)``, or one number for a square image.
        kernel: convolution width (odd: the padding keeps the image size).
        batch: images per input (``≥ 2``: BatchNorm in training mode).
        bias: convolution biases; ``affine``: BatchNorm gains and shifts.
        activation: ``"relu"`` (default), ``"gelu"``, ``"silu"`` or ``"tanh"``: only the ReLU
            carries the channel rescalings through (with ``affine``); every BatchNorm law holds
            for all of them, and the smooth ones give a gradient flow without kinks.
    """
    H, W = (image, image) if isinstance(image, int) else tuple(image)
    for name, v in (
        ("image", H),
        ("image", W),
        ("c_in", c_in),
        ("channels", channels),
        ("blocks", blocks),
        ("classes", classes),
        ("kernel", kernel),
    ):
        positive_int(v, name)
    B = positive_int(batch, "batch", 2)
    if activation not in ACTIVATIONS:
        raise InvalidArgumentError(
            "activation",
            f"must be one of {sorted(ACTIVATIONS)}, got {activation!r}",
            'e.g. activation="gelu"',
        )
    act = ACTIVATIONS[activation]
    if kernel % 2 == 0:
        raise InvalidArgumentError(
            "kernel", f"must be odd to keep the image size, got {kernel}", "e.g. kernel=3"
        )
    c = channels
    p: dict[str, Array] = {"R": jnp.zeros((classes, c))}
    convs = ["0"] + [f"{side}{b}" for b in range(1, blocks + 1) for side in "AB"]
    for name in convs:
        p[f"K{name}"] = jnp.zeros((c, c_in if name == "0" else c, kernel, kernel))
        if bias:
            p[f"c{name}"] = jnp.zeros((c,))
        if affine:
            p[f"gamma{name}"] = jnp.ones((c,))
            p[f"beta{name}"] = jnp.zeros((c,))

    def conv_norm(q: dict[str, Array], name: str, h: Array) -> Array:
        """``γ N(K ⋆ h + c) + β`` for the convolution ``name``."""
        z = _convolve(h, q[f"K{name}"])
        if bias:
            z = z + q[f"c{name}"][None, :, None, None]
        z = batch_norm(z, (0, 2, 3))
        if affine:
            z = q[f"gamma{name}"][None, :, None, None] * z + q[f"beta{name}"][None, :, None, None]
        return z

    def apply(q: dict[str, Array], x: Array) -> Array:
        h = act(conv_norm(q, "0", x))
        for b in range(1, blocks + 1):
            z = act(conv_norm(q, f"A{b}", h))
            h = act(h + conv_norm(q, f"B{b}", z))
        return (jnp.mean(h, axis=(2, 3)) @ q["R"].T).reshape(-1)

    names = parameter_names(p)
    return Architecture(
        f"resnet({H}x{W}, c_in={c_in}, c={c}, blocks={blocks}, classes={classes}, batch={B})"
        + ("+bias" if bias else "")
        + ("+affine" if affine else "")
        + ("" if activation == "relu" else f"({activation})"),
        apply,
        p,
        (B, c_in, H, W),
        B * classes,
        names,
        known=KnownLaws(_resnet_laws),
        layers={
            "convs": convs,
            "channels": c,
            "blocks": blocks,
            "bias": bias,
            "affine": affine,
            "activation": activation,
        },
        # shifts β small next to the gains γ, as in normalised_net: every ReLU switches on
        point_scale=tuple(0.1 if n.startswith("beta") else 1.0 for n in names) if affine else 1.0,
    )


def _convolve(h: Array, K: Array) -> Array:
    """``K ⋆ h`` (cross-correlation, stride 1, zero padding that keeps the size, as PyTorch's
    ``Conv2d(padding="same")``): ``h: (B, C, H, W)``, ``K: (O, C, k, k)`` → ``(B, O, H, W)``.

    Written as one contraction of the ``k²`` shifted copies of the padded image: under ``vmap``
    over parameter points (the law counter's batches) ``lax.conv_general_dilated`` becomes a
    grouped convolution that XLA:CPU runs 4× slower (measured: 512 gradients of two 4-channel
    layers on 8 images of 6 × 6, 508 ms against 124 ms)."""
    out, C, k, _ = K.shape
    p = k // 2
    H, W = h.shape[2:]
    padded = jnp.pad(h, ((0, 0), (0, 0), (p, p), (p, p)))
    shifts = [padded[:, :, i : i + H, j : j + W] for i in range(k) for j in range(k)]
    return jnp.einsum("bcshw,ocs->bohw", jnp.stack(shifts, axis=2), K.reshape(out, C, k * k))


def resnet_law_count(
    channels: int,
    blocks: int,
    *,
    bias: bool = False,
    affine: bool = False,
    activation: str = "relu",
) -> int:
    """The number of independent known laws of :func:`resnet` (module docstring's formula)."""
    n = (1 + 2 * blocks) * channels * (2 if bias else 1)
    return n + (channels * (blocks + 1) if affine and activation == "relu" else 0)


def _channel_norms(
    arch: Architecture, name: str, axes: tuple[int, ...]
) -> Callable[[Array], Array]:
    """``θ ↦ |K_name|²`` summed over ``axes`` (``(1, 2, 3)``: per output channel, ``(0, 2, 3)``:
    per input channel)."""
    return lambda th: jnp.sum(arch.unravel(th)[f"K{name}"] ** 2, axis=axes)


def _scale_laws(arch: Architecture, name: str, bias: bool) -> Callable[[Array], Array]:
    """``θ ↦ |K[o]|² (+ c_o²)`` for every output channel ``o`` of convolution ``name``."""
    norms = _channel_norms(arch, name, (1, 2, 3))
    if not bias:
        return norms
    return lambda th: norms(th) + arch.unravel(th)[f"c{name}"] ** 2


def _biases(arch: Architecture, name: str) -> Callable[[Array], Array]:
    return lambda th: arch.unravel(th)[f"c{name}"]


def _gains(q: Any, name: str) -> Array:
    """``γ² + β²`` per channel of the BatchNorm after convolution ``name``."""
    return q[f"gamma{name}"] ** 2 + q[f"beta{name}"] ** 2


def _block_rescalings(arch: Architecture, b: int) -> Callable[[Array], Array]:
    """``γ_A[j]² + β_A[j]² − |K_B[:, j]|²`` per channel ``j`` of block ``b``."""
    incoming = _channel_norms(arch, f"B{b}", (0, 2, 3))
    return lambda th: _gains(arch.unravel(th), f"A{b}") - incoming(th)


def _stream_rescalings(arch: Architecture, blocks: int) -> Callable[[Array], Array]:
    """Per residual-stream channel ``j``: the gains and shifts that scale it up, minus the
    weights that read it."""

    def stream(th: Array) -> Array:
        q = arch.unravel(th)
        up = _gains(q, "0") + sum(_gains(q, f"B{b}") for b in range(1, blocks + 1))
        down = jnp.sum(q["R"] ** 2, axis=0) + sum(
            jnp.sum(q[f"KA{b}"] ** 2, axis=(0, 2, 3)) for b in range(1, blocks + 1)
        )
        return up - down

    return stream


def _resnet_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """The laws of :func:`resnet` (module docstring)."""
    convs, c, bias = arch.layers["convs"], arch.layers["channels"], arch.layers["bias"]
    blocks = arch.layers["blocks"]
    laws: list[KnownLaw] = []
    for name in convs:
        laws += array_entries(
            f"|K{name}[{{0}}]|²" + (f" + c{name}[{{0}}]²" if bias else ""),
            _scale_laws(arch, name, bias),
            (c,),
            f"BatchNorm scale invariance of an output channel of convolution {name}",
        )
        if bias:
            laws += array_entries(
                f"c{name}[{{0}}]",
                _biases(arch, name),
                (c,),
                f"BatchNorm centring removes the bias of convolution {name}",
            )
    if not (arch.layers["affine"] and arch.layers["activation"] == "relu"):
        return laws
    for b in range(1, blocks + 1):
        laws += array_entries(
            f"gammaA{b}[{{0}}]² + betaA{b}[{{0}}]² - |KB{b}[:,{{0}}]|²",
            _block_rescalings(arch, b),
            (c,),
            f"rescaling of a channel of block {b} through its ReLU",
        )
    laws += array_entries(
        "stream channel {0}: gains² + shifts² - |KA[:,{0}]|² - |R[:,{0}]|²",
        _stream_rescalings(arch, blocks),
        (c,),
        "rescaling of a residual-stream channel (the stem's and every block's second BatchNorm "
        "gain and shift up; every block's first convolution and the read-out down)",
    )
    return laws
