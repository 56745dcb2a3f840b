r"""Mean transition times at the model's own noise: AMS and the loop decomposition.

The mean first-passage time from ``A`` to ``B`` is split at a surface ``Σ = {ξ̃ = z_Σ}`` around
``A`` (Cérou, Guyader, Lelièvre & Pommier 2011). A trajectory started in ``A`` makes loops
``A → Σ → A`` until, from a hitting point of ``Σ``, it reaches ``B`` before ``A`` — which happens
with probability ``p`` per loop. With ``T_1`` the time from ``A`` to ``Σ``, ``T_loop`` the duration
of a failed loop ``A → Σ → A`` and ``T_r`` the time from ``Σ`` to ``B`` of a successful one,

.. math:: τ_{AB} = \Bigl(\frac1p - 1\Bigr)\,E[T_{loop}] + E[T_1] + E[T_r].

:func:`sampled_exit_time` measures ``E[T_loop]``, ``E[T_1]`` and the entrance distribution on
``Σ`` by direct simulation (loops are short), then ``p`` by :func:`~noetherlab.ensembles.splitting.ams`
started from the sampled hitting points, and ``E[T_r]`` as the weighted mean duration of its
reactive trajectories. The 95 % interval propagates the standard errors of the four pieces
(delta method; ``p``'s dominates when ``p`` is small).

Where the transition is not rare at the model's noise (one in twenty or more of the free chains
from ``A`` reach ``B`` within :data:`LOOP_BLOCK` steps, so ``τ`` is at most about
``20 · LOOP_BLOCK`` steps), splitting has nothing rare to split and direct simulation is cheaper
and unbiased: ``method="auto"`` then times first passages ``A → B`` directly, each chain
restarted at ``A``'s reference state on entering ``B`` (independent passages by the strong Markov
property), with the mean and its standard error over the passages.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.resources import check_memory
from noetherlab._core.status import SplittingStatus
from noetherlab._core.validation import choice, finite_float, positive_float, positive_int
from noetherlab.ensembles.boundaries import Boundary
from noetherlab.ensembles.reaction import ReactionCoordinate, Region, region
from noetherlab.ensembles.simulation import em_increment, noise_dimension
from noetherlab.ensembles.splitting import (
    SplittingResult,
    ams,
    as_key,
    check_sets,
    check_step,
    default_score,
    normalisation,
)
from noetherlab.sde.model import SDE, require_sde

__all__ = ["SampledExitTime", "sampled_exit_time"]

Array = jax.Array

#: steps of one block of the loop simulation (its counters are read between blocks)
LOOP_BLOCK = 2000
#: ``method="auto"`` simulates directly where this fraction of free chains reach B in a block
DIRECT_FRACTION = 0.05


@dataclass(frozen=True)
class SampledExitTime:
    """Result of :func:`sampled_exit_time`.

    Attributes:
        mean_exit_time: ``τ_AB`` (``None`` unless ``status`` is ``estimated``).
        std_error, interval: its standard error and 95 % interval.
        probability: ``p``, from the AMS run :attr:`splitting`.
        loop_time, time_to_surface, reactive_time: ``E[T_loop]``, ``E[T_1]``, ``E[T_r]``.
        loops: number of failed loops measured; ``surface``: the normalised level ``z_Σ``.
        method: ``"splitting"`` (the loop decomposition with AMS) or ``"direct"`` (first passages
            simulated directly; then ``splitting`` is ``None``, ``probability`` is ``None``, the
            loop times are NaN and ``passage_times`` holds the passages).
    """

    status: SplittingStatus
    message: str
    mean_exit_time: float | None
    std_error: float | None
    interval: tuple[float, float] | None
    probability: float | None
    loop_time: float
    time_to_surface: float
    reactive_time: float
    loops: int
    surface: float
    splitting: SplittingResult | None = field(repr=False)
    stats: dict[str, Any] = field(default_factory=dict)
    method: str = "splitting"
    passage_times: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status is SplittingStatus.estimated

    @property
    def rate(self) -> float | None:
        return None if self.mean_exit_time is None else 1.0 / self.mean_exit_time

    def save(self, path: Any, parameters: dict[str, Any] | None = None) -> Any:
        """Write the result atomically as netCDF (version and parameters in its attributes): the
        splitting run's dataset, or the directly simulated passage times, with the exit time."""
        import xarray as xr

        from noetherlab._core.io import save_dataset

        if self.splitting is not None:
            ds, own = self.splitting.to_dataset(), dict(self.splitting.parameters)
        else:
            times = np.asarray(self.passage_times if self.passage_times is not None else [])
            ds, own = xr.Dataset({"passage_time": (("passage",), times)}), {}
        nan = math.nan
        lo, hi = self.interval or (nan, nan)
        ds.attrs.update(
            kind="SampledExitTime", exit_time_method=self.method, exit_time_status=self.status.name,
            exit_time_message=self.message, surface=self.surface, interval_low=lo, interval_high=hi,
            mean_exit_time=nan if self.mean_exit_time is None else self.mean_exit_time,
        )  # fmt: skip
        return save_dataset(path, ds, {**own, **(parameters or {})})

    def summary(self) -> str:
        if self.mean_exit_time is None:
            return f"no mean exit time ({self.status.name}): {self.message}"
        lo, hi = self.interval or (math.nan, math.nan)
        if self.method == "direct":
            n = 0 if self.passage_times is None else self.passage_times.size
            return (
                f"τ = {self.mean_exit_time:.4g} (95 % interval [{lo:.4g}, {hi:.4g}]) from {n} "
                "first passages A → B simulated directly (the transition is not rare at this noise)"
            )
        return (
            f"τ = {self.mean_exit_time:.4g} (95 % interval [{lo:.4g}, {hi:.4g}]); p = "
            f"{self.probability:.3g} per loop, E[T_loop] = {self.loop_time:.3g} over {self.loops} "
            f"loops, E[T_1] = {self.time_to_surface:.3g}, E[T_r] = {self.reactive_time:.3g}"
        )


