"""The command-line names of the built-in models (``noetherlab models``), and how a model is
named on the command line or in a sweep spec: a built-in name with ``-p key=value`` overrides, or
``package.module:function`` returning an :class:`~noetherlab.sde.model.SDE`."""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from noetherlab._core.errors import InvalidArgumentError, NoetherlabError
from noetherlab.models.catalogue import (
    drift_diffusion,
    equivariant_rnn,
    gaussian_ring_reverse,
    kerr_parametric_oscillator,
    maier_stein,
    memory_rnn,
    ornstein_uhlenbeck,
    three_attractor,
)
from noetherlab.sde.model import SDE

__all__ = ["BUILTIN_MODELS", "describe_models", "resolve_model"]


def _ou_cli(K: float = 1.0, D: float = 1.0, dim: int = 2) -> SDE:
    """Isotropic Ornstein–Uhlenbeck ``dx = -K x dt + sqrt(2D) dW`` in ``dim`` dimensions."""
    return ornstein_uhlenbeck(K=K, D=D, dim=dim)


def _rnn_rotation(gain: float = 2.0, rotation: float = 0.5, noise: float = 0.1) -> SDE:
    """Rotation-equivariant 2-unit RNN (ring attractor; angular momentum conserved)."""
    return equivariant_rnn(2, "rotation", gain=gain, rotation=rotation, noise=noise)


def _memory_rnn_cli(
    N: int = 100, gain: float = 2.0, coupling: float = 0.5, noise: float = 0.05, seed: int = 0
) -> SDE:
    """Noisy rate RNN with a stored pattern (two stable states; memory_rnn)."""
    return memory_rnn(N, gain, coupling, noise, seed)


#: command-line model names -> constructors (their keyword arguments are the ``-p key=value``)
BUILTIN_MODELS: dict[str, Any] = {
    "ou": _ou_cli,
    "ddm": drift_diffusion,
    "three-attractor": three_attractor,
    "maier-stein": maier_stein,
    "ring-reverse": gaussian_ring_reverse,
    "rnn-rotation": _rnn_rotation,
    "memory-rnn": _memory_rnn_cli,
    "kpo": kerr_parametric_oscillator,
}


def describe_models() -> str:
    """One line per built-in model: name, parameters with defaults, first docstring line."""
    lines = []
    for name, factory in BUILTIN_MODELS.items():
        params = ", ".join(
            f"{p.name}={p.default!r}"
            for p in inspect.signature(factory).parameters.values()
            if p.default is not inspect.Parameter.empty
        )
        doc = (inspect.getdoc(factory) or "").splitlines()[0]
        lines.append(f"{name} ({params}): {doc}")
    return "\n".join(lines)


def resolve_model(spec: str, params: dict[str, Any] | None = None) -> SDE:
    """A built-in model name (``BUILTIN_MODELS``) with keyword overrides, or
    ``package.module:function`` returning an :class:`SDE` (called with the overrides)."""
    params = dict(params or {})
    if spec in BUILTIN_MODELS:
        factory = BUILTIN_MODELS[spec]
    elif ":" in spec:
        module_name, _, attr = spec.partition(":")
        if os.getcwd() not in sys.path:  # a user's module in the current directory
            sys.path.insert(0, os.getcwd())
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise InvalidArgumentError(
                "MODEL",
                f"cannot load {spec!r}: {exc}",
                "pass package.module:function importable from here",
            ) from None
    else:
        raise InvalidArgumentError(
            "MODEL",
            f"unknown model {spec!r}",
            f"use one of {sorted(BUILTIN_MODELS)} or package.module:function",
        )
    try:
        accepted = list(inspect.signature(factory).parameters)
    except (TypeError, ValueError):
        accepted = []
    unknown = [k for k in params if accepted and k not in accepted]
    if unknown:
        raise InvalidArgumentError(
            "--param",
            f"model {spec!r} has no parameter(s) {unknown}",
            f"use {accepted}" if accepted else "check the parameter names",
        )
    try:
        model = factory(**params)
    except NoetherlabError:
        raise
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            "--param", f"model {spec!r} rejects these parameters ({exc})", f"use {accepted}"
        ) from None
    if not isinstance(model, SDE):
        raise InvalidArgumentError(
            "MODEL",
            f"{spec!r} returned {type(model).__name__}, not an SDE",
            "return noetherlab.SDE(...)",
        )
    return model
