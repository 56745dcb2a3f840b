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
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from noetherlab.training.architectures import Architecture
from noetherlab.training.dynamics import Flow

__all__ = [
    "KnownLaw",
    "explain",
    "known_ceiling",
    "known_laws",
    "law_gradients",
    "stacked_laws",
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


def _sym_entries(
    name: str, matrix_fn: Callable[..., Array], n: int, arch: Architecture, symmetry: str
) -> list[KnownLaw]:
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


def known_laws(
    arch: Architecture, loss: str | None = None, flow: Flow | None = None
) -> list[KnownLaw]:
    """The known laws of ``arch`` (for ``loss``; architecture-level laws hold for every loss) under
    ``flow`` (default the Euclidean gradient flow). Each law is a function of the flow's state:
    ``θ``, or ``(t, θ, θ̇)`` for a momentum flow."""
    if flow is not None and not flow.euclidean_gradient:
        return _flow_laws(arch, flow)
    k, lay = arch.kind, arch.layers
    laws: list[KnownLaw] = []
    if k == "linear":
        s = lay["sizes"]
        for i in range(1, len(s) - 1):
            laws += _sym_entries(
                f"W{i}W{i}^T - W{i + 1}^T W{i + 1}",
                lambda p, i=i: p[f"W{i}"] @ p[f"W{i}"].T - p[f"W{i + 1}"].T @ p[f"W{i + 1}"],
                s[i],
                arch,
                f"GL({s[i]}) acting on hidden layer {i}",
            )
    elif k in ("relu", "polynomial"):
        deg = 1 if k == "relu" else lay.get("homogeneous_degree")
        if deg is not None:
            s = lay["sizes"]
            for i in range(1, len(s) - 1):

                def balances(th: Array, i: int = i, deg: int = deg) -> Array:
                    """``|in_j|² - deg |out_j|²`` for every neuron ``j`` of hidden layer ``i``."""
                    p = arch.unravel(th)
                    inc = jnp.sum(p[f"W{i}"] ** 2, axis=1) + (
                        p[f"b{i}"] ** 2 if lay["bias"] else 0.0
                    )
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
    elif k == "conv":
        ch = lay["channels"]
        L = len(ch) - 1
        for i in range(1, L + 1):
            for c in range(ch[i]):

                def claw(th: Array, i: int = i, c: int = c) -> Array:
                    p = arch.unravel(th)
                    inc = jnp.sum(p[f"K{i}"][c] ** 2) + (p[f"c{i}"][c] ** 2 if lay["bias"] else 0.0)
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
    elif k in ("attention", "lightning"):
        p0 = arch.unravel(jnp.zeros(arch.dimension))
        dk = p0["Q"].shape[1]
        laws += _sym_entries(
            "Q^TQ - K^TK",
            lambda p: p["Q"].T @ p["Q"] - p["K"].T @ p["K"],
            dk,
            arch,
            f"GL({dk}) of the query-key product",
        )
        if k == "attention":
            dv = p0["V"].shape[1]
            laws += _sym_entries(
                "V^TV - OO^T",
                lambda p: p["V"].T @ p["V"] - p["O"] @ p["O"].T,
                dv,
                arch,
                f"GL({dv}) of the value-output product",
            )
        else:
            laws.append(
                KnownLaw(
                    "|Q|² - |V|²",
                    lambda th: (
                        jnp.sum(arch.unravel(th)["Q"] ** 2) - jnp.sum(arch.unravel(th)["V"] ** 2)
                    ),
                    "rescaling (Q, V) -> (λQ, V/λ)",
                )
            )
    elif k == "softmax" and loss == "cross-entropy":
        n_in = arch.input_shape[0]
        for j in range(n_in):
            laws.append(
                KnownLaw(
                    f"sum_i W[i,{j}]",
                    lambda th, j=j: jnp.sum(arch.unravel(th)["W"][:, j]),
                    "logit shift W -> W + 1 v^T (softmax invariance)",
                )
            )
    elif k == "product":
        n = lay["n"]
        for i in range(1, n):
            laws.append(
                KnownLaw(
                    f"x{i + 1}² - x1²",
                    lambda th, i=i: th[i] ** 2 - th[0] ** 2,
                    f"rescaling (x1, x{i + 1}) -> (λ x1, x{i + 1}/λ)",
                )
            )
    return laws


def _flow_laws(arch: Architecture, flow: Flow) -> list[KnownLaw]:
    """Known laws of a metric or momentum flow (see the module docstring)."""
    k, lay = arch.kind, arch.layers
    D = arch.dimension
    laws: list[KnownLaw] = []
    homogeneous = {"linear": 1, "relu": 1, "polynomial": lay.get("homogeneous_degree")}.get(k)
    if not flow.second_order and homogeneous is not None:
        entropy = jnp.asarray(flow.metric_mask(arch.param_names))
        s = lay["sizes"]
        bias = bool(lay.get("bias", False))
        for i in range(1, len(s) - 1):
            for j in range(s[i]):

                def law(th: Array, i: int = i, j: int = j, deg: int = homogeneous) -> Array:
                    phi = arch.unravel(jnp.where(entropy > 0, th, 0.5 * th**2))
                    inc = jnp.sum(phi[f"W{i}"][j]) + (phi[f"b{i}"][j] if bias else 0.0)
                    return inc - deg * jnp.sum(phi[f"W{i + 1}"][:, j])

                laws.append(
                    KnownLaw(
                        f"φ(in(L{i},n{j})) - {homogeneous} φ(out(L{i},n{j}))",
                        law,
                        f"rescaling of neuron {j} of layer {i} under the {flow.metric} metric",
                    )
                )
    elif flow.second_order and flow.metric == "euclidean" and k == "linear":
        s = lay["sizes"]
        tau = flow.friction
        heavy = flow.momentum == "heavy-ball"
        weight = f"exp({tau:g} t)" if heavy else "t³"
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


def explain(result: Any, arch: Architecture, loss: str | None, flow: Flow | None = None) -> None:
    """Fill ``result.explained`` with the number of functionally independent known laws (rank of
    their gradients at the first point) and ``result.known`` with their names."""
    laws = known_laws(arch, loss, flow)
    if not laws:
        return
    grads = law_gradients(laws, jnp.asarray(result.points[:1]))[0]
    result.explained = int(np.linalg.matrix_rank(grads, tol=1e-9 * np.max(np.abs(grads))))
    result.known = [f"{law.name}  ({law.symmetry})" for law in laws]
    if result.laws is not None:
        result.message += f"; {result.explained} of them explained by known laws"


def known_ceiling(
    arch: Architecture, loss: str | None, flow: Flow | None = None
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