class _Loops(eqx.Module):
    sde: SDE
    A: Boundary
    B: Boundary
    score: ReactionCoordinate
    lo: Array
    hi: Array
    surface: Array
    dt: Array
    center: Array


@eqx.filter_jit
def _loop_block(
    problem: _Loops, carry: Any, key: Array, steps: int, capacity: int, per_chain: Array
) -> Any:
    """``steps`` EM steps of the chains, counting loops and storing hitting points of ``Σ``; a
    chain stops when it has completed ``per_chain`` failed loops (a stopping rule on the count,
    not on the time: a time window would drop the loop in progress at its end and bias the
    mean loop time low — the inspection paradox).

    ``carry``: ``x (c, N)``, ``phase (c,)`` (0: since the last entry into A; 1: after Σ),
    ``since (c,)`` steps since the last entry into A, ``warm (c,)`` (a first entry into A
    happened), sums of failed-loop steps and of A→Σ steps with their counts, direct B hits,
    the hitting points ``(c, H, N)`` and their count."""
    increment = em_increment(problem.sde, problem.dt)
    M = noise_dimension(problem.sde)

    def xi(x: Array) -> Array:
        return (problem.score(x) - problem.lo) / (problem.hi - problem.lo)

    def one(c: Any, i: Array) -> Any:
        x, phase, since, warm, loop_sum, loops, t1_sum, t1n, b_hits, hits, nh = c
        noise = jax.random.normal(jax.random.fold_in(key, i), (x.shape[0], M), x.dtype)
        go = loops < per_chain
        x = jnp.where(go[:, None], increment(x, jnp.zeros(()), noise), x)
        since = since + go
        inA = jax.vmap(lambda y: problem.A.check(y)[0] > 0)(x)
        inB = jax.vmap(lambda y: problem.B.check(y)[0] > 0)(x)
        cross = go & (phase == 0) & (jax.vmap(xi)(x) >= problem.surface) & ~inA
        rows = jnp.arange(x.shape[0])
        store = cross & warm & (nh < capacity)
        hits = hits.at[rows, jnp.where(store, nh, capacity)].set(x)
        nh = nh + store
        t1_sum = t1_sum + jnp.where(cross & warm, since, 0)
        t1n = t1n + (cross & warm)
        back = go & (phase == 1) & inA
        loop_sum = loop_sum + jnp.where(back & warm, since, 0)
        loops = loops + (back & warm)
        reached = go & (phase == 1) & inB
        b_hits = b_hits + (reached & warm)
        # an entry into A (after Σ) or into B (then restarted at A) starts the next loop
        restart = back | reached
        x = jnp.where(reached[:, None], problem.center, x)
        phase = jnp.where(cross, 1, jnp.where(restart, 0, phase))
        since = jnp.where(restart, 0, since)
        warm = warm | back
        return (x, phase, since, warm, loop_sum, loops, t1_sum, t1n, b_hits, hits, nh), None

    carry, _ = jax.lax.scan(one, carry, jnp.arange(steps))
    return carry


