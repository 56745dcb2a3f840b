"""Exception and warning types raised by noetherlab.

Every message names the offending argument (or model component) and says how to fix it, e.g.::

    InvalidArgumentError: argument `T`: must be a positive transit time, got -1.0.
    Fix: pass T > 0.

The classes also derive from the matching built-in exception (``ValueError``, ``FloatingPointError``,
``NotImplementedError``) so that generic ``except ValueError`` handlers keep working.
"""

from __future__ import annotations

__all__ = [
    "InternalError",
    "InvalidArgumentError",
    "LongRunWarning",
    "NoetherlabError",
    "NonFiniteError",
    "NotPositiveDefiniteError",
    "ResourceLimitError",
    "SchedulerUnreachableError",
    "ShapeError",
    "UnderResolvedWarning",
    "UnsupportedModelError",
]


class NoetherlabError(Exception):
    """Base class of every error raised by noetherlab."""


class InvalidArgumentError(NoetherlabError, ValueError):
    """An argument has a wrong value, type or combination with other arguments."""

    def __init__(self, argument: str, problem: str, fix: str) -> None:
        self.argument = argument
        self.problem = problem
        self.fix = fix
        super().__init__(f"argument `{argument}`: {problem}. Fix: {fix}")


class ShapeError(InvalidArgumentError):
    """An array argument (or the value returned by a user function) has the wrong shape."""


class NotPositiveDefiniteError(InvalidArgumentError):
    """The diffusion tensor ``D`` is not symmetric positive definite somewhere it is used."""


class ResourceLimitError(InvalidArgumentError):
    """The computation asked for would not fit in this machine's memory (refused before it starts)."""


class SchedulerUnreachableError(NoetherlabError, ConnectionError):
    """No Dask scheduler answered at the address given (within the connection timeout)."""

    def __init__(self, address: str, seconds: float, detail: str) -> None:
        self.address = address
        super().__init__(
            f"argument `scheduler`: no Dask scheduler answered at {address} within {seconds:g} s "
            f"({detail}). Fix: start one there (`dask scheduler`, then `dask worker {address}`), "
            "check the address and port, or omit the scheduler to run on a local cluster."
        )


class NonFiniteError(NoetherlabError, FloatingPointError):
    """A NaN or infinity appeared (in a user function's output or during a computation)."""


class UnsupportedModelError(NoetherlabError, NotImplementedError):
    """The requested computation is not defined (or not implemented) for this model."""


class InternalError(NoetherlabError, RuntimeError):
    """A state noetherlab's own code should never reach (a bug: please report it with the call)."""


class UnderResolvedWarning(UserWarning):
    """A discrete result's estimated discretisation error exceeds the requested tolerance."""


class LongRunWarning(UserWarning):
    """The computation asked for is estimated to run for a long time (it still runs)."""
