r"""User functions as *structure + data*, so that compiled code is shared between model instances.

JAX compiles a function once per static structure. A model's drift written as a closure,
``lambda x: -k * x`` or ``lambda x: -x + W @ tanh(x)``, captures its parameters (``k``, ``W``); if the
closure itself were the static key, every new model instance — every value of a parameter sweep —
would recompile every kernel (about 20 s for a 2-D path solve).

:class:`TracedFunction` traces the function once to a jaxpr at the model's shapes and splits it into

* the **program** (static): the jaxpr's equations, printed to a canonical string that is the
  compilation key, and
* the **parameters** (data): every array the function closes over (``W``), and every scalar
  literal of the top-level equations (``k`` when it is a Python float), lifted to inputs.

Two closures with the same code and shapes therefore compare equal as static structure and share
compiled kernels whatever their parameter values. Evaluation replays the jaxpr on the given
parameters (``jax.core.eval_jaxpr``), under ``jit``, ``vmap`` and autodiff alike.

This is a cache optimisation, never a change of meaning: the traced program is evaluated at a probe
point against the original function at construction, and if tracing, lifting or that check fails
the original function is kept (compiled per instance, as plain JAX would).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["TracedFunction", "trace_function"]

Array = jax.Array


class _Program:
    """A jaxpr with all constants as leading inputs; equality and hash by its printed form.

    Pickled (to run on another process, e.g. a Dask worker) as the function it was traced from and
    the example shapes: the receiver traces it again (jaxprs themselves do not pickle)."""

    def __init__(self, jaxpr: Any, key: str, source: tuple[Any, ...] = ()) -> None:
        self.jaxpr = jaxpr
        self.key = key
        self._hash = hash(key)
        self.source = source

    def __reduce__(self) -> tuple[Any, ...]:
        if not self.source:
            raise TypeError("this traced program does not know its source function")
        return (_retraced_program, self.source)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Program) and other.key == self.key

    def __hash__(self) -> int:
        return self._hash

    def __call__(self, consts: Sequence[Array], *args: Array) -> Array:
        (out,) = jax.core.eval_jaxpr(self.jaxpr, list(consts), *args)
        return out


class _Opaque:
    """Fallback: the user's function itself (compiled per instance; equality by identity)."""

    def __init__(self, fn: Callable[..., Array]) -> None:
        self.fn = fn

    def __call__(self, consts: Sequence[Array], *args: Array) -> Array:
        return self.fn(*args)


class TracedFunction(eqx.Module):
    """``fn(*args)`` as static ``program`` + dynamic ``params`` (see module docstring)."""

    params: tuple[Array, ...]
    program: _Program | _Opaque = eqx.field(static=True)

    def __call__(self, *args: Array) -> Array:
        return self.program(self.params, *args)

    @property
    def shares_compiled_code(self) -> bool:
        """True when instances with the same code share compiled kernels."""
        return isinstance(self.program, _Program)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _lift_literals(closed: Any) -> tuple[Any, list[Any]]:
    """Turn every literal of the top-level equations (and outputs) into a new constant input."""
    from jax.extend.core import Jaxpr, Literal, Var

    jaxpr = closed.jaxpr
    new_vars: list[Any] = []
    values: list[Any] = []

    def lift(atom: Any) -> Any:
        if isinstance(atom, Literal):
            var = Var(atom.aval)
            new_vars.append(var)
            values.append(jnp.asarray(atom.val, dtype=atom.aval.dtype))  # type: ignore[attr-defined]
            return var
        return atom

    eqns = [eqn.replace(invars=[lift(a) for a in eqn.invars]) for eqn in jaxpr.eqns]
    outvars = [lift(a) for a in jaxpr.outvars]
    new = Jaxpr(
        [*jaxpr.constvars, *new_vars],
        jaxpr.invars,
        outvars,
        eqns,
        jaxpr.effects,
        jaxpr.debug_info,
    )
    return new, [*closed.consts, *values]


def trace_function(fn: Callable[..., Array], *example: Any) -> tuple[TracedFunction, Any]:
    """Trace ``fn`` at the example arguments (``jax.ShapeDtypeStruct`` or arrays).

    Returns ``(traced, out_shape)``; raises whatever ``fn`` raises when traced (the caller turns
    that into a clear error)."""
    closed = jax.make_jaxpr(fn)(*example)
    out_aval = closed.out_avals[0] if len(closed.out_avals) == 1 else None
    if out_aval is None:
        raise TypeError(f"must return one array, returned {len(closed.out_avals)} outputs")
    out_shape = jax.ShapeDtypeStruct(out_aval.shape, out_aval.dtype)
    try:
        jaxpr, consts = _lift_literals(closed)
        specs = tuple(jax.ShapeDtypeStruct(jnp.shape(e), jnp.result_type(e)) for e in example)
        program = _Program(jaxpr, _ADDRESS.sub("", str(jaxpr)), (fn, *specs))
        params = tuple(jnp.asarray(c) for c in consts)
        if not _agrees(fn, program, params, example):
            raise ValueError("traced program disagrees with the function")
        return TracedFunction(params, program), out_shape
    except Exception:  # any internal-API or replay problem: keep the function as it is
        return TracedFunction((), _Opaque(fn)), out_shape


def _retraced_program(fn: Callable[..., Array], *specs: Any) -> _Program | _Opaque:
    """The program of ``fn`` traced again at ``specs`` (unpickling a :class:`_Program`)."""
    return trace_function(fn, *specs)[0].program


def _agrees(
    fn: Callable[..., Array], program: _Program, params: tuple[Array, ...], example: Any
) -> bool:
    """The replayed program equals the function at a random probe point (bitwise up to 1e-12)."""
    rng = np.random.default_rng(12345)
    args = [jnp.asarray(0.3 + rng.standard_normal(e.shape), dtype=e.dtype) for e in example]
    ref = np.asarray(fn(*args))
    got = np.asarray(program(params, *args))
    if ref.shape != got.shape:
        return False
    with np.errstate(invalid="ignore"):
        same = (ref == got) | (np.isnan(ref) & np.isnan(got))
        same |= np.abs(ref - got) <= 1e-12 * (1.0 + np.abs(ref))
    return bool(np.all(same))
