"""Fault tests of the main job (issue 27): a SIGINT sent to the ``reproduce`` process only (what
``timeout -s INT`` or a job scheduler sends) stops the run as a terminal Ctrl-C does, and a SIGKILL
leaves no figure worker computing on as an orphan; in both cases the previous results are
untouched, and what a killed run leaves behind is removed by the next run into the same place."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import noetherlab as nl


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has finished computing


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (read from /proc: no procps needed)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing paren
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _start_two_workers(out: Path) -> tuple[subprocess.Popen[bytes], list[int]]:
    """``reproduce --workers 2`` on the two longest figures, once both workers are computing."""
    out.mkdir()
    (out / "report.md").write_text("previous run")
    command = [str(Path(sys.executable).parent / "noetherlab"), "reproduce", "--quick"]
    command += ["--only", "fig2,rnn", "--workers", "2", "--out", str(out)]
    # a background job inherits SIGINT ignored, a scheduler's job has it at its default: reset it,
    # then exec the command line (no preexec_fn: no fork of this multithreaded process)
    reset = "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    reset += "os.execv(sys.argv[1], sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", reset, *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        workers = [c for c in _children(proc.pid) if b"spawn_main" in _cmdline(c)]
        if len(workers) == 2:
            time.sleep(4)  # both are inside their figures now
            return proc, workers
        time.sleep(0.5)
    proc.kill()
    pytest.fail("the two figure workers did not start within 120 s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_signal_to_the_parent_only_stops_every_worker(sig, tmp_path):
    out = tmp_path / "R"
    proc, workers = _start_two_workers(out)
    sent = time.monotonic()
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    stopped = time.monotonic() - sent
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "a figure worker outlived its parent"
    assert (out / "report.md").read_text() == "previous run"
    if sig == signal.SIGINT:
        # measured 0.7 s (was 70–110 s: the workers finished their figures first)
        assert proc.returncode == 130 and stopped < 20
        assert not list(tmp_path.glob(".R.new-*"))
    else:
        with nl.io.run_directory(out) as fresh:  # the next run clears the killed run's leftovers
            (fresh / "report.md").write_text("next run")
        assert not list(tmp_path.glob(".R.new-*"))
        assert (out / "report.md").read_text() == "next run"
