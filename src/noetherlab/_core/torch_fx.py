r"""PyTorch modules rebuilt as JAX functions: their laws can be counted (``training``) and a score
network can drive a diffusion model's paths (``models.diffusion``).

The Lie brackets of the training flow and the path solvers' Hessians are nested JAX derivatives,
so a PyTorch forward pass cannot be used as it is. :func:`torch_to_jax` captures the module's graph with ``torch.fx`` (the standard
PyTorch graph capture) and replays it node by node with ``jax.numpy`` on the module's parameters,
which become a flat dict keyed by their PyTorch names (``net.0.weight``). The translation is then
checked against the module itself, in float64, on random inputs: a mismatch is refused, never used.

Supported: the layers of :mod:`noetherlab._core.torch_layers` (linear, convolutions, activations,
LayerNorm/RMSNorm/BatchNorm, multi-head attention, transformer encoder layers), the functional and
tensor-method forms of the activations, arithmetic (``+ − × ÷``, negation, powers, ``@``), ``view``/``reshape``/``flatten``/``transpose``/
``permute``/``cat``/``stack``/``unsqueeze``/``sum``/``mean``, ``sqrt``/``log1p``. Anything else is
named in the error, with the fix (port the model to Equinox). Inputs are given one at a time
without a batch axis; the module is run on a batch of one, as PyTorch layers expect. A module of
several inputs (a score network ``forward(x, t)``) is replayed by :func:`torch_graph_to_jax`.
"""

from __future__ import annotations

import hashlib
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.torch_layers import call_layer, flatten, is_supported_layer, unsupported

__all__ = ["is_torch_module", "torch_graph_to_jax", "torch_to_jax"]

Array = jax.Array


def is_torch_module(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (without importing PyTorch: a module can only
    exist if PyTorch is imported already)."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _shape_args(args: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else args


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "div": operator.truediv,
    "neg": operator.neg,
    "pow": operator.pow,
    "matmul": jnp.matmul,
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "silu": jax.nn.silu,
    "exp": jnp.exp,
    "log": jnp.log,
    "sin": jnp.sin,
    "cos": jnp.cos,
    "square": jnp.square,
    "abs": jnp.abs,
    "gelu": lambda x, approximate="none": jax.nn.gelu(x, approximate=approximate == "tanh"),
    "leaky_relu": lambda x, negative_slope=0.01: jax.nn.leaky_relu(x, negative_slope),
    "linear": lambda x, w, b=None: x @ w.T + (0.0 if b is None else b),
    "flatten": lambda x, start_dim=0, end_dim=-1: flatten(x, start_dim, end_dim),
    "reshape": lambda x, *s: x.reshape(_shape_args(s)),
    "view": lambda x, *s: x.reshape(_shape_args(s)),
    "transpose": lambda x, a, b: jnp.swapaxes(x, a, b),
    "permute": lambda x, *d: jnp.transpose(x, _shape_args(d)),
    "cat": lambda xs, dim=0: jnp.concatenate(xs, axis=dim),
    "stack": lambda xs, dim=0: jnp.stack(xs, axis=dim),
    "unsqueeze": lambda x, dim: jnp.expand_dims(x, dim),
    "sqrt": jnp.sqrt,
    "log1p": jnp.log1p,
    "sum": lambda x, dim=None, keepdim=False: jnp.sum(x, axis=dim, keepdims=keepdim),
    "mean": lambda x, dim=None, keepdim=False: jnp.mean(x, axis=dim, keepdims=keepdim),
    "getitem": operator.getitem,
    "size": lambda x, dim=None: x.shape if dim is None else x.shape[dim],
    "contiguous": lambda x: x,
}


def _function_name(target: Any) -> str:
    """``operator.iadd`` -> ``add``, ``torch.relu`` -> ``relu``, ``F.gelu`` -> ``gelu``."""
    name = str(getattr(target, "__name__", target)).strip("_")
    if name not in _FUNCTIONS and name.startswith("i") and name[1:] in _FUNCTIONS:
        return name[1:]
    return name


