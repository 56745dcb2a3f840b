"""The reliability catalogue of the wave-2 features (issue 27): every case of the audit and its
neighbours, with the class of outcome it must land in (``error``: our exception naming the argument
and the fix; ``refused``: the resource guard before allocation; ``valid``: a result whose status
tells the truth). The classes are those of ``tests/test_reliability_catalogue.py``;
``docs/reliability.md`` lists both catalogues.
"""

from __future__ import annotations

import json
import time
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import noetherlab as nl
from noetherlab import models
from noetherlab._core.errors import (
    InvalidArgumentError,
    LongRunWarning,
    NoetherlabError,
    NonFiniteError,
    ResourceLimitError,
    ShapeError,
    UnderResolvedWarning,
    UnsupportedModelError,
)
from noetherlab.cli import app
from noetherlab.ensembles import interval
from noetherlab.noether.symmetries import Generator

runner = CliRunner()
OU = models.ornstein_uhlenbeck()  # f = −x, D = I, 2-D: rotations about 0 are its only symmetry
DW = nl.SDE(lambda x: x - x**3, diffusion=1.0, dim=1)  # V = x⁴/4 − x²/2: barrier 1/4
DW2 = nl.SDE(lambda z: jnp.stack([z[0] - z[0] ** 3, -z[1]]), diffusion=0.1, dim=2)
QUICK = nl.ResolutionControl(check=False)


def _raises(exc: type[Exception], argument: str, call: object) -> NoetherlabError:
    with pytest.raises(exc) as info:
        call()  # type: ignore[operator]
    err = info.value
    assert isinstance(err, NoetherlabError)
    if isinstance(err, InvalidArgumentError):
        assert err.argument == argument and err.fix, str(err)
    else:
        assert f"`{argument}`" in str(err) or argument in str(err), str(err)
    return err


# ------------------------------------------------------------------ symmetries: false answers
def test_symmetry_defect_of_a_zero_or_nan_generator_is_refused():
    states = np.random.default_rng(0).standard_normal((20, 2))
    zero = Generator(A=np.zeros((2, 2)), b=np.zeros(2))
    _raises(InvalidArgumentError, "generator", lambda: nl.symmetry_defect(OU, zero, states))
    _raises(InvalidArgumentError, "generator", lambda: nl.check_symmetry(OU, zero))
    nan = Generator(A=np.full((2, 2), np.nan), b=np.zeros(2))
    _raises(NonFiniteError, "generator", lambda: nl.symmetry_defect(OU, nan, states))
    # neighbour (valid): the true rotation has defect 0 (f = −x commutes with rotations exactly)
    assert nl.symmetry_defect(OU, Generator.rotation(0, 1, 2), states) == pytest.approx(
        0, abs=1e-12
    )


def test_approximate_symmetries_from_too_few_states_are_refused():
    ta = models.three_attractor()
    # one state: 2 equations for a rotation and two translations, a zero defect is forced
    _raises(InvalidArgumentError, "states", lambda: nl.approximate_symmetries(ta, [[1.0, 1.0]]))
    _raises(InvalidArgumentError, "states", lambda: nl.approximate_symmetries(ta, [[1.0, 1.0]] * 5))
    states = np.random.default_rng(0).standard_normal((10, 2))
    _raises(ShapeError, "t", lambda: nl.approximate_symmetries(OU, states, t=np.zeros(3)))


