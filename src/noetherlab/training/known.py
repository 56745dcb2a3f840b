r"""Library of known conservation laws, with the symmetry that explains each.

A one-parameter group ``θ → e^{sA} θ`` (``A`` linear) that leaves every loss invariant gives
``⟨∇L, Aθ⟩ = 0``; for symmetric ``A`` the quadratic ``½ θ^T A θ`` is then conserved by gradient flow.
This covers:

* **linear nets** ``W_{i+1} W_i = (W_{i+1} M^{-1})(M W_i)`` (``GL(h_i)`` at every hidden layer):
  ``W_i W_i^T - W_{i+1}^T W_{i+1}`` (``h_i × h_i``, symmetric: ``h_i(h_i+1)/2`` laws);
* **ReLU / positively homogeneous nets** (rescaling a hidden neuron's incoming weights and bias by
  ``λ`` and its outgoing weights by ``1/λ``): ``‖W_i[j,:]‖² + b_i[j]² - ‖W_{i+1}[:,j]‖²`` per neuron; for
  ``σ(z) = z^k``: ``‖in_j‖² + b_j² - k ‖out_j‖²``;
* **convolutions** with ReLU (rescaling a channel): ``‖K_i[c]‖² + c_i[c]² - ‖K_{i+1}[:, c]‖²`` (the
  last layer's outgoing weights are the read-out's columns for that channel);
* **attention** (``QK^T = (QA)(KA^{-T})^T``, ``VO = (VC)(C^{-1}O)``): ``Q^TQ - K^TK`` and ``V^TV - OO^T``;
* **lightning attention**: ``Q^TQ - K^TK`` and the rescaling ``(Q, V) → (λQ, V/λ)``:
  ``‖Q‖² - ‖V‖²``;
* **softmax + cross-entropy** (logits shift ``W → W + 1 v^T`` leaves the loss invariant):
  the column sums ``Σ_i W_ij``, linear laws;
* **product** ``θ_1⋯θ_n`` (rescalings preserving the product): ``θ_i² - θ_1²``.

Beyond the Euclidean gradient flow (:mod:`noetherlab.training.dynamics`), the same symmetries give:

* **metric flows** ``θ̇ = -M(θ)∇L``: ``h`` with ``M ∇h = Aθ`` is conserved; for a neuron rescaling
  (linear, ReLU, homogeneous nets) that is ``Σ_in φ(θ_k) - k Σ_out φ(θ_k)`` with ``φ(θ) = θ²/2``
  where the metric is Euclidean and ``φ(θ) = θ`` where it is ``diag(θ)`` (NMF, the non-negative
  layer of an input-convex net);
* **momentum flows** ``θ̈ + τ θ̇ = -∇L``: for an antisymmetric generator (``⟨θ̇, Aθ̇⟩ = 0``)
  ``J = ⟨θ̇, Aθ⟩`` obeys ``J̇ = -τ J``, so ``e^{τt} J`` is conserved (``t³ J`` for Nesterov's
  ``τ = 3/t``); for linear nets these are the antisymmetric parts of
  ``Ẇ_i W_i^T - W_{i+1}^T Ẇ_{i+1}`` (``h_i(h_i - 1)/2`` laws per hidden layer).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab.training.dynamics import Flow
from noetherlab.training.losses import Loss, as_loss

if TYPE_CHECKING:  # the architecture and the result (their modules import this one)
    from noetherlab.training.architectures import Architecture
    from noetherlab.training.lie import LawCount

__all__ = [
    "ATTENTION",
    "CONVOLUTION",
    "LIGHTNING_ATTENTION",
    "LINEAR",
    "PRODUCT",
    "RELU",
    "SOFTMAX",
    "UNKNOWN",
    "KnownLaw",
    "KnownLaws",
    "array_entries",
    "explain",
    "homogeneous",
    "known_ceiling",
    "known_laws",
    "law_gradients",
    "stacked_laws",
    "symmetric_entries",
]

Array = jax.Array


@dataclass(frozen=True)
class KnownLaw:
    """A known law ``fn(z)`` of the flow's state ``z``, the symmetry that explains it, and — for
    the entries of a matrix-valued law — the shared ``block`` (``z -> matrix``) and the ``entry``
    index, so that many laws are evaluated with one matrix computation (:func:`stacked_laws`)."""

    name: str
    fn: Callable[..., Array]  # flat θ -> scalar (extra keyword defaults bind loop indices)
    symmetry: str
    block: Callable[[Array], Array] | None = None
    entry: tuple[int, ...] | None = None


def stacked_laws(laws: list[KnownLaw]) -> Callable[[Array], Array]:
    """``z -> (len(laws),)``: every law's value; the laws that are entries of one ``block`` are
    read from one evaluation of it with one gather (so thousands of laws compile as a few ops)."""
    groups: dict[int, tuple[Callable[[Array], Array], list[int], list[tuple[int, ...]]]] = {}
    single: list[int] = []
    for i, law in enumerate(laws):
        if law.block is not None and law.entry is not None:
            groups.setdefault(id(law.block), (law.block, [], []))
            groups[id(law.block)][1].append(i)
            groups[id(law.block)][2].append(law.entry)
        else:
            single.append(i)
    order = [i for _, idx, _ in groups.values() for i in idx] + single
    inverse = jnp.asarray(np.argsort(np.asarray(order, dtype=int)))
    gathers = [
        (block, tuple(jnp.asarray(np.asarray(entries, dtype=int).T)))
        for block, _, entries in groups.values()
    ]

    def values(z: Array) -> Array:
        parts = [block(z)[index] for block, index in gathers]
        parts += [jnp.reshape(laws[i].fn(z), (1,)) for i in single]
        return jnp.concatenate(parts)[inverse]

    return values


def law_gradients(laws: list[KnownLaw], points: Array) -> np.ndarray:
    """``(P, K, dim)``: the gradients of the ``K`` laws at each of the ``P`` points (one compiled
    Jacobian of :func:`stacked_laws`)."""
    jac = jax.jit(jax.vmap(jax.jacrev(stacked_laws(laws))))
    return np.asarray(jac(jnp.asarray(points)))


def symmetric_entries(
    name: str, matrix_fn: Callable[..., Array], n: int, arch: Architecture, symmetry: str
) -> list[KnownLaw]:
    """The ``n(n+1)/2`` upper-triangle entries of the symmetric matrix law ``matrix_fn(params)``,
    each a :class:`KnownLaw` sharing one block evaluation."""
    laws = []

    def block(th: Array) -> Array:
        return matrix_fn(arch.unravel(th))

    for i in range(n):
        for j in range(i, n):
            laws.append(
                KnownLaw(
                    f"{name}[{i},{j}]",
                    lambda th, i=i, j=j: block(th)[i, j],
                    symmetry,
                    block,
                    (i, j),
                )
            )
    return laws


def array_entries(
    name: str, block: Callable[[Array], Array], shape: tuple[int, ...], symmetry: str
) -> list[KnownLaw]:
    """One :class:`KnownLaw` per entry of the array-valued law ``block(θ)`` (of ``shape``), named
    ``name.format(*index)`` (e.g. ``"sum W[:, {0}]"``); they share one evaluation of ``block``
    (:func:`stacked_laws`)."""
    return [
        KnownLaw(name.format(*idx), lambda th, idx=idx: block(th)[idx], symmetry, block, idx)
        for idx in np.ndindex(*shape)
    ]


def _gl_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """Linear nets: ``W_i W_i^T - W_{i+1}^T W_{i+1}`` at every hidden layer (``GL(h_i)``)."""
    s = arch.layers["sizes"]
    laws: list[KnownLaw] = []
    for i in range(1, len(s) - 1):
        laws += symmetric_entries(
            f"W{i}W{i}^T - W{i + 1}^T W{i + 1}",
            lambda p, i=i: p[f"W{i}"] @ p[f"W{i}"].T - p[f"W{i + 1}"].T @ p[f"W{i + 1}"],
            s[i],
            arch,
            f"GL({s[i]}) acting on hidden layer {i}",
        )
    return laws


def _neuron_balances(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """Positively homogeneous nets of degree ``k``: ``|in_j|² - k |out_j|²`` per hidden neuron."""
    s, bias, deg = arch.layers["sizes"], arch.layers["bias"], arch.known.neuron_degree
    assert deg is not None  # the families with neuron balances state their degree
    laws: list[KnownLaw] = []
    for i in range(1, len(s) - 1):

        def balances(th: Array, i: int = i) -> Array:
            """``|in_j|² - deg |out_j|²`` for every neuron ``j`` of hidden layer ``i``."""
            p = arch.unravel(th)
            inc = jnp.sum(p[f"W{i}"] ** 2, axis=1) + (p[f"b{i}"] ** 2 if bias else 0.0)
            return inc - deg * jnp.sum(p[f"W{i + 1}"] ** 2, axis=0)

        for j in range(s[i]):
            laws.append(
                KnownLaw(
                    f"|in(L{i},n{j})|² - {deg}|out(L{i},n{j})|²",
                    lambda th, j=j, b=balances: b(th)[j],
                    f"rescaling of neuron {j} of layer {i}",
                    balances,
                    (j,),
                )
            )
    return laws


def _channel_balances(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """ReLU convolutions: ``|K_i[c]|² + c_i[c]² - |out of channel c|²`` per channel."""
    ch, bias = arch.layers["channels"], arch.layers["bias"]
    L = len(ch) - 1
    laws: list[KnownLaw] = []
    for i in range(1, L + 1):
        for c in range(ch[i]):

            def claw(th: Array, i: int = i, c: int = c) -> Array:
                p = arch.unravel(th)
                inc = jnp.sum(p[f"K{i}"][c] ** 2) + (p[f"c{i}"][c] ** 2 if bias else 0.0)
                if i < L:
                    out = jnp.sum(p[f"K{i + 1}"][:, c] ** 2)
                else:
                    R = p["R"].reshape(p["R"].shape[0], ch[-1], -1)
                    out = jnp.sum(R[:, c] ** 2)
                return inc - out

            laws.append(
                KnownLaw(
                    f"|K{i}[{c}]|² - |out of channel {c}|²",
                    claw,
                    f"rescaling of channel {c} of layer {i}",
                )
            )
    return laws


def _query_key_laws(arch: Architecture) -> list[KnownLaw]:
    dk = arch.unravel(jnp.zeros(arch.dimension))["Q"].shape[1]
    return symmetric_entries(
        "Q^TQ - K^TK",
        lambda p: p["Q"].T @ p["Q"] - p["K"].T @ p["K"],
        dk,
        arch,
        f"GL({dk}) of the query-key product",
    )


def _attention_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """Softmax attention: ``Q^TQ - K^TK`` and ``V^TV - OO^T``."""
    dv = arch.unravel(jnp.zeros(arch.dimension))["V"].shape[1]
    return _query_key_laws(arch) + symmetric_entries(
        "V^TV - OO^T",
        lambda p: p["V"].T @ p["V"] - p["O"] @ p["O"].T,
        dv,
        arch,
        f"GL({dv}) of the value-output product",
    )


def _lightning_laws(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """Lightning attention: ``Q^TQ - K^TK`` and the rescaling ``|Q|² - |V|²``."""
    rescaling = KnownLaw(
        "|Q|² - |V|²",
        lambda th: jnp.sum(arch.unravel(th)["Q"] ** 2) - jnp.sum(arch.unravel(th)["V"] ** 2),
        "rescaling (Q, V) -> (λQ, V/λ)",
    )
    return [*_query_key_laws(arch), rescaling]


def _logit_shifts(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """Softmax logits trained with a loss of the logits (cross-entropy): the column sums of ``W``."""
    if loss is None or not as_loss(loss).logits:
        return []
    return [
        KnownLaw(
            f"sum_i W[i,{j}]",
            lambda th, j=j: jnp.sum(arch.unravel(th)["W"][:, j]),
            "logit shift W -> W + 1 v^T (softmax invariance)",
        )
        for j in range(arch.input_shape[0])
    ]


def _product_rescalings(arch: Architecture, loss: str | Loss | None) -> list[KnownLaw]:
    """The product ``θ_1⋯θ_n``: ``θ_i² - θ_1²``."""
    return [
        KnownLaw(
            f"x{i + 1}² - x1²",
            lambda th, i=i: th[i] ** 2 - th[0] ** 2,
            f"rescaling (x1, x{i + 1}) -> (λ x1, x{i + 1}/λ)",
        )
        for i in range(1, arch.layers["n"])
    ]


@dataclass(frozen=True)
class KnownLaws:
    """The laws an architecture knows it has, stated by the architecture itself (its builder sets
    :attr:`Architecture.known <noetherlab.training.architectures.Architecture>`).

    Attributes:
        gradient: ``(arch, loss) -> laws`` of the Euclidean gradient flow (architecture-level laws
            hold for every loss; ``None``: none known).
        neuron_degree: hidden neurons rescale with this degree ``k`` (incoming weights by ``λ``,
            outgoing by ``λ^{-k}``): the source of the metric-flow laws.
        hidden_rotations: the hidden layers rotate (linear nets): the source of the momentum-flow
            laws.
    """

    gradient: Callable[[Architecture, str | Loss | None], list[KnownLaw]] | None = None
    neuron_degree: int | None = None
    hidden_rotations: bool = False

    def laws(
        self, arch: Architecture, loss: str | Loss | None, flow: Flow | None
    ) -> list[KnownLaw]:
        """The known laws of ``arch`` for ``loss`` under ``flow`` (default the gradient flow)."""
        if flow is None or flow.euclidean_gradient:
            return [] if self.gradient is None else self.gradient(arch, loss)
        if not flow.second_order and self.neuron_degree is not None:
            return _metric_laws(arch, flow, self.neuron_degree)
        if flow.second_order and flow.metric == "euclidean" and self.hidden_rotations:
            return _momentum_laws(arch, flow)
        return []


#: no known laws (custom models)
UNKNOWN = KnownLaws()
LINEAR = KnownLaws(_gl_laws, neuron_degree=1, hidden_rotations=True)
RELU = KnownLaws(_neuron_balances, neuron_degree=1)
CONVOLUTION = KnownLaws(_channel_balances)
ATTENTION = KnownLaws(_attention_laws)
LIGHTNING_ATTENTION = KnownLaws(_lightning_laws)
SOFTMAX = KnownLaws(_logit_shifts)
PRODUCT = KnownLaws(_product_rescalings)


def homogeneous(degree: int | None) -> KnownLaws:
    """An MLP whose activation is ``z^k`` (``degree = k``; ``None``: not homogeneous, no laws)."""
    return UNKNOWN if degree is None else KnownLaws(_neuron_balances, neuron_degree=degree)


def known_laws(
    arch: Architecture, loss: str | Loss | None = None, flow: Flow | None = None
) -> list[KnownLaw]:
    """The known laws of ``arch`` (for ``loss``; architecture-level laws hold for every loss) under
    ``flow`` (default the Euclidean gradient flow), as the architecture states them. Each law is a
    function of the flow's state: ``θ``, or ``(t, θ, θ̇)`` for a momentum flow."""
    return arch.known.laws(arch, loss, flow)