class _Replay:
    """A captured ``torch.fx`` graph replayed with ``jax.numpy``: ``replay(params, *inputs)``.

    Equal (and hashing equal) for two modules of the same architecture, buffers and graph, so that
    a retrained module of the same shape is the same static structure to ``jax.jit``: only its
    parameters, passed as data, differ.
    """

    def __init__(
        self,
        nodes: list[Any],
        submodules: dict[str, Any],
        buffers: dict[str, Array],
        argument: str,
        exact: bool = False,
    ) -> None:
        self.nodes, self.submodules, self.buffers = nodes, submodules, buffers
        self.argument, self.exact = argument, exact
        layers = tuple(
            (n.target, repr(submodules[n.target])) for n in nodes if n.op == "call_module"
        )
        graph = tuple((n.op, str(n.target), repr(n.args), repr(n.kwargs)) for n in nodes)
        data = tuple(
            (k, v.shape, hashlib.sha1(np.asarray(v).tobytes()).hexdigest())
            for k, v in sorted(buffers.items())
        )
        self._key = (graph, layers, data, exact)

    def without_eps(self) -> _Replay:
        """The same graph with every normalisation's ``ε`` set to zero."""
        return _Replay(self.nodes, self.submodules, self.buffers, self.argument, exact=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Replay) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __call__(self, p: dict[str, Array], *inputs: Array) -> Array:
        import torch.fx

        argument = self.argument
        feed = iter(inputs)
        env: dict[str, Any] = {}

        def value(a: Any) -> Any:
            if isinstance(a, torch.fx.Node):
                return env[a.name]
            if isinstance(a, (tuple, list)):
                return type(a)(value(v) for v in a)
            if isinstance(a, dict):
                return {k: value(v) for k, v in a.items()}
            return a

        out = None
        for node in self.nodes:
            args, kwargs = value(node.args), value(node.kwargs)
            if node.op == "placeholder":
                env[node.name] = jnp.asarray(next(feed))[None]
            elif node.op == "get_attr":
                env[node.name] = p[node.target] if node.target in p else self.buffers[node.target]
            elif node.op == "call_module":
                env[node.name] = call_layer(
                    self.submodules[node.target],
                    node.target,
                    p,
                    self.buffers,
                    args,
                    kwargs,
                    self.exact,
                )
            elif node.op in ("call_function", "call_method"):
                key = node.target if node.op == "call_method" else _function_name(node.target)
                kwargs.pop("inplace", None)
                env[node.name] = _FUNCTIONS[key](*args, **kwargs)
            elif node.op == "output":
                out = args[0]
        if out is None or isinstance(out, tuple | list | dict):
            raise InvalidArgumentError(
                argument,
                f"returns a {type(out).__name__}, not one tensor",
                "wrap the module so that forward returns the single output tensor the loss uses",
            )
        if jnp.ndim(out) == 0:
            raise InvalidArgumentError(
                argument,
                "returns a scalar: its forward reduces the batch axis (e.g. a .sum() or .mean())",
                "return one output per example, shape (batch, ...); the loss does the reduction",
            )
        return jnp.reshape(out[0], (-1,))


def torch_to_jax(
    module: Any, input_shape: tuple[int, ...], tol: float = 1e-10, exact: bool = False
) -> tuple[dict[str, Array], Callable[[dict[str, Array], Array], Array]]:
    """``(params, apply)`` with ``apply(params, x)`` the module's forward pass on one input ``x`` of
    ``input_shape`` (no batch axis), in JAX; ``params`` maps PyTorch parameter names to float64
    arrays. Checked against the module (float64, 3 random inputs, relative error <= ``tol``).
    ``exact``: the returned replay has every normalisation's ``ε`` set to zero (the check is made
    with the module's own ``ε``).

    Raises:
        UnsupportedModelError: the graph cannot be captured or uses an operation not translated.
        InvalidArgumentError: a parameter that is not floating point; the translation disagrees.
    """
    rng = np.random.default_rng(0)
    probes = [(rng.standard_normal(input_shape),) for _ in range(3)]
    params, apply = torch_graph_to_jax(module, probes, tol)
    if not math.isfinite(float(np.sum(np.asarray(apply(params, jnp.zeros(input_shape)))))):
        raise InvalidArgumentError("module", "returns non-finite values at x = 0", "check it")
    if exact:
        assert isinstance(apply, _Replay)
        return params, apply.without_eps()
    return params, apply


