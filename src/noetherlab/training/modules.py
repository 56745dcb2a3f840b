r"""Models as users hold them: Equinox modules and Flax (nnx or linen) models as :class:`Architecture`.

:func:`from_module` finds the trainable parameters of a module (the floating-point arrays: every
inexact array leaf of an Equinox module, the ``nnx.Param`` variables of an nnx module, the
``params`` collection of a linen model), names each scalar by its path in the module
(``layers[0].weight[2,1]``, ``Dense_0.kernel[0,2]``) and wraps the forward pass ``x -> module(x)``
as ``g(θ, x)``. Everything else (static fields, batch statistics, RNG state) is held fixed. The
result is an ordinary :class:`Architecture`: :func:`~noetherlab.training.count_laws`,
:func:`~noetherlab.training.find_polynomial_laws` and the training checks take it, and the law
formulas are printed in the module's own parameter names. Parameters are cast to float64.

Flax and PyTorch are optional extras (``pip install noetherlab[flax]``, ``noetherlab[torch]``). A
PyTorch module's forward pass is not a JAX function (the Lie brackets need nested JAX derivatives):
it is captured with ``torch.fx`` and rebuilt in JAX, then checked against the module
(:mod:`noetherlab._core.torch_fx`); its parameters keep their PyTorch names
(``net.0.weight[2,1]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, ShapeError
from noetherlab._core.torch_fx import is_torch_module
from noetherlab.training.architectures import Architecture, output_size

__all__ = ["from_module"]

Array = jax.Array


def from_module(
    module: Any,
    input_shape: Sequence[int],
    *,
    variables: Any = None,
    output_dim: int | None = None,
    name: str | None = None,
    exact_normalisation: bool = False,
) -> Architecture:
    """An :class:`Architecture` from an Equinox module or a Flax model.

    Args:
        module: an ``equinox.Module`` (called as ``module(x)``), a ``flax.nnx.Module`` (called as
            ``module(x)``) or a ``flax.linen.Module`` (called as ``module.apply(variables, x)``).
        input_shape: the shape of one input ``x`` (no batch axis).
        variables: for a linen model, its variables (``model.init(key, x)``); the ``params``
            collection is trained, the rest held fixed. Not used otherwise.
        output_dim: the expected number of outputs (checked against the module's output).
        name: the architecture's name (default: the module's class name).
        exact_normalisation: for a PyTorch module, set the ``ε`` of every LayerNorm, RMSNorm and
            BatchNorm to zero (after checking the translation with the module's own ``ε``): the
            weights feeding a normalisation are then exactly scale invariant and their laws are
            exact (``ε > 0`` breaks them by a relative ``O(ε/σ²)``, which a certified count
            resolves). For Equinox or Flax, build the layers with ``eps=0``.

    Returns:
        An :class:`Architecture` whose ``param_names`` are the module's parameter paths.
    """
    shape = _shape(input_shape)
    kind = _framework(module)
    if exact_normalisation and kind != "torch":
        raise InvalidArgumentError(
            "exact_normalisation",
            f"applies to PyTorch modules, got a {type(module).__name__}",
            "build the normalisation layers with eps=0 instead",
        )
    if variables is not None and kind != "flax":
        raise InvalidArgumentError(
            "variables",
            f"is only used with a Flax linen model, got a {type(module).__name__}",
            "drop variables=",
        )
    if kind == "equinox":
        params, apply = _equinox(module)
    elif kind == "flax":
        params, apply = _flax(module, variables)
    elif kind == "torch":
        from noetherlab._core.torch_fx import torch_to_jax

        params, apply = torch_to_jax(module, shape, exact=exact_normalisation)
    else:
        raise InvalidArgumentError(
            "module",
            f"{type(module).__name__} is not an Equinox module, a Flax model or a PyTorch module",
            "pass an equinox.Module, a flax.nnx.Module, a flax.linen.Module with variables=, a "
            "torch.nn.Module, "
            "or wrap a plain function with noetherlab.training.custom",
        )
    names, params = _named_float64(params)
    size = output_size(
        apply, params, shape, "input_shape", "pass the shape of one input, without a batch axis"
    )
    if output_dim is not None and size != output_dim:
        raise ShapeError(
            "output_dim",
            f"is {output_dim}, but the module returns {size} values",
            f"pass output_dim={size}, or check the module's last layer",
        )
    return Architecture(
        name or type(module).__name__,
        apply,
        params,
        shape,
        size,
        names,
        layers={"module": type(module).__name__},
    )


def _shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            "input_shape", f"must be a tuple of sizes, got {input_shape!r}", "e.g. (4,)"
        ) from None
    if not shape or any(s < 1 for s in shape):
        raise InvalidArgumentError(
            "input_shape", f"must be a non-empty tuple of positive sizes, got {shape}", "e.g. (4,)"
        )
    return shape


def _framework(module: Any) -> str | None:
    """``"equinox"``, ``"flax"``, ``"torch"`` or ``None``. A Flax or PyTorch model can only exist
    if its framework is imported already, so neither is imported here."""
    import sys

    import equinox as eqx

    if isinstance(module, eqx.Module):
        return "equinox"
    flax = sys.modules.get("flax")
    if flax is not None:
        from flax import linen, nnx

        if isinstance(module, (nnx.Module, linen.Module)):
            return "flax"
    if is_torch_module(module):
        return "torch"
    return None


def _equinox(module: Any) -> tuple[Any, Callable[[Any, Array], Array]]:
    import equinox as eqx

    params, static = eqx.partition(module, eqx.is_array)
    _only_float(params)

    def apply(p: Any, x: Array) -> Array:
        return eqx.combine(p, static)(x)

    return params, apply


def _flax(module: Any, variables: Any) -> tuple[Any, Callable[[Any, Array], Array]]:
    from flax import linen, nnx

    if isinstance(module, nnx.Module):
        graphdef, template, rest = nnx.split(module, nnx.Param, ...)  # type: ignore[misc]
        params = nnx.to_pure_dict(template)
        _only_float(params)

        def apply_nnx(p: Any, x: Array) -> Array:
            state = jax.tree_util.tree_map(lambda v: v, template)  # a copy to refill
            nnx.replace_by_pure_dict(state, p)
            return nnx.merge(graphdef, state, rest)(x)

        return params, apply_nnx
    if isinstance(module, linen.Module):
        if variables is None or "params" not in variables:
            raise InvalidArgumentError(
                "variables",
                "a linen model needs its variables, with a 'params' collection",
                "pass variables=model.init(jax.random.PRNGKey(0), x)",
            )
        fixed = {k: v for k, v in dict(variables).items() if k != "params"}
        params = variables["params"]
        _only_float(params)

        def apply_linen(p: Any, x: Array) -> Array:
            return cast(Array, module.apply({"params": p, **fixed}, x))

        return params, apply_linen
    raise InvalidArgumentError(
        "module",
        f"{type(module).__name__} is a Flax object but not an nnx or linen module",
        "pass the model itself",
    )


def _only_float(params: Any) -> None:
    """Refuse trainable leaves that are not floating-point arrays (integer or boolean parameters
    have no gradient flow)."""
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        dtype = getattr(leaf, "dtype", None)
        if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
            where = jax.tree_util.keystr(path) or "the parameters"
            raise InvalidArgumentError(
                "module",
                f"parameter {where} has dtype {dtype} (not floating point): gradient flow needs "
                "real parameters",
                "make it a float array, or mark it static (equinox.field(static=True)) / a "
                "non-Param variable",
            )


def _named_float64(params: Any) -> tuple[tuple[str, ...], Any]:
    """One name per scalar, in ``ravel_pytree`` order (``path[i,j]``), and the float64 pytree."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    if not leaves:
        raise ShapeError("module", "has no floating-point parameters", "pass a trainable model")
    names: list[str] = []
    for path, leaf in leaves:
        base = jax.tree_util.keystr(path).lstrip(".").replace("['", ".").replace("']", "")
        base = base.lstrip(".") or "theta"
        for idx in np.ndindex(np.shape(leaf)):
            names.append(f"{base}[{','.join(map(str, idx))}]" if idx else base)
    as64 = jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(leaf, dtype=jnp.float64) for _, leaf in leaves]
    )
    return tuple(names), as64
