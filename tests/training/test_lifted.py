"""Lifted action of a data group on feature space (tensorizable nets): exact Haar averages and the
counts derived in docs/data-symmetry.md."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from noetherlab._core.errors import InvalidArgumentError, UnsupportedModelError
from noetherlab.training import lightning_attention, linear_net, polynomial_unit, relu_net
from noetherlab.training.groups import cyclic, orthogonal, rotation
from noetherlab.training.lifted import lifted_action, lifted_report, tensorization
from noetherlab.training.symmetry import augmentation_report


def test_builtin_factorisations_reproduce_the_model():
    for arch in (linear_net([3, 2, 2]), lightning_attention(2, 3, 1, 2), polynomial_unit(2, 3)):
        tz = tensorization(arch)
        assert tz.residual < 1e-10
    # lightning attention: Ψ(X) = x_1 ⊗ XᵀX spans V ⊗ Sym²V, of dimension d · d(d+1)/2
    assert tensorization(lightning_attention(2, 3, 1, 1)).basis.shape == (27, 18)


def test_user_factorisation_is_checked():
    arch = linear_net([3, 1])
    with pytest.raises(InvalidArgumentError, match="not Φ"):
        tensorization(arch, psi=lambda x: x[:2])  # drops a coordinate the model uses
    with pytest.raises(UnsupportedModelError, match="tensorization"):
        tensorization(relu_net([2, 3, 1]))


def test_c3_lifted_action_explains_the_extra_law():
    # circulant second moments: invariant forms span{I, 11ᵀ} (2), fixed vectors span{1} (1), and the
    # feature-space symmetry is the rotation of the plane ⊥ (1,1,1) (dim Lie(H) = 1)
    rep = lifted_report(linear_net([3, 1]), cyclic(3))
    assert (rep.invariant_forms, rep.fixed_vectors, rep.symmetry_algebra_dimension) == (
        2,
        1,
        1,
    )
    assert (rep.laws_without, rep.laws_with, rep.predicted_extra) == (0, 1, 1)
    assert rep.accounted and rep.certified


def test_exact_haar_average_matches_the_dihedral_average_for_o2():
    # D24 reproduces Haar averages on O(2) up to degree 23: the lightning loss has degree 6 in x
    arch = lightning_attention(2, 2, 1, 1)
    tz = tensorization(arch)
    act = lifted_action(tz, orthogonal(2))
    assert act.forms.shape[0] == 4 and act.fixed.shape[0] == 0  # odd features: no label term
    X = arch.random_inputs(jax.random.PRNGKey(3), 1)[0]
    psi = tz.features(X)
    mats = orthogonal(2).matrices  # the 48 elements of D24
    orbit = jax.vmap(lambda G: tz.features(X @ G.T))(jnp.asarray(mats))
    finite = jnp.mean(jax.vmap(jnp.outer)(orbit, orbit), axis=0)
    np.testing.assert_allclose(act.average_form(jnp.outer(psi, psi)), finite, atol=1e-12)


@pytest.mark.slow
def test_lightning_attention_o_d_extra_laws_follow_the_grassmannian_formula():
    # extra = n (d - n) with n = 2 d_k + d_out rows of M = [Q K V]ᵀ acting on R^d (0 when n >= d)
    small = augmentation_report(lightning_attention(2, 2, 1, 1), orthogonal(2))
    assert (small.laws_without, small.laws_with) == (2, 2)
    big = augmentation_report(lightning_attention(2, 4, 1, 1), orthogonal(4))
    assert big.average.startswith("exact Haar")
    assert (big.laws_without, big.laws_with, big.extra_laws) == (2, 5, 3)
    assert big.certified


def test_polynomial_unit_gains_a_law_once_k_exceeds_the_loss_degree():
    # ½(f(p·x) − y)² with deg f = 2 has degree 4 in x: its C_k average is rotation invariant in p
    # (one law: the direction of p) iff k > 4
    arch = polynomial_unit(2, 2)
    counts = [augmentation_report(arch, rotation(k, 2)).laws_with for k in range(1, 7)]
    assert counts == [0, 0, 0, 0, 1, 1]