def torch_graph_to_jax(
    module: Any,
    probes: Sequence[tuple[np.ndarray, ...]],
    tol: float = 1e-10,
    argument: str = "module",
    exact: bool = False,
) -> tuple[dict[str, Array], Callable[..., Array]]:
    """``(params, apply)`` with ``apply(params, *inputs)`` the forward pass of a module of one or
    more inputs (each without its batch axis; the output flattened to a vector), in JAX. The
    translation is checked against the module's own forward pass (float64) at every probe, a tuple
    of example inputs such as ``(x, t)``; relative error <= ``tol``. Errors name ``argument``.

    Raises:
        UnsupportedModelError: the graph cannot be captured or uses an operation not translated.
        InvalidArgumentError: a parameter that is not floating point; the translation disagrees.
    """
    import copy

    import torch
    import torch.fx

    _refuse_training_batch_norm(module, argument)
    if is_supported_layer(module):  # a bare layer (the root is traced into, never a leaf)
        module = torch.nn.Sequential(module)  # its parameters are named 0.weight, ...
    model = copy.deepcopy(module).double().eval()
    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception as exc:
        raise unsupported(
            f"Python control flow that torch.fx cannot capture ({exc})", argument
        ) from None
    params: dict[str, Array] = {}
    for name, tensor in module.named_parameters():
        if not tensor.dtype.is_floating_point:
            raise InvalidArgumentError(
                argument,
                f"parameter {name} has dtype {tensor.dtype} (not floating point): gradient flow "
                "needs real parameters",
                "make it a float tensor, or register it as a buffer",
            )
        params[name] = jnp.asarray(tensor.detach().cpu().double().numpy())
    buffers = {n: jnp.asarray(b.detach().cpu().double().numpy()) for n, b in model.named_buffers()}
    submodules = dict(model.named_modules())
    nodes = list(graph.nodes)
    n_inputs = sum(node.op == "placeholder" for node in nodes)
    if probes and n_inputs != len(probes[0]):
        raise InvalidArgumentError(
            argument,
            f"its forward takes {n_inputs} input(s), expected {len(probes[0])}",
            "wrap the module so that forward takes exactly the inputs named in the call",
        )
    for node in nodes:  # refuse before use, naming the first unsupported operation
        if node.op == "call_function" and _function_name(node.target) not in _FUNCTIONS:
            raise unsupported(f"the function {node.target!r}", argument)
        if node.op == "call_method" and node.target not in _FUNCTIONS:
            raise unsupported(f"the tensor method .{node.target}()", argument)
        if node.op == "call_module":
            sub = submodules[node.target]
            if not is_supported_layer(sub):
                raise unsupported(f"the layer {node.target!r} ({type(sub).__name__})", argument)

    apply = _Replay(nodes, submodules, buffers, argument)
    _check(model, params, apply, probes, tol, argument)
    return params, apply.without_eps() if exact else apply


def _refuse_training_batch_norm(module: Any, argument: str) -> None:
    """A BatchNorm layer in training mode normalises by the batch: the loss then depends on the
    batch composition, not on one sample at a time. Say so, and what each choice keeps."""
    import torch.nn as nn

    for name, sub in module.named_modules():
        if isinstance(sub, nn.modules.batchnorm._BatchNorm) and sub.training:
            raise InvalidArgumentError(
                argument,
                f"layer {name!r} ({type(sub).__name__}) is in training mode: it normalises by the "
                "batch, so the loss depends on the batch composition and is not a sum over "
                "samples. In training mode each neuron's incoming weights are scale invariant "
                "and the bias before it is removed (|w_j|² and b_j are conserved); in evaluation "
                "mode the running statistics are fixed numbers and that invariance is lost",
                "call module.eval() to count the laws of the evaluation-mode network, or use "
                "noetherlab.training.normalised_net(sizes, norm='batch') for the training-mode "
                "laws (one input is a whole batch)",
            )


def _check(
    model: Any,
    params: dict[str, Array],
    apply: Callable[..., Array],
    probes: Sequence[tuple[np.ndarray, ...]],
    tol: float,
    argument: str,
) -> None:
    """The JAX replay equals the module's own forward pass at every probe."""
    import torch

    for probe in probes:
        inputs = [np.asarray(v, dtype=np.float64) for v in probe]
        got = np.asarray(apply(params, *map(jnp.asarray, inputs)))  # first: names a bad output
        with torch.no_grad():
            ref = model(*(torch.from_numpy(v)[None] for v in inputs)).numpy().reshape(-1)
        err = float(np.max(np.abs(got - ref))) / max(1.0, float(np.max(np.abs(ref))))
        if not err <= tol or got.shape != ref.shape:
            raise InvalidArgumentError(
                argument,
                f"its JAX translation disagrees with the PyTorch forward pass (relative error "
                f"{err:.2e}, shapes {got.shape} vs {ref.shape})",
                "port the model to Equinox, or report the model so the translation can be fixed",
            )
