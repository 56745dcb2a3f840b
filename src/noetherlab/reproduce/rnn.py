"""Case study: trained noisy RNNs, their approximate symmetries, and symmetries learned back from
conserved quantities (the seed paper's headline use and its closing suggestion).

1. Two 100-unit rate networks are trained here (:mod:`noetherlab.models.trained_rnn`): one stores an angle
   (a ring attractor), one the nearest of three angles (three point attractors). Weights are saved.
2. Fixed points (:func:`~noetherlab.metastability.fixed_points.find_fixed_points`, seeded from held states), the
   states' top two principal components, and the near-rotation symmetry in that plane with its
   defect (:mod:`noetherlab.noether.approximate`).
3. Most likely transitions between neighbouring stable states at fixed ``T``: energy and the
   charge of the approximate rotation along them, against a conditioned ensemble of simulated
   transitions (whose mean noise force ``⟨ẋ − f⟩ = 2D p`` estimates the momentum, hence the charge).
4. Symmetries learned from the charges of path families (:mod:`noetherlab.noether.learning`):
   rotation for Fig. 1b, translation for the drift–diffusion model, rotation for the ring diffusion
   of Fig. 2 — and what the trained ring network gives.

``rnn(out, modes, quick)`` returns ``{"checks", "numbers", "notes", "figures"}`` like the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.figures import OKABE_ITO, colour, figure, save
from noetherlab._core.interp import resample
from noetherlab.ensembles.simulation import simulate
from noetherlab.metastability.fixed_points import find_fixed_points
from noetherlab.models.catalogue import drift_diffusion, gaussian_ring_reverse, ornstein_uhlenbeck
from noetherlab.models.trained_rnn import (
    DT,
    HOLD_FROM,
    PULSE_STEPS,
    TRIAL_STEPS,
    TrainedRNN,
    train_rnn,
)
from noetherlab.noether.approximate import approximate_symmetries, symmetry_defect
from noetherlab.noether.charges import noether_charge
from noetherlab.noether.learning import LearnedSymmetries, learn_symmetries
from noetherlab.noether.symmetries import Generator
from noetherlab.paths import PathResult, ResolutionControl, most_likely_path
from noetherlab.reproduce.fig1 import check

#: noise of the analysed networks (D = noise·I) and transit time of the transitions
NOISE = 0.1
T_TRANSIT = 30.0


def _held_states(net: TrainedRNN, n_angles: int) -> tuple[np.ndarray, np.ndarray]:
    """States of noiseless trials while the memory is held (t = 2 … 12), ``(n_angles·50, N)``, and
    the trials' final states after a further 40 time units (seeds for the fixed points)."""
    theta = np.linspace(0.0, 2.0 * np.pi, n_angles, endpoint=False)
    u = np.stack([np.cos(theta), np.sin(theta)], axis=1) @ net.B.T
    x = np.zeros((n_angles, net.N))
    held = []
    for i in range(TRIAL_STEPS + 200):
        x = x + DT * (-x + np.tanh(x) @ net.W.T + net.b + (u if i < PULSE_STEPS else 0.0))
        if HOLD_FROM <= i < TRIAL_STEPS:
            held.append(x.copy())
    return np.concatenate(held), x


def _along_ring(
    held: np.ndarray, c: np.ndarray, U: np.ndarray, x0: np.ndarray, x1: np.ndarray
) -> Any:
    """Initial path ``s -> x`` from ``x0`` to ``x1`` along the held states, by their angle in the
    PC plane (the shorter arc), shifted to meet the end points exactly."""
    z = (held - c) @ U
    phi = np.arctan2(z[:, 1], z[:, 0])
    order = np.argsort(phi)
    phi, states = phi[order], held[order]

    def on_ring(angle: float) -> np.ndarray:
        a = (angle + np.pi) % (2.0 * np.pi) - np.pi
        return np.stack(
            [np.interp(a, phi, states[:, k], period=2.0 * np.pi) for k in range(held.shape[1])]
        )

    a0, a1 = (float(np.arctan2(*((x - c) @ U)[::-1])) for x in (x0, x1))
    da = (a1 - a0 + np.pi) % (2.0 * np.pi) - np.pi
    r0, r1 = on_ring(a0), on_ring(a1)
    return lambda s: on_ring(a0 + s * da) + (1.0 - s) * (x0 - r0) + s * (x1 - r1)


