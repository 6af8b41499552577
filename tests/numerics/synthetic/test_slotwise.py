"""numerics.synthetic.slotwise: Jacobian block norms of h = ghat o f, matching and off-block
fraction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.core.errors import DataError
from numerics.synthetic.metrics import slot_identifiability
from numerics.synthetic.slotwise import block_jacobian, block_norms, jacobian

Tensor = torch.Tensor


def _offsets(sizes: tuple[int, ...]) -> list[int]:
    return [0, *np.cumsum(sizes).tolist()]


def coupling(block: Tensor, a: float, b: float) -> Tensor:
    """A diffeomorphism of one 1-, 2- or 3-dimensional block (affine coupling layers).

    d = 1: u -> u + a tanh(u) (|a| < 1 keeps it monotone); d >= 2: the first coordinate is
    shifted by a*tanh of the others, then every other coordinate is scaled by
    exp(b * tanh(first)) and shifted by a * sin(first): triangular with non-zero diagonal,
    hence invertible, and it mixes all coordinates of the block.
    """
    if block.shape[-1] == 1:
        return block + a * torch.tanh(block)
    rest = block[..., 1:]
    first = block[..., :1] + a * torch.tanh(rest).sum(-1, keepdim=True)
    rest = rest * torch.exp(b * torch.tanh(first)) + a * torch.sin(first)
    return torch.cat([first, rest], dim=-1)


def slotwise_map(sizes: tuple[int, ...], perm: list[int], params: list[tuple[float, float]]):
    """z -> zhat: inferred slot j = coupling(z_{B_perm[j]}) (a slot-wise diffeo + permutation)."""
    off = _offsets(sizes)

    def h(z: Tensor) -> Tensor:
        parts = [coupling(z[..., off[k]:off[k + 1]], *params[j]) for j, k in enumerate(perm)]
        return torch.cat(parts, dim=-1)
    return h


def _points(d: int, n: int = 64, seed: int = 0) -> Tensor:
    return torch.rand(n, d, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64) * 2 - 1


def test_hand_built_mixing_jacobian_has_the_exact_values() -> None:
    # inferred 0 depends on true 0 and true 1 (1, 1); inferred 1 on true 1 (2)
    jac = torch.tensor([[[1.0, 1.0], [0.0, 2.0]]]).repeat(5, 1, 1)
    res = block_norms(jac, (1, 1), (1, 1))
    np.testing.assert_array_equal(res.norms, [[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_array_equal(res.energies, [[1.0, 0.0], [1.0, 4.0]])
    np.testing.assert_array_equal(res.shares, [[0.5, 0.0], [0.5, 1.0]])
    assert res.permutation == (0, 1)
    assert res.off_block == 0.25


def test_block_norms_are_frobenius_norms_averaged_over_points() -> None:
    # true slots (2, 1), inferred slots (1, 2); two points with different Jacobians
    j1 = torch.tensor([[3.0, 4.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]])
    j2 = 2 * j1
    res = block_norms(torch.stack([j1, j2]), (2, 1), (1, 2))
    # block (true 0, inferred 0): |(3, 4)| = 5 and 10 -> mean 7.5, energy (25 + 100) / 2
    np.testing.assert_allclose(res.norms, [[7.5, 0.0], [0.0, 1.5 * math.sqrt(5)]])
    np.testing.assert_allclose(res.energies, [[62.5, 0.0], [0.0, 12.5]])
    assert res.off_block == 0.0 and res.permutation == (0, 1)


def test_slotwise_permuted_map_has_exactly_zero_off_block() -> None:
    sizes = (2, 3, 1)
    h = slotwise_map(sizes, [2, 0, 1], [(0.5, 0.3), (0.7, -0.4), (-0.2, 0.9)])
    res = block_jacobian(h, _points(6), sizes, (1, 2, 3))
    assert res.off_block == 0.0
    assert res.permutation == (1, 2, 0)
    assert (res.norms[np.arange(3), [1, 2, 0]] > 0).all()


def test_jacobian_matches_a_linear_map_exactly() -> None:
    a = torch.tensor([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]], dtype=torch.float64)
    jac = jacobian(lambda z: z @ a.T, _points(3, 10), chunk=3)
    assert jac.shape == (10, 2, 3) and jac.dtype == torch.float64
    assert torch.equal(jac, a.expand(10, 2, 3))


def test_dead_inferred_slot_is_ignored_and_an_unmatched_live_one_counts_as_off_block() -> None:
    # true (1, 1), inferred (1, 1, 1): slot 2 constant -> ignored
    jac = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]])
    assert block_norms(jac, (1, 1), (1, 1, 1)).off_block == 0.0
    # inferred slot 2 also reads true slot 0: unmatched and live -> share 0 for it
    jac = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]])
    assert block_norms(jac, (1, 1), (1, 1, 1)).off_block == pytest.approx(1 / 3, abs=1e-15)


@pytest.mark.parametrize("bad", [
    ("shape", torch.zeros(3, 2)), ("sizes", torch.zeros(2, 2, 2)),
    ("nan", torch.full((1, 2, 2), float("nan"))),
])
def test_bad_input_is_a_data_error(bad) -> None:
    kind, jac = bad
    sizes = (1, 2) if kind == "sizes" else (1, 1)
    with pytest.raises(DataError):
        block_norms(jac, sizes, (1, 1))
    with pytest.raises(DataError):
        jacobian(lambda z: z, torch.zeros(5))


_layouts = st.sampled_from([(2, 2), (2, 3), (3, 2, 1), (2, 2, 2), (1, 3)])
_coef = st.floats(-0.8, 0.8, allow_nan=False)


@st.composite
def _slotwise(draw):
    sizes = draw(_layouts)
    perm = draw(st.permutations(range(len(sizes))))
    params = [(draw(_coef), draw(_coef)) for _ in sizes]
    return sizes, list(perm), params


@settings(max_examples=25, deadline=None)
@given(_slotwise(), st.integers(0, 2**16))
def test_property_slotwise_diffeomorphisms_of_whole_blocks_keep_off_block_zero(case, seed):
    sizes, perm, params = case
    inferred = tuple(sizes[k] for k in perm)
    res = block_jacobian(slotwise_map(sizes, perm, params), _points(sum(sizes), 32, seed),
                         sizes, inferred)
    assert res.off_block == 0.0
    assert [res.permutation[k] for k in perm] == list(range(len(sizes)))


@settings(max_examples=25, deadline=None)
@given(_slotwise(), st.permutations(range(3)), st.floats(0.05, 1.0))
def test_property_invariant_under_slot_permutations_and_strictly_larger_under_mixing(
        case, shuffle, eps):
    sizes, perm, params = case
    inferred = tuple(sizes[k] for k in perm)
    base = slotwise_map(sizes, perm, params)
    d = sum(sizes)
    mixing = torch.randn(d, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def mixed(z: Tensor) -> Tensor:
        return base(z) + eps * torch.tanh(z @ mixing)

    z = _points(d, 32)
    res = block_jacobian(mixed, z, sizes, inferred)
    assert res.off_block > 0.0
    # permuting the inferred slots (and their columns) leaves the fraction unchanged
    order = [k for k in shuffle if k < len(sizes)]
    off = _offsets(inferred)

    def permuted(zz: Tensor) -> Tensor:
        out = mixed(zz)
        return torch.cat([out[..., off[j]:off[j + 1]] for j in order], dim=-1)

    again = block_jacobian(permuted, z, sizes, tuple(inferred[j] for j in order))
    assert again.off_block == pytest.approx(res.off_block, abs=1e-12)
    assert [order[again.permutation[i]] for i in range(len(sizes))] == list(res.permutation)
    # mixing that only adds off-block dependence (inferred slot 0 on a second true slot):
    # strictly increasing in its strength
    other = _offsets(sizes)[perm[1]]

    def leak(scale: float):
        def h(zz: Tensor) -> Tensor:
            out = base(zz)
            return torch.cat([out[..., :1] + scale * torch.tanh(zz[..., other:other + 1]),
                              out[..., 1:]], dim=-1)
        return h

    fractions = [block_jacobian(leak(s), z, sizes, inferred).off_block
                 for s in (0.0, eps, 2 * eps)]
    assert fractions[0] == 0.0 < fractions[1] < fractions[2]


@settings(max_examples=6, deadline=None)
@given(_slotwise(), st.integers(0, 100))
def test_property_sis_is_high_under_blockwise_reparametrization_and_drops_under_mixing(
        case, seed):
    sizes, perm, params = case
    inferred = tuple(sizes[k] for k in perm)
    z = _points(sum(sizes), 1500, seed)
    zh = slotwise_map(sizes, perm, params)(z)
    good = slot_identifiability(z, zh, sizes, inferred, seed=seed)
    assert good.sis > 0.9
    assert [good.permutation[k] for k in perm] == list(range(len(sizes)))
    # rotate the first two inferred slots into each other
    off = _offsets(inferred)
    a, b = zh[:, off[0]:off[1]], zh[:, off[1]:off[2]]
    m = min(a.shape[1], b.shape[1])
    a2, b2 = a.clone(), b.clone()
    a2[:, :m], b2[:, :m] = a[:, :m] + b[:, :m], a[:, :m] - b[:, :m]
    mixed = torch.cat([a2, b2, zh[:, off[2]:]], dim=1)
    bad = slot_identifiability(z, mixed, sizes, inferred, seed=seed)
    assert bad.sis < good.sis - 0.1
