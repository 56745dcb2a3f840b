"""One status vocabulary for every result: how a computation ended.

Every result that can succeed or fail carries ``status``, a member of one of the enumerations
below, all subclasses of :class:`Status` (as diffrax's ``RESULTS`` extends optimistix's); its
``converged`` / ``certified`` / ``ok`` properties are derived from the status, and its ``message``
states the numbers behind it. A member knows whether it counts as success (:attr:`Status.ok`) and
what it means (:attr:`Status.meaning`); it is written to files by its name and read back with
:meth:`Status.named`.

=====================  ==========================================================================
enumeration            used by
=====================  ==========================================================================
:class:`PathStatus`    path solves (``PathResult``), shooting trajectories, the string method,
                       the instantons of a landscape transition
:class:`CountStatus`   certified counts: conservation laws, polynomial laws, symmetries found or
                       learned, augmentation and lifted-group reports
:class:`RateStatus`    the mean exit time of a landscape transition (which formula, or why none)
:class:`SearchStatus`  fixed- and slow-point searches, branches over a parameter, limit cycles
:class:`FlowStatus`    integrations of training flows and training checks
:class:`SweepStatus`   the points of a parameter sweep
:class:`SplittingStatus`  rare-event probabilities by adaptive multilevel splitting (AMS, TAMS)
=====================  ==========================================================================
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeVar

from noetherlab._core.errors import InvalidArgumentError

__all__ = [
    "Certified",
    "Converged",
    "CountStatus",
    "FlowStatus",
    "PathStatus",
    "RateStatus",
    "SearchStatus",
    "SplittingStatus",
    "Status",
    "SweepStatus",
]

S = TypeVar("S", bound="Status")


class Status(enum.Enum):
    """Base of the status enumerations (each member: whether it is a success, and its meaning)."""

    def __init__(self, ok: bool, meaning: str) -> None:
        self.ok = ok
        self.meaning = meaning

    @classmethod
    def named(cls: type[S], name: str) -> S:
        """The member called ``name`` (as written to a file), or a clear error."""
        try:
            return cls[name]
        except KeyError:
            raise InvalidArgumentError(
                "status",
                f"{name!r} is not a {cls.__name__} (one of {[m.name for m in cls]})",
                "read files written by this or an older noetherlab version",
            ) from None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}>"


class PathStatus(Status):
    """How a path solve ended. Only :attr:`successful` means converged."""

    successful = (
        True,
        "the solver met its tolerance, the Hessian (where the solver can check it) is positive "
        "definite, and the normalised Euler–Lagrange residual is within el_tol",
    )
    max_iterations = (False, "the iteration cap was reached first")
    saddle = (
        False,
        "a stationary point whose Hessian is indefinite (a saddle of the action), and no descent "
        "direction of negative curvature was found",
    )
    line_search_failed = (
        False,
        "no step decreased the action although the gradient is above tolerance",
    )
    stalled = (
        False,
        "steps no longer change the action at float64 resolution while the residual is above "
        "tolerance, and the returned path fails the independent check (Euler–Lagrange residual "
        "above el_tol, or a Hessian that is not positive definite); a stalled minimum that passes "
        "it is successful, with stats['flat_direction']",
    )
    nonfinite = (False, "a NaN or infinity appeared in the action, its derivatives or the path")
    factorisation_failed = (False, "the (shifted) Hessian could not be factorised")
    time_mismatch = (False, "fixed time through the energy: no energy with T(E) = T was found")
    boundary_mismatch = (
        False,
        "shooting: the trajectory does not reach x1 (boundary residual above tolerance)",
    )
    integration_failed = (
        False,
        "shooting: the ODE solver failed or the Hamiltonian trajectory diverged",
    )
    residual_too_large = (
        False,
        "the solver stopped, but the independent Euler–Lagrange check failed (el_residual > "
        "el_tol): the path is not a stationary point of the action to the stated tolerance",
    )


class CountStatus(Status):
    """How a certified count (of laws or symmetries) ended. Only :attr:`certified` is a count."""

    certified = (
        True,
        "every rank decision has a singular-value gap of at least min_gap, at enough points, and "
        "every candidate passed its independent check: the count is unambiguous",
    )
    ambiguous = (
        False,
        "the ranks disagree between points, or a singular-value gap is below min_gap: the count is "
        "not determined",
    )
    not_closed = (
        False,
        "the last bracket level allowed still raised the rank: the Lie algebra did not close",
    )
    bound_violated = (
        False,
        "an element raised the rank above the bound set by the known laws: a 'known' law is not "
        "conserved by these generators",
    )
    rejected = (
        False,
        "a candidate of the linear conditions failed the independent check: the probe did not "
        "determine the symmetries (too local a region, or too few points)",
    )
    underdetermined = (
        False,
        "fewer independent conditions than unknowns: zero singular values are forced by too few "
        "data, not found in them",
    )

    @classmethod
    def of_all(cls, statuses: Iterable[CountStatus]) -> CountStatus:
        """The status of a result made of several counts: ``certified`` when every one is, else
        the first that is not."""
        return next((s for s in statuses if s is not cls.certified), cls.certified)


class RateStatus(Status):
    """How the mean exit time of a transition was obtained, or why it was not."""

    eyring_kramers = (True, "Eyring–Kramers formula (gradient drift in the noise metric)")
    bouchet_reygner = (
        True,
        "Bouchet–Reygner formula (quasi-potential Hessians and the divergence integral along the "
        "instanton; the rates of several instantons added)",
    )
    mirror_instantons = (
        True,
        "Bouchet–Reygner with mirror-image instantons, rates added; the quasi-potential has a kink "
        "at the saddle (slow approach to the weak-noise limit)",
    )
    path_not_converged = (False, "the E = 0 path did not converge, so there is no barrier")
    noise_not_constant = (False, "the rate formulas need constant, non-degenerate noise")
    saddle_mismatch = (
        False,
        "the quasi-potential Hessian transported along the instanton does not match the saddle's "
        "(a stiff drift, or a saddle whose quasi-potential Hessian is not the Lyapunov solution)",
    )
    nonfinite = (False, "the formula gave a non-finite or non-positive mean exit time")
    sampled = (
        True,
        "adaptive multilevel splitting at the model's own noise (the loop decomposition of "
        "Cérou, Guyader, Lelièvre & Pommier 2011), with a 95 % confidence interval",
    )
    grid = (
        True,
        "the mean first-passage time of the Fokker–Planck grid generator (finite volumes), "
        "with its half-grid difference as the discretisation error",
    )
    sampling_failed = (
        False,
        "the splitting run did not give an estimate (extinction, the iteration cap, replicas "
        "stuck outside A and B, or a non-finite drift); its message says which",
    )
    several_instantons = (
        False,
        "several instantons reach the saddle with different quasi-potential Hessians: the "
        "quasi-potential is not smooth there and no formula applies",
    )


class SplittingStatus(Status):
    """How a rare-event estimate by adaptive multilevel splitting ended. Only :attr:`estimated`
    gives a probability."""

    estimated = (
        True,
        "every repetition reached the target set with its level: the probability estimate is "
        "unbiased, with an error bar from the spread of the repetitions",
    )
    extinct = (
        False,
        "in at least one repetition every replica was at or below the level (all killed): the "
        "probability is below what this run resolves — more replicas, a better reaction "
        "coordinate or a longer horizon are needed; no estimate is given",
    )
    unresolved = (
        False,
        "the run finished but does not resolve the probability: its relative standard error "
        "exceeds 1, or every final replica descends from one initial replica (the genealogy "
        "collapsed) — more replicas or a better reaction coordinate are needed; no estimate is "
        "given",
    )
    max_iterations = (False, "the iteration cap was reached before every repetition finished")
    timed_out = (
        False,
        "AMS: replicas neither returned to A nor reached B within the horizon; counting them as "
        "failures biases the probability low (pass a longer horizon)",
    )
    nonfinite = (False, "a replica's state became non-finite (the drift or the step blew up)")


class SearchStatus(Status):
    """How a search for invariant sets ended: fixed and slow points, branches of fixed points
    followed over a parameter, periodic orbits."""

    found = (True, "at least one fixed point was found in the region searched")
    none_found = (False, "no Newton start converged to a finite zero of the drift in the region")
    branch_complete = (True, "the branch was followed to the end of the parameter range")
    branch_interrupted = (
        False,
        "the corrector failed below the smallest step, or the point cap was reached, before the "
        "end of the parameter range",
    )
    cycle_found = (
        True,
        "a periodic orbit: the shooting residual |φ_T(x) − x| is within tolerance and one Floquet "
        "multiplier is 1",
    )
    settled_on_point = (False, "the flow settled on a fixed point, not on a closed orbit")
    no_return = (
        False,
        "the trajectory did not return to its Poincaré section within the time allowed",
    )
    shooting_failed = (False, "Newton's method on the periodic-orbit equations did not converge")


class FlowStatus(Status):
    """How an integration of a training flow (or a training check built on them) ended."""

    successful = (True, "the run reached its final time (or step) with finite parameters")
    integration_failed = (False, "the ODE solver stopped before the final time")
    nonfinite = (False, "the parameters or the loss became non-finite (the training diverged)")
    diverged = (False, "the loss or the parameters grew by more than a factor 1e6")


class SweepStatus(Status):
    """The state of one point of a parameter sweep (its ``code`` is what the store holds)."""

    pending = (False, "not run yet (or interrupted while running)")
    done = (True, "finished; its outputs are in the store")
    failed = (False, "raised an error; the store holds the message")


# ------------------------------------------------------------------------------ verdicts
class Converged:
    """Mixin of results with a ``status: PathStatus``: ``converged`` is read off it."""

    status: PathStatus

    @property
    def converged(self) -> bool:
        """True exactly when ``status`` is ``PathStatus.successful``."""
        return self.status is PathStatus.successful


class Certified:
    """Mixin of results with a ``status: CountStatus``: ``certified`` is read off it."""

    status: CountStatus

    @property
    def certified(self) -> bool:
        """True exactly when ``status`` is ``CountStatus.certified``."""
        return self.status is CountStatus.certified
