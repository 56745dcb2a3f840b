r"""The user's own recurrent network as a noisy dynamical system.

:func:`rnn_cell` takes a trained network as it is — PyTorch ``nn.RNNCell``/``nn.GRUCell``/
``nn.LSTMCell`` or a one-layer ``nn.RNN``/``nn.GRU``/``nn.LSTM``; Equinox ``eqx.nn.GRUCell``/
``LSTMCell``; Flax ``GRUCell``/``LSTMCell``/``SimpleCell`` (nnx, or linen with its ``params``); or a
continuous-time module or function ``f(x, u)`` — and returns a :class:`RecurrentCell`: the update
rebuilt in JAX (float64), checked against the module's own forward pass, and :meth:`RecurrentCell.sde`
turns it into an :class:`~noetherlab.sde.model.SDE`.

**Convention.** A discrete-time cell ``h ← F(h, u)`` becomes the drift

.. math::  f(h) = \bigl(F(h, u) - h\bigr) / Δt ,

so that one Euler step of length ``Δt`` of the noiseless SDE is one step of the network and the
fixed points of ``f`` are exactly those of ``F``. (Sussillo & Barak's ``q = ½|F(h) − h|²`` is
``Δt²`` times noetherlab's ``q = ½|f|²``.) An LSTM's state is ``(h, c)`` stacked: ``x = [h; c]`` of
length ``2H``, ``h`` first. A continuous-time model is used as given: ``f(x, u)``.

**Inputs.** ``input=u``: a constant vector of the network's input size (a context cue; a parameter of
the model, so another ``u`` reuses the compiled solvers), or a function ``u(t)`` (the drift is then
time-dependent). ``None`` is the zero input.

**Weights are data.** The PyTorch update is written once per cell type at module level with the
weights as arguments, and JAX modules are called as they are; either way the weights enter the
traced drift as data (:mod:`noetherlab._core.traced`), so a second network of the same shape reuses
every compiled kernel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError, UnsupportedModelError
from noetherlab._core.validation import as_float_array, positive_float
from noetherlab.sde.model import SDE

__all__ = ["RecurrentCell", "rnn_cell", "rnn_sde"]

Array = jax.Array

#: largest accepted |rebuilt − module| in the forward-pass check, relative to 1 + |F|, for a module
#: evaluated in float64 (PyTorch: a float64 copy) and in float32 (a JAX module kept in float32)
FORWARD_RTOL = {"float64": 1e-10, "float32": 1e-4}
#: states and inputs at which the rebuilt update is compared with the module's forward pass
CHECK_STATES = 16

SUPPORTED = (
    "torch.nn.RNNCell, GRUCell, LSTMCell, and one-layer unidirectional torch.nn.RNN, GRU, LSTM; "
    "equinox.nn.GRUCell, LSTMCell; flax.nnx / flax.linen GRUCell, LSTMCell, SimpleCell (linen "
    "with params=); a continuous-time function or module f(x, u) with continuous=True"
)


# ----------------------------------------------------------------------- the PyTorch updates
def _torch_rnn_step(p: dict[str, Array], h: Array, u: Array, relu: bool) -> Array:
    """Elman cell: ``h' = φ(W_ih u + b_ih + W_hh h + b_hh)``, ``φ = tanh`` or ReLU."""
    a = p["w_ih"] @ u + p["b_ih"] + p["w_hh"] @ h + p["b_hh"]
    return jax.nn.relu(a) if relu else jnp.tanh(a)


def _torch_gru_step(p: dict[str, Array], h: Array, u: Array) -> Array:
    """PyTorch GRU: ``r, z = σ(W_i· u + b_i· + W_h· h + b_h·)``,
    ``n = tanh(W_in u + b_in + r ⊙ (W_hn h + b_hn))``, ``h' = (1 − z) ⊙ n + z ⊙ h``."""
    gi = p["w_ih"] @ u + p["b_ih"]
    gh = p["w_hh"] @ h + p["b_hh"]
    ir, iz, in_ = jnp.split(gi, 3)
    hr, hz, hn = jnp.split(gh, 3)
    r = jax.nn.sigmoid(ir + hr)
    z = jax.nn.sigmoid(iz + hz)
    n = jnp.tanh(in_ + r * hn)
    return (1.0 - z) * n + z * h


