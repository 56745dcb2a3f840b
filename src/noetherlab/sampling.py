r"""Ensembles of sample paths: vectorised Euler–Maruyama, absorbing boundaries, first exits,
conditioning on transitions, and stationary densities.

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

A :class:`Boundary` absorbs a path at the first step whose new state lies outside the domain: the
path is frozen there (projected onto the boundary for :func:`interval`, like the notebooks' clip),
its exit label, exit step and exit state are recorded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from noetherlab._interp import resample
from noetherlab._resources import check_memory, warn_if_long
from noetherlab._validation import as_state, choice, positive_int
from noetherlab.errors import InvalidArgumentError, NonFiniteError, UnsupportedModelError
from noetherlab.sde import SDE

__all__ = [
    "Boundary",
    "Ensemble",
    "ball",
    "density",
    "interval",
    "load_ensemble",
    "predicate",
    "simulate",
]

Array = jax.Array


# ----------------------------------------------------------------------------------- boundaries
class Boundary(eqx.Module):
    """An absorbing boundary: ``check(x) -> (label, x_on_boundary)`` for one state ``x`` (traceable).

    ``label`` is an int: 0 inside the domain, ``k >= 1`` for having left through boundary part ``k``
    (``labels[k - 1]`` names it). ``x_on_boundary`` is the state the absorbed path is frozen at.
    The rule is code (``rule(params, x)``, compiled once) and the bounds are data (``params``), so
    a new boundary with other bounds reuses the compiled simulation.
    """

    rule: Callable[[Any, Array], tuple[Array, Array]] = eqx.field(static=True)
    params: Any
    labels: tuple[str, ...] = eqx.field(static=True)

    def check(self, x: Array) -> tuple[Array, Array]:
        return self.rule(self.params, x)


def _interval_rule(params: Array, x: Array) -> tuple[Array, Array]:
    lower, upper, axis = params[0], params[1], params[2].astype(jnp.int32)
    v = x[axis]
    label = jnp.where(v <= lower, 1, jnp.where(v >= upper, 2, 0))
    return label, x.at[axis].set(jnp.clip(v, lower, upper))


def interval(lower: float, upper: float, axis: int = 0) -> Boundary:
    """Absorbing bounds ``lower < x[axis] < upper`` (labels 1 = ``"lower"``, 2 = ``"upper"``); an
    absorbed path is clipped onto the bound it crossed (decision bounds of a drift–diffusion model)."""
    if np.isnan(lower) or np.isnan(upper) or not lower < upper:
        raise InvalidArgumentError(
            "lower/upper",
            f"need lower < upper (±inf allowed), got {lower}, {upper}",
            "swap or fix them",
        )
    params = jnp.asarray([lower, upper, axis], dtype=jnp.float64)
    return Boundary(_interval_rule, params, ("lower", "upper"))


def _ball_rule(params: tuple[Array, Array], x: Array) -> tuple[Array, Array]:
    center, radius = params
    return jnp.where(jnp.linalg.norm(x - center) <= radius, 1, 0), x


def ball(center: Any, radius: float) -> Boundary:
    """Absorb on entering the closed ball ``|x − center| <= radius`` (label 1 = ``"ball"``)."""
    c = jnp.asarray(np.asarray(center, dtype=float))
    if not radius > 0:
        raise InvalidArgumentError("radius", f"must be positive, got {radius}", "pass radius > 0")
    return Boundary(_ball_rule, (c, jnp.asarray(float(radius))), ("ball",))


@dataclass(frozen=True)
class _PredicateRule:
    """A user predicate as a boundary rule (equal, and compiled once, for the same ``fn``)."""

    fn: Callable[[Array], Any]

    def __call__(self, params: Any, x: Array) -> tuple[Array, Array]:
        return jnp.asarray(self.fn(x)).astype(jnp.int32), x


def predicate(fn: Callable[[Array], Any], labels: tuple[str, ...] = ("exit",)) -> Boundary:
    """A user boundary: ``fn(x)`` returns an int label (0 = inside, ``k`` = left through part ``k``)
    or a bool (True = left); the path is frozen at the first state outside."""
    return Boundary(_PredicateRule(fn), None, tuple(labels))


# ----------------------------------------------------------------------------------- result
@dataclass
class Ensemble:
    """Result of :func:`simulate`. Shapes: ``n`` paths, ``N`` state dimension, ``S`` saved times.

    Attributes:
        final: ``(n, N)`` states at ``T`` (absorbed paths: their frozen exit state).
        times, paths: ``(S,)`` and ``(S, n, N)`` when every k-th step was saved, else ``None``.
        mean, var: ``(S, N)`` running mean / variance over paths at ``times`` (``save="stats"``).
        exit_label: ``(n,)`` 0 = never absorbed, ``k`` = absorbed through boundary part ``k``.
        exit_time, exit_state: ``(n,)`` / ``(n, N)``, NaN where not absorbed.
        mask: ``(n,)`` which of the originally simulated paths these are (after conditioning).
    """

    final: np.ndarray
    exit_label: np.ndarray
    exit_time: np.ndarray
    exit_state: np.ndarray
    dt: float
    t0: float
    T: float
    parameters: dict[str, Any]
    times: np.ndarray | None = None
    paths: np.ndarray | None = None
    mean: np.ndarray | None = None
    var: np.ndarray | None = None
    labels: tuple[str, ...] = ()
    seconds: float = 0.0
    mask: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_paths(self) -> int:
        return int(self.final.shape[0])

    def exit_fraction(self, label: int | str | None = None) -> float:
        """Fraction of paths absorbed (through part ``label`` if given) by time ``T``."""
        return float(np.mean(self._label_mask(label))) if self.n_paths else float("nan")

    def _label_mask(self, label: int | str | None) -> np.ndarray:
        if label is None:
            return self.exit_label > 0
        if isinstance(label, str):
            if label not in self.labels:
                raise InvalidArgumentError(
                    "exit", f"unknown boundary part {label!r}", f"use one of {list(self.labels)}"
                )
            label = self.labels.index(label) + 1
        elif (
            isinstance(label, bool)
            or not isinstance(label, (int, np.integer))
            or not (1 <= int(label) <= len(self.labels))
        ):
            raise InvalidArgumentError(
                "exit",
                f"boundary part {label!r} does not exist (this ensemble's boundary has "
                f"{len(self.labels)} part(s): {list(self.labels)})",
                f"pass a name from {list(self.labels)} or a number in 1..{len(self.labels)}",
            )
        return self.exit_label == label

    def condition(
        self,
        exit: int | str | None = None,
        window: tuple[float, float] | None = None,
        end_ball: tuple[Any, float] | None = None,
    ) -> Ensemble:
        """The sub-ensemble of paths that exit through ``exit`` with exit time in ``window``
        (inclusive), and/or whose final state lies in the ball ``end_ball = (center, radius)``."""
        if window is not None:
            lo, hi = (float(w) for w in window)
            if not lo <= hi:
                raise InvalidArgumentError(
                    "window",
                    f"must be (earliest, latest) exit time with earliest <= latest, got {window}",
                    "swap the two times",
                )
        keep = np.ones(self.n_paths, bool)
        if exit is not None or window is not None:
            keep &= self._label_mask(exit)
        if window is not None:
            keep &= (self.exit_time >= window[0]) & (self.exit_time <= window[1])
        if end_ball is not None:
            c, r = np.asarray(end_ball[0], float), float(end_ball[1])
            keep &= np.linalg.norm(self.final - c, axis=-1) <= r
        base = np.arange(self.n_paths) if self.mask is None else np.flatnonzero(self.mask)
        full = np.zeros(self.n_paths if self.mask is None else len(self.mask), bool)
        full[base[keep]] = True
        return Ensemble(
            final=self.final[keep],
            exit_label=self.exit_label[keep],
            exit_time=self.exit_time[keep],
            exit_state=self.exit_state[keep],
            dt=self.dt,
            t0=self.t0,
            T=self.T,
            parameters={**self.parameters, "conditioned_on": [exit, window, end_ball]},
            times=self.times,
            paths=None if self.paths is None else self.paths[:, keep],
            labels=self.labels,
            seconds=self.seconds,
            mask=full,
        )

    def compare(self, t: Any, x: Any) -> dict[str, Any]:
        """Compare the saved sample paths with a reference path ``x(t)`` (e.g. a most likely path,
        interpolated linearly to the saved times): mean path, tube width (RMS distance of the samples
        from their mean), and the distribution of sup-distances of each sample from the reference."""
        if self.paths is None or self.times is None:
            raise UnsupportedModelError(
                "this ensemble kept no paths; simulate with save_every=k to compare with a path"
            )
        if self.n_paths == 0:
            raise InvalidArgumentError("ensemble", "is empty", "relax the conditioning")
        t, x = np.asarray(t, float), np.asarray(x, float).reshape(len(t), -1)
        ref = resample(x, t, self.times)
        mean = self.paths.mean(axis=1)
        tube = np.sqrt(np.mean(np.sum((self.paths - mean[:, None]) ** 2, -1), axis=1))
        dist = np.max(np.linalg.norm(self.paths - ref[:, None], axis=-1), axis=0)
        return {
            "times": self.times,
            "mean_path": mean,
            "tube_width": tube,
            "mean_path_to_reference_max": float(np.max(np.linalg.norm(mean - ref, axis=-1))),
            "sup_distance_median": float(np.median(dist)),
            "sup_distance_q10_q90": [float(np.quantile(dist, 0.1)), float(np.quantile(dist, 0.9))],
        }

    def histogram(self, bins: int = 30, range: Any = None, which: str = "final") -> Any:
        """Normalised histogram density of the final states (see :func:`density`)."""
        choice(which, "which", ("final", "exit"))
        if self.n_paths == 0:
            raise InvalidArgumentError(
                "ensemble",
                "is empty (no path satisfied the conditioning)",
                "relax the conditioning",
            )
        return density(self.final if which == "final" else self.exit_state, bins=bins, range=range)

    def to_dataset(self) -> Any:
        """An ``xarray.Dataset`` (dims ``path``, ``dim``, ``time``) with the parameters as attrs."""
        import xarray as xr

        data: dict[str, Any] = {
            "final": (("path", "dim"), self.final),
            "exit_label": (("path",), self.exit_label),
            "exit_time": (("path",), self.exit_time),
            "exit_state": (("path", "dim"), self.exit_state),
        }
        coords: dict[str, Any] = {}
        if self.times is not None:
            coords["time"] = self.times
        if self.paths is not None:
            data["paths"] = (("time", "path", "dim"), self.paths)
        if self.mean is not None and self.var is not None:
            data["mean"] = (("time", "dim"), self.mean)
            data["var"] = (("time", "dim"), self.var)
        import json

        from noetherlab import __version__
        from noetherlab.io import to_jsonable

        attrs = {
            "kind": "Ensemble",
            "noetherlab_version": __version__,
            "dt": self.dt,
            "t0": self.t0,
            "T": self.T,
            "seconds": self.seconds,
            "boundary_labels": json.dumps(list(self.labels)),
            "ensemble_parameters": json.dumps(to_jsonable(self.parameters)),
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)

    @staticmethod
    def from_dataset(ds: Any) -> Ensemble:
        """Rebuild an :class:`Ensemble` from :meth:`to_dataset` (or a file written from it)."""
        import json

        get = lambda k: np.asarray(ds[k].values) if k in ds else None
        return Ensemble(
            final=np.asarray(ds["final"].values, float),
            exit_label=np.asarray(ds["exit_label"].values).astype(np.int32),
            exit_time=np.asarray(ds["exit_time"].values, float),
            exit_state=np.asarray(ds["exit_state"].values, float),
            dt=float(ds.attrs["dt"]),
            t0=float(ds.attrs["t0"]),
            T=float(ds.attrs["T"]),
            parameters=json.loads(ds.attrs.get("ensemble_parameters", "{}")),
            times=None if "time" not in ds.coords else np.asarray(ds["time"].values, float),
            paths=get("paths"),
            mean=get("mean"),
            var=get("var"),
            labels=tuple(json.loads(ds.attrs.get("boundary_labels", "[]"))),
            seconds=float(ds.attrs.get("seconds", 0.0)),
        )


def load_ensemble(path: Any) -> Ensemble:
    """Read an ensemble saved from ``Ensemble.to_dataset`` (e.g. ``noetherlab simulate --out e.nc``)."""
    import xarray as xr

    from noetherlab.io import check_kind

    with xr.open_dataset(path, engine="h5netcdf") as ds:
        check_kind(ds.attrs, "Ensemble", path)
        return Ensemble.from_dataset(ds.load())


def density(samples: Any, bins: int | Any = 30, range: Any = None) -> Any:
    """Histogram density estimate of samples ``(n, N)`` (N = 1 or 2) as an ``xarray.DataArray``
    with bin-centre coordinates ``x0`` (, ``x1``), normalised to integrate to 1 over the range."""
    import xarray as xr

    s = np.asarray(samples, float)
    if s.size == 0:
        raise InvalidArgumentError("samples", "is empty", "pass at least one sample")
    s = s.reshape(len(s), -1)
    s = s[np.all(np.isfinite(s), axis=1)]
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        positive_int(bins, "bins")
    if s.shape[1] > 2 or s.shape[0] == 0:
        raise InvalidArgumentError(
            "samples", f"need a non-empty (n, 1) or (n, 2) array, got {s.shape}", "project first"
        )
    hist, edges = np.histogramdd(s, bins=bins, range=range, density=True)
    centres = {f"x{j}": 0.5 * (e[1:] + e[:-1]) for j, e in enumerate(edges)}
    return xr.DataArray(hist, coords=centres, dims=list(centres), name="density")


# ----------------------------------------------------------------------------------- kernels
def _step_fn(sde: SDE, boundary: Boundary | None, dt: Array) -> Callable[..., Any]:
    """One EM step for a batch: ``(state, t, xi, i) -> state``; ``state = (x, label, exit_step,
    bad_step)``. Absorbed or failed paths stay frozen."""
    sqdt = jnp.sqrt(dt)
    drift = jax.vmap(sde.f, in_axes=(0, None))
    const_G = sde.noise_matrix if sde.noise_matrix is not None else None
    if const_G is None and sde.constant_diffusion:
        const_G = sde.G(jnp.zeros(sde.dim))
    G = None if const_G is not None else jax.vmap(sde.G, in_axes=(0, None))
    check = None if boundary is None else jax.vmap(boundary.check)

    def step(state: tuple[Array, ...], t: Array, xi: Array, i: Array) -> tuple[Array, ...]:
        x, label, exit_step, bad_step = state
        i = i.astype(jnp.int32)
        noise = xi @ const_G.T if const_G is not None else jnp.einsum("bnm,bm->bn", G(x, t), xi)  # type: ignore[misc]
        x_new = x + drift(x, t) * dt + sqdt * noise
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


def _noise_dimension(sde: SDE) -> int:
    if sde.noise_matrix is not None:
        return int(sde.noise_matrix.shape[1])
    return int(jax.eval_shape(sde.G, jnp.zeros(sde.dim)).shape[-1])


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
    M = _noise_dimension(sde)
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
def _check_grid(T: float, dt: float) -> int:
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
        boundary: absorbing :class:`Boundary` (:func:`interval`, :func:`ball`, :func:`predicate`).
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
    n_steps = _check_grid(T, dt)
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
    every = 0
    if save != "final":
        every = save_every or max(1, n_steps // 100)
    choice(noise_precision, "noise_precision", ("float64", "float32"))
    chunk_size = positive_int(chunk_size, "chunk_size")
    x0a = np.asarray(x0, dtype=np.float64)
    x0s = (
        np.broadcast_to(as_state(x0a, "x0", sde.dim), (n_paths, sde.dim)) if x0a.ndim <= 1 else x0a
    )
    if x0s.shape != (n_paths, sde.dim) or not np.all(np.isfinite(x0s)):
        raise InvalidArgumentError(
            "x0",
            f"must be a finite ({sde.dim},) state or ({n_paths}, {sde.dim}) array, got {x0a.shape}",
            "pass one start state or one per path",
        )
    _guard_ensemble(n_paths, sde.dim, n_steps, every, save, min(chunk_size, n_paths))
    if boundary is not None:
        labels0 = np.asarray(
            jax.vmap(lambda x: boundary.check(x)[0])(jnp.asarray(x0s[: min(n_paths, 1000)]))
        )
        if np.any(labels0 > 0):
            k = int(np.argmax(labels0 > 0))
            part = (
                boundary.labels[int(labels0[k]) - 1]
                if int(labels0[k]) <= len(boundary.labels)
                else int(labels0[k])
            )
            raise InvalidArgumentError(
                "x0",
                f"start state {x0s[k].tolist()} lies outside the absorbing boundary (part {part!r}): "
                "every path would be absorbed at its first step",
                "start inside the domain",
            )
    sde.check_states(x0s[:1], t0, what="start")
    start = time.perf_counter()
    if paper_stream:
        if not isinstance(key, (int, np.integer)):
            raise InvalidArgumentError(
                "key", "with paper_stream=True the key is NumPy's integer seed", "pass e.g. key=0"
            )
        state, saved = _simulate_numpy_stream(
            sde, boundary, x0s, dt, t0, n_steps, every, save == "stats", int(key), progress
        )
        chunks = [(state, saved)]
        offsets = [0]
    else:
        base_key = jax.random.PRNGKey(key) if isinstance(key, int) else key
        chunks, offsets = [], list(range(0, n_paths, chunk_size))
        for c, lo in enumerate(_progress(offsets, progress, "simulating chunks")):
            chunks.append(
                simulate_chunk(
                    sde,
                    boundary,
                    x0s[lo : lo + chunk_size],
                    base_key,
                    c,
                    dt,
                    t0,
                    n_steps,
                    every,
                    save == "stats",
                    noise_precision,
                )
            )
    ens = _assemble(
        sde,
        chunks,
        offsets,
        boundary,
        dt,
        t0,
        T,
        n_steps,
        every,
        save,
        x0a,
        n_paths,
        key,
        time.perf_counter() - start,
    )
    ens.parameters["noise_precision"] = (
        "float64 (NumPy stream)" if paper_stream else noise_precision
    )
    ens.parameters["paper_stream"] = paper_stream
    return ens


def _guard_ensemble(n_paths: int, N: int, n_steps: int, every: int, save: str, chunk: int) -> None:
    """Refuse an ensemble whose results cannot fit in memory; warn when it will run long."""
    per_path = 8.0 * (3 * N + 4)  # final, exit state, exit time/label/steps
    if save == "paths":
        per_path += 8.0 * N * (n_steps // max(every, 1) + 1)
    check_memory(
        n_paths * per_path + 8.0 * chunk * N * 6,
        "n_paths",
        f"an ensemble of {n_paths:.3g} paths (save={save!r})",
        "use fewer paths per call and combine several calls with different keys (each call keeps "
        "the final state of every path)",
    )
    warn_if_long(
        n_paths * n_steps * (N * N + 10 * N) / 2e9,
        f"simulating {n_paths:.3g} paths x {n_steps} steps",
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
    dt: float,
    t0: float,
    n_steps: int,
    every: int,
    stats: bool,
    seed: int,
    progress: bool,
) -> Any:
    n = x0s.shape[0]
    M = _noise_dimension(sde)
    dt_a = jnp.asarray(dt, jnp.float64)
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
            jnp.asarray(t0 + i * dt),
            jnp.asarray(xi),
            jnp.asarray(i, jnp.int32),
        )
        if every and (i + 1) % every == 0 and (i + 1) // every <= n_steps // every:
            x = np.asarray(state[0])
            saved.append((x.sum(0), (x * x).sum(0)) if stats else x)
    stacked: Any = (
        (np.stack([s[0] for s in saved]), np.stack([s[1] for s in saved]))
        if stats and saved
        else (np.stack(saved) if saved else None)
    )
    return jax.device_get(state), stacked


def _assemble(
    sde: SDE,
    chunks: list[Any],
    offsets: list[int],
    boundary: Boundary | None,
    dt: float,
    t0: float,
    T: float,
    n_steps: int,
    every: int,
    save: str,
    x0a: np.ndarray,
    n_paths: int,
    key: Any,
    seconds: float,
) -> Ensemble:
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
    exit_time = np.where(exited, t0 + (exit_step + 1) * dt, np.nan)
    exit_state = np.where(exited[:, None], final, np.nan)
    times = paths = mean = var = None
    if every:
        times = t0 + dt * every * np.arange(0, n_steps // every + 1)
        x0s = np.broadcast_to(x0a, (n_paths, sde.dim)) if x0a.ndim <= 1 else x0a
        if save == "stats":
            s1 = sum(np.asarray(c[1][0]) for c in chunks)
            s2 = sum(np.asarray(c[1][1]) for c in chunks)
            mean = np.concatenate([x0s.mean(0)[None], s1 / n_paths])
            var = np.concatenate(
                [x0s.var(0)[None], np.maximum(s2 / n_paths - (s1 / n_paths) ** 2, 0.0)]
            )
        else:
            paths = np.concatenate(
                [x0s[None], np.concatenate([np.asarray(c[1]) for c in chunks], axis=1)]
            )
    params = {
        "model": sde.name,
        "x0": x0a if x0a.ndim <= 1 else "per-path",
        "T": T,
        "dt": dt,
        "t0": t0,
        "n_paths": n_paths,
        "n_steps": n_steps,
        "key": key if isinstance(key, int) else "jax key",
        "save": save,
        "save_every": every,
        "scheme": "euler-maruyama (Ito)",
        "chunks": len(offsets),
        "devices": len(jax.local_devices()),
    }
    return Ensemble(
        final=final,
        exit_label=label,
        exit_time=exit_time,
        exit_state=exit_state,
        dt=dt,
        t0=t0,
        T=T,
        parameters=params,
        times=times,
        paths=paths,
        mean=mean,
        var=var,
        labels=() if boundary is None else boundary.labels,
        seconds=seconds,
    )