def _rotation(U: np.ndarray, c: np.ndarray) -> Generator:
    """Rotation in the plane of ``U``'s two columns about ``c``: ``A = U J U^T``, ``b = -A c``."""
    A = U @ np.array([[0.0, -1.0], [1.0, 0.0]]) @ U.T
    return Generator(A=A, b=-A @ c, name="rotation in the PC1-PC2 plane")


def _analyse(net: TrainedRNN, quick: bool) -> dict[str, Any]:
    """Fixed points, principal plane, approximate symmetries and transitions of one network."""
    sde = net.sde(NOISE)
    held, ends = _held_states(net, 24 if quick else 72)
    c = held.mean(axis=0)
    _, s, vt = np.linalg.svd(held - c, full_matrices=False)
    U = vt[:2].T
    search = find_fixed_points(sde, box=(-3.0, 3.0), seeds=ends, starts=32 if quick else 64)
    attractors = sorted(search.attractors, key=lambda p: float(net.readout_angle(p.x)))
    approx = approximate_symmetries(sde, held, subspace=U, max_defect=1.0)
    rot = _rotation(U, c)
    pairs = [(i, (i + 1) % len(attractors)) for i in range(len(attractors))]
    if len(attractors) == 2:
        pairs = pairs[:1]
    paths, routes = [], []
    for i, j in pairs:
        x0, x1 = attractors[i].x, attractors[j].x
        # on the ring two local minima are common, across its centre and along it: keep the lower
        tries = [
            most_likely_path(
                sde,
                x0,
                x1,
                T=T_TRANSIT,
                n=100 if quick else 200,
                resolution=ResolutionControl(rtol=1e-3 if quick else 1e-4),
                init=init,
            )
            for init in (None, _along_ring(held, c, U, x0, x1))[: 2 if net.task == "ring" else 1]
        ]
        ok = [r for r in tries if r.converged] or tries
        res = min(ok, key=lambda r: r.action)
        J = noether_charge(sde, res.x, res.t, rot)
        paths.append((i, j, res, J))
        routes.append("along the ring" if res is not tries[0] else "straight line")
    return {
        "sde": sde,
        "held": held,
        "center": c,
        "U": U,
        "explained": (s[:2] ** 2 / np.sum(s**2)).tolist(),
        "search": search,
        "attractors": attractors,
        "approx": approx,
        "rotation": rot,
        "rotation_defect": symmetry_defect(sde, rot, held),
        "paths": paths,
        "routes": routes,
    }


def _conditioned(net: TrainedRNN, a: dict[str, Any], quick: bool) -> dict[str, Any]:
    """Simulated transitions of the cheapest transition, conditioned to end near its target, and
    the momentum they imply: ``p̂ = ⟨Δx/Δt − f̄⟩ / 2D`` (the mean noise force of the conditioned
    process is ``2D ∇log h → 2D p`` as ``D → 0``), hence the rotation charge ``p̂·δx``.

    The noise is chosen so that the path's action is ``S = 3`` (and ``S = 4``): ``D_sim = D·S(D)/S``.
    With isotropic noise the most likely path does not depend on ``D`` and its momentum scales as
    ``1/D``, so its charge at ``D_sim`` is ``J(D)·D/D_sim``. Paths are kept when their end lies,
    in the PC plane, within 20 % of the attractors' distance of the target (the 98 other
    directions carry noise only)."""
    i, j, res, J = min(a["paths"], key=lambda q: q[2].action)
    x0, x1 = a["attractors"][i].x, a["attractors"][j].x
    U, rot = a["U"], a["rotation"]
    dt, every = 0.05, 10
    h = dt * every
    t_grid = h * np.arange(round(T_TRANSIT / h) + 1)
    mlp = resample(res.x, res.t, t_grid)
    span = float(np.linalg.norm((x1 - x0) @ U))
    out: dict[str, Any] = {"transition": [i, j], "runs": []}
    for action, n_paths in ((3.0, 1000),) if quick else ((3.0, 4000), (4.0, 8000)):
        d_sim = NOISE * res.action / action
        sde = net.sde(d_sim)
        ens = simulate(sde, x0, T_TRANSIT, dt, n_paths, key=1, save="paths", save_every=every)
        assert ens.paths is not None
        keep = np.linalg.norm((ens.final - x1) @ U, axis=1) < 0.2 * span
        run: dict[str, Any] = {
            "action": action,
            "noise": d_sim,
            "simulated": n_paths,
            "accepted": int(keep.sum()),
            "J_path": float(np.mean(J.values)) * NOISE / d_sim,
        }
        out["runs"].append(run)
        if keep.sum() < 5:
            continue
        X = ens.paths[:, keep]  # (steps, M, N)
        f = sde.drift_at(X.reshape(-1, net.N)).reshape(X.shape)
        force = np.diff(X, axis=0) / h - 0.5 * (f[1:] + f[:-1])  # (steps-1, M, N)
        mid = 0.5 * (X[1:] + X[:-1])
        J_each = np.mean(np.sum(force / (2.0 * d_sim) * (mid @ rot.A.T + rot.b), axis=2), axis=0)
        mean = X.mean(axis=1)
        run.update(
            J_mean=float(np.mean(J_each)),
            J_sem=float(np.std(J_each, ddof=1) / np.sqrt(J_each.size)),
            pc_rms_distance=float(np.sqrt(np.mean(np.sum(((mean - mlp) @ U) ** 2, axis=1)))),
        )
        run["J_ratio"] = run["J_mean"] / run["J_path"]
        out["mean_path"] = mean
    out["pc_attractor_distance"] = span
    return out


