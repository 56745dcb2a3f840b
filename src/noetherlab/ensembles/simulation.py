r"""Simulation of ensembles of sample paths: vectorised Euler–Maruyama with absorbing boundaries
and first exits (:func:`simulate`).

The scheme (Itô, step ``Δt``, ``ξ_k ~ N(0, I_M)`` independent)::

    x_{k+1} = x_k + f(x_k, t_k) Δt + G(x_k, t_k) √Δt ξ_k,      t_k = t_0 + k Δt,

runs as one ``lax.scan`` over time steps of a ``vmap`` over a *chunk* of paths, chunk after chunk,
so memory is ``O(chunk · N)`` whatever ``n_paths`` is (plus what the save mode keeps). A chunk is
laid out across every local JAX device (``NamedSharding`` along the path axis), so the same call
uses all GPUs (or all ``--xla_force_host_platform_device_count`` host devices).

Random numbers: chunk ``c`` draws step ``k``'s noise from ``fold_in(fold_in(key, c), k)``, so a
result is a function of ``(key, chunk_size)``. ``paper_stream=True`` instead draws, at every step and
for every noise component in turn, ``numpy.random.normal(size=n_paths)`` after
``numpy.random.seed(seed)`` — the stream of the authors' notebooks, needed where a published count
depends on it (Fig. 1a's 981 kept paths).

An absorbing boundary (:mod:`noetherlab.ensembles.boundaries`) freezes a path at the first step
whose new state lies outside the domain; its exit label, exit step and exit state are recorded in the
:class:`~noetherlab.ensembles.ensemble.Ensemble`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from noetherlab._core.errors import InvalidArgumentError, NonFiniteError
from noetherlab._core.resources import check_memory, warn_if_long
from noetherlab._core.validation import as_float_array, as_state, choice, positive_int
from noetherlab.ensembles.boundaries import Boundary, require_boundary, require_inside
from noetherlab.ensembles.ensemble import Ensemble
from noetherlab.sde.model import SDE, require_sde

__all__ = ["em_increment", "noise_dimension", "simulate", "simulate_chunk", "step_count"]

Array = jax.Array


def em_increment(sde: SDE, dt: Array) -> Callable[[Array, Array, Array], Array]:
    """The Euler–Maruyama update of a batch, ``(x (B, N), t, xi (B, M)) -> x + f Δt + G √Δt ξ``
    (``t`` a scalar or ``(B,)``; traceable). The one home of the scheme: :func:`simulate` and the
    splitting samplers (:mod:`noetherlab.ensembles.splitting`) step with it."""
    sqdt = jnp.sqrt(dt)
    const_G = sde.noise_matrix if sde.noise_matrix is not None else None
    if const_G is None and sde.constant_diffusion:
        const_G = sde.G(jnp.zeros(sde.dim))

    def increment(x: Array, t: Array, xi: Array) -> Array:
        ts = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        f = jax.vmap(sde.f)(x, ts)
        if const_G is not None:
            noise = xi @ const_G.T
        else:
            noise = jnp.einsum("bnm,bm->bn", jax.vmap(sde.G)(x, ts), xi)
        return x + f * dt + sqdt * noise

    return increment


def noise_dimension(sde: SDE) -> int:
    """``M``, the number of independent Wiener processes (columns of ``G``)."""
    if sde.noise_matrix is not None:
        return int(sde.noise_matrix.shape[1])
    return int(jax.eval_shape(sde.G, jnp.zeros(sde.dim)).shape[-1])


def _step_fn(sde: SDE, boundary: Boundary | None, dt: Array) -> Callable[..., Any]:
    """One EM step for a batch: ``(state, t, xi, i) -> state``; ``state = (x, label, exit_step,
    bad_step)``. Absorbed or failed paths stay frozen."""
    increment = em_increment(sde, dt)
    check = None if boundary is None else jax.vmap(boundary.check)

    def step(state: tuple[Array, ...], t: Array, xi: Array, i: Array) -> tuple[Array, ...]:
        x, label, exit_step, bad_step = state
        i = i.astype(jnp.int32)
        x_new = increment(x, t, xi)
        alive = (label == 0) & (bad_step < 0)
        finite = jnp.all(jnp.isfinite(x_new), axis=1)
        bad_step = jnp.where(alive & ~finite, i, bad_step)
        ok = alive & finite
        if check is not None:
            new_label, x_new = check(x_new)
            new_label = new_label.astype(jnp.int32)
            exits = ok & (new_label > 0)
            label = jnp.where(exits, new_label, label)
            exit_step = jnp.where(exits, i, exit_step)
        x = jnp.where(ok[:, None], x_new, x)
        return x, label, exit_step, bad_step

    return step


@eqx.filter_jit
def _em_step(
    sde: SDE, boundary: Boundary | None, dt: Array, state: Any, t: Array, xi: Array, i: Array
) -> Any:
    """One EM step of a batch (the NumPy-stream replay), compiled once per model and boundary rule."""
    return _step_fn(sde, boundary, dt)(state, t, xi, i)


@eqx.filter_jit
def _run_chunk(
    sde: SDE,
    boundary: Boundary | None,
    key: Array,
    x0: Array,
    dt: Array,
    t0: Array,
    n_steps: int,
    every: int,
    stats: bool,
    noise_dtype: Any,
) -> Any:
    """``n_steps`` EM steps of the batch ``x0 (B, N)``: ``(state, saved)``, ``saved`` holding the
    states after every ``every``-th step (or their sums / sums of squares over the batch if
    ``stats``). Step ``i`` draws its noise from ``fold_in(key, i)``. Compiled once per model class,
    boundary rule, batch shape and step counts: parameters, bounds, ``dt`` and ``t0`` are data."""
    step = _step_fn(sde, boundary, dt)
    M = noise_dimension(sde)
    B = x0.shape[0]
    state0 = (x0, jnp.zeros(B, jnp.int32), jnp.full(B, -1, jnp.int32), jnp.full(B, -1, jnp.int32))

    def one(state: Any, i: Array) -> Any:
        xi = jax.random.normal(jax.random.fold_in(key, i), (B, M), noise_dtype).astype(x0.dtype)
        return step(state, t0 + i * dt, xi, i), None

    def block(state: Any, j: Array) -> Any:
        state, _ = jax.lax.scan(one, state, j * every + jnp.arange(every, dtype=jnp.int32))
        x = state[0]
        return state, ((jnp.sum(x, 0), jnp.sum(x * x, 0)) if stats else x)

    n_blocks, rem = divmod(n_steps, every) if every else (0, n_steps)
    state, saved = jax.lax.scan(block, state0, jnp.arange(n_blocks, dtype=jnp.int32))
    state, _ = jax.lax.scan(one, state, n_blocks * every + jnp.arange(rem, dtype=jnp.int32))
    return state, saved


def simulate_chunk(
    sde: SDE,
    boundary: Boundary | None,
    x0: Any,
    key: Array,
    chunk: int,
    dt: float,
    t0: float,
    n_steps: int,
    every: int = 0,
    stats: bool = False,
    noise_precision: str = "float64",
) -> Any:
    """Chunk number ``chunk`` of an ensemble (internal API shared by :func:`simulate` and the
    distributed ensembles): its paths start at ``x0 (B, N)`` and draw their noise from
    ``fold_in(key, chunk)``, so the chunk's result does not depend on where it runs. Returns the
    host arrays ``((x, label, exit_step, bad_step), saved)``."""
    batch = jnp.asarray(x0, dtype=jnp.float64)
    sharding = _device_sharding()
    if sharding is not None and batch.shape[0] % len(jax.local_devices()) == 0:
        batch = jax.device_put(batch, sharding)
    out = _run_chunk(
        sde,
        boundary,
        jax.random.fold_in(key, chunk),
        batch,
        jnp.asarray(dt, jnp.float64),
        jnp.asarray(t0, jnp.float64),
        n_steps,
        every,
        stats,
        jnp.dtype(noise_precision),
    )
    return jax.device_get(out)


def _device_sharding() -> NamedSharding | None:
    devices = jax.local_devices()
    if len(devices) < 2:
        return None
    return NamedSharding(Mesh(np.array(devices), ("paths",)), PartitionSpec("paths"))


# ----------------------------------------------------------------------------------- simulate
def step_count(T: float, dt: float) -> int:
    """The number of steps ``T / dt`` of an ensemble's grid (an integer; refused otherwise)."""
    if not (isinstance(T, (int, float)) and math.isfinite(T) and T > 0):
        raise InvalidArgumentError("T", f"must be a positive finite time, got {T!r}", "pass T > 0")
    if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
        raise InvalidArgumentError("dt", f"must be a positive time step, got {dt!r}", "pass dt > 0")
    if dt > T:
        raise InvalidArgumentError("dt", f"= {dt} exceeds T = {T}", "pass dt <= T")
    n = round(T / dt)
    if abs(n * dt - T) > 1e-9 * T:
        raise InvalidArgumentError(
            "dt", f"T / dt = {T / dt} is not an integer", f"pass dt = T / n, e.g. {T / max(n, 1)}"
        )
    return n


