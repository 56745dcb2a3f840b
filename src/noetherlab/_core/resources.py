"""Resource guards: estimate memory (and roughly time) from the sizes before running (private).

A computation whose estimated peak memory exceeds what this machine has is refused *before* it
starts, with the sizes, the estimate and the fix (smaller sizes, another method, chunking), instead
of dying minutes later inside XLA; one whose estimated time is long gets a
:class:`~noetherlab._core.errors.LongRunWarning`.
"""

from __future__ import annotations

import os
import warnings

from noetherlab._core.errors import LongRunWarning, ResourceLimitError

__all__ = ["available_memory", "check_memory", "format_bytes", "warn_if_long"]

#: fraction of the machine's memory one computation may plan to use
MEMORY_FRACTION = 0.6


def available_memory() -> int:
    """Physical memory of this machine in bytes (``NOETHERLAB_MEMORY_LIMIT`` overrides it)."""
    override = os.environ.get("NOETHERLAB_MEMORY_LIMIT")
    if override:
        return int(float(override))
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def format_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TB"  # pragma: no cover


def check_memory(needed: float, argument: str, what: str, fix: str) -> None:
    """Refuse ``what`` when its estimated peak memory ``needed`` (bytes) exceeds
    ``MEMORY_FRACTION`` of the machine's memory."""
    limit = MEMORY_FRACTION * available_memory()
    if needed > limit:
        raise ResourceLimitError(
            argument,
            f"{what} needs about {format_bytes(needed)} of memory; this machine allows "
            f"{format_bytes(limit)} ({MEMORY_FRACTION:.0%} of {format_bytes(available_memory())})",
            fix,
        )


def warn_if_long(seconds: float, what: str, fix: str, threshold: float = 300.0) -> None:
    """Warn when the estimated run time exceeds ``threshold`` seconds."""
    if seconds > threshold:
        warnings.warn(
            f"{what} is estimated to take about {seconds / 60:.0f} minutes on this machine. {fix}",
            LongRunWarning,
            stacklevel=3,
        )
