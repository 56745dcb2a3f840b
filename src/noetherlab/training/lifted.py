r"""Tensorizable networks and the lifted action of a data group on feature space.

A model is *tensorizable* when it factors through a feature map,

.. math:: g(θ, x) = Φ(θ)\,Ψ(x), \qquad Φ(θ) ∈ R^{m×F},\ Ψ(x) ∈ R^F,

(linear nets: ``Ψ = x``; polynomial nets: ``Ψ = (1, x, x^{⊗2}, …)``; lightning attention:
``Ψ(X) = x_1 ⊗ XᵀX``). When ``Ψ`` is equivariant, ``Ψ(Gx) = ρ(G)Ψ(x)`` (the *lifted* action), the
MSE loss averaged over the group orbit of a sample is a quadratic in ``Φ``:

.. math:: \bar ℓ(θ) = ½\,\mathrm{tr}\big(Φ\,\mathcal R(ΨΨᵀ)\,Φᵀ\big) − yᵀΦ\,\mathcal R(Ψ) + ½|y|²,

with ``𝓡`` the Reynolds operator (group average). ``𝓡(ΨΨᵀ)`` is a ρ-invariant symmetric form and
``𝓡(Ψ)`` a ρ-fixed vector, so every averaged loss is invariant under the group ``H`` of orthogonal
maps of feature space that fix all invariant forms and fixed vectors — a continuous group even when
the data group is finite (for ``C3`` on ``R³``: rotations of the plane ``⊥ (1,1,1)``). This module

* computes ``ρ`` numerically from ``Ψ`` alone (least squares on the span of ``Ψ``, residual checked),
  for finite groups and for continuous ones through their Lie algebra (``dρ``);
* gives the *exact* Haar average of the MSE loss for continuous groups (orthogonal projection onto the
  invariant forms — no sampling, any degree), used by :func:`~noetherlab.training.symmetry.augmentation_report`;
* :func:`lifted_report`: the dimensions of the invariant forms, fixed vectors and ``Lie(H)``, and the
  number of laws of the family of *all* ``H``-invariant quadratics ``θ ↦ q(Φ(θ))`` next to the measured
  count. The lifted family contains every averaged data loss, so its count is a lower bound; equality
  means the lifted symmetry accounts for every extra law.

Users register their own factorisation with :func:`tensorization` (``psi=``, optionally ``phi=``;
without ``phi`` it is obtained by interpolation, ``Φ(θ) = g(θ, x_j)`` solved against ``Ψ(x_j)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab._core.io import JsonRecord
from noetherlab._core.status import Certified, CountStatus
from noetherlab.training.architectures import Architecture
from noetherlab.training.groups import Group
from noetherlab.training.lie import FieldFamily, LawCount, count_family_laws
from noetherlab.training.losses import get_loss

__all__ = [
    "LiftedAction",
    "LiftedReport",
    "Tensorization",
    "lifted_action",
    "lifted_report",
    "tensorization",
]

Array = jax.Array


@dataclass(frozen=True)
class Tensorization:
    """``g(θ, x) = Φ(θ) Ψ(x)`` on the span of the features.

    Attributes:
        psi: ``Ψ(x)`` flattened, ``(F,)``.
        basis: ``U (F, F')``, an orthonormal basis of ``span Ψ(x)`` (coordinates ``Ψ̃ = Uᵀ Ψ``).
        phi: ``θ ↦ Φ̃(θ) (m, F')`` in those coordinates.
        residual: relative error of ``g − Φ̃ Ψ̃`` at fresh random points (a check of the factorisation).
    """

    arch: Architecture
    psi: Callable[[Array], Array]
    basis: np.ndarray
    phi: Callable[[Array], Array]
    residual: float

    def features(self, x: Array) -> Array:
        """``Ψ̃(x) = Uᵀ Ψ(x)``, shape ``(F',)``."""
        return jnp.asarray(self.basis).T @ self.psi(x)


def tensorization(
    arch: Architecture,
    psi: Callable[[Array], Array] | None = None,
    phi: Callable[[Array], Array] | None = None,
    *,
    seed: int = 0,
    tol: float = 1e-7,
) -> Tensorization:
    """The factorisation ``g(θ, x) = Φ(θ) Ψ(x)`` of ``arch`` (built in for linear, polynomial,
    lightning-attention and polynomial-unit models; else pass ``psi`` and optionally ``phi(θ) -> (m, F)``).

    Raises :class:`InvalidArgumentError` when the factorisation does not reproduce ``g`` (relative
    residual above ``tol`` at random points)."""
    if psi is None:
        if arch.features is None:
            raise UnsupportedModelError(
                f"{arch.name} has no built-in tensorization. Fix: pass psi=Ψ(x) with "
                "g(θ, x) = Φ(θ)Ψ(x) to tensorization()."
            )
        psi_fn, phi = arch.features, arch.feature_map if phi is None else phi
    else:
        psi_fn = psi
    key = jax.random.PRNGKey(seed)
    k1, k2, k3 = jax.random.split(key, 3)
    try:
        F = int(np.size(jax.eval_shape(psi_fn, jnp.zeros(arch.input_shape))))
    except Exception as exc:
        raise InvalidArgumentError(
            "psi", f"failed on an input of shape {arch.input_shape}: {exc}", "check Ψ's shapes"
        ) from exc
    n = 2 * F + 20
    X = arch.random_inputs(k1, n)
    P = np.asarray(jax.vmap(lambda x: jnp.ravel(psi_fn(x)))(X))  # (n, F)
    _, s, vt = np.linalg.svd(P, full_matrices=False)
    rank = int(np.sum(s > 1e-10 * s[0]))
    U = vt[:rank].T  # (F, F')
    Pt = P @ U
    pinv = np.linalg.pinv(Pt)  # (F', n)
    pinv_j, Xj, U_j = jnp.asarray(pinv), X, jnp.asarray(U)
    if phi is None:

        def phi_t(theta: Array) -> Array:
            G = jax.vmap(lambda x: arch.flat(theta, x))(Xj)  # (n, m)
            return (pinv_j @ G).T

    else:
        user_phi = phi

        def phi_t(theta: Array) -> Array:
            return jnp.reshape(user_phi(theta), (arch.output_dim, F)) @ U_j

    # check g = Φ̃ Ψ̃ on fresh inputs and parameters
    Xt = arch.random_inputs(k2, 8)
    thetas = arch.random_params(k3) * jnp.ones((3, 1)) * jnp.asarray([[1.0], [0.5], [1.5]])
    errs = []
    for th in thetas:
        g = jax.vmap(lambda x, th=th: arch.flat(th, x))(Xt)
        fit = jax.vmap(lambda x, th=th: phi_t(th) @ (U_j.T @ jnp.ravel(psi_fn(x))))(Xt)
        errs.append(float(jnp.max(jnp.abs(g - fit)) / max(float(jnp.max(jnp.abs(g))), 1e-300)))
    residual = max(errs)
    if not residual <= tol:
        raise InvalidArgumentError(
            "psi",
            f"g(θ, x) is not Φ(θ)Ψ(x) for {arch.name} (relative residual {residual:.1e})",
            "pass features Ψ that span the model's dependence on x (e.g. all monomials of its degree)",
        )
    return Tensorization(arch, lambda x: jnp.ravel(psi_fn(x)), U, phi_t, residual)


@dataclass(frozen=True)
class LiftedAction:
    """The data group lifted to feature coordinates ``Ψ̃``.

    Attributes:
        rho: ``ρ(G) (k, F', F')`` for the group's matrices; ``drho``: ``dρ(Ω) (r, F', F')`` for its Lie
            algebra (continuous groups; else ``(0, F', F')``).
        forms: orthonormal basis ``(nA, F', F')`` of the invariant symmetric forms
            (``ρ A ρᵀ = A``, ``dρ A + A dρᵀ = 0``).
        fixed: orthonormal basis ``(nb, F')`` of the fixed vectors.
        residual: worst relative error of ``Ψ̃(Gx) = ρ(G)Ψ̃(x)`` on fresh inputs.
    """

    tensorization: Tensorization
    rho: np.ndarray
    drho: np.ndarray
    forms: np.ndarray
    fixed: np.ndarray
    residual: float

    def average_form(self, A: Array) -> Array:
        """Haar/Reynolds average of a symmetric form: its orthogonal projection on the invariants."""
        B = jnp.asarray(self.forms)
        return jnp.einsum("k,kij->ij", jnp.einsum("kij,ij->k", B, A), B)

    def average_vector(self, v: Array) -> Array:
        C = jnp.asarray(self.fixed)
        return C.T @ (C @ v)


def _null_space(M: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    if M.shape[0] == 0:
        return np.eye(M.shape[1])
    if M.shape[0] > 4 * M.shape[1]:  # tall: the Gram matrix has the same null space
        M = scipy.linalg.qr(M, mode="r")[0]
    _, s, vt = np.linalg.svd(M, full_matrices=M.shape[0] < M.shape[1])
    s_full = np.zeros(M.shape[1])
    s_full[: s.size] = s
    return vt[s_full <= tol * max(s_full[0], 1.0)]  # our operators are O(1)-scaled


def _sym_basis(n: int) -> np.ndarray:
    out = []
    for i in range(n):
        for j in range(i, n):
            E = np.zeros((n, n))
            E[i, j] = E[j, i] = 1.0 if i == j else np.sqrt(0.5)
            out.append(E)
    return np.stack(out)


def lifted_action(tz: Tensorization, group: Group, seed: int = 0) -> LiftedAction:
    """Compute ``ρ`` (and ``dρ``), the invariant forms and fixed vectors of ``group`` on ``Ψ̃``."""
    arch = tz.arch
    Fp = tz.basis.shape[1]
    n = 2 * Fp + 20
    key = jax.random.PRNGKey(seed)
    X = arch.random_inputs(key, n)
    feats = jax.vmap(tz.features)
    P = np.asarray(feats(X))  # (n, F')
    pinv = np.linalg.pinv(P)

    def act(M: Array, x: Array) -> Array:
        return x @ M.T  # token-wise for sequences, plain for vectors

    mats = np.asarray(group.matrices, dtype=float)
    if group.lie_algebra is not None:  # continuous: its component group + Lie algebra
        mats = np.asarray(group.components, dtype=float)
    rho = np.stack([(pinv @ np.asarray(feats(act(jnp.asarray(M), X)))).T for M in mats])
    gens = np.zeros((0, group.d, group.d)) if group.lie_algebra is None else group.lie_algebra
    drho_list = []
    for Om in gens:
        Omj = jnp.asarray(Om)
        dP = jax.vmap(lambda x, Omj=Omj: jax.jvp(tz.features, (x,), (act(Omj, x),))[1])(X)
        drho_list.append((pinv @ np.asarray(dP)).T)
    drho = np.stack(drho_list) if drho_list else np.zeros((0, Fp, Fp))
    # check equivariance on fresh inputs
    Xt = arch.random_inputs(jax.random.fold_in(key, 1), 16)
    Pt = np.asarray(feats(Xt))
    res = 0.0
    for M, R in zip(mats, rho, strict=True):
        lhs = np.asarray(feats(act(jnp.asarray(M), Xt)))
        res = max(res, float(np.max(np.abs(lhs - Pt @ R.T)) / np.max(np.abs(lhs))))
    for Om, dR in zip(gens, drho, strict=True):
        Omj = jnp.asarray(Om)
        lhs = np.asarray(
            jax.vmap(lambda x, Omj=Omj: jax.jvp(tz.features, (x,), (act(Omj, x),))[1])(Xt)
        )
        res = max(res, float(np.max(np.abs(lhs - Pt @ dR.T)) / max(np.max(np.abs(lhs)), 1e-300)))
    if res > 1e-6:
        raise InvalidArgumentError(
            "psi",
            f"the features are not equivariant: Ψ(Gx) is not a linear function of Ψ(x) (error {res:.1e})",
            "use features closed under the group (e.g. full tensor powers x^{⊗k})",
        )
    orth = max(float(np.max(np.abs(R @ R.T - np.eye(Fp)))) for R in rho)
    if orth > 1e-6:
        raise UnsupportedModelError(
            f"the lifted action on the features of {arch.name} is not orthogonal (error {orth:.1e}), "
            "so its group average is not an orthogonal projection. Fix: use orthogonal group matrices."
        )
    # invariant symmetric forms: conditions ρAρᵀ - A = 0, dρA + Adρᵀ = 0 on a basis of Sym(F')
    S = _sym_basis(Fp)  # (nS, F', F')
    rows = [
        np.einsum("ab,sbc,dc->sad", R, S, R, optimize=True).reshape(len(S), -1).T
        - S.reshape(len(S), -1).T
        for R in rho
    ]
    rows += [
        (np.einsum("ab,sbc->sac", dR, S) + np.einsum("sab,cb->sac", S, dR)).reshape(len(S), -1).T
        for dR in drho
    ]
    coef = _null_space(np.concatenate(rows)) if rows else np.eye(len(S))
    forms = np.einsum("ks,sij->kij", coef, S)
    vrows = [R - np.eye(Fp) for R in rho] + list(drho)
    fixed = _null_space(np.concatenate(vrows)) if vrows else np.eye(Fp)
    return LiftedAction(tz, rho, drho, forms, fixed, res)


def averaged_mse_fields(act: LiftedAction) -> FieldFamily:
    """Generators ``∇_θ ℓ̄(θ; x, y)`` of the *exactly* group-averaged MSE loss of one sample
    (see the module docstring), for any data group including continuous ones."""
    tz = act.tensorization
    arch = tz.arch
    L = get_loss("mse", arch.output_dim)

    def h(theta: Array, xi: tuple[Array, Array]) -> Array:
        x, y = xi
        psi = tz.features(x)
        Phi = tz.phi(theta)
        A = act.average_form(jnp.outer(psi, psi))
        b = act.average_vector(psi)
        return 0.5 * jnp.trace(Phi @ A @ Phi.T) - y @ (Phi @ b) + 0.5 * y @ y

    def sample(key: Array, n: int) -> tuple[Array, Array]:
        kx, ky = jax.random.split(key)
        return arch.random_inputs(kx, n), L.sample_labels(ky, n, arch.output_dim)

    return FieldFamily(
        h, sample, arch.dimension, f"exact group average of the mse loss ({arch.name})"
    )


def _quadratic_fields(tz: Tensorization, forms: np.ndarray, fixed: np.ndarray) -> FieldFamily:
    """All quadratics ``θ ↦ ½ tr(Φ̃ A Φ̃ᵀ) − tr(Bᵀ Φ̃ C)`` with ``A ∈ span(forms)``,
    ``C`` the fixed vectors and ``B`` any ``(m, nb)`` matrix."""
    Aj, Cj = jnp.asarray(forms), jnp.asarray(fixed)
    m = tz.arch.output_dim

    def h(theta: Array, xi: tuple[Array, Array]) -> Array:
        a, B = xi
        Phi = tz.phi(theta)
        A = jnp.einsum("k,kij->ij", a, Aj)
        return 0.5 * jnp.trace(Phi @ A @ Phi.T) - jnp.sum(B * (Phi @ Cj.T))

    def sample(key: Array, n: int) -> tuple[Array, Array]:
        ka, kb = jax.random.split(key)
        return (
            jax.random.normal(ka, (n, forms.shape[0])),
            jax.random.normal(kb, (n, m, fixed.shape[0])),
        )

    return FieldFamily(h, sample, tz.arch.dimension, "invariant quadratics of Φ")


def _symmetry_algebra_dimension(forms: np.ndarray, fixed: np.ndarray) -> int:
    """``dim Lie(H)``: antisymmetric ``Ω`` with ``[Ω, A] = 0`` for every invariant form and
    ``Ω c = 0`` for every fixed vector."""
    Fp = forms.shape[1]
    basis = []
    for i in range(Fp):
        for j in range(i + 1, Fp):
            E = np.zeros((Fp, Fp))
            E[i, j], E[j, i] = 1.0, -1.0
            basis.append(E)
    if not basis:
        return 0
    Om = np.stack(basis)  # (nO, F', F')
    rows = [
        (np.einsum("oab,kbc->koac", Om, forms) - np.einsum("kab,obc->koac", forms, Om))
        .transpose(1, 0, 2, 3)
        .reshape(len(Om), -1)
        .T
    ]
    if fixed.shape[0]:
        rows.append(np.einsum("oab,kb->oka", Om, fixed).reshape(len(Om), -1).T)
    return int(_null_space(np.concatenate(rows)).shape[0])


@dataclass(frozen=True)
class LiftedReport(Certified, JsonRecord):
    """Result of :func:`lifted_report`.

    Attributes:
        feature_dimension, feature_span: ``F`` and ``F' = dim span Ψ(x)``.
        factorisation_residual, equivariance_residual: checks of ``g = ΦΨ`` and ``Ψ(Gx) = ρ(G)Ψ(x)``.
        invariant_forms, symmetric_forms: ρ-invariant symmetric forms, out of ``F'(F'+1)/2``.
        fixed_vectors: ρ-fixed vectors; ``symmetry_algebra_dimension``: ``dim Lie(H)``.
        dimension: ``D``, the number of parameters.
        laws_without, laws_with, extra_laws: the measured MSE counts (exact group average).
        lifted_without, lifted_with: counts of all quadratics of ``Φ`` / the ``H``-invariant ones.
        predicted_extra: ``lifted_with − lifted_without``; ``accounted``: ``laws_with == lifted_with``
            (every extra law explained by the lifted symmetry).
        status: ``CountStatus.certified`` when all four counts are, else the first count's
            reason; ``gap``: their smallest rank gap. ``seconds``: wall time.
    """

    architecture: str
    group: str
    feature_dimension: int
    feature_span: int
    factorisation_residual: float
    equivariance_residual: float
    invariant_forms: int
    symmetric_forms: int
    fixed_vectors: int
    symmetry_algebra_dimension: int
    dimension: int
    laws_without: int | None
    laws_with: int | None
    extra_laws: int | None
    lifted_without: int | None
    lifted_with: int | None
    predicted_extra: int | None
    accounted: bool
    status: CountStatus
    gap: float
    seconds: float
    json_properties: ClassVar[tuple[str, ...]] = ("certified",)


def lifted_report(
    arch: Architecture,
    group: Group,
    tz: Tensorization | None = None,
    *,
    points: int = 4,
    seed: int = 0,
) -> LiftedReport:
    """Explain the extra MSE laws created by augmenting ``arch``'s data with ``group``: the feature
    dimensions, the lifted invariants, the measured counts (exact group average) and the counts of
    the lifted families (see :class:`LiftedReport`)."""
    start = time.perf_counter()
    tz = tensorization(arch) if tz is None else tz
    act = lifted_action(tz, group, seed=seed)
    Fp = tz.basis.shape[1]
    from noetherlab.training.lie import loss_fields

    kw: dict[str, Any] = {"n_points": points, "seed": seed}
    without = count_family_laws(loss_fields(arch, "mse"), **kw)
    with_g = count_family_laws(averaged_mse_fields(act), **kw)
    lifted_without = count_family_laws(_quadratic_fields(tz, _sym_basis(Fp), np.eye(Fp)), **kw)
    lifted_with = count_family_laws(_quadratic_fields(tz, act.forms, act.fixed), **kw)
    counts: list[LawCount] = [without, with_g, lifted_without, lifted_with]
    laws = [c.laws for c in counts]
    extra = None if None in laws[:2] else laws[1] - laws[0]  # type: ignore[operator]
    predicted = None if None in laws[2:] else laws[3] - laws[2]  # type: ignore[operator]
    return LiftedReport(
        architecture=arch.name,
        group=group.name,
        feature_dimension=int(tz.basis.shape[0]),
        feature_span=Fp,
        factorisation_residual=tz.residual,
        equivariance_residual=act.residual,
        invariant_forms=int(act.forms.shape[0]),
        symmetric_forms=Fp * (Fp + 1) // 2,
        fixed_vectors=int(act.fixed.shape[0]),
        symmetry_algebra_dimension=_symmetry_algebra_dimension(act.forms, act.fixed),
        dimension=arch.dimension,
        laws_without=laws[0],
        laws_with=laws[1],
        extra_laws=extra,
        lifted_without=laws[2],
        lifted_with=laws[3],
        predicted_extra=predicted,
        accounted=extra is not None and predicted is not None and laws[1] == laws[3],
        status=CountStatus.of_all(c.status for c in counts),
        gap=min(c.gap for c in counts),
        seconds=time.perf_counter() - start,
    )
