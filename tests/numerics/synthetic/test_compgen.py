"""Compositional generalization: recombination protocol and ID/OOD errors on exact cases."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from numerics.core.errors import ConfigError, DataError
from numerics.synthetic.compgen import compositional_generalization, recombine
from numerics.synthetic.supports import make_support


class _Oracle(nn.Module):
    """encode = identity, decode = identity + shift * 1[z outside the support]."""

    def __init__(self, support: object, shift: float) -> None:
        super().__init__()
        self.support, self.shift = support, shift
        self.scale = nn.Parameter(torch.ones(()))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        outside = ~self.support.contains(z.double())
        return z + self.shift * outside.to(z.dtype)[:, None]


def _identity(z: torch.Tensor) -> torch.Tensor:
    return z.float()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.randoms(use_true_random=False),
       st.integers(0, 1000))
def test_recombine_matches_slots_through_permutation(sizes: list[int], rnd, seed: int) -> None:
    perm = list(range(len(sizes)))
    rnd.shuffle(perm)
    hat_sizes = [0] * len(sizes)
    for k, j in enumerate(perm):
        hat_sizes[j] = sizes[k]
    z = torch.randn(30, sum(sizes), generator=torch.Generator().manual_seed(seed))
    offsets = [sum(sizes[:k]) for k in range(len(sizes))]
    inverse = [perm.index(j) for j in range(len(sizes))]
    columns = [offsets[k] + i for k in inverse for i in range(sizes[k])]
    z_hat = z[:, columns]
    z_star, z_hat_star = recombine(z, z_hat, sizes, hat_sizes, perm, 50,
                                   torch.Generator().manual_seed(seed))
    assert torch.equal(z_hat_star, z_star[:, columns])
    rows = {tuple(r) for r in z.tolist()}
    for k in range(len(sizes)):
        block = slice(offsets[k], offsets[k] + sizes[k])
        seen = {tuple(r[block]) for r in rows}
        assert all(tuple(r) in seen for r in z_star[:, block].tolist())


def test_recombine_rejects_bad_permutation_and_shapes() -> None:
    z = torch.zeros(5, 3)
    gen = torch.Generator().manual_seed(0)
    with pytest.raises(DataError, match="permutation"):
        recombine(z, z, (1, 1, 1), (1, 1, 1), [0, 0, 1], 4, gen)
    with pytest.raises(DataError, match="do not match"):
        recombine(z, torch.zeros(5, 2), (1, 1, 1), (1, 1, 1), [0, 1, 2], 4, gen)


@pytest.mark.parametrize("kind", ["lshape", "band"])
def test_exact_errors_of_a_hand_built_decoder(kind: str) -> None:
    support = make_support(kind, (1, 2, 1))
    z_train = support.sample_train(400, 0, dtype=torch.float64)
    shift = 0.5
    result = compositional_generalization(_Oracle(support, shift), _identity, support, z_train,
                                          (1, 2, 1), [0, 1, 2], n=200, seed=1)
    assert result.recon_mse == 0.0 and result.id_recombination_mse == 0.0
    assert result.ood_recon_mse == pytest.approx(shift**2, rel=1e-6)
    assert result.ood_autoencode_mse == pytest.approx(shift**2, rel=1e-6)
    assert result.ood_sis > 0.9 and result.n_ood == 200
    assert math.isnan(result.ood_ratio)


def test_perfect_decoder_generalizes_and_full_support_has_no_ood() -> None:
    lshape = make_support("lshape", (1, 1))
    z_train = lshape.sample_train(300, 0, dtype=torch.float64)
    perfect = compositional_generalization(_Oracle(lshape, 0.0), _identity, lshape, z_train,
                                           (1, 1), [0, 1], n=100)
    assert perfect.ood_recon_mse == 0.0 and perfect.ood_autoencode_mse == 0.0
    full = make_support("full", (1, 1))
    result = compositional_generalization(_Oracle(full, 1.0), _identity, full, z_train,
                                          (1, 1), [1, 0], n=100)
    assert math.isnan(result.ood_recon_mse) and math.isnan(result.ood_sis)
    assert result.to_dict()["n_ood"] == 0
    with pytest.raises(ConfigError):
        compositional_generalization(_Oracle(full, 0.0), _identity, full, z_train, (1, 1),
                                     [0, 1], n=3)