def _torch_lstm_step(p: dict[str, Array], x: Array, u: Array) -> Array:
    """PyTorch LSTM on the stacked state ``x = [h; c]``: ``i, f, g, o`` from
    ``W_ih u + b_ih + W_hh h + b_hh`` (σ, σ, tanh, σ), ``c' = f ⊙ c + i ⊙ g``, ``h' = o ⊙ tanh c'``."""
    h, c = jnp.split(x, 2)
    gates = p["w_ih"] @ u + p["b_ih"] + p["w_hh"] @ h + p["b_hh"]
    i, f, g, o = jnp.split(gates, 4)
    c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
    return jnp.concatenate([h_new, c_new])


# ----------------------------------------------------------------------- the cell
@dataclass(frozen=True, eq=False)
class RecurrentCell:
    """A recurrent network rebuilt in JAX: ``step(x, u)`` is ``F(x, u)`` (discrete time) or
    ``f(x, u)`` (``continuous``), on states ``x`` of shape ``(dim,)`` and inputs ``(input_size,)``.

    ``source`` names what it was built from, ``kind`` the cell (``"rnn"``, ``"gru"``, ``"lstm"``,
    ``"continuous"``), ``hidden_size`` the units (``dim = 2·hidden_size`` for an LSTM, state
    ``[h; c]``), ``forward_error`` the largest relative difference from the module's own forward
    pass found by the construction check (``nan`` when there is no independent forward pass)."""

    source: str
    kind: str
    hidden_size: int
    input_size: int
    step: Callable[[Array, Array], Array] = field(repr=False)
    forward_error: float = float("nan")

    @property
    def dim(self) -> int:
        return 2 * self.hidden_size if self.kind == "lstm" else self.hidden_size

    @property
    def continuous(self) -> bool:
        return self.kind == "continuous"

    @property
    def convention(self) -> str:
        if self.continuous:
            return "continuous time: the drift is the module's f(x, u)"
        state = "x = [h; c] (h first)" if self.kind == "lstm" else "x = h"
        return f"discrete time h <- F(h, u): drift f = (F(x, u) - x)/dt, {state}"

    def drift(self, input: Any = None, dt: float = 1.0) -> Callable[..., Array]:
        """The drift ``f(x)`` (constant input) or ``f(x, t)`` (input ``u(t)``) of the convention."""
        dt = positive_float(dt, "dt", "time step")
        u_of_t = _input_function(input, self.input_size)
        step = self.step
        if self.continuous:
            rate: Callable[[Array, Array], Array] = step
        else:

            def rate(x: Array, u: Array) -> Array:
                return (step(x, u) - x) / dt

        if u_of_t is not None:
            return lambda x, t: rate(x, u_of_t(t))
        u = _constant_input(input, self.input_size)
        return lambda x: rate(x, u)

    def sde(
        self,
        input: Any = None,
        *,
        diffusion: Any = None,
        noise: Any = None,
        dt: float = 1.0,
        name: str | None = None,
    ) -> SDE:
        """The noisy network ``dx = f(x, u) dt + G dW`` (give ``diffusion=D`` or ``noise=G`` as
        :class:`~noetherlab.sde.model.SDE` takes them; ``dt``: seconds per network step)."""
        if diffusion is None and noise is None:
            raise InvalidArgumentError(
                "diffusion/noise",
                "the network's noise is not given",
                "pass diffusion=D (e.g. 0.01 for D = 0.01 I) or noise=G",
            )
        return SDE(
            self.drift(input, dt),
            diffusion=diffusion,
            noise=noise,
            dim=self.dim,
            name=name or f"{self.source}(H={self.hidden_size})",
        )


