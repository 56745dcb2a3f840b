"""Built-in models (``nl.models``): the case studies of the paper and the ones users ask for, and
trained rate networks. See :mod:`~noetherlab.models.catalogue` for each model's equations and
:mod:`~noetherlab.models.registry` for the command-line names."""

from noetherlab.models.catalogue import (
    circle_mixture_score,
    drift_diffusion,
    equivariant_rnn,
    gaussian_ring_reverse,
    kerr_parametric_oscillator,
    maier_stein,
    memory_rnn,
    memory_rnn_attractors,
    noisy_rnn,
    ornstein_uhlenbeck,
    pf_ode_velocity,
    ring_log_density,
    ring_score,
    three_attractor,
)
from noetherlab.models.score_training import circle_mixture_data, ring_data, sphere_data

__all__ = [
    "circle_mixture_data",
    "circle_mixture_score",
    "drift_diffusion",
    "equivariant_rnn",
    "gaussian_ring_reverse",
    "kerr_parametric_oscillator",
    "maier_stein",
    "memory_rnn",
    "memory_rnn_attractors",
    "noisy_rnn",
    "ornstein_uhlenbeck",
    "pf_ode_velocity",
    "ring_data",
    "ring_log_density",
    "ring_score",
    "sphere_data",
    "three_attractor",
]