def test_learned_symmetries_are_checked_and_need_enough_converged_paths():
    short = nl.most_likely_path(OU, [-2.0, 2.0], [2.0, 2.0], T=1.0, n=3, resolution=QUICK)
    few = nl.learn_symmetries(OU, [short])  # 4 nodes: 3 independent rows for 6 unknowns
    assert few.status is nl.CountStatus.underdetermined and not few.certified
    one = nl.most_likely_path(OU, [-2.0, 2.0], [2.0, 2.0], T=1.0, n=400, resolution=QUICK)
    alone = nl.learn_symmetries(OU, [one])
    # one path conserves two spurious combinations (measured defect 1.41 and 1.35): rejected
    assert alone.status is nl.CountStatus.rejected and len(alone) == 0
    assert alone.rejected and min(s.defect for s in alone.rejected) > 1.0
    stuck = nl.most_likely_path(
        DW2, [-1.0, 0.0], [1.0, 0.5], T=1.0, n=40, solver=nl.BlockNewton(max_steps=1),
        resolution=QUICK,
    )  # fmt: skip
    assert not stuck.converged
    _raises(InvalidArgumentError, "paths[0]", lambda: nl.learn_symmetries(DW2, [stuck]))
    # neighbour (valid): a family of three converged paths gives the rotation, certified, defect 0
    family = [
        nl.most_likely_path(OU, [-2.0, 2.0], x1, T=1.0, n=60, resolution=QUICK)
        for x1 in ([2.0, 2.0], [1.0, -1.0], [0.5, 3.0])
    ]
    found = nl.learn_symmetries(OU, family)
    assert found.certified and [s.kind for s in found] == ["rotation"]
    assert found.symmetries[0].defect <= 1e-10


# ------------------------------------------------------------------ escape rates and landscapes
def test_eyring_kramers_checks_its_fixed_points_and_flags_low_barriers():
    from noetherlab.metastability.escape_rates import eyring_kramers

    one, zero = np.array([1.0]), np.array([0.0])
    _raises(InvalidArgumentError, "attractor", lambda: eyring_kramers(DW, zero, one, 0.25))
    _raises(InvalidArgumentError, "saddle", lambda: eyring_kramers(DW, one, np.array([0.5]), 0.25))
    _raises(InvalidArgumentError, "barrier", lambda: eyring_kramers(DW, one, zero, -1.0))
    low = eyring_kramers(DW, one, zero, 0.25)
    # τ = 2π/1 · sqrt(1/2) e^{1/4} = 5.705 against the exact 3.48 (grid generator): flagged
    assert low.mean_exit_time == pytest.approx(2 * np.pi * np.sqrt(0.5) * np.exp(0.25), rel=1e-12)
    assert "S = 0.25" in low.caveat
    assert eyring_kramers(DW.with_diffusion(0.02), one, zero, 12.5).caveat == ""


def test_landscape_refuses_too_few_segments_and_reports_caveats():
    _raises(InvalidArgumentError, "n", lambda: nl.landscape(DW, (-2.0, 2.0), n=3))
    land = nl.landscape(DW, (-2.0, 2.0), n=16)
    for t in land.transitions:
        assert t.converged and t.rate_status is nl.RateStatus.eyring_kramers
        assert "caveat" in t.rate_message and "S = 0.25" in t.rate_message
        assert "discretisation error" in t.rate_message  # measured 2.3e-3 > 1e-4 at n = 16
    assert "with a caveat" in land.summary()


def test_landscape_of_a_non_hyperbolic_attractor_says_so():
    cube = nl.SDE(lambda x: -(x**3), diffusion=1.0, dim=1)
    search = nl.find_fixed_points(cube, (-2.0, 2.0))
    assert [p.kind for p in search.points] == ["non-hyperbolic"]
    err = _raises(UnsupportedModelError, "non-hyperbolic", lambda: nl.landscape(cube, (-2.0, 2.0)))
    assert "enlarge the box" not in str(err)


def test_a_one_dimensional_drift_with_nans_somewhere_is_still_a_gradient():
    # log(x + 4.5) is NaN below −4.5: the drift is undefined there, not non-gradient
    sde = nl.SDE(lambda x: x - x**3 + 0.0 * jnp.log(x + 4.5), diffusion=0.05, dim=1)
    land = nl.landscape(sde, (-5.0, 2.0), n=64)
    assert land.gradient
    assert all(t.rate_status is nl.RateStatus.eyring_kramers for t in land.transitions)


def test_landscape_summary_names_every_status():
    import dataclasses

    land = nl.landscape(DW.with_diffusion(0.05), (-2.0, 2.0), n=64)
    ok, other = land.transitions
    assert "(eyring_kramers)" in land.summary()
    # a transition whose E = 0 path did not converge (the three-attractor network at n = 16 has
    # two): its barrier is marked and its rate names why it is missing (was: hidden)
    failed = dataclasses.replace(
        other,
        status=nl.PathStatus.max_iterations,
        mean_exit_time=None,
        rate_status=nl.RateStatus.path_not_converged,
    )
    text = dataclasses.replace(land, transitions=(ok, failed)).summary()
    assert "(max_iterations), no rate (path_not_converged)" in text
    assert "not converged" in text