def _family(sde: Any, x0: Any, ends: list[Any], **kw: Any) -> list[PathResult]:
    return [most_likely_path(sde, x0, e, **kw) for e in ends]


def _learned_numbers(res: LearnedSymmetries) -> dict[str, Any]:
    return {
        "found": [s.name for s in res],
        "residuals": [s.residual for s in res],
        "singular_values": res.singular_values.tolist(),
        "gap": res.gap,
        "certified": res.certified,
        "paths": res.n_paths,
        "nearest_candidates": [s.name for s in res.candidates[:3]],
        "nearest_candidate_residuals": [s.residual for s in res.candidates[:3]],
    }


def _learning(quick: bool, ring: dict[str, Any]) -> dict[str, Any]:
    """Symmetries learned from path families of Fig. 1b, the DDM, Fig. 2 and the ring RNN."""
    n, rtol = (60, 1e-3) if quick else (200, 1e-4)
    # the learned generators depend on the solved paths, not on their resolution study: the quick
    # run skips the study's coarse-grid solves (the paths themselves are the same)
    kw: dict[str, Any] = {"resolution": ResolutionControl(rtol=rtol, check=not quick)}
    ou = ornstein_uhlenbeck(K=1.0, D=1.0, dim=2)
    ends2 = [(2.0, 2.0), (-1.0, 2.5), (1.5, -1.0), (0.5, 0.5)]
    out = {"fig1b_ou": learn_symmetries(ou, _family(ou, (-2.0, 2.0), ends2, T=1.0, n=n, **kw))}
    ddm = drift_diffusion(0.1, 1.0)
    out["ddm"] = learn_symmetries(ddm, _family(ddm, 0.0, [1.0, -1.0, 2.0], T=1.0, n=n, **kw))
    rev = gaussian_ring_reverse()
    t = np.linspace(-4.0, -1.0, n + 1)
    ends = [5.0 * np.array([np.cos(a), np.sin(a)]) for a in (np.pi / 4, 0.0, -np.pi / 4)]
    out["fig2_ring"] = learn_symmetries(rev, _family(rev, (0.0, 10.0), ends, t=t, **kw))
    out["ring_rnn"] = learn_symmetries(
        ring["sde"], [res for _, _, res, _ in ring["paths"]], subspace=ring["U"]
    )
    return out


def _network_numbers(net: TrainedRNN, a: dict[str, Any]) -> dict[str, Any]:
    approx = a["approx"]
    return {
        "N": net.N,
        "task": net.task,
        "training_steps": net.steps,
        "training_loss_first": float(net.loss_history[0]),
        "training_loss_final": net.final_loss,
        "fixed_points": a["search"].summary(),
        "attractor_readout_angles_deg": [
            float(np.degrees(net.readout_angle(p.x))) for p in a["attractors"]
        ],
        "slowest_attractor_rate": [float(-np.max(p.eigenvalues.real)) for p in a["attractors"]],
        "pc_variance_explained": a["explained"],
        "rotation_defect": a["rotation_defect"],
        "smallest_defects_in_pc_plane": approx.defects[:3].tolist(),
        "nearest_symmetry": approx.symmetries[0].name if len(approx) else "none",
        "transitions": [
            {
                "from": i,
                "to": j,
                "converged": res.converged,
                "action": res.action,
                "energy": res.energy,
                "energy_drift": res.charges.energy.drift,
                "rotation_charge": float(np.mean(J.values)),
                "rotation_charge_drift": J.drift,
                "el_residual": res.el_residual,
                "initial_path": route,
            }
            for (i, j, res, J), route in zip(a["paths"], a["routes"], strict=True)
        ],
    }


