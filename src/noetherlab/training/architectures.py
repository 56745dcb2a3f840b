r"""Parametric models ``g(θ, x)`` whose gradient-flow conservation laws we count and find.

An :class:`Architecture` bundles a JAX function ``apply(params, x) -> (out,)`` with a parameter
pytree template, the input shape and readable parameter names. All the conservation-law machinery
works on the flat parameter vector ``θ ∈ R^D`` (``ravel_pytree`` order); ``arch.flat(θ, x)`` is the
model on it.

Built-in families (``sizes`` lists layer widths input → output):

* :func:`linear_net` — deep linear ``W_L ⋯ W_1 x``;
* :func:`relu_net` — ``W_L σ(⋯ σ(W_1 x + b_1) ⋯)`` (biases on hidden layers when ``bias=True``);
* :func:`polynomial_net` — the same with ``σ(z) = z^k`` (or any polynomial);
* :func:`conv1d_net` — multi-channel 1-D convolutions (``'valid'``, ReLU), then a linear read-out;
* :func:`attention` — single head ``softmax(X Q K^T X^T) X V O`` (rows of ``X`` are tokens);
* :func:`lightning_attention` — ``X Q K^T X^T X V`` (tensorizable);
* :func:`softmax_layer` — logits ``W x`` (use with the cross-entropy loss);
* :func:`product_model` — ``g(θ, x) = (∏ θ_i) x`` (e.g. ``φ = x1 x2 x3``);
* :func:`custom` — any user JAX function and parameter pytree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.validation import positive_int
from noetherlab.training.known import (
    ATTENTION,
    CONVOLUTION,
    LIGHTNING_ATTENTION,
    LINEAR,
    PRODUCT,
    RELU,
    SOFTMAX,
    UNKNOWN,
    KnownLaws,
)
from noetherlab.training.known import homogeneous as homogeneous_laws

__all__ = [
    "Architecture",
    "attention",
    "conv1d_net",
    "custom",
    "layer_sizes",
    "lightning_attention",
    "linear_net",
    "output_size",
    "parameter_names",
    "polynomial_net",
    "polynomial_unit",
    "product_model",
    "relu_net",
    "softmax_layer",
]

Array = jax.Array


@dataclass(frozen=True)
class Architecture:
    """A model ``g(θ, x)``.

    Attributes:
        name: e.g. ``"linear[4,4,4]"``.
        apply: ``apply(params, x) -> array of shape (output_dim,)`` (JAX-traceable).
        template: a parameter pytree (its shapes define ``D``).
        input_shape: shape of one input ``x``.
        output_dim: number of outputs.
        param_names: one readable name per flat parameter (``"W1[0,1]"``).
        known: the laws the family knows it has (:class:`~noetherlab.training.known.KnownLaws`:
            those of the gradient flow, and the symmetries behind the metric- and momentum-flow
            laws); ``known.UNKNOWN`` for a custom model.
        layers: family-specific structure (e.g. the sizes) the known laws are written in.
        features: ``x ↦ Ψ(x)`` (flat) when the model is *tensorizable*, ``g(θ, x) = Φ(θ)Ψ(x)``
            (linear, polynomial without bias, lightning attention, the polynomial unit), else
            ``None``.
        feature_map: ``θ ↦ Φ(θ)`` of shape ``(output_dim, F)`` in closed form where known (else
            :func:`~noetherlab.training.lifted.tensorization` solves for it from ``features``).
        input_degree: an upper bound on the polynomial degree of ``g`` in ``x`` (``None``: not
            polynomial, or unknown).
        input_weights: ``θ ↦ M(θ)``, the weights whose rows read the input (``g = h(θ, M(θ)x)``,
            so augmenting ``x`` by ``G`` acts on ``M`` as ``M ↦ MG``), else ``None``.
        point_scale: standard deviation of the random parameter points at which laws are counted
            (the count is the same at every generic point; attention takes ``(d·√d_k)^{-1/2}`` so
            that its logits are of order one and the softmax is not saturated, which would make
            the rank decisions ill-conditioned).
    """

    name: str
    apply: Callable[[Any, Array], Array]
    template: Any
    input_shape: tuple[int, ...]
    output_dim: int
    param_names: tuple[str, ...]
    known: KnownLaws = field(default=UNKNOWN, compare=False, repr=False)
    layers: dict[str, Any] = field(default_factory=dict)
    features: Callable[[Array], Array] | None = field(default=None, compare=False, repr=False)
    feature_map: Callable[[Array], Array] | None = field(default=None, compare=False, repr=False)
    input_degree: int | None = None
    input_weights: Callable[[Array], Array] | None = field(default=None, compare=False, repr=False)
    point_scale: float | tuple[float, ...] = 1.0
    #: derived objects kept with the model (its law-counting generators and their compiled
    #: brackets), so that a second count of the same model compiles nothing again
    cache: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    @property
    def dimension(self) -> int:
        """``D``, the number of scalar parameters."""
        return len(self.param_names)

    def unravel(self, theta: Array) -> Any:
        return ravel_pytree(self.template)[1](theta)

    def flat(self, theta: Array, x: Array) -> Array:
        """``g(θ, x)`` on the flat parameter vector ``θ`` (shape ``(D,)``)."""
        return jnp.reshape(self.apply(self.unravel(theta), x), (self.output_dim,))

    def random_params(self, key: Array, scale: float = 1.0) -> Array:
        return scale * jax.random.normal(key, (self.dimension,))

    def random_inputs(self, key: Array, n: int) -> Array:
        return jax.random.normal(key, (n, *self.input_shape))


def parameter_names(params: dict[str, Array]) -> tuple[str, ...]:
    """Flat names in ``ravel_pytree`` order (dicts are flattened by sorted key)."""
    names: list[str] = []
    for key in sorted(params):
        arr = np.asarray(params[key])
        for idx in np.ndindex(arr.shape):
            names.append(f"{key}[{','.join(map(str, idx))}]" if idx else key)
    return tuple(names)


def layer_sizes(sizes: Sequence[int], minimum: int = 2) -> list[int]:
    try:
        out = [positive_int(int(s), "sizes") for s in sizes]
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "sizes", f"must be a list of positive widths, got {sizes!r}", "e.g. sizes=[4, 4, 4]"
        ) from None
    if len(out) < minimum:
        raise InvalidArgumentError(
            "sizes",
            f"needs at least {minimum} widths (input ... output), got {out}",
            "e.g. sizes=[4, 4, 4]",
        )
    return out


def _monomial_features(degree: int) -> Callable[[Array], Array]:
    """``Ψ(x) = (1, x, x⊗x, …, x^{⊗degree})`` flattened."""

    def psi(x: Array) -> Array:
        parts, t = [jnp.ones(1)], jnp.ones(())
        for _ in range(degree):
            t = jnp.multiply.outer(t, x)
            parts.append(t.ravel())
        return jnp.concatenate(parts)

    return psi


def _lightning_features(X: Array) -> Array:
    """``Ψ(X) = x_1 ⊗ XᵀX`` (``X`` rows are tokens)."""
    return jnp.einsum("a,bc->abc", X[0], X.T @ X).ravel()


def _weights_of(params: Any, *keys: str) -> Callable[[Array], Array]:
    """``θ ↦ M(θ)``: the input-reading matrices ``params[key]`` (input on their last axis for a
    single key; stacked along the input's columns and transposed for several)."""
    unravel = ravel_pytree(params)[1]
    if len(keys) == 1:
        return lambda th: unravel(th)[keys[0]]
    return lambda th: jnp.concatenate([unravel(th)[k] for k in keys], axis=1).T


def _dense_params(sizes: list[int], bias: bool) -> dict[str, Array]:
    params: dict[str, Array] = {}
    for i in range(len(sizes) - 1):
        params[f"W{i + 1}"] = jnp.zeros((sizes[i + 1], sizes[i]))
        if bias and i < len(sizes) - 2:
            params[f"b{i + 1}"] = jnp.zeros((sizes[i + 1],))
    return params


def _mlp(
    sizes: list[int], bias: bool, act: Callable[[Array], Array]
) -> Callable[[Any, Array], Array]:
    L = len(sizes) - 1

    def apply(p: dict[str, Array], x: Array) -> Array:
        h = x
        for i in range(1, L + 1):
            h = p[f"W{i}"] @ h
            if i < L:
                if bias:
                    h = h + p[f"b{i}"]
                h = act(h)
        return h

    return apply


def linear_net(sizes: Sequence[int]) -> Architecture:
    """Deep linear network ``W_L ⋯ W_1 x`` with ``W_i`` of shape ``(sizes[i], sizes[i-1])``."""
    s = layer_sizes(sizes)
    p = _dense_params(s, False)
    return Architecture(
        f"linear{s}",
        _mlp(s, False, lambda z: z),
        p,
        (s[0],),
        s[-1],
        parameter_names(p),
        known=LINEAR,
        layers={"sizes": s},
        features=lambda x: x,
        input_degree=1,
        input_weights=_weights_of(p, "W1"),
    )


def relu_net(sizes: Sequence[int], bias: bool = False) -> Architecture:
    """ReLU MLP ``W_L relu(⋯ relu(W_1 x + b_1) ⋯)``; ``bias=True`` adds biases to the hidden layers."""
    s = layer_sizes(sizes, 3)
    p = _dense_params(s, bias)
    return Architecture(
        f"relu{s}{'+bias' if bias else ''}",
        _mlp(s, bias, jax.nn.relu),
        p,
        (s[0],),
        s[-1],
        parameter_names(p),
        known=RELU,
        layers={"sizes": s, "bias": bias},
        input_weights=_weights_of(p, "W1"),
    )


def polynomial_net(
    sizes: Sequence[int],
    degree: int = 2,
    coefficients: Sequence[float] | None = None,
    bias: bool = False,
) -> Architecture:
    """MLP with a polynomial activation: ``σ(z) = z^degree`` or ``Σ_k c_k z^k`` (``coefficients``)."""
    s = layer_sizes(sizes, 3)
    degree = positive_int(degree, "degree")
    if coefficients is None:
        coeffs = np.zeros(degree + 1)
        coeffs[degree] = 1.0
    else:
        coeffs = np.asarray(coefficients, dtype=float)
    c = jnp.asarray(coeffs)
    act = lambda z: jnp.polyval(c[::-1], z)
    p = _dense_params(s, bias)
    homogeneous = int(np.flatnonzero(coeffs)[-1]) if np.count_nonzero(coeffs) == 1 else None
    x_degree = (len(coeffs) - 1) ** (len(s) - 2)  # g is a polynomial of this degree in x
    return Architecture(
        f"polynomial{s}(deg {len(coeffs) - 1})",
        _mlp(s, bias, act),
        p,
        (s[0],),
        s[-1],
        parameter_names(p),
        known=homogeneous_laws(homogeneous),
        layers={"sizes": s, "bias": bias, "degree": len(coeffs) - 1},
        # the features (1, x, …, x^{⊗n}) need no bias inside: with biases Φ is not built-in
        features=None if bias else _monomial_features(x_degree),
        input_degree=x_degree,
        input_weights=_weights_of(p, "W1"),
    )


def polynomial_unit(
    d: int = 2, degree: int = 2, coefficients: Sequence[float] | None = None
) -> Architecture:
    """One unit with a fixed polynomial activation: ``g(p, x) = f(p·x)``, ``f(z) = Σ_j c_j z^j``
    (default ``c_j = 1`` for ``j = 0..degree``); the parameters are ``p ∈ R^d``.

    The MSE loss ``½(f(p·x) − y)²`` is a polynomial of degree ``2·degree`` in ``x``: its average over
    the rotations ``C_k`` of the ``(x1, x2)`` plane is rotation invariant in ``p`` iff ``k > 2·degree``
    (see :mod:`noetherlab.training.symmetry`)."""
    d = positive_int(d, "d")
    coeffs = np.ones(positive_int(degree, "degree") + 1) if coefficients is None else None
    if coefficients is not None:
        coeffs = np.asarray(coefficients, dtype=float)
        if coeffs.ndim != 1 or coeffs.size < 2 or coeffs[-1] == 0.0:
            raise InvalidArgumentError(
                "coefficients",
                f"must list c_0..c_n with c_n != 0, got {coefficients!r}",
                "e.g. [1, 1, 1] for f(z) = 1 + z + z^2",
            )
    assert coeffs is not None
    c = jnp.asarray(coeffs)
    p = {"p": jnp.zeros((d,))}

    def phi(theta: Array) -> Array:
        """``Φ(p) = (c_0, c_1 p, c_2 p⊗p, …)``, shape ``(1, F)``."""
        parts, t = [c[0] * jnp.ones(1)], jnp.ones(())
        for j in range(1, c.size):
            t = jnp.multiply.outer(t, theta)
            parts.append(c[j] * t.ravel())
        return jnp.concatenate(parts)[None, :]

    return Architecture(
        f"polynomial-unit(d={d}, deg {coeffs.size - 1})",
        lambda q, x: jnp.polyval(c[::-1], q["p"] @ x)[None],
        p,
        (d,),
        1,
        tuple(f"p{i + 1}" for i in range(d)),
        layers={"degree": coeffs.size - 1, "coefficients": coeffs.tolist()},
        features=_monomial_features(coeffs.size - 1),
        feature_map=phi,
        input_degree=coeffs.size - 1,
        input_weights=lambda th: th[None, :],
    )


def conv1d_net(
    length: int, channels: Sequence[int], kernel: int = 3, outputs: int = 1, bias: bool = False
) -> Architecture:
    """1-D convolutions ``'valid'`` with ReLU between them (``channels = [c_in, c_1, ..., c_k]``),
    then a linear read-out of the flattened last feature map to ``outputs`` values.
    Input shape ``(c_in, length)``."""
    length = positive_int(length, "length")
    kernel = positive_int(kernel, "kernel")
    ch = layer_sizes(channels)
    L = len(ch) - 1
    out_len = length - L * (kernel - 1)
    if out_len < 1:
        raise InvalidArgumentError(
            "length",
            f"{length} is too short for {L} 'valid' convolutions of width {kernel}",
            "use a longer input or a smaller kernel",
        )
    p: dict[str, Array] = {}
    for i in range(L):
        p[f"K{i + 1}"] = jnp.zeros((ch[i + 1], ch[i], kernel))
        if bias:
            p[f"c{i + 1}"] = jnp.zeros((ch[i + 1],))
    p["R"] = jnp.zeros((outputs, ch[-1] * out_len))

    def apply(q: dict[str, Array], x: Array) -> Array:
        h = x
        for i in range(1, L + 1):
            h = jax.lax.conv_general_dilated(h[None], q[f"K{i}"], (1,), "VALID")[0]
            if bias:
                h = h + q[f"c{i}"][:, None]
            h = jax.nn.relu(h)
        return q["R"] @ h.reshape(-1)

    return Architecture(
        f"conv1d(len {length}, ch {ch}, k {kernel})",
        apply,
        p,
        (ch[0], length),
        outputs,
        parameter_names(p),
        known=CONVOLUTION,
        layers={"channels": ch, "bias": bias, "kernel": kernel},
    )


def attention(tokens: int, d: int, d_k: int, d_v: int, d_out: int = 1) -> Architecture:
    """Single-head attention ``softmax(X Q K^T X^T) X V O`` read out at the first token
    (``X`` has shape ``(tokens, d)``; ``Q, K: (d, d_k)``, ``V: (d, d_v)``, ``O: (d_v, d_out)``)."""
    for name, v in (("tokens", tokens), ("d", d), ("d_k", d_k), ("d_v", d_v), ("d_out", d_out)):
        positive_int(v, name)
    p = {
        "Q": jnp.zeros((d, d_k)),
        "K": jnp.zeros((d, d_k)),
        "V": jnp.zeros((d, d_v)),
        "O": jnp.zeros((d_v, d_out)),
    }

    def apply(q: dict[str, Array], X: Array) -> Array:
        A = jax.nn.softmax(X @ q["Q"] @ q["K"].T @ X.T, axis=-1)
        return (A @ X @ q["V"] @ q["O"])[0]

    return Architecture(
        f"attention(L={tokens}, d={d}, dk={d_k}, dv={d_v})",
        apply,
        p,
        (tokens, d),
        d_out,
        parameter_names(p),
        known=ATTENTION,
        input_weights=_weights_of(p, "Q", "K", "V"),
        point_scale=float((d * np.sqrt(d_k)) ** -0.5),
    )


def lightning_attention(tokens: int, d: int, d_k: int, d_out: int) -> Architecture:
    """Lightning (linear) attention ``X Q K^T X^T X V``, output read at the first token.
    ``Q, K: (d, d_k)``, ``V: (d, d_out)``; tensorizable (:mod:`noetherlab.training.symmetry`)."""
    for name, v in (("tokens", tokens), ("d", d), ("d_k", d_k), ("d_out", d_out)):
        positive_int(v, name)
    p = {"Q": jnp.zeros((d, d_k)), "K": jnp.zeros((d, d_k)), "V": jnp.zeros((d, d_out))}

    def apply(q: dict[str, Array], X: Array) -> Array:
        return (X @ q["Q"] @ q["K"].T @ X.T @ X @ q["V"])[0]

    unravel = ravel_pytree(p)[1]

    def phi(theta: Array) -> Array:
        """``Φ(θ)[o, (a, b, c)] = (QKᵀ)[a, b] V[c, o]``, shape ``(d_out, d³)``."""
        q = unravel(theta)
        return jnp.einsum("ab,co->oabc", q["Q"] @ q["K"].T, q["V"]).reshape(q["V"].shape[1], -1)

    return Architecture(
        f"lightning-attention(L={tokens}, d={d}, dk={d_k})",
        apply,
        p,
        (tokens, d),
        d_out,
        parameter_names(p),
        known=LIGHTNING_ATTENTION,
        features=_lightning_features,
        feature_map=phi,
        input_degree=3,
        input_weights=_weights_of(p, "Q", "K", "V"),
    )


def softmax_layer(n_in: int, n_classes: int) -> Architecture:
    """Linear logits ``W x`` (``W: (n_classes, n_in)``) for softmax + cross-entropy."""
    positive_int(n_in, "n_in")
    positive_int(n_classes, "n_classes", 2)
    p = {"W": jnp.zeros((n_classes, n_in))}
    return Architecture(
        f"softmax({n_in}->{n_classes})",
        lambda q, x: q["W"] @ x,
        p,
        (n_in,),
        n_classes,
        parameter_names(p),
        known=SOFTMAX,
        features=lambda x: x,
        input_weights=_weights_of(p, "W"),
    )


def product_model(n: int = 3) -> Architecture:
    """``g(θ, x) = (θ_1 θ_2 ⋯ θ_n) x``: the factorisation ``φ(θ) = θ_1 ⋯ θ_n``."""
    n = positive_int(n, "n", 2)
    p = {"theta": jnp.zeros((n,))}
    return Architecture(
        f"product({n})",
        lambda q, x: jnp.prod(q["theta"]) * x,
        p,
        (1,),
        1,
        tuple(f"x{i + 1}" for i in range(n)),
        known=PRODUCT,
        layers={"n": n},
    )


def output_size(
    apply: Callable[[Any, Array], Array],
    params: Any,
    shape: tuple[int, ...],
    argument: str,
    fix: str,
) -> int:
    """The number of values ``apply(params, x)`` returns for one input of ``shape`` (traced, not
    run); a failure is a :class:`ShapeError` under ``argument`` with ``fix``."""
    try:
        out = jax.eval_shape(apply, params, jax.ShapeDtypeStruct(shape, jnp.float64))
    except Exception as exc:
        raise ShapeError(
            argument,
            f"the model raised {type(exc).__name__} on an input of shape {shape}: {exc}",
            fix,
        ) from exc
    return int(np.prod(out.shape)) if out.shape else 1


def custom(
    apply: Callable[[Any, Array], Array],
    params: Any,
    input_shape: Sequence[int],
    name: str = "custom",
) -> Architecture:
    """Any user model ``apply(params, x)`` with parameter pytree ``params`` and input shape."""
    if not callable(apply):
        raise InvalidArgumentError(
            "apply", "must be a function apply(params, x)", "pass a JAX-traceable function"
        )
    shape = tuple(int(s) for s in input_shape)
    out_dim = output_size(apply, params, shape, "apply", "check the shapes")
    flat, _ = ravel_pytree(params)
    if flat.size == 0:
        raise ShapeError("params", "has no parameters", "pass a non-empty pytree of arrays")
    names = tuple(f"theta[{i}]" for i in range(flat.size))
    return Architecture(name, apply, params, shape, out_dim, names)
