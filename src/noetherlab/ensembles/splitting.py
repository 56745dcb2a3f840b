r"""Rare-event probabilities at the model's own noise: adaptive multilevel splitting.

* :func:`ams` — **AMS** (Cérou & Guyader 2007): ``p = P(reach B before A)`` from start states
  outside ``A`` (typically on a surface ``Σ`` close to ``A``);
* :func:`tams` — **TAMS** (Lestang, Ragone, Bréhier, Herbert & Bouchet 2018):
  ``p = P(reach B before time T)``.

Both run ``n`` replicas of Euler–Maruyama (the scheme of :func:`~noetherlab.ensembles.simulate`),
score each by the largest value of a reaction coordinate ``ξ`` it reached (normalised:
``ξ̃ = 0`` at ``A``, 1 at ``B``, quantised to ``levels`` values; ``B`` scores highest), and
iterate: the level ``z_j`` is the ``k``-th smallest score; all ``K_j ≥ k`` replicas at or below
it are killed (ties included — killing only ``k`` of them biases the estimate) and replaced by
copies of uniformly chosen survivors, cut at the first time the survivor exceeded ``z_j`` and
continued with fresh noise. The run stops when the ``k``-th smallest score is in ``B``. The
estimator

.. math:: \hat p = \prod_j \Bigl(1 - \frac{K_j}{n}\Bigr)\; \frac{\#\{\text{replicas in } B\}}{n}

is unbiased for any ``n``, ``k`` and score (Bréhier, Gazeau, Goudenège, Lelièvre & Rousset 2016,
whose framework covers discrete scores and ties). ``R`` independent repetitions run as one batch;
the error bar is the spread of their estimates (Student ``t``, 95 %); each run also carries the
genealogical single-run variance estimate (Chan & Lai 2013, as used for AMS by Cérou, Delyon,
Guyader & Rousset 2019),

.. math:: \hat V = \sum_{a} \Bigl[\frac{\hat P}{n} \sum_{i \text{ from } a}
          \mathbb 1_B(i) - \frac{\hat p}{n}\Bigr]^2,

``a`` running over the ``n`` initial replicas, ``\hat P = \prod_j(1 - K_j/n)`` (without branching
this is the sample variance over ``n``). It measures how unevenly the final replicas descend from
the initial ones (``stats['ancestors']`` counts the lines that survive) and is an estimate, not a
bound: it is checked against the spread of repetitions in the tests.

If every replica of a repetition is at or below the level the run is **extinct**: no estimate is
given (never a zero with a tiny error bar). The final replicas in ``B`` are weighted reactive
trajectories (:attr:`SplittingResult.reactive`; weights sum to ``\hat p``).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError, UnderResolvedWarning
from noetherlab._core.resources import check_memory
from noetherlab._core.status import SplittingStatus
from noetherlab._core.validation import as_float_array, finite_float, positive_float, positive_int
from noetherlab.ensembles import _ams_engine as engine
from noetherlab.ensembles.reaction import ReactionCoordinate, Region, coordinate, region
from noetherlab.ensembles.splitting_result import ReactiveTrajectories, SplittingResult
from noetherlab.sde.model import SDE, require_sde

__all__ = ["MIN_REPLICAS", "ReactiveTrajectories", "SplittingResult", "ams", "tams"]

#: fewest replicas per repetition (fewer make the levels meaningless and the variance explode)
MIN_REPLICAS = 10

#: most Euler–Maruyama steps one replica may take (step counters are int32)
MAX_STEPS = 2**31 - 2

#: memory the stored paths of one run may take by default (bytes)
PATH_MEMORY = 256 * 2**20


# ----------------------------------------------------------------------------- validation
def _start_states(sde: SDE, x0: Any, rows: int) -> np.ndarray:
    arr = as_float_array(x0, "x0")
    if arr.ndim == 0 or (arr.ndim == 1 and sde.dim == 1):
        arr = arr.reshape(-1, 1)  # 1-D model: a scalar or a vector of start states
    elif arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != sde.dim or arr.shape[0] < 1:
        raise InvalidArgumentError(
            "x0",
            f"must be a ({sde.dim},) state or an (m, {sde.dim}) array of start states, got shape "
            f"{np.shape(x0)}",
            "pass one start state or several",
        )
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError("argument `x0`: contains a non-finite value. Fix: pass finite states.")
    f0 = np.asarray(jax.vmap(lambda x: sde.f(x, 0.0))(jnp.asarray(arr[:64])))
    if not np.all(np.isfinite(f0)):
        raise NonFiniteError(
            f"`{sde.name}`: the drift is not finite at the start state "
            f"{arr[int(np.argmax(~np.all(np.isfinite(f0), axis=1)))].tolist()}. Fix: start where "
            "the model is defined, or fix the drift"
        )
    return arr[np.arange(rows) % arr.shape[0]]


def normalisation(
    score: ReactionCoordinate, lo_state: np.ndarray, B: Region, A: Region | None
) -> tuple[float, float]:
    """``(ξ(lo_state), ξ(B's reference))``, refused when ``ξ`` does not increase from A to B."""
    lo = float(score(jnp.asarray(lo_state)))
    hi = float(score(jnp.asarray(B.center)))
    where = "A's reference state" if A is not None else "the start state"
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise NonFiniteError(
            f"the reaction coordinate {score.name!r} is not finite at {where} ({lo}) or at B's "
            f"({hi}). Fix: pass a score defined on both sets"
        )
    if not hi > lo + 1e-12 * max(1.0, abs(lo), abs(hi)):
        raise InvalidArgumentError(
            "score",
            f"does not separate A from B: ξ = {lo:.6g} at {where} and {hi:.6g} at B's reference "
            "state (it must increase from A to B)",
            "pass a coordinate that grows towards B (e.g. its negative), or other sets",
        )
    return lo, hi


def check_sets(A: Region | None, B: Region, starts: np.ndarray, method: str) -> None:
    """Refuse overlapping sets, starts in ``B``, and (AMS) starts in ``A``."""
    if A is not None and (B.contains(A.center)[0] or A.contains(B.center)[0]):
        raise InvalidArgumentError(
            "A/B",
            f"overlap: A's reference state {A.center.tolist()} lies in B or B's "
            f"{B.center.tolist()} in A",
            "pass disjoint sets (smaller radii, or states further apart)",
        )
    inB = B.contains(starts)
    if inB.any():
        raise InvalidArgumentError(
            "x0", f"start state {starts[int(np.argmax(inB))].tolist()} lies in B", "start outside B"
        )
    if method == "AMS" and A is not None:
        inA = A.contains(starts)
        if inA.any():
            raise InvalidArgumentError(
                "x0",
                f"start state {starts[int(np.argmax(inA))].tolist()} lies in A: every replica "
                "would stop at once",
                "start on a surface just outside A (e.g. the hitting points of sampled_exit_time)",
            )


def check_step(sde: SDE, B: Region, dt: float) -> None:
    """Warn where ``B`` is a ball the Euler–Maruyama noise steps over: per-step standard deviation
    ``√(2 λ_max(D) dt)`` at its centre above its radius, so entries between steps are missed
    (exit times biased high, probabilities low)."""
    if B.boundary.labels != ("ball",):
        return
    radius = float(B.boundary.params[1])
    D = np.atleast_2d(np.asarray(sde.D(jnp.asarray(B.center)), dtype=float))
    step = math.sqrt(2.0 * float(np.max(np.linalg.eigvalsh(D))) * dt)
    if step > radius:
        warnings.warn(
            f"the Euler–Maruyama noise per step √(2 D dt) = {step:.3g} exceeds B's radius "
            f"{radius:.3g}: entries into B are missed between steps, so exit times come out too "
            f"long and probabilities too small; pass dt <= {radius**2 / (step**2 / dt):.2g} or a "
            "larger B",
            UnderResolvedWarning,
            stacklevel=3,
        )


def _sizes(replicas: Any, kill: Any, repetitions: Any, levels: Any) -> tuple[int, int, int, int]:
    n = positive_int(replicas, "replicas", MIN_REPLICAS)
    k = max(1, n // 10) if kill is None else positive_int(kill, "kill")
    if k >= n:
        raise InvalidArgumentError(
            "kill",
            f"= {k} must be below replicas = {n}",
            f"pass kill < {n} (e.g. {max(1, n // 10)})",
        )
    R = positive_int(repetitions, "repetitions")
    C = positive_int(levels, "levels", 10)
    return n, k, R, C


def as_key(key: Any) -> jax.Array:
    """An int seed or a jax key as a jax key (a bool or anything else refused)."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        return jax.random.PRNGKey(int(key))
    if isinstance(key, jax.Array) and key.shape == (2,):
        return key
    raise InvalidArgumentError(
        "key", f"must be an int seed or a jax key, got {key!r}", "pass key=0"
    )


# ----------------------------------------------------------------------------- the driver
def _advance_pending(
    problem: engine.Problem, pop: engine.Population, pending: Any, key: jax.Array, batch: int
) -> engine.Population:
    rounds = 0
    while bool(jnp.any(pending)):
        idx, pending = engine.gather_pending(pending, batch)
        pop = engine.advance(problem, pop, idx, jax.random.fold_in(key, rounds))
        rounds += 1
    return pop


@dataclass(frozen=True)
class _Plan:
    """What one splitting run does: the method, the sizes ``n, k, R, C`` and the time grid."""

    method: str
    n: int
    k: int
    R: int
    C: int
    dt: float
    t0: float
    horizon: float
    save_every: int | None
    max_iterations: int
    parameters: dict[str, Any]


@dataclass
class _History:
    """The bookkeeping of a run, per repetition: still running, extinct, ``log ∏(1 − K_j/n)``,
    the levels and kill counts; and the run's counts."""

    active: np.ndarray
    extinct: np.ndarray
    logw: np.ndarray
    levels: list[list[float]]
    killed: list[list[int]]
    timed_out: int = 0
    iterations: int = 0


def _run(
    plan: _Plan,
    sde: SDE,
    A: Region | None,
    B: Region,
    score: ReactionCoordinate,
    starts: np.ndarray,
    lo: float,
    hi: float,
    key: Any,
    progress: bool,
) -> SplittingResult:
    n, k, R, C = plan.n, plan.k, plan.R, plan.C
    Bn = R * n
    max_steps = max(1, round(plan.horizon / plan.dt))
    if max_steps > MAX_STEPS:
        raise InvalidArgumentError(
            "horizon", f"/ dt = {max_steps:.3g} steps exceeds {MAX_STEPS}", "pass a shorter one"
        )
    every = (
        positive_int(plan.save_every, "save_every")
        if plan.save_every is not None
        else max(1, math.ceil((max_steps + 1) * Bn * sde.dim * 8 / PATH_MEMORY))
    )
    capacity = max_steps // every + 1
    check_memory(
        8.0 * Bn * sde.dim * (capacity + 2 * (C + 2) + 4),
        "replicas",
        f"{R} × {n} replicas with {C} levels and {capacity} stored states each",
        "pass fewer replicas or levels, or a larger save_every",
    )
    problem = engine.Problem(
        sde,
        None if (A is None or plan.method == "TAMS") else A.boundary,
        B.boundary,
        score,
        jnp.asarray(lo),
        jnp.asarray(hi),
        jnp.asarray(plan.dt),
        jnp.asarray(plan.t0),
        jnp.asarray(max_steps, jnp.int32),
        C,
        every,
    )
    k_adv, k_branch = jax.random.split(as_key(key))
    batch = min(Bn, max(2 * R * k, 64))  # ties kill more than k: room for them in one round
    clock = time.perf_counter()
    pop = engine.start(problem, jnp.asarray(starts), n, capacity)
    pending = jnp.ones(Bn + 1, bool).at[Bn].set(False)
    pop = _advance_pending(problem, pop, pending, jax.random.fold_in(k_adv, 0), Bn)
    ams_run = plan.method == "AMS"
    h = _History(np.ones(R, bool), np.zeros(R, bool), np.zeros(R), [[] for _ in range(R)],
                 [[] for _ in range(R)])  # fmt: skip
    h.timed_out = int(jnp.sum(pop.outcome[:Bn] == engine.HORIZON)) if ams_run else 0
    bar = _progress_bar(progress, plan.method)
    while h.active.any() and h.iterations < plan.max_iterations:
        h.iterations += 1
        key_it = jax.random.fold_in(k_branch, h.iterations)
        pop, br = engine.branch(problem, pop, key_it, jnp.asarray(h.active), n, k)
        lv, K, fin, ext = (np.asarray(a) for a in (br.level, br.killed, br.finished, br.extinct))
        for r in np.flatnonzero(h.active & ~fin & ~ext):
            h.logw[r] += math.log1p(-K[r] / n)
            h.levels[r].append(lv[r] / C)
            h.killed[r].append(int(K[r]))
        h.extinct |= ext
        h.active &= ~fin & ~ext
        before = pop.outcome
        key_it = jax.random.fold_in(k_adv, h.iterations)
        pop = _advance_pending(problem, pop, br.pending, key_it, batch)
        if ams_run:
            h.timed_out += int(jnp.sum((pop.outcome != before) & (pop.outcome == engine.HORIZON)))
        if bar is not None:
            bar(h.iterations, float(np.min(lv[h.active]) / C) if h.active.any() else 1.0)
    if bar is not None:
        bar(h.iterations, 1.0)
    return _result(plan, pop, h, score.name, every, capacity, time.perf_counter() - clock)


def _progress_bar(show: bool, method: str) -> Any:
    if not show:
        return None
    from rich.progress import BarColumn, Progress, TextColumn

    prog = Progress(TextColumn(f"{method}"), BarColumn(), TextColumn("{task.description}"))
    prog.start()
    task = prog.add_task("", total=1.0)

    def update(it: int, level: float) -> None:
        prog.update(task, completed=level, description=f"iteration {it}, level {level:.3f}")
        if level >= 1.0:
            prog.stop()

    return update


def _result(
    plan: _Plan,
    pop: engine.Population,
    h: _History,
    coordinate_name: str,
    every: int,
    capacity: int,
    seconds: float,
) -> SplittingResult:
    n, R = plan.n, plan.R
    Bn = R * n
    outcome = np.asarray(pop.outcome[:Bn]).reshape(R, n)
    inB = outcome == engine.IN_B
    P = np.exp(h.logw)
    est = P * inB.mean(axis=1)
    est[h.active | h.extinct] = np.nan
    anc = np.asarray(pop.ancestor[:Bn]).reshape(R, n)
    V = np.zeros(R)
    ancestors = np.zeros(R, np.int64)
    for r in range(R):
        family = P[r] / n * np.bincount(anc[r], weights=inB[r].astype(float), minlength=n)
        V[r] = np.sum((family - P[r] * inB[r].mean() / n) ** 2)
        ancestors[r] = np.unique(anc[r]).size
    nonfinite = int(np.sum(outcome == engine.NONFINITE))
    stats = {
        "iterations": h.iterations,
        "extinct": int(h.extinct.sum()),
        "timed_out": h.timed_out,
        "nonfinite": nonfinite,
        "ancestors": ancestors.tolist(),
        "seconds": seconds,
        "save_every": every,
    }
    status, message = _verdict(plan.method, h, nonfinite, R, n)
    reactive = _reactive(pop, inB.reshape(-1), P, plan, every, capacity)
    stats["truncated_paths"] = int(np.sum(reactive.lengths >= capacity + 1))
    prob = se = single = None
    interval = None
    if status is SplittingStatus.estimated:
        status, message = _resolution(est, V, ancestors)
    if status is SplittingStatus.estimated:
        prob = float(np.mean(est))
        single = float(math.sqrt(np.mean(V) / R))
        if R >= 2:
            from scipy.stats import t as student

            se = float(np.std(est, ddof=1) / math.sqrt(R))
            half = float(student.ppf(0.975, R - 1)) * se
        else:
            half = 1.96 * single
        interval = (max(prob - half, 0.0), prob + half)
        rel = (se if se is not None else single) / prob if prob > 0 else float("inf")
        message = (
            f"p = {prob:.4g} ± {half:.2g} (95 %), relative standard error {rel:.2g}; "
            f"{h.iterations} iterations"
        )
    return SplittingResult(
        plan.method, status, message, prob, se, interval, single, est,
        tuple(np.asarray(v) for v in h.levels), tuple(np.asarray(v, np.int64) for v in h.killed),
        coordinate_name, n, plan.k, R, plan.dt, plan.horizon, reactive, plan.parameters, stats,
    )  # fmt: skip


def _verdict(
    method: str, h: _History, nonfinite: int, R: int, n: int
) -> tuple[SplittingStatus, str]:
    extinct, active, timed_out, iterations = h.extinct, h.active, h.timed_out, h.iterations
    if nonfinite:
        return SplittingStatus.nonfinite, (
            f"{nonfinite} replicas became non-finite (the drift or the Euler–Maruyama step blew "
            "up): pass a smaller dt or fix the drift"
        )
    if active.any():
        return SplittingStatus.max_iterations, (
            f"{int(active.sum())} of {R} repetitions had not reached B after {iterations} "
            "iterations (pass a larger max_iterations or kill)"
        )
    if extinct.any():
        where = " or the horizon is too short to reach B" if method == "TAMS" else ""
        return SplittingStatus.extinct, (
            f"{int(extinct.sum())} of {R} repetitions went extinct (all {n} replicas at or below "
            f"the level): the probability is below what {n} replicas resolve with this reaction "
            f"coordinate{where}. Fix: more replicas, a better coordinate, a finer levels grid"
        )
    if method == "AMS" and timed_out:
        return SplittingStatus.timed_out, (
            f"{timed_out} replicas neither returned to A nor reached B within the horizon and "
            "were counted as failures (a bias towards small p): pass a longer horizon, or check "
            "for a third attractor between A and B"
        )
    return SplittingStatus.estimated, ""


#: largest relative standard error of an estimate that counts as resolved
MAX_RELATIVE_ERROR = 1.0


def _resolution(
    est: np.ndarray, V: np.ndarray, ancestors: np.ndarray
) -> tuple[SplittingStatus, str]:
    """``estimated`` unless the estimate is not resolved (see ``SplittingStatus.unresolved``)."""
    R = est.size
    mean = float(np.mean(est))
    se = float(np.std(est, ddof=1) / np.sqrt(R)) if R >= 2 else float(np.sqrt(V[0]))
    rel = se / mean if mean > 0 else np.inf
    if np.all(ancestors <= 1) or rel > MAX_RELATIVE_ERROR:
        return SplittingStatus.unresolved, (
            f"the estimate {mean:.3g} has a relative standard error of {rel:.2g} and its final "
            f"replicas descend from {ancestors.tolist()} initial replicas per repetition: the "
            "probability is below what this run resolves. Fix: more replicas, a better reaction "
            "coordinate or (TAMS) a longer horizon"
        )
    return SplittingStatus.estimated, ""


def _reactive(
    pop: engine.Population, inB: np.ndarray, P: np.ndarray, plan: _Plan, every: int, capacity: int
) -> ReactiveTrajectories:
    n, R, dt, t0 = plan.n, plan.R, plan.dt, plan.t0
    rows = np.flatnonzero(inB)
    if rows.size == 0:
        return ReactiveTrajectories(
            np.zeros((0, 1, pop.x.shape[1])), np.zeros((0, 1)), np.zeros(0, np.int64),
            np.zeros(0), np.zeros(0), np.zeros(0, np.int64),
        )  # fmt: skip
    steps = np.asarray(pop.step)[rows]
    stored = np.minimum(steps // every, capacity - 1) + 1
    on_grid = (steps % every == 0) & (steps // every < capacity)
    lengths = stored + ~on_grid
    L = int(lengths.max())
    path = np.array(pop.path[jnp.asarray(rows), :L])
    final = np.asarray(pop.x)[rows]
    times = t0 + dt * every * np.arange(L)[None, :].repeat(rows.size, 0).astype(float)
    for j in range(rows.size):
        m = int(stored[j])
        if not on_grid[j]:
            path[j, m] = final[j]
            times[j, m] = t0 + dt * steps[j]
            m += 1
        path[j, m:] = path[j, m - 1]
        times[j, m:] = times[j, m - 1]
    rep = rows // n
    return ReactiveTrajectories(
        path, times, lengths.astype(np.int64), P[rep] / (n * R), steps * dt, rep.astype(np.int64)
    )


# ----------------------------------------------------------------------------- public
def ams(
    sde: SDE,
    x0: Any,
    A: Any,
    B: Any,
    *,
    score: Any = None,
    radius: float | None = None,
    replicas: int = 100,
    kill: int | None = None,
    repetitions: int = 8,
    levels: int = 200,
    dt: float = 1e-3,
    horizon: float | None = None,
    save_every: int | None = None,
    max_iterations: int = 100_000,
    key: Any = 0,
    progress: bool = False,
) -> SplittingResult:
    """``P(reach B before A)`` from ``x0`` by adaptive multilevel splitting (see the module text).

    Args:
        sde: the model.
        x0: start state ``(N,)``, or ``(m, N)`` start states (replica ``i`` starts at
            ``x0[i % m]``: pass samples of the entrance distribution on a surface near ``A``).
        A, B: the sets: states (with ``radius``: balls) or Boundaries positive inside.
        score: reaction coordinate ``ξ(x)`` (a function or :class:`ReactionCoordinate`), normalised
            to 0 at ``A``'s reference state and 1 at ``B``'s; default: the chord ``A → B``.
        replicas: ``n`` per repetition (at least :data:`MIN_REPLICAS`).
        kill: ``k``, the rank of the level (default ``n // 10``); ties kill more.
        repetitions: ``R`` independent runs in one batch (``R >= 2`` for an error bar from them).
        levels: the number of values the normalised score is quantised to.
        dt: Euler–Maruyama step. horizon: the longest a replica runs (default ``10⁵ dt``;
            replicas that reach it are reported, status ``timed_out``).
        save_every: store every k-th state of each replica (default: as fine as 256 MiB allow).
        key: seed; the result is a deterministic function of it and the sizes.

    Returns:
        :class:`SplittingResult`: probability, error bars, levels, reactive trajectories, status.
    """
    sde = require_sde(sde)
    sizes = _sizes(replicas, kill, repetitions, levels)
    dt = positive_float(dt, "dt", "time step")
    horizon = 1e5 * dt if horizon is None else positive_float(horizon, "horizon", "time")
    if horizon < dt:
        raise InvalidArgumentError(
            "horizon", f"= {horizon} is below dt = {dt}", "pass a longer one"
        )
    Ar = region(A, "A", sde.dim, radius)
    Br = region(B, "B", sde.dim, radius)
    xi = default_score(score, Ar, Br)
    starts = _start_states(sde, x0, sizes[0] * sizes[2])
    check_sets(Ar, Br, starts, "AMS")
    check_step(sde, Br, dt)
    lo, hi = normalisation(xi, Ar.center, Br, Ar)
    n, k, R, C = sizes
    params = {"method": "AMS", "model": sde.name, "replicas": n, "kill": k, "repetitions": R,
              "levels": C, "dt": dt, "horizon": horizon,
              "key": key if isinstance(key, int) else "jax key", "coordinate": xi.name}  # fmt: skip
    plan = _Plan("AMS", n, k, R, C, dt, 0.0, horizon, save_every,
                 positive_int(max_iterations, "max_iterations"), params)  # fmt: skip
    return _run(plan, sde, Ar, Br, xi, starts, lo, hi, key, progress)


def tams(
    sde: SDE,
    x0: Any,
    B: Any,
    T: float,
    *,
    score: Any = None,
    A: Any = None,
    radius: float | None = None,
    replicas: int = 100,
    kill: int | None = None,
    repetitions: int = 8,
    levels: int = 200,
    dt: float = 1e-3,
    t0: float = 0.0,
    save_every: int | None = None,
    max_iterations: int = 100_000,
    key: Any = 0,
    progress: bool = False,
) -> SplittingResult:
    """``P(reach B before time T)`` from ``x0`` by trajectory-adaptive multilevel splitting.

    The score of a replica is the largest normalised ``ξ`` over ``[t0, t0 + T]`` (0 at ``A``'s
    reference state if ``A`` is given, else at ``x0``; 1 at ``B``'s). ``A`` does not absorb.
    Other arguments as :func:`ams`; the drift may depend on time (replicas start at ``t0``).
    """
    sde = require_sde(sde)
    sizes = _sizes(replicas, kill, repetitions, levels)
    dt = positive_float(dt, "dt", "time step")
    T = positive_float(T, "T", "time horizon")
    if T < dt:
        raise InvalidArgumentError("T", f"= {T} is below dt = {dt}", "pass T >= dt")
    Br = region(B, "B", sde.dim, radius)
    starts = _start_states(sde, x0, sizes[0] * sizes[2])
    Ar = None if A is None else region(A, "A", sde.dim, radius)
    ref = Ar if Ar is not None else Region(Br.boundary, starts[0])
    xi = default_score(score, ref, Br)
    check_sets(Ar, Br, starts, "TAMS")
    check_step(sde, Br, dt)
    lo, hi = normalisation(xi, ref.center, Br, Ar)
    t0 = finite_float(t0, "t0", "start time")
    n, k, R, C = sizes
    params = {"method": "TAMS", "model": sde.name, "replicas": n, "kill": k, "repetitions": R,
              "levels": C, "dt": dt, "T": T, "t0": t0,
              "key": key if isinstance(key, int) else "jax key", "coordinate": xi.name}  # fmt: skip
    plan = _Plan("TAMS", n, k, R, C, dt, t0, T, save_every,
                 positive_int(max_iterations, "max_iterations"), params)  # fmt: skip
    return _run(plan, sde, Ar, Br, xi, starts, lo, hi, key, progress)


def default_score(score: Any, A: Region, B: Region) -> ReactionCoordinate:
    """``score`` as a :class:`ReactionCoordinate`; ``None``: the chord from ``A`` to ``B``."""
    if score is None:
        from noetherlab.ensembles.reaction import chord_coordinate

        return chord_coordinate(A.center, B.center)
    return coordinate(score)
