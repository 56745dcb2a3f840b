r"""Data symmetry and augmentation: the laws that hold for *every* data set augmented by a group.

Training on the orbit ``{(G x_i, y_i) : G ∈ 𝒢}`` means minimising the group-averaged loss
``L̄(θ) = Σ_i Σ_G ℓ(g(θ, G x_i), y_i)``. A function is conserved for every augmented data set iff it is
conserved by every per-sample field ``∇_θ Σ_G ℓ(g(θ, G x), y)``; :func:`count_laws` counts those
(Lie algebra of the fields, certified ranks). Compared with the unaugmented count this gives the
*extra* laws created by the augmentation.

Why extra laws can appear (MSE, tensorizable ``g(θ, x) = ⟨Φ(θ), Ψ(x)⟩``): the averaged loss depends
on the data only through the group averages ``Σ_G Ψ(Gx)Ψ(Gx)ᵀ`` and ``Σ_G y Ψ(Gx)``, which commute
with the *lifted* action ``Ψ(Gx) = ρ(G)Ψ(x)``; any symmetry of ``θ ↦ Φ(θ)`` that acts on ``Φ`` inside
the commutant of ``ρ`` is then a symmetry of every averaged loss. Example (derived in the docs and
tested): linear regression ``g = w·x`` in ``R³`` with the cyclic group ``C3``: the averages are
circulant, ``A = α Π_1 + β Π_⊥``, ``b ∥ (1,1,1)``, so the flow ``ẇ = −2(Aw − b)`` only rescales the
component ``w_⊥`` in the plane ``⊥ (1,1,1)``: its direction is conserved — one extra (rational) law
``(w1 − w2)/(w1 + w2 − 2 w3)``; with ``O(3)`` the whole direction of ``w`` is conserved (two laws).
For non-polynomial losses (logistic, exponential) the averaged fields are generic: no extra laws.

Groups are finite stacks of ``d × d`` matrices acting on an input (token-wise for sequences). For
``O(d)`` and the MSE loss of a tensorizable model the Haar average is exact, through the lifted action
(:mod:`noetherlab.training.lifted`); otherwise ``O(d)`` is replaced by a finite subgroup whose averages
agree with Haar's for the polynomials involved: the dihedral group ``D_K`` (``K = 24``) for ``d = 2``
(exact up to degree 23), the signed permutations for ``3 ≤ d ≤ 5`` (exact up to degree 3), and
anything else is refused (:class:`UnsupportedModelError`). Derivations of every tested count
(linear regression with C3 and O(3), lightning attention ``n(d − n)``, the polynomial unit with
``C_k``): ``docs/data-symmetry.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from noetherlab._core.errors import UnsupportedModelError
from noetherlab._core.io import JsonRecord
from noetherlab._core.status import Certified, CountStatus
from noetherlab.training.architectures import Architecture
from noetherlab.training.groups import Group
from noetherlab.training.lie import count_family_laws, count_laws
from noetherlab.training.lifted import averaged_mse_fields, lifted_action, tensorization
from noetherlab.training.losses import MSE, Loss, as_loss

__all__ = ["AugmentationReport", "augmentation_report", "stand_in_exact"]


@dataclass(frozen=True)
class AugmentationReport(Certified, JsonRecord):
    """Result of :func:`augmentation_report`: the certified law counts without and with the group.

    Attributes:
        group_order: number of group elements (``None`` for a continuous group averaged exactly).
        average: how the group average was taken (exact Haar average, finite sum, finite stand-in).
        dimension: ``D``, the number of parameters.
        laws_without, laws_with: the two counts (``None`` where a rank decision is ambiguous).
        extra_laws: ``laws_with − laws_without``.
        trace_dimension: ``dim Lie(W)(θ)`` of the augmented fields.
        status: ``CountStatus.certified`` when both counts are, else the first count's reason;
            ``gap``, ``gap_without``, ``gap_with``: rank gaps.
        seconds: wall time of both counts.
        lifted: the lifted-action explanation (:func:`~noetherlab.training.lifted.lifted_report`)
            when asked for, else ``None``.
    """

    architecture: str
    loss: str
    group: str
    group_order: int | None
    average: str
    dimension: int
    laws_without: int | None
    laws_with: int | None
    extra_laws: int | None
    trace_dimension: int
    status: CountStatus
    gap: float
    gap_without: float
    gap_with: float
    seconds: float
    lifted: JsonRecord | None = None
    json_properties: ClassVar[tuple[str, ...]] = ("certified",)

    @property
    def laws(self) -> int | None:
        """The number of laws of the augmented training (``laws_with``)."""
        return self.laws_with


def stand_in_exact(model: Architecture, group: Group, loss: str | Loss) -> bool:
    """Whether summing over ``group.matrices`` gives the exact group average of ``loss``: always for
    finite groups, and for a continuous group's stand-in when the loss is a polynomial in ``x`` of
    degree ``<= group.exact_degree``."""
    if group.continuous is None or group.exact_degree is None:
        return True
    degree = _loss_degree(model, as_loss(loss))
    return degree is not None and degree <= group.exact_degree


def _loss_degree(model: Architecture, loss: Loss) -> int | None:
    """The polynomial degree in ``x`` of ``loss`` on ``model`` (``None``: not a polynomial)."""
    if model.input_degree is None or loss.degree is None:
        return None
    return loss.degree * model.input_degree


def augmentation_report(
    model: Architecture, group: Group, loss: str | Loss = MSE, points: int = 4, seed: int = 0
) -> AugmentationReport:
    """Count the laws for ``loss`` with and without augmentation by ``group`` (both certified);
    :meth:`AugmentationReport.as_dict` gives the JSON form."""
    loss = as_loss(loss)
    exact = None
    if group.lie_algebra is not None and loss is MSE:
        try:
            exact = averaged_mse_fields(lifted_action(tensorization(model), group, seed=seed))
        except UnsupportedModelError:
            exact = None  # not tensorizable: the finite stand-in below, where it is exact
    if exact is None and group.continuous is not None and group.exact_degree is not None:
        loss_deg = _loss_degree(model, loss)
        if loss_deg is None or loss_deg > group.exact_degree:
            raise UnsupportedModelError(
                f"{group.name} reproduces the {group.continuous} average only for polynomials of degree "
                f"<= {group.exact_degree} in x; the {loss.name} loss of {model.name} is "
                f"{'not polynomial' if loss_deg is None else f'of degree {loss_deg}'} in x. Fix: use 2-D "
                "inputs (dihedral stand-in, exact to degree 23) or a finite group."
            )
    without = count_laws(model, loss=loss, n_points=points, seed=seed)
    if exact is not None:
        with_g = count_family_laws(exact, n_points=points, seed=seed)
    else:
        with_g = count_laws(model, loss=loss, group=group.matrices, n_points=points, seed=seed)
    extra = None if without.laws is None or with_g.laws is None else with_g.laws - without.laws
    return AugmentationReport(
        architecture=model.name,
        loss=loss.name,
        group=group.name,
        group_order=None if group.lie_algebra is not None else len(group),
        average="exact Haar average through the lifted action"
        if exact is not None
        else (
            "finite group sum"
            if group.continuous is None
            else f"finite stand-in {len(group)} elements"
        ),
        dimension=with_g.dimension,
        laws_without=without.laws,
        laws_with=with_g.laws,
        extra_laws=extra,
        trace_dimension=with_g.trace_dimension,
        status=CountStatus.of_all((without.status, with_g.status)),
        gap=min(without.gap, with_g.gap),
        gap_without=without.gap,
        gap_with=with_g.gap,
        seconds=without.seconds + with_g.seconds,
    )
