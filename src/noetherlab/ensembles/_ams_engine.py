r"""The vectorised engine of adaptive multilevel splitting (private to :mod:`noetherlab.ensembles`).

``R`` independent repetitions of ``n`` replicas live in one population of ``R·n`` rows (plus a
trash row that padded gathers write to). Every replica carries

* its current state, step count and outcome (0 running, 1 in ``A``, 2 in ``B``, 3 horizon,
  4 non-finite);
* ``best``, the largest *quantised* score reached so far, ``q = ⌊C·ξ̃(x)⌋ ∈ {0, …, C−1}`` and
  ``C`` in ``B``. Quantising the score is what makes branching exact with bounded memory: a
  replica records the state and step at which ``q`` first reached each new value (at most
  ``C + 1`` records), so the first time its score exceeds any level is a stored record;
* its stored path (every ``every``-th step), and the index of the initial replica it descends
  from (for the genealogical variance estimate).

One iteration (:func:`branch`) computes, per repetition, the level ``z`` = the ``k``-th smallest
``best``; kills every replica with ``best ≤ z`` (all ties); if all are killed the repetition is
extinct; otherwise each killed replica becomes a copy of a survivor chosen uniformly, cut at the
first time the survivor's ``q`` exceeded ``z`` (its path, records and step up to then), and
:func:`advance` continues the copies with fresh noise until they reach ``A`` or ``B`` (or the
horizon). Everything is compiled once per model class, coordinate rule and set rules: states,
parameters, bounds, ``dt`` are data; the sizes ``R, n, C`` and the path capacity are shapes.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp

from noetherlab.ensembles.boundaries import Boundary
from noetherlab.ensembles.reaction import ReactionCoordinate
from noetherlab.ensembles.simulation import em_increment, noise_dimension
from noetherlab.sde.model import SDE

Array = jax.Array

RUNNING, IN_A, IN_B, HORIZON, NONFINITE = 0, 1, 2, 3, 4


class Population(NamedTuple):
    """The replicas (``B = R·n`` rows and one trash row at index ``B``)."""

    x: Array  # (B+1, N) current state
    step: Array  # (B+1,) steps done since the start
    outcome: Array  # (B+1,) RUNNING, IN_A, IN_B, HORIZON or NONFINITE
    best: Array  # (B+1,) largest quantised score reached
    rec_x: Array  # (B+1, C+2, N): state at which q first reached each value (slot C+1: trash)
    rec_step: Array  # (B+1, C+2) its step (-1: not reached)
    path: Array  # (B+1, P+1, N): the state every `every` steps (slot P: trash)
    ancestor: Array  # (B+1,) the initial replica (0..n-1) it descends from


class Problem(eqx.Module):
    """What the replicas solve: model, sets, score (normalised by ``lo``/``hi``) and time grid."""

    sde: SDE
    A: Boundary | None
    B: Boundary
    score: ReactionCoordinate
    lo: Array
    hi: Array
    dt: Array
    t0: Array
    max_steps: Array
    levels: int = eqx.field(static=True)
    every: int = eqx.field(static=True)

    def quantised(self, x: Array) -> Array:
        """``q = ⌊C·ξ̃(x)⌋`` clipped to ``[0, C−1]``, ``ξ̃ = (ξ − lo)/(hi − lo)`` (one state)."""
        s = (self.score(x) - self.lo) / (self.hi - self.lo)
        s = jnp.where(jnp.isfinite(s), s, 0.0)
        return jnp.clip(jnp.floor(self.levels * s), 0, self.levels - 1).astype(jnp.int32)

    def in_B(self, x: Array) -> Array:
        return self.B.check(x)[0] > 0

    def in_A(self, x: Array) -> Array:
        return jnp.asarray(False) if self.A is None else self.A.check(x)[0] > 0


def start(problem: Problem, x0: Array, n: int, path_capacity: int) -> Population:
    """A population at the start states ``x0 (B, N)``, nothing advanced yet."""
    B, N = x0.shape
    C = problem.levels
    xs = jnp.concatenate([x0, x0[:1]], axis=0)
    q0 = jax.vmap(problem.quantised)(xs)
    rows = jnp.arange(B + 1)
    rec_x = jnp.zeros((B + 1, C + 2, N), x0.dtype).at[rows, q0].set(xs)
    rec_step = jnp.full((B + 1, C + 2), -1, jnp.int32).at[rows, q0].set(0)
    path = jnp.zeros((B + 1, path_capacity + 1, N), x0.dtype).at[:, 0].set(xs)
    ancestor = (jnp.arange(B + 1) % n).astype(jnp.int32)
    zeros = jnp.zeros(B + 1, jnp.int32)
    return Population(xs, zeros, zeros, q0, rec_x, rec_step, path, ancestor)


@eqx.filter_jit
def advance(problem: Problem, pop: Population, idx: Array, key: Array) -> Population:
    """Run the replicas ``idx (M,)`` (padded with the trash row) until each is in ``A`` or ``B``,
    at the horizon, or non-finite: Euler–Maruyama, step ``i`` of this call drawing its noise from
    ``fold_in(key, i)``."""
    C, every = problem.levels, problem.every
    P = pop.path.shape[1] - 1
    M = idx.shape[0]
    increment = em_increment(problem.sde, problem.dt)
    n_noise = noise_dimension(problem.sde)
    sub = jax.tree_util.tree_map(lambda a: a[idx], pop)
    rows = jnp.arange(M)
    live0 = idx < pop.x.shape[0] - 1

    def running(s: Population) -> Array:
        return live0 & (s.outcome == RUNNING)

    def cond(carry: tuple[Population, Array]) -> Array:
        return jnp.any(running(carry[0]))

    def body(carry: tuple[Population, Array]) -> tuple[Population, Array]:
        s, i = carry
        go = running(s)
        xi = jax.random.normal(jax.random.fold_in(key, i), (M, n_noise), s.x.dtype)
        t = problem.t0 + s.step * problem.dt
        x_new = increment(s.x, t, xi)
        step = s.step + 1
        finite = jnp.all(jnp.isfinite(x_new), axis=1)
        x_safe = jnp.where(finite[:, None], x_new, s.x)
        inB = jax.vmap(problem.in_B)(x_safe) & finite
        inA = jax.vmap(problem.in_A)(x_safe) & finite & ~inB
        q = jnp.where(inB, C, jax.vmap(problem.quantised)(x_safe))
        outcome = jnp.where(
            ~finite,
            NONFINITE,
            jnp.where(
                inB, IN_B, jnp.where(inA, IN_A, jnp.where(step >= problem.max_steps, HORIZON, 0))
            ),
        )
        rise = go & finite & (q > s.best)
        slot = jnp.where(rise, q, C + 1)
        rec_x = s.rec_x.at[rows, slot].set(x_safe)
        rec_step = s.rec_step.at[rows, slot].set(jnp.where(rise, step, -1))
        keep = go & finite & (step % every == 0) & (step // every < P)
        path = s.path.at[rows, jnp.where(keep, step // every, P)].set(x_safe)
        new = Population(
            jnp.where(go[:, None] & finite[:, None], x_new, s.x),
            jnp.where(go, step, s.step),
            jnp.where(go, outcome, s.outcome),
            jnp.where(rise, q, s.best),
            rec_x,
            rec_step,
            path,
            s.ancestor,
        )
        return new, i + 1

    sub, _ = jax.lax.while_loop(cond, body, (sub, jnp.asarray(0, jnp.int32)))
    return jax.tree_util.tree_map(lambda a, b: a.at[idx].set(b), pop, sub)


class Branching(NamedTuple):
    """What one iteration did, per repetition (arrays ``(R,)``)."""

    level: Array  # the level z (quantised) of this iteration
    killed: Array  # K, replicas at or below z (0 where the repetition had finished)
    finished: Array  # the k-th smallest score is in B: the repetition is done
    extinct: Array  # every replica was at or below z
    pending: Array  # (B+1,) rows to advance now


@eqx.filter_jit
def branch(
    problem: Problem, pop: Population, key: Array, active: Array, n: int, k: int
) -> tuple[Population, Branching]:
    """One splitting iteration on the repetitions still ``active (R,)`` (see the module text)."""
    C = problem.levels
    R = active.shape[0]
    Bn = R * n
    best = pop.best[:Bn].reshape(R, n)
    level = jnp.sort(best, axis=1)[:, k - 1]
    finished = level >= C
    go = active & ~finished
    below = best <= level[:, None]
    K = jnp.sum(below, axis=1)
    extinct = go & (K == n)
    go = go & ~extinct
    killed = below & go[:, None]
    survivors = ~below
    n_surv = jnp.sum(survivors, axis=1)
    u = jax.random.uniform(key, (R, n))
    pick = jnp.minimum(jnp.floor(u * n_surv[:, None]).astype(jnp.int32), n - 1)
    order = jnp.argsort(~survivors, axis=1, stable=True)  # survivors first
    parent_local = jnp.take_along_axis(order, jnp.clip(pick, 0, n - 1), axis=1)
    parent = (jnp.arange(R)[:, None] * n + parent_local).reshape(Bn)
    child = killed.reshape(Bn)
    rows = jnp.arange(Bn)
    src = jnp.where(child, parent, rows)
    # the parent's first record strictly above the level
    lvl = jnp.repeat(level, n)
    slots = jnp.arange(C + 2)
    filled = (pop.rec_step[src] >= 0) & (slots[None, :] > lvl[:, None]) & (slots[None, :] <= C)
    cut = jnp.argmax(filled, axis=1)
    cut_step = pop.rec_step[src, cut]
    rec_step = jnp.where(slots[None, :] <= cut[:, None], pop.rec_step[src], -1)

    def pick_rows(a: Array, b: Array) -> Array:
        mask = child.reshape((Bn,) + (1,) * (a.ndim - 1))
        return a.at[:Bn].set(jnp.where(mask, b, a[:Bn]))

    new = Population(
        pick_rows(pop.x, pop.rec_x[src, cut]),
        pick_rows(pop.step, cut_step),
        pick_rows(pop.outcome, jnp.zeros(Bn, jnp.int32)),
        pick_rows(pop.best, cut.astype(jnp.int32)),
        pick_rows(pop.rec_x, pop.rec_x[src]),
        pick_rows(pop.rec_step, rec_step),
        pick_rows(pop.path, pop.path[src]),
        pick_rows(pop.ancestor, pop.ancestor[src]),
    )
    pending = jnp.concatenate([child, jnp.zeros(1, bool)])
    return new, Branching(level, jnp.where(go, K, 0), finished & active, extinct, pending)


@eqx.filter_jit
def gather_pending(pending: Array, size: int) -> tuple[Array, Array]:
    """Up to ``size`` pending rows (padded with the trash row) and the rows still pending after."""
    trash = pending.shape[0] - 1
    (idx,) = jnp.nonzero(pending, size=size, fill_value=trash)
    rest = pending.at[idx].set(False).at[trash].set(False)
    return idx.astype(jnp.int32), rest