def _metric_laws(arch: Architecture, flow: Flow, degree: int) -> list[KnownLaw]:
    """Metric flows: ``φ(in_j) - k φ(out_j)`` per hidden neuron (module docstring)."""
    entropy = jnp.asarray(flow.metric_mask(arch.param_names))
    s, bias = arch.layers["sizes"], bool(arch.layers.get("bias", False))
    laws: list[KnownLaw] = []
    for i in range(1, len(s) - 1):
        for j in range(s[i]):

            def law(th: Array, i: int = i, j: int = j) -> Array:
                phi = arch.unravel(jnp.where(entropy > 0, th, 0.5 * th**2))
                inc = jnp.sum(phi[f"W{i}"][j]) + (phi[f"b{i}"][j] if bias else 0.0)
                return inc - degree * jnp.sum(phi[f"W{i + 1}"][:, j])

            laws.append(
                KnownLaw(
                    f"φ(in(L{i},n{j})) - {degree} φ(out(L{i},n{j}))",
                    law,
                    f"rescaling of neuron {j} of layer {i} under the {flow.metric} metric",
                )
            )
    return laws


def _momentum_laws(arch: Architecture, flow: Flow) -> list[KnownLaw]:
    """Momentum flows of linear nets: ``e^{τt}`` (heavy ball) or ``t³`` (Nesterov) times the
    antisymmetric parts of ``Ẇ_i W_i^T - W_{i+1}^T Ẇ_{i+1}``."""
    s, D = arch.layers["sizes"], arch.dimension
    tau = flow.friction
    heavy = flow.momentum == "heavy-ball"
    weight = f"exp({tau:g} t)" if heavy else "t³"
    laws: list[KnownLaw] = []
    for i in range(1, len(s) - 1):
        for a in range(s[i]):
            for b in range(a + 1, s[i]):

                def mlaw(z: Array, i: int = i, a: int = a, b: int = b) -> Array:
                    p, v = arch.unravel(z[1 : D + 1]), arch.unravel(z[D + 1 :])
                    J = v[f"W{i}"] @ p[f"W{i}"].T - p[f"W{i + 1}"].T @ v[f"W{i + 1}"]
                    w = jnp.exp(tau * z[0]) if heavy else z[0] ** 3
                    return w * (J[a, b] - J[b, a])

                laws.append(
                    KnownLaw(
                        f"{weight}·A(W{i}'W{i}^T - W{i + 1}^T W{i + 1}')[{a},{b}]",
                        mlaw,
                        f"rotation of hidden layer {i} (antisymmetric part of GL({s[i]}))",
                    )
                )
    return laws