def _plane(ax: Any, net: TrainedRNN, a: dict[str, Any], cond: dict[str, Any] | None) -> None:
    pc = lambda z: (np.asarray(z) - a["center"]) @ a["U"]
    h = pc(a["held"])
    ax.scatter(h[:, 0], h[:, 1], s=1, color="grey", alpha=0.25, label="held states")
    for k, (_, _, res, _) in enumerate(a["paths"]):
        z = pc(res.x)
        ax.plot(z[:, 0], z[:, 1], color=colour(k), lw=1.4, label="most likely" if k == 0 else None)
    if cond is not None and "mean_path" in cond:
        z = pc(cond["mean_path"])
        ax.plot(z[:, 0], z[:, 1], "--", color="black", lw=1.2, label="conditioned mean")
    for p in a["search"].points:
        z = pc(p.x[None])[0]
        if p.stable:
            ax.plot(*z, "o", color=OKABE_ITO["blue"], ms=6, zorder=5)
        elif p.is_saddle and p.index == 1:
            ax.plot(*z, "x", color=OKABE_ITO["vermillion"], ms=7, mew=2, zorder=5)
        else:
            ax.plot(*z, "s", color=OKABE_ITO["purple"], ms=5, zorder=5)
    ax.set_xlabel("PC1")
    ax.set_ylabel("PC2")
    ax.set_title(f"{net.task} RNN (N = {net.N}): ● stable, × saddle")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", frameon=False)


def rnn(out: Path, modes: set[str], quick: bool) -> dict[str, Any]:
    del modes  # a case study of our own: no notebook to replay
    res: dict[str, Any] = {"checks": [], "numbers": {}, "notes": [], "figures": []}
    N, steps = (40, 120) if quick else (100, 400)
    ring_net = train_rnn("ring", N, steps=steps, seed=0)
    memory_net = train_rnn("memory", N, steps=steps, seed=1, n_memories=3)
    ring_net.save(out / "rnn_ring.nc")
    memory_net.save(out / "rnn_memory.nc")
    ring, memory = _analyse(ring_net, quick), _analyse(memory_net, quick)
    cond = _conditioned(ring_net, ring, quick)
    learned = _learning(quick, ring)

    res["numbers"]["ring"] = _network_numbers(ring_net, ring)
    res["numbers"]["memory"] = _network_numbers(memory_net, memory)
    res["numbers"]["conditioned_ensemble"] = {k: v for k, v in cond.items() if k != "mean_path"}
    res["numbers"]["learned"] = {k: _learned_numbers(v) for k, v in learned.items()}
    # closed forms: exact symmetries learned back to roundoff / solver tolerance
    for key, label, kind in (
        ("fig1b_ou", "Fig. 1b OU", "rotation"),
        ("ddm", "drift-diffusion", "translation"),
        ("fig2_ring", "Fig. 2 ring diffusion", "rotation"),
    ):
        found = learned[key]
        ok = len(found) == 1 and found.symmetries[0].kind == kind and found.certified
        res["checks"].append(
            check(
                f"learned from path charges: {label} has one symmetry, a {kind} (1 = yes)",
                1.0,
                1.0 if ok else 0.0,
                0.0,
                f"{found.n_paths} most likely paths",
                kind="analytic",
            )
        )
        if len(found):
            res["checks"].append(
                check(
                    f"learned {label} {kind}: relative drift of its charge",
                    0.0,
                    found.symmetries[0].residual,
                    1e-5,
                    "0 for an exact symmetry",
                    scale=1.0,
                    kind="analytic",
                )
            )
    best = learned["ring_rnn"].candidates[0]
    res["notes"] += [
        f"Trained: a {N}-unit ring network ({steps} Adam steps, loss "
        f"{ring_net.loss_history[0]:.3f} → {ring_net.final_loss:.2e}) and a three-memory network "
        f"(loss {memory_net.loss_history[0]:.3f} → {memory_net.final_loss:.2e}); weights in "
        "rnn_ring.nc and rnn_memory.nc.",
        f"Ring: {ring['search'].summary()}. The rotation in its PC1-PC2 plane (explaining "
        f"{100 * sum(ring['explained']):.1f} % of the held states' variance) has defect "
        f"{ring['rotation_defect']:.3f}; the memory network's has {memory['rotation_defect']:.3f} "
        "(0 = exact symmetry, about 1 = none).",
        "Along the ring's most likely transitions (T = 30, D = 0.1) the energy drifts by "
        + ", ".join(f"{t['energy_drift']:.1e}" for t in res["numbers"]["ring"]["transitions"])
        + " and the approximate rotation charge by "
        + ", ".join(
            f"{t['rotation_charge_drift']:.2f}" for t in res["numbers"]["ring"]["transitions"]
        )
        + " (relative).",
        f"Learned from the ring network's {learned['ring_rnn'].n_paths} transitions (generator "
        f"restricted to the PC plane): best '{best.name}', charge drift {best.residual:.3f}.",
    ]
    runs = [r for r in cond["runs"] if "J_mean" in r]
    if runs:
        res["notes"].append(
            f"Conditioned ensembles of transition {cond['transition'][0]}→{cond['transition'][1]}"
            " (rotation charge from the mean noise force, against the most likely path's): "
            + "; ".join(
                f"S = {r['action']:g} (D = {r['noise']:.3g}, {r['accepted']} of {r['simulated']} "
                f"paths): {r['J_mean']:.3g} ± {r['J_sem']:.2g} vs {r['J_path']:.3g}, ratio "
                f"{r['J_ratio']:.2f}, mean path {r['pc_rms_distance']:.2f} (RMS, PC plane) from "
                "the most likely one"
                for r in runs
            )
            + f"; the attractors are {cond['pc_attractor_distance']:.2f} apart in the PC plane. "
            "(The ratio should tend to 1 as D → 0, where the conditioned noise force tends to 2D p.)"
        )
    res["figures"] += _figure(out, ring_net, memory_net, ring, memory, cond)
    return res


