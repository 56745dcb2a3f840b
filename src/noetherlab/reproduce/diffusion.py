"""Case study: most likely denoising paths through a learned score, against the exact one.

1. **The seed's ring in 2-D** (Fig. 2 set-up: data on the ring R = 5 blurred by σ0 = 0.55, the
   variance-exploding schedule σ(t) = t on [10^-0.4, 10^1.5]). A 3×64 MLP score is trained here by
   denoising score matching (:func:`~noetherlab.models.score_training.train_score`) and saved.
   From the seed's start (0, 10) at t_max to points of the ring at t_min, the most likely paths of
   the reverse SDE through the exact score (:func:`~noetherlab.models.catalogue.ring_score`) and
   through the learned one: actions and angular momenta side by side, with the learned score's
   error measured on its own path; the probability-flow ODE trajectories of both.
2. **Why the learned angular momentum moves**: :func:`~noetherlab.noether.balance.charge_balance`
   along each learned path, whose discrete Noether identity (the change of the charge equals the
   summed variation of the discrete Lagrangian) closes to round-off, and whose bound by the learned
   score's rotation defect contains the drift.
3. **A 16-dimensional sphere** (data uniform on S^15, R = 1, σ0 = 0.1, σ(t) = t on [0.01, 3]): a
   3×128 MLP score, most likely paths from noise samples to data points (Newton–Krylov), and the
   angular momentum in each of the 120 coordinate planes: its drift against the defect bound.

``diffusion(out, modes, quick)`` returns ``{"checks", "numbers", "notes", "figures"}`` like the
figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab._core.figures import colour, figure, save
from noetherlab.models.catalogue import ring_score
from noetherlab.models.diffusion import VarianceExploding, diffusion_model
from noetherlab.models.score_training import (
    TrainedScore,
    ring_data,
    save_score,
    sphere_data,
    train_score,
)
from noetherlab.noether.balance import ChargeBalance, charge_balance
from noetherlab.noether.symmetries import Generator
from noetherlab.paths import PathResult, ResolutionControl, most_likely_path
from noetherlab.reproduce.fig1 import check

#: the seed's Fig. 2 start and the angles of the ring points the paths end at
START = np.array([0.0, 10.0])
END_ANGLES = (0.0, np.pi / 4, np.pi / 2, 3 * np.pi / 4)
RING_R = 5.0


def _score_error(trained: TrainedScore, path: PathResult) -> float:
    """``(Σ |s_learned − s_exact|² / Σ |s_exact|²)^½`` over the path's nodes (forward time
    ``t = −u``; a ratio of sums, since the exact score vanishes on the ring itself)."""
    x, t = jnp.asarray(path.x), jnp.asarray(-path.t)
    learned = jax.vmap(trained.network)(x, t)
    exact = jax.vmap(ring_score)(x, t)
    return float(jnp.sqrt(jnp.sum((learned - exact) ** 2) / jnp.sum(exact**2)))


def _balance_numbers(b: ChargeBalance) -> dict[str, float]:
    return {
        "drift": b.drift,
        "relative_drift": b.drift / b.scale,
        "predicted_change": float(b.predicted[-1]),
        "closure_relative": b.closure / b.scale,
        "bound_sum_abs_variation": b.bound,
        "defect": b.defect,
        "defect_bound": b.defect_bound,
    }


def _ring(out: Path, quick: bool) -> dict[str, Any]:
    sched = VarianceExploding()
    exact = diffusion_model(ring_score, sched, dim=2)
    trained = train_score(
        ring_data(4096, R=RING_R, sigma0=0.55), sched, width=64, depth=3,
        steps=1500 if quick else 3000,
    )  # fmt: skip
    save_score(trained, out / "diffusion_ring_score.eqx")
    u = exact.times(100 if quick else 200)
    rotation = Generator.rotation(0, 1, 2)
    rows = []
    for theta in END_ANGLES[::2] if quick else END_ANGLES:
        end = RING_R * np.array([np.cos(theta), np.sin(theta)])
        pair = {
            label: most_likely_path(model.reverse_sde, START, end, t=u)
            for label, model in (("exact", exact), ("learned", trained.model))
        }
        balance = charge_balance(
            trained.model.reverse_sde, rotation, pair["learned"].x, pair["learned"].t
        )
        rows.append(
            {
                "theta": theta,
                "paths": pair,
                "balance": balance,
                "score_error_on_path": _score_error(trained, pair["learned"]),
            }
        )
    flows = {
        label: model.probability_flow(START)[1]
        for label, model in (("exact", exact), ("learned", trained.model))
    }
    return {"trained": trained, "rows": rows, "flows": flows}


def _ell(path: PathResult) -> tuple[float, float]:
    """Median angular momentum ``L_01`` along the path and its relative drift."""
    ell = path.charges.angular_momentum
    return float(np.median(ell.values[:, 0, 1])), float(ell.drift)


def _sphere(out: Path, quick: bool) -> dict[str, Any]:
    d = 16
    sched = VarianceExploding(t_min=0.01, t_max=3.0)
    data = sphere_data(8192, d, R=1.0, sigma0=0.1)
    trained = train_score(data, sched, width=128, depth=3, steps=500 if quick else 3000)
    save_score(trained, out / "diffusion_sphere16_score.eqx")
    model = trained.model
    rng = np.random.default_rng(0)
    n_paths = 1 if quick else 3
    planes = [(i, j) for i in range(d) for j in range(i + 1, d)]
    paths, balances = [], []
    for k in range(n_paths):
        start = sched.t_max * rng.standard_normal(d)
        path = most_likely_path(
            model.reverse_sde,
            start,
            data[k],
            t=model.times(100 if quick else 200),
            resolution=ResolutionControl(check=not quick),
        )
        paths.append(path)
        balances.append(
            [
                charge_balance(model.reverse_sde, Generator.rotation(i, j, d), path.x, path.t)
                for i, j in planes
            ]
        )
    return {"trained": trained, "paths": paths, "balances": balances, "planes": planes}


def diffusion(out: Path, modes: set[str], quick: bool) -> dict[str, Any]:
    del modes  # a case study of our own: no notebook to replay
    res: dict[str, Any] = {"checks": [], "numbers": {}, "notes": [], "figures": []}
    ring, sphere = _ring(out, quick), _sphere(out, quick)
    ring_numbers = []
    for row in ring["rows"]:
        entry: dict[str, Any] = {"theta": row["theta"]}
        for label, path in row["paths"].items():
            ell, drift = _ell(path)
            entry[label] = {
                "converged": path.converged,
                "action": path.action,
                "ell_median": ell,
                "ell_drift": drift,
            }
        entry["learned"]["score_error_on_path"] = row["score_error_on_path"]
        entry["learned"]["balance"] = _balance_numbers(row["balance"])
        ring_numbers.append(entry)
    res["numbers"]["ring"] = ring_numbers
    res["numbers"]["ring_training"] = ring["trained"].message
    res["numbers"]["pf_ode_end"] = {k: v[-1].tolist() for k, v in ring["flows"].items()}
    exact_drift = max(e["exact"]["ell_drift"] for e in ring_numbers)
    res["checks"].append(
        check(
            f"diffusion: exact ring score, largest relative drift of ℓ on {len(ring_numbers)} paths",
            0.0,
            exact_drift,
            1e-6,
            "0: the exact score is rotation invariant",
            scale=1.0,
            kind="analytic",
        )
    )
    balances = [row["balance"] for row in ring["rows"]] + [
        b for plane_list in sphere["balances"] for b in plane_list
    ]
    worst_closure = max(b.closure / b.scale for b in balances)
    res["checks"].append(
        check(
            "diffusion: discrete Noether identity ΔQ = Σ δL_d, worst closure / charge scale",
            0.0,
            worst_closure,
            1e-6,
            f"{len(balances)} charges on learned-score paths (ring + 16-D sphere planes)",
            scale=1.0,
            kind="analytic",
        )
    )
    held = sum(b.drift <= b.defect_bound * (1 + 1e-9) for b in balances)
    res["checks"].append(
        check(
            "diffusion: charge drift within its symmetry-defect bound (fraction of charges)",
            1.0,
            held / len(balances),
            0.0,
            "|Q_n − Q_0| ≤ d √𝒟 (Σ h² |p|²)^½, the bound derived in noether.balance",
            kind="analytic",
        )
    )
    res["numbers"]["sphere"] = _sphere_numbers(sphere)
    res["notes"] += _notes(ring_numbers, ring, res["numbers"]["sphere"])
    res["figures"] += _figure(out, ring, sphere)
    return res


def _sphere_numbers(sphere: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"training": sphere["trained"].message, "paths": []}
    for path, plane_list in zip(sphere["paths"], sphere["balances"], strict=True):
        drift = np.array([b.drift / b.scale for b in plane_list])
        ratio = np.array([b.drift / b.defect_bound for b in plane_list])
        out["paths"].append(
            {
                "converged": path.converged,
                "method": path.method,
                "action": path.action,
                "planes": len(plane_list),
                "relative_drift_median": float(np.median(drift)),
                "relative_drift_max": float(np.max(drift)),
                "drift_over_bound_max": float(np.max(ratio)),
                "drift_over_bound_median": float(np.median(ratio)),
                "defect_median": float(np.median([b.defect for b in plane_list])),
            }
        )
    return out


def _notes(rows: list[dict[str, Any]], ring: dict[str, Any], sphere: dict[str, Any]) -> list[str]:
    lines = [
        f"Learned ring score: {ring['trained'].message}; weights in diffusion_ring_score.eqx.",
        "Paths from (0, 10) at t_max to the ring at angle θ (exact vs learned): "
        + "; ".join(
            f"θ = {e['theta']:.2f}: S {e['exact']['action']:.4f} vs {e['learned']['action']:.4f}, "
            f"ℓ {e['exact']['ell_median']:+.4f} vs {e['learned']['ell_median']:+.4f} "
            f"(score error on the learned path {100 * e['learned']['score_error_on_path']:.0f} %)"
            for e in rows
        )
        + ". The paths cut through the inside of the ring, where the data put little mass and "
        "the learned score is least accurate: the action differs by more than ℓ.",
        "Along the learned paths the angular momentum moves by "
        + ", ".join(
            f"{e['learned']['balance']['drift']:.2e} ({100 * e['learned']['balance']['relative_drift']:.0f} % of its scale)"
            for e in rows
        )
        + "; Noether's identity predicts "
        + ", ".join(f"{e['learned']['balance']['predicted_change']:+.2e}" for e in rows)
        + " from the variation of the learned Lagrangian alone, within the defect bounds "
        + ", ".join(f"{e['learned']['balance']['defect_bound']:.2e}" for e in rows)
        + ".",
    ]
    for k, p in enumerate(sphere["paths"]):
        lines.append(
            f"16-D sphere, path {k} ({p['method']}, S = {p['action']:.4f}): over the "
            f"{p['planes']} coordinate planes the angular momentum drifts by "
            f"{p['relative_drift_median']:.1e} (median, relative to its scale; largest "
            f"{p['relative_drift_max']:.1e}), at most {p['drift_over_bound_max']:.2f} of its "
            f"defect bound (median {p['drift_over_bound_median']:.2f}); median defect "
            f"{p['defect_median']:.3f}."
        )
    return lines


def _figure(out: Path, ring: dict[str, Any], sphere: dict[str, Any]) -> list[str]:
    fig, axes = figure(ncols=4, width=3.4, height=3.4)
    ax = axes[0]
    phi = np.linspace(0.0, 2 * np.pi, 200)
    ax.plot(RING_R * np.cos(phi), RING_R * np.sin(phi), color="0.8", lw=4, label="data ring")
    for k, row in enumerate(ring["rows"]):
        for label, style in (("exact", "-"), ("learned", "--")):
            x = row["paths"][label].x
            ax.plot(x[:, 0], x[:, 1], style, color=colour(k), lw=1.2)
    for label, style in (("exact", "-"), ("learned", "--")):
        xs = ring["flows"][label]
        ax.plot(xs[:, 0], xs[:, 1], style, color="black", lw=0.8, label=f"PF-ODE ({label})")
    ax.set_aspect("equal")
    ax.set_title("most likely paths: exact (—), learned (--)")
    ax.legend(frameon=False, loc="lower left", fontsize=7)
    ax = axes[1]
    for k, row in enumerate(ring["rows"]):
        for label, style in (("exact", "-"), ("learned", "--")):
            p = row["paths"][label]
            ell = p.charges.angular_momentum
            ax.plot(-ell.times, ell.values[:, 0, 1], style, color=colour(k))
    ax.set_xscale("log")
    ax.set_xlabel("t (forward time; generation runs right to left)")
    ax.set_ylabel("angular momentum ℓ")
    ax.set_title("ℓ along the paths")
    ax = axes[2]
    for k, row in enumerate(ring["rows"]):
        b = row["balance"]
        ax.plot(-b.t, b.change, color=colour(k), lw=1.2)
        ax.plot(-b.t, b.predicted, ":", color="black", lw=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("Q − Q(t_max)")
    ax.set_title("learned ℓ: measured (—), Σ δL_d (···)")
    ax = axes[3]
    for k, plane_list in enumerate(sphere["balances"]):
        drift = np.array([max(b.drift, 1e-300) for b in plane_list])
        bound = np.array([b.defect_bound for b in plane_list])
        ax.loglog(bound, drift, ".", color=colour(k), ms=4, label=f"path {k}")
    lo = min(b.defect_bound for pl in sphere["balances"] for b in pl)
    hi = max(b.defect_bound for pl in sphere["balances"] for b in pl)
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, label="drift = bound")
    ax.set_xlabel("defect bound")
    ax.set_ylabel("|ΔL_ij| along the path")
    ax.set_title("d = 16 sphere: 120 coordinate planes")
    ax.legend(frameon=False, fontsize=7)
    return save(fig, out, "diffusion_learned_score")