# ------------------------------------------------------------------ the Fokker–Planck grid
def test_fokker_planck_sets_outside_the_box_and_extrapolation_are_refused():
    ou = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    fp = nl.fokker_planck(ou, (-3.0, 3.0), 40)
    _raises(InvalidArgumentError, "target", lambda: fp.mean_first_passage_time(((5.0, 5.0), 0.5)))
    rho = fp.stationary_density()
    _raises(InvalidArgumentError, "x", lambda: fp.at(rho, [4.0, 0.0]))
    assert fp.at(rho, [2.99, 0.0]) > 0  # inside the box, beyond the last cell centre: no sign flip
    _raises(InvalidArgumentError, "cells", lambda: nl.fokker_planck(ou, (-3.0, 3.0), 50.0))
    assert nl.ReactiveFlux(0.0, 0.0, rho, rho, rho).mean_time == float("inf")


def test_fokker_planck_refuses_precision_loss_and_warns_when_under_resolved():
    weak = nl.SDE(lambda x: x - x**3, diffusion=1e-3, dim=1)  # τ ~ e^{250}: beyond float64 solves
    fp = nl.fokker_planck(weak, (-2.0, 2.0), 400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderResolvedWarning)
        _raises(
            UnsupportedModelError, "lost all precision",
            lambda: fp.mean_first_passage_time(((1.0,), 0.05)),
        )  # fmt: skip
    ou = nl.SDE(lambda x: -x, diffusion=1.0, dim=2)
    with pytest.warns(UnderResolvedWarning, match="too coarse"):
        nl.fokker_planck(ou, (-3.0, 3.0), 3).mean_first_passage_time(((0.0, 0.0), 0.5))
    with pytest.warns(UnderResolvedWarning, match="half the cells"):
        nl.fokker_planck(ou, (-3.0, 3.0), 12).mean_first_passage_time(((2.0, 2.0), 0.5))


def test_fokker_planck_committors_add_to_one_and_tails_keep_their_digits():
    eps = 0.02
    sde = nl.SDE(lambda x: x - x**3, diffusion=eps, dim=1)
    fp = nl.fokker_planck(sde, (-2.0, 2.0), 400)
    tpt = fp.reactive_flux(((-1.0,), 0.05), ((1.0,), 0.05))
    # reversible in 1-D: q⁻ = 1 − q⁺ exactly (measured 8.5e-10: the solves' round-off)
    assert np.max(np.abs(tpt.forward + tpt.backward - 1.0)) < 1e-8
    rho = fp.stationary_density().ravel()
    x = fp.centers[:, 0]
    exact = np.exp(-(x**4 / 4 - x**2 / 2) / eps)
    exact /= exact.sum() * fp.spacing[0]
    # at the walls ρ ~ 1e-49 of the peak; the grid's own error there is 0.19 % (measured)
    assert rho[0] / exact[0] == pytest.approx(1.0, rel=5e-3)
    assert np.max(np.abs(rho / exact - 1.0)) < 5e-3


def test_fokker_planck_three_dimensional_grids_are_sized_before_the_lu():
    cube = nl.SDE(lambda x: -x, diffusion=1.0, dim=3)
    _raises(ResourceLimitError, "cells", lambda: nl.fokker_planck(cube, (-2.0, 2.0), 100))
    with pytest.warns(LongRunWarning):
        nl.fokker_planck(cube, (-2.0, 2.0), 48)


