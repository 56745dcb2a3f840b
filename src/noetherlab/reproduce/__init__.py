"""The main job: reproduce the paper's case studies (Figs. 1a–c, 2; the trained RNNs; learned
diffusion scores; and the conservation laws of a ResNet and a transformer under real training)
in *paper* mode (the notebooks'
exact set-up, matching their published numbers) and *converged* mode (our solvers, float64,
resolution-checked), writing figures (PNG + SVG), ``report.json`` and ``report.md``.

    noetherlab reproduce [--mode paper|converged|both] [--out results] [--quick]
"""

from __future__ import annotations

import os
import platform
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from noetherlab._core.errors import InvalidArgumentError
from noetherlab._core.version import VERSION

__all__ = ["checks_by_kind", "default_workers", "reproduce", "summary_rows"]

FIGURES = ("fig1a", "fig1b", "fig1c", "fig2", "rnn", "diffusion", "architectures")


def _run_figure(name: str, outdir: Path, modes: set[str], quick: bool) -> dict[str, Any]:
    """Run one figure (in this process or a worker), timing it and keeping its own warnings."""
    from noetherlab.reproduce import architectures, diffusion, fig1, fig2, rnn

    runner = {
        "architectures": architectures.architectures,
        "fig1a": fig1.fig1a,
        "fig1b": fig1.fig1b,
        "fig1c": fig1.fig1c,
        "fig2": fig2.fig2,
        "rnn": rnn.rnn,
        "diffusion": diffusion.diffusion,
    }
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner[name](outdir, modes, quick)
    result["seconds"] = time.perf_counter() - t0
    result["warnings"] = sorted(
        {
            str(w.message)
            for w in caught
            if "noetherlab" in str(w.filename)
            or "noetherlab" in str(w.message)
            or w.category.__name__ == "UnderResolvedWarning"
        }
    )
    return result


# Longest first, so that two workers finish together (measured: fig2 ≈ fig1a + fig1b + fig1c;
# architectures ≈ 110 s quick, in a fresh process).
_SCHEDULE = ("architectures", "rnn", "fig2", "diffusion", "fig1c", "fig1b", "fig1a")


def _run_figures(
    outdir: Path,
    modes: set[str],
    quick: bool,
    only: tuple[str, ...],
    workers: int,
    progress: Callable[[str], None] | None,
) -> dict[str, dict[str, Any]]:
    """Run the figures, in ``workers`` processes when more than one (each figure is independent
    and mostly compiles: two cores halve the wall time)."""
    names = [f for f in _SCHEDULE if f in only]
    results: dict[str, dict[str, Any]] = {}
    if workers <= 1 or len(names) <= 1:
        for i, name in enumerate(names):
            if progress is not None:
                progress(f"{name} ({i}/{len(names)} done)")
            results[name] = _run_figure(name, outdir, modes, quick)
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # JAX is not fork-safe
        pool = ctx.Pool(workers, initializer=_die_with_parent, initargs=(os.getpid(),))
        try:
            if progress is not None:
                progress(f"{', '.join(names)} on {workers} processes (0/{len(names)} done)")
            tasks = [(n, outdir, modes, quick) for n in names]
            finished = pool.imap_unordered(_run_named, tasks)
            for done in range(1, len(names) + 1):
                # wait in short slices: a signal delivered to one of the pool's helper threads
                # is only acted on when the main thread runs Python code again
                while True:
                    try:
                        name, result = finished.next(timeout=0.25)
                        break
                    except multiprocessing.TimeoutError:
                        continue
                results[name] = result
                if progress is not None:
                    left = [n for n in names if n not in results]
                    progress(
                        f"{name} finished; running {', '.join(left) or '-'} "
                        f"({done}/{len(names)} done)"
                    )
            pool.close()
        except BaseException:
            # an error, or an interrupt sent to this process only (`timeout -s INT`, a job
            # scheduler): the workers stop now instead of finishing their figures
            pool.terminate()
            raise
        finally:
            pool.join()
    return {n: results[n] for n in only}


def _run_named(task: tuple[str, Path, set[str], bool]) -> tuple[str, dict[str, Any]]:
    return task[0], _run_figure(*task)


