"""Global JAX configuration, applied when :mod:`noetherlab` is imported (before any array exists).

* float64 everywhere (``jax_enable_x64``), so that every number noetherlab reports is double
  precision;
* a persistent compilation cache, so that the solvers compiled once on this machine are not
  compiled again by the next process (every CLI call, every test worker). It lives in
  ``$NOETHERLAB_CACHE_DIR`` (default ``$XDG_CACHE_HOME/noetherlab/jax`` or
  ``~/.cache/noetherlab/jax``); set ``NOETHERLAB_CACHE_DIR=off`` to disable it. Entries are keyed by
  the compiled program, the JAX version and the device, as JAX does, and live in a subfolder named
  by this host's CPU (architecture and instruction-set flags): a home folder shared between
  machines (a cluster's network file system) never hands one CPU the machine code compiled for
  another, which JAX's own key does not rule out on the CPU backend.

When JAX is not imported yet (``import noetherlab`` first, the usual case), both settings are made
through JAX's environment variables (``JAX_ENABLE_X64``, ``JAX_COMPILATION_CACHE_DIR``,
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``), which JAX reads when it is imported: importing
noetherlab does not import JAX, so ``noetherlab --help`` and the argument checks of the command line
answer without it. When JAX is already imported they are applied with ``jax.config.update``. A
compilation cache the user configured for JAX is left alone.
"""

import hashlib
import os
import platform
import sys
from pathlib import Path

# every program is cached, however fast it compiles: a warm `noetherlab path` otherwise recompiles
# about 30 small ones per process (0.8 s of 3.7 s, measured). (JAX's size-limited eviction is not
# used: it fails on every write in a folder that holds entries written without it.)
_MIN_COMPILE_TIME_S = 0.0


def _cache_dir() -> Path | None:
    setting = os.environ.get("NOETHERLAB_CACHE_DIR", "")
    if setting.lower() in ("off", "none", "0", "false"):
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "noetherlab" / "jax" / _host_cpu_tag()


def _host_cpu_tag() -> str:
    """A short name for this CPU: architecture and a hash of its instruction-set flags."""
    flags = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    flags = " ".join(sorted(line.split(":", 1)[1].split()))
                    break
    except OSError:
        pass
    digest = hashlib.sha256(flags.encode()).hexdigest()[:12]
    return f"{platform.machine() or 'cpu'}-{digest}"


def _apply() -> None:
    directory = _cache_dir()
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:  # read-only home: run without the cache
            directory = None
    if "jax" not in sys.modules:
        os.environ["JAX_ENABLE_X64"] = "True"
        if directory is not None and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
            os.environ["JAX_COMPILATION_CACHE_DIR"] = str(directory)
            os.environ.setdefault(
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", str(_MIN_COMPILE_TIME_S)
            )
        return
    import jax

    jax.config.update("jax_enable_x64", True)
    if directory is not None and getattr(jax.config, "jax_compilation_cache_dir", None) is None:
        jax.config.update("jax_compilation_cache_dir", str(directory))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", _MIN_COMPILE_TIME_S)


_apply()