@dataclass(frozen=True)
class _Schedule:
    """What one ensemble runs: ``n_paths`` paths over ``n_steps`` steps of ``dt`` from ``t0`` (to
    ``t0 + T``), keeping the states (``save="paths"``) or their moments (``"stats"``) after every
    ``every``-th step (``every = 0``: final states only)."""

    n_paths: int
    T: float
    dt: float
    t0: float
    n_steps: int
    save: str
    every: int

    @property
    def stats(self) -> bool:
        return self.save == "stats"


def _schedule(
    n_paths: Any, T: float, dt: float, t0: float, save: str, save_every: int | None
) -> _Schedule:
    n_steps = step_count(T, dt)
    n_paths = positive_int(n_paths, "n_paths")
    choice(save, "save", ("final", "paths", "stats"))
    if save_every is not None:
        save_every = positive_int(save_every, "save_every")
        if save == "final":
            raise InvalidArgumentError(
                "save_every",
                "keeps every k-th state, but save='final' keeps final states only",
                "pass save='paths' or save='stats' with it, or drop save_every",
            )
        if save_every > n_steps:
            raise InvalidArgumentError(
                "save_every",
                f"= {save_every} exceeds the {n_steps} steps",
                f"pass save_every <= {n_steps}",
            )
    every = 0 if save == "final" else (save_every or max(1, n_steps // 100))
    return _Schedule(n_paths, T, dt, t0, n_steps, save, every)


def _start_states(sde: SDE, x0: Any, n_paths: int) -> tuple[np.ndarray, np.ndarray]:
    """``x0`` as given (``(N,)`` or ``(n_paths, N)``) and broadcast to one start per path."""
    x0a = as_float_array(x0, "x0")
    x0s = (
        np.broadcast_to(as_state(x0a, "x0", sde.dim), (n_paths, sde.dim)) if x0a.ndim <= 1 else x0a
    )
    if x0s.shape != (n_paths, sde.dim) or not np.all(np.isfinite(x0a)):
        raise InvalidArgumentError(
            "x0",
            f"must be a finite ({sde.dim},) state or ({n_paths}, {sde.dim}) array, got {x0a.shape}",
            "pass one start state or one per path",
        )
    return x0a, x0s


def simulate(
    sde: SDE,
    x0: Any,
    T: float,
    dt: float,
    n_paths: int,
    key: int | Array = 0,
    *,
    t0: float = 0.0,
    boundary: Boundary | None = None,
    save_every: int | None = None,
    save: str = "final",
    chunk_size: int = 100_000,
    paper_stream: bool = False,
    noise_precision: str = "float64",
    progress: bool = False,
) -> Ensemble:
    """Simulate ``n_paths`` Euler–Maruyama paths of ``sde`` from ``x0`` over ``[t0, t0 + T]``.

    Args:
        x0: start state ``(N,)`` (shared) or ``(n_paths, N)``.
        T: time horizon.
        dt: time step; ``T / dt`` must be an integer (the number of steps).
        key: ``jax.random`` key or int seed (with ``paper_stream``: the NumPy seed).
        boundary: absorbing :class:`~noetherlab.ensembles.boundaries.Boundary` (``interval``,
            ``ball``, ``predicate``).
        save: ``"final"`` (final states only, memory ``O(n_paths N)``), ``"paths"`` (every
            ``save_every``-th state, ``O(n_paths N T/(dt k))``) or ``"stats"`` (mean and variance over
            paths every ``save_every`` steps, ``O(N T/(dt k))``).
        chunk_size: paths per vectorised chunk (bounds memory; split across local devices).
        paper_stream: draw the noise from NumPy's legacy global stream like the authors' notebooks.
        noise_precision: ``"float64"`` (default) or ``"float32"``: draw the normal variates in single
            precision (about 2x faster on CPU; the states stay float64). Single-precision normals
            are truncated at about 5.4 sigma, so keep float64 for studies of very rare single kicks.
        progress: show a rich progress bar over chunks (or steps, with ``paper_stream``).

    Raises:
        InvalidArgumentError: ``dt <= 0``, ``dt > T``, ``n_paths < 1``, bad ``save`` mode.
        NonFiniteError: a path produced NaN/inf (names the path and step and the last finite state).
    """
    sde = require_sde(sde)
    plan = _schedule(n_paths, T, dt, t0, save, save_every)
    choice(noise_precision, "noise_precision", ("float64", "float32"))
    chunk_size = positive_int(chunk_size, "chunk_size")
    _guard_ensemble(plan, sde.dim, min(chunk_size, plan.n_paths))  # before any allocation
    x0a, x0s = _start_states(sde, x0, plan.n_paths)
    if boundary is not None:
        require_boundary(boundary)
        require_inside(boundary, x0s[: min(plan.n_paths, 1000)], "x0")
    sde.check_states(x0s[:1], t0, what="start")
    if paper_stream and not isinstance(key, (int, np.integer)):
        raise InvalidArgumentError(
            "key", "with paper_stream=True the key is NumPy's integer seed", "pass e.g. key=0"
        )
    start = time.perf_counter()
    if paper_stream:
        chunks = [_simulate_numpy_stream(sde, boundary, x0s, plan, int(key), progress)]
    else:
        base_key = jax.random.PRNGKey(key) if isinstance(key, int) else key
        chunks = [
            simulate_chunk(
                sde,
                boundary,
                x0s[lo : lo + chunk_size],
                base_key,
                c,
                dt,
                t0,
                plan.n_steps,
                plan.every,
                plan.stats,
                noise_precision,
            )
            for c, lo in enumerate(
                _progress(list(range(0, plan.n_paths, chunk_size)), progress, "simulating chunks")
            )
        ]
    noise = "float64 (NumPy stream)" if paper_stream else noise_precision
    return _assemble(
        sde, boundary, plan, chunks, x0a, key, time.perf_counter() - start, noise, paper_stream
    )


def _guard_ensemble(plan: _Schedule, N: int, chunk: int) -> None:
    """Refuse an ensemble whose results cannot fit in memory; warn when it will run long."""
    per_path = 8.0 * (3 * N + 4)  # final, exit state, exit time/label/steps
    if plan.save == "paths":
        per_path += 8.0 * N * (plan.n_steps // max(plan.every, 1) + 1)
    check_memory(
        plan.n_paths * per_path + 8.0 * chunk * N * 6,
        "n_paths",
        f"an ensemble of {plan.n_paths:.3g} paths (save={plan.save!r})",
        "use fewer paths per call and combine several calls with different keys (each call keeps "
        "the final state of every path)",
    )
    warn_if_long(
        plan.n_paths * plan.n_steps * (N * N + 10 * N) / 2e9,
        f"simulating {plan.n_paths:.3g} paths x {plan.n_steps} steps",
        "Use fewer paths or a coarser dt, or a GPU.",
    )


def _progress(items: list[int], show: bool, what: str) -> Any:
    if not show:
        return items
    from rich.progress import track

    return track(items, description=what)


def _simulate_numpy_stream(
    sde: SDE,
    boundary: Boundary | None,
    x0s: np.ndarray,
    plan: _Schedule,
    seed: int,
    progress: bool,
) -> Any:
    """The whole ensemble as one chunk, step by step, with the noise of NumPy's legacy global
    stream (``numpy.random.seed(seed)``, then one ``normal(size=n)`` per step and component)."""
    n, every, n_steps = x0s.shape[0], plan.every, plan.n_steps
    M = noise_dimension(sde)
    dt_a = jnp.asarray(plan.dt, jnp.float64)
    np.random.seed(seed)  # the notebooks' legacy global stream, on purpose  # noqa: NPY002
    state = (
        jnp.asarray(x0s),
        jnp.zeros(n, jnp.int32),
        jnp.full(n, -1, jnp.int32),
        jnp.full(n, -1, jnp.int32),
    )
    saved: list[Any] = []
    for i in _progress(list(range(n_steps)), progress, "simulating (NumPy stream)"):
        xi = np.stack([np.random.normal(size=n) for _ in range(M)], axis=1)  # noqa: NPY002
        state = _em_step(
            sde,
            boundary,
            dt_a,
            state,
            jnp.asarray(plan.t0 + i * plan.dt),
            jnp.asarray(xi),
            jnp.asarray(i, jnp.int32),
        )
        if every and (i + 1) % every == 0 and (i + 1) // every <= n_steps // every:
            x = np.asarray(state[0])
            saved.append((x.sum(0), (x * x).sum(0)) if plan.stats else x)
    stacked: Any = (
        (np.stack([s[0] for s in saved]), np.stack([s[1] for s in saved]))
        if plan.stats and saved
        else (np.stack(saved) if saved else None)
    )
    return jax.device_get(state), stacked


def _saved_records(
    plan: _Schedule, chunks: list[Any], x0s: np.ndarray
) -> tuple[np.ndarray | None, ...]:
    """``(times, paths, mean, var)`` of the saved steps (the start state first); ``None`` where
    the save mode keeps nothing."""
    if not plan.every:
        return None, None, None, None
    n = plan.n_paths
    times = plan.t0 + plan.dt * plan.every * np.arange(0, plan.n_steps // plan.every + 1)
    if plan.stats:
        s1 = sum(np.asarray(c[1][0]) for c in chunks)
        s2 = sum(np.asarray(c[1][1]) for c in chunks)
        mean = np.concatenate([x0s.mean(0)[None], s1 / n])
        var = np.concatenate([x0s.var(0)[None], np.maximum(s2 / n - (s1 / n) ** 2, 0.0)])
        return times, None, mean, var
    paths = np.concatenate([x0s[None], np.concatenate([np.asarray(c[1]) for c in chunks], axis=1)])
    return times, paths, None, None


def _assemble(
    sde: SDE,
    boundary: Boundary | None,
    plan: _Schedule,
    chunks: list[Any],
    x0a: np.ndarray,
    key: Any,
    seconds: float,
    noise_precision: str,
    paper_stream: bool,
) -> Ensemble:
    """The :class:`Ensemble` of the chunks' end states (refused, naming the first path, if any
    became non-finite) and saved records, with the parameters that produced it."""
    dt, t0, n_paths = plan.dt, plan.t0, plan.n_paths
    final = np.concatenate([np.asarray(c[0][0]) for c in chunks])
    label = np.concatenate([np.asarray(c[0][1]) for c in chunks])
    exit_step = np.concatenate([np.asarray(c[0][2]) for c in chunks])
    bad = np.concatenate([np.asarray(c[0][3]) for c in chunks])
    if np.any(bad >= 0):
        p = int(np.argmax(bad >= 0))
        raise NonFiniteError(
            f"simulate: path {p} became non-finite at step {int(bad[p])} (t = {t0 + (bad[p] + 1) * dt:g}); "
            f"its last finite state is {final[p].tolist()} ({int(np.sum(bad >= 0))} of {n_paths} paths "
            "failed). Fix: lower dt, or check the drift/noise for blow-up in that region."
        )
    exited = label > 0
    x0s = np.broadcast_to(x0a, (n_paths, sde.dim)) if x0a.ndim <= 1 else x0a
    times, paths, mean, var = _saved_records(plan, chunks, x0s)
    params = {
        "model": sde.name,
        "x0": x0a if x0a.ndim <= 1 else "per-path",
        "T": plan.T,
        "dt": dt,
        "t0": t0,
        "n_paths": n_paths,
        "n_steps": plan.n_steps,
        "key": key if isinstance(key, int) else "jax key",
        "save": plan.save,
        "save_every": plan.every,
        "scheme": "euler-maruyama (Ito)",
        "chunks": len(chunks),
        "devices": len(jax.local_devices()),
        "noise_precision": noise_precision,
        "paper_stream": paper_stream,
    }
    return Ensemble(
        final=final,
        exit_label=label,
        exit_time=np.where(exited, t0 + (exit_step + 1) * dt, np.nan),
        exit_state=np.where(exited[:, None], final, np.nan),
        dt=dt,
        t0=t0,
        T=plan.T,
        parameters=params,
        times=times,
        paths=paths,
        mean=mean,
        var=var,
        labels=() if boundary is None else boundary.labels,
        seconds=seconds,
    )
