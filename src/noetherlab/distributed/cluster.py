"""Where tasks run: a Dask ``LocalCluster`` of worker processes (one command on a laptop), an
existing scheduler given by address (a cluster), or a ``distributed.Client`` the caller holds."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from typing import Any

from noetherlab._core.errors import InvalidArgumentError, SchedulerUnreachableError
from noetherlab._core.validation import positive_int

__all__ = ["dask_client"]

#: seconds to wait for a scheduler given by address before giving up
CONNECT_TIMEOUT = 5.0


@contextlib.contextmanager
def dask_client(
    scheduler: str | None = None,
    workers: int | None = None,
    client: Any = None,
    timeout: float = CONNECT_TIMEOUT,
) -> Iterator[Any]:
    """A ``distributed.Client`` for the duration of the block.

    Args:
        scheduler: address of a running scheduler (``tcp://host:8786``); ``None``: start a
            ``LocalCluster`` of ``workers`` processes (one thread each), closed at the end.
        workers: local worker processes (default: the CPU count, at most 8).
        client: a ``distributed.Client`` to use as is (not closed here).
        timeout: seconds to wait for ``scheduler``.

    Raises:
        SchedulerUnreachableError: nothing answered at ``scheduler`` within ``timeout``.
    """
    if client is not None:
        if scheduler is not None or workers is not None:
            raise InvalidArgumentError(
                "client", "was given with scheduler/workers", "pass one way to reach the workers"
            )
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        if workers is not None:
            raise InvalidArgumentError(
                "workers",
                "sets the size of a local cluster, but a scheduler address was given",
                "drop workers (the cluster's own workers run the tasks)",
            )
        try:
            remote = Client(scheduler, timeout=timeout, set_as_default=False)
        except Exception as exc:
            raise SchedulerUnreachableError(scheduler, timeout, type(exc).__name__) from None
        try:
            yield remote
        finally:
            remote.close()
        return
    n = positive_int(workers, "workers") if workers is not None else min(os.cpu_count() or 1, 8)
    with (
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: clusters side by side never collide
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster, set_as_default=False) as local,
    ):
        yield local
