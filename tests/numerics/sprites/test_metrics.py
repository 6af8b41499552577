"""Metrics on hand-built cases: ARI, JIS, J-ARI, FG-ARI, Jacobian, slot matching, SIS."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from numerics.core.errors import DataError
from numerics.sprites.metrics import (
    ari,
    decoder_jacobian,
    fg_ari,
    foreground_ari,
    foreground_ari_per_image,
    j_ari,
    jis,
    match_slots,
    normalize_jacobian,
    sprites_sis,
)


def test_ari_hand_computed_values() -> None:
    assert ari([1, 1, 2, 2], [0, 0, 0, 1]) == 0.0
    value = ari([1, 1, 1, 2, 2, 2], [0, 0, 1, 1, 2, 2])
    assert Fraction(value).limit_denominator(1000) == Fraction(8, 33)
    assert value == pytest.approx(8 / 33, abs=1e-15)
    assert ari([3, 3, 5], [7, 7, 1]) == 1.0
    assert ari([1, 1, 1], [0, 0, 0]) == 1.0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4)), min_size=2, max_size=40))
def test_ari_matches_sklearn_and_is_label_permutation_invariant(pairs) -> None:
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    assert ari(t, p) == pytest.approx(adjusted_rand_score(t, p), abs=1e-12)
    assert ari(t, (p + 2) % 5) == pytest.approx(ari(t, p), abs=1e-12)


def test_jis_perfect_uniform_and_mixed() -> None:
    fg = torch.tensor([[True, True, True, False]])
    one_slot = torch.tensor([[[2.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 9.0], [1, 1, 1]]])
    assert jis(one_slot, fg) == 1.0
    uniform = torch.tensor([[[1.0, 1.0, 1.0], [2.0, 2.0, 2.0], [3, 3, 3], [5, 0, 0]]])
    assert jis(uniform, fg) == pytest.approx(0.0, abs=1e-15)
    mixed = torch.tensor([[[3.0, 0.0], [1.0, 1.0]]])  # max Jn = 1 and 1/2: m = 3/4
    assert jis(mixed, torch.tensor([[True, True]])) == pytest.approx(0.5, abs=1e-15)


def test_normalize_jacobian_zero_pixels_are_uniform() -> None:
    out = normalize_jacobian(torch.tensor([[0.0, 0.0, 0.0, 0.0], [1.0, 3.0, 0.0, 0.0]]))
    assert torch.equal(out, torch.tensor([[0.25] * 4, [0.25, 0.75, 0.0, 0.0]]))


def test_j_ari_perfect_up_to_permutation_and_mixed_value() -> None:
    seg = torch.tensor([[0, 1, 1, 2, 2, 0], [1, 1, 1, 2, 2, 2]])
    onehot = torch.nn.functional.one_hot(torch.tensor([[0, 2, 2, 0, 0, 1],
                                                       [1, 1, 1, 0, 0, 0]]), 3).float()
    assert j_ari(onehot, seg) == 1.0
    mixed = torch.nn.functional.one_hot(torch.tensor([[0, 0, 1, 1, 2, 2]]), 3).float()
    truth = torch.tensor([[1, 1, 1, 2, 2, 2]])
    assert j_ari(mixed * 0.7 + 0.1, truth) == pytest.approx(8 / 33, abs=1e-15)
    assert fg_ari(mixed.transpose(1, 2), truth) == pytest.approx(8 / 33, abs=1e-15)
    # per image: NaN for an image without foreground, which the mean skips
    per_image = foreground_ari_per_image(torch.cat([onehot, mixed]),
                                         torch.cat([seg, torch.zeros(1, 6, dtype=torch.long)]))
    assert per_image[:2].tolist() == [1.0, 1.0] and np.isnan(per_image[2])
    assert foreground_ari(torch.cat([onehot, mixed]),
                          torch.cat([seg, torch.zeros(1, 6, dtype=torch.long)])) == 1.0


def test_metric_input_errors() -> None:
    with pytest.raises(DataError):
        jis(torch.ones(1, 3, 2), torch.zeros(1, 3, dtype=torch.bool))
    with pytest.raises(DataError):
        j_ari(torch.ones(1, 3, 2), torch.ones(1, 4, dtype=torch.long))
    with pytest.raises(DataError):
        ari([1, 2], [1, 2, 3])


class _BlockDecoder(torch.nn.Module):
    """Pixel p depends only on slot owner[p]: x_{c,p} = tanh(w_{c,p} . z_{owner[p]} + b)."""

    def __init__(self, owner: torch.Tensor, d: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.owner = owner
        self.w = torch.randn(3, owner.numel(), d, generator=g, dtype=torch.float64)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        picked = z[:, self.owner]  # (B, P, d)
        return torch.tanh(torch.einsum("bpd,cpd->bcp", picked, self.w)).view(z.shape[0], 3, 2, 3)


def test_decoder_jacobian_matches_analytic_jacobian() -> None:
    g = torch.Generator().manual_seed(1)
    w = torch.randn(18, 6, generator=g, dtype=torch.float64)

    def decode(z: torch.Tensor) -> torch.Tensor:
        return torch.sin(z.flatten(1) @ w.T).view(z.shape[0], 3, 2, 3)

    z = torch.randn(4, 3, 2, generator=g, dtype=torch.float64)
    # d sin(Wz)_o / dz_i = cos(Wz)_o W_{o,i}; outputs o = (c, p), inputs i = (k, j)
    full = (torch.cos(z.flatten(1) @ w.T)[:, :, None] * w).view(4, 3, 6, 3, 2)
    expected = full.abs().sum(dim=(1, 4))
    for chunk in (1, 6):
        assert torch.allclose(decoder_jacobian(decode, z, chunk=chunk), expected, atol=1e-12)


def test_block_decoder_scores_one() -> None:
    owner = torch.tensor([0, 0, 1, 2, 2, 1])
    dec = _BlockDecoder(owner, d=2)
    z = torch.randn(3, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    jac = decoder_jacobian(dec, z)
    seg = (owner + 1).expand(3, -1)
    assert jis(jac, seg > 0) == pytest.approx(1.0, abs=1e-15)
    assert j_ari(jac, (torch.tensor([2, 2, 3, 1, 1, 3])).expand(3, -1)) == 1.0


def test_jis_is_invariant_under_slot_permutation() -> None:
    jac = torch.rand(2, 10, 4, generator=torch.Generator().manual_seed(3))
    fg = torch.rand(2, 10, generator=torch.Generator().manual_seed(4)) > 0.3
    assert jis(jac[..., [2, 0, 3, 1]], fg) == pytest.approx(jis(jac, fg), abs=1e-14)


def test_match_slots_hungarian() -> None:
    seg = torch.tensor([[1, 1, 2, 2, 2, 0]])
    assignment = torch.tensor([[3, 3, 0, 0, 3, 1]])
    assert match_slots(assignment, seg, 2, 4).tolist() == [[3, 0]]
    with pytest.raises(DataError):
        match_slots(assignment, seg, 3, 2)


def test_sprites_sis_perfect_and_scrambled() -> None:
    g = torch.Generator().manual_seed(5)
    n, o = 200, 2
    latents = torch.rand(n, o, 5, generator=g)
    slot_of = torch.stack([torch.randperm(3, generator=g)[:o] for _ in range(n)])
    slots = torch.randn(n, 3, 4, generator=g)
    slots[torch.arange(n)[:, None], slot_of, :4] = latents[..., :4]
    seg = torch.tensor([1, 1, 2, 2]).expand(n, -1)
    assignment = slot_of[:, [0, 0, 1, 1]]
    result = sprites_sis(slots, assignment, seg, latents, torch.ones(n, o, dtype=torch.bool),
                         regressor="linear")
    assert np.array_equal(result.matching, slot_of.numpy())
    assert result.sis == pytest.approx(1.0, abs=1e-6)
    scrambled = torch.randint(0, 3, (n, 4), generator=g)
    wrong = sprites_sis(slots, scrambled, seg, latents, torch.ones(n, o, dtype=torch.bool),
                        regressor="linear")
    assert wrong.result.matched_r2 < 0.5
    with pytest.raises(DataError):
        sprites_sis(slots, assignment, seg, latents, torch.zeros(n, o, dtype=torch.bool))


def _hand_jacobian(assign: list[list[int]], k: int) -> torch.Tensor:
    """J (n, P, K) with mass 1 on the given slot of every pixel (and 0.01 elsewhere)."""
    a = torch.tensor(assign)
    return torch.nn.functional.one_hot(a, k).double() + 0.01


def test_slot_dominance_and_verdicts_on_hand_built_cases() -> None:
    from numerics.sprites.metrics import judge_run, slot_dominance

    seg = torch.tensor([[0, 1, 1, 2, 2, 2], [1, 1, 2, 2, 0, 0]])
    # object-wise: slot 2 <-> object 1, slot 0 <-> object 2
    objects = slot_dominance(_hand_jacobian([[1, 2, 2, 0, 0, 0], [2, 2, 0, 0, 1, 1]], 3), seg)
    assert objects["dominant_share"] == pytest.approx((3 / 5 + 2 / 4) / 2)
    assert objects["true_dominant_share"] == pytest.approx((3 / 5 + 2 / 4) / 2)
    # collapsed: every pixel on slot 1
    collapsed = _hand_jacobian([[1] * 6, [1] * 6], 3)
    dom = slot_dominance(collapsed, seg)
    assert dom["dominant_share"] == 1.0
    assert dom["dominant_mass"] == pytest.approx(1.01 / 1.03)
    assert jis(collapsed, seg > 0) > 0.9 and j_ari(collapsed, seg) == 0.0
    row = {"jis": jis(collapsed, seg > 0), "j_ari": 0.0, "recon_r2": 0.95, **dom}
    assert judge_run(row) == "collapsed"
    assert dom["dominant_mass_score"] == pytest.approx((1.01 / 1.03 - 1 / 3) / (2 / 3))
    assert judge_run({**row, "dominant_share": 0.6}) == "mixed"
    # an untrained, uniform decoder: near-tied argmax on one slot, but no mass on it
    assert judge_run({**row, "dominant_mass_score": 0.01}) == "mixed"
    assert judge_run({**row, "dominant_share": 0.6, "recon_r2": 0.5}) == "no-recon"
    assert judge_run({**row, "dominant_share": 0.55, "j_ari": 0.9}) == "objects"
    with pytest.raises(DataError):
        slot_dominance(collapsed, torch.zeros(2, 6, dtype=torch.int64))