@eqx.filter_jit
def _free_chains(problem: _Loops, x: Array, key: Array) -> tuple[Array, tuple[Array, Array]]:
    """:data:`LOOP_BLOCK` free EM steps of the chains ``x``: final states, and every step's
    scores and whether the chain is in ``B`` then."""
    increment = em_increment(problem.sde, problem.dt)
    M = noise_dimension(problem.sde)

    def one(x: Array, i: Array) -> tuple[Array, tuple[Array, Array]]:
        noise = jax.random.normal(jax.random.fold_in(key, i), (x.shape[0], M), x.dtype)
        y = increment(x, jnp.zeros(()), noise)
        in_b = jax.vmap(lambda z: problem.B.check(z)[0] > 0)(y)
        return y, (jax.vmap(problem.score)(y), in_b)

    return jax.lax.scan(one, x, jnp.arange(LOOP_BLOCK))


def _surface_level(
    problem: _Loops, A: Region, levels: int, key: Array, chains: int
) -> tuple[float, float]:
    """Default ``z_Σ``: the 0.95 quantile of ``ξ̃`` of free chains from ``A``'s reference state
    (after a burn-in, and before each chain first enters ``B``), raised above ``A`` where ``A`` is a
    ball. Also returns the fraction of the chains that reached ``B``."""
    x0 = jnp.broadcast_to(jnp.asarray(A.center), (chains, A.center.size))
    _, (scores, in_b) = _free_chains(problem, x0, key)
    s = (np.asarray(scores) - float(problem.lo)) / float(problem.hi - problem.lo)
    # a chain that reaches B (a low barrier) no longer samples the neighbourhood of A
    reached = np.cumsum(np.asarray(in_b), axis=0) > 0
    fraction = float(reached[-1].mean())
    near_a = s[LOOP_BLOCK // 2 :][~reached[LOOP_BLOCK // 2 :]]
    if near_a.size < 0.1 * s[LOOP_BLOCK // 2 :].size:
        return math.nan, fraction
    z = float(np.quantile(near_a, 0.95))
    params = A.boundary.params
    if A.boundary.labels == ("ball",):  # a ball: Σ must lie outside it
        c, r = np.asarray(params[0]), float(params[1])
        rng = np.random.default_rng(0)
        d = rng.normal(size=(256, c.size))
        rim = c + r * d / np.linalg.norm(d, axis=1, keepdims=True)
        rim_s = np.asarray(jax.vmap(lambda z: problem.score(z))(jnp.asarray(rim)))
        z = max(z, float((rim_s.max() - float(problem.lo)) / float(problem.hi - problem.lo)))
        z += 2.0 / levels
    return z, fraction


def _burn_in(problem: _Loops, carry: Any, key: Array, steps: int, capacity: int) -> tuple[Any, int]:
    """``steps`` (rounded up to blocks) free steps of the loop chains, then their counters reset
    with every chain ``warm``: the states and phases are kept, so the window that follows starts
    from the chains' stationary law (for a ``B`` entered meanwhile, restarted at ``A``)."""
    done = 0
    free = jnp.asarray(2**62, jnp.int64)
    while done < steps:
        carry = _loop_block(
            problem, carry, jax.random.fold_in(key, done), LOOP_BLOCK, capacity, free
        )
        done += LOOP_BLOCK
    x, phase, since, warm, *_, hits, nh = carry
    zero = jnp.zeros_like(carry[4])
    return (x, phase, since, jnp.ones_like(warm), zero, zero, zero, zero, zero, hits,
            jnp.zeros_like(nh)), done  # fmt: skip


def _stationary_starts(
    hits: np.ndarray, stored: np.ndarray, crossings: np.ndarray, need: int, key: Array
) -> np.ndarray:
    """``need`` hitting points of ``Σ`` from a stationary window: chain ``i`` stored
    ``stored[i]`` of its ``crossings[i]``, so each stored point stands for
    ``crossings[i]/stored[i]`` crossings and is drawn with that weight."""
    rows = np.concatenate([np.full(int(k), i) for i, k in enumerate(stored)])
    points = np.concatenate([hits[i, : int(k)] for i, k in enumerate(stored)])
    w = (crossings / np.maximum(stored, 1))[rows].astype(float)
    pick = jax.random.choice(jax.random.fold_in(key, 2**31 - 1), rows.size, (need,),
                             replace=rows.size < need, p=jnp.asarray(w / w.sum()))  # fmt: skip
    return points[np.asarray(pick)]


@eqx.filter_jit
def _passage_block(problem: _Loops, carry: Any, key: Array, steps: int, per_chain: int) -> Any:
    """``steps`` EM steps of chains timing first passages into ``B``; a chain restarts at ``A``'s
    reference state on entering ``B`` and stops after ``per_chain`` passages (a count rule, so no
    passage in progress is dropped). ``carry``: ``x (c, N)``, steps since the start ``(c,)``,
    passages ``(c,)``, their durations in steps ``(c, per_chain)``."""
    increment = em_increment(problem.sde, problem.dt)
    M = noise_dimension(problem.sde)

    def one(c: Any, i: Array) -> Any:
        x, since, done, times = c
        noise = jax.random.normal(jax.random.fold_in(key, i), (x.shape[0], M), x.dtype)
        go = done < per_chain
        x = jnp.where(go[:, None], increment(x, jnp.zeros(()), noise), x)
        since = since + go
        hit = go & jax.vmap(lambda y: problem.B.check(y)[0] > 0)(x)
        rows = jnp.arange(x.shape[0])
        times = times.at[rows, jnp.where(hit, done, per_chain)].set(since, mode="drop")
        done = done + hit
        x = jnp.where(hit[:, None], problem.center, x)
        since = jnp.where(hit, 0, since)
        return (x, since, done, times), None

    carry, _ = jax.lax.scan(one, carry, jnp.arange(steps))
    return carry


def _direct_exit_time(
    problem: _Loops,
    chains: int,
    passages: int,
    max_steps: int,
    key: Array,
    why: str,
    clock: float,
    extend: bool = False,
) -> SampledExitTime:
    """The mean first-passage time ``A → B`` from ``passages`` (at least) simulated passages.

    ``extend``: at ``max_steps``, raise the cap to 30 times the steps the chains' passages take
    at the mean of those completed so far (a low estimate) when that is larger — the free
    chains' estimate behind the first cap reads only the fast routes of a transition with
    several (three-attractor network: 1 → 0 direct, or by way of 3 and 2)."""
    per_chain = math.ceil(passages / chains)
    N = problem.center.size
    carry = (
        jnp.broadcast_to(problem.center, (chains, N)),
        jnp.zeros(chains, jnp.int64), jnp.zeros(chains, jnp.int64),
        jnp.zeros((chains, per_chain), jnp.int64),
    )  # fmt: skip
    steps = 0
    while True:
        carry = _passage_block(
            problem, carry, jax.random.fold_in(key, steps), LOOP_BLOCK, per_chain
        )
        steps += LOOP_BLOCK
        if bool(jnp.all(carry[2] >= per_chain)):
            break
        if steps >= max_steps:
            done_now = np.asarray(carry[2])
            finished = np.asarray(carry[3])[np.arange(per_chain)[None, :] < done_now[:, None]]
            longer = math.ceil(30 * per_chain * finished.mean()) if finished.size else 0
            if not (extend and longer > max_steps):
                break
            max_steps = longer
    dt = float(problem.dt)
    done = np.asarray(carry[2])
    stats = {"method": "direct", "steps": steps, "chains": chains, "passages": int(done.sum()),
             "seconds": time.perf_counter() - clock}  # fmt: skip
    nan = math.nan
    if np.any(done < per_chain):
        message = (
            f"direct simulation ({why}): {int((done < per_chain).sum())} of {chains} chains had not "
            f"completed their {per_chain} passages A → B within {steps} steps (max_loop_steps); "
            "a mean over the completed ones would be biased low"
        )
        return SampledExitTime(SplittingStatus.max_iterations, message, None, None, None, None,
                               nan, nan, nan, 0, nan, None, stats, "direct")  # fmt: skip
    times = np.asarray(carry[3], dtype=float).ravel() * dt
    tau = float(times.mean())
    se = float(times.std(ddof=1) / math.sqrt(times.size))
    interval = (max(tau - 1.96 * se, 0.0), tau + 1.96 * se)
    message = (
        f"τ = {tau:.4g} ± {1.96 * se:.2g} (95 %) from {times.size} first passages A → B simulated "
        f"directly ({why})"
    )
    return SampledExitTime(SplittingStatus.estimated, message, tau, se, interval, None, nan, nan,
                           nan, 0, nan, None, stats, "direct", times)  # fmt: skip


def sampled_exit_time(
    sde: SDE,
    A: Any,
    B: Any,
    *,
    score: Any = None,
    radius: float | None = None,
    surface: float | None = None,
    replicas: int = 100,
    kill: int | None = None,
    repetitions: int = 8,
    levels: int = 200,
    dt: float = 1e-3,
    loops: int = 2000,
    chains: int = 256,
    horizon: float | None = None,
    max_loop_steps: int | None = None,
    burn_in: float | None = None,
    key: Any = 0,
    progress: bool = False,
    method: str = "auto",
) -> SampledExitTime:
    """The mean transition time ``A → B`` at the model's noise (the loop decomposition).

    Args:
        sde: a time-independent model.
        A, B: states (balls of ``radius``) or Boundaries positive inside; ``A`` is where the
            trajectories start (its reference state).
        score: reaction coordinate (default: the chord ``A → B``), see :func:`ams`.
        surface: the normalised level ``z_Σ`` of the surface ``Σ`` (default: the 0.95 quantile of
            the score near ``A``, and outside ``A``).
        loops: the least number of failed loops to measure ``E[T_loop]`` on (also at least
            ``replicas × repetitions`` hitting points are collected).
        chains: parallel chains of the loop simulation; ``max_loop_steps`` caps its steps
            (default 10⁶; for a direct simulation chosen by ``"auto"``, 30 times the expected
            steps of a chain's passages, estimated from the free chains, and at least 10⁶, then
            raised to 30 times those of the passages completed by then where that is more; for
            ``method="direct"``, 10⁷).
        burn_in: time of free simulation before the loops are counted (default none). Give
            one when ``A`` is a union of several attractors' sets (a cluster that mixes by
            itself, e.g. :func:`~noetherlab.ensembles.boundaries.balls`): chains started at
            ``A``'s reference state only sample the loops near it, and the loops of the other
            members can be shorter and more successful (three-attractor network, 3 → 1: 0.48 the loop
            time and 2.7× the ``p``). After a burn-in of several mixing times of the cluster, the
            chains are stationary: the mean cycle time ``C`` (a failed loop, or a success restarted
            at ``A``) is then the window's chain time over the cycles completed in it (the rate
            of a stationary point process, no inspection paradox), ``E[T_loop] = (C − p(E[T_1] +
            E[T_r]))/(1 − p)`` so that ``τ = C/p``,
            and the hitting points are drawn with weights so that each crossing of ``Σ`` in the
            window counts once.
        replicas, kill, repetitions, levels, dt, horizon, key, progress: as :func:`ams`.
        method: ``"splitting"`` (the loop decomposition), ``"direct"`` (``loops`` first passages
            simulated directly, ``chains`` at a time, at most ``max_loop_steps`` steps), or
            ``"auto"``: direct where one in twenty or more of the free chains that set the default
            surface reach ``B`` within :data:`LOOP_BLOCK` steps (not rare), else splitting.
    """
    sde = require_sde(sde)
    if sde.time_dependent:
        raise InvalidArgumentError(
            "sde", "has a time-dependent drift or noise: a mean exit time needs a stationary "
            "model", "use tams for the probability of a transition within a time window",
        )  # fmt: skip
    Ar = region(A, "A", sde.dim, radius)
    Br = region(B, "B", sde.dim, radius)
    check_sets(Ar, Br, Ar.center[None, :], "TAMS")
    xi = default_score(score, Ar, Br)
    lo, hi = normalisation(xi, Ar.center, Br, Ar)
    dt = positive_float(dt, "dt", "time step")
    check_step(sde, Br, dt)
    n_loops = positive_int(loops, "loops", 10)
    chains = positive_int(chains, "chains")
    n, R = positive_int(replicas, "replicas"), positive_int(repetitions, "repetitions")
    cap = None if max_loop_steps is None else positive_int(max_loop_steps, "max_loop_steps")
    burn = 0 if burn_in is None else math.ceil(positive_float(burn_in, "burn_in", "time") / dt)
    method = choice(method, "method", ("auto", "splitting", "direct"))
    check_memory(
        8.0 * chains * sde.dim * (n * R / chains + 8) + 8.0 * n * R * sde.dim,
        "chains",
        f"{chains} chains collecting {n * R} hitting points",
        "pass fewer chains, replicas or repetitions",
    )
    base = as_key(key)
    k_surface, k_loops, k_ams = jax.random.split(base, 3)
    clock = time.perf_counter()
    problem = _Loops(sde, Ar.boundary, Br.boundary, xi, jnp.asarray(lo), jnp.asarray(hi),
                     jnp.asarray(0.0), jnp.asarray(dt), jnp.asarray(Ar.center))  # fmt: skip
    if method == "direct":
        return _direct_exit_time(problem, chains, n_loops, cap or 10_000_000, k_loops,
                                 "as asked", clock)  # fmt: skip
    if surface is None:
        z, reached = _surface_level(problem, Ar, positive_int(levels, "levels", 10), k_surface,
                                    chains)  # fmt: skip
        seen = f"{reached:.0%} of {chains} free chains from A reached B within {LOOP_BLOCK} steps"
        if method == "auto" and reached >= DIRECT_FRACTION:
            why = f"{seen}: the transition is not rare at this noise"
            # passages are about exponential with mean −LOOP_BLOCK/ln(1 − reached) steps
            mean = LOOP_BLOCK / max(-math.log1p(-min(reached, 0.999)), 1e-12)
            auto = max(1_000_000, math.ceil(30 * math.ceil(n_loops / chains) * mean))
            return _direct_exit_time(problem, chains, n_loops, cap or auto, k_loops, why, clock,
                                     extend=cap is None)  # fmt: skip
        if math.isnan(z):
            raise InvalidArgumentError(
                "surface",
                f"{seen}: the transition is not rare at this noise, so no surface near A can be "
                "read off them",
                "pass surface= (a normalised level between A and B, e.g. 0.1), or method='direct'",
            )
    else:
        z = finite_float(surface, "surface", "normalised level")
    if not 0.0 < z < 1.0:
        raise InvalidArgumentError(
            "surface",
            f"the surface level z = {z:.3g} must lie strictly between A (0) and B (1)",
            "pass surface=0.1 or so, or smaller sets",
        )
    problem = eqx.tree_at(lambda p: p.surface, problem, jnp.asarray(z))
    need = max(n * R, 1)
    capacity = math.ceil(need / chains) + 1 if burn == 0 else 4 * math.ceil(need / chains) + 8
    c = chains
    N = sde.dim
    carry = (
        jnp.broadcast_to(jnp.asarray(Ar.center), (c, N)),
        jnp.zeros(c, jnp.int32), jnp.zeros(c, jnp.int64), jnp.zeros(c, bool),
        jnp.zeros(c, jnp.int64), jnp.zeros(c, jnp.int64), jnp.zeros(c, jnp.int64),
        jnp.zeros(c, jnp.int64), jnp.zeros(c, jnp.int64),
        jnp.zeros((c, capacity + 1, N)), jnp.zeros(c, jnp.int32),
    )  # fmt: skip
    per_chain = jnp.asarray(max(math.ceil(n_loops / c), capacity), jnp.int64)
    steps = 0
    if burn:  # free chains (their loops not counted), then a window on the stationary chains
        carry, steps = _burn_in(problem, carry, k_loops, burn, capacity)
    window = 0
    while True:
        carry = _loop_block(
            problem, carry, jax.random.fold_in(k_loops, steps + window), LOOP_BLOCK, capacity,
            jnp.asarray(2**62 if burn else per_chain, jnp.int64),
        )  # fmt: skip
        window += LOOP_BLOCK
        n_hits = int(jnp.sum(carry[10 if not burn else 7]))
        done = (
            bool(jnp.all(carry[5] >= per_chain))
            if not burn
            else int(jnp.sum(carry[5])) >= n_loops and n_hits >= need
        )
        if done or window >= (cap or 1_000_000):
            break
    loop_steps = np.asarray(carry[4]).sum()
    loop_n = int(np.asarray(carry[5]).sum())
    t1_n = int(np.asarray(carry[7]).sum())
    b_direct = int(np.asarray(carry[8]).sum())
    if loop_n < 10 or n_hits < need:
        raise InvalidArgumentError(
            "surface",
            f"in {window} steps of {c} chains only {loop_n} loops A → Σ → A and {n_hits} hitting "
            f"points of Σ (level {z:.3g}) were seen, of {n_loops} and {need} needed",
            "lower the surface level, enlarge A, or raise max_loop_steps",
        )
    hits = np.asarray(carry[9])
    counts = np.asarray(carry[10])
    if burn:
        starts = _stationary_starts(hits, counts, np.asarray(carry[7]), need, k_loops)
        # a stationary window: the cycles (failed loops, and successes restarted at A) per
        # unit of chain time give the mean cycle time C = (1 − p)·E[T_loop] + p·(E[T_1] + E[T_r])
        per_count = np.asarray(carry[5], dtype=float) + np.asarray(carry[8], dtype=float)
        cycle = window * c * dt / per_count.sum()
        cycle_se = float(cycle * np.std(per_count, ddof=1) / (per_count.mean() * math.sqrt(c)))
        loop_time, loop_se = cycle, cycle_se  # until p is known
    else:
        starts = np.concatenate([hits[i, : counts[i]] for i in range(c)])[:need]
        # the mean loop time and its standard error (loops are independent by the strong Markov
        # property; the per-chain means give the spread)
        per_chain = np.asarray(carry[4]) / np.maximum(np.asarray(carry[5]), 1) * dt
        loop_time = loop_steps * dt / loop_n
        loop_se = float(np.std(per_chain[np.asarray(carry[5]) > 0], ddof=1) / math.sqrt(c))
    t1 = float(np.asarray(carry[6]).sum() * dt / max(t1_n, 1))
    run = ams(sde, starts, Ar, Br, score=xi, replicas=n, kill=kill, repetitions=R,
              levels=levels, dt=dt, horizon=horizon, key=k_ams, progress=progress)  # fmt: skip
    stats = {"loop_steps": window, "burn_in_steps": steps, "chains": c, "direct_transitions": b_direct,
             "seconds": time.perf_counter() - clock, "hitting_points": int(starts.shape[0])}  # fmt: skip
    tr = run.reactive.mean_duration()
    if not run.ok or run.probability is None or run.probability <= 0:
        return SampledExitTime(run.status, run.message, None, None, None, run.probability,
                               loop_time, t1, tr, loop_n, z, run, stats)  # fmt: skip
    p = run.probability
    se_p = run.std_error if run.std_error is not None else run.single_run_std_error or 0.0
    durations = run.reactive.durations
    w = run.reactive.weights / run.reactive.weights.sum()
    se_tr = float(np.sqrt(np.sum(w**2 * (durations - tr) ** 2)))
    if burn:  # E[T_loop] from the mean cycle: then τ = C/p
        loop_time = max((cycle - p * (t1 + tr)) / (1.0 - p), 0.0) if p < 1 else 0.0
        loop_se = cycle_se / max(1.0 - p, 1e-12)
    tau = (1.0 / p - 1.0) * loop_time + t1 + tr
    se = math.sqrt((loop_time * se_p / p**2) ** 2 + ((1 / p - 1) * loop_se) ** 2 + se_tr**2)
    interval = (max(tau - 1.96 * se, 0.0), tau + 1.96 * se)
    message = (
        f"τ = {tau:.4g} ± {1.96 * se:.2g} (95 %) = (1/p − 1)·E[T_loop] + E[T_1] + E[T_r] with "
        f"p = {p:.3g} (relative error {se_p / p:.2g}), E[T_loop] = {loop_time:.3g}"
    )
    return SampledExitTime(SplittingStatus.estimated, message, tau, se, interval, p, loop_time,
                           t1, tr, loop_n, z, run, stats)  # fmt: skip