def rnn_sde(
    network: Any,
    input: Any = None,
    *,
    diffusion: Any = None,
    noise: Any = None,
    dt: float = 1.0,
    params: Any = None,
    continuous: bool = False,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> SDE:
    """``rnn_cell(network, ...).sde(input, diffusion=..., noise=..., dt=...)`` in one call."""
    cell = rnn_cell(
        network,
        params=params,
        continuous=continuous,
        input_size=input_size,
        hidden_size=hidden_size,
    )
    return cell.sde(input, diffusion=diffusion, noise=noise, dt=dt)


def rnn_cell(
    network: Any,
    *,
    params: Any = None,
    continuous: bool = False,
    input_size: int | None = None,
    hidden_size: int | None = None,
) -> RecurrentCell:
    """The user's network rebuilt as a :class:`RecurrentCell` (see the module docstring).

    Args:
        network: a PyTorch, Equinox or Flax recurrent cell (list: ``SUPPORTED``), or with
            ``continuous=True`` a function/module ``f(x, u)`` of a continuous-time network.
        params: the variables of a Flax linen cell (``cell.init(...)``'s output).
        input_size, hidden_size: needed for ``continuous=True`` (the module cannot say).

    Raises:
        UnsupportedModelError: a layer or cell type that is not supported (named), a multi-layer,
            bidirectional or projected PyTorch RNN.
        InvalidArgumentError: the rebuilt update differs from the module's forward pass (the
            difference is given), or a continuous model without its sizes.
    """
    if continuous:
        return _continuous_cell(network, input_size, hidden_size)
    library = _library(network)
    if library == "torch":
        return _torch_cell(network)
    if library == "equinox":
        return _equinox_cell(network)
    if library == "flax":
        return _flax_cell(network, params)
    raise UnsupportedModelError(
        f"argument `network`: {type(network).__module__}.{type(network).__name__} is not a "
        f"recurrent cell noetherlab can import. Supported: {SUPPORTED}. Fix: pass one of these, or "
        "your network's update as a function with continuous=True (f(x, u) = dx/dt)"
    )


def _library(net: Any) -> str:
    """``"torch"``, ``"equinox"`` or ``"flax"`` when one of the network's classes (its own or a
    base class: a user's subclass of a cell) comes from that library, else ``""``."""
    for cls in type(net).__mro__:
        top = cls.__module__.split(".")[0]
        if top in ("torch", "equinox", "flax") and cls.__name__ not in ("Module", "object"):
            return top
    return ""


def _base_name(net: Any, library: str) -> str:
    """The library class the network is (or derives from), e.g. ``GRUCell`` for a subclass."""
    for cls in type(net).__mro__:
        if cls.__module__.split(".")[0] == library:
            return cls.__name__
    return type(net).__name__


# ----------------------------------------------------------------------- PyTorch
def _torch_cell(net: Any) -> RecurrentCell:
    import copy

    import torch

    name = _base_name(net, "torch")
    kinds = {"RNNCell": "rnn", "GRUCell": "gru", "LSTMCell": "lstm"}
    kinds |= {"RNN": "rnn", "GRU": "gru", "LSTM": "lstm"}
    if name not in kinds or not isinstance(net, torch.nn.Module):
        raise UnsupportedModelError(
            f"argument `network`: torch {name} is not a recurrent cell noetherlab can import. "
            f"Supported: {SUPPORTED}. Fix: pass the recurrent layer itself (e.g. model.gru)"
        )
    sequence = not name.endswith("Cell")
    if sequence:
        bad = []
        if net.num_layers != 1:
            bad.append(f"num_layers={net.num_layers}")
        if net.bidirectional:
            bad.append("bidirectional=True")
        if getattr(net, "proj_size", 0):
            bad.append(f"proj_size={net.proj_size}")
        if bad:
            raise UnsupportedModelError(
                f"argument `network`: torch {name} with {', '.join(bad)}: noetherlab imports one "
                "unidirectional layer without projection (its state is the hidden state). Fix: "
                "pass a one-layer, unidirectional network, or a cell"
            )
    suffix = "_l0" if sequence else ""
    sd = {k: v.detach().cpu().double().numpy() for k, v in net.state_dict().items()}
    H = int(net.hidden_size)  # type: ignore[arg-type]
    gates = {"rnn": 1, "gru": 3, "lstm": 4}[kinds[name]]
    p = {
        "w_ih": sd[f"weight_ih{suffix}"],
        "w_hh": sd[f"weight_hh{suffix}"],
        "b_ih": sd.get(f"bias_ih{suffix}", np.zeros(gates * H)),
        "b_hh": sd.get(f"bias_hh{suffix}", np.zeros(gates * H)),
    }
    params = {k: jnp.asarray(v) for k, v in p.items()}
    kind = kinds[name]
    relu = getattr(net, "nonlinearity", "tanh") == "relu"
    if kind == "rnn":
        step = _bind(_torch_rnn_step, params, relu)
    elif kind == "gru":
        step = _bind(_torch_gru_step, params)
    else:
        step = _bind(_torch_lstm_step, params)
    I = int(net.input_size)  # type: ignore[arg-type]  # noqa: E741 - PyTorch's name
    ref = copy.deepcopy(net).double().eval()

    def forward(x: np.ndarray, u: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            xt, ut = torch.from_numpy(x), torch.from_numpy(u)
            if kind == "lstm":
                hc = (xt[:, :H].contiguous(), xt[:, H:].contiguous())
            if not sequence:
                out = ref(ut, hc) if kind == "lstm" else ref(ut, xt)
                if kind == "lstm":
                    return np.concatenate([out[0].numpy(), out[1].numpy()], axis=1)
                return out.numpy()
            seq = ut[:, None, :] if ref.batch_first else ut[None, :, :]
            if kind == "lstm":
                _, (h1, c1) = ref(seq, (hc[0][None], hc[1][None]))
                return np.concatenate([h1[0].numpy(), c1[0].numpy()], axis=1)
            _, h1 = ref(seq, xt[None])
            return h1[0].numpy()

    dim = 2 * H if kind == "lstm" else H
    err = _forward_error(step, forward, dim, I, "float64", f"torch {name}")
    return RecurrentCell(f"torch.nn.{name}", kind, H, I, step, err)


def _bind(fn: Callable[..., Array], params: dict[str, Array], *extra: Any) -> Callable[..., Array]:
    return lambda x, u: fn(params, x, u, *extra)


# ----------------------------------------------------------------------- Equinox
def _equinox_cell(net: Any) -> RecurrentCell:
    import equinox as eqx

    name = _base_name(net, "equinox")
    if name not in ("GRUCell", "LSTMCell"):
        raise UnsupportedModelError(
            f"argument `network`: equinox {name} is not a recurrent cell noetherlab can import. "
            f"Supported: {SUPPORTED}. Fix: pass the cell (eqx.nn.GRUCell or LSTMCell), or a "
            "continuous-time module with continuous=True"
        )
    dtype = _float_dtype(eqx.filter(net, eqx.is_inexact_array))
    net64 = _to_float64(net)
    H, I = int(net.hidden_size), int(net.input_size)  # noqa: E741
    if name == "GRUCell":

        def step(x: Array, u: Array) -> Array:
            return net64(u, x)

        def native(x: Array, u: Array) -> Array:
            return net(u, x)

    else:

        def step(x: Array, u: Array) -> Array:
            h, c = net64(u, (x[:H], x[H:]))
            return jnp.concatenate([h, c])

        def native(x: Array, u: Array) -> Array:
            h, c = net(u, (x[:H], x[H:]))
            return jnp.concatenate([h, c])

    kind = "gru" if name == "GRUCell" else "lstm"
    dim = 2 * H if kind == "lstm" else H
    err = _forward_error(step, _jax_forward(native, dtype), dim, I, dtype, f"equinox {name}")
    return RecurrentCell(f"equinox.nn.{name}", kind, H, I, step, err)


# ----------------------------------------------------------------------- Flax
def _flax_cell(net: Any, params: Any) -> RecurrentCell:
    name = _base_name(net, "flax")
    linen = any(c.__module__.startswith("flax.linen") for c in type(net).__mro__)
    if name not in ("GRUCell", "LSTMCell", "SimpleCell"):
        raise UnsupportedModelError(
            f"argument `network`: flax {name} is not a recurrent cell noetherlab can import. "
            f"Supported: {SUPPORTED}. Fix: pass the cell, or a continuous-time module with "
            "continuous=True"
        )
    kind = {"GRUCell": "gru", "LSTMCell": "lstm", "SimpleCell": "rnn"}[name]
    if linen:
        if params is None:
            raise InvalidArgumentError(
                "params",
                f"a flax.linen {name} holds no weights; they are passed separately",
                "pass params=variables (the output of cell.init(key, carry, u))",
            )
        dtype = _float_dtype(params)
        params64 = _to_float64(params)
        H = int(net.features)
        call = lambda vs: lambda carry, u: net.apply(vs, carry, u)
        fn64, fn_native = call(params64), call(params)
        I = _linen_input_size(params, kind)  # noqa: E741
    else:
        from flax import nnx

        graphdef, state = nnx.split(net)
        dtype = _float_dtype(state)
        state64 = _to_float64(state)
        H, I = int(net.hidden_features), int(net.in_features)  # noqa: E741

        def call(st: Any) -> Callable[[Any, Array], Any]:
            return lambda carry, u: nnx.merge(graphdef, st)(carry, u)

        fn64, fn_native = call(state64), call(state)

    def wrap(fn: Callable[[Any, Array], Any]) -> Callable[[Array, Array], Array]:
        if kind == "lstm":  # flax's LSTM carry is (c, h); noetherlab's state is [h; c]

            def step(x: Array, u: Array) -> Array:
                (c, h), _ = fn((x[H:], x[:H]), u)
                return jnp.concatenate([h, c])

            return step
        return lambda x, u: fn(x, u)[0]

    step = wrap(fn64)
    dim = 2 * H if kind == "lstm" else H
    source = f"flax.{'linen' if linen else 'nnx'}.{name}"
    err = _forward_error(step, _jax_forward(wrap(fn_native), dtype), dim, I, dtype, source)
    return RecurrentCell(source, kind, H, I, step, err)


def _linen_input_size(params: Any, kind: str) -> int:
    """Input size of a linen cell read off its input kernels (``i*`` dense layers)."""
    inner = params.get("params", params)
    for key, layer in inner.items():
        if key.startswith("i") and "kernel" in layer:
            return int(layer["kernel"].shape[0])
    raise InvalidArgumentError(
        "params",
        f"no input kernel found in the {kind} cell's variables (keys {sorted(inner)})",
        "pass the variables returned by cell.init(key, carry, u)",
    )


# ----------------------------------------------------------------------- continuous time
def _continuous_cell(net: Any, input_size: int | None, hidden_size: int | None) -> RecurrentCell:
    if not callable(net):
        raise InvalidArgumentError(
            "network",
            f"with continuous=True must be a function or module f(x, u), got {type(net).__name__}",
            "pass e.g. lambda x, u: -x + W @ jnp.tanh(x) + B @ u",
        )
    if hidden_size is None or input_size is None:
        raise InvalidArgumentError(
            "hidden_size/input_size",
            "a continuous-time network's state and input sizes cannot be read off a function",
            "pass hidden_size=N and input_size=M (0 for no input)",
        )
    H, I = int(hidden_size), int(input_size)  # noqa: E741
    net64 = _to_float64(net)
    try:
        out = jax.eval_shape(
            lambda x, u: net64(x, u),
            jax.ShapeDtypeStruct((H,), jnp.float64),
            jax.ShapeDtypeStruct((I,), jnp.float64),
        )
    except Exception as exc:  # user code
        raise InvalidArgumentError(
            "network",
            f"raised {type(exc).__name__} when called as f(x, u) with x ({H},), u ({I},): {exc}",
            "make it a JAX-traceable function of the state and the input",
        ) from exc
    if getattr(out, "shape", None) != (H,):
        raise ShapeError(
            "network",
            f"f(x, u) must return dx/dt of shape ({H},), got {getattr(out, 'shape', out)}",
            "return the time derivative of the state",
        )
    name = getattr(net, "__name__", type(net).__name__)
    return RecurrentCell(f"continuous:{name}", "continuous", H, I, lambda x, u: net64(x, u))


# ----------------------------------------------------------------------- checks and helpers
def _input_function(input: Any, size: int) -> Callable[[Array], Array] | None:
    """``u(t)`` checked to return ``(size,)``; ``None`` for a constant input."""
    if not callable(input):
        return None
    try:
        out = jax.eval_shape(input, jax.ShapeDtypeStruct((), jnp.float64))
    except Exception as exc:  # user code
        raise InvalidArgumentError(
            "input",
            f"u(t) raised {type(exc).__name__} when called with a scalar t: {exc}",
            "make u a JAX-traceable function of time returning the input vector",
        ) from exc
    if getattr(out, "shape", None) != (size,):
        raise ShapeError(
            "input",
            f"u(t) must return the network's input of shape ({size},), got "
            f"{getattr(out, 'shape', out)}",
            f"return a length-{size} vector",
        )
    return lambda t: jnp.asarray(input(t), dtype=jnp.float64)


def _constant_input(input: Any, size: int) -> Array:
    if input is None:
        return jnp.zeros(size)
    u = as_float_array(input, "input")
    if u.shape != (size,) or not np.all(np.isfinite(u)):
        raise ShapeError(
            "input",
            f"must be the network's input, a finite vector of shape ({size},); got shape {u.shape}",
            f"pass a length-{size} vector (None for zero input), or a function u(t)",
        )
    return jnp.asarray(u)


def _float_dtype(tree: Any) -> str:
    leaves = [x for x in jax.tree.leaves(tree) if hasattr(x, "dtype")]
    floats = [str(x.dtype) for x in leaves if jnp.issubdtype(x.dtype, jnp.floating)]
    return "float64" if floats and all(d == "float64" for d in floats) else "float32"


def _to_float64(tree: Any) -> Any:
    def cast(x: Any) -> Any:
        if isinstance(x, (jax.Array, np.ndarray)) and jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.asarray(x, dtype=jnp.float64)
        return x

    return jax.tree.map(cast, tree)


def _jax_forward(
    native: Callable[[Array, Array], Array], dtype: str
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def forward(x: np.ndarray, u: np.ndarray) -> np.ndarray:
        cast = jnp.float64 if dtype == "float64" else jnp.float32
        return np.asarray(jax.vmap(native)(jnp.asarray(x, cast), jnp.asarray(u, cast)), np.float64)

    return forward


def _forward_error(
    step: Callable[[Array, Array], Array],
    forward: Callable[[np.ndarray, np.ndarray], np.ndarray],
    dim: int,
    input_size: int,
    dtype: str,
    what: str,
) -> float:
    """Largest ``|F_rebuilt − F_module| / (1 + |F_module|)`` over random states and inputs; the
    network is refused when it exceeds ``FORWARD_RTOL[dtype]``."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((CHECK_STATES, dim))
    u = rng.standard_normal((CHECK_STATES, input_size))
    if dtype == "float32":  # the states the float32 module sees
        x, u = x.astype(np.float32).astype(np.float64), u.astype(np.float32).astype(np.float64)
    got = np.asarray(jax.vmap(step)(jnp.asarray(x), jnp.asarray(u)))
    try:
        ref = forward(x, u)
    except Exception as exc:  # the module's own forward pass
        raise InvalidArgumentError(
            "network",
            f"its forward pass failed on a state of shape ({dim},) and an input of shape "
            f"({input_size},): {type(exc).__name__}: {exc}",
            "pass the recurrent cell or layer itself, with its usual call signature",
        ) from exc
    if ref.shape != got.shape:
        raise InvalidArgumentError(
            "network",
            f"its forward pass returned shape {ref.shape}, the rebuilt {what} {got.shape}",
            "pass a standard cell (a subclass that changes the state shape is not supported)",
        )
    err = float(np.max(np.abs(got - ref) / (1.0 + np.abs(ref))))
    if not err <= FORWARD_RTOL[dtype]:
        raise InvalidArgumentError(
            "network",
            f"the {what} rebuilt in JAX differs from the module's own forward pass by {err:.3g} "
            f"(relative; accepted {FORWARD_RTOL[dtype]:g}): the module does not compute the "
            "standard update (a customised forward?)",
            "pass a standard cell, or the update as a function with continuous=True",
        )
    return err
