"""Benchmark of a user's first answers (issue: fast first answers). Run by hand:

    .venv/bin/python benchmarks/latency.py [--repeats 3]

Every row is a fresh Python process, timed from outside (wall clock, best of ``--repeats``); the
baseline is ``python -c "import jax"`` measured in the same run, and every ratio is to it:

* ``import noetherlab`` (does not import JAX), ``noetherlab --help`` (must beat ``import jax``);
* ``noetherlab path ou --x0 -2,2 --x1 2,2 --T 1 --json`` with an empty compilation cache (cold, a
  new cache folder per repeat) and with the cache that run left (warm).

Then one cold and one warm run of the same command inside an instrumented process split the time
into phases with JAX's own monitoring events: importing, tracing (jaxpr), lowering to MLIR, XLA
compilation, reading the persistent cache, and the rest (solving, charges, printing).
Targets (issue 32): warm ≤ 2×, cold ≤ 5×, ``--help`` < 1×, ``import noetherlab`` ≤ +0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

PYTHON = sys.executable
CLI = str(Path(PYTHON).with_name("noetherlab"))
PATH_ARGS = ["path", "ou", "--x0", "-2,2", "--x1", "2,2", "--T", "1", "--json"]

# runs in a fresh process: the command in-process, with JAX's duration events summed per phase
_INSTRUMENTED = r"""
import json, sys, time
t0 = time.perf_counter()
from noetherlab.cli import app
import jax.monitoring
t_import = time.perf_counter() - t0
phases = {}
def listen(event, duration, **kwargs):
    phases[event] = phases.get(event, 0.0) + duration
jax.monitoring.register_event_duration_secs_listener(listen)
t1 = time.perf_counter()
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
t_run = time.perf_counter() - t1
print(json.dumps({"import": t_import, "run": t_run, "events": phases}), file=sys.stderr)
"""


def wall(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return elapsed


def best(cmd: list[str], env: dict[str, str], repeats: int) -> float:
    return min(wall(cmd, env) for _ in range(repeats))


def env_with_cache(folder: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    env["NOETHERLAB_CACHE_DIR"] = folder if folder is not None else "off"
    return env


def phases(folder: str) -> dict[str, float]:
    done = subprocess.run(
        [PYTHON, "-c", _INSTRUMENTED, *PATH_ARGS],
        env=env_with_cache(folder),
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    record = json.loads(done.stderr.strip().splitlines()[-1])
    events = record["events"]
    trace = events.get("/jax/core/compile/jaxpr_trace_duration", 0.0)
    lower = events.get("/jax/core/compile/jaxpr_to_mlir_module_duration", 0.0)
    compile_ = events.get("/jax/core/compile/backend_compile_duration", 0.0)
    cache = events.get("/jax/compilation_cache/cache_retrieval_time_sec", 0.0)
    return {
        "import": record["import"],
        "tracing": trace,
        "lowering": lower,
        "XLA compile": compile_,
        "cache read": cache,
        "rest": record["run"] - trace - lower - compile_ - cache,
        "total": record["import"] + record["run"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    plain = env_with_cache(None)
    with tempfile.TemporaryDirectory() as scratch:
        base = best([PYTHON, "-c", "import jax"], plain, args.repeats)
        rows = [("python -c 'import jax' (baseline)", base)]
        rows.append(
            ("import noetherlab", best([PYTHON, "-c", "import noetherlab"], plain, args.repeats))
        )
        rows.append(("noetherlab --help", best([CLI, "--help"], plain, args.repeats)))
        colds = []
        for i in range(args.repeats):
            folder = os.path.join(scratch, f"cold{i}")
            colds.append(wall([CLI, *PATH_ARGS], env_with_cache(folder)))
        rows.append(("path ou, cold cache", min(colds)))
        warm_env = env_with_cache(os.path.join(scratch, "cold0"))
        rows.append(("path ou, warm cache", best([CLI, *PATH_ARGS], warm_env, args.repeats)))

        table = Table(title=f"fresh-process latency (best of {args.repeats})")
        table.add_column("command")
        table.add_column("wall s", justify="right")
        table.add_column("× import jax", justify="right")
        for name, seconds in rows:
            table.add_row(name, f"{seconds:.2f}", f"{seconds / base:.2f}")
        console.print(table)

        cold = phases(os.path.join(scratch, "phases"))
        warm = phases(os.path.join(scratch, "phases"))
        split = Table(title="where the time goes (one instrumented process each)")
        split.add_column("phase")
        split.add_column("cold s", justify="right")
        split.add_column("warm s", justify="right")
        for key in cold:
            split.add_row(key, f"{cold[key]:.2f}", f"{warm[key]:.2f}")
        console.print(split)


if __name__ == "__main__":
    main()