# ------------------------------------------------------------------ the string method
def test_string_method_needs_two_distinct_fixed_points_and_a_sane_init():
    _raises(InvalidArgumentError, "x1", lambda: nl.string_method(DW2, [1.0, 0.0], [1.0, 0.0]))
    # OU has no saddle: between two non-fixed points there is no string to find
    _raises(InvalidArgumentError, "x0", lambda: nl.string_method(OU, [-1.0, -1.0], [1.0, 1.0]))
    ends = ([-1.0, 0.0], [1.0, 0.0])
    _raises(ShapeError, "init", lambda: nl.string_method(DW2, *ends, init=np.zeros((5, 3))))
    nan_init = np.full((5, 2), np.nan)
    _raises(NonFiniteError, "init", lambda: nl.string_method(DW2, *ends, init=nan_init))
    res = nl.string_method(DW2, *ends, images=40)  # neighbour (valid): the saddle at 0
    assert res.converged and np.allclose(res.saddle, 0.0, atol=0.03)


# ------------------------------------------------------------------ flows and training
def test_overflowing_flows_are_not_certified_and_numpy_scalars_are_numbers():
    from noetherlab.training import linear_net
    from noetherlab.training.dynamics import Flow

    huge = Flow(momentum="heavy-ball", friction=1e300)
    _raises(NonFiniteError, "not finite", lambda: nl.count_laws(linear_net([2, 2, 1]), flow=huge))
    assert Flow(momentum="heavy-ball", friction=np.float32(1.0)).friction == 1.0
    _raises(InvalidArgumentError, "friction", lambda: Flow(momentum="heavy-ball", friction=True))


def test_train_rnn_refuses_divergence_bad_arguments_and_runaways():
    _raises(
        InvalidArgumentError,
        "learning_rate",
        lambda: nl.train_rnn(N=20, steps=60, learning_rate=1e3),  # loss 0.6 → 5e6
    )
    _raises(InvalidArgumentError, "training_noise", lambda: nl.train_rnn(N=4, training_noise="x"))
    _raises(InvalidArgumentError, "seed", lambda: nl.train_rnn(N=4, seed=1.5))
    _raises(ResourceLimitError, "N", lambda: nl.train_rnn(N=40000))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongRunWarning)
        with pytest.raises(LongRunWarning):
            nl.train_rnn(N=10, steps=10**7)
    net = nl.train_rnn(N=4, steps=2)
    _raises(ShapeError, "x", lambda: net.readout(np.zeros(3)))
    assert net.readout(np.zeros((5, 4))).shape == (5, 2)