def _figure(
    out: Path,
    ring_net: TrainedRNN,
    memory_net: TrainedRNN,
    ring: dict[str, Any],
    memory: dict[str, Any],
    cond: dict[str, Any],
) -> list[str]:
    fig, axes = figure(ncols=5, width=3.3, height=3.3)
    ax = axes[0]
    for k, net in enumerate((ring_net, memory_net)):
        ax.semilogy(net.loss_history, color=colour(k), lw=0.8, label=net.task)
    ax.set_xlabel("Adam step")
    ax.set_ylabel("training loss")
    ax.set_title("training")
    ax.legend(frameon=False)
    _plane(axes[1], ring_net, ring, cond)
    _plane(axes[2], memory_net, memory, None)
    ax = axes[3]
    for k, (i, j, res, J) in enumerate(ring["paths"]):
        ax.plot(
            res.t,
            (J.values - np.mean(J.values)) / J.scale,
            color=colour(k),
            lw=1.2,
            label=f"rotation charge, {i}→{j}",
        )
        e = res.charges.energy
        ax.plot(e.times, (e.values - np.mean(e.values)) / e.scale, ":", color=colour(k))
    ax.set_xlabel("t")
    ax.set_ylabel("(charge − mean) / size of its terms")
    ax.set_title("ring transitions: rotation charge (—), energy (···)")
    ax.legend(frameon=False, loc="best")
    ax = axes[4]
    runs = [r for r in cond["runs"] if "J_mean" in r]
    if runs:
        S = np.array([r["action"] for r in runs])
        DJ = np.array([r["J_mean"] * r["noise"] for r in runs])
        err = np.array([2.0 * r["J_sem"] * r["noise"] for r in runs])
        ax.errorbar(S, DJ, yerr=err, fmt="o", color="black", label="conditioned ensemble (±2 s.e.)")
        ax.axhline(runs[0]["J_path"] * runs[0]["noise"], color=colour(0), label="most likely path")
        ax.set_xlim(0.0, max(S) + 1.0)
        ax.legend(frameon=False, loc="best")
    ax.set_xlabel("action S at the simulated noise (∝ 1/D)")
    ax.set_ylabel("D · rotation charge")
    ax.set_title(
        f"transition {cond['transition'][0]}→{cond['transition'][1]}: charge from simulation"
    )
    return save(fig, out, "rnn_ring_memory")
