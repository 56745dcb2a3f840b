"""Global JAX configuration, applied when :mod:`noetherlab` is imported (before any array exists):
float64 everywhere (``jax_enable_x64``), so that every number noetherlab reports is double precision."""

import jax

jax.config.update("jax_enable_x64", True)