def test_count_laws_and_module_import_refuse_what_they_cannot_read():
    import torch

    _raises(InvalidArgumentError, "arch", lambda: nl.count_laws("relu"))
    from noetherlab.training import from_module

    class Summed(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = torch.nn.Linear(3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(x).sum()

    class Pair(Summed):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
            return self.lin(x), x

    _raises(InvalidArgumentError, "module", lambda: from_module(Summed(), (3,)))
    _raises(InvalidArgumentError, "module", lambda: from_module(Pair(), (3,)))


# ------------------------------------------------------------------ ensembles and sweeps
def test_ensemble_statistics_checks_like_simulate_and_reads_its_store_back(tmp_path):
    ddm = models.drift_diffusion()
    bounds = interval(-1.0, 1.0)
    _raises(
        InvalidArgumentError, "x0",
        lambda: nl.ensemble_statistics(ddm, 2.0, 1.0, 0.025, 100, boundary=bounds),
    )  # fmt: skip
    _raises(
        InvalidArgumentError, "boundary",
        lambda: nl.ensemble_statistics(ddm, 0.5, 1.0, 0.025, 100, boundary="lower"),
    )  # fmt: skip
    _raises(
        ResourceLimitError, "chunk_size",
        lambda: nl.ensemble_statistics(ddm, 0.5, 1.0, 0.025, 10**9, chunk_size=10**9),
    )  # fmt: skip
    _raises(ResourceLimitError, "n_paths", lambda: nl.simulate(ddm, 0.5, 1.0, 0.025, 10**12))
    with warnings.catch_warnings():
        warnings.simplefilter("error", LongRunWarning)
        with pytest.raises(LongRunWarning):
            nl.ensemble_statistics(ddm, 0.5, 1.0, 0.025, 10**12)
    store = tmp_path / "stats.zarr"
    stats = nl.ensemble_statistics(
        ddm, 0.5, 1.0, 0.025, 250, chunk_size=100, boundary=bounds, store=store, keep_final=True
    )  # 250 paths in chunks of 100: the last chunk holds 50
    assert stats.chunks == 3 and stats.n_paths == 250
    back = nl.load_ensemble_statistics(store)
    np.testing.assert_array_equal(back.exit_counts, stats.exit_counts)
    assert back.labels == ("lower", "upper") and back.exit_fraction("lower") == stats.exit_fraction(
        "lower"
    )
    _raises(InvalidArgumentError, "label", lambda: stats.exit_fraction("nope"))
    _raises(InvalidArgumentError, "store", lambda: nl.load_ensemble_statistics(tmp_path / "no"))


@pytest.mark.parametrize(
    ("parameters", "argument"),
    [
        ({"arch": "linear", "sizes": [3, 1], "bias": "false"}, "bias"),  # was bool("false")
        ({"arch": "relu", "sizes": [3, 2.5, 1]}, "sizes"),  # was 2
        ({"arch": "conv", "sizes": [4, 1], "kernel": 2.7}, "kernel"),  # was 2
        ({"arch": "linear", "sizes": [3, 1], "friction": "abc"}, "friction"),
    ],
    ids=["bias-string", "size-2.5", "kernel-2.7", "friction-abc"],
)
def test_sweep_parameters_are_typed(parameters, argument):
    from noetherlab.distributed import SweepSpec

    spec = SweepSpec.from_dict(
        {"computation": "laws", "parameters": parameters, "grid": {"seed": [0]}}
    )
    _raises(InvalidArgumentError, argument, spec.check)


def test_sweep_specs_and_stores_are_read_with_clear_errors(tmp_path):
    from noetherlab.distributed import SweepSpec

    _raises(InvalidArgumentError, "spec", lambda: nl.sweep({"grid": {"T": [1.0]}}, tmp_path / "s"))
    _raises(
        InvalidArgumentError, "spec",
        lambda: SweepSpec.from_dict({"computation": "path", "grid": {"T": [1.0]}, "bogus": 1}),
    )  # fmt: skip
    # energy and n as grid axes (they used to clash with outputs of the same name)
    spec = {
        "computation": "path",
        "parameters": {"model": "ou", "x0": [-1.0, 1.0], "x1": [1.0, 1.0]},
        "grid": {"energy": [0.5, 1.0], "n": [20, 40]},
    }
    res = nl.sweep(spec, tmp_path / "s.zarr", workers=0)
    assert res.done == 4 and np.allclose(res.dataset["path_energy"].values, [[0.5, 0.5], [1, 1]])
    # a truncated chunk in the store: our error, naming the store
    chunk = next(p for p in (tmp_path / "s.zarr" / "status").iterdir() if p.name[0].isdigit())
    chunk.write_bytes(chunk.read_bytes()[:3])
    with pytest.raises(NoetherlabError, match="sweep store"):
        nl.sweep(spec, tmp_path / "s.zarr", workers=0)
    big = SweepSpec.from_dict(
        {
            "computation": "path",
            "parameters": {"model": "ou", "x0": [-1.0, 1.0], "x1": [1.0, 1.0]},
            "grid": {"T": list(np.linspace(0.1, 3.0, 300)), "n": list(range(10, 310))},
        }
    )
    start = time.perf_counter()
    big.check()  # 90 000 points: one model built (measured 2.4 s, was > 120 s)
    assert time.perf_counter() - start < 30
    code = runner.invoke(app, ["sweep", "--help"], env={"COLUMNS": "200"}).output
    assert "[parameters]" in code and "[grid]" in code


# ------------------------------------------------------------------ loaders
@pytest.mark.parametrize(
    "loader",
    ["load_path", "load_ensemble", "load_rnn", "load_law_count", "load_ensemble_statistics"],
)
def test_loaders_refuse_missing_empty_and_foreign_files(loader, tmp_path):
    load = getattr(nl, loader)
    (tmp_path / "empty.nc").write_bytes(b"")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "half.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 50)
    (tmp_path / "kind.json").write_text(json.dumps({"kind": "LawCount"}))
    (tmp_path / "broken.json").write_text('{"kind": ')
    (tmp_path / "adir.nc").mkdir()
    for name in ("missing.nc", "empty.nc", "list.json", "half.nc", "kind.json", "broken.json"):
        with pytest.raises(NoetherlabError):
            load(tmp_path / name)
    with pytest.raises(NoetherlabError):
        load(tmp_path / "adir.nc")
    with pytest.raises(NoetherlabError):
        load(42)


# ------------------------------------------------------------------ others: raw tracebacks
def test_shooting_paths_have_no_grid_study_and_run_from_the_cli():
    res = nl.most_likely_path(OU, [-2.0, 2.0], [2.0, 2.0], T=1.0, method="shooting")
    assert res.converged and res.resolution is None
    out = runner.invoke(app, ["path", "ou", "--x0", "-2,2", "--x1", "2,2", "--T", "1",
                              "--method", "shooting", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    with pytest.warns(UnderResolvedWarning, match="too few"):
        nl.most_likely_path(OU, [-2.0, 2.0], [2.0, 2.0], T=1.0, n=3)


def test_basins_quasi_potential_and_fixed_points_validate_their_geometry():
    A = [[-1.0, 0.0], [1.0, 0.0]]
    _raises(
        ShapeError,
        "plane",
        lambda: nl.basins(DW2, A, (-2, 2), plane=([0, 0, 0], [1, 0, 0], [0, 1, 0])),
    )
    _raises(ShapeError, "plane", lambda: nl.basins(DW2, A, (-2, 2), plane=([0, 0], [1, 0])))
    _raises(ResourceLimitError, "cells", lambda: nl.basins(DW2, A, (-2, 2), cells=40000))
    for x in ([0.5, 0.5], [0.0, 0.0]):  # not a fixed point; a saddle
        _raises(InvalidArgumentError, "attractor", lambda x=x: nl.quasi_potential(DW2, x, (-2, 2)))
    flat = nl.SDE(lambda z: jnp.stack([-(z[0] ** 3), -z[1]]), diffusion=0.1, dim=2)
    _raises(
        InvalidArgumentError, "attractor", lambda: nl.quasi_potential(flat, [0.0, 0.0], (-1, 1))
    )
    _raises(
        ResourceLimitError, "rays", lambda: nl.quasi_potential(DW2, [1.0, 0.0], (-2, 2), rays=10**7)
    )
    _raises(ResourceLimitError, "starts", lambda: nl.find_fixed_points(DW2, (-2, 2), starts=10**9))
    _raises(InvalidArgumentError, "key", lambda: nl.find_fixed_points(DW2, (-2, 2), key=-1))
    kinked = nl.SDE(lambda x: -x * (1.0 + 0.0 * jnp.sqrt(jnp.abs(x))), diffusion=1.0, dim=1)
    _raises(NonFiniteError, "Jacobian", lambda: nl.find_fixed_points(kinked, (-1.0, 1.0)))


def test_cli_landscape_arguments_are_ours():
    for args, argument in (
        (["landscape", "ou", "--seed", "-1"], "--key"),
        (["landscape", "maier-stein", "-p", "beta=abc"], "--param"),
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and f"argument `{argument}`" in res.output, res.output
        assert "Traceback" not in res.output


# ------------------------------------------------------------------ the false "not converged"
def test_maier_stein_long_transit_converges_with_its_flat_direction_reported():
    sde = models.maier_stein(beta=10.0, mu=1.0, D=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnderResolvedWarning)
        res = nl.most_likely_path(sde, [-1.0, 0.0], [0.0, 0.0], T=20.0, n=2000, resolution=QUICK)
    # action 0.34004332 (the independent reference agrees to 2e-8); EL residual 3.1e-8
    assert res.converged and res.action == pytest.approx(0.34004332, abs=1e-7)
    assert res.el_residual <= res.el_tol and res.stats["flat_direction"] is True
    assert "flat direction" in res.message


def test_run_directories_left_by_a_killed_run_are_cleaned_by_the_next(tmp_path):
    out = tmp_path / "R"
    stale = tmp_path / ".R.new-abc"
    stale.mkdir()
    (stale / "half.png").write_text("x")
    with nl.io.run_directory(out) as fresh:
        (fresh / "report.md").write_text("new")
    assert not stale.exists() and (out / "report.md").read_text() == "new"