def explain(
    result: LawCount, arch: Architecture, loss: str | Loss | None, flow: Flow | None = None
) -> LawCount:
    """``result`` with ``explained`` (the number of functionally independent known laws: the rank
    of their gradients at the first point) and ``known`` (their names) filled in; ``result``
    itself when the library has no laws for this architecture."""
    laws = known_laws(arch, loss, flow)
    if not laws:
        return result
    grads = law_gradients(laws, jnp.asarray(result.points[:1]))[0]
    explained = int(np.linalg.matrix_rank(grads, tol=1e-9 * np.max(np.abs(grads))))
    message = result.message
    if result.laws is not None:
        message += f"; {explained} of them explained by known laws"
    return replace(
        result,
        explained=explained,
        known=[f"{law.name}  ({law.symmetry})" for law in laws],
        message=message,
    )


def known_ceiling(
    arch: Architecture, loss: str | Loss | None, flow: Flow | None = None
) -> Callable[[Array], np.ndarray | None] | None:
    """``points -> D − k_p``: the trace dimension can be no larger than the state dimension minus
    the number ``k_p`` of independent known laws at each point (their gradients are orthogonal to
    every generator). ``None`` without known laws; the bound is withheld (``None`` from the
    callable) unless the known gradients are clearly independent at every point (smallest
    singular value above ``1e-6`` of the largest, rows normalised)."""
    laws = known_laws(arch, loss, flow)
    if not laws:
        return None

    def ceiling(points: Array) -> np.ndarray | None:
        G = law_gradients(laws, points)  # (P, K, dim)
        out = []
        for g in G:
            norms = np.linalg.norm(g, axis=1, keepdims=True)
            if np.any(norms == 0) or not np.all(np.isfinite(g)):
                return None
            rows = g / norms
            eig = np.linalg.eigvalsh(rows @ rows.T)  # σ² of the normalised gradients
            if eig[0] < 1e-12 * eig[-1]:
                return None  # dependent (or nearly): no trustworthy bound
            out.append(g.shape[1] - g.shape[0])
        return np.asarray(out)

    return ceiling
