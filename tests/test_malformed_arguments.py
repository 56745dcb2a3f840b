"""Property test (issue 27): malformed arguments to every public function raise noetherlab's own
exceptions — never a raw ``TypeError``/``IndexError``/``LinAlgError`` from NumPy, SciPy or JAX.

Each public function has one cheap, valid call (``CALLS``); hypothesis replaces one of its arguments
by a malformed value (wrong type, shape, NaN/inf, empty, ragged, absurd size) and the call must
either succeed or raise a :class:`~noetherlab._core.errors.NoetherlabError` (or warn with a
:class:`~noetherlab._core.errors.LongRunWarning` before days-long work, which stops it here). Left out, with the
reason: the traceable primitives ``lagrangian``, ``hamiltonian`` and ``hamilton_vector_field``
(called on tracers inside ``jit``, where JAX itself checks shapes), and the plotting functions
(they draw results the other functions made).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import LongRunWarning, NoetherlabError
from noetherlab.ensembles import interval
from noetherlab.noether.symmetries import Generator
from noetherlab.training import linear_net

OU = models.ornstein_uhlenbeck()  # 2-D, isotropic
DW = nl.SDE(lambda x: x - x**3, diffusion=0.3, dim=1)
DW2 = nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=0.3, dim=2)
T_GRID = np.linspace(0.0, 1.0, 11)
LINE = np.linspace([-1.0, 0.5], [1.0, 0.5], 11)
STATES = np.random.default_rng(0).standard_normal((12, 2))
ROT = Generator.rotation(0, 1, 2)
QUICK = nl.ResolutionControl(check=False)


def _path_file(tmp: Path) -> Path:
    out = tmp / "p.nc"
    if not out.exists():
        res = nl.most_likely_path(OU, [-1.0, 0.5], [1.0, 0.5], T=1.0, n=10, resolution=QUICK)
        nl.io.save_dataset(out, res.to_dataset())
    return out


#: name -> (function, positional arguments, keyword arguments): one cheap valid call each
CALLS: dict[str, tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = {
    "SDE": (nl.SDE, (lambda x: -x,), {"diffusion": 1.0, "dim": 2}),
    "action": (nl.action, (OU, LINE, T_GRID), {}),
    "euler_lagrange_residual": (nl.euler_lagrange_residual, (OU, LINE, T_GRID), {}),
    "noether_charges": (nl.noether_charges, (OU, LINE, T_GRID), {}),
    "noether_charge": (nl.noether_charge, (OU, LINE, T_GRID, ROT), {}),
    "most_likely_path": (
        nl.most_likely_path,
        (OU, [-1.0, 0.5], [1.0, 0.5]),
        {"T": 1.0, "n": 10, "resolution": QUICK},
    ),
    "geometric_action": (nl.geometric_action, (OU, LINE, 1.0), {}),
    "path_family": (
        nl.path_family,
        (OU, [-1.0, 0.5], [1.0, 0.5]),
        {"T": [1.0, 1.5], "n": 10, "resolution": QUICK},
    ),
    "shoot": (nl.shoot, (OU, [0.5, 0.5], [0.1, 0.0], 0.5), {"n_save": 11}),
    "find_fixed_points": (nl.find_fixed_points, (DW, (-2.0, 2.0)), {"starts": 16}),
    "landscape": (nl.landscape, (DW, (-2.0, 2.0)), {"starts": 16, "n": 16}),
    "basins": (nl.basins, (DW2, [[-1.0, 0.0], [1.0, 0.0]], (-2.0, 2.0)), {"cells": 6}),
    "fokker_planck": (nl.fokker_planck, (DW, (-2.0, 2.0)), {"cells": 40}),
    "quasi_potential": (
        nl.quasi_potential,
        (DW2, [1.0, 0.0], (-2.0, 2.0)),
        {"cells": 8, "rays": 16},
    ),
    "string_method": (
        nl.string_method,
        (DW2, [-1.0, 0.0], [1.0, 0.0]),
        {"images": 8, "max_steps": 200},
    ),
    "simulate": (nl.simulate, (DW, 0.0, 0.5, 0.05, 8), {"boundary": interval(-1.5, 1.5)}),
    "ensemble_statistics": (
        nl.ensemble_statistics,
        (DW, 0.0, 0.5, 0.05, 8),
        {"chunk_size": 4, "bins": 4},
    ),
    "ams": (
        nl.ams,
        (DW, [-0.5], [-1.0], [1.0]),
        {"radius": 0.2, "replicas": 10, "repetitions": 1, "dt": 0.01, "save_every": 100},
    ),
    "tams": (
        nl.tams,
        (DW, [-1.0], [1.0], 1.0),
        {"radius": 0.2, "replicas": 10, "repetitions": 1, "dt": 0.01, "save_every": 100},
    ),
    "sampled_exit_time": (
        nl.sampled_exit_time,
        (DW, [-1.0], [1.0]),
        {"radius": 0.2, "replicas": 10, "repetitions": 1, "dt": 0.01, "loops": 16, "chains": 8},
    ),
    "find_symmetries": (nl.find_symmetries, (OU,), {"n_points": 8}),
    "check_symmetry": (nl.check_symmetry, (OU, ROT), {"n_probes": 8}),
    "approximate_symmetries": (nl.approximate_symmetries, (OU, STATES), {}),
    "symmetry_defect": (nl.symmetry_defect, (OU, ROT, STATES), {}),
    "learn_symmetries": (nl.learn_symmetries, (OU, [(LINE, T_GRID)]), {}),
    "trajectory_charges": (
        nl.trajectory_charges,
        (OU, T_GRID, LINE, np.zeros_like(LINE)),
        {},
    ),
    "train_rnn": (nl.train_rnn, (), {"N": 4, "steps": 2}),
    "count_laws": (nl.count_laws, (linear_net([2, 1]),), {"n_points": 2}),
    "load_path": (nl.load_path, ("PATH_FILE",), {}),
    "load_ensemble": (nl.load_ensemble, ("PATH_FILE",), {}),
    "load_rnn": (nl.load_rnn, ("PATH_FILE",), {}),
    "load_law_count": (nl.load_law_count, ("PATH_FILE",), {}),
    "load_ensemble_statistics": (nl.load_ensemble_statistics, ("PATH_FILE",), {}),
}

#: malformed values: wrong types, NaN/inf, empty, ragged, wrong shapes, absurd sizes
MALFORMED = st.sampled_from(
    [
        None,
        "abc",
        "",
        float("nan"),
        float("inf"),
        -float("inf"),
        -1,
        0,
        -0.5,
        True,
        2.5,
        10**15,
        1j,
        [],
        [[1.0, 2.0], [3.0]],
        [float("nan"), 1.0],
        {"a": 1},
        (1.0, 2.0, 3.0),
        np.zeros((0, 2)),
        np.zeros((3, 3, 3)),
        np.full(2, np.inf),
        object(),
    ]
)


def _slots(name: str) -> list[tuple[str, Any]]:
    _, args, kwargs = CALLS[name]
    return [("arg", i) for i in range(len(args))] + [("kw", k) for k in kwargs]


@pytest.mark.parametrize("name", sorted(CALLS))
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_malformed_arguments_raise_only_our_errors(name: str, data: Any, tmp_path: Path) -> None:
    fn, args, kwargs = CALLS[name]
    args = tuple(
        _path_file(tmp_path) if isinstance(a, str) and a == "PATH_FILE" else a for a in args
    )
    slot = data.draw(st.sampled_from(_slots(name)), label="argument")
    bad = data.draw(MALFORMED, label="value")
    call_args, call_kwargs = list(args), dict(kwargs)
    if slot[0] == "arg":
        call_args[slot[1]] = bad
    else:
        call_kwargs[slot[1]] = bad
    with warnings.catch_warnings(), contextlib.suppress(NoetherlabError, LongRunWarning):
        warnings.simplefilter("ignore")
        # days-long work is warned about before it starts; here the warning stops it
        warnings.simplefilter("error", LongRunWarning)
        fn(*call_args, **call_kwargs)  # succeeds, or raises our exception (argument and fix)
