"""Figures and report files of :func:`noetherlab.training.check.train_check`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from noetherlab._core.figures import colour, figure, save
from noetherlab._core.io import atomic_write, save_json

FLOOR = 1e-17  # drift plotted on a log axis: exact zeros are drawn at this floor


def _num(v: float | None, spec: str) -> str:
    return "exact (roundoff)" if v is None else format(v, spec)


def _drift_figure(out: Path, runs: dict[str, Any], series: dict[str, Any]) -> list[str]:
    fig, axes = figure(3, width=3.4)
    titles = ("known (architecture) laws", "augmentation laws", "training loss")
    for i, (name, (s_known, s_sub)) in enumerate(series.items()):
        t = runs[name].times
        for ax, s in zip(axes[:2], (s_known, s_sub), strict=True):
            if s.size:
                ax.semilogy(t, np.maximum(np.max(s, axis=0), FLOOR), color=colour(i), label=name)
        axes[2].semilogy(t, runs[name].loss, color=colour(i), label=name)
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("time (steps × η)")
    axes[0].set_ylabel("max relative drift")
    axes[1].set_ylabel("max ‖P(t) − P(0)‖₂")
    axes[2].legend(frameon=False)
    return save(fig, out, "law_drift")


def _scaling_figure(out: Path, scaling: dict[str, Any]) -> list[str]:
    fig, ax = figure(1)
    etas = np.asarray(scaling["etas"])
    for i, method in enumerate(("gd", "sgd")):
        s = scaling[method]
        for key, style, what in (
            ("fixed_steps", "o-", "10 steps"),
            ("fixed_time", "s--", "fixed time"),
        ):
            y = np.maximum(np.asarray(s[f"drift_{key}"]), FLOOR)
            ax.loglog(
                etas,
                y,
                style,
                color=colour(i),
                ms=3,
                label=f"{method}, {what}: slope {_num(s[f'slope_{key}'], '.2f')}",
            )
    ax.set_xlabel("step size η")
    ax.set_ylabel("max drift over the laws")
    ax.set_title("discretisation drift: O(η²) per step, O(η) at fixed time")
    ax.legend(frameon=False)
    return save(fig, out, "step_size_scaling")


def _weight_decay_figure(out: Path, wd: dict[str, Any], lam: float, lr: float) -> list[str]:
    fig, ax = figure(1)
    t = np.asarray(wd["times"])
    ax.plot(t, wd["ratio"], color=colour(0), label=f"GD + weight decay: {wd['law']}")
    ax.plot(t, np.exp(-2 * lam * t), "--", color=colour(1), label="exp(−2λt) (flow)")
    ax.plot(t, (1 - lr * lam) ** (2 * t / lr), ":", color=colour(2), label="(1 − ηλ)^(2k) (GD)")
    ax.set_xlabel("time (steps × η)")
    ax.set_ylabel("h(θ_t) / h(θ_0)")
    ax.set_title(f"weight decay λ = {lam:g}: fitted rate {wd['fitted_rate']:.4f}")
    ax.legend(frameon=False)
    return save(fig, out, "weight_decay")


def _broken_laws_figure(out: Path, rows: list[dict[str, Any]]) -> list[str]:
    shown = [r for r in rows if "measured" in r]
    fig, axes = figure(len(shown), width=3.2)
    for ax, row in zip(np.atleast_1d(axes), shown, strict=True):
        t = np.asarray(row["times"])
        ax.plot(t, row["measured"], color=colour(0), label="measured")
        if "predicted" in row:
            ax.plot(t, row["predicted"], "--", color=colour(1), label="predicted (finite step)")
            ax.plot(t, row["flow"], ":", color=colour(2), label="gradient flow (η → 0)")
        ax.set_title(row["method"])
        ax.set_xlabel("time (steps × η)")
    np.atleast_1d(axes)[0].set_ylabel(shown[0]["law"])
    np.atleast_1d(axes)[0].legend(frameon=False)
    return save(fig, out, "broken_laws")


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Training-run check: {report['architecture']}, {report['loss']} loss",
        "",
        f"Augmentation: {report['group'] or 'none'} ({report['average']}); {report['base_samples']} "
        f"base samples; η = {report['lr']}, {report['steps']} steps (flow time {report['flow_time']:g}).",
        "",
        "## Laws checked",
        "",
        *[f"- {k}" for k in report["known_laws"]],
        *[
            f"- {s['name']}: {s['scalar_laws']} scalar laws (rank {s['rank']}; {s['reason']}): "
            + "; ".join(f"`{f}`" for f in s["formulas"])
            for s in report["augmentation_laws"]
        ],
        *[f"- note: {n}" for n in report["notes"]],
        "",
        "## Final drift",
        "",
        "| method | known laws | augmentation laws | final loss |",
        "|---|---|---|---|",
    ]
    fmt = lambda v: "—" if v is None else f"{v:.2e}"
    for name, row in report["final_drift"].items():
        if row.get("diverged"):
            lines.append(
                f"| {name} | **DIVERGED** ({row['diverged']}) | — | {row['final_loss']:.4g} |"
            )
            continue
        lines.append(
            f"| {name} | {fmt(row['known_laws'])} | {fmt(row['augmentation_laws'])} | {row['final_loss']:.4g} |"
        )
    if report.get("diverged"):
        lines += [
            "",
            f"**{len(report['diverged'])} run(s) diverged** ({', '.join(report['diverged'])}): no "
            "conservation is reported for them. Lower the step size (--lr).",
        ]
    sc = report["step_size_scaling"]
    lines += [
        "",
        "## Step-size scaling (fitted slopes of log drift vs log η)",
        "",
        "| method | 10 steps (theory 2) | fixed time (theory 1) |",
        "|---|---|---|",
        *[
            f"| {m} | {_num(sc[m]['slope_fixed_steps'], '.3f')} | {_num(sc[m]['slope_fixed_time'], '.3f')} |"
            for m in ("gd", "sgd")
        ],
    ]
    wd = report["weight_decay_fit"]
    if wd is not None:
        lines += [
            "",
            "## Weight decay",
            "",
            f"{wd['law']}: fitted decay rate {wd['fitted_rate']:.5f}; flow theory 2λ = "
            f"{wd['predicted_flow_rate']:.5f}; GD theory −2 log(1 − ηλ)/η = {wd['predicted_gd_rate']:.5f}.",
        ]
    rows = report.get("broken_laws") or []
    if rows:
        lines += [
            "",
            f"## Broken laws: {rows[0]['law']}, predicted against measured",
            "",
            "| method | optimiser | largest error / max h | measured/predicted correction |",
            "|---|---|---|---|",
        ]
        for r in rows:
            if "skipped" in r:
                lines.append(f"| {r['method']} | skipped: {r['skipped']} | — | — |")
                continue
            ratio = r.get("correction_ratio")
            lines.append(
                f"| {r['method']} | {r['optimiser']} | {fmt(r.get('max_error'))} | "
                f"{'—' if ratio is None else format(ratio, '.3f')} |"
            )
    lines += ["", "Figures: " + ", ".join(report.get("figures", [])), ""]
    return "\n".join(lines)


def write_report(
    out: Path,
    report: dict[str, Any],
    runs: dict[str, Any],
    series: dict[str, Any],
) -> list[str]:
    """Write the figures, ``report.md`` and ``report.json`` into ``out``; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    files = _drift_figure(out, runs, series) + _scaling_figure(out, report["step_size_scaling"])
    if report["weight_decay_fit"] is not None:
        files += _weight_decay_figure(
            out, report["weight_decay_fit"], report["weight_decay"], report["lr"]
        )
    if any("measured" in r for r in report.get("broken_laws") or []):
        files += _broken_laws_figure(out, report["broken_laws"])
    report["figures"] = files
    atomic_write(out / "report.md", lambda p: p.write_text(_markdown(report)))
    params = {
        k: report[k] for k in ("architecture", "loss", "group", "lr", "steps", "weight_decay")
    }
    save_json(out / "report.json", report, params)
    return [*files, "report.md", "report.json"]