def _die_with_parent(parent: int) -> None:
    """In a figure worker: exit when the parent process dies, even by SIGKILL (Linux:
    ``PR_SET_PDEATHSIG``; elsewhere a thread that polls the parent's pid), so that no worker
    computes on as an orphan. A terminal Ctrl-C reaches the whole process group; the parent
    handles it (the worker ignores SIGINT)."""
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(1, signal.SIGKILL) == 0 and os.getppid() == parent:  # PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def default_workers() -> int:
    """Processes worth running the figures in here: one per available core, at most 2 (the two
    longest figures take about as long as the other two together)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(2, cores or 1))


def reproduce(
    out: str | Path = "results",
    mode: str = "both",
    quick: bool = False,
    only: tuple[str, ...] = FIGURES,
    progress: Callable[[str], None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the case studies and write figures and reports into ``out``; returns the report dict.

    ``quick`` uses fewer sample paths and coarser grids (no grid refinement, discretisation
    tolerances 10× looser: 1e-4 instead of 1e-5, 1e-5 instead of 1e-6); the published-number checks
    are the same. ``workers > 1`` runs the figures side by side in that many fresh Python
    processes (two cores halve the wall time; :func:`default_workers` is one per core, up to 2);
    like any ``multiprocessing`` spawn, a script calling it must do so under
    ``if __name__ == "__main__":``. The run is written into a fresh directory that replaces ``out`` as a
    whole when it has finished (an interrupted run leaves the previous ``out`` untouched; a second
    run into the same ``out`` is refused while one is writing)."""
    if mode not in ("paper", "converged", "both"):
        raise InvalidArgumentError(
            "mode", f"must be paper, converged or both, got {mode!r}", "pick one"
        )
    bad = [f for f in only if f not in FIGURES]
    if bad:
        raise InvalidArgumentError("only", f"unknown figures {bad}", f"choose from {list(FIGURES)}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise InvalidArgumentError(
            "workers",
            f"must be a positive integer, got {workers!r}",
            "pass workers 1 to run in this process",
        )
    from noetherlab._core.io import run_directory, save_json

    modes = {"paper", "converged"} if mode == "both" else {mode}
    with run_directory(out, "out") as outdir:
        start = time.perf_counter()
        figures = _run_figures(outdir, modes, quick, only, workers, progress)
        report: dict[str, Any] = {
            "noetherlab_version": VERSION,
            "mode": mode,
            "quick": quick,
            "workers": workers,
            "python": platform.python_version(),
            "figures": figures,
            "seconds": time.perf_counter() - start,
        }
        checks = [c for r in figures.values() for c in r["checks"]]
        report["all_checks_match"] = all(c["match"] for c in checks)
        parameters = {"mode": mode, "quick": quick, "only": list(only), "workers": workers}
        save_json(outdir / "report.json", report, parameters)
        text = render_markdown(report)
        from noetherlab._core.io import atomic_write

        atomic_write(outdir / "report.md", lambda p: p.write_text(text))
        return report


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


_KIND_TITLES = {
    "reproduction": "Published numbers, recomputed the authors' way",
    "analytic": "Closed forms implied by the published set-up",
}


def checks_by_kind(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The report's checks of one ``kind`` (``"reproduction"`` or ``"analytic"``), in figure order."""
    return [c for r in report["figures"].values() for c in r["checks"] if c["kind"] == kind]


def summary_rows(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """Checks of one kind with each notebook run's per-step checks folded into one row (for the
    terminal): ``published`` says how many printed values, ``rel_diff`` is the largest."""
    rows: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for c in checks_by_kind(report, kind):
        g = c.get("group")
        if g is None:
            rows.append(c)
        elif g not in groups:
            groups[g] = {**c, "name": g, "count": 1}
            rows.append(groups[g])
        else:
            row = groups[g]
            row["count"] += 1
            row["match"] = row["match"] and c["match"]
            if c["rel_diff"] >= row["rel_diff"]:
                row.update(published=c["published"], ours=c["ours"], rel_diff=c["rel_diff"])
                row["rtol"] = c["rtol"]
    for row in groups.values():
        row["name"] = f"{row['name']}: {row['count']} printed values, worst shown"
    return rows


def render_markdown(report: dict[str, Any]) -> str:
    """The human-readable report: a table of reproduced published numbers, a table of closed-form
    checks, then per-figure numbers and notes."""
    lines = [
        "# noetherlab reproduction report",
        "",
        f"noetherlab {report['noetherlab_version']}, mode `{report['mode']}`"
        f"{' (quick)' if report['quick'] else ''}, {report['seconds']:.1f} s in total"
        f" on {report.get('workers', 1)} process(es).",
    ]
    for kind, title in _KIND_TITLES.items():
        if not checks_by_kind(report, kind):
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| check | published | ours | rel. diff | tolerance | match | how |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in checks_by_kind(report, kind):
            lines.append(
                f"| {c['name']} | {_fmt(c['published'])} | {_fmt(c['ours'])} | {c['rel_diff']:.1e} | "
                f"{c['rtol']:.1e} | {'yes' if c['match'] else '**NO**'} | {c['where']} |"
            )
    for name, r in report["figures"].items():
        lines += ["", f"## {name} ({r['seconds']:.1f} s)", ""]
        lines += [f"![{name}]({f})" for f in r["figures"] if f.endswith(".png")]
        lines.append("")
        for note in r["notes"]:
            lines += [f"- {note}"]
        for w in r.get("warnings", []):
            lines += [f"- warning: {w}"]
        lines += ["", "```", *_flatten(r["numbers"]), "```"]
    return "\n".join(lines) + "\n"


def _flatten(d: Any, prefix: str = "") -> list[str]:
    if isinstance(d, dict):
        out: list[str] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}{k}.")
        return out
    if isinstance(d, list) and len(d) > 8:
        d = f"[{len(d)} values]"
    return [f"{prefix.rstrip('.')} = {_fmt(d)}"]
